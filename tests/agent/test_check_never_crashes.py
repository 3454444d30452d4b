"""`check --bundle` on any bundle of the test corpus, and on damaged copies of them, answers
with a verdict or one line saying why it could not: never a traceback."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from readyfloor_agent.cli import main

from .bundle_facts import BUNDLES
from .fixture_bundles import CTI, ROOT

CORPUS = sorted(BUNDLES)


def _check(bundle: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["check", "--bundle", str(bundle), "--cti-origin", CTI, *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("bundle", CORPUS)
@pytest.mark.parametrize("browser", ["chrome", "edge", "chromium"])
def test_every_bundle_of_the_corpus_gets_a_verdict(
    bundle: str, browser: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        code, out, err = _check(ROOT / bundle, capsys, "--browser", browser)

    assert code in (0, 1, 2), err
    assert "This seat is" in out
    assert "Traceback" not in out + err
    # A collector that raised would be logged as a failed collector: none may.
    assert not [record for record in caplog.records if "collector failed" in record.getMessage()]


def _members(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    bundle=st.sampled_from(CORPUS),
    pick=st.integers(min_value=0, max_value=10_000),
    cut=st.floats(min_value=0.0, max_value=1.0),
    noise=st.binary(max_size=40),
)
def test_a_damaged_member_never_makes_a_traceback(
    bundle: str, pick: int, cut: float, noise: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    # One member of a real bundle (a reader's input: a .reg export, a command's output,
    # Preferences, a plist, TCC.db, the manifest) cut short and spliced with noise.
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / bundle
        shutil.copytree(ROOT / bundle, copy)
        members = _members(copy)
        target = members[pick % len(members)]
        data = target.read_bytes()
        at = int(len(data) * cut)
        target.write_bytes(data[:at] + noise + data[at + len(noise) :])

        code, out, err = _check(copy, capsys)

    assert code in (0, 1, 2, 3)
    assert "Traceback" not in out + err
    if code == 3:
        assert len(err.strip().splitlines()) == 1, err

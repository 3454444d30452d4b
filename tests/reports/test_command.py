"""`manage.py report` makes a report on demand through the same code as a schedule, archives it,
writes the file, and teaches its use in --help."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from server.reports.models import ReportRun, RunStatus, Trigger
from tests.conftest import REPO, service_env

pytestmark = pytest.mark.django_db


def test_it_writes_the_pdf_and_archives_the_run(known_floor, tmp_path) -> None:
    out = tmp_path / "floor1.pdf"
    errors = io.StringIO()
    call_command("report", "--scope", "floor:Floor 1", "--format", "pdf", "--out", str(out), stderr=errors)
    assert out.read_bytes().startswith(b"%PDF")
    run = ReportRun.objects.get()
    assert run.trigger == Trigger.COMMAND and run.status == RunStatus.DONE
    assert run.files.get().sha256[:12] in errors.getvalue()
    assert f"report #{run.pk}" in errors.getvalue()


def test_it_writes_csv_to_standard_output(known_floor) -> None:
    out = io.StringIO()
    call_command(
        "report", "--scope", f"floor:{known_floor.floor.pk}", "--format", "csv", "--out", "-", stdout=out
    )
    assert out.getvalue().startswith("site,floor,seat,")
    assert out.getvalue().count("\n") == 7  # header + 6 seats


def test_a_bad_scope_is_refused_naming_it(known_floor) -> None:
    with pytest.raises(CommandError, match="--scope: no floor 'Floor 77'"):
        call_command("report", "--scope", "floor:Floor 77")
    assert not ReportRun.objects.exists()


def test_help_teaches_the_scopes_and_shows_examples() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "report", "--help"],
        cwd=REPO,
        env=service_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "floor:<id|name>" in result.stdout and "team:<floor id|name>/<team>" in result.stdout
    assert "manage.py report --scope 'floor:Floor 1' --format pdf --out floor1.pdf" in result.stdout


@pytest.mark.django_db(transaction=True)
def test_it_shows_a_progress_bar(known_floor, tmp_path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "report",
            "--scope",
            "floor:Floor 1",
            "--format",
            "csv",
            "--format",
            "pdf",
            "--out",
            str(tmp_path),
        ],
        cwd=REPO,
        env=service_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "Report for floor Lyon contact centre / Floor 1" in result.stderr
    assert "6/6" in result.stderr  # three parts, two files, stored
    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".csv", ".pdf"]

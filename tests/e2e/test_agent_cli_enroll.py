"""`readyfloor-agent enroll` against a real server: the person enrolling sees where the
server put the workstation, and is told when the configured seat does not exist."""

from __future__ import annotations

import pytest
from readyfloor_agent.cli import main

pytestmark = pytest.mark.django_db(transaction=True)


def enroll(live_server, tmp_path, secret: str, seat: str, capsys) -> tuple[int, str]:
    code = main(
        [
            "enroll",
            "--state-dir",
            str(tmp_path),
            "--server",
            live_server.url,
            "--secret",
            secret,
            "--seat",
            seat,
        ]
    )
    return code, capsys.readouterr().out


def test_enrolling_at_a_known_seat_names_it(live_server, tmp_path, enroll_secret, seats, capsys):
    code, out = enroll(live_server, tmp_path, enroll_secret, "Floor 1/A-03", capsys)

    assert code == 0
    assert "at seat Floor 1 A-03" in out
    assert "The server says" not in out


def test_enrolling_at_an_unknown_seat_says_so(live_server, tmp_path, enroll_secret, seats, capsys):
    code, out = enroll(live_server, tmp_path, enroll_secret, "Floor 9/Z-01", capsys)

    assert code == 0
    assert "without a seat" in out
    assert "The server says: no floor 'Floor 9'" in out

"""The report's files say what the database holds: CSV row for row, PDF text with the floor, the
counts, the not-ready seats and who acknowledged what until when."""

from __future__ import annotations

import csv
import io

import pypdf
import pytest

from server.fleet.models import Seat
from server.reports import running
from server.reports.models import ReportFile, RunStatus, Trigger
from server.reports.rendering import CSV_COLUMNS
from server.reports.scoping import Scope, ScopeError

pytestmark = pytest.mark.django_db


def make(known_floor, formats=("csv", "pdf")):
    run = running.run_now(
        Scope.parse(f"floor:{known_floor.floor.pk}"), formats=list(formats), trigger=Trigger.COMMAND
    )
    run.refresh_from_db()
    return run, {file.format: file for file in ReportFile.objects.filter(run=run)}


def test_the_csv_has_one_row_per_seat_matching_the_database(known_floor) -> None:
    run, files = make(known_floor, ["csv"])
    assert run.status == RunStatus.DONE
    rows = list(csv.DictReader(io.StringIO(bytes(files["csv"].content).decode("utf-8-sig"))))
    assert list(rows[0]) == CSV_COLUMNS
    seats = {seat.label: seat for seat in Seat.objects.filter(floor=known_floor.floor)}
    assert sorted(row["seat"] for row in rows) == sorted(seats)
    for row in rows:
        seat = seats[row["seat"]]
        assert row["readiness"] == seat.readiness
        assert row["floor"] == "Floor 1" and row["site"] == "Lyon contact centre"
        assert row["failing_checks"] == ";".join(item["check_id"] for item in seat.failing)
        assert row["hostname"] == seat.device.hostname
        assert int(row["column"]) == seat.column + 1
    # Worst first: the two NOT READY seats lead.
    assert [row["seat"] for row in rows[:2]] == ["A-03", "A-04"]
    a03 = next(row for row in rows if row["seat"] == "A-03")
    assert a03["failing_since"] == known_floor.mic_since.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert 3 * 3600 <= int(a03["failing_for_s"]) < 3 * 3600 + 600
    assert a03["acknowledged_checks"] == "chrome.mic.site" and a03["acknowledged_by"] == "ines"
    assert next(row for row in rows if row["seat"] == "A-04")["acknowledged_checks"] == ""
    assert "Z-01" not in {row["seat"] for row in rows}  # another floor's seat


def test_the_pdf_names_the_floor_counts_not_ready_seats_and_acknowledgements(known_floor) -> None:
    _, files = make(known_floor, ["pdf"])
    pdf = files["pdf"]
    assert pdf.size == len(bytes(pdf.content)) and len(pdf.sha256) == 64
    reader = pypdf.PdfReader(io.BytesIO(bytes(pdf.content)))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert "Lyon contact centre / Floor 1" in text
    assert "6 seats" in text
    # The counts table: Not ready 2 now, 0 at the 08:00 start; Ready 2 now, 4 at the start.
    assert "Not ready 2 0" in text and "Ready 2 4" in text and "Offline 1 1" in text
    assert "At Morning start" in text
    for label in ("A-03", "A-04"):
        assert label in text
    assert "Microphone set to Block" in text and "No headset among the capture devices" in text
    assert "3 h 5 min" in text  # how long A-03 has failed
    assert "chrome.mic.site by ines until" in text and "INC-4411" in text
    assert "ws-spare-07" in text  # the device at no seat
    assert "Seats offline (1)" in text and "A-05" in text
    assert "pending per-check history" in text


def test_a_scope_is_parsed_by_id_or_name_and_refused_naming_what_is_wrong(known_floor) -> None:
    floor = known_floor.floor
    assert Scope.parse(f"floor:{floor.pk}").floor == floor
    assert Scope.parse("floor:Floor 1").floor == floor
    assert Scope.parse("floor:Lyon contact centre/Floor 1").floor == floor
    assert Scope.parse("team:Floor 1/Sales").seats().count() == 3
    assert Scope.parse("site:Lyon contact centre").seats().count() == 7
    for bad, says in [
        ("floor:Nope", "no floor 'Nope'"),
        ("desk:1", "is not a scope"),
        ("team:Floor 1", "team:<floor"),
    ]:
        with pytest.raises(ScopeError, match=says):
            Scope.parse(bad)

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
    assert "audio.headset.present 1 25 min 25 min 25 min" in text  # one fix, after 25 minutes
    assert "hourly floor rollups" in text


def test_the_trend_and_time_to_fix_come_from_the_engines_history(known_floor) -> None:
    from server.reports import content

    report = content.build(Scope.parse("floor:Floor 1"), at=known_floor.now, period_days=1)
    assert report.trend_source.startswith("hourly floor rollups")
    # 24 hours: 5 of 6 ready (83.3 %) from three hours ago, carried forward, then 2 of 6 (33.3 %).
    percents = [point.percent for point in report.trend]
    assert percents[-1] == 33.3 and percents[-2] == 83.3 and percents[-4] == 83.3
    (fix,) = report.time_to_fix
    assert fix["check_id"] == "audio.headset.present" and fix["fixes"] == 1 and fix["median_s"] == 25 * 60
    # A team's trend comes from the snapshots (the rollups are per floor).
    team = content.build(Scope.parse("team:Floor 1/Support"), at=known_floor.now)
    assert team.trend_source == "start-of-shift snapshots"
    assert [(point.ready, point.total) for point in team.trend] == [(1, 3)]  # A-04 was ready then


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

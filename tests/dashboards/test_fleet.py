"""The IT admin's fleet overview: every floor with readiness now and 7, 30 and 90 days ago from
the hourly rollups, failing checks ranked, the fleet by OS, Chrome major and agent version, time
to fix, the seats not ready the longest and the devices on no seat; each table as CSV. And `/`,
each role's home page."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from server.compliance import fleet_overview, history
from server.compliance.models import CheckTransition, FloorCheckHour, FloorReadinessHour
from server.fleet.models import Device, FactSnapshot, Floor, Site
from tests.dashboards.conftest import NOW, Floorplan, add_seat

pytestmark = pytest.mark.django_db

FLEET_URL = reverse("dashboards:fleet")
TABLES = ("floors", "checks", "os", "chrome", "agent", "fix_times", "failing_longest", "unassigned")


def hour(days: float) -> dt.datetime:
    """The rollup hour `days` ago."""
    return history._hours(NOW - dt.timedelta(days=days), NOW - dt.timedelta(days=days))[0]


def readiness_rows(floor: Floor, days: float, **seats: int) -> None:
    for readiness, count in seats.items():
        FloorReadinessHour.objects.create(floor=floor, hour=hour(days), readiness=readiness, seats=count)


def failing_rows(floor: Floor, days: float, **failing: int) -> None:
    for check_id, count in failing.items():
        FloorCheckHour.objects.create(
            floor=floor, hour=hour(days), check_id=check_id.replace("__", "."), failing_seats=count
        )


def chrome(version: str) -> FactSnapshot:
    facts = {"host": {"console_user": "agent"}, "chrome": {"installed": True, "version": version}}
    return FactSnapshot.objects.create(sha256=f"sha-{version}", facts=facts)


@dataclass
class Fleet:
    plan: Floorplan
    paris: Floor
    stuck: Any
    spare: Device


@pytest.fixture
def fleet(floorplan) -> Fleet:
    """Floor 1 in Lyon (the floorplan: 4 ready, 1 not ready, 1 at risk, 1 offline, 1 without a
    workstation) with 91 days of rollups, and Floor 2 in Paris, judged for 5 days."""
    lyon = floorplan.floor
    # Lyon: 2 of 4 ready 91 days ago, 3 of 4 from 31 days ago, today's counts from 2 days ago
    # (not ready unchanged since day 31: the rollups carry it forward).
    readiness_rows(lyon, 91, ready=2, not_ready=2)
    readiness_rows(lyon, 31, ready=3, not_ready=1)
    readiness_rows(lyon, 2, ready=4, at_risk=1, offline=1)
    failing_rows(lyon, 31, chrome__mic__site=1)
    failing_rows(lyon, 2, audio__headset__present=1, chrome__mic__global=1)
    failing_rows(lyon, 1, chrome__mic__global=0)

    paris = Floor.objects.create(
        site=Site.objects.create(name="Paris office", timezone="Europe/Paris"), name="Floor 2"
    )
    for column in range(9):
        add_seat(
            paris,
            f"P-{column + 2:02d}",
            0,
            column + 1,
            "ready",
            hostname=f"paris-p{column + 2:02d}",
            os="macos",
        )
    stuck = add_seat(
        paris,
        "P-01",
        0,
        0,
        "not_ready",
        hostname="paris-p01",
        os="macos",
        since=NOW - dt.timedelta(days=3),
        failing=[
            {"check_id": "chrome.mic.site", "state": "fail", "severity": "critical", "reason": "Blocked"}
        ],
    )
    readiness_rows(paris, 5, ready=9, not_ready=1)
    failing_rows(paris, 5, chrome__mic__site=3)
    failing_rows(paris, 1, chrome__mic__site=2)

    # Chrome as ingest leaves it (facts, and their version on the device): two Lyon seats on 131,
    # the not-ready one on 99.
    Device.objects.filter(seat__in=floorplan.ready[:2]).update(
        current_facts=chrome("131.0.6778.86"), chrome_version="131.0.6778.86"
    )
    Device.objects.filter(seat=floorplan.not_ready).update(
        current_facts=chrome("99.0.4844.51"), chrome_version="99.0.4844.51"
    )
    Device.objects.filter(seat=stuck).update(agent_version="0.2.0")

    # Fixes in the last 30 days: the site permission twice (10 and 30 min), the headset once (1 h);
    # one older than 30 days, which does not count.
    for check_id, minutes, days_ago in (
        ("chrome.mic.site", 10, 3),
        ("chrome.mic.site", 30, 2),
        ("audio.headset.present", 60, 1),
        ("audio.headset.present", 600, 40),
    ):
        at = NOW - dt.timedelta(days=days_ago)
        CheckTransition.objects.create(
            seat=floorplan.not_ready,
            floor=lyon,
            device=floorplan.not_ready.device,
            check_id=check_id,
            from_state="fail",
            to_state="pass",
            from_since=at - dt.timedelta(minutes=minutes),
            severity="critical",
            reason="fixed",
            at=at,
        )
    spare = Device.objects.create(
        site=lyon.site,
        host_identifier="uuid-spare",
        hostname="spare-laptop",
        os="windows",
        agent_version="0.1.0",
        last_seen_at=NOW - dt.timedelta(hours=1),
    )
    return Fleet(floorplan, paris, stuck, spare)


def csv_rows(response) -> list[dict[str, str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


# -- what the overview reads ------------------------------------------------------------------------


def test_readiness_at_a_moment_is_what_readiness_by_hour_says_for_that_hour(fleet):
    lyon = fleet.plan.floor
    moments = [NOW - dt.timedelta(days=days) for days in (0, 7, 30, 90, 95)]

    counts = history.readiness_at(moments, [lyon.pk])

    for moment in moments[:4]:
        ((_, expected),) = history.readiness_by_hour(lyon.pk, moment, moment)
        assert counts[(lyon.pk, moment)] == expected
    # Before the first rollup there is nothing to say, rather than zeros.
    assert (lyon.pk, moments[4]) not in counts


def test_each_floor_has_its_ready_share_now_and_7_30_and_90_days_ago(fleet):
    lines = {line.floor: line for line in fleet_overview.floor_lines(Floor.objects.all(), NOW)}

    lyon, paris = lines["Floor 1"], lines["Floor 2"]
    assert lyon.now == {"ready": 4, "at_risk": 1, "not_ready": 1, "offline": 1, "unknown": 0}
    assert lyon.ready_now == 57.1
    assert lyon.ready_then == {7: 75.0, 30: 75.0, 90: 50.0}
    assert lyon.change(90) == 7.1 and lyon.change(7) == -17.9
    assert paris.ready_now == 90.0 and paris.ready_then == {7: None, 30: None, 90: None}
    assert paris.change(7) is None
    # Least ready first.
    assert [line.floor for line in fleet_overview.floor_lines(Floor.objects.all(), NOW)] == [
        "Floor 1",
        "Floor 2",
    ]


def test_the_fleet_trend_sums_the_floors_at_each_sampled_moment(fleet):
    trend = fleet_overview.fleet_trend(None, NOW, 7)

    assert len(trend) == 15  # every 12 hours over 7 days, both ends included
    first, last = trend[0][1], trend[-1][1]
    assert first == {"ready": 3, "not_ready": 1, "at_risk": 0, "offline": 0, "unknown": 0}
    assert last == {"ready": 13, "not_ready": 2, "at_risk": 1, "offline": 1, "unknown": 0}
    assert [len(fleet_overview.fleet_trend(None, NOW, days)) for days in (30, 90)] == [16, 16]


def test_failing_checks_are_ranked_by_seats_failing_now_over_every_floor(fleet):
    ranking = fleet_overview.failing_checks(None)

    assert [(line.check_id, line.failing_seats, line.floors) for line in ranking] == [
        ("chrome.mic.site", 3, 2),
        ("audio.headset.present", 1, 1),
    ]


def test_the_fleet_breaks_down_by_os_chrome_major_and_agent_version(fleet):
    by = fleet_overview.breakdowns(None)

    os_lines = {line.value: line.counts for line in by["os"]}
    assert [line.value for line in by["os"]] == ["macos", "windows", "linux"]
    assert os_lines["windows"]["ready"] == 4 and os_lines["windows"]["not_ready"] == 1
    assert os_lines["macos"] == {"ready": 9, "not_ready": 1, "at_risk": 1, "offline": 0, "unknown": 0}
    chrome_lines = {line.value: line.devices for line in by["chrome"]}
    assert chrome_lines == {"not reported": 14, "131": 2, "99": 1}
    assert next(line for line in by["chrome"] if line.value == "99").counts["not_ready"] == 1
    assert {line.value: line.devices for line in by["agent"]} == {"0.1.0": 16, "0.2.0": 1}
    # The seat without a workstation and the spare laptop are not in the breakdowns.
    assert sum(line.devices for line in by["os"]) == 17


def test_time_to_fix_is_the_mean_median_and_longest_per_check_over_30_days(fleet):
    fixes = {fix.check_id: fix for fix in fleet_overview.fix_times(None, NOW)}

    assert fixes["chrome.mic.site"].fixes == 2
    assert fixes["chrome.mic.site"].mean_s == fixes["chrome.mic.site"].median_s == 1200.0
    assert fixes["chrome.mic.site"].longest_s == 1800.0
    assert (fixes["audio.headset.present"].fixes, fixes["audio.headset.present"].mean_s) == (1, 3600.0)


def test_time_to_fix_on_some_floors_counts_only_their_fixes(fleet):
    assert [fix.check_id for fix in fleet_overview.fix_times([fleet.plan.floor.pk], NOW)] == [
        "audio.headset.present",
        "chrome.mic.site",
    ]
    assert fleet_overview.fix_times([fleet.paris.pk], NOW) == []


def test_seats_not_ready_longest_come_first_and_devices_on_no_seat_are_listed(fleet):
    assert [seat.label for seat in fleet_overview.failing_longest(None, 10)] == ["P-01", "B-01"]
    assert [device.hostname for device in fleet_overview.unassigned_devices(None, 10)] == ["spare-laptop"]


# -- the page ------------------------------------------------------------------------------------


def test_an_it_admin_reads_the_overview(staff_client, fleet):
    response = staff_client.get(FLEET_URL)

    assert response.status_code == 200
    page = response.content.decode()
    # The rollups count judged seats: the seat without a workstation is not among them.
    assert "76.5% of 17 seats ready" in page
    assert "across 2 floors on 2 sites" in page
    for text in (
        "Floor 1",
        "Floor 2",
        "Paris office",
        "CTI sites may use the microphone",
        "P-01",
        "spare-laptop",
        "20.0 min",
        "Chrome major version",
        "▲ +7.1 pts since",
    ):
        assert text in page, text
    trend = json.loads(response.context["trend_json"])
    assert [trace["legendgroup"] for trace in trend["data"]] == ["ready", "at_risk", "offline", "not_ready"]
    assert trend["data"][0]["y"][-1] == 13
    assert f'href="{reverse("dashboards:floor")}?floor={fleet.paris.pk}"' in page


def test_the_trend_period_is_7_30_or_90_days_and_anything_else_is_a_400_naming_it(staff_client, fleet):
    assert staff_client.get(FLEET_URL, {"days": 90}).context["days"] == 90

    response = staff_client.get(FLEET_URL, {"days": "365"})

    assert response.status_code == 400
    assert response.json()["field"] == "days"


@pytest.mark.parametrize("table", TABLES)
def test_every_table_downloads_as_csv(staff_client, fleet, table):
    response = staff_client.get(FLEET_URL, {"format": "csv", "table": table})

    assert response.status_code == 200
    assert f'filename="readyfloor-fleet-{table}-' in response["Content-Disposition"]
    assert csv_rows(response)


def test_the_csvs_hold_what_the_page_shows(staff_client, fleet):
    def table(name: str) -> list[dict[str, str]]:
        return csv_rows(staff_client.get(FLEET_URL, {"format": "csv", "table": name}))

    floors = table("floors")
    assert [
        (row["site"], row["floor"], row["ready_percent"], row["ready_percent_90d_ago"]) for row in floors
    ] == [
        ("Lyon contact centre", "Floor 1", "57.1", "50.0"),
        ("Paris office", "Floor 2", "90.0", ""),
    ]
    assert floors[0]["timezone"] == "Europe/Paris"
    assert [(row["check_id"], row["failing_seats"]) for row in table("checks")] == [
        ("chrome.mic.site", "3"),
        ("audio.headset.present", "1"),
    ]
    assert {row["chrome"]: row["devices"] for row in table("chrome")}["99"] == "1"
    assert table("os")[0]["os"] == "macOS"
    assert table("fix_times")[0]["mean_minutes"] == "60.0"
    longest = table("failing_longest")
    assert [row["seat"] for row in longest] == ["P-01", "B-01"]
    assert longest[0]["not_ready_since_utc"].endswith("+00:00")
    assert table("unassigned")[0]["hostname"] == "spare-laptop"


def test_an_unknown_table_or_figure_or_format_is_a_400_naming_the_field(staff_client, fleet):
    for query, field in (
        ({"format": "csv", "table": "seats"}, "table"),
        ({"format": "json"}, "figure"),
        ({"format": "xml"}, "format"),
    ):
        response = staff_client.get(FLEET_URL, query)
        assert response.status_code == 400, query
        assert response.json()["field"] == field


def test_the_figures_are_served_as_json_too(staff_client, fleet):
    trend = staff_client.get(FLEET_URL, {"format": "json", "figure": "trend", "days": 7}).json()
    checks = staff_client.get(FLEET_URL, {"format": "json", "figure": "checks"}).json()

    assert len(trend["data"][0]["x"]) == 15
    assert checks["data"][0]["x"] == [1, 3]


def test_an_auditor_reads_the_overview_without_any_action(client, auditor, fleet):
    client.force_login(auditor)

    response = client.get(FLEET_URL)

    assert response.status_code == 200
    assert "<form" not in response.content.decode().split("</header>", 1)[1]


def test_a_supervisor_is_sent_to_their_board_and_gets_no_export_or_figure(client, supervisor, fleet):
    client.force_login(supervisor)

    assert client.get(FLEET_URL)["Location"] == reverse("dashboards:board")
    for table in TABLES:
        response = client.get(FLEET_URL, {"format": "csv", "table": table})
        assert response.status_code == 403, table
        assert "Paris" not in response.content.decode()
    for figure in ("trend", "checks"):
        assert client.get(FLEET_URL, {"format": "json", "figure": figure}).status_code == 403
    assert 'href="/fleet/"' not in client.get(reverse("dashboards:board")).content.decode()


def test_the_page_costs_the_same_queries_for_two_floors_or_twenty(staff_client, fleet):
    staff_client.get(FLEET_URL)  # sessions, permissions and content types warm

    with CaptureQueriesContext(connection) as two:
        staff_client.get(FLEET_URL)
    for number in range(18):
        floor = Floor.objects.create(site=fleet.paris.site, name=f"Annex {number}")
        add_seat(floor, "X-01", 0, 0, "not_ready", hostname=f"annex-{number}")
        readiness_rows(floor, 3, not_ready=1)
    with CaptureQueriesContext(connection) as twenty:
        staff_client.get(FLEET_URL)

    assert len(twenty.captured_queries) == len(two.captured_queries)


def test_a_fleet_without_floors_says_how_to_start(staff_client):
    page = staff_client.get(FLEET_URL).content.decode()

    assert "No floors yet" in page and "load_demo" in page


def test_a_floor_without_history_says_the_trend_starts_with_the_first_verdicts(staff_client, floor, seats):
    page = staff_client.get(FLEET_URL).content.decode()

    assert "No history yet" in page
    assert "No check fails on any floor right now." in page
    assert "Every enrolled device has a seat." in page


# -- landing pages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "home"),
    [("admin_user", "dashboards:fleet"), ("auditor", "dashboards:fleet"), ("supervisor", "dashboards:board")],
)
def test_each_role_lands_on_its_home_page(client, request, floor, role, home):
    client.force_login(request.getfixturevalue(role))

    response = client.get("/")

    assert response.status_code == 302 and response["Location"] == reverse(home)


def test_old_floor_links_still_open_the_floor_page(staff_client, floorplan):
    old = f"/?floor={floorplan.floor.pk}&status=all"

    response = staff_client.get(old, follow=True)

    assert response.redirect_chain == [(f"/floor/?floor={floorplan.floor.pk}&status=all", 302)]
    assert "B-04" in response.content.decode()


def test_the_nav_offers_the_fleet_to_those_who_see_every_floor(client, admin_user, supervisor, floor):
    client.force_login(admin_user)
    assert f'href="{FLEET_URL}"' in client.get(reverse("dashboards:floor")).content.decode()
    client.force_login(supervisor)
    assert f'href="{FLEET_URL}"' not in client.get(reverse("dashboards:floor")).content.decode()

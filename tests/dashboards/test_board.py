"""The supervisor's shift board: from the lead time before a shift, the seats on it by readiness
and each seat that needs attention with the one thing to do; quiet before that; a wall-screen
form without navigation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from readyfloor_agent.checks import fix_for

from server.fleet.models import FactSnapshot
from server.shifts.models import Shift, ShiftSnapshot
from tests.dashboards.conftest import MIC_BLOCKED, Floorplan

BOARD = "/board/"


def shift_in(floor, minutes: int, **extra) -> Shift:
    """A shift on the floor that starts `minutes` from now (negative: started already)."""
    from server.shifts.schedule import zone_of

    start = (timezone.now() + dt.timedelta(minutes=minutes)).astimezone(zone_of(floor.site.timezone))
    return Shift.objects.create(
        floor=floor,
        name=extra.pop("name", "Morning"),
        starts_at=start.time().replace(second=0, microsecond=0),
        ends_at=(start + dt.timedelta(hours=8)).time().replace(second=0, microsecond=0),
        weekdays=[start.weekday()],
        **extra,
    )


@pytest.fixture
def signed_in(client, admin_user):
    client.force_login(admin_user)
    return client


def test_in_the_lead_time_it_counts_the_shift_s_seats_and_lists_those_to_fix_worst_first(
    signed_in, floorplan: Floorplan
) -> None:
    shift_in(floorplan.floor, 12)
    page = signed_in.get(BOARD, {"floor": floorplan.floor.pk}).content.decode()

    assert "Starts in" in page and "Morning shift" in page
    board = signed_in.get(BOARD, {"floor": floorplan.floor.pk}).context["board"]
    assert board.phase == "lead"
    assert board.counts["ready"] == 4 and board.counts["not_ready"] == 1
    assert board.seats_total == 8
    order = [item.seat.readiness for item in board.attention]
    assert order == sorted(order, key=["not_ready", "offline", "unknown", "at_risk"].index)
    first = board.attention[0]
    assert first.seat == floorplan.not_ready
    assert first.reason == MIC_BLOCKED["reason"]
    assert first.fix_step == fix_for("chrome.mic.site", "windows").steps[0]
    assert first.more_failing == 1
    assert "4 of 8 ready" in page


def test_it_names_the_person_signed_in_at_the_workstation(signed_in, floorplan: Floorplan) -> None:
    device = floorplan.not_ready.device
    device.current_facts = FactSnapshot.objects.create(
        sha256="f" * 64, facts={"host": {"os": "windows", "console_user": "ACME\\marie.dupont"}}
    )
    device.save()
    shift_in(floorplan.floor, 5)
    page = signed_in.get(BOARD, {"floor": floorplan.floor.pk}).content.decode()
    assert "ACME\\marie.dupont" in page


def test_a_shift_of_one_team_shows_only_that_team(signed_in, floorplan: Floorplan) -> None:
    shift_in(floorplan.floor, 5, teams=["Support"])
    board = signed_in.get(BOARD, {"floor": floorplan.floor.pk}).context["board"]
    assert [item.seat.label for item in board.attention] == ["B-01"]
    assert board.seats_total == 1


def test_before_the_lead_time_the_board_is_quiet_and_says_when_it_fills_in(
    signed_in, floorplan: Floorplan
) -> None:
    shift_in(floorplan.floor, 90)
    response = signed_in.get(BOARD, {"floor": floorplan.floor.pk})
    assert response.context["board"].phase == "later"
    assert "Quiet for now" in response.content.decode()
    assert response.context["board"].attention == []


def test_a_running_shift_shows_its_last_start_snapshot(signed_in, floorplan: Floorplan) -> None:
    shift = shift_in(floorplan.floor, -30)
    ShiftSnapshot.objects.create(
        shift=shift,
        floor=floorplan.floor,
        shift_name=shift.name,
        starts_at=timezone.now() - dt.timedelta(minutes=30),
        seats_total=8,
        ready=6,
    )
    page = signed_in.get(BOARD, {"floor": floorplan.floor.pk}).content.decode()
    assert "On now" in page
    assert "6 of 8 ready" in page


def test_a_floor_without_shifts_says_how_to_add_them(signed_in, floorplan: Floorplan) -> None:
    page = signed_in.get(BOARD, {"floor": floorplan.floor.pk}).content.decode()
    assert "No shifts on this floor" in page


def test_the_wall_screen_has_no_navigation(signed_in, floorplan: Floorplan) -> None:
    shift_in(floorplan.floor, 5)
    page = signed_in.get(BOARD, {"floor": floorplan.floor.pk, "kiosk": "1"}).content.decode()
    assert 'class="topbar"' not in page
    assert 'class="kiosk"' in page
    assert 'data-refresh-seconds="30"' in page


def test_an_unknown_floor_is_a_404(signed_in, floorplan: Floorplan) -> None:
    assert signed_in.get(BOARD, {"floor": "Floor 99"}).status_code == 404


def test_anonymous_visitors_are_sent_to_the_login(client, floorplan: Floorplan) -> None:
    response = client.get(BOARD)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_supervisor_gets_their_floor_s_board_and_nothing_of_another(client, supervisor, floorplan) -> None:
    from server.fleet.models import Floor, Seat

    other = Floor.objects.create(site=floorplan.floor.site, name="Floor 9")
    Seat.objects.create(floor=other, label="Z-01", readiness="not_ready")
    shift_in(other, 5)
    shift_in(floorplan.floor, 5)
    client.force_login(supervisor)

    own = client.get(BOARD)
    assert own.status_code == 200
    assert [floor.pk for floor in own.context["floors"]] == [floorplan.floor.pk]
    assert client.get(BOARD, {"floor": other.pk}).status_code == 404
    assert "Z-01" not in own.content.decode()


def test_the_start_snapshot_records_what_was_acknowledged_and_the_board_counts_it(
    signed_in, floorplan: Floorplan, admin_user
) -> None:
    from server.acknowledgements.acknowledging import acknowledge
    from server.shifts.snapshots import take_snapshot

    now = timezone.now()
    # B-01 fails two checks, both acknowledged (one on the seat, one floor-wide): counted.
    # B-02's warning is not acknowledged: not counted.
    for check_id, scope in (("chrome.mic.site", "seat"), ("audio.headset.present", "floor")):
        acknowledge(
            actor=admin_user,
            check_id=check_id,
            reason=f"TICKET {check_id}",
            expires_at=now + dt.timedelta(days=1),
            now=now - dt.timedelta(minutes=1),
            **({"seat": floorplan.not_ready} if scope == "seat" else {"floor": floorplan.floor}),
        )
    shift = shift_in(floorplan.floor, -1)

    snapshot = take_snapshot(shift, now - dt.timedelta(minutes=1), now)

    assert snapshot is not None and snapshot.acknowledged == 1
    b01 = snapshot.seats.get(seat_label="B-01")
    assert sorted((row["check_id"], row["floor_wide"]) for row in b01.acknowledged) == [
        ("audio.headset.present", True),
        ("chrome.mic.site", False),
    ]
    assert snapshot.seats.get(seat_label="B-02").acknowledged == []
    page = signed_in.get(BOARD, {"floor": floorplan.floor.pk}).content.decode()
    assert "1 acknowledged" in page


def test_an_acknowledgement_made_after_the_start_is_not_in_its_snapshot(
    floorplan: Floorplan, admin_user
) -> None:
    from server.acknowledgements.acknowledging import acknowledge
    from server.shifts.snapshots import take_snapshot

    start = timezone.now() - dt.timedelta(minutes=5)
    acknowledge(
        actor=admin_user,
        check_id="chrome.mic.site",
        reason="later",
        expires_at=timezone.now() + dt.timedelta(days=1),
        seat=floorplan.not_ready,
    )

    snapshot = take_snapshot(shift_in(floorplan.floor, -5), start, start)

    assert snapshot.acknowledged == 0
    assert snapshot.seats.get(seat_label="B-01").acknowledged == []

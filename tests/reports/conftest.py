"""A floor in a known state for report tests: seats in every readiness, devices with check
results failing since known times, an acknowledgement, a start-of-shift snapshot, and a device
enrolled but at no seat. Plus the real SMTP server and webhook receiver of the alerts tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.utils import timezone

from server.acknowledgements.acknowledging import acknowledge
from server.compliance.evaluation import hour_of
from server.compliance.models import CheckResult, CheckTransition, FloorReadinessHour
from server.fleet.models import Device, Floor, Readiness, Seat
from server.shifts.models import Shift
from server.shifts.snapshots import take_snapshot
from tests.alerts.conftest import MIC_BLOCKED, NO_HEADSET, mailbox, receiver

__all__ = ["mailbox", "receiver"]


@dataclass
class KnownFloor:
    floor: Floor
    other_floor: Floor
    seats: dict[str, Seat]
    now: dt.datetime
    mic_since: dt.datetime


@pytest.fixture
def known_floor(site, floor, admin_user) -> KnownFloor:
    now = timezone.now()
    mic_since = now - dt.timedelta(hours=3, minutes=5)
    plan = [
        ("A-01", Readiness.READY, []),
        ("A-02", Readiness.READY, []),
        ("A-03", Readiness.NOT_READY, [MIC_BLOCKED]),
        ("A-04", Readiness.NOT_READY, [NO_HEADSET]),
        ("A-05", Readiness.OFFLINE, []),
        ("A-06", Readiness.AT_RISK, []),
    ]
    seats: dict[str, Seat] = {}
    for column, (label, readiness, failing) in enumerate(plan):
        seat = Seat.objects.create(
            floor=floor,
            label=label,
            row=0,
            column=column,
            team="Sales" if column < 3 else "Support",
            readiness=readiness,
            failing=failing,
            readiness_since=now - dt.timedelta(hours=1),
        )
        device = Device.objects.create(
            site=site,
            host_identifier=f"host-{label}",
            hostname=f"ws-{label.lower()}",
            os="windows",
            agent_version="1.4.0",
            seat=seat,
            last_seen_at=now - dt.timedelta(minutes=40 if readiness == Readiness.OFFLINE else 1),
        )
        for item in failing:
            # The result's own `since` is later than the history's for the blocked microphone
            # (as after a re-evaluation): the report must take the history's.
            CheckResult.objects.create(
                device=device,
                check_id=item["check_id"],
                state="fail",
                severity="critical",
                reason=item["reason"],
                since=now - dt.timedelta(minutes=20),
            )
            if item is MIC_BLOCKED:
                CheckTransition.objects.create(
                    device=device,
                    seat=seat,
                    floor=floor,
                    check_id=item["check_id"],
                    from_state="pass",
                    to_state="fail",
                    from_since=now - dt.timedelta(days=2),
                    severity="critical",
                    reason=item["reason"],
                    at=mic_since,
                )
        if label == "A-01":
            # A headset failure fixed after 25 minutes, two hours ago: the time-to-fix.
            CheckTransition.objects.create(
                device=device,
                seat=seat,
                floor=floor,
                check_id="audio.headset.present",
                from_state="fail",
                to_state="pass",
                from_since=now - dt.timedelta(hours=2, minutes=25),
                severity="critical",
                reason="A headset is connected",
                at=now - dt.timedelta(hours=2),
            )
        seats[label] = seat
    Device.objects.create(
        site=site, host_identifier="spare", hostname="ws-spare-07", os="macos", agent_version="1.4.0"
    )
    acknowledge(
        actor=admin_user,
        check_id="chrome.mic.site",
        reason="INC-4411 vendor fix on Friday",
        expires_at=now + dt.timedelta(days=3),
        seat=seats["A-03"],
        now=now - dt.timedelta(minutes=5),
    )
    # The morning shift started 2 h ago with 4 of 6 ready.
    shift = Shift.objects.create(
        floor=floor, name="Morning", starts_at=dt.time(8, 0), ends_at=dt.time(16, 0), weekdays=list(range(7))
    )
    Seat.objects.filter(label__in=["A-03", "A-04"]).update(readiness=Readiness.READY)
    take_snapshot(shift, now - dt.timedelta(hours=2), now - dt.timedelta(hours=2))
    Seat.objects.filter(label__in=["A-03", "A-04"]).update(readiness=Readiness.NOT_READY)
    # The hourly rollups as evaluation keeps them: 5 of 6 ready three hours ago, 2 of 6 now.
    for hours_ago, counts in [
        (3, {"ready": 5, "not_ready": 1}),
        (0, {"ready": 2, "not_ready": 2, "offline": 1, "at_risk": 1}),
    ]:
        for readiness, number in counts.items():
            FloorReadinessHour.objects.update_or_create(
                floor=floor,
                readiness=readiness,
                hour=hour_of(now - dt.timedelta(hours=hours_ago)),
                defaults={"seats": number},
            )
    other = Floor.objects.create(site=site, name="Floor 9")
    Seat.objects.create(floor=other, label="Z-01", readiness=Readiness.NOT_READY, failing=[NO_HEADSET])
    return KnownFloor(floor=floor, other_floor=other, seats=seats, now=now, mic_since=mic_since)

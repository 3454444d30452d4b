"""A floor as a supervisor meets it at the start of a shift: most seats ready, one that cannot
take calls (with the check results and history behind it), one at risk, one silent and one
with no workstation yet. Built through the ORM the way the evaluation job leaves it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

CTI = "https://acme.my.salesforce.com"
NOW = timezone.now()

MIC_BLOCKED = {
    "check_id": "chrome.mic.site",
    "state": "fail",
    "severity": "critical",
    "reason": f"Microphone set to Block for {CTI} in Chrome profile Default",
}
NO_HEADSET = {
    "check_id": "audio.headset.present",
    "state": "fail",
    "severity": "critical",
    "reason": "No headset among the capture devices; only the built-in microphone is present",
}
NOTIFICATIONS_ASK = {
    "check_id": "chrome.notifications.site",
    "state": "warn",
    "severity": "warning",
    "reason": f"Notifications for {CTI} will be asked for, not shown",
}
SILENT = {
    "check_id": "agent.fresh",
    "state": "fail",
    "severity": "critical",
    "reason": "No report for 3 h 12 min (limit 15 min)",
}


@dataclass
class Floorplan:
    floor: Any
    ready: list[Any]
    not_ready: Any
    at_risk: Any
    offline: Any
    unknown: Any


def add_seat(
    floor: Any,
    label: str,
    row: int,
    column: int,
    readiness: str,
    *,
    failing: list[dict[str, Any]] | tuple = (),
    hostname: str | None = None,
    os: str = "windows",
    since: dt.datetime | None = None,
    team: str = "Sales",
) -> Any:
    """A seat as the evaluation job leaves it: readiness and its failing checks precomputed."""
    from server.fleet.models import Device, Seat

    seat = Seat.objects.create(
        floor=floor,
        label=label,
        row=row,
        column=column,
        team=team,
        readiness=readiness,
        readiness_since=since or NOW - dt.timedelta(minutes=25),
        evaluated_at=NOW if hostname else None,
        failing=list(failing),
    )
    if hostname:
        Device.objects.create(
            site=floor.site,
            host_identifier=f"uuid-{floor.pk}-{label}",
            hostname=hostname,
            os=os,
            os_version="Windows 11 23H2" if os == "windows" else "",
            agent_version="0.1.0",
            seat=seat,
            last_seen_at=NOW - dt.timedelta(seconds=40),
        )
    return seat


def add_results(seat: Any, results: dict[str, tuple[str, str, str]]) -> None:
    """Stored check results for the seat's device: {check_id: (state, severity, reason)}."""
    from server.compliance.models import CheckResult

    for check_id, (state, severity, reason) in results.items():
        CheckResult.objects.create(
            device=seat.device,
            check_id=check_id,
            state=state,
            severity=severity,
            reason=reason,
            since=NOW - dt.timedelta(minutes=25),
        )


@pytest.fixture
def floorplan(floor) -> Floorplan:
    from server.compliance.models import SeatEvent

    ready = [
        add_seat(floor, f"A-{column + 1:02d}", 0, column, "ready", hostname=f"lyon-a{column + 1:02d}")
        for column in range(4)
    ]
    not_ready = add_seat(
        floor,
        "B-01",
        1,
        0,
        "not_ready",
        failing=[MIC_BLOCKED, NO_HEADSET],
        hostname="lyon-b01",
        team="Support",
    )
    add_results(
        not_ready,
        {
            "chrome.mic.site": ("fail", "critical", MIC_BLOCKED["reason"]),
            "audio.headset.present": ("fail", "critical", NO_HEADSET["reason"]),
            "chrome.installed": ("pass", "critical", "Chrome 131 is installed"),
            "os.mic.exclusive": ("n/a", "warning", "Only checked on Windows with a headset"),
        },
    )
    SeatEvent.objects.create(
        seat=not_ready,
        device=not_ready.device,
        at=NOW - dt.timedelta(minutes=25),
        from_readiness="ready",
        to_readiness="not_ready",
        reason=MIC_BLOCKED["reason"],
        failing=[MIC_BLOCKED, NO_HEADSET],
    )
    at_risk = add_seat(
        floor, "B-02", 1, 1, "at_risk", failing=[NOTIFICATIONS_ASK], hostname="lyon-b02", os="macos"
    )
    offline = add_seat(floor, "B-03", 1, 2, "offline", failing=[SILENT], hostname="lyon-b03", os="linux")
    unknown = add_seat(floor, "B-04", 1, 3, "unknown")
    return Floorplan(floor, ready, not_ready, at_risk, offline, unknown)


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client

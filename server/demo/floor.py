"""The demo floor: one site, one floor of 48 seats in 6 rows of 8, a policy for a Salesforce
softphone, three shifts round the clock, and an enroll secret the simulated agents use."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from server.compliance.models import Policy
from server.fleet.models import EnrollSecret, Floor, Seat, Site
from server.shifts.models import Shift

DEMO_SITE = "Demo contact centre"
DEMO_FLOOR = "Floor 1"
ROWS, PER_ROW = 6, 8
TEAMS = ["Sales", "Sales", "Support", "Support", "Billing", "Retention"]
CTI_ORIGIN = "https://acme.my.salesforce.com"


@dataclass(frozen=True)
class Demo:
    site: Site
    floor: Floor
    enroll_secret: str
    username: str
    password: str


def seat_label(row: int, column: int) -> str:
    # Matches readyfloor_agent.simulate.seat_labels: rows A, B, ... and columns 01..08.
    return f"{chr(ord('A') + row)}-{column + 1:02d}"


@transaction.atomic
def load_demo(data_dir: Path | None = None) -> Demo:
    """Create the demo floor if it is missing; running it again changes nothing but
    issuing a fresh enroll secret for the simulator."""
    site, _ = Site.objects.get_or_create(name=DEMO_SITE, defaults={"timezone": "Europe/Paris"})
    floor, _ = Floor.objects.get_or_create(site=site, name=DEMO_FLOOR)
    for row in range(ROWS):
        for column in range(PER_ROW):
            Seat.objects.get_or_create(
                floor=floor,
                label=seat_label(row, column),
                defaults={"row": row, "column": column, "team": TEAMS[row]},
            )
    Policy.objects.get_or_create(
        site=site,
        defaults={
            "name": "Demo softphone policy",
            "cti_origins": [CTI_ORIGIN],
            "notifications_required": True,
            "min_chrome_major": 120,
            "freshness_s": 120,
            "checkin_interval_s": 15,
        },
    )
    # Three shifts round the clock, so the shift board always has one on or coming up.
    for name, starts, ends in (
        ("Early", "06:00", "14:00"),
        ("Late", "14:00", "22:00"),
        ("Night", "22:00", "06:00"),
    ):
        Shift.objects.get_or_create(
            floor=floor,
            name=name,
            defaults={
                "starts_at": dt.time.fromisoformat(starts),
                "ends_at": dt.time.fromisoformat(ends),
                "weekdays": list(range(7)),
            },
        )
    _, secret = EnrollSecret.issue(site, "demo simulator")
    username, password = demo_login(data_dir or settings.DATA_DIR)
    return Demo(site=site, floor=floor, enroll_secret=secret, username=username, password=password)


def demo_login(data_dir: Path) -> tuple[str, str]:
    """An admin login for the local demo, kept in the data folder so it survives restarts."""
    path = data_dir / "demo-login.txt"
    if path.exists():
        username, password = path.read_text().split(":", 1)
        password = password.strip()
    else:
        username, password = "admin", secrets.token_urlsafe(9)
    user, created = User.objects.get_or_create(
        username=username, defaults={"is_staff": True, "is_superuser": True}
    )
    if created or not user.check_password(password):
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{username}:{password}\n")
    path.chmod(0o600)
    return username, password

"""The demo: one site with a floor of 48 seats in 6 rows of 8 (plus 4 free seats, G-01 to G-04, for a
real machine) and a small second floor of 8, a
policy for a Salesforce softphone, three shifts round the clock on Floor 1, an enroll secret the
simulated agents use, and one login per role (an IT admin, a supervisor of Floor 1 who sees
nothing of Floor 2, an auditor)."""

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
from server.roles.groups import assign_role
from server.roles.models import Role
from server.shifts.models import Shift

DEMO_SITE = "Demo contact centre"
DEMO_FLOOR = "Floor 1"
ROWS, PER_ROW = 6, 8
TEAMS = ["Sales", "Sales", "Support", "Support", "Billing", "Retention"]
# A second, smaller floor, so a supervisor's scope is visible: they see Floor 1 only.
SECOND_FLOOR, SECOND_FLOOR_SEATS, SECOND_FLOOR_TEAM = "Floor 2", 8, "Collections"
CTI_ORIGIN = "https://acme.my.salesforce.com"
# Free seats in an extra row the simulator never takes, so a real workstation enrolled against the
# demo (README, "Try a real machine") has somewhere to sit: G-01 .. G-04 on Floor 1.
FREE_ROW, FREE_SEATS, FREE_TEAM = ROWS, 4, "Spare"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: Role
    sees: str


@dataclass(frozen=True)
class Demo:
    site: Site
    floor: Floor
    second_floor: Floor
    enroll_secret: str
    logins: list[DemoLogin]

    # The IT admin's login, as the demo always printed first.
    @property
    def username(self) -> str:
        return self.logins[0].username

    @property
    def password(self) -> str:
        return self.logins[0].password


def seat_label(row: int, column: int) -> str:
    # Matches readyfloor_agent.simulate.seat_labels: rows A, B, ... and columns 01..08.
    return f"{chr(ord('A') + row)}-{column + 1:02d}"


def free_seat_labels() -> list[str]:
    """The demo's seats no simulated agent takes: where a real workstation can enrol."""
    return [seat_label(FREE_ROW, column) for column in range(FREE_SEATS)]


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
    for column in range(FREE_SEATS):
        Seat.objects.get_or_create(
            floor=floor,
            label=seat_label(FREE_ROW, column),
            defaults={"row": FREE_ROW, "column": column, "team": FREE_TEAM},
        )
    second_floor, _ = Floor.objects.get_or_create(site=site, name=SECOND_FLOOR)
    for column in range(SECOND_FLOOR_SEATS):
        Seat.objects.get_or_create(
            floor=second_floor,
            label=seat_label(0, column),
            defaults={"row": 0, "column": column, "team": SECOND_FLOOR_TEAM},
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
    logins = demo_logins(data_dir or settings.DATA_DIR, floor)
    return Demo(site=site, floor=floor, second_floor=second_floor, enroll_secret=secret, logins=logins)


DEMO_ACCOUNTS = [("admin", Role.IT_ADMIN), ("supervisor", Role.SUPERVISOR), ("auditor", Role.AUDITOR)]


def demo_logins(data_dir: Path, supervised: Floor) -> list[DemoLogin]:
    """One login per role for the local demo, kept in the data folder (one `username:password`
    per line) so they survive restarts."""
    path = data_dir / "demo-login.txt"
    kept: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            username, _, password = line.partition(":")
            if username and password.strip():
                kept[username] = password.strip()
    logins = []
    for username, role in DEMO_ACCOUNTS:
        password = kept.get(username) or secrets.token_urlsafe(9)
        user, created = User.objects.get_or_create(username=username)
        if created or not user.check_password(password):
            user.set_password(password)
            user.save()
        assign_role(user, role, floors=[supervised] if role == Role.SUPERVISOR else ())
        sees = {
            Role.IT_ADMIN: "IT admin: sees everything, edits policy, opens the admin",
            Role.SUPERVISOR: f"supervisor: sees {supervised.name} only",
            Role.AUDITOR: "auditor: reads every floor, changes nothing",
        }[role]
        logins.append(DemoLogin(username, password, role, sees))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{login.username}:{login.password}\n" for login in logins))
    path.chmod(0o600)
    return logins

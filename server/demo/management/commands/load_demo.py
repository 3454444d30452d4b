from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from server.demo.floor import PER_ROW, ROWS, SECOND_FLOOR_SEATS, free_seat_labels, load_demo


class Command(BaseCommand):
    help = (
        "Create the demo site with its two floors (48 and 8 seats), its policy and a login per role "
        "(IT admin, supervisor of Floor 1, auditor); with --server, also drive "
        "simulated agents through the real HTTP API once so the floor shows a realistic mix of failures.\n\n"
        "Example: manage.py load_demo --server http://127.0.0.1:8000"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--server", help="Base URL of a running ReadyFloor to send one round of reports to."
        )
        parser.add_argument(
            "--seed", type=int, default=7, help="Seed of the failure mix (same seed, same floor)."
        )

    def handle(self, *args, server: str | None, seed: int, **options) -> None:
        demo = load_demo()
        self.stdout.write(f"Demo floor: {demo.site.name} / {demo.floor.name}, {ROWS * PER_ROW} seats")
        self.stdout.write(f"Second floor: {demo.second_floor.name}, {SECOND_FLOOR_SEATS} seats")
        self.stdout.write(f"Free seats for a real machine: {demo.floor.name} {', '.join(free_seat_labels())}")
        for login in demo.logins:
            self.stdout.write(f"Login: {login.username} / {login.password}   ({login.sees})")
        self.stdout.write(f"Enroll secret for simulated agents: {demo.enroll_secret}")
        if server:
            from readyfloor_agent import simulate

            summary = simulate.run_simulation(
                server=server,
                secret=demo.enroll_secret,
                seats=ROWS * PER_ROW,
                floor=demo.floor.name,
                mix=simulate.DEMO_MIX,
                once=True,
                seed=seed,
                keys_file=Path(settings.DATA_DIR) / "demo-agent-keys.json",
            )
            self.stdout.write(f"Simulated agents: {summary}")
            summary = simulate.run_simulation(
                server=server,
                secret=demo.enroll_secret,
                seats=SECOND_FLOOR_SEATS,
                floor=demo.second_floor.name,
                mix=simulate.DEMO_MIX,
                once=True,
                seed=seed,
            )
            self.stdout.write(f"Simulated agents on {demo.second_floor.name}: {summary}")

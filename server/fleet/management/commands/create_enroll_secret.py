from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from server.fleet.models import EnrollSecret, Floor, Site


class Command(BaseCommand):
    help = (
        "Create an enroll secret for a site and print it once (only its hash is stored). "
        "Agents enrol with it:\n"
        "  readyfloor-agent enroll --server URL --secret SECRET --seat 'Floor 1/A-01'\n\n"
        "Scope it to one floor, let it expire and cap its uses, so a leaked copy cannot enrol beyond "
        "the rollout it was made for:\n"
        "  manage.py create_enroll_secret --site 'Lyon contact centre' --floor 'Floor 2' "
        "--expires-in-days 7 --max-uses 60 --name 'rollout 2026-11'"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", required=True, help="Site name (exact).")
        parser.add_argument("--name", default="created on the command line", help="What the secret is for.")
        parser.add_argument(
            "--create-site", action="store_true", help="Create the site if it does not exist."
        )
        parser.add_argument("--floor", help="Only seats on this floor of the site (default: any floor).")
        parser.add_argument(
            "--expires-in-days",
            type=float,
            metavar="DAYS",
            help="Refused after this many days (default: never).",
        )
        parser.add_argument(
            "--max-uses", type=int, metavar="N", help="Enrolments it allows, e.g. the rollout's seat count."
        )

    def handle(
        self,
        *args,
        site: str,
        name: str,
        create_site: bool,
        floor: str | None = None,
        expires_in_days: float | None = None,
        max_uses: int | None = None,
        **options,
    ) -> None:
        if create_site:
            target, _ = Site.objects.get_or_create(name=site)
        else:
            target = Site.objects.filter(name=site).first()
            if target is None:
                known = ", ".join(Site.objects.values_list("name", flat=True)) or "none yet"
                raise CommandError(f"no site named {site!r} (known: {known}); add --create-site to create it")
        scope = None
        if floor is not None:
            scope = Floor.objects.filter(site=target, name=floor).first()
            if scope is None:
                known = ", ".join(target.floors.values_list("name", flat=True)) or "none yet"
                raise CommandError(f"no floor {floor!r} at {target.name!r} (known: {known})")
        if max_uses is not None and max_uses < 1:
            raise CommandError("--max-uses must be at least 1")
        expires_at = timezone.now() + dt.timedelta(days=expires_in_days) if expires_in_days else None
        _, plain = EnrollSecret.issue(target, name, floor=scope, expires_at=expires_at, max_uses=max_uses)
        self.stdout.write(plain)

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from server.fleet.models import EnrollSecret, Site


class Command(BaseCommand):
    help = (
        "Create an enroll secret for a site and print it once (only its hash is stored). "
        "Agents enrol with it:\n"
        "  readyfloor-agent enroll --server URL --secret SECRET --seat 'Floor 1/A-01'\n\n"
        "Example: manage.py create_enroll_secret --site 'Lyon contact centre' --name 'rollout 2026-11'"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", required=True, help="Site name (exact).")
        parser.add_argument("--name", default="created on the command line", help="What the secret is for.")
        parser.add_argument(
            "--create-site", action="store_true", help="Create the site if it does not exist."
        )

    def handle(self, *args, site: str, name: str, create_site: bool, **options) -> None:
        if create_site:
            target, _ = Site.objects.get_or_create(name=site)
        else:
            target = Site.objects.filter(name=site).first()
            if target is None:
                known = ", ".join(Site.objects.values_list("name", flat=True)) or "none yet"
                raise CommandError(f"no site named {site!r} (known: {known}); add --create-site to create it")
        _, plain = EnrollSecret.issue(target, name)
        self.stdout.write(plain)

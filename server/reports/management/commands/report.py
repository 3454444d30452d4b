"""`manage.py report`: one report on demand, through the same code as scheduled runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser, DjangoHelpFormatter
from tqdm import tqdm

from server.reports import running
from server.reports.models import Format, ReportFile, Trigger
from server.reports.scoping import SCOPE_HELP, Scope, ScopeError


class Command(BaseCommand):
    help = (
        "Make a readiness report now: readiness now and at the last shift start, the trend, failing\n"
        "checks ranked, every not-ready seat with its reason, how long it has failed and who\n"
        "acknowledged it until when, offline seats and devices at no seat. The run is archived\n"
        "(Reports page, /api/v1/reports/runs) like a scheduled one; no email is sent.\n\n"
        "Examples:\n"
        "  manage.py report --scope 'floor:Floor 1' --format pdf --out floor1.pdf\n"
        "  manage.py report --scope floor:3 --format csv --out -          # CSV on standard output\n"
        "  manage.py report --scope 'site:Lyon contact centre' --format csv --format pdf   # both\n"
        "  manage.py report --scope 'team:Floor 1/Sales' --days 30"
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        # Keep the examples' line breaks: they are meant to be copied.
        class Formatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
            pass

        return super().create_parser(prog_name, subcommand, formatter_class=Formatter, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scope", required=True, help=f"What the report covers: {SCOPE_HELP}.")
        parser.add_argument(
            "--format",
            action="append",
            choices=Format.values,
            dest="formats",
            help="csv or pdf; repeat for both (default: pdf).",
        )
        parser.add_argument(
            "--out",
            help="Where to write the file (one format), '-' for standard output; a folder for several. "
            "Default: the current folder, with the archive's file name.",
        )
        parser.add_argument("--days", type=int, default=7, help="The trend's period in days (default 7).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (e.g. in cron jobs).")

    def handle(
        self,
        *args,
        scope: str,
        formats: list[str] | None,
        out: str | None,
        days: int,
        no_progress: bool,
        **options,
    ) -> None:
        formats = formats or [Format.PDF]
        if days < 1 or days > 400:
            raise CommandError("--days: between 1 and 400")
        if out == "-" and len(formats) != 1:
            raise CommandError("--out -: choose one --format to write to standard output")
        try:
            chosen = Scope.parse(scope)
        except ScopeError as error:
            raise CommandError(f"--scope: {error}") from error
        bar = tqdm(
            total=running.steps_for(formats),
            desc=f"Report for {chosen.label}",
            unit="step",
            disable=no_progress or out == "-",
            file=self.stderr._out,
        )

        def progress(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        try:
            run = running.run_now(
                chosen, formats=formats, trigger=Trigger.COMMAND, period_days=days, progress=progress
            )
        finally:
            bar.close()
        for file in ReportFile.objects.filter(run=run):
            data = bytes(file.content)
            if out == "-":
                stream = self.stdout._out
                if hasattr(stream, "buffer"):
                    stream.buffer.write(data)
                    stream.flush()
                else:  # a text stream (call_command in tests): CSV only makes sense there
                    stream.write(data.decode("utf-8-sig"))
                continue
            target = Path(out) if out else Path(file.filename)
            if out and (len(formats) > 1 or target.is_dir()):
                target.mkdir(parents=True, exist_ok=True)
                target = target / file.filename
            target.write_bytes(data)
            self.stderr.write(
                f"{file.format.upper()}: {target} ({file.size} bytes, sha256 {file.sha256[:12]}…)"
            )
        self.stderr.write(f"Archived as report #{run.pk}: /reports/runs/{run.pk}/")

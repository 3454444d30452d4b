"""`manage.py serve`: the whole product in the foreground — web, worker, beat and (with
--demo) a floor of simulated agents — on embedded PostgreSQL/Redis unless the environment
names real ones. This is what `make run` calls."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from server import embedded
from server.demo.floor import PER_ROW, ROWS, SECOND_FLOOR_SEATS, free_seat_labels, load_demo


class Command(BaseCommand):
    help = (
        "Run ReadyFloor in the foreground: migrate, then serve the web app (gunicorn), a Celery worker and "
        "Celery beat until Ctrl-C. With DATABASE_URL/REDIS_URL unset, embedded PostgreSQL and Redis run in "
        "READYFLOOR_DATA_DIR (default ./var).\n\n"
        "Examples:\n  manage.py serve --demo            # demo floor with simulated seats\n"
        "  PORT=9000 manage.py serve          # another port"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--demo", action="store_true", help="Load the demo floor and run simulated agents."
        )
        parser.add_argument("--port", type=int, default=int(os.getenv("PORT", "8000")))
        parser.add_argument("--host", default=os.getenv("HOST", "127.0.0.1"))
        parser.add_argument("--web-workers", type=int, default=int(os.getenv("WEB_CONCURRENCY", "2")))
        parser.add_argument(
            "--fix-after",
            type=int,
            default=0,
            metavar="SECONDS",
            help="With --demo: failing simulated seats fix themselves after this long (default: never).",
        )

    def handle(
        self, *args, demo: bool, port: int, host: str, web_workers: int, fix_after: int, **options
    ) -> None:
        url = f"http://{'localhost' if host in {'127.0.0.1', '0.0.0.0'} else host}:{port}"
        if settings.EMBEDDED_POSTGRES:
            embedded.stop_postgres_on_exit()
        call_command("migrate", verbosity=0, interactive=False)
        call_command("collectstatic", verbosity=0, interactive=False)
        env = {
            **os.environ,
            # Children use exactly the services this process found or started.
            "DATABASE_URL": settings.DATABASE_URL,
            "REDIS_URL": settings.REDIS_URL,
            "READYFLOOR_DATA_DIR": str(settings.DATA_DIR),
            "PYTHONUNBUFFERED": "1",
        }
        python = sys.executable
        log_dir = Path(settings.DATA_DIR) / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        processes: dict[str, subprocess.Popen] = {}

        def start(name: str, argv: list[str]) -> None:
            log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
            # Each child in its own session: Ctrl-C in the terminal reaches this process only, which
            # stops the children in order, instead of every child seeing SIGINT at once and one of
            # them exiting before the others are told (once "agents exited with code 0").
            processes[name] = subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

        start(
            "web",
            [
                python,
                "-m",
                "gunicorn",
                "server.wsgi:application",
                "--bind",
                f"{host}:{port}",
                "--workers",
                str(web_workers),
                "--access-logfile",
                "-",
                "--timeout",
                "30",
            ],
        )
        # One worker per kind of work, so re-judging every seat after a policy change never
        # sits in front of the flag of the seat that just failed (settings.READYFLOOR_QUEUES).
        queues = settings.READYFLOOR_QUEUES
        celery_worker = [python, "-m", "celery", "-A", "server", "worker", "--loglevel=INFO"]
        start(
            "worker",
            [
                *celery_worker,
                "--concurrency=2",
                "-n",
                "evaluate@%h",
                "-Q",
                f"{queues['evaluate']},{queues['alerts']}",
            ],
        )
        start("worker-bulk", [*celery_worker, "--concurrency=1", "-n", "bulk@%h", "-Q", queues["bulk"]])
        start(
            "beat",
            [
                python,
                "-m",
                "celery",
                "-A",
                "server",
                "beat",
                "--loglevel=INFO",
                # The schedule lives in PostgreSQL (django-celery-beat): report schedules edited
                # on the Reports page take effect without restarting beat.
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
            ],
        )
        try:
            self._wait_until_up(f"http://127.0.0.1:{port}/healthz", processes["web"])
            if demo:
                floor = load_demo()
                start(
                    "agents",
                    [
                        python,
                        "-m",
                        "readyfloor_agent",
                        "simulate",
                        "--server",
                        f"http://127.0.0.1:{port}",
                        "--secret",
                        floor.enroll_secret,
                        "--seats",
                        str(ROWS * PER_ROW),
                        "--floor",
                        floor.floor.name,
                        "--interval",
                        "15",
                        # The simulated seats keep their node keys, so a restart enrols them
                        # again with proof instead of waiting for an admin's approval.
                        "--keys",
                        str(Path(settings.DATA_DIR) / "demo-agent-keys.json"),
                        *(["--fix-after", str(fix_after)] if fix_after else []),
                    ],
                )
                start(
                    "agents-floor2",
                    [
                        python,
                        "-m",
                        "readyfloor_agent",
                        "simulate",
                        "--server",
                        f"http://127.0.0.1:{port}",
                        "--secret",
                        floor.enroll_secret,
                        "--seats",
                        str(SECOND_FLOOR_SEATS),
                        "--floor",
                        floor.second_floor.name,
                        "--interval",
                        "15",
                    ],
                )
                logins = [f"{login.username} / {login.password}   ({login.sees})" for login in floor.logins]
            else:
                logins = ["an account made with: python manage.py createsuperuser"]
            self.stdout.write(self.style.SUCCESS(f"\nReadyFloor is running at {url}/"))
            self.stdout.write(f"Log in with {logins[0]}")
            for login in logins[1:]:
                self.stdout.write(f"         or {login}")
            if demo:
                self.stdout.write(
                    f"Free seats for a real machine: {floor.floor.name} {', '.join(free_seat_labels())} "
                    f'(enroll secret: python manage.py create_enroll_secret --site "{floor.site.name}")'
                )
            self.stdout.write(f"Admin: {url}/admin/   API schema: {url}/api/schema.json   Logs: {log_dir}")
            if settings.EMBEDDED_POSTGRES or settings.EMBEDDED_REDIS:
                self.stdout.write(f"Embedded PostgreSQL/Redis data: {settings.DATA_DIR}")
            self.stdout.write("Press Ctrl-C to stop.\n")
            self._supervise(processes)
        except KeyboardInterrupt:
            pass  # Ctrl-C while starting: stop what started, quietly
        finally:
            self._stop(processes)

    def _wait_until_up(self, health_url: str, web: subprocess.Popen, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if web.poll() is not None:
                raise CommandError("the web server exited; see the web log")
            try:
                with urllib.request.urlopen(health_url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise CommandError(f"the web server did not answer {health_url} within {timeout:.0f} s")

    def _supervise(self, processes: dict[str, subprocess.Popen]) -> None:
        stop = False

        def on_signal(signum, frame) -> None:
            nonlocal stop
            stop = True

        # Ctrl-C and SIGTERM both mean "stop": a request, not an error, so no traceback and exit 0.
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        while not stop:
            for name, process in processes.items():
                if process.poll() is not None and not stop:
                    raise CommandError(f"{name} exited with code {process.returncode}; see its log")
            time.sleep(0.5)
        self.stdout.write("Stopping ReadyFloor…")

    def _stop(self, processes: dict[str, subprocess.Popen]) -> None:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

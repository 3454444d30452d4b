"""``readyfloor-agent``: self-check a seat, report it to the server, simulate a floor."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import logging
import os
import re
import shutil
import socket
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__

log = logging.getLogger("readyfloor_agent")

# Exit codes of `check`, also used by every other command for "could not run" and usage.
EXIT_READY = 0
EXIT_AT_RISK = 1
EXIT_NOT_READY = 2
EXIT_FAILED = 3
EXIT_USAGE = 64

OS_LABELS = {"windows": "Windows", "macos": "macOS", "linux": "Linux"}
STATE_LABELS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "unknown": "UNKNOWN", "n/a": "N/A"}
FIX_HEADINGS = {"fail": "failing", "warn": "warning", "unknown": "could not be checked: check it yourself"}
_COLOURS = {"pass": "32", "warn": "33", "fail": "31", "unknown": "35", "n/a": "2"}


class CommandError(Exception):
    """A command could not do its job; the message is for the person who ran it."""


class _Parser(argparse.ArgumentParser):
    # argparse exits 2 on a usage error, which `check` uses for NOT READY; scripts that test the
    # exit code must be able to tell the two apart.
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


# -- settings plumbing ---------------------------------------------------------------------


def _settings(args: argparse.Namespace) -> Any:
    from .config import AgentSettings, Seat, SettingsError, load_settings

    files = [Path(args.config)] if getattr(args, "config", None) else None
    if files and not files[0].is_file():
        raise CommandError(f"--config {args.config}: no such file")
    try:
        settings: AgentSettings = load_settings(files=files)
        seat = getattr(args, "seat", None)
        return settings.with_overrides(
            server=getattr(args, "server", None),
            enroll_secret=getattr(args, "secret", None),
            state_dir=getattr(args, "state_dir", None),
            seat=Seat.parse(seat) if seat else None,
            ca_file=getattr(args, "ca_file", None),
            timeout=getattr(args, "timeout", None),
        )
    except SettingsError as error:
        raise CommandError(str(error)) from error


def _state(settings: Any) -> Any:
    from .config import StateDir

    return StateDir(settings.state_dir)


def _with_enrolment(settings: Any, state: Any) -> Any:
    """Fill in the server and secret remembered by ``enroll`` when nothing else names them."""
    return settings.with_overrides(
        server=None if settings.server else state.get("server"),
        enroll_secret=None if settings.enroll_secret else state.enroll_secret(),
    )


# -- facts ---------------------------------------------------------------------------------


def _open_host(bundle: str | None, platform: str | None) -> Any:
    if bundle is None:
        if platform:
            raise CommandError("--platform only applies to --bundle (this machine's platform is known)")
        from .host import live_host

        return live_host()
    from .bundle import open_bundle
    from .host import ReadError

    try:
        # A hand-assembled bundle can be ambiguous (no manifest); --platform says which OS it
        # came from, which decides how its paths and registry exports are read.
        return open_bundle(bundle, platform=platform)
    except ReadError as error:
        raise CommandError(f"cannot open the bundle: {error}") from error


def _collect(bundle: str | None, platform: str | None, osquery: Any = None) -> dict[str, Any]:
    from .collectors import collect
    from .host import ReadError

    host = _open_host(bundle, platform)
    try:
        return collect(host, osquery=osquery)
    except ReadError as error:
        raise CommandError(f"could not read the seat: {error}") from error
    finally:
        close = getattr(host, "close", None)
        if callable(close):
            close()


def _osquery(args: argparse.Namespace, settings: Any) -> Any:
    """The osquery bridge for reading this computer: None for a bundle or when osquery is off."""
    if getattr(args, "bundle", None):
        return None
    from .osquery_bridge import bridge_for

    return bridge_for(settings, socket_path=getattr(args, "osquery_socket", None))


def _collect_with_osquery(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    osquery = _osquery(args, settings)
    if osquery is None:
        return _collect(args.bundle, args.platform)
    try:
        return _collect(args.bundle, args.platform, osquery=osquery)
    finally:
        osquery.close()


# -- check ---------------------------------------------------------------------------------


def _policy_for_check(args: argparse.Namespace, settings: Any, state: Any) -> tuple[Any, str]:
    from .checks import Policy

    cached = state.cached_config() or {}
    source = "none: no CTI origin known"
    try:
        policy = Policy.from_dict(cached.get("policy")) if cached.get("policy") is not None else Policy()
        if cached.get("policy") is not None:
            source = (
                f"the server's policy {cached.get('config_version') or ''} cached in {state.path}".replace(
                    "  ", " "
                )
            )
    except ValueError as error:
        log.warning("the cached policy is unusable (%s); judging without it", error)
        policy = Policy()
    origins: tuple[str, ...] = ()
    if args.cti_origin:
        origins, source = tuple(args.cti_origin), "--cti-origin"
    elif not policy.cti_origins and settings.cti_origins:
        origins, source = tuple(settings.cti_origins), "the settings file"
    if origins:
        payload = {**policy.to_dict(), "cti_origins": list(origins)}
        try:
            policy = Policy.from_dict(payload)
        except ValueError as error:
            raise CommandError(f"CTI origin: {error}") from error
    return policy, source


def _browsers_for_check(
    args: argparse.Namespace, policy: Any, source: str, facts: dict[str, Any]
) -> tuple[Any, str]:
    """The browser(s) to judge: --browser, else the cached policy's, else (no policy known) the
    Chromium-family browsers installed on the seat, so an Edge-only seat is judged as one."""
    from .checks import Policy
    from .checks.browsers import OTHER_BROWSERS

    if args.browser:
        chosen = tuple(dict.fromkeys(args.browser))
        note = "--browser"
    elif source.startswith("the server's policy"):
        return policy, source
    else:
        chrome = facts.get("chrome") if isinstance(facts.get("chrome"), dict) else {}
        others = facts.get("browsers") if isinstance(facts.get("browsers"), dict) else {}
        installed = [
            browser
            for browser in OTHER_BROWSERS
            if isinstance(others.get(browser), dict) and others[browser].get("installed") is True
        ]
        if chrome.get("installed") is not False or not installed:
            return policy, source
        chosen, note = tuple(installed), "the browsers installed on this seat (no policy names one)"
    updated = Policy.from_dict({**policy.to_dict(), "browsers": list(chosen)})
    return updated, f"{source}; browsers: {note}"


def _exit_code_for(readiness: str) -> int:
    from .checks import Readiness

    # Graded by the catalog's rank: READY 0, AT RISK 1, anything worse 2.
    rank = Readiness(readiness).rank
    if rank <= Readiness.READY.rank:
        return EXIT_READY
    return EXIT_AT_RISK if rank <= Readiness.AT_RISK.rank else EXIT_NOT_READY


def _check_document(facts: dict[str, Any], policy: Any, policy_source: str) -> dict[str, Any]:
    from .checks import evaluate, fix_for, readiness_of, title_for
    from .checks.model import BROWSER_NAMES

    results = evaluate(facts, policy)
    readiness = readiness_of(results).value
    host = facts.get("host") or {}
    os_name = host.get("os") if host.get("os") in OS_LABELS else None
    rows = []
    for result in results:
        fix = None
        # The browser a result is about (Edge, Chromium) words its title and fix; Chrome otherwise.
        browser = result.evidence.get("browser")
        browser = browser if isinstance(browser, str) and browser in BROWSER_NAMES else "chrome"
        if result.state.value in ("fail", "warn", "unknown") and os_name:
            try:
                fix = fix_for(result.check_id, os_name, browser).to_dict()
            except (KeyError, ValueError):
                fix = None
        rows.append(
            {
                "check_id": result.check_id,
                "title": title_for(result.check_id, browser),
                "state": result.state.value,
                "severity": result.severity,
                "reason": result.reason,
                "evidence": result.evidence,
                "fix": fix,
            }
        )
    return {
        "readiness": readiness,
        "exit_code": _exit_code_for(readiness),
        "host": {
            "hostname": host.get("hostname"),
            "os": host.get("os"),
            "os_version": host.get("os_version"),
        },
        "policy": {**policy.to_dict(), "source": policy_source},
        "checked_at": _now(),
        "results": rows,
    }


def _readiness_label(value: str) -> str:
    from .checks import Readiness

    try:
        return Readiness(value).label.upper()
    except ValueError:
        return value.upper()


def _colour(text: str, state: str, enabled: bool) -> str:
    code = _COLOURS.get(state)
    return f"\033[{code}m{text}\033[0m" if enabled and code else text


def render_check(document: dict[str, Any], *, colour: bool = False, width: int | None = None) -> str:
    """The self-check as the person at the seat reads it: one line per check, then what to do."""
    width = max(60, min(width or shutil.get_terminal_size((100, 24)).columns, 140))
    host = document["host"]
    os_label = OS_LABELS.get(host.get("os") or "", host.get("os") or "unknown OS")
    version = str(host.get("os_version") or "")
    # Collectors report "macOS 14.4.1" or "Windows 11 Pro 23H2": don't say the OS name twice.
    if version.lower().startswith(os_label.lower()):
        os_label = ""
    version = f" {version}".rstrip() if os_label else version
    lines = [f"ReadyFloor self-check for {host.get('hostname') or 'this computer'} ({os_label}{version})"]
    origins = document["policy"].get("cti_origins") or []
    lines.append(f"Softphone sites: {', '.join(origins) if origins else '(none known)'}")
    lines.append("")
    title_width = max(len(row["title"]) for row in document["results"])
    state_width = max(len(label) for label in STATE_LABELS.values())
    reason_width = max(20, width - title_width - state_width - 6)
    lines.append(f"  {'CHECK'.ljust(title_width)}  {'STATE'.ljust(state_width)}  WHY")
    for row in document["results"]:
        label = STATE_LABELS.get(row["state"], row["state"].upper())
        wrapped = textwrap.wrap(row["reason"], reason_width) or [""]
        state_text = _colour(label.ljust(state_width), row["state"], colour)
        lines.append(f"  {row['title'].ljust(title_width)}  {state_text}  {wrapped[0]}")
        indent = " " * (title_width + state_width + 6)
        lines.extend(indent + more for more in wrapped[1:])
    verdict = _readiness_label(document["readiness"])
    lines += ["", f"This seat is {verdict}."]
    to_fix = [row for row in document["results"] if row["fix"]]
    if to_fix:
        lines += ["", "How to fix it:"]
        for number, row in enumerate(to_fix, 1):
            lines.append(f"{number}. {row['title']} ({FIX_HEADINGS.get(row['state'], row['state'])})")
            for step_number, step in enumerate(row["fix"]["steps"], 1):
                wrapped = textwrap.wrap(step, width - 8) or [""]
                lines.append(f"   {step_number}) {wrapped[0]}")
                lines.extend("      " + more for more in wrapped[1:])
        lines += ["", "If a step does not work or a setting is greyed out, contact your IT desk."]
    if not origins:
        lines.append("")
        lines += textwrap.wrap(
            "No softphone site is known, so site permissions were not checked: enrol this seat "
            "('readyfloor-agent enroll') or pass --cti-origin https://your-softphone.example.com.",
            width,
        )
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    state = _state(settings)
    facts = _collect_with_osquery(args, settings)
    policy, source = _policy_for_check(args, settings, state)
    policy, source = _browsers_for_check(args, policy, source, facts)
    document = _check_document(facts, policy, source)
    if args.include_facts:
        document["facts"] = facts
    if args.json:
        print(json.dumps(document, indent=2, sort_keys=False, default=str))
    else:
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        print(render_check(document, colour=colour))
    return int(document["exit_code"])


# -- collect, bundle -----------------------------------------------------------------------


def cmd_collect(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
    except CommandError as error:
        # Only the osquery settings matter here; a broken settings file must not stop a collection.
        log.warning("%s; reading without the settings", error)
        settings = None
    facts = _collect_with_osquery(args, settings)
    if args.validate:
        from .report import SchemaError, validate

        try:
            validate("facts", facts)
        except SchemaError as error:
            print(json.dumps(facts, indent=2))
            raise CommandError(f"the facts do not match the schema: {error}") from error
    print(json.dumps(facts, indent=2, ensure_ascii=False))
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    from .bundle import capture_bundle

    target = Path(args.output) if args.output else Path(_default_bundle_name())
    path = capture_bundle(target)
    print(f"Support bundle written to {path}")
    print(
        "It holds the settings files, registry keys and command output the agent reads for its checks "
        "(Chrome preferences, audio devices, privacy settings); review it before sending it outside "
        "your company."
    )
    return 0


def _default_bundle_name() -> str:
    host = re.sub(r"[^A-Za-z0-9-]+", "-", socket.gethostname() or "seat").strip("-") or "seat"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"readyfloor-bundle-{host}-{stamp}.zip"


# -- enroll, run, status -------------------------------------------------------------------


def cmd_enroll(args: argparse.Namespace) -> int:
    from .client import AgentClient, EnrollmentPending, EnrollmentRefused, Rejected, Unavailable
    from .service import enroll

    settings = _settings(args)
    if not settings.server:
        raise CommandError("which server? pass --server URL (or set READYFLOOR_SERVER)")
    if not settings.enroll_secret:
        raise CommandError("pass --secret SECRET (the enrol secret from the ReadyFloor admin)")
    state = _state(settings).ensure()
    try:
        facts = None if args.no_collect else _collect(None, None)
    except Exception as error:  # enrolment must not depend on every collector working
        log.warning("could not collect facts for the host details (%s); using basic ones", error)
        facts = None
    client = AgentClient(settings.server, timeout=settings.timeout, ca_file=settings.ca_file)
    try:
        enroll(client, state, settings, facts)
    except EnrollmentRefused as error:
        raise CommandError(f"the server refused the enrol secret: {error.detail or error}") from error
    except Rejected as error:
        raise CommandError(f"the server refused the enrolment: {error}") from error
    except EnrollmentPending as error:
        state.save_enroll_secret(settings.enroll_secret)
        state.update(server=client.base_url)
        raise CommandError(
            "this computer is already enrolled on the server and could not prove it is the same "
            "machine (its previous node key is gone); an admin must approve the claim in the admin "
            "(Fleet > Enrolment claims). The service ('readyfloor-agent run') keeps asking and "
            "starts reporting once it is approved."
        ) from error
    except Unavailable as error:
        raise CommandError(f"could not reach the server: {error}") from error
    state.save_enroll_secret(settings.enroll_secret)
    state.update(server=client.base_url)
    seat = f" at seat {state.get('seat')}" if state.get("seat") else " without a seat"
    print(f"Enrolled with {client.base_url}{seat} as device {state.get('device_id')}.")
    if state.get("enroll_warning"):
        print(f"The server says: {state.get('enroll_warning')}")
    print(f"Node key and state saved in {state.path}. Start reporting with: readyfloor-agent run")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .service import AgentService, NotEnrolled, install_signal_handlers

    settings = _settings(args)
    state = _state(settings)
    settings = _with_enrolment(settings, state)
    if state.node_key() is None and not settings.enroll_secret:
        raise CommandError(
            "this computer is not enrolled: run 'readyfloor-agent enroll --server URL --secret SECRET' "
            "or set READYFLOOR_SERVER and READYFLOOR_ENROLL_SECRET"
        )
    osquery = _osquery(args, settings)
    try:
        try:
            service = AgentService(settings, state=state, collect_facts=_live_facts(osquery))
        except NotEnrolled as error:
            raise CommandError(str(error)) from error
        if args.once:
            service.step()
            counters, waiting = service.counters, len(service.spool)
            delivered = counters.accepted + counters.duplicates
            print(f"collected {counters.collected}, delivered {delivered}, {waiting} waiting in the spool")
            return 0 if waiting == 0 else 1
        install_signal_handlers(service)
        service.run()
        return 0
    finally:
        if osquery is not None:
            osquery.close()


def _live_facts(osquery: Any) -> Any:
    """The service's collector: the default one, or one reading through osquery."""
    if osquery is None:
        return None

    def collect_facts() -> dict[str, Any]:
        from .collectors import collect
        from .host import live_host

        return collect(live_host(), osquery=osquery)

    return collect_facts


def cmd_status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    state = _state(settings)
    remembered = state.load()
    stats = state.spool(max_entries=settings.spool_max_entries, max_bytes=settings.spool_max_bytes).stats()
    cached = state.cached_config() or {}
    document = {
        "agent_version": __version__,
        "state_dir": str(state.path),
        "settings_from": list(settings.sources),
        "server": settings.server or remembered.get("server"),
        "enrolled": state.node_key() is not None,
        "device_id": remembered.get("device_id"),
        "next_checkin_s": remembered.get("next_checkin_s"),
        "last_acknowledged_at": remembered.get("last_acknowledged_at"),
        "last_error": remembered.get("last_error"),
        "policy_version": cached.get("config_version"),
        "spool": {
            "reports": stats.entries,
            "bytes": stats.bytes,
            "dropped_not_yet_reported": stats.dropped,
            "oldest_collected_at": stats.oldest_collected_at,
            "dead_letters": stats.dead_letters,
            "dead_lettered_not_yet_reported": stats.dead_lettered_unreported,
        },
    }
    if args.json:
        print(json.dumps(document, indent=2))
        return 0
    width = max(len(key) for key in document)
    for key, value in document.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(value) or "(defaults only)"
        print(f"{key.replace('_', ' ').ljust(width)}  {value if value is not None else '-'}")
    return 0


def cmd_requeue_dead(args: argparse.Namespace) -> int:
    settings = _settings(args)
    state = _state(settings)
    spool = state.spool(max_entries=settings.spool_max_entries, max_bytes=settings.spool_max_bytes)
    kept = spool.dead_letters()
    if args.list:
        for path in kept:
            try:
                record = json.loads(path.read_text("utf-8"))
                answer = record.get("answer") or {}
                report_id = (record.get("body") or {}).get("report_id")
                said = answer.get("message") or ""
                print(f"{path.name}  report {report_id}  HTTP {answer.get('status')}  {said}")
            except (OSError, ValueError, AttributeError) as error:
                print(f"{path.name}  unreadable: {error}")
        if not kept:
            print("no dead letters: every report the server refused is gone or was never refused")
        return 0
    requeued = spool.requeue_dead_letters()
    print(f"{requeued} report(s) put back in the spool; the running agent sends them at its own pace")
    return 0


# -- simulate, osquery-extension -----------------------------------------------------------


def cmd_simulate(args: argparse.Namespace) -> int:
    from . import simulate

    if args.list_scenarios:
        width = max(len(name) for name in simulate.SCENARIOS)
        for name, description in simulate.SCENARIOS.items():
            platforms = ", ".join(simulate.scenario_platforms(name))
            print(f"{name.ljust(width)}  {description} [{platforms}]")
        return 0
    if not args.server or not args.secret:
        raise CommandError("simulate needs --server URL and --secret SECRET (or --list-scenarios)")
    if args.duration is None and not args.once and args.fix_after is None:
        log.info("no --duration or --once: simulating until Ctrl-C")
    try:
        mix = simulate.parse_mix(args.mix) if args.mix else None
        os_mix = simulate.parse_os_mix(args.os_mix) if args.os_mix else None
    except ValueError as error:
        raise CommandError(str(error)) from error
    stop = threading.Event()

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        summary = _simulate_until_interrupted(simulate, args, mix, os_mix, stop, progress)
    except ValueError as error:
        raise CommandError(str(error)) from error
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(summary.render())
    return 0 if summary.enrolled == summary.seats and summary.rejected == 0 else EXIT_FAILED


def _simulate_until_interrupted(
    simulate: Any, args: argparse.Namespace, mix: Any, os_mix: Any, stop: threading.Event, progress: Any
) -> Any:
    import signal

    def handle(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = {}
    for name in ("SIGINT", "SIGTERM"):
        number = getattr(signal, name, None)
        if number is not None and threading.current_thread() is threading.main_thread():
            previous[number] = signal.signal(number, handle)
    try:
        return simulate.run_simulation(
            args.server,
            args.secret,
            seats=args.seats,
            floor=args.floor,
            mix=mix,
            interval=args.interval,
            duration=args.duration,
            once=args.once,
            fix_after=args.fix_after,
            seed=args.seed,
            cti_origin=args.cti_origin,
            per_row=args.per_row,
            os_mix=os_mix,
            concurrency=args.concurrency,
            timeout=args.timeout,
            stop=stop,
            progress=None if args.quiet else progress,
            keys_file=Path(args.keys).expanduser() if args.keys else None,
        )
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def cmd_osquery_extension(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module(".osquery_extension", __package__)
    except ModuleNotFoundError as error:
        if error.name not in (f"{__package__}.osquery_extension", "osquery"):
            raise
        raise CommandError(
            "the osquery extension is not available in this build of the agent "
            f"({error.name} is missing); the other commands work without it"
        ) from error
    forwarded = [arg for arg in args.extension_args if arg != "--"]
    result = module.main(forwarded)
    return int(result or 0)


# -- parser --------------------------------------------------------------------------------

_MAIN_EPILOG = """\
Exit codes of 'check': 0 READY, 1 AT RISK, 2 NOT READY or UNKNOWN, 3 the check could not run.
Every command: 3 when it could not do its job, 64 for a wrong command line.

Settings (lowest precedence first): the system file (Linux /etc/readyfloor/agent.ini, macOS
/Library/Application Support/ReadyFloor/agent.ini, Windows %PROGRAMDATA%\\ReadyFloor\\agent.ini),
the user's file, environment variables READYFLOOR_SERVER, READYFLOOR_ENROLL_SECRET,
READYFLOOR_STATE_DIR, READYFLOOR_SEAT, READYFLOOR_CA_FILE, READYFLOOR_CTI_ORIGINS,
READYFLOOR_TIMEOUT, READYFLOOR_OSQUERY_SOCKET, READYFLOOR_OSQUERYD_PATH (READYFLOOR_CONFIG
names one file instead), then flags.

examples:
  readyfloor-agent check                      is this seat ready to take calls?
  readyfloor-agent enroll --server https://readyfloor.example.com --secret S --seat "Floor 1/A-01"
  readyfloor-agent run                        report to the server until stopped
  readyfloor-agent bundle -o seat.zip         capture what the checks read, for support
  readyfloor-agent simulate --server http://127.0.0.1:8000 --secret S --seats 48 --once
"""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir",
        metavar="DIR",
        help="where the node key, spool and cached policy live (default: per user)",
    )
    common.add_argument("--config", metavar="FILE", help="read settings from this INI or JSON file only")
    common.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")

    parser = _Parser(
        prog="readyfloor-agent",
        description="ReadyFloor workstation agent: checks whether this seat can take a browser softphone "
        "call (microphone permissions, Chrome settings, headset) and reports it to the ReadyFloor server.",
        epilog=_MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"readyfloor-agent {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    def command(name: str, help_text: str, epilog: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=epilog,
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    def add_osquery(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--osquery-socket",
            metavar="PATH",
            help="read through the osqueryd on this extension socket ('off': never use osquery; "
            "default: osqueryd's own socket when it is there)",
        )

    def add_source(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--bundle",
            metavar="FILE",
            help="judge a support bundle (zip or folder) captured on another seat instead of this computer",
        )
        sub.add_argument(
            "--platform",
            choices=sorted(OS_LABELS),
            help="with --bundle: the operating system the bundle came from, when it cannot tell",
        )

    check = command(
        "check",
        "Check this seat now and say what to fix.",
        """\
Prints one line per check (PASS, WARN, FAIL, UNKNOWN, N/A) with the reason, then plain steps
for each one that did not pass. UNKNOWN means the agent could not read something (for example
no Full Disk Access on a Mac); it never means "denied".

The softphone (CTI) sites come from the server's policy cached at the last check-in; pass
--cti-origin to check others or when the seat is not enrolled.

exit codes: 0 READY, 1 AT RISK (warnings only), 2 NOT READY or UNKNOWN, 3 could not run.

examples:
  readyfloor-agent check
  readyfloor-agent check --cti-origin https://acme.my.salesforce.com --cti-origin https://app.hubspot.com
  readyfloor-agent check --json > result.json
  readyfloor-agent check --bundle seat-a-01.zip
  readyfloor-agent check --bundle edge-seat.zip --browser edge
""",
    )
    check.add_argument(
        "--cti-origin",
        action="append",
        metavar="URL",
        help="a softphone site to check, e.g. https://acme.my.salesforce.com (repeatable)",
    )
    check.add_argument(
        "--browser",
        action="append",
        choices=("chrome", "chromium", "edge"),
        help="the browser the softphone runs in (repeatable; default: the server's policy, else the "
        "Chromium-family browser installed here, Chrome first)",
    )
    check.add_argument("--json", action="store_true", help="print the result as JSON (same exit codes)")
    check.add_argument("--include-facts", action="store_true", help="with --json: add the collected facts")
    add_source(check)
    add_osquery(check)
    check.set_defaults(handler=cmd_check)

    collect = command(
        "collect",
        "Print the facts the agent reports (JSON), without judging them.",
        """\
examples:
  readyfloor-agent collect > facts.json
  readyfloor-agent collect --bundle seat-a-01.zip --validate
""",
    )
    collect.add_argument(
        "--validate", action="store_true", help="also check the facts against the report schema"
    )
    add_source(collect)
    add_osquery(collect)
    collect.set_defaults(handler=cmd_collect)

    enroll = command(
        "enroll",
        "Register this computer with the ReadyFloor server.",
        """\
Saves the node key the server returns (readable only by you) and remembers the server and
secret, so 'readyfloor-agent run' needs no further settings.

examples:
  readyfloor-agent enroll --server https://readyfloor.example.com --secret S3CRET
  readyfloor-agent enroll --server https://readyfloor.example.com --secret S3CRET --seat "Floor 2/C-07"
""",
    )
    enroll.add_argument(
        "--server", metavar="URL", help="the ReadyFloor server, e.g. https://readyfloor.example.com"
    )
    enroll.add_argument("--secret", metavar="SECRET", help="the enrol secret from the ReadyFloor admin")
    enroll.add_argument("--seat", metavar="FLOOR/LABEL", help='where this computer sits, e.g. "Floor 1/A-01"')
    enroll.add_argument("--ca-file", metavar="PEM", help="trust this CA bundle for the server's certificate")
    enroll.add_argument("--timeout", type=float, metavar="SECONDS", help="network timeout (default 10)")
    enroll.add_argument("--no-collect", action="store_true", help="enrol without reading the seat first")
    enroll.set_defaults(handler=cmd_enroll)

    run = command(
        "run",
        "Report this seat to the server until stopped (the service).",
        """\
Collects facts every interval the server asks for (with jitter), keeps every report in an
on-disk spool until the server acknowledges it, and re-enrols when the server no longer knows
the node key. While the server is unreachable it retries after every fresh collection and on
a capped backoff with full jitter (up to 5 s doubling to 5 min); it honours Retry-After, and
drains a backlog oldest-first at most 2.5 reports per interval so a floor coming back does
not stampede the server. A report the server refuses for good (a 4xx naming a field, or the
same 5xx five times) is set aside in the spool's dead/ folder with the answer, counted to the
server, and the rest flows on ('readyfloor-agent requeue-dead'). Stops cleanly on SIGTERM or
Ctrl-C; unsent reports wait in the spool for the next start.

examples:
  readyfloor-agent run
  readyfloor-agent run --server https://readyfloor.example.com -v
  readyfloor-agent run --once          collect and deliver one report, then exit
""",
    )
    run.add_argument("--server", metavar="URL", help="override the configured server")
    run.add_argument("--ca-file", metavar="PEM", help="trust this CA bundle for the server's certificate")
    run.add_argument("--timeout", type=float, metavar="SECONDS", help="network timeout (default 10)")
    run.add_argument(
        "--once", action="store_true", help="one collection and delivery; exit 1 if reports remain spooled"
    )
    add_osquery(run)
    run.set_defaults(handler=cmd_run)

    status = command(
        "status",
        "Show enrolment, spool and last contact with the server.",
        """\
examples:
  readyfloor-agent status
  readyfloor-agent status --json
""",
    )
    status.add_argument("--json", action="store_true", help="print as JSON")
    status.set_defaults(handler=cmd_status)

    requeue = command(
        "requeue-dead",
        "List or resend the reports the server refused for good (the spool's dead letters).",
        """\
A report the server answered with a 4xx naming a field, or with the same 5xx five times, is
set aside so it cannot hold back the reports behind it. Once the server (or this agent) is
fixed, put them back in the queue; the running agent sends them at its own pace.

examples:
  readyfloor-agent requeue-dead --list
  readyfloor-agent requeue-dead
""",
    )
    requeue.add_argument(
        "--list", action="store_true", help="show them with the server's answer; change nothing"
    )
    requeue.set_defaults(handler=cmd_requeue_dead)

    bundle = command(
        "bundle",
        "Capture a support bundle: everything the checks read, in one zip.",
        """\
Support can replay the bundle with 'readyfloor-agent check --bundle FILE' on any computer and
see exactly what this seat's agent saw.

examples:
  readyfloor-agent bundle
  readyfloor-agent bundle -o ~/Desktop/seat-a-01.zip
""",
    )
    bundle.add_argument(
        "-o", "--output", metavar="FILE", help="zip file to write (default: in the current folder)"
    )
    bundle.set_defaults(handler=cmd_bundle)

    sim = command(
        "simulate",
        "Drive a floor of virtual seats against a server (demo and load testing).",
        """\
Each virtual seat enrols through the real API with seat {floor, label} (labels A-01..A-08,
B-01.. with --per-row seats per row) and reports the facts of its scenario; unchanged seats
send heartbeats. Offline seats report once, dated an hour back, then fall silent.

examples:
  readyfloor-agent simulate --list-scenarios
  readyfloor-agent simulate --server http://127.0.0.1:8000 --secret S --seats 48 --once
  readyfloor-agent simulate --server http://127.0.0.1:8000 --secret S --seats 48 --floor "Floor 1" \\
      --mix healthy=60,site_blocked=10,no_headset=10,tcc_denied=10,offline=10 --interval 10 --fix-after 120
""",
    )
    sim.add_argument("--server", metavar="URL", help="the ReadyFloor server")
    sim.add_argument("--secret", metavar="SECRET", help="an enrol secret of the site")
    sim.add_argument("--seats", type=int, default=48, help="number of virtual seats (default 48)")
    sim.add_argument("--floor", default="Floor 1", help='floor name the seats belong to (default "Floor 1")')
    sim.add_argument("--per-row", type=int, default=8, help="seats per row for the labels (default 8)")
    sim.add_argument("--mix", metavar="NAME=WEIGHT,...", help="scenario weights (default: the demo mix)")
    sim.add_argument("--os-mix", metavar="OS=WEIGHT,...", help="default windows=70,macos=20,linux=10")
    sim.add_argument(
        "--interval", type=float, metavar="SECONDS", help="seconds between check-ins (default: the server's)"
    )
    stop_when = sim.add_mutually_exclusive_group()
    stop_when.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    stop_when.add_argument("--once", action="store_true", help="one check-in per seat, then stop")
    sim.add_argument(
        "--fix-after", type=float, metavar="SECONDS", help="turn failing seats healthy after this long"
    )
    sim.add_argument("--seed", type=int, default=0, help="same seed, same floor (default 0)")
    sim.add_argument(
        "--keys",
        metavar="FILE",
        help="keep the seats' node keys here, so a later run proves it is the same seats (without it, "
        "re-enrolling seats the server knows waits for an admin's approval)",
    )
    sim.add_argument(
        "--cti-origin", default="https://acme.my.salesforce.com", metavar="URL", help="the CTI site"
    )
    sim.add_argument("--concurrency", type=int, default=16, help="parallel requests at most (default 16)")
    sim.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="network timeout")
    sim.add_argument("--json", action="store_true", help="print the summary as JSON")
    sim.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    sim.add_argument("--list-scenarios", action="store_true", help="list the scenarios and exit")
    sim.set_defaults(handler=cmd_simulate)

    osq = command(
        "osquery-extension",
        "Serve the readiness tables to a running osqueryd (for Fleet/Kolide/Zentral users).",
        """\
Arguments after the command go to the extension (osquery passes --socket PATH).

examples:
  readyfloor-agent osquery-extension --socket /var/osquery/osquery.em
""",
    )
    osq.add_argument("extension_args", nargs=argparse.REMAINDER, help="passed to the extension")
    osq.set_defaults(handler=cmd_osquery_extension)
    return parser


def _configure_logging(command: str, verbosity: int) -> None:
    base = logging.INFO if command in ("run", "simulate") else logging.WARNING
    level = logging.DEBUG if verbosity >= 2 else logging.INFO if verbosity == 1 else base
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command != "osquery-extension":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "osquery-extension":
        # osqueryd starts extensions with its own flags (--socket PATH --timeout N ...); argparse
        # would split a flag from its value between its leftovers and the REMAINDER, so the
        # extension gets the words after the command as given.
        words = list(sys.argv[1:] if argv is None else argv)
        args.extension_args = words[words.index("osquery-extension") + 1 :]
    _configure_logging(args.command, args.verbose)
    try:
        return int(args.handler(args))
    except CommandError as error:
        print(f"readyfloor-agent {args.command}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: the reader left, which is not an error.
        # Point stdout at devnull so the interpreter's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")

"""A supervisor of floor A gets nothing of floor B, on every URL the project routes.

The table below names every route with how to reach floor B through it and what a supervisor of
floor A must get: a 403 or 404 ("refused"), a 200 that holds nothing of floor B ("filtered"), a
redirect to a page whose own rule applies ("redirected": followed, it ends in a 200 without floor
B, or a 403/404), or nothing to scope at all ("public": login, health, the agent API, static
assets). The first test
walks Django's resolver, so a URL added without a line here fails the suite until someone decides
its scope rule.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import plotly
import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from server.acknowledgements.acknowledging import acknowledge
from server.acknowledgements.models import Acknowledgement
from server.alerts.models import AlertRule, Channel, Delivery, Digest
from server.compliance import policy_versions
from server.compliance.models import CheckTransition, Policy
from server.fleet.models import Device, Floor, Seat, Site
from server.shifts.models import Shift

pytestmark = pytest.mark.django_db

# What would give floor B away: its name, its seat, its workstation, its failing reason, its shift.
B_MARKERS = ("Mezzanine", "MZ-07", "paris-mz07", "PARIS-ONLY", "Paris early")


@dataclass
class World:
    floor_b: Floor
    site_b: Site
    seat_b: Seat
    shift_b: Any
    policy_b: Policy
    ack_b: Acknowledgement
    rule_b: AlertRule
    delivery_b: Delivery


# A refused URL, or (URL, JSON body) for an API action that takes one.
Ask = str | tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Rule:
    kind: Literal["scoped", "public", "admin"]
    why: str
    # URLs that reach floor B and must be refused (403/404, nothing of B in the body).
    refused: Callable[[World], list[Ask]] = lambda world: []
    # URLs that answer 200 with the supervisor's own part and must hold nothing of floor B.
    filtered: Callable[[World], list[str]] = lambda world: []
    # URLs that send the supervisor to another page (their own home); followed to the end.
    redirected: Callable[[World], list[str]] = lambda world: []
    # Routes that only exist in some runs (e.g. bench-only endpoints).
    optional: bool = False
    # How the refused URLs are asked: an action (recheck) is a POST; an API change a PATCH.
    method: Literal["get", "post", "patch"] = "get"
    # What a page's POST carries: a valid form, so an IT admin's answer proves the URL reaches B.
    data: Callable[[World], dict[str, Any]] = lambda world: {}
    # What an IT admin gets from the same URLs (a page's action redirects: 303; an API's create
    # 201), and whether that answer names floor B (a preview or a diff holds counts, no names).
    admin_status: int = 200
    admin_sees_b: bool = True


ADMIN = Rule("admin", "the admin is the IT admins' alone: anyone else is sent to its login page")
ROUTES: dict[str, Rule] = {
    # Public: nothing in them belongs to a floor.
    "login": Rule("public", "the sign-in form"),
    "logout": Rule("public", "signing out (POST)"),
    "admin:login": Rule("public", "the admin's sign-in form; says a supervisor may not go further"),
    "admin:logout": Rule("public", "signing out of the admin (POST)"),
    "healthz": Rule("public", "says whether PostgreSQL and Redis answer"),
    "healthz-live": Rule("public", "liveness: the process answers"),
    "healthz-ready": Rule("public", "readiness: PostgreSQL answers (Redis reported)"),
    "dashboards:fix": Rule(
        "public",
        "a fix link: the signed, expiring token is the credential for one seat (like a node key); "
        "pages hand links out only for seats the viewer may act on (tests/dashboards/test_seat_help.py)",
    ),
    "dashboards:fix_recheck": Rule("public", "Check again on a fix link: the same signed token (POST)"),
    "agent_api:enroll": Rule("public", "agent API: authenticated by enroll secret, not by a person"),
    "agent_api:checkin": Rule("public", "agent API: authenticated by node key"),
    "agent_api:config": Rule("public", "agent API: authenticated by node key"),
    "api:openapi": Rule("public", "the API's description, no data"),
    "api:api-root": Rule("public", "ninja's root: always 404 (no docs page)"),
    "dashboards:plotly_js": Rule("public", "static asset: plotly.js from the installed package"),
    "bench/hello": Rule("public", "benchmark-only, when READYFLOOR_BENCH_HELLO=1", optional=True),
    "bench/hello-db": Rule("public", "benchmark-only, when READYFLOOR_BENCH_HELLO=1", optional=True),
    # Scoped: pages, the operator API, its CSV export.
    "dashboards:home": Rule(
        "scoped",
        "each role's home: a supervisor is sent to their board; an old floor link to the floor page",
        redirected=lambda w: ["/", f"/?floor={w.floor_b.pk}", "/?floor=Mezzanine", "/?status=all"],
    ),
    "dashboards:floor": Rule(
        "scoped",
        "the floor page: floors outside the scope are not found; the picker lists only the scope",
        refused=lambda w: [
            f"/floor/?floor={w.floor_b.pk}",
            "/floor/?floor=Mezzanine",
            f"/floor/?floor={w.floor_b.pk}&status=all",
        ],
        filtered=lambda w: ["/floor/", "/floor/?status=all"],
    ),
    "dashboards:fleet": Rule(
        "scoped",
        "the fleet overview is for roles that see every floor: its floor-level rollups count every team,"
        " so a supervisor's page is their board and its CSVs and figure JSON are forbidden"
        " (every table and figure: tests/dashboards/test_fleet.py)",
        refused=lambda w: ["/fleet/?format=csv&table=floors", "/fleet/?format=csv&table=failing_longest"],
        redirected=lambda w: ["/fleet/", "/fleet/?days=90"],
    ),
    "dashboards:board": Rule(
        "scoped",
        "the shift board: floors outside the scope are not found; the picker lists only the scope",
        refused=lambda w: [
            f"/board/?floor={w.floor_b.pk}",
            "/board/?floor=Mezzanine",
            f"/board/?floor={w.floor_b.pk}&kiosk=1",
        ],
        # Floor B's shift asked for on the supervisor's own board shows nothing of it.
        filtered=lambda w: ["/board/", "/board/?kiosk=1", f"/board/?shift={w.shift_b.pk}"],
    ),
    "dashboards:board_acknowledge": Rule(
        "scoped",
        "acknowledging a failing check from a shift board's row (POST): not found outside the scope",
        refused=lambda w: [f"/board/seats/{w.seat_b.pk}/acknowledge"],
        method="post",
        admin_status=303,
        data=lambda w: {"check_id": "chrome.mic.site", "reason": "scope test", "until": "1d"},
    ),
    "dashboards:seat_recheck": Rule(
        "scoped",
        "recheck now (POST): not found outside the scope",
        refused=lambda w: [f"/seats/{w.seat_b.pk}/recheck"],
        method="post",
        admin_status=303,
    ),
    "dashboards:seat_acknowledge": Rule(
        "scoped",
        "acknowledging a failing check from the seat page (POST): not found outside the scope",
        refused=lambda w: [f"/seats/{w.seat_b.pk}/acknowledge"],
        method="post",
        admin_status=303,
        data=lambda w: {
            "check_id": "chrome.mic.site",
            "reason": "scope test",
            "expires_at": (timezone.now() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        },
    ),
    "dashboards:seat_revoke_acknowledgement": Rule(
        "scoped",
        "revoking a seat's acknowledgement (POST): not found outside the scope",
        refused=lambda w: [f"/seats/{w.seat_b.pk}/acknowledgements/{w.ack_b.pk}/revoke"],
        method="post",
        admin_status=303,
    ),
    "dashboards:seat": Rule(
        "scoped", "a seat page: not found outside the scope", refused=lambda w: [f"/seats/{w.seat_b.pk}/"]
    ),
    "api:seats": Rule(
        "scoped",
        "operator API list and CSV export: starts from the scope; naming floor B or its site is forbidden",
        refused=lambda w: [
            f"/api/v1/seats?floor={w.floor_b.pk}",
            f"/api/v1/seats?floor={w.floor_b.pk}&format=csv",
            f"/api/v1/seats?site={w.site_b.pk}",
            f"/api/v1/seats?site={w.site_b.pk}&format=csv",
        ],
        filtered=lambda w: [
            "/api/v1/seats",
            "/api/v1/seats?format=csv",
            "/api/v1/seats?team=Paris+support",
            "/api/v1/seats?team=Paris+support&format=csv",
            "/api/v1/seats?status=not_ready&format=csv",
        ],
    ),
    "api:seat": Rule(
        "scoped",
        "operator API detail: not found outside the scope",
        refused=lambda w: [f"/api/v1/seats/{w.seat_b.pk}"],
    ),
    # Reports: the archive, a run, its files, schedules and subscriptions (server/reports/scoping.py:
    # a report is visible to whoever sees every seat it covers).
    "dashboards:reports": Rule(
        "scoped",
        "the reports archive: lists the runs and schedules of the scope only; offers only its floors",
        filtered=lambda w: ["/reports/"],
    ),
    "dashboards:report_now": Rule(
        "scoped",
        "make a report now (POST): a scope outside the viewer's is not found",
        refused=lambda w: ["/reports/now"],
        method="post",
        admin_status=303,
        data=lambda w: {"scope": f"floor:{w.floor_b.pk}", "formats": ["csv"]},
    ),
    "dashboards:report_run": Rule(
        "scoped",
        "a report run: not found outside the scope",
        refused=lambda w: [f"/reports/runs/{run_of_b(w)}/"],
    ),
    "dashboards:report_download": Rule(
        "scoped",
        "a report's file: not found outside the scope",
        refused=lambda w: [f"/reports/runs/{run_of_b(w)}/csv"],
    ),
    "dashboards:report_schedule_new": Rule(
        "scoped",
        "a new schedule: IT admins only (its form lists every floor)",
        refused=lambda w: ["/reports/schedules/new"],
    ),
    "dashboards:report_schedule": Rule(
        "scoped",
        "editing a schedule: IT admins only",
        refused=lambda w: [f"/reports/schedules/{schedule_of_b(w)}/"],
    ),
    "dashboards:report_subscription": Rule(
        "scoped",
        "subscribing (POST): a schedule outside the scope is not found",
        refused=lambda w: [f"/reports/schedules/{schedule_of_b(w)}/subscription"],
        method="post",
        admin_status=303,
    ),
    "api:reportRuns": Rule(
        "scoped",
        "operator API, report runs: the list starts from the scope; naming floor B is forbidden "
        "(POST with floor B's scope: tests/reports/test_access.py)",
        refused=lambda w: [f"/api/v1/reports/runs?floor={floor_b_with_a_report(w)}"],
        filtered=lambda w: ["/api/v1/reports/runs"],
    ),
    "api:reportRun": Rule(
        "scoped",
        "operator API, one run: not found outside the scope",
        refused=lambda w: [f"/api/v1/reports/runs/{run_of_b(w)}"],
    ),
    "api:reportFile": Rule(
        "scoped",
        "operator API, a run's file: not found outside the scope",
        refused=lambda w: [f"/api/v1/reports/runs/{run_of_b(w)}/files/csv"],
    ),
    "api:reportSchedules": Rule(
        "scoped",
        "operator API, schedules: those of the scope only",
        filtered=lambda w: ["/api/v1/reports/schedules"],
    ),
    "api:reportSubscription": Rule(
        "scoped",
        "operator API, subscribing (POST): a schedule outside the scope is not found",
        refused=lambda w: [f"/api/v1/reports/schedules/{schedule_of_b(w)}/subscription"],
        method="post",
        admin_status=201,
    ),
    "api:policies": Rule(
        "scoped",
        "policies: a supervisor lists the default policy and their own sites' and floors'",
        filtered=lambda w: ["/api/v1/policies", "/api/v1/policies?page_size=1"],
    ),
    "api:policy": Rule(
        "scoped",
        "one policy: not found outside the scope",
        refused=lambda w: [f"/api/v1/policies/{w.policy_b.pk}"],
    ),
    "api:policy_update": Rule(
        "scoped",
        "changing a policy (PATCH): not found outside the scope, forbidden to all but IT admins",
        refused=lambda w: [(f"/api/v1/policies/{w.policy_b.pk}", {"comment": "from floor A"})],
        method="patch",
    ),
    "api:policy_versions": Rule(
        "scoped",
        "a policy's versions: not found outside the scope",
        refused=lambda w: [f"/api/v1/policies/{w.policy_b.pk}/versions"],
    ),
    "api:policy_version": Rule(
        "scoped",
        "one version of a policy: not found outside the scope",
        refused=lambda w: [f"/api/v1/policies/{w.policy_b.pk}/versions/1"],
    ),
    "api:policy_diff": Rule(
        "scoped",
        "the diff of two versions: not found outside the scope",
        refused=lambda w: [f"/api/v1/policies/{w.policy_b.pk}/diff?from_version=1&to_version=2"],
        admin_sees_b=False,
    ),
    "api:policy_preview": Rule(
        "scoped",
        "a change's preview (POST): not found outside the scope, counts for those who see every floor",
        refused=lambda w: [(f"/api/v1/policies/{w.policy_b.pk}/preview", {"min_chrome_major": 200})],
        method="post",
        admin_sees_b=False,
    ),
    "api:acknowledgements": Rule(
        "scoped",
        "acknowledgements: start from the scope; naming floor B's seat or floor is not found",
        refused=lambda w: [
            f"/api/v1/acknowledgements?seat={w.seat_b.pk}",
            f"/api/v1/acknowledgements?floor={w.floor_b.pk}",
        ],
        filtered=lambda w: [
            "/api/v1/acknowledgements",
            "/api/v1/acknowledgements?status=active",
            "/api/v1/acknowledgements?check=chrome.mic.site",
        ],
    ),
    "api:acknowledge": Rule(
        "scoped",
        "acknowledging (POST) on floor B's seat or across floor B: not found",
        refused=lambda w: [
            ("/api/v1/acknowledgements", {**ack_body(), "seat": w.seat_b.pk}),
            ("/api/v1/acknowledgements", {**ack_body(), "floor": w.floor_b.pk}),
        ],
        method="post",
        admin_status=201,
    ),
    "api:acknowledgement": Rule(
        "scoped",
        "one acknowledgement: not found outside the scope",
        refused=lambda w: [f"/api/v1/acknowledgements/{w.ack_b.pk}"],
    ),
    "api:acknowledgement_history": Rule(
        "scoped",
        "an acknowledgement's audit trail: not found outside the scope",
        refused=lambda w: [f"/api/v1/acknowledgements/{w.ack_b.pk}/history"],
    ),
    "api:acknowledgement_revoke": Rule(
        "scoped",
        "revoking (POST): not found outside the scope",
        refused=lambda w: [(f"/api/v1/acknowledgements/{w.ack_b.pk}/revoke", {"reason": "from floor A"})],
        method="post",
    ),
    "api:seat_transitions": Rule(
        "scoped",
        "a seat's per-check transitions: not found outside the scope",
        refused=lambda w: [
            f"/api/v1/history/seats/{w.seat_b.pk}/transitions",
            f"/api/v1/history/seats/{w.seat_b.pk}/transitions?check=chrome.mic.site",
        ],
    ),
    "api:seat_failing_since": Rule(
        "scoped",
        "since when a seat's checks fail: not found outside the scope",
        refused=lambda w: [f"/api/v1/history/seats/{w.seat_b.pk}/failing-since"],
        admin_sees_b=False,
    ),
    "api:time_to_fix": Rule(
        "scoped",
        "time-to-fix: floor B is not found; the whole fleet's figures are refused to a supervisor",
        refused=lambda w: [f"/api/v1/history/time-to-fix?floor={w.floor_b.pk}"],
        admin_sees_b=False,
    ),
    "api:floor_readiness_by_hour": Rule(
        "scoped",
        "a floor's readiness hour by hour: not found outside the scope",
        refused=lambda w: [f"/api/v1/history/floors/{w.floor_b.pk}/readiness"],
        admin_sees_b=False,
    ),
    "api:floor_failing_by_hour": Rule(
        "scoped",
        "a floor's failing checks hour by hour: not found outside the scope",
        refused=lambda w: [f"/api/v1/history/floors/{w.floor_b.pk}/failing"],
        admin_sees_b=False,
    ),
    "api:alert_rules": Rule(
        "scoped",
        "alert rules: those watching every floor and the supervisor's own sites' and floors'",
        filtered=lambda w: ["/api/v1/alerts/rules"],
    ),
    "api:alert_rule_create": Rule(
        "scoped",
        "creating a rule (POST): IT admins only, so floor B cannot be watched from floor A",
        refused=lambda w: [("/api/v1/alerts/rules", {"name": "Mezzanine too", "floor": w.floor_b.pk})],
        method="post",
        admin_status=201,
        admin_sees_b=False,
    ),
    "api:alert_rule": Rule(
        "scoped",
        "one alert rule: not found outside the scope",
        refused=lambda w: [f"/api/v1/alerts/rules/{w.rule_b.pk}"],
    ),
    "api:alert_rule_update": Rule(
        "scoped",
        "changing a rule (PATCH): not found outside the scope, forbidden to all but IT admins",
        refused=lambda w: [(f"/api/v1/alerts/rules/{w.rule_b.pk}", {"enabled": True})],
        method="patch",
    ),
    "api:alert_channels": Rule(
        "scoped",
        "channels: a supervisor sees those of the rules they see, never a secret",
        filtered=lambda w: ["/api/v1/alerts/channels"],
    ),
    "api:alert_deliveries": Rule(
        "scoped",
        "the delivery log: starts from the scope; naming floor B is not found",
        refused=lambda w: [f"/api/v1/alerts/deliveries?floor={w.floor_b.pk}"],
        filtered=lambda w: ["/api/v1/alerts/deliveries", "/api/v1/alerts/deliveries?status=failed"],
    ),
    "api:alert_delivery_replay": Rule(
        "scoped",
        "replaying (POST): not found outside the scope, forbidden to all but IT admins",
        refused=lambda w: [f"/api/v1/alerts/deliveries/{w.delivery_b.pk}/replay"],
        method="post",
    ),
}


def run_of_b(world: World) -> int:
    """A report of floor B, made through the real code path (its CSV names B's seat)."""
    from server.reports import running
    from server.reports.models import ReportRun
    from server.reports.scoping import Scope

    run = ReportRun.objects.filter(floor=world.floor_b).first()
    if run is None:
        run = running.run_now(
            Scope(kind="floor", site=world.site_b, floor=world.floor_b), formats=["csv"], trigger="command"
        )
    return run.pk


def floor_b_with_a_report(world: World) -> int:
    run_of_b(world)
    return world.floor_b.pk


def schedule_of_b(world: World) -> int:
    from server.reports import scheduling
    from server.reports.models import ReportSchedule

    schedule, created = ReportSchedule.objects.get_or_create(
        name="Mezzanine mornings",
        defaults={
            "scope_kind": "floor",
            "site": world.site_b,
            "floor": world.floor_b,
            "at_time": dt.time(7, 30),
        },
    )
    if created:
        scheduling.sync_periodic_task(schedule)
    return schedule.pk


def ack_body() -> dict[str, Any]:
    return {
        "check_id": "chrome.mic.site",
        "reason": "PARIS-ONLY vendor ticket",
        "expires_at": (timezone.now() + dt.timedelta(days=7)).isoformat(),
    }


def walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    """(key, route) for every URL pattern: the key is the namespaced name, or the route if unnamed."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            yield (namespace + pattern.name if pattern.name else route), route


def rule_for(key: str, route: str) -> Rule | None:
    if key in ROUTES:
        return ROUTES[key]
    if route.startswith("admin/"):
        return ADMIN
    return None


ROUTED = sorted(set(walk(get_resolver().url_patterns)))


def test_every_routed_url_has_a_scope_rule():
    missing = [f"{key} ({route})" for key, route in ROUTED if rule_for(key, route) is None]
    stale = [key for key, rule in ROUTES.items() if not rule.optional and key not in {k for k, _ in ROUTED}]

    assert not missing, f"routes without a scope rule in {__name__}.ROUTES: {missing}"
    assert not stale, f"rules for routes that no longer exist: {stale}"


def fill(route: str, world: World) -> str:
    """A concrete URL for an admin route, aimed at floor B's seat where it takes an object."""
    values = {
        "object_id": str(world.seat_b.pk),
        "id": str(world.seat_b.pk),
        "content_type_id": str(ContentType.objects.get_for_model(Seat).pk),
        "app_label": "fleet",
        "url": "fleet/seat/",
    }
    route = route.replace("^", "").replace("$", "")
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)
    return "/" + route


@pytest.fixture
def world(floor, seats, admin_user) -> World:
    """Floor A (the `floor` fixture, with its four seats) and floor B on another site, with a
    seat that cannot take calls and a workstation whose name would give it away."""
    site_b = Site.objects.create(name="Paris office", timezone="Europe/Paris")
    floor_b = Floor.objects.create(site=site_b, name="Mezzanine")
    seat_b = Seat.objects.create(
        floor=floor_b,
        label="MZ-07",
        row=0,
        column=6,
        team="Paris support",
        readiness="not_ready",
        readiness_since=timezone.now() - dt.timedelta(minutes=5),
        evaluated_at=timezone.now(),
        failing=[
            {"check_id": "chrome.mic.site", "state": "fail", "severity": "critical", "reason": "PARIS-ONLY"}
        ],
    )
    device_b = Device.objects.create(
        site=site_b, host_identifier="uuid-mz07", hostname="paris-mz07", os="windows", seat=seat_b
    )
    # A shift on floor B starting in five minutes: inside its lead time, so its board lists seats.
    start = (timezone.now() + dt.timedelta(minutes=5)).astimezone(zoneinfo.ZoneInfo("Europe/Paris"))
    shift_b = Shift.objects.create(
        floor=floor_b,
        name="Paris early",
        starts_at=start.time().replace(second=0, microsecond=0),
        ends_at=(start + dt.timedelta(hours=8)).time().replace(second=0, microsecond=0),
        weekdays=[start.weekday()],
    )
    CheckTransition.objects.create(
        device=device_b,
        seat=seat_b,
        floor=floor_b,
        check_id="chrome.mic.site",
        from_state="pass",
        to_state="fail",
        severity="critical",
        reason="PARIS-ONLY",
        at=timezone.now() - dt.timedelta(minutes=5),
    )
    policy_b = Policy(name="Mezzanine policy", floor=floor_b, cti_origins=["https://acme.my.salesforce.com"])
    policy_versions.save(policy_b)
    policy_b.min_chrome_major = 120
    policy_versions.save(policy_b)
    ack_b = acknowledge(
        actor=admin_user,
        check_id="chrome.mic.site",
        reason="PARIS-ONLY vendor ticket",
        expires_at=timezone.now() + dt.timedelta(days=7),
        seat=seat_b,
    )
    # Port 9 (discard) refuses at once: an IT admin's replay is logged as a failed try.
    channel_b = Channel.objects.create(name="Mezzanine on-call", url="http://127.0.0.1:9/hook")
    rule_b = AlertRule.objects.create(name="Mezzanine seats", floor=floor_b)
    rule_b.channels.add(channel_b)
    now = timezone.now()
    digest_b = Digest.objects.create(rule=rule_b, floor=floor_b, opened_at=now, closes_at=now, closed_at=now)
    delivery_b = Delivery.objects.create(
        digest=digest_b, channel=channel_b, subject="Mezzanine: MZ-07 NOT READY", body='{"seat": "MZ-07"}'
    )
    return World(
        floor_b=floor_b,
        site_b=site_b,
        seat_b=seat_b,
        shift_b=shift_b,
        policy_b=policy_b,
        ack_b=ack_b,
        rule_b=rule_b,
        delivery_b=delivery_b,
    )


def body_of(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def ask(client: Any, rule: Rule, asked: Ask, world: World) -> tuple[str, Any]:
    """(the URL, the answer) for a refused entry: a page's POST with its form, an API's with its
    JSON body."""
    if isinstance(asked, str):
        if rule.method == "get":
            return asked, client.get(asked)
        return asked, getattr(client, rule.method)(asked, rule.data(world))
    url, body = asked
    return url, getattr(client, rule.method)(url, json.dumps(body), content_type="application/json")


def leaks(response: Any, url: str) -> list[str]:
    body = body_of(response)
    return [marker for marker in B_MARKERS if marker in body and marker not in url]


@pytest.mark.parametrize(("key", "route"), ROUTED, ids=[key for key, _ in ROUTED])
def test_a_supervisor_of_floor_a_gets_nothing_of_floor_b(client, supervisor, world, key, route):
    rule = rule_for(key, route)
    assert rule is not None, f"{key} has no scope rule"
    client.force_login(supervisor)

    if rule.kind == "admin":
        response = client.get(fill(route, world))
        assert response.status_code == 302, (route, response.status_code)
        assert response["Location"].startswith("/admin/login/")
        return
    if rule.kind == "public":
        if key == "dashboards:plotly_js":
            response = client.get(f"/assets/plotly-{plotly.__version__}.min.js")
            assert response.status_code == 200
        return  # public routes hold nothing of any floor; the login and agent tests cover them

    assert rule.refused(world) or rule.filtered(world) or rule.redirected(world), (
        f"{key}: a scoped rule must try floor B"
    )
    for asked in rule.refused(world):
        url, response = ask(client, rule, asked, world)
        assert response.status_code in (403, 404), (url, response.status_code)
        assert not leaks(response, url), (url, leaks(response, url))
    for url in rule.filtered(world):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, body_of(response)[:300])
        assert not leaks(response, url), (url, leaks(response, url))
    for url in rule.redirected(world):
        response = client.get(url, follow=True)
        assert response.redirect_chain, (url, response.status_code)
        assert response.status_code in (200, 403, 404), (url, response.redirect_chain, response.status_code)
        assert not leaks(response, url), (url, leaks(response, url))


@pytest.mark.parametrize("key", [key for key, rule in ROUTES.items() if rule.kind == "scoped"])
def test_the_same_urls_do_reach_floor_b_for_an_it_admin(client, admin_user, world, key):
    """Proof that the table aims at floor B: what the supervisor is refused, an IT admin gets."""
    rule = ROUTES[key]
    client.force_login(admin_user)
    for asked in rule.refused(world):
        url, response = ask(client, rule, asked, world)
        # A page's action answers with a redirect back to the page it was asked from.
        assert response.status_code == rule.admin_status, (url, response.status_code, body_of(response)[:300])
        if rule.admin_sees_b and rule.admin_status not in (201, 303):
            assert any(marker in body_of(response) for marker in B_MARKERS), url


def test_an_auditor_reads_floor_b_but_may_not_open_the_admin(client, auditor, world):
    client.force_login(auditor)

    assert "MZ-07" in client.get(f"/seats/{world.seat_b.pk}/").content.decode()
    assert client.get(f"/api/v1/seats/{world.seat_b.pk}").json()["label"] == "MZ-07"
    assert client.get("/admin/").status_code == 302

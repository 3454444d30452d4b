"""Dashboard pages for IT admins and floor supervisors.

Pages read what the evaluation job precomputed (Seat.readiness, Seat.failing); nothing here
judges a seat, so a page costs a handful of queries however many checks there are.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import plotly
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET
from readyfloor_agent.checks import CATALOG, Check, Fix, State, fix_for, get_check, title_for
from readyfloor_agent.checks.catalog import reason_now
from readyfloor_agent.checks.model import OS_LABELS

from dashboards import figures, seat_history
from server.acknowledgements.acknowledging import AcknowledgedFailures, annotate_acknowledgements
from server.compliance import history
from server.compliance.models import CheckResult, CheckState, SeatEvent
from server.fleet import fixlinks
from server.fleet.models import Device, Floor, Readiness, Seat
from server.roles import scope

REFRESH_SECONDS = 30
RECENT_EVENTS = 20
# Worst first (the catalog's order): the order results are listed in on a seat's page.
STATE_ORDER = {state.value: index for index, state in enumerate(State.worst_first())}
# Within a state, the catalog's order: OS before Chrome before the headset, as a fix proceeds.
CATALOG_ORDER = {check.id: rank for rank, check in enumerate(CATALOG)}
NEEDS_FIX = {CheckState.FAIL, CheckState.WARN, CheckState.UNKNOWN}
STATUS_ORDER = {readiness.value: readiness.verdict.attention for readiness in Readiness}
NOT_READY_FILTER = ""  # the table's default: every seat that is not READY


def role_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Seats and hostnames are for IT admins, supervisors and auditors: anonymous visitors go to
    the login page, signed-in accounts without a role get a page that says whom to ask. What each
    role sees is decided by server.roles.scope inside the view."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not scope.can_read_fleet(request.user):
            return render(request, "dashboards/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


@require_GET
@role_required
def floor_overview(request: HttpRequest) -> HttpResponse:
    floors = list(scope.floors_visible_to(request.user).select_related("site").order_by("site__name", "name"))
    if not floors:
        return render(request, "dashboards/floor.html", {"floors": [], "floor": None})
    floor = _chosen_floor(request, floors)
    now = timezone.now()
    on_floor = scope.seats_visible_to(request.user).filter(floor=floor).select_related("device")
    on_floor_list = list(annotate_acknowledgements(on_floor, now).order_by("row", "column", "label"))
    # Teams from the same rows, so the team picker costs no query of its own.
    teams = sorted({seat.team for seat in on_floor_list if seat.team})
    team = request.GET.get("team", "")
    if team and team not in teams:
        raise Http404(f"No team {team!r} on this floor")
    seats = [seat for seat in on_floor_list if not team or seat.team == team]
    zone = _zone(floor.site.timezone)

    counts = figures.count_by_status(seat.readiness for seat in seats)
    status = request.GET.get("status", NOT_READY_FILTER)
    if status not in Readiness.values and status != "all":
        status = NOT_READY_FILTER
    listed = [seat for seat in seats if _listed(seat.readiness, status)]
    listed.sort(key=lambda seat: (STATUS_ORDER.get(seat.readiness, 99), seat.readiness_since, seat.label))
    acknowledged = AcknowledgedFailures.from_seats(seats)
    rows = [_table_row(seat, acknowledged) for seat in listed]

    map_rows = [_map_row(seat, zone) for seat in seats]
    context = {
        "nav": "floor",
        "floors": floors,
        "floor": floor,
        "seats_total": len(seats),
        "tiles": figures.tiles(counts, lambda status: floor_url(floor, team, status)),
        "not_ready_total": len(seats) - counts["ready"],
        "status": status,
        "status_label": figures.status_style(status).label if status in Readiness.values else "",
        "filters": _filters(floor, team, counts, len(seats)),
        "teams": [
            {"name": name, "current": name == team, "url": floor_url(floor, name, status)}
            for name in ["", *teams]
        ]
        if len(teams) > 1 or team
        else [],
        "team": team,
        "rows": rows,
        # Seats down only for acknowledged failures: still listed, counted apart.
        "acknowledged_total": sum(1 for row in rows if row["acknowledged"]),
        "floor_map_json": figures.floor_map(map_rows, now=timezone.localtime(now, zone)).to_json(),
        "summary_json": figures.readiness_summary(counts).to_json(),
        "map_label": _map_label(counts),
        "csv_url": reverse("api:seats") + "?" + urlencode(_csv_query(floor, team, status)),
        "refresh_seconds": REFRESH_SECONDS,
        "generated_at": now,
        "timezone_name": str(zone),
    }
    with timezone.override(zone):
        return render(request, "dashboards/floor.html", context)


@require_GET
@role_required
def seat_detail(request: HttpRequest, seat_id: int) -> HttpResponse:
    return render_seat_page(request, seat_in_scope(request, seat_id))


def seat_in_scope(request: HttpRequest, seat_id: int) -> Seat:
    visible = scope.seats_visible_to(request.user).select_related("floor__site", "device")
    seat = annotate_acknowledgements(visible).filter(pk=seat_id).first()
    if seat is None:
        # The same answer whether the seat does not exist or is outside the user's floors.
        raise Http404(f"No seat {seat_id}")
    return seat


def render_seat_page(
    request: HttpRequest,
    seat: Seat,
    *,
    acknowledge_errors: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The seat page; after a refused acknowledgement, with the form's errors by field."""
    device = getattr(seat, "device", None)
    # Since when each check is in its state comes from the seat's history (it follows the
    # seat across floors and workstations), read in the same query as the results.
    results = (
        list(history.with_state_since(CheckResult.objects.filter(device=device), seat.pk)) if device else []
    )
    results.sort(
        key=lambda r: (
            STATE_ORDER.get(r.state, 9),
            r.severity != "critical",
            CATALOG_ORDER.get(r.check_id, 99),
        )
    )
    events = list(SeatEvent.objects.filter(seat=seat).order_by("-at")[:RECENT_EVENTS])
    zone = _zone(seat.floor.site.timezone)
    acknowledged = AcknowledgedFailures.from_seats([seat])
    checks = [_check_row(result, device.os if device else "", seat, acknowledged) for result in results]
    context = {
        "seat": seat,
        "style": figures.status_style(seat.readiness),
        "device": device,
        "os_label": OS_LABELS.get(device.os, device.os) if device else "",
        "os_text": _os_text(device) if device else "",
        "checks": checks,
        "problems": [row for row in checks if row["needs_fix"]],
        "fine": [row for row in checks if not row["needs_fix"]],
        "events": [
            {
                "event": event,
                "from_style": figures.status_style(event.from_readiness),
                "to_style": figures.status_style(event.to_readiness),
            }
            for event in events
        ],
        "floor_url": reverse("dashboards:floor") + f"?floor={seat.floor_id}",
        "api_url": reverse("api:seat", args=[seat.pk]),
        "timezone_name": str(zone),
        **seat_help_context(request, seat),
        **seat_history.timeline_context(request, seat),
        **seat_history.acknowledgements_context(request, seat, zone, checks, acknowledge_errors),
        **seat_history.moves_context(request, seat),
        **seat_history.verdict_context(request, seat),
    }
    with timezone.override(zone):
        return render(request, "dashboards/seat.html", context, status=status)


def fix_link_url(request: HttpRequest, seat: Seat) -> str:
    return request.build_absolute_uri(reverse("dashboards:fix", args=[fixlinks.token_for(seat)]))


def seat_help_context(request: HttpRequest, seat: Seat) -> dict[str, Any]:
    """What the seat page shows of rechecks and fix links, by what the viewer may do."""
    device = getattr(seat, "device", None)
    may_send = scope.can_act_on(request.user, seat, scope.Action.SEND_FIX_LINK)
    return {
        "can_recheck": device is not None and scope.can_act_on(request.user, seat, scope.Action.RECHECK),
        "recheck": device.recheck_progress() if device else "",
        "fix_link": fix_link_url(request, seat) if may_send else "",
        "fix_link_hours": fixlinks.max_age().total_seconds() // 3600,
    }


@require_GET
def plotly_js(request: HttpRequest, version: str) -> HttpResponse:
    """plotly.min.js from the installed plotly package, so no page depends on a CDN.

    The version is in the URL, so browsers may keep it for a year; an upgrade changes the URL.
    """
    if version != plotly.__version__:
        raise Http404("Unknown plotly version")
    body, compressed, etag = _plotly_bundle()
    if request.headers.get("If-None-Match") == etag:
        return HttpResponseNotModified()
    use_gzip = "gzip" in request.headers.get("Accept-Encoding", "")
    response = HttpResponse(compressed if use_gzip else body, content_type="text/javascript; charset=utf-8")
    if use_gzip:
        response["Content-Encoding"] = "gzip"
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["ETag"] = etag
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


def plotly_js_url() -> str:
    return reverse("dashboards:plotly_js", args=[plotly.__version__])


@functools.cache
def _plotly_bundle() -> tuple[bytes, bytes, str]:
    # 4.6 MB read and compressed once per process, not per request.
    body = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return body, gzip.compress(body, compresslevel=6, mtime=0), etag


def _os_text(device: Device) -> str:
    label = OS_LABELS.get(device.os, device.os)
    version = device.os_version.strip()
    # Agents report "Windows 11 23H2" on some systems and "23H2" on others.
    return version if version.lower().startswith(label.lower()) else f"{label} {version}".strip()


def _chosen_floor(request: HttpRequest, floors: list[Floor]) -> Floor:
    """The floor asked for by id or by name, among those the user may see; else a 404."""
    wanted = request.GET.get("floor", "")
    if not wanted:
        return floors[0]
    for floor in floors:
        if str(floor.pk) == wanted:
            return floor
    named = [floor for floor in floors if floor.name == wanted]
    if len(named) == 1:
        return named[0]
    raise Http404("No such floor")


def floor_url(floor: Floor, team: str, status: str) -> str:
    query = {"floor": floor.pk, **({"team": team} if team else {}), **({"status": status} if status else {})}
    return reverse("dashboards:floor") + "?" + urlencode(query)


def _zone(name: str) -> zoneinfo.ZoneInfo | dt.timezone:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        # A mistyped site time zone must not take the floor page down; UTC is still true.
        return dt.timezone.utc


def _listed(readiness: str, status: str) -> bool:
    if status == "all":
        return True
    if status == NOT_READY_FILTER:
        return readiness != Readiness.READY
    return readiness == status


def _filters(floor: Floor, team: str, counts: dict[str, int], total: int) -> list[dict[str, Any]]:
    options = [("", "Needs attention", total - counts["ready"])]
    options += [(style.value, style.label, counts[style.value]) for style in figures.STATUSES]
    options.append(("all", "All seats", total))
    return [
        {
            "value": value,
            "label": label,
            "count": count,
            "url": floor_url(floor, team, value),
        }
        for value, label, count in options
    ]


def _csv_query(floor: Floor, team: str, status: str) -> dict[str, str]:
    query = {"format": "csv", "floor": str(floor.pk), **({"team": team} if team else {})}
    if status == NOT_READY_FILTER:
        query["status"] = ",".join(value for value in Readiness.values if value != Readiness.READY)
    elif status in Readiness.values:
        query["status"] = status
    return query


def _map_label(counts: dict[str, int]) -> str:
    parts = [
        f"{counts[style.value]} {style.label.lower()}" for style in figures.STATUSES if counts[style.value]
    ]
    return "Floor map of seats by readiness: " + (", ".join(parts) if parts else "no seats")


def _catalog_check(check_id: str) -> Check | None:
    try:
        return get_check(check_id)
    except KeyError:
        # A result from a check that this catalog no longer (or not yet) has: show its id.
        return None


def _check_title(check_id: str, browser: str = "chrome") -> str:
    try:
        return title_for(check_id, browser)
    except KeyError:
        return check_id


def _fix(check_id: str, os_name: str, browser: str = "chrome") -> Fix | None:
    """The steps in the words of the browser judged (a result's evidence names it; Chrome else)."""
    try:
        return fix_for(check_id, os_name, browser=browser)
    except (KeyError, ValueError):
        # Unknown check or an OS the catalog has no steps for: the page says so instead.
        return None


def _failing_with_titles(
    failing: list[dict[str, Any]], last_seen: dt.datetime | None
) -> list[dict[str, Any]]:
    now = timezone.now()
    return [
        {
            **item,
            "reason": reason_now(str(item.get("check_id", "")), str(item.get("reason", "")), last_seen, now),
            "title": _check_title(str(item.get("check_id", "")), str(item.get("browser") or "chrome")),
            **_mark(str(item.get("state", "")), str(item.get("severity", ""))),
        }
        for item in failing or []
    ]


def _mark(state: str, severity: str) -> dict[str, str]:
    effect = figures.check_effect(state, severity)
    return {"effect": effect, "mark": figures.CHECK_STATE_GLYPHS.get(effect, "•")}


def _map_row(seat: Seat, zone: Any) -> dict[str, Any]:
    device = getattr(seat, "device", None)
    return {
        "id": seat.pk,
        "url": reverse("dashboards:seat", args=[seat.pk]),
        "label": seat.label,
        "row": seat.row,
        "column": seat.column,
        "team": seat.team,
        "readiness": seat.readiness,
        "since": timezone.localtime(seat.readiness_since, zone),
        "hostname": device.hostname if device else "",
        "failing": _failing_with_titles(seat.failing, device.last_seen_at if device else None),
    }


def _table_row(seat: Seat, acknowledged: AcknowledgedFailures) -> dict[str, Any]:
    device = getattr(seat, "device", None)
    failing = _failing_with_titles(seat.failing, device.last_seen_at if device else None)
    for item in failing:
        item["acknowledgement"] = acknowledged.for_check(seat.pk, str(item.get("check_id", "")))
    if failing:
        note = ""
    elif device is None:
        note = "No workstation is assigned to this seat."
    elif seat.evaluated_at is None:
        note = "Waiting for the first report from this workstation."
    else:
        note = "No check details recorded."
    return {
        "seat": seat,
        "style": figures.status_style(seat.readiness),
        "device": device,
        "failing": failing,
        "note": note,
        "url": reverse("dashboards:seat", args=[seat.pk]),
        "acknowledged": acknowledged.covers(seat.pk, seat.failing),
    }


def _check_row(
    result: CheckResult, os_name: str, seat: Seat, acknowledged: AcknowledgedFailures
) -> dict[str, Any]:
    needs_fix = result.state in NEEDS_FIX
    check = _catalog_check(result.check_id)
    browser = str((result.evidence or {}).get("browser") or "chrome")
    device = getattr(seat, "device", None)
    last_seen = device.last_seen_at if device else None
    return {
        "result": result,
        "reason": reason_now(result.check_id, result.reason, last_seen, timezone.now()),
        "since": getattr(result, "state_since", result.since),
        "title": _check_title(result.check_id, browser),
        "area": check.area if check else "",
        "state_label": CheckState(result.state).label if result.state in CheckState.values else result.state,
        **_mark(result.state, result.severity),
        "needs_fix": needs_fix,
        "fix": _fix(result.check_id, os_name, browser) if needs_fix else None,
        # Shown beside the failure, never instead of it: the verdict stays as judged.
        "acknowledgement": acknowledged.for_check(seat.pk, result.check_id) if needs_fix else None,
    }

"""The IT admin's fleet overview: every site and floor, trends, rankings and breakdowns, each
table downloadable as CSV (`?format=csv&table=<name>`) and each figure as JSON
(`?format=json&figure=<name>`).

Who sees it: the roles that see every floor (IT admins, and auditors read-only: the page has no
actions). A supervisor is sent to their shift board: the trends come from per-floor rollups,
which count every team of a floor, so a supervisor of one team would read other teams' seats in
them. Their exports and figure JSON answer 403. The floors every query starts from still come
from server.roles.scope.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET
from readyfloor_agent.checks import CATALOG
from readyfloor_agent.checks.model import OS_LABELS

from dashboards import figures, fleet_figures
from dashboards.views import role_required
from server.compliance import fleet_overview
from server.roles import scope

DEFAULT_DAYS = 30
LISTED = 25  # rows of the long lists on the page; the CSV has them all
TITLES = {check.id: check.title for check in CATALOG}
BREAKDOWN_TITLES = {"os": "Operating system", "chrome": "Chrome major version", "agent": "Agent version"}
READINESS_COLUMNS = [style.value for style in figures.STATUSES]


def check_title(check_id: str) -> str:
    return TITLES.get(check_id, check_id)


@require_GET
@role_required
def fleet_overview_page(request: HttpRequest) -> HttpResponse:
    wants = request.GET.get("format", "html")
    if wants not in ("html", "csv", "json"):
        return _bad_request("format", f"must be html, csv or json, not {wants!r}")
    if not scope.sees_every_floor(request.user):
        if wants != "html":
            return JsonResponse(
                {"error": "forbidden", "detail": "the fleet overview is for IT admins and auditors"},
                status=403,
            )
        # A supervisor's view of the fleet is their board (see the module docstring).
        return redirect("dashboards:board")
    days = request.GET.get("days", str(DEFAULT_DAYS))
    if not days.isdigit() or int(days) not in fleet_overview.TREND_STEPS:
        return _bad_request("days", f"must be one of {', '.join(map(str, fleet_overview.TREND_STEPS))}")
    view = FleetView(request.user, int(days))
    if wants == "csv":
        return view.csv(request.GET.get("table", ""))
    if wants == "json":
        return view.figure_json(request.GET.get("figure", ""))
    return view.page(request)


class FleetView:
    """The overview for one account: the floors and sites in its scope, read once."""

    def __init__(self, user: Any, days: int) -> None:
        self.now = timezone.now()
        self.days = days
        self.floors = scope.floors_visible_to(user)
        # None: the whole fleet, so no list of ids is sent with every query (see fleet_overview).
        everything = scope.sees_every_floor(user)
        self.floor_ids = None if everything else list(self.floors.values_list("pk", flat=True))
        self.site_ids = (
            None if everything else list(scope.sites_visible_to(user).values_list("pk", flat=True))
        )

    # -- the tables, as rows of plain values (the page and the CSV share them) ----------------

    def floor_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "site": line.site,
                "floor": line.floor,
                "floor_id": line.floor_id,
                "timezone": line.timezone,
                "seats": line.seats,
                **{readiness: line.now.get(readiness, 0) for readiness in READINESS_COLUMNS},
                "ready_percent": line.ready_now,
                **{
                    f"ready_percent_{days}d_ago": line.ready_then[days]
                    for days in fleet_overview.COMPARED_DAYS
                },
                **{f"change_{days}d": line.change(days) for days in fleet_overview.COMPARED_DAYS},
            }
            for line in fleet_overview.floor_lines(self.floors, self.now)
        ]

    def check_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "check_id": line.check_id,
                "title": check_title(line.check_id),
                "failing_seats": line.failing_seats,
                "floors": line.floors,
            }
            for line in fleet_overview.failing_checks(self.floor_ids)
        ]

    def breakdown_rows(
        self, by: str, lines: Iterable[fleet_overview.BreakdownLine] | None = None
    ) -> list[dict]:
        lines = fleet_overview.breakdowns(self.floor_ids)[by] if lines is None else lines
        return [
            {
                by: OS_LABELS.get(line.value, line.value) if by == "os" else line.value,
                "devices": line.devices,
                **{readiness: line.counts.get(readiness, 0) for readiness in READINESS_COLUMNS},
                "ready_percent": line.ready_percent,
            }
            for line in lines
        ]

    def fix_time_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "check_id": fix.check_id,
                "title": check_title(fix.check_id),
                "fixes": fix.fixes,
                "mean_minutes": round(fix.mean_s / 60, 1),
                "median_minutes": round(fix.median_s / 60, 1),
                "p90_minutes": round(fix.p90_s / 60, 1),
                "longest_minutes": round(fix.longest_s / 60, 1),
            }
            for fix in fleet_overview.fix_times(self.floor_ids, self.now)
        ]

    def longest_rows(self, limit: int | None) -> list[dict[str, Any]]:
        rows = []
        for seat in fleet_overview.failing_longest(self.floor_ids, limit):
            device = getattr(seat, "device", None)
            rows.append(
                {
                    "seat": seat.label,
                    "seat_id": seat.pk,
                    "site": seat.floor.site.name,
                    "floor": seat.floor.name,
                    "team": seat.team,
                    "not_ready_since_utc": seat.readiness_since,
                    "failing_for": figures.duration(self.now - seat.readiness_since),
                    "failing_checks": "; ".join(
                        check_title(item.get("check_id", ""))
                        for item in seat.failing
                        if item.get("state") == "fail"
                    ),
                    "workstation": device.hostname if device else "",
                    "os": device.os if device else "",
                }
            )
        return rows

    def unassigned_rows(self, limit: int | None) -> list[dict[str, Any]]:
        return [
            {
                "hostname": device.hostname,
                "device_id": device.pk,
                "site": device.site.name,
                "os": device.os,
                "agent_version": device.agent_version,
                "enrolled_at_utc": device.enrolled_at,
                "last_seen_at_utc": device.last_seen_at,
            }
            for device in fleet_overview.unassigned_devices(self.site_ids, limit)
        ]

    def tables(self) -> dict[str, Callable[[], list[dict[str, Any]]]]:
        """Every table the page shows, by the name its CSV is asked for with."""
        return {
            "floors": self.floor_rows,
            "checks": self.check_rows,
            "os": lambda: self.breakdown_rows("os"),
            "chrome": lambda: self.breakdown_rows("chrome"),
            "agent": lambda: self.breakdown_rows("agent"),
            "fix_times": self.fix_time_rows,
            "failing_longest": lambda: self.longest_rows(None),
            "unassigned": lambda: self.unassigned_rows(None),
        }

    # -- answers ------------------------------------------------------------------------------

    def csv(self, table: str) -> HttpResponse:
        tables = self.tables()
        if table not in tables:
            return _bad_request("table", f"must be one of {', '.join(tables)}")
        rows = tables[table]()
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = self.now.strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="readyfloor-fleet-{table}-{stamp}Z.csv"'
        if not rows:
            response.write("# nothing to list\r\n")
            return response
        writer = csv.DictWriter(response, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _csv_value(value) for key, value in row.items()})
        return response

    def trend_figure(self) -> Any:
        return fleet_figures.readiness_trend(fleet_overview.fleet_trend(self.floor_ids, self.now, self.days))

    def checks_figure(self, rows: list[dict[str, Any]] | None = None) -> Any:
        return fleet_figures.failing_checks(self.check_rows() if rows is None else rows)

    def figure_json(self, name: str) -> HttpResponse:
        builders = {"trend": self.trend_figure, "checks": self.checks_figure}
        if name not in builders:
            return _bad_request("figure", f"must be one of {', '.join(builders)}")
        return HttpResponse(builders[name]().to_json(), content_type="application/json")

    def page(self, request: HttpRequest) -> HttpResponse:
        floors = self.floor_rows()
        for row in floors:
            row["then"] = [
                {"days": days, "percent": row[f"ready_percent_{days}d_ago"], "change": row[f"change_{days}d"]}
                for days in fleet_overview.COMPARED_DAYS
            ]
        checks = self.check_rows()
        by = fleet_overview.breakdowns(self.floor_ids)
        counted = {readiness: sum(row[readiness] for row in floors) for readiness in READINESS_COLUMNS}
        seats = sum(counted.values())
        longest = self.longest_rows(LISTED)
        unassigned = self.unassigned_rows(LISTED)
        trend = fleet_overview.fleet_trend(self.floor_ids, self.now, self.days)
        base = reverse("dashboards:fleet")
        context = {
            "nav": "fleet",
            "now": self.now,
            "days": self.days,
            "periods": [
                {"days": days, "url": f"{base}?days={days}", "current": days == self.days}
                for days in fleet_overview.TREND_STEPS
            ],
            "compared_days": fleet_overview.COMPARED_DAYS,
            "floors": floors,
            "sites": len({row["site"] for row in floors}),
            "seats": seats,
            "ready_percent": fleet_overview.ready_percent(counted),
            "tiles": figures.tiles(counted, lambda _status: "#floors-heading"),
            "has_history": any(sum(counts.values()) for _, counts in trend),
            "trend_json": fleet_figures.readiness_trend(trend).to_json(),
            "checks": checks,
            "checks_json": self.checks_figure(checks).to_json() if checks else "",
            "breakdowns": [
                {"name": name, "title": BREAKDOWN_TITLES[name], "rows": self.breakdown_rows(name, by[name])}
                for name in fleet_overview.BREAKDOWNS
            ],
            "fix_times": self.fix_time_rows(),
            "longest": longest,
            "longest_total": fleet_overview.failing_longest(self.floor_ids, None).count()
            if len(longest) == LISTED
            else len(longest),
            "unassigned": unassigned,
            "unassigned_total": fleet_overview.count_unassigned(self.site_ids)
            if len(unassigned) == LISTED
            else len(unassigned),
            "listed": LISTED,
            "csv": {name: f"{base}?format=csv&table={name}" for name in self.tables()},
            "readiness_columns": [figures.status_style(value) for value in READINESS_COLUMNS],
        }
        with timezone.override(dt.timezone.utc):
            return render(request, "dashboards/fleet.html", context)


def _csv_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat()
    return "" if value is None else value


def _bad_request(field: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": "invalid", "field": field, "detail": f"{field}: {detail}"}, status=400)

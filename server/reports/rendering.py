"""A report's content as files: CSV (one row per seat, columns documented in README.md) and PDF
(an HTML template laid out for A4 paper by WeasyPrint, charts as inline SVG from charts.py)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from dashboards.figures import duration
from server.reports import charts
from server.reports.content import ORDER, ReportContent, SeatLine

# The CSV's columns, in order. Stable: scripts read them by name; add new ones at the end only.
CSV_COLUMNS = [
    "site",
    "floor",
    "seat",
    "team",
    "row",
    "column",
    "readiness",
    "readiness_since",
    "failing_checks",
    "reason",
    "failing_since",
    "failing_for_s",
    "acknowledged_checks",
    "acknowledged_by",
    "acknowledged_until",
    "hostname",
    "os",
    "agent_version",
    "last_seen_at",
    "site_time_zone",
    "generated_at",
]


def iso(moment: dt.datetime | None) -> str:
    """Times in the CSV are UTC, ISO 8601 with a Z: unambiguous for any reader; the site's zone
    is its own column for whoever wants local times."""
    if moment is None:
        return ""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def csv_row(seat: SeatLine, content: ReportContent) -> dict[str, Any]:
    failed_for = seat.failed_for(content.generated_at)
    return {
        "site": seat.site,
        "floor": seat.floor,
        "seat": seat.label,
        "team": seat.team,
        "row": seat.row + 1,  # from 1, as people count rows
        "column": seat.column + 1,
        "readiness": seat.readiness,
        "readiness_since": iso(seat.readiness_since),
        "failing_checks": ";".join(seat.failing_check_ids),
        "reason": seat.reason,
        "failing_since": iso(seat.failing_since),
        "failing_for_s": int(failed_for.total_seconds()) if failed_for is not None else "",
        "acknowledged_checks": ";".join(ack["check_id"] for ack in seat.acknowledgements),
        "acknowledged_by": ";".join(ack["by"] for ack in seat.acknowledgements),
        "acknowledged_until": ";".join(iso(ack["until"]) for ack in seat.acknowledgements),
        "hostname": seat.hostname,
        "os": seat.os,
        "agent_version": seat.agent_version,
        "last_seen_at": iso(seat.last_seen_at),
        "site_time_zone": content.zone_name,
        "generated_at": iso(content.generated_at),
    }


def to_csv(content: ReportContent) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for seat in content.seats:
        writer.writerow(csv_row(seat, content))
    # UTF-8 with a byte-order mark, so Excel opens accented names correctly.
    return buffer.getvalue().encode("utf-8-sig")


def _local_text(content: ReportContent, moment: dt.datetime | None, fmt: str = "%a %d %b %Y %H:%M") -> str:
    local = content.local(moment)
    return local.strftime(fmt) if local else ""


def _seat_row(seat: SeatLine, content: ReportContent) -> dict[str, Any]:
    failed_for = seat.failed_for(content.generated_at)
    offline_for = content.generated_at - seat.last_seen_at if seat.last_seen_at else None
    return {
        "label": seat.label,
        "floor": seat.floor,
        "floor_shown": content.scope.kind == "site",
        "offline_for": duration(offline_for) if offline_for is not None else "—",
        "team": seat.team,
        "hostname": seat.hostname,
        "reason": seat.reason or "—",
        "checks": ", ".join(seat.failing_check_ids),
        "failed_for": duration(failed_for) if failed_for is not None else "—",
        "since": _local_text(content, seat.failing_since),
        "last_seen": _local_text(content, seat.last_seen_at) or "never",
        "acks": [
            {
                "check_id": ack["check_id"],
                "by": ack["by"] or "unknown",
                "until": _local_text(content, ack["until"]),
                "reason": ack["reason"],
                "floor_wide": ack["floor_wide"],
            }
            for ack in seat.acknowledgements
        ],
    }


def pdf_context(content: ReportContent) -> dict[str, Any]:
    limit = settings.READYFLOOR_REPORT_PDF_MAX_ROWS
    # On paper, a capped list shows the seats failing longest first; the CSV keeps floor order.
    never = content.generated_at
    not_ready = sorted(content.not_ready, key=lambda seat: seat.failing_since or never)
    offline = sorted(content.offline, key=lambda seat: seat.last_seen_at or seat.readiness_since)
    bars = [("Now", content.counts)]
    if content.snapshot:
        bars.append(
            (f"Start {_local_text(content, content.snapshot.starts_at, '%a %H:%M')}", content.snapshot.counts)
        )
    return {
        "c": content,
        "labels": charts.LABELS,
        "order": ORDER,
        "count_rows": [
            {
                "state": state,
                "label": charts.LABELS[state],
                "now": content.counts.get(state, 0),
                "start": content.snapshot.counts.get(state, 0) if content.snapshot else None,
            }
            for state in ORDER
        ],
        "generated": _local_text(content, content.generated_at),
        "snapshot_start": _local_text(content, content.snapshot.starts_at) if content.snapshot else "",
        "readiness_svg": charts.readiness_bars(bars, ORDER),
        "trend_svg": charts.trend_line([(point.label, point.percent) for point in content.trend]),
        "ranking_svg": charts.ranking_bars([(r.title, r.seats, r.severity) for r in content.failing_checks]),
        "not_ready_rows": [_seat_row(seat, content) for seat in not_ready[:limit]],
        "not_ready_more": max(len(not_ready) - limit, 0),
        "offline_rows": [_seat_row(seat, content) for seat in offline[:limit]],
        "offline_more": max(len(offline) - limit, 0),
        "unassigned": [
            {
                "hostname": device.hostname,
                "os": device.os,
                "agent_version": device.agent_version,
                "last_seen": _local_text(content, device.last_seen_at) or "never",
            }
            for device in content.unassigned_devices[:limit]
        ],
        "unassigned_more": max(len(content.unassigned_devices) - limit, 0),
        "limit": limit,
    }


def to_pdf(content: ReportContent) -> bytes:
    # Imported here: WeasyPrint loads pango through cffi, which only the PDF path needs.
    import weasyprint

    html = render_to_string("reports/report.pdf.html", pdf_context(content))
    return weasyprint.HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


RENDERERS = {
    "csv": (to_csv, "text/csv; charset=utf-8"),
    "pdf": (to_pdf, "application/pdf"),
}

"""Plotly figures for the dashboards: plain data in, a Figure out.

No ORM here: views turn rows into the dicts described below, so the figures can be tested
without a database and reused by reports.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from readyfloor_agent.checks import Readiness


@dataclass(frozen=True)
class StatusStyle:
    """How one readiness looks everywhere: colour for those who see it, glyph and words for
    those who don't (colour-blind supervisors, screen readers, black-and-white printouts)."""

    value: str
    label: str
    color: str
    glyph: str
    text_color: str
    # Bar pattern used by the summary; only "no data" is hatched, so it never reads as a verdict.
    pattern: str = ""


# Okabe-Ito based: the five fills stay distinct under protanopia, deuteranopia and tritanopia,
# and dark text on each keeps a contrast ratio of at least 4.5:1.
_LOOKS: dict[Readiness, tuple[str, str]] = {
    Readiness.NOT_READY: ("#D55E00", "✕"),
    Readiness.OFFLINE: ("#8C8C8C", "\N{EN DASH}"),
    Readiness.UNKNOWN: ("#DADADA", "?"),
    Readiness.AT_RISK: ("#E69F00", "!"),
    Readiness.READY: ("#009E73", "✓"),
}
# In the catalog's worst-first order, the way a supervisor scans the floor.
STATUSES: tuple[StatusStyle, ...] = tuple(
    StatusStyle(
        readiness.value,
        readiness.label,
        _LOOKS[readiness][0],
        _LOOKS[readiness][1],
        "#111111",
        # Only "no data" is hatched, so it never reads as a verdict.
        pattern="/" if readiness is Readiness.UNKNOWN else "",
    )
    for readiness in Readiness.worst_first()
)
STATUS_BY_VALUE: dict[str, StatusStyle] = {style.value: style for style in STATUSES}
UNKNOWN_STYLE = STATUS_BY_VALUE["unknown"]

# A check's mark matches the seat status it causes (see check_effect): ✕ not ready, ! at risk.
CHECK_STATE_GLYPHS = {"fail": "✕", "warn": "!", "unknown": "?", "pass": "✓", "n/a": "\N{EN DASH}"}

FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif'
HOVER_REASONS = 3
REASON_CHARS = 110


def status_style(value: str) -> StatusStyle:
    """The style of a readiness value; anything unexpected is shown as unknown, not hidden."""
    return STATUS_BY_VALUE.get(value, UNKNOWN_STYLE)


def tiles(
    counts: Mapping[str, int], href: Callable[[str], str], *, hide_empty_unknown: bool = False
) -> list[dict[str, Any]]:
    """The readiness tiles of a page (dashboards/_tiles.html), worst first, each linking where
    that page sends it (`href` of the readiness value)."""
    return [
        {"style": style, "count": counts.get(style.value, 0), "href": href(style.value)}
        for style in STATUSES
        if not (hide_empty_unknown and style.value == "unknown" and not counts.get("unknown"))
    ]


def count_by_status(statuses: Iterable[str]) -> dict[str, int]:
    """Counts for every readiness (zeros included), in display order."""
    counts = {style.value: 0 for style in STATUSES}
    for value in statuses:
        counts[status_style(value).value] += 1
    return counts


def floor_map(seats: Sequence[Mapping[str, Any]], *, now: dt.datetime | None = None) -> go.Figure:
    """The floor as a grid of seats, one square per seat, coloured and marked by readiness.

    Each seat is a mapping with ``label``, ``row``, ``column``, ``readiness`` and optionally
    ``id``, ``url``, ``team``, ``hostname``, ``since`` (an aware datetime already in the site's
    time zone) and ``failing`` ([{check_id, title?, state, severity, reason}], worst first).
    ``now`` makes the "for 25 min" in hovers reproducible.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    figure = go.Figure()
    counts = count_by_status(seat.get("readiness", "") for seat in seats)
    columns = max((int(seat["column"]) for seat in seats), default=0) + 1
    rows = max((int(seat["row"]) for seat in seats), default=0) + 1
    size = _marker_size(columns)

    for style in STATUSES:
        group = [seat for seat in seats if status_style(seat.get("readiness", "")).value == style.value]
        points = {
            "x": [int(seat["column"]) for seat in group],
            "y": [int(seat["row"]) for seat in group],
            "text": [_marker_text(seat, style, size) for seat in group],
            "hovertext": [seat_hover(seat, now) for seat in group],
            "customdata": [[seat.get("id"), seat.get("url") or ""] for seat in group],
        }
        if not group:
            # Plotly leaves traces without points out of the legend; one blank point keeps
            # "Offline (0)" there, which is news too.
            points = {"x": [None], "y": [None], "text": [""], "hovertext": [""], "customdata": [[None, ""]]}
        figure.add_trace(
            go.Scatter(
                name=f"{style.glyph} {style.label} ({counts[style.value]})",
                legendgroup=style.value,
                mode="markers+text",
                marker={
                    "symbol": "square",
                    "size": size,
                    "color": style.color,
                    # A dark frame on NOT READY seats: a second cue besides colour and glyph.
                    "line": {"color": "#333333" if style.value == "not_ready" else "#FFFFFF", "width": 2},
                },
                textposition="middle center",
                textfont={
                    "color": style.text_color,
                    "size": max(9, min(13, size // 4)),
                    "family": FONT_FAMILY,
                },
                hoverinfo="text",
                showlegend=True,
                **points,
            )
        )

    figure.update_layout(
        # No plotly theme: it would add ~8 KB of JSON to every refresh for colours we set anyway.
        template="none",
        font={"family": FONT_FAMILY, "size": 13, "color": "#1F2933"},
        height=max(220, rows * (size + 22) + 110),
        margin={"l": 56, "r": 16, "t": 16, "b": 44},
        plot_bgcolor="#FFFFFF",
        paper_bgcolor="#FFFFFF",
        hoverlabel={
            "bgcolor": "#FFFFFF",
            "font": {"family": FONT_FAMILY, "size": 13, "color": "#1F2933"},
            "align": "left",
        },
        legend={
            "orientation": "h",
            "yanchor": "top",
            "y": -0.02,
            "xanchor": "left",
            "x": 0,
            "itemclick": "toggle",
            "itemdoubleclick": "toggleothers",
        },
        dragmode=False,
        xaxis={
            "range": [-0.6, columns - 0.4],
            "tickmode": "array",
            "tickvals": list(range(columns)),
            "ticktext": [f"Col {column + 1}" for column in range(columns)],
            "side": "top",
            "showgrid": False,
            "zeroline": False,
            "fixedrange": True,
        },
        yaxis={
            # Row 0 is the front of the floor and is drawn at the top, as on a seating plan.
            "range": [rows - 0.4, -0.6],
            "tickmode": "array",
            "tickvals": list(range(rows)),
            "ticktext": [f"Row {row + 1}" for row in range(rows)],
            "showgrid": False,
            "zeroline": False,
            "fixedrange": True,
        },
    )
    if not seats:
        figure.add_annotation(
            text="No seats on this floor yet",
            showarrow=False,
            x=0,
            y=0,
            font={"size": 15, "color": "#52606D"},
        )
    return figure


def readiness_summary(counts: Mapping[str, int]) -> go.Figure:
    """One thin stacked bar: the share of seats in each readiness, with the counts written on it."""
    counts = {style.value: int(counts.get(style.value, 0)) for style in STATUSES}
    total = sum(counts.values())
    figure = go.Figure()
    for style in STATUSES:
        count = counts[style.value]
        figure.add_trace(
            go.Bar(
                name=f"{style.label} ({count})",
                legendgroup=style.value,
                y=["Seats"],
                x=[count],
                orientation="h",
                marker={
                    "color": style.color,
                    "line": {"color": "#FFFFFF", "width": 1},
                    "pattern": {"shape": style.pattern, "fgcolor": "#7B8794", "size": 6},
                },
                text=[f"{style.glyph} {count}" if count else ""],
                textposition="inside",
                insidetextanchor="middle",
                textfont={"color": style.text_color, "family": FONT_FAMILY},
                hovertemplate=f"{style.label}: {count} of {total} seats<extra></extra>",
                showlegend=False,
            )
        )
    figure.update_layout(
        template="none",
        barmode="stack",
        height=64,
        margin={"l": 0, "r": 0, "t": 4, "b": 4},
        font={"family": FONT_FAMILY, "size": 13},
        plot_bgcolor="#FFFFFF",
        paper_bgcolor="#FFFFFF",
        xaxis={"visible": False, "range": [0, max(total, 1)], "fixedrange": True},
        yaxis={"visible": False, "fixedrange": True},
        dragmode=False,
    )
    return figure


def seat_hover(seat: Mapping[str, Any], now: dt.datetime) -> str:
    """Hover text of one seat. Plotly renders a subset of HTML in hovers, so every value that
    came from a workstation or an admin form is escaped."""
    style = status_style(seat.get("readiness", ""))
    lines = [f"<b>{_e(seat['label'])}</b> · {style.glyph} {style.label}"]
    if seat.get("team"):
        lines.append(f"Team: {_e(seat['team'])}")
    hostname = seat.get("hostname")
    lines.append(f"Workstation: {_e(hostname)}" if hostname else "Workstation: none assigned")
    since = seat.get("since")
    if isinstance(since, dt.datetime):
        lines.append(f"{style.label} since {since:%Y-%m-%d %H:%M} ({duration(now - since)})")
    failing = list(seat.get("failing") or [])
    for item in failing[:HOVER_REASONS]:
        mark = CHECK_STATE_GLYPHS.get(check_effect(item.get("state", ""), item.get("severity", "")), "•")
        title = item.get("title") or item.get("check_id", "")
        lines.append(f"{mark} {_e(title)}: {_e(_shorten(str(item.get('reason', ''))))}")
    if len(failing) > HOVER_REASONS:
        lines.append(f"… and {len(failing) - HOVER_REASONS} more")
    return "<br>".join(lines)


def check_effect(state: str, severity: str) -> str:
    """What a check result does to its seat, as a check state: a failed warning-level check only
    puts the seat at risk, so it is marked like a warning. "Could not read" stays unknown and is
    never shown as a failure."""
    if state == "fail" and severity != "critical":
        return "warn"
    return state


def duration(delta: dt.timedelta) -> str:
    """'just now', '25 min', '3 h 10 min', '2 days' — short enough for a hover."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return "just now"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def _marker_size(columns: int) -> int:
    # Markers are sized in pixels, not data units: shrink them on wide floors so neighbours
    # don't overlap on a laptop-width page (about 1000 px of plot).
    return max(16, min(60, int(900 / max(columns, 1) * 0.72)))


def _marker_text(seat: Mapping[str, Any], style: StatusStyle, size: int) -> str:
    # Small squares can't hold the label; the glyph alone still says the status.
    if size < 30:
        return style.glyph
    return f"{_e(seat['label'])}<br>{style.glyph}"


def _shorten(text: str) -> str:
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1].rstrip() + "…"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=False)

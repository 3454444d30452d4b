"""Plotly figures of the fleet overview: plain data in, a Figure out, no ORM (like
dashboards.figures, whose status colours, glyphs and fonts they share)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from dashboards.figures import FONT_FAMILY, STATUSES

# Drawn bottom-up: READY at the base, so the ready share reads as the height of the first band.
TREND_ORDER = tuple(reversed(STATUSES))


def readiness_trend(points: Sequence[tuple[dt.datetime, Mapping[str, int]]]) -> go.Figure:
    """Seats at each readiness over time, stacked (READY at the bottom), one trace per
    readiness; the hover says the share of seats as well as the count."""
    moments = [moment for moment, _ in points]
    totals = [sum(counts.values()) for _, counts in points]
    figure = go.Figure()
    for style in TREND_ORDER:
        values = [int(counts.get(style.value, 0)) for _, counts in points]
        if style.value == "unknown" and not any(values):
            continue  # "no data" only when there is some: an empty band reads as a verdict
        shares = [round(100 * value / total, 1) if total else 0.0 for value, total in zip(values, totals)]
        figure.add_trace(
            go.Scatter(
                name=f"{style.glyph} {style.label}",
                legendgroup=style.value,
                x=moments,
                y=values,
                customdata=shares,
                mode="lines",
                stackgroup="seats",
                line={"color": style.color, "width": 1},
                fillcolor=style.color,
                fillpattern={"shape": style.pattern} if style.pattern else None,
                hovertemplate=f"{style.label}: %{{y}} seats (%{{customdata}}%)<extra></extra>",
            )
        )
    figure.update_layout(
        template="none",
        height=300,
        margin={"l": 48, "r": 8, "t": 8, "b": 36},
        font={"family": FONT_FAMILY, "size": 13},
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.2},
        xaxis={"type": "date", "fixedrange": True},
        yaxis={"title": {"text": "Seats"}, "rangemode": "tozero", "fixedrange": True},
        plot_bgcolor="#FFFFFF",
        paper_bgcolor="#FFFFFF",
    )
    return figure


def failing_checks(checks: Sequence[Mapping[str, object]]) -> go.Figure:
    """Checks failing now as horizontal bars, most failing seats at the top. Each item:
    {"title": str, "failing_seats": int, "floors": int}."""
    ranked = list(reversed(checks))  # Plotly draws the first category at the bottom
    figure = go.Figure(
        go.Bar(
            name="Failing seats",
            y=[str(check["title"]) for check in ranked],
            x=[int(check["failing_seats"]) for check in ranked],
            customdata=[int(check["floors"]) for check in ranked],
            orientation="h",
            marker={"color": STATUSES[0].color},
            text=[str(check["failing_seats"]) for check in ranked],
            textposition="auto",
            hovertemplate="%{y}: %{x} seats on %{customdata} floors<extra></extra>",
        )
    )
    figure.update_layout(
        template="none",
        height=max(120, 32 * len(ranked) + 48),
        margin={"l": 8, "r": 8, "t": 8, "b": 32},
        font={"family": FONT_FAMILY, "size": 13},
        xaxis={"title": {"text": "Seats failing now"}, "rangemode": "tozero", "fixedrange": True},
        yaxis={"automargin": True, "fixedrange": True},
        plot_bgcolor="#FFFFFF",
        paper_bgcolor="#FFFFFF",
        dragmode=False,
    )
    return figure

"""Figures built from known rollups have the expected traces and values (no database)."""

from __future__ import annotations

import datetime as dt

from dashboards import figures, fleet_figures

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
POINTS = [
    (T0, {"ready": 2, "not_ready": 2, "at_risk": 0, "offline": 0, "unknown": 0}),
    (T0 + dt.timedelta(days=1), {"ready": 3, "not_ready": 1, "at_risk": 0, "offline": 0, "unknown": 0}),
    (T0 + dt.timedelta(days=2), {"ready": 14, "not_ready": 1, "at_risk": 1, "offline": 1, "unknown": 0}),
]


def by_group(figure) -> dict:
    return {trace.legendgroup: trace for trace in figure.data}


def test_the_trend_stacks_one_trace_per_readiness_with_ready_at_the_bottom():
    figure = fleet_figures.readiness_trend(POINTS)

    # Unknown is left out while no seat was unknown: an empty "no data" band would read as a verdict.
    assert [trace.legendgroup for trace in figure.data] == ["ready", "at_risk", "offline", "not_ready"]
    assert all(trace.stackgroup == "seats" for trace in figure.data)
    traces = by_group(figure)
    assert list(traces["ready"].y) == [2, 3, 14]
    assert list(traces["not_ready"].y) == [2, 1, 1]
    assert list(traces["offline"].y) == [0, 0, 1]
    assert list(traces["ready"].x) == [moment for moment, _ in POINTS]
    assert traces["ready"].line.color == figures.STATUS_BY_VALUE["ready"].color
    assert traces["not_ready"].name == "✕ Not ready"


def test_the_trend_hover_gives_the_share_of_seats_as_well_as_the_count():
    traces = by_group(fleet_figures.readiness_trend(POINTS))

    assert list(traces["ready"].customdata) == [50.0, 75.0, 82.4]
    assert "%{customdata}%" in traces["ready"].hovertemplate


def test_an_unknown_band_is_drawn_hatched_when_seats_were_unknown():
    points = [(T0, {"ready": 1, "unknown": 3})]

    unknown = by_group(fleet_figures.readiness_trend(points))["unknown"]

    assert list(unknown.y) == [3]
    assert unknown.fillpattern.shape == "/"


def test_a_trend_without_any_seat_is_an_empty_but_valid_figure():
    figure = fleet_figures.readiness_trend([(T0, {}), (T0 + dt.timedelta(days=1), {})])

    assert all(list(trace.y) == [0, 0] for trace in figure.data)
    assert all(list(trace.customdata) == [0.0, 0.0] for trace in figure.data)


def test_failing_checks_are_bars_with_the_most_failing_at_the_top():
    checks = [
        {"title": "CTI sites may use the microphone", "failing_seats": 3, "floors": 2},
        {"title": "A headset is connected", "failing_seats": 1, "floors": 1},
    ]

    (bars,) = fleet_figures.failing_checks(checks).data

    # Plotly draws the first category at the bottom, so the ranking is handed over reversed.
    assert list(bars.y) == ["A headset is connected", "CTI sites may use the microphone"]
    assert list(bars.x) == [1, 3]
    assert list(bars.customdata) == [1, 2]
    assert bars.orientation == "h"

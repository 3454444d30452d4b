"""The figure builders: plain data in, Plotly figures out. No database."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboards import figures

NOW = dt.datetime(2026, 11, 21, 9, 30, tzinfo=dt.timezone.utc)
MIC_BLOCKED = {
    "check_id": "chrome.mic.site",
    "title": "CTI sites may use the microphone",
    "state": "fail",
    "severity": "critical",
    "reason": "Microphone set to Block for https://acme.my.salesforce.com",
}


def seat(label: str, row: int, column: int, readiness: str, **extra) -> dict:
    return {
        "id": hash(label) % 1000,
        "url": f"/seats/{label}/",
        "label": label,
        "row": row,
        "column": column,
        "readiness": readiness,
        **extra,
    }


def trace_for(figure, status: str):
    style = figures.STATUS_BY_VALUE[status]
    return next(trace for trace in figure.data if trace.legendgroup == style.value)


def relative_luminance(hex_colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


FLOOR = [
    seat("A-01", 0, 0, "ready", hostname="lyon-a01"),
    seat("A-02", 0, 1, "ready", hostname="lyon-a02"),
    seat(
        "A-03",
        0,
        2,
        "not_ready",
        hostname="lyon-a03",
        team="Support",
        failing=[MIC_BLOCKED],
        since=NOW - dt.timedelta(minutes=25),
    ),
    seat("B-01", 1, 0, "at_risk"),
    seat("B-02", 1, 2, "offline"),
    seat("B-03", 1, 3, "unknown"),
]


@pytest.mark.parametrize(
    ("status", "colour", "glyph", "label"),
    [
        ("ready", "#009E73", "✓", "Ready"),
        ("at_risk", "#E69F00", "!", "At risk"),
        ("not_ready", "#D55E00", "✕", "Not ready"),
        ("offline", "#8C8C8C", "\N{EN DASH}", "Offline"),
        ("unknown", "#DADADA", "?", "Unknown"),
    ],
)
def test_each_readiness_is_drawn_in_its_colour_with_a_glyph_and_counted_in_the_legend(
    status, colour, glyph, label
):
    figure = figures.floor_map(FLOOR, now=NOW)

    trace = trace_for(figure, status)
    expected = sum(1 for s in FLOOR if s["readiness"] == status)
    assert trace.marker.color == colour
    assert trace.marker.symbol == "square"
    assert trace.name == f"{glyph} {label} ({expected})"
    assert all(text.endswith(glyph) for text in trace.text)
    assert len(trace.x) == expected


def test_seats_sit_at_their_row_and_column_with_their_label():
    figure = figures.floor_map(FLOOR, now=NOW)

    placed = {
        (text.split("<br>")[0], x, y)
        for trace in figure.data
        for text, x, y in zip(trace.text, trace.x, trace.y)
    }
    assert placed == {(s["label"], s["column"], s["row"]) for s in FLOOR}


def test_the_front_row_is_drawn_at_the_top():
    figure = figures.floor_map(FLOOR, now=NOW)

    low, high = figure.layout.yaxis.range
    assert low > high  # reversed axis: row 0 at the top
    assert list(figure.layout.yaxis.ticktext) == ["Row 1", "Row 2"]


def test_every_status_stays_in_the_legend_even_with_no_seats():
    figure = figures.floor_map([seat("A-01", 0, 0, "ready")], now=NOW)

    assert [trace.name for trace in figure.data] == [
        "✕ Not ready (0)",
        "\N{EN DASH} Offline (0)",
        "? Unknown (0)",
        "! At risk (0)",
        "✓ Ready (1)",
    ]
    # Plotly drops traces without points from the legend: an empty status gets one blank point.
    for status in ("not_ready", "offline", "unknown", "at_risk"):
        trace = trace_for(figure, status)
        assert (list(trace.x), list(trace.y), list(trace.hovertext)) == ([None], [None], [""])


def test_hover_shows_label_team_workstation_since_and_the_reasons():
    figure = figures.floor_map(FLOOR, now=NOW)

    hover = trace_for(figure, "not_ready").hovertext[0]
    assert "<b>A-03</b> · ✕ Not ready" in hover
    assert "Team: Support" in hover
    assert "Workstation: lyon-a03" in hover
    assert "Not ready since 2026-11-21 09:05 (25 min)" in hover
    assert (
        "✕ CTI sites may use the microphone: Microphone set to Block for https://acme.my.salesforce.com"
        in hover
    )


def test_hover_of_a_seat_without_workstation_says_so():
    hover = figures.seat_hover(seat("B-03", 1, 3, "unknown"), NOW)

    assert "Workstation: none assigned" in hover


def test_hover_lists_the_three_worst_reasons_and_counts_the_rest():
    failing = [
        {
            "check_id": f"check.{n}",
            "state": "fail" if n < 2 else "warn",
            "severity": "critical",
            "reason": f"r{n}",
        }
        for n in range(5)
    ]
    hover = figures.seat_hover(seat("A-01", 0, 0, "not_ready", failing=failing), NOW)

    assert "✕ check.0: r0" in hover
    assert "✕ check.1: r1" in hover
    assert "! check.2: r2" in hover
    assert "check.3" not in hover
    assert "… and 2 more" in hover


def test_hover_escapes_markup_that_came_from_a_workstation_or_a_form():
    hover = figures.seat_hover(
        seat(
            "<img src=x>",
            0,
            0,
            "not_ready",
            team="R&D <b>",
            hostname="<script>",
            failing=[{**MIC_BLOCKED, "reason": "</br><i>evil</i>"}],
        ),
        NOW,
    )

    assert "<img" not in hover and "<script>" not in hover and "<i>" not in hover
    assert "&lt;img src=x&gt;" in hover
    assert "R&amp;D &lt;b&gt;" in hover


def test_a_long_reason_is_shortened_in_the_hover():
    hover = figures.seat_hover(
        seat("A-01", 0, 0, "not_ready", failing=[{**MIC_BLOCKED, "reason": "x" * 400}]), NOW
    )

    assert "x" * (figures.REASON_CHARS - 1) + "…" in hover
    assert "x" * figures.REASON_CHARS not in hover


@pytest.mark.parametrize(
    ("state", "severity", "mark"),
    [
        ("fail", "critical", "✕"),
        ("fail", "warning", "!"),  # a failed warning-level check only puts the seat at risk
        ("warn", "critical", "!"),
        ("warn", "warning", "!"),
        ("unknown", "critical", "?"),  # could not read is never shown as a failure
        ("unknown", "warning", "?"),
    ],
)
def test_each_reason_is_marked_by_what_it_does_to_the_seat(state, severity, mark):
    item = {"check_id": "os.mic.exclusive", "state": state, "severity": severity, "reason": "why"}

    hover = figures.seat_hover(seat("A-01", 0, 0, "at_risk", failing=[item]), NOW)

    assert hover.endswith(f"{mark} os.mic.exclusive: why")


def test_an_unexpected_readiness_is_drawn_as_unknown_not_dropped():
    figure = figures.floor_map([seat("A-01", 0, 0, "on_fire")], now=NOW)

    assert list(trace_for(figure, "unknown").x) == [0]


def test_clicking_a_seat_can_open_its_page():
    figure = figures.floor_map(FLOOR, now=NOW)

    assert list(trace_for(figure, "not_ready").customdata[0]) == [FLOOR[2]["id"], "/seats/A-03/"]


def test_a_wide_floor_shrinks_the_squares_but_keeps_the_status_glyph():
    wide = [seat(f"S{column}", 0, column, "not_ready") for column in range(60)]

    narrow_size = figures.floor_map(FLOOR, now=NOW).data[0].marker.size
    figure = figures.floor_map(wide, now=NOW)

    assert figure.data[0].marker.size < narrow_size
    assert set(trace_for(figure, "not_ready").text) == {"✕"}


def test_an_empty_floor_map_says_there_are_no_seats():
    figure = figures.floor_map([], now=NOW)

    assert [annotation.text for annotation in figure.layout.annotations] == ["No seats on this floor yet"]


def test_readiness_summary_stacks_the_counts_worst_first():
    counts = {"ready": 40, "not_ready": 3, "at_risk": 2, "offline": 1}

    figure = figures.readiness_summary(counts)

    assert figure.layout.barmode == "stack"
    assert [(trace.name, trace.x[0]) for trace in figure.data] == [
        ("Not ready (3)", 3),
        ("Offline (1)", 1),
        ("Unknown (0)", 0),
        ("At risk (2)", 2),
        ("Ready (40)", 40),
    ]
    assert [trace.text[0] for trace in figure.data] == ["✕ 3", "\N{EN DASH} 1", "", "! 2", "✓ 40"]
    assert trace_for(figure, "unknown").marker.pattern.shape == "/"


def test_count_by_status_counts_every_status_and_folds_strays_into_unknown():
    assert figures.count_by_status(["ready", "ready", "offline", "???"]) == {
        "not_ready": 0,
        "offline": 1,
        "unknown": 1,
        "at_risk": 0,
        "ready": 2,
    }


@pytest.mark.parametrize("style", figures.STATUSES, ids=lambda style: style.value)
def test_status_text_is_readable_on_its_colour(style):
    # WCAG AA for normal text.
    assert contrast(style.color, style.text_color) >= 4.5


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (dt.timedelta(seconds=20), "just now"),
        (dt.timedelta(minutes=25), "25 min"),
        (dt.timedelta(hours=3), "3 h"),
        (dt.timedelta(hours=3, minutes=10), "3 h 10 min"),
        (dt.timedelta(days=3, hours=2), "3 days"),
        (dt.timedelta(seconds=-5), "just now"),
    ],
)
def test_duration_is_short_enough_for_a_hover(delta, text):
    assert figures.duration(delta) == text

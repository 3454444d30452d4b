"""The report's charts as static SVG, drawn here from numbers: no browser, no network.

Why not Plotly's static export: kaleido 1.5 drives a Chromium (Debian's /usr/bin/chromium works
offline), but each export started one and took 6.4 s per figure on this machine while loaded —
three charts would eat the 20 s budget of a 10k-seat report alone. The charts a paper report needs
are two bar charts and a line; drawn as SVG they cost milliseconds, WeasyPrint renders them
natively (vectors: sharp on paper), and their text stays extractable from the PDF.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

# The dashboards' readiness colours, with a pattern-free palette that stays distinct in greyscale.
COLOURS = {
    "ready": "#1a7f37",
    "at_risk": "#bf8700",
    "not_ready": "#cf222e",
    "offline": "#57606a",
    "unknown": "#8250df",
}
LABELS = {
    "ready": "Ready",
    "at_risk": "At risk",
    "not_ready": "Not ready",
    "offline": "Offline",
    "unknown": "Unknown",
}
FONT = 'font-family="DejaVu Sans, sans-serif"'


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">' + "".join(body) + "</svg>"
    )


def readiness_bars(rows: Sequence[tuple[str, dict[str, int]]], order: Sequence[str], width: int = 640) -> str:
    """One stacked horizontal bar per row (e.g. "Now", "08:00 start"), segments by readiness."""
    label_w, bar_h, gap, legend_h = 110, 26, 14, 28
    height = legend_h + len(rows) * (bar_h + gap)
    plot_w = width - label_w - 10
    body: list[str] = []
    x = label_w
    for state in order:  # legend
        body.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{COLOURS.get(state, "#999")}"/>')
        body.append(f'<text x="{x + 16}" y="14" font-size="11" {FONT}>{LABELS.get(state, state)}</text>')
        x += 95
    for index, (name, counts) in enumerate(rows):
        y = legend_h + index * (bar_h + gap)
        total = sum(counts.values())
        body.append(f'<text x="0" y="{y + bar_h * 0.68:.0f}" font-size="12" {FONT}>{escape(name)}</text>')
        if not total:
            body.append(
                f'<text x="{label_w}" y="{y + bar_h * 0.68:.0f}" font-size="11" {FONT}>no seats</text>'
            )
            continue
        x = float(label_w)
        for state in order:
            number = counts.get(state, 0)
            if not number:
                continue
            w = plot_w * number / total
            body.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{COLOURS.get(state, "#999")}"/>'
            )
            if w > 22:
                body.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + bar_h * 0.68:.0f}" font-size="11" fill="#fff" '
                    f'text-anchor="middle" {FONT}>{number}</text>'
                )
            x += w
    return _svg(width, height, body, "Seats by readiness")


def ranking_bars(items: Sequence[tuple[str, int, str]], width: int = 640, limit: int = 10) -> str:
    """Horizontal bars, longest first: (label, seats, severity)."""
    items = list(items)[:limit]
    label_w, bar_h, gap = 250, 18, 8
    height = max(len(items), 1) * (bar_h + gap) + 4
    top = max((number for _, number, _ in items), default=1) or 1
    plot_w = width - label_w - 50
    body: list[str] = []
    if not items:
        body.append(f'<text x="0" y="14" font-size="12" {FONT}>No failing checks.</text>')
    for index, (name, number, severity) in enumerate(items):
        y = index * (bar_h + gap)
        w = max(plot_w * number / top, 1)
        colour = COLOURS["not_ready"] if severity == "critical" else COLOURS["at_risk"]
        short = name if len(name) <= 40 else name[:39] + "…"
        body.append(f'<text x="0" y="{y + 13}" font-size="11" {FONT}>{escape(short)}</text>')
        body.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>')
        body.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" font-size="11" {FONT}>{number}</text>')
    return _svg(width, height, body, "Failing checks")


def trend_line(points: Sequence[tuple[str, float]], width: int = 640, height: int = 200) -> str:
    """Percent of seats READY at each point (0 to 100 %), with the first and last labels."""
    left, right, top, bottom = 40, 10, 10, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    body: list[str] = []
    for percent in (0, 50, 100):
        y = top + plot_h * (1 - percent / 100)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#d0d7de"/>')
        body.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" {FONT}>{percent}%</text>'
        )
    if not points:
        body.append(
            f'<text x="{left + 10}" y="{top + plot_h / 2:.0f}" font-size="12" {FONT}>'
            "No data in this period.</text>"
        )
        return _svg(width, height, body, "Readiness trend")
    step = plot_w / max(len(points) - 1, 1)
    coords = [
        (left + (index * step if len(points) > 1 else plot_w / 2), top + plot_h * (1 - value / 100))
        for index, (_, value) in enumerate(points)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    body.append(f'<polyline points="{path}" fill="none" stroke="{COLOURS["ready"]}" stroke-width="2"/>')
    for x, y in coords:
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{COLOURS["ready"]}"/>')
    body.append(f'<text x="{left}" y="{height - 8}" font-size="10" {FONT}>{escape(points[0][0])}</text>')
    if len(points) > 1:
        body.append(
            f'<text x="{width - right}" y="{height - 8}" font-size="10" text-anchor="end" {FONT}>'
            f"{escape(points[-1][0])}</text>"
        )
    return _svg(width, height, body, "Readiness trend")

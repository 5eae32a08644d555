"""The trend chart as inline SVG, drawn on the server: no chart library, no script needed.

A step line (counts change at moments, they do not slide between them) over a filled area,
three horizontal grid lines labelled with counts, and the first, middle and last times under
it. Colours come from the stylesheet (classes only: the CSP forbids style attributes). The
chart is an image with a title and a description that says what it shows in words; the
same numbers are offered as a table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from connector.web.markup import Markup, el
from domains.bosai.dashboard.i18n import Lang, t, when

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28


def _nice_top(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^n that is at least ``value`` (and at least 4)."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= max(value, 4):
                return m * step
        step *= 10


def trend_svg(points: Sequence[tuple[datetime, int]], lang: Lang, *, title: str,
              chart_id: str) -> Markup:
    if not points:
        return el("p", {"class": "empty"}, t(lang, "trend_empty"))
    values = [v for _, v in points]
    top = _nice_top(max(values))
    start, end = points[0][0], points[-1][0]
    span = (end - start).total_seconds() or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return round(LEFT + plot_w * (at - start).total_seconds() / span, 1)

    def y(value: int) -> float:
        return round(TOP + plot_h * (1 - value / top), 1)

    path = [f"M{x(points[0][0])},{y(points[0][1])}"]
    for (_, before), (at, value) in zip(points, points[1:], strict=False):
        path.append(f"H{x(at)}V{y(value)}" if value != before else f"H{x(at)}")
    line = "".join(path)
    area = f"{line}V{y(0)}H{x(start)}Z"
    grid = [el("g", {"class": "grid"},
               el("line", {"x1": LEFT, "x2": WIDTH - RIGHT, "y1": y(v), "y2": y(v)}),
               el("text", {"x": LEFT - 6, "y": y(v) + 4, "text-anchor": "end"}, v))
            for v in (0, top // 2, top)]
    middle = start + (end - start) / 2
    ticks = [el("text", {"x": x(at), "y": HEIGHT - 8, "text-anchor": anchor,
                         "class": "tick"}, when(at))
             for at, anchor in ((start, "start"), (middle, "middle"), (end, "end"))]
    description = t(lang, "trend_desc", start=when(start), end=when(end), low=min(values),
                    high=max(values), now=values[-1])
    return el("svg", {"class": "chart", "viewBox": f"0 0 {WIDTH} {HEIGHT}", "role": "img",
                      "aria-labelledby": f"{chart_id}-title {chart_id}-desc",
                      "focusable": "false"},
              el("title", {"id": f"{chart_id}-title"}, title),
              el("desc", {"id": f"{chart_id}-desc"}, description),
              grid,
              el("path", {"class": "area", "d": area}),
              el("path", {"class": "line", "d": line}),
              ticks)


def trend_table(points: Sequence[tuple[datetime, int]], lang: Lang) -> Markup:
    """The chart's numbers, for whoever cannot see it (collapsed by default)."""
    if not points:
        return Markup("")
    rows = [el("tr", None, el("td", None, when(at)), el("td", {"class": "num"}, v))
            for at, v in points]
    return el("details", {"class": "chart-data"},
              el("summary", None, t(lang, "trend_table")),
              el("table", None,
                 el("thead", None, el("tr", None, el("th", {"scope": "col"}, t(lang, "time")),
                                      el("th", {"scope": "col"}, t(lang, "people")))),
                 el("tbody", None, rows)))

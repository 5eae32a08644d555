"""A child's growth as inline SVG drawn on the server (as bosai's trend chart): the
measurements from checkups over age in months, no percentile bands (docs/pmh.md: no
growth reference with a checked source is held). Classes only: the CSP forbids styles."""

from __future__ import annotations

from collections.abc import Sequence

from connector.web.markup import Markup, el
from domains.pmh.views.i18n import Lang, t

WIDTH, HEIGHT = 480, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 30
Point = tuple[float, float, str]  # age in months, value, date measured


def growth_svg(points: Sequence[Point], lang: Lang, *, what: str, chart_id: str) -> Markup:
    if not points:
        return el("p", {"class": "empty"}, t(lang, "none"))
    ages, values = [p[0] for p in points], [p[1] for p in points]
    x_top = max(12.0, max(ages))
    low, high = min(values), max(values)
    pad = max((high - low) * 0.15, 1.0)
    low, high = max(0.0, low - pad), high + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(age: float) -> float:
        return round(LEFT + plot_w * age / x_top, 1)

    def y(value: float) -> float:
        return round(TOP + plot_h * (1 - (value - low) / (high - low)), 1)

    line = "M" + "L".join(f"{x(a)},{y(v)}" for a, v, _ in points)
    grid = [el("g", {"class": "grid"},
               el("line", {"x1": LEFT, "x2": WIDTH - RIGHT, "y1": y(v), "y2": y(v)}),
               el("text", {"x": LEFT - 6, "y": y(v) + 4, "text-anchor": "end"},
                  f"{v:.1f}"))
            for v in (low, (low + high) / 2, high)]
    step = 3 if x_top <= 24 else 12
    ticks = [el("text", {"x": x(m), "y": HEIGHT - 10, "text-anchor": "middle",
                        "class": "tick"}, m) for m in range(0, int(x_top) + 1, step)]
    dots = [el("circle", {"cx": x(a), "cy": y(v), "r": 3.5}) for a, v, _ in points]
    desc = t(lang, "growth_desc", what=what, n=len(points), first=points[0][2],
             last=points[-1][2])
    return el("svg", {"class": "chart", "viewBox": f"0 0 {WIDTH} {HEIGHT}", "role": "img",
                      "aria-labelledby": f"{chart_id}-title {chart_id}-desc",
                      "focusable": "false"},
              el("title", {"id": f"{chart_id}-title"}, what),
              el("desc", {"id": f"{chart_id}-desc"}, desc),
              grid, ticks,
              el("text", {"x": WIDTH - RIGHT, "y": HEIGHT - 0.5, "text-anchor": "end",
                          "class": "tick"}, t(lang, "age_months")),
              el("path", {"class": "line", "d": line}),
              el("g", {"class": "dots"}, dots))


def growth_table(points: Sequence[Point], lang: Lang, what: str) -> Markup:
    """The chart's numbers, for whoever cannot see it."""
    if not points:
        return Markup("")
    rows = [el("tr", None, el("td", None, d), el("td", {"class": "num"}, f"{a:.1f}"),
               el("td", {"class": "num"}, v)) for a, v, d in points]
    return el("table", {"class": "chart-data"},
              el("caption", None, what),
              el("thead", None, el("tr", None, el("th", {"scope": "col"}, t(lang, "date")),
                                   el("th", {"scope": "col"}, t(lang, "age_months")),
                                   el("th", {"scope": "col"}, what))),
              el("tbody", None, rows))

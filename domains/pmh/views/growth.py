"""A child's growth as inline SVG drawn on the server (as bosai's trend chart): the
measurements from checkups over age in months, in front of the growth reference's bands for
the child's sex (P3-P97 and P10-P90, the P50 line: 令和5年乳幼児身体発育調査,
``domains.pmh.growth_reference``) where the reference covers the ages shown. Each
measurement's band is in the table beside the chart. Classes only: the CSP forbids styles."""

from __future__ import annotations

from collections.abc import Sequence

from connector.web.markup import Markup, el
from domains.pmh import growth_reference as ref
from domains.pmh.views.i18n import Lang, t

WIDTH, HEIGHT = 480, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 30
SAMPLES = 48  # points per reference curve across the chart
Point = tuple[float, float, str]  # age in months, value, date measured
Curves = list[tuple[float, tuple[float, ...]]]  # age in months, P3..P97 on that age


def reference_curves(sex: str | None, measure: str, x_top: float) -> Curves:
    """The reference's curves for ``sex`` from birth to ``x_top`` months (or the
    reference's last age), sampled; none for a sex the reference lacks."""
    if sex not in ("male", "female"):
        return []
    out: Curves = []
    for i in range(SAMPLES + 1):
        at = ref.curves_at(sex, measure, x_top * i / SAMPLES)  # type: ignore[arg-type]
        if at is not None:
            out.append((x_top * i / SAMPLES, at))
    return out


def growth_svg(points: Sequence[Point], lang: Lang, *, what: str, chart_id: str,
               curves: Sequence[tuple[float, tuple[float, ...]]] = ()) -> Markup:
    if not points:
        return el("p", {"class": "empty"}, t(lang, "none"))
    ages, values = [p[0] for p in points], [p[1] for p in points]
    x_top = max(12.0, max(ages))
    shown = [v for _, at in curves for v in (at[0], at[-1])]
    low, high = min(values + shown), max(values + shown)
    pad = max((high - low) * 0.15, 1.0)
    low, high = max(0.0, low - pad), high + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(age: float) -> float:
        return round(LEFT + plot_w * age / x_top, 1)

    def y(value: float) -> float:
        return round(TOP + plot_h * (1 - (value - low) / (high - low)), 1)

    def area(lo: int, hi: int) -> str:  # between curve lo (forward) and hi (back)
        there = [f"{x(a)},{y(at[hi])}" for a, at in curves]
        back = [f"{x(a)},{y(at[lo])}" for a, at in reversed(curves)]
        return "M" + "L".join(there + back) + "Z"

    bands = el("g", {"class": "reference", "aria-hidden": "true"},
               el("path", {"class": "band-outer", "d": area(0, 6)}),
               el("path", {"class": "band-inner", "d": area(1, 5)}),
               el("path", {"class": "p50", "d": "M" + "L".join(
                   f"{x(a)},{y(at[3])}" for a, at in curves)})) if len(curves) > 1 else None
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
    if bands is not None:
        desc += t(lang, "growth_bands_desc")
    return el("svg", {"class": "chart", "viewBox": f"0 0 {WIDTH} {HEIGHT}", "role": "img",
                      "aria-labelledby": f"{chart_id}-title {chart_id}-desc",
                      "focusable": "false"},
              el("title", {"id": f"{chart_id}-title"}, what),
              el("desc", {"id": f"{chart_id}-desc"}, desc),
              bands, grid, ticks,
              el("text", {"x": WIDTH - RIGHT, "y": HEIGHT - 0.5, "text-anchor": "end",
                          "class": "tick"}, t(lang, "age_months")),
              el("path", {"class": "line", "d": line}),
              el("g", {"class": "dots"}, dots))


def band_text(placed: ref.Placement | None, lang: Lang) -> Markup | str:
    """A measurement's band as read aloud and in the table ("P50–P75（推定P62）")."""
    if placed is None:
        return "—"
    if placed.band == ref.OUTSIDE:
        return t(lang, "band_outside")
    # Whole percentiles, cut not rounded: P49.6 stays "P49", inside its band P25–P50.
    text = placed.band if placed.estimate is None else t(
        lang, "band_estimate", band=placed.band, p=int(placed.estimate))
    if placed.follow_up:
        return el("span", {"class": "follow"}, text, " ", t(lang, "to_follow"))
    return text


def growth_table(points: Sequence[Point], lang: Lang, what: str,
                 placed: Sequence[ref.Placement | None] = ()) -> Markup:
    """The chart's numbers and each one's band, for whoever cannot see it."""
    if not points:
        return Markup("")
    bands = list(placed) + [None] * (len(points) - len(placed))
    rows = [el("tr", None, el("td", None, d), el("td", {"class": "num"}, f"{a:.1f}"),
               el("td", {"class": "num"}, v), el("td", None, band_text(b, lang)))
            for (a, v, d), b in zip(points, bands, strict=True)]
    return el("table", {"class": "chart-data"},
              el("caption", None, what),
              el("thead", None, el("tr", None, el("th", {"scope": "col"}, t(lang, "date")),
                                   el("th", {"scope": "col"}, t(lang, "age_months")),
                                   el("th", {"scope": "col"}, what),
                                   el("th", {"scope": "col"}, t(lang, "band")))),
              el("tbody", None, rows))

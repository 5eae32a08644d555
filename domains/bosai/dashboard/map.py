"""The open shelters on a map, drawn on the server as inline SVG: no tiles, no CDN, no script,
so it works offline in a disaster as the rest of the dashboard does.

The projection is equirectangular with longitude scaled by cos(latitude) at the middle of the
shelters: across a municipality (tens of km) that is within a fraction of a percent of true
distances, enough for "where are the full ones". A circle's area grows with the people in the
shelter and its colour says how full it is against capacity (the legend says the same in
words; the colour is never the only cue: each point has a title, and the same facts are in
the table under the map). A scale bar and a north arrow give distance and direction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from connector.web.markup import Markup, el, join
from domains.bosai.dashboard.i18n import Lang, t
from domains.bosai.dashboard.queries import Shelter

WIDTH = 640
MIN_HEIGHT, MAX_HEIGHT = 260, 480
PAD = 40  # room for the largest circle, the scale bar and the north arrow
MAX_LABELS = 30  # beyond this, names would cover each other: titles and the table say them
METRES_PER_DEGREE = 111_320.0  # of latitude (and of longitude at the equator)
MIN_SPAN_M = 600.0  # one shelter, or a few next door, still get a readable neighbourhood
R_MIN, R_MAX = 5.0, 18.0
BANDS = (("low", 0.5), ("mid", 0.8), ("high", 1.0))  # share below which a band applies


@dataclass(frozen=True)
class Point:
    shelter: Shelter
    x: float
    y: float
    r: float
    band: str


@dataclass(frozen=True)
class Projection:
    lat0: float
    lon0: float  # west edge
    lat1: float  # north edge
    scale: float  # px per metre
    height: int

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        east = (lon - self.lon0) * METRES_PER_DEGREE * math.cos(math.radians(self.lat0))
        south = (self.lat1 - lat) * METRES_PER_DEGREE
        return round(PAD + east * self.scale, 1), round(PAD + south * self.scale, 1)


def band(shelter: Shelter) -> str:
    """How full: low (< 50 %), mid (< 80 %), high (< 100 %), full, or unknown capacity."""
    if not shelter.capacity:
        return "unknown"
    share = shelter.people / shelter.capacity
    return next((name for name, below in BANDS if share < below), "full")


def project(shelters: Sequence[Shelter]) -> Projection:
    lats = [s.lat for s in shelters if s.lat is not None]
    lons = [s.lon for s in shelters if s.lon is not None]
    lat0 = (min(lats) + max(lats)) / 2
    cos0 = math.cos(math.radians(lat0))
    east_m = max((max(lons) - min(lons)) * METRES_PER_DEGREE * cos0, MIN_SPAN_M)
    north_m = max((max(lats) - min(lats)) * METRES_PER_DEGREE, MIN_SPAN_M)
    scale = (WIDTH - 2 * PAD) / east_m
    height = round(north_m * scale + 2 * PAD)
    if height > MAX_HEIGHT:  # a tall area: fit the height instead, centred across
        scale = (MAX_HEIGHT - 2 * PAD) / north_m
        height = MAX_HEIGHT
    height = max(height, MIN_HEIGHT)
    # centre the shelters on the canvas: the edges are half the spare room beyond them
    spare_e = (WIDTH - 2 * PAD) / scale - (max(lons) - min(lons)) * METRES_PER_DEGREE * cos0
    spare_n = (height - 2 * PAD) / scale - (max(lats) - min(lats)) * METRES_PER_DEGREE
    return Projection(lat0=lat0,
                      lon0=min(lons) - spare_e / 2 / (METRES_PER_DEGREE * cos0),
                      lat1=max(lats) + spare_n / 2 / METRES_PER_DEGREE,
                      scale=scale, height=height)


def points(shelters: Sequence[Shelter], projection: Projection) -> list[Point]:
    most = max((s.people for s in shelters), default=0) or 1
    found = []
    for s in shelters:
        if s.lat is None or s.lon is None:
            continue
        x, y = projection.xy(s.lat, s.lon)
        r = R_MIN + (R_MAX - R_MIN) * math.sqrt(s.people / most)  # area ~ people
        found.append(Point(s, x, y, round(r, 1), band(s)))
    return sorted(found, key=lambda p: -p.r)  # small ones drawn last, on top


def nice_distance(metres: float) -> int:
    """The largest of 1, 2, 5 x 10^n metres not above ``metres`` (at least 1 m)."""
    step = 10 ** math.floor(math.log10(max(metres, 1.0)))
    return next((m * step for m in (5, 2, 1) if m * step <= metres), 1)


def distance_text(metres: int) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres} m"


def scale_bar(projection: Projection, lang: Lang) -> Markup:
    metres = nice_distance((WIDTH - 2 * PAD) / 4 / projection.scale)
    length = round(metres * projection.scale, 1)
    x0, y0 = 12, projection.height - 10
    return el("g", {"class": "scale", "aria-hidden": "true"},
              el("path", {"d": f"M{x0},{y0 - 5}V{y0}H{x0 + length}V{y0 - 5}"}),
              el("text", {"x": x0 + length + 6, "y": y0 + 1}, distance_text(metres)))


def north_arrow(lang: Lang) -> Markup:
    x, y = WIDTH - 22, 14
    return el("g", {"class": "north", "aria-hidden": "true"},
              el("path", {"d": f"M{x},{y}l7,20l-7,-5l-7,5z"}),
              el("text", {"x": x, "y": y + 34, "text-anchor": "middle"}, t(lang, "north")))


def point_title(p: Point, lang: Lang) -> str:
    s = p.shelter
    people = (t(lang, "of_capacity", people=f"{s.people:,}", capacity=f"{s.capacity:,}")
              if s.capacity else t(lang, "of_no_capacity", people=f"{s.people:,}"))
    return f"{s.name}: {people} ({t(lang, 'map_' + p.band)})"


def name_label(p: Point) -> Markup:
    """The shelter's name beside its circle, on the side with room (hidden from screen
    readers: the point's title already says it)."""
    left = p.x > WIDTH * 0.6
    return el("text", {"x": round(p.x - p.r - 4 if left else p.x + p.r + 4, 1),
                       "y": round(p.y + 4, 1), "text-anchor": "end" if left else "start",
                       "class": "label", "aria-hidden": "true"}, p.shelter.name)


def map_svg(shelters: Sequence[Shelter], lang: Lang, link: Callable[[str], str]) -> Markup:
    """The open shelters with coordinates, each a link to its page; empty when none has."""
    placed = [s for s in shelters if s.open and s.lat is not None and s.lon is not None]
    if not placed:
        return Markup("")
    projection = project(placed)
    drawn = points(placed, projection)
    named = len(drawn) <= MAX_LABELS
    dots = [el("a", {"href": link(p.shelter.id), "class": "point",
                     "data-shelter": p.shelter.id},
               el("title", None, point_title(p, lang)),
               el("circle", {"cx": p.x, "cy": p.y, "r": p.r, "class": p.band}),
               name_label(p) if named else None)
            for p in drawn]
    return el("svg", {"class": "map", "viewBox": f"0 0 {WIDTH} {projection.height}",
                      "role": "group", "aria-labelledby": "map-title map-desc",
                      "aria-describedby": "map-data"},
              el("title", {"id": "map-title"}, t(lang, "map")),
              el("desc", {"id": "map-desc"}, t(lang, "map_desc", n=len(drawn))),
              el("rect", {"class": "ground", "width": WIDTH, "height": projection.height}),
              scale_bar(projection, lang), north_arrow(lang), dots)


def legend(lang: Lang) -> Markup:
    return el("ul", {"class": "map-legend"},
              [el("li", None, el("svg", {"viewBox": "0 0 12 12", "aria-hidden": "true",
                                         "focusable": "false"},
                                 el("circle", {"cx": 6, "cy": 6, "r": 5, "class": name})),
                  t(lang, f"map_{name}")) for name in ("low", "mid", "high", "full", "unknown")]
              + [el("li", None, t(lang, "map_size"))])


def map_table(shelters: Sequence[Shelter], lang: Lang, link: Callable[[str], str]
              ) -> Markup:
    """The map's facts as a table (for screen readers, and for exact numbers)."""
    placed = [s for s in shelters if s.open and s.lat is not None and s.lon is not None]
    head = [el("th", {"scope": "col"}, t(lang, k)) for k in
            ("shelter", "occupancy", "map_fullness", "latitude", "longitude")]
    rows = [el("tr", None,
               el("th", {"scope": "row"}, el("a", {"href": link(s.id)}, s.name)),
               el("td", None, t(lang, "of_capacity", people=f"{s.people:,}",
                                capacity=f"{s.capacity:,}") if s.capacity
                  else t(lang, "of_no_capacity", people=f"{s.people:,}")),
               el("td", None, t(lang, "map_" + band(s))),
               el("td", {"class": "num"}, f"{s.lat:.5f}"),
               el("td", {"class": "num"}, f"{s.lon:.5f}"))
            for s in placed]
    return el("details", {"class": "chart-data", "id": "map-data"},
              el("summary", None, t(lang, "trend_table")),
              el("div", {"class": "scroll"},
                 el("table", None, el("caption", {"class": "sr-only"}, t(lang, "map")),
                    el("thead", None, el("tr", None, head)), el("tbody", None, rows))))


def unplaced_note(shelters: Sequence[Shelter], lang: Lang) -> Markup | None:
    missing = [s.name for s in shelters if s.open and (s.lat is None or s.lon is None)]
    if not missing:
        return None
    return el("p", {"class": "note"}, t(lang, "map_missing", n=len(missing),
                                        names=("、" if lang == "ja" else ", ").join(missing)))


def map_section(shelters: Sequence[Shelter], lang: Lang, link: Callable[[str], str]
                ) -> Markup:
    svg = map_svg(shelters, lang, link)
    if not svg:
        return join(el("p", {"class": "empty"}, t(lang, "map_empty")),
                    unplaced_note(shelters, lang))
    return join(el("figure", {"class": "map"}, svg, legend(lang)),
                map_table(shelters, lang, link), unplaced_note(shelters, lang))

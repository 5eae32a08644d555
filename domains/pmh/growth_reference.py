"""Where a child's weight, length/height or head circumference falls against the Japanese
growth reference (厚生労働省「令和5年乳幼児身体発育調査」, growth_reference.json: its
source, licence and attribution are in the file and in docs/pmh.md).

Pure: the reference is read once; nothing here does I/O after that.

Method (and its limits). The survey gives the 3rd..97th percentile per sex for age bands
(月齢 1-2か月未満, ..., 6歳0-6か月未満) and two points (birth, day 30). Each band stands at
its mid-age (1-2か月未満 at 1.5 months); birth and day 30 at their day. A child's age is
days since birth / (365.25 / 12) months. Each percentile curve is linear between those
anchors; an age before birth or after the last anchor is outside the reference (no
extrapolation: weight and height to 6y3m, head circumference to 2y9m). Within a day's
curves the value's estimated percentile is linear between the two bracketing curves (a
value halfway between P25 and P50 is P37.5): the real distribution is not linear between
them, so the estimate is a rough position, the band is what the reference states. Below P3
or above P97 there is no estimate, only the band, and it is marked for follow-up: a notice
for the nurse, never a diagnosis. The values are rounded (0.01 kg, 0.1 cm) as transcribed.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any, Literal

Sex = Literal["male", "female"]
DAYS_PER_MONTH = 365.25 / 12
# The hub's measurement kinds -> the reference's measures.
MEASURES = {"body_weight": "weight", "body_height": "height", "head_circumference": "head"}
OUTSIDE = "outside"  # the band of an age the reference does not cover


@dataclass(frozen=True, slots=True)
class Placement:
    band: str               # "<P3", "P3–P10", ..., ">P97", or OUTSIDE
    estimate: float | None  # estimated percentile, one decimal; None below P3, above P97,
    #                         or outside the reference's ages
    follow_up: bool         # below P3 or above P97: a notice, no diagnosis
    edition: str            # the reference's edition ("r5-2023")

    def as_json(self) -> dict[str, Any]:
        return {"band": self.band, "estimate": self.estimate, "followUp": self.follow_up,
                "edition": self.edition}


@dataclass(frozen=True, slots=True)
class Reference:
    edition: str
    percentiles: tuple[int, ...]
    units: dict[str, str]
    attribution: tuple[str, str]  # ja, en
    # measure -> sex -> anchors (age in months, the 7 values), ascending by age
    curves: dict[str, dict[str, tuple[tuple[float, tuple[float, ...]], ...]]]


def _anchor_age(band: dict[str, Any]) -> float:
    if "day" in band:
        return band["day"] / DAYS_PER_MONTH
    low, high = band["age_months"]
    return (low + high) / 2


@cache
def reference() -> Reference:
    raw = json.loads(resources.files("domains.pmh").joinpath("growth_reference.json")
                     .read_text(encoding="utf-8"))
    curves = {measure: {sex: tuple(sorted((_anchor_age(b), tuple(b[sex])) for b in bands))
                        for sex in ("male", "female")}
              for measure, bands in raw["measures"].items()}
    return Reference(raw["edition"], tuple(raw["percentiles"]), raw["units"],
                     (raw["licence"]["attribution"], raw["licence"]["attribution_en"]),
                     curves)


def age_months(birth: date, measured: date) -> float:
    return (measured - birth).days / DAYS_PER_MONTH


def curves_at(sex: Sex, measure: str, months: float) -> tuple[float, ...] | None:
    """The 7 percentile values on that age (linear between anchors), None outside."""
    anchors = _anchors(sex, measure)
    if months < anchors[0][0] or months > anchors[-1][0]:
        return None
    i = bisect_right([a for a, _ in anchors], months)
    if i >= len(anchors):
        return anchors[-1][1]
    (a0, v0), (a1, v1) = anchors[i - 1], anchors[i]
    f = (months - a0) / (a1 - a0)
    return tuple(lo + (hi - lo) * f for lo, hi in zip(v0, v1, strict=True))


def _anchors(sex: str, measure: str) -> tuple[tuple[float, tuple[float, ...]], ...]:
    ref = reference()
    if measure not in ref.curves:
        raise ValueError(f"growth reference: no measure {measure!r} "
                         f"(one of {', '.join(ref.curves)})")
    if sex not in ("male", "female"):
        raise ValueError(f"growth reference: sex must be 'male' or 'female', not {sex!r}")
    return ref.curves[measure][sex]


def band_label(i: int) -> str:
    """The band between curve i-1 and curve i (0: below the first, 7: above the last)."""
    p = reference().percentiles
    if i == 0:
        return f"<P{p[0]}"
    if i == len(p):
        return f">P{p[-1]}"
    return f"P{p[i - 1]}–P{p[i]}"


def place(sex: Sex, measure: str, months: float, value: float) -> Placement:
    """Where ``value`` (kg or cm) falls at ``months`` of age among the reference's curves."""
    ref = reference()
    at = curves_at(sex, measure, months)
    if at is None:
        return Placement(OUTSIDE, None, False, ref.edition)
    p = ref.percentiles
    if value < at[0]:
        return Placement(band_label(0), None, True, ref.edition)
    if value > at[-1]:
        return Placement(band_label(len(p)), None, True, ref.edition)
    i = max(1, min(bisect_right(at, value), len(p) - 1))  # at[i-1] <= value <= at[i]
    lo, hi = at[i - 1], at[i]
    estimate = p[i - 1] + (p[i] - p[i - 1]) * (value - lo) / (hi - lo)
    return Placement(band_label(i), round(estimate, 1), False, ref.edition)

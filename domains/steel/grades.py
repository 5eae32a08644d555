"""The grade limits of grades.toml as typed values, and finding a certificate's grade."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from typing import Any

from domains.steel import vocab


@dataclass(frozen=True)
class Limit:
    """One limit: ``min``/``max`` (either may be absent), valid within a thickness band
    (``t_min`` exclusive, ``t_max`` inclusive), with the clause it comes from."""

    min: float | None
    max: float | None
    clause: str
    verified: bool
    t_min: float | None = None
    t_max: float | None = None
    element: str = ""
    piece: str = ""

    @classmethod
    def of(cls, d: dict[str, Any]) -> Limit:
        return cls(d.get("min"), d.get("max"), d["clause"], d.get("verified", False),
                   d.get("t_min"), d.get("t_max"), d.get("element", ""), d.get("piece", ""))

    def applies(self, thickness: float | None) -> bool:
        if self.t_min is None and self.t_max is None:
            return True
        if thickness is None:
            return False
        return ((self.t_min is None or thickness > self.t_min)
                and (self.t_max is None or thickness <= self.t_max))

    def text(self) -> str:
        low = "" if self.min is None else f">= {self.min:g}"
        high = "" if self.max is None else f"<= {self.max:g}"
        return " and ".join(p for p in (low, high) if p)


@dataclass(frozen=True)
class Grade:
    designation: str
    standard: str
    label_ja: str
    chemistry: tuple[Limit, ...]
    tensile_strength: Limit | None
    yield_point: tuple[Limit, ...]
    elongation: tuple[Limit, ...]
    charpy: Limit | None


@cache
def grades() -> dict[str, Grade]:
    data = tomllib.loads((vocab.HERE / "grades.toml").read_text(encoding="utf-8"))["grades"]

    def one(name: str, g: dict[str, Any]) -> Grade:
        ts, cv = g.get("tensile_strength"), g.get("charpy")
        return Grade(name, g["standard"], g["label_ja"],
                     tuple(Limit.of(x) for x in g.get("chemistry", [])),
                     Limit.of(ts) if ts else None,
                     tuple(Limit.of(x) for x in g.get("yield_point", [])),
                     tuple(Limit.of(x) for x in g.get("elongation", [])),
                     Limit.of(cv) if cv else None)

    return {name: one(name, g) for name, g in data.items()}


def _norm(text: str) -> str:
    return "".join(text.split()).upper()


def find_grade(designations: list[str]) -> Grade | None:
    """The first grade the hub knows among B02 SteelDesignation entries ("SS400", "JIS G
    3101 SS400", "SS 400")."""
    known = grades()
    for d in designations:
        n = _norm(d)
        for name, grade in known.items():
            if n == name or n.endswith(name):
                return grade
    return None

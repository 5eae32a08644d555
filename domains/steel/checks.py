"""Checks a schema cannot make: each result against its grade's limit (grades.toml), heat
numbers of B07 against C00, and unit slips. A failing certificate is still held; its record
carries every result and ``flagged`` (domains.steel.certificate)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from domains.steel.errors import SteelCode
from domains.steel.grades import Grade, Limit, find_grade

# Steel is iron with at most ~2.1 % carbon; no alloying element of a structural steel
# reaches 30 %. Above these a value was written in another unit (ppm, 0.001 %).
CARBON_MAX_PLAUSIBLE = 2.1
ELEMENT_MAX_PLAUSIBLE = 30.0
# 1 kgf/mm2 = 9.80665 MPa: a "tensile strength" of 20-100 MPa is a structural steel's
# strength written in kgf/mm2 (SS400 is 41-52 kgf/mm2).
KGF_RANGE = (20.0, 100.0)
MPA_UNITS = {"MPA", "N/MM2", "N/MM²"}


@dataclass(frozen=True)
class Result:
    """One property's outcome: ``pass`` or ``fail`` with the limit and its clause."""

    path: str
    property: str
    status: str
    actual: float | str | None
    limit: str = ""
    clause: str = ""
    verified: bool = True
    code: str = ""

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", None)}


def _number(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("Value")
    try:
        return float(str(value).replace(",", "."))
    except (TypeError, ValueError):
        return None


def _inspections(cert: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    group = cert.get("Inspection")
    if isinstance(group, list):
        return [(f"/Certificate/Inspection/{i}", g) for i, g in enumerate(group)]
    return [("/Certificate/Inspection", group)] if isinstance(group, dict) else []


def thickness_mm(cert: dict[str, Any]) -> float | None:
    shape = (cert.get("ProductDescription") or {}).get("B09") or {}
    if str(shape.get("Unit", "mm")).lower() != "mm":
        return None
    return _number(shape.get("Thickness", shape.get("WallThickness")))


def designations(cert: dict[str, Any]) -> list[str]:
    b02 = ((cert.get("ProductDescription") or {}).get("B02") or {}).get("SteelDesignation")
    return [b02] if isinstance(b02, str) else [d for d in b02 or [] if isinstance(d, str)]


def heat_numbers(cert: dict[str, Any]) -> list[str]:
    b07 = (cert.get("ProductDescription") or {}).get("B07")
    values = [b07] if isinstance(b07, str) else list(b07 or [])
    return list(dict.fromkeys(str(v) for v in values))


def _against(path: str, prop: str, actual: float, limit: Limit) -> Result:
    ok = ((limit.min is None or actual >= limit.min)
          and (limit.max is None or actual <= limit.max))
    return Result(path, prop, "pass" if ok else "fail", actual, limit.text(), limit.clause,
                  limit.verified, "" if ok else SteelCode.GRADE_LIMIT.value)


def _chemistry(path: str, insp: dict[str, Any], grade: Grade | None,
               t: float | None) -> Iterator[Result]:
    for key, el in (insp.get("ChemicalComposition") or {}).items():
        if not isinstance(el, dict) or "Symbol" not in el:
            continue
        symbol, value = el["Symbol"], _number(el.get("Actual"))
        at = f"{path}/ChemicalComposition/{key}"
        if value is None or str(el.get("Unit", "%")) != "%" or symbol == "CEV":
            continue
        ceiling = CARBON_MAX_PLAUSIBLE if symbol == "C" else ELEMENT_MAX_PLAUSIBLE
        if value > ceiling:
            yield Result(at, symbol, "fail", value, f"<= {ceiling:g} % for any steel",
                         "unit check", True, SteelCode.UNIT_SLIP.value)
            continue
        for limit in grade.chemistry if grade else ():
            if limit.element == symbol and limit.applies(t):
                yield _against(at, symbol, value, limit)


def _tensile(path: str, insp: dict[str, Any], grade: Grade | None,
             t: float | None) -> Iterator[Result]:
    test = insp.get("TensileTest") or {}
    for key, prop, limits in (("C11", "yield_point", grade.yield_point if grade else ()),
                              ("C12", "tensile_strength",
                               (grade.tensile_strength,) if grade and grade.tensile_strength
                               else ()),
                              ("C13", "elongation", grade.elongation if grade else ())):
        entry, at = test.get(key), f"{path}/TensileTest/{key}"
        value = _number(entry)
        if value is None:
            continue
        unit = "".join(str(entry.get("Unit", "")).split()).upper()
        if key != "C13" and (unit.startswith("KGF") or (unit in MPA_UNITS
                                                       and KGF_RANGE[0] <= value < KGF_RANGE[1])):
            yield Result(at, prop, "fail", value, "MPa (N/mm2) expected", "unit check", True,
                         SteelCode.UNIT_SLIP.value)
            continue
        applicable = [lim for lim in limits if lim.applies(t)]
        if limits and not applicable:
            yield Result(at, prop, "unchecked", value, "the limit depends on the thickness",
                         limits[0].clause, limits[0].verified, "")
            continue
        if key == "C13" and len(applicable) > 1:
            # Elongation depends on the test piece too: the one the certificate names
            # ("1A号" in the property text), else the laxest band.
            named = [lim for lim in applicable if lim.piece and lim.piece in
                     str(entry.get("Property", ""))]
            applicable = named[:1] or [min(applicable, key=lambda lim: lim.min or 0)]
        for limit in applicable:
            yield _against(at, prop, value, limit)


def _charpy(path: str, insp: dict[str, Any], grade: Grade | None,
            t: float | None) -> Iterator[Result]:
    if not grade or not grade.charpy or not grade.charpy.applies(t):
        return
    mean = _number((insp.get("NotchedBarImpactTest") or {}).get("C43"))
    at = f"{path}/NotchedBarImpactTest/C43"
    if mean is None:
        yield Result(at, "charpy", "fail", None, grade.charpy.text() + " J (required)",
                     grade.charpy.clause, grade.charpy.verified, SteelCode.GRADE_LIMIT.value)
    else:
        yield _against(at, "charpy", mean, grade.charpy)


def check(document: dict[str, Any]) -> tuple[Grade | None, list[Result]]:
    """The certificate's grade (None if the hub holds no limits for it) and every result."""
    cert = document.get("Certificate") or {}
    grade, t = find_grade(designations(cert)), thickness_mm(cert)
    results: list[Result] = []
    if grade is None and designations(cert):
        results.append(Result("/Certificate/ProductDescription/B02/SteelDesignation", "grade",
                              "unchecked", ", ".join(designations(cert)),
                              code=SteelCode.GRADE_UNKNOWN.value))
    heats = heat_numbers(cert)
    for path, insp in _inspections(cert):
        heat = insp.get("C00")
        if heats and heat is not None and str(heat) not in heats:
            results.append(Result(f"{path}/C00", "heat_number", "fail", str(heat),
                                  "one of B07: " + ", ".join(heats), "EN 10168 B07/C00", True,
                                  SteelCode.HEAT_MISMATCH.value))
        results += [*_chemistry(path, insp, grade, t), *_tensile(path, insp, grade, t),
                    *_charpy(path, insp, grade, t)]
    return grade, results


def flagged(results: list[Result]) -> bool:
    return any(r.status == "fail" for r in results)

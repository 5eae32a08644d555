"""Certificates for the steel tests: the public EN 10168 examples (tests/fixtures/steel,
CC BY 4.0) and made-up JIS certificates built from one SS400 plate."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "steel" / "en10168"
EXAMPLES = ("valid_certificate_1", "valid_certificate_2")
VALID = (*EXAMPLES, "valid_certificate_3", "valid_certificate_4", "valid_certificate_5",
         "valid_certificate_6", "valid_certificate_10")


def example(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_bytes())


def jis(designation: str = "SS400", thickness: float = 12.0, heat: str = "H12345",
        chemistry: dict[str, str] | None = None, tensile: dict[str, Any] | None = None,
        charpy: float | None = None) -> dict[str, Any]:
    """A made-up EN 10168 certificate of a JIS plate (no real mill's data)."""
    elements = chemistry or {"C": "0.15", "Si": "0.20", "Mn": "0.80", "P": "0.020",
                             "S": "0.010"}
    inspection: dict[str, Any] = {
        "C00": heat,
        "ChemicalComposition": {f"C{71 + i}": {"Symbol": s, "Actual": {"Value": v},
                                               "Unit": "%"}
                                for i, (s, v) in enumerate(elements.items())},
        "TensileTest": {k: {"Property": p, "Value": v, "Unit": u} for k, p, v, u in (
            ("C11", "降伏点", 300, "MPa"), ("C12", "引張強さ", 450, "MPa"),
            ("C13", "伸び", 25, "%"))},
    }
    for key, value in (tensile or {}).items():
        inspection["TensileTest"][key] |= value
    if charpy is not None:
        inspection["NotchedBarImpactTest"] = {"C43": {"Value": charpy, "Unit": "J"}}
    # The shape of example 1 (every group the schema requires), with JIS values.
    doc = example("valid_certificate_1")
    cert = doc["Certificate"]
    cert["CommercialTransaction"]["A01"]["Name"] = "例示製鋼株式会社"
    cert["CommercialTransaction"]["A03"] = "MC-2026-0001"
    product = cert["ProductDescription"]
    product["B01"] = "一般構造用角形鋼管"
    product["B02"]["SteelDesignation"] = [designation]
    product["B07"] = [heat]
    product["B09"]["WallThickness"] = thickness
    cert["Inspection"] = {**{k: v for k, v in cert["Inspection"].items()
                             if k not in ("NotchedBarImpactTest",)}, **inspection}
    return doc


def edited(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``document`` with the value at the JSON pointer ``path`` replaced."""
    doc = copy.deepcopy(document)
    *parents, last = path.strip("/").split("/")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = value
    return doc

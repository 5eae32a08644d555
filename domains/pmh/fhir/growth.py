"""A child's growth Observation in FHIR gains where it falls against the growth reference
(``domains.pmh.growth_reference``): ``interpretation`` with the band (code ``<P3``,
``P3-P10``, ..., ``>P97`` of ``systems.GROWTH_BAND``, the reference's edition as the
Coding's ``version``) and, inside P3-P97, the estimated percentile in the extension
``systems.EXT_GROWTH_PERCENTILE``.

Derived, never read back: the placement depends on the child's sex and birth date and on
the reference's edition, which the municipality applies itself (``hub.growth``); an
imported Observation's interpretation is ignored, so the round trip keeps exactly what the
model holds. Written only when the child's record is in the same export.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from domains.pmh import growth_reference as ref
from domains.pmh.fhir import systems
from domains.pmh.fhir.refs import Json


def placement(record: Mapping[str, Any], children: Mapping[str, Mapping[str, Any]]
              ) -> ref.Placement | None:
    measure = ref.MEASURES.get(record.get("measurement", ""))
    child = children.get(record.get("subject", ""))
    if measure is None or child is None or child.get("sex") not in ("male", "female") \
            or not child.get("birthDate") or not isinstance(record.get("value"), int | float):
        return None
    months = ref.age_months(date.fromisoformat(child["birthDate"]),
                            date.fromisoformat(str(record["effective"])[:10]))
    placed = ref.place(child["sex"], measure, months, float(record["value"]))
    return None if placed.band == ref.OUTSIDE else placed


def annotate(resource: Json, placed: ref.Placement) -> None:
    """Add the placement to an Observation resource written by ``observation.to_fhir``."""
    code = placed.band.replace("–", "-")
    resource["interpretation"] = [{"coding": [{
        "system": systems.GROWTH_BAND, "version": placed.edition, "code": code,
        "display": f"{code} (growth reference {placed.edition})"}], "text": code}]
    if placed.estimate is not None:
        resource.setdefault("extension", []).append(
            {"url": systems.EXT_GROWTH_PERCENTILE, "valueDecimal": placed.estimate})

"""Municipalities and clinics as FHIR References by identifier (no Organization resource is
sent: the 全国地方公共団体コード or 医療機関コード identifies them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domains.pmh.fhir import systems
from domains.pmh.fhir.refs import Json


def to_fhir(organisation: Mapping[str, Any], system: str) -> Json:
    out: Json = {}
    if "code" in organisation:
        out["identifier"] = {"system": system, "value": organisation["code"]}
    if "name" in organisation:
        out["display"] = organisation["name"]
    return out


def from_fhir(reference: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if not isinstance(reference, Mapping):
        return out
    found = reference.get("identifier")
    if isinstance(found, Mapping) and isinstance(found.get("value"), str):
        out["code"] = found["value"]
    if isinstance(reference.get("display"), str):
        out["name"] = reference["display"]
    return out


def municipality(organisation: Mapping[str, Any]) -> Json:
    return to_fhir(organisation, systems.LOCAL_GOVERNMENT_CODE)


def clinic(organisation: Mapping[str, Any]) -> Json:
    return to_fhir(organisation, systems.MEDICAL_INSTITUTION_CODE)

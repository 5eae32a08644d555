"""Observation (a checkup measurement) <-> Observation: LOINC where a code exists (the
project's own code system where none does: oedema, hearing screening), UCUM units, blood
pressure as the LOINC panel with two components, gestational age in days, dipstick and
oedema grades and hearing results as codings.

Values are checked on the way in with the record's own checks (``model.checks``), reported
at the FHIR element they came from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from domains.pmh import vocab
from domains.pmh.errors import PmhCode, PmhInputError
from domains.pmh.fhir import systems
from domains.pmh.fhir.refs import Json, Reader, Writer, coding
from domains.pmh.model.checks import check_measurement
from domains.pmh.vocab import Measurement

CATEGORIES = {
    "vital-signs": ("body_weight", "body_height", "blood_pressure", "heart_rate",
                    "head_circumference"),
    "laboratory": ("urine_protein", "urine_glucose"),
    "survey": ("epds_total",),
}
_CATEGORY = {kind: cat for cat, kinds in CATEGORIES.items() for kind in kinds}
_BY_CODE = {(m.system, m.code): m for m in vocab.MEASUREMENTS.values()}
_DAYS_PER = {"d": 1, "wk": 7}  # gestational age units accepted (UCUM)


def _concept(m: Measurement) -> Json:
    return {"coding": [{"system": m.system, "code": m.code, "display": m.en}], "text": m.ja}


def _quantity(value: float, unit: str) -> Json:
    return {"value": value, "unit": unit, "system": systems.UCUM, "code": unit}


def to_fhir(record: Mapping[str, Any], writer: Writer) -> Json:
    m = vocab.MEASUREMENTS[record["measurement"]]
    out = writer.head("Observation", record)
    out["status"] = "final"
    out["category"] = [{"coding": [{"system": systems.OBSERVATION_CATEGORY,
                                    "code": _CATEGORY.get(m.kind, "exam")}]}]
    out["code"] = _concept(m)
    out["subject"] = writer.ref(record["subject"], "subject")
    if "encounter" in record:
        out["encounter"] = writer.ref(record["encounter"], "encounter")
    out["effectiveDateTime"] = record["effective"]
    if m.shape == "quantity":
        out["valueQuantity"] = _quantity(record["value"], m.unit)
    elif m.shape == "score":
        out["valueInteger"] = record["value"]
        if "epdsItem10" in record:  # the item beside its total, as a component
            out["component"] = [{"code": _concept(vocab.EPDS_ITEM10),
                                 "valueInteger": record["epdsItem10"]}]
    elif m.shape in ("grade", "hearing"):
        system, labels = _coded(m)
        token = record[m.shape]
        out["valueCodeableConcept"] = {"coding": [{"system": system, "code": token,
                                                   "display": labels[token][0]}]}
    elif m.shape == "ga":
        out["valueQuantity"] = _quantity(record["weeks"] * 7 + record["days"], "d")
    elif m.shape == "bp":
        out["component"] = [{"code": _concept(part), "valueQuantity": _quantity(
            record[part.kind], part.unit)} for part in (vocab.SYSTOLIC, vocab.DIASTOLIC)]
    return out


def _coded(m: Measurement) -> tuple[str, vocab.Labels]:
    return (systems.GRADE, vocab.GRADES) if m.shape == "grade" else \
        (systems.HEARING, vocab.HEARING_RESULTS)


def measurement_of(resource: Mapping[str, Any]) -> Measurement | None:
    concept = resource.get("code")
    for found in (concept.get("coding") or ()) if isinstance(concept, Mapping) else ():
        if isinstance(found, Mapping) and (found.get("system"), found.get("code")) in _BY_CODE:
            return _BY_CODE[found["system"], found["code"]]
    return None


def from_fhir(reader: Reader) -> Json:
    resource = reader.resource
    m = measurement_of(resource)
    if m is None:
        raise PmhInputError(f"{reader.at('code')}: pmh holds no observation of this code "
                            "(see domains/pmh/vocab.py MEASUREMENTS)", field=reader.at("code"),
                            code=PmhCode.FHIR_UNSUPPORTED)
    out = reader.head(vocab.OBSERVATION)
    out["subject"] = reader.ref(reader.need("subject"), reader.at("subject"), "Patient")
    if "encounter" in resource:
        out["encounter"] = reader.ref(resource["encounter"], reader.at("encounter"),
                                      "Encounter")
    out["effective"] = reader.need("effectiveDateTime")
    out["measurement"] = m.kind
    where: dict[str, str] = {}
    if m.shape == "quantity":
        out["value"] = _value(reader, "valueQuantity", m.unit)
        where["value"] = reader.at("valueQuantity", "value")
    elif m.shape == "score":
        out["value"] = reader.need("valueInteger")
        where["value"] = reader.at("valueInteger")
        if m.kind == "epds_total":
            _epds_item10(reader, out, where)
    elif m.shape in ("grade", "hearing"):
        system, labels = _coded(m)
        token = coding(reader.need("valueCodeableConcept"), system)
        if token not in labels:
            raise PmhInputError(f"{reader.at('valueCodeableConcept')}: pmh needs a coding of "
                                f"{system}", field=reader.at("valueCodeableConcept"),
                                code=PmhCode.FHIR_UNSUPPORTED)
        out[m.shape] = token
    elif m.shape == "ga":
        out["weeks"], out["days"] = _gestational_age(reader)
        where["weeks"] = where["days"] = reader.at("valueQuantity", "value")
    elif m.shape == "bp":
        for part in (vocab.SYSTOLIC, vocab.DIASTOLIC):
            index, component = _component(reader, part)
            value = _value(reader, f"component[{index}].valueQuantity", part.unit,
                           component.get("valueQuantity"))
            out[part.kind] = int(value) if value == int(value) else value
            where[part.kind] = reader.at("component", index, "valueQuantity", "value")
    check_measurement(out, lambda name: where.get(name, reader.at(name)))
    return out


def _epds_item10(reader: Reader, out: Json, where: dict[str, str]) -> None:
    """EPDS item 10 from its component, when the EHR sent it."""
    part = vocab.EPDS_ITEM10
    for index, component in enumerate(reader.resource.get("component") or ()):
        if isinstance(component, Mapping) and coding(component.get("code"),
                                                     part.system) == part.code:
            where["epdsItem10"] = reader.at("component", index, "valueInteger")
            value = component.get("valueInteger")
            if not isinstance(value, int) or isinstance(value, bool):
                raise PmhInputError(f"{where['epdsItem10']} is required by pmh",
                                    field=where["epdsItem10"], code=PmhCode.FHIR_MISSING)
            out["epdsItem10"] = value
            return


def _value(reader: Reader, element: str, unit: str, quantity: Any = None) -> float:
    quantity = reader.need(element) if quantity is None else quantity
    path = f"{reader.path}.{element}"
    if not isinstance(quantity, Mapping) or not isinstance(quantity.get("value"), int | float):
        raise PmhInputError(f"{path}.value is required by pmh", field=f"{path}.value",
                            code=PmhCode.FHIR_MISSING)
    given = quantity.get("code", quantity.get("unit"))
    if given != unit:
        raise PmhInputError(f"{path}.code: pmh holds this in UCUM {unit!r}",
                            field=f"{path}.code", code=PmhCode.FHIR_UNSUPPORTED)
    return quantity["value"]


def _gestational_age(reader: Reader) -> tuple[int, int]:
    quantity = reader.need("valueQuantity")
    path = reader.at("valueQuantity")
    unit = quantity.get("code", quantity.get("unit"))
    value = quantity.get("value")
    if unit not in _DAYS_PER:
        raise PmhInputError(f"{path}.code: pmh reads gestational age in UCUM 'd' or 'wk'",
                            field=f"{path}.code", code=PmhCode.FHIR_UNSUPPORTED)
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise PmhInputError(f"{path}.value is required by pmh", field=f"{path}.value",
                            code=PmhCode.FHIR_MISSING)
    days = value * _DAYS_PER[unit]
    if abs(days - round(days)) > 1e-6:
        raise PmhInputError(f"{path}.value is not a whole number of days", field=f"{path}.value",
                            code=PmhCode.FHIR_UNSUPPORTED)
    return divmod(int(round(days)), 7)


def _component(reader: Reader, part: Measurement) -> tuple[int, Mapping[str, Any]]:
    for index, component in enumerate(reader.resource.get("component") or ()):
        if isinstance(component, Mapping) and coding(component.get("code"),
                                                     part.system) == part.code:
            return index, component
    raise PmhInputError(f"{reader.at('component')}: the {part.en} ({part.system} {part.code}) "
                        "is missing", field=reader.at("component"), code=PmhCode.FHIR_MISSING)

"""Observation (a checkup measurement) <-> Observation: LOINC where a code exists (the
project's own code system where none does: oedema, hearing screening, development items,
the HI titre, HTLV-1, chlamydia), UCUM units, blood pressure as the LOINC panel with two
components, gestational age in days, dipstick and oedema grades, hearing results, answers
and qualitative results as codings, the blood group as 882-1 with its ABO (883-9) and Rh
(10331-7) components, and a pregnancy test's gestational age in the extension
``gestational-age``.

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
from domains.pmh.model import development
from domains.pmh.model.checks import check_measurement
from domains.pmh.vocab import Measurement

CATEGORIES = {
    "vital-signs": ("body_weight", "body_height", "blood_pressure", "heart_rate",
                    "head_circumference"),
    "laboratory": ("urine_protein", "urine_glucose",
                   *(k for k, m in vocab.MEASUREMENTS.items() if m.pregnancy_test)),
    "survey": ("epds_total", "development_item"),
}
_CATEGORY = {kind: cat for cat, kinds in CATEGORIES.items() for kind in kinds}
_BY_CODE = {(m.system, m.code): m for m in vocab.MEASUREMENTS.values()}
_DAYS_PER = {"d": 1, "wk": 7}  # gestational age units accepted (UCUM)
# Coded values: the record field of each shape -> (code system, labels).
_CODED: dict[str, tuple[str, str, vocab.Labels]] = {
    "grade": ("grade", systems.GRADE, vocab.GRADES),
    "hearing": ("hearing", systems.HEARING, vocab.HEARING_RESULTS),
    "development": ("answer", systems.ANSWER, vocab.ANSWERS),
    "qualitative": ("result", systems.LAB_RESULT, vocab.LAB_RESULTS),
}
_BLOOD_GROUP = (("abo", systems.ABO_LOINC, "ABO group", systems.ABO, vocab.ABO_GROUPS),
                ("rhD", systems.RH_LOINC, "Rh type", systems.RH_D, vocab.RH_D))


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
    out["code"] = _development_concept(record) if m.shape == "development" else _concept(m)
    if m.pregnancy_test:
        out["extension"] = [{"url": systems.EXT_GESTATIONAL_AGE, "valueQuantity": _quantity(
            record["weeks"] * 7 + record["days"], "d")}]
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
    elif m.shape in _CODED:
        field, system, labels = _CODED[m.shape]
        out["valueCodeableConcept"] = _coding(system, record[field], labels)
    elif m.shape == "titer":
        out["valueQuantity"] = _quantity(record["value"], m.unit)
        if "comparator" in record:
            out["valueQuantity"] = {"comparator": record["comparator"], **out["valueQuantity"]}
    elif m.shape == "blood_group":
        out["component"] = [{"code": {"coding": [{"system": systems.LOINC, "code": code,
                                                  "display": display}]},
                             "valueCodeableConcept": _coding(system, record[field], labels)}
                            for field, code, display, system, labels in _BLOOD_GROUP]
    elif m.shape == "ga":
        out["valueQuantity"] = _quantity(record["weeks"] * 7 + record["days"], "d")
    elif m.shape == "bp":
        out["component"] = [{"code": _concept(part), "valueQuantity": _quantity(
            record[part.kind], part.unit)} for part in (vocab.SYSTOLIC, vocab.DIASTOLIC)]
    return out


def _coding(system: str, token: str, labels: vocab.Labels) -> Json:
    return {"coding": [{"system": system, "code": token, "display": labels[token][0]}]}


def _development_concept(record: Mapping[str, Any]) -> Json:
    item = development.item(record["checkupAge"], record["item"])
    # An item the table no longer lists (the export's checks refuse it first) keeps its key.
    en, ja = (item.en, item.ja) if item is not None else (record["item"], record["item"])
    return {"coding": [{"system": systems.DEVELOPMENT,
                        "code": f"{record['checkupAge']}.{record['item']}",
                        "display": en}], "text": ja}


def measurement_of(resource: Mapping[str, Any]) -> Measurement | None:
    concept = resource.get("code")
    for found in (concept.get("coding") or ()) if isinstance(concept, Mapping) else ():
        if not isinstance(found, Mapping):
            continue
        if found.get("system") == systems.DEVELOPMENT:
            return vocab.MEASUREMENTS["development_item"]
        if (found.get("system"), found.get("code")) in _BY_CODE:
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
    elif m.shape in _CODED:
        field, system, labels = _CODED[m.shape]
        out[field] = _token(reader, reader.need("valueCodeableConcept"), system, labels,
                            reader.at("valueCodeableConcept"))
        if m.shape == "development":
            out["checkupAge"], out["item"] = _development_item(reader)
            where["item"] = reader.at("code")
    elif m.shape == "titer":
        out["value"] = _value(reader, "valueQuantity", m.unit)
        where["value"] = where["comparator"] = reader.at("valueQuantity", "value")
        if "comparator" in resource["valueQuantity"]:
            out["comparator"] = resource["valueQuantity"]["comparator"]
    elif m.shape == "blood_group":
        for field, code, _, system, labels in _BLOOD_GROUP:
            index, component = _component(reader, vocab.Measurement(
                field, systems.LOINC, code, "", code, "coded"))
            out[field] = _token(reader, component.get("valueCodeableConcept"), system, labels,
                                reader.at("component", index, "valueCodeableConcept"))
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
    if m.pregnancy_test:
        index, quantity = _extension_quantity(reader)
        out["weeks"], out["days"] = _gestational_age(reader, quantity, index)
        where["weeks"] = where["days"] = reader.at("extension", index, "valueQuantity", "value")
    check_measurement(out, lambda name: where.get(name, reader.at(name)))
    return out


def _token(reader: Reader, concept: Any, system: str, labels: vocab.Labels, path: str) -> str:
    token = coding(concept, system) if isinstance(concept, Mapping) else None
    if token not in labels:
        raise PmhInputError(f"{path}: pmh needs a coding of {system}", field=path,
                            code=PmhCode.FHIR_UNSUPPORTED)
    return token


def _development_item(reader: Reader) -> tuple[str, str]:
    """(checkup age, item) from the code "<age>.<item>" of the development code system."""
    code = coding(reader.resource["code"], systems.DEVELOPMENT)
    age, _, key = (code or "").partition(".")
    path = reader.at("code")
    if age not in vocab.CHECKUP_AGES:
        raise PmhInputError(f"{path}: a development item's code is <checkup age>.<item>, "
                            f"the age one of {', '.join(vocab.CHECKUP_AGES)}", field=path,
                            code=PmhCode.FHIR_UNSUPPORTED)
    return age, key


def _extension_quantity(reader: Reader) -> tuple[int, Any]:
    for index, found in enumerate(reader.resource.get("extension") or ()):
        if isinstance(found, Mapping) and found.get("url") == systems.EXT_GESTATIONAL_AGE:
            return index, found.get("valueQuantity")
    path = reader.at("extension")
    raise PmhInputError(f"{path}: a pregnancy test needs the gestational age of its day "
                        f"({systems.EXT_GESTATIONAL_AGE})", field=path,
                        code=PmhCode.FHIR_MISSING)


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


def _gestational_age(reader: Reader, quantity: Any = None, index: int = 0) -> tuple[int, int]:
    """Weeks and days from a quantity in days or weeks: the Observation's value, or the
    pregnancy test's extension (at ``index``)."""
    path = reader.at("valueQuantity") if quantity is None else \
        reader.at("extension", index, "valueQuantity")
    quantity = reader.need("valueQuantity") if quantity is None else quantity
    if not isinstance(quantity, Mapping):
        raise PmhInputError(f"{path} is required by pmh", field=path, code=PmhCode.FHIR_MISSING)
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

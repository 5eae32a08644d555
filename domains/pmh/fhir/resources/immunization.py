"""Immunization <-> Immunization: the vaccine (the project's code system: Japan's routine
vaccines have no CVX codes for every product), dose number and 期 in protocolApplied, lot,
date, the clinic as performer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domains.pmh import vocab
from domains.pmh.errors import PmhCode, PmhInputError
from domains.pmh.fhir import organisations, systems
from domains.pmh.fhir.refs import Json, Reader, Writer, coding


def to_fhir(record: Mapping[str, Any], writer: Writer) -> Json:
    out = writer.head("Immunization", record)
    vaccine = record["vaccine"]
    out["status"] = "completed"
    out["vaccineCode"] = {"coding": [{"system": systems.VACCINE, "code": vaccine,
                                      "display": vocab.VACCINES[vaccine][0]}]}
    out["patient"] = writer.ref(record["subject"], "subject")
    if "encounter" in record:
        out["encounter"] = writer.ref(record["encounter"], "encounter")
    out["occurrenceDateTime"] = record["occurred"]
    if "lotNumber" in record:
        out["lotNumber"] = record["lotNumber"]
    if "clinic" in record:
        out["performer"] = [{"actor": organisations.clinic(record["clinic"])}]
    protocol: Json = {"doseNumberPositiveInt": record["doseNumber"]}
    if "series" in record:
        protocol["series"] = record["series"]
    out["protocolApplied"] = [protocol]
    return out


def from_fhir(reader: Reader) -> Json:
    resource = reader.resource
    out = reader.head(vocab.IMMUNIZATION)
    out["subject"] = reader.ref(reader.need("patient"), reader.at("patient"), "Patient")
    if "encounter" in resource:
        out["encounter"] = reader.ref(resource["encounter"], reader.at("encounter"),
                                      "Encounter")
    vaccine = coding(reader.need("vaccineCode"), systems.VACCINE)
    if vaccine not in vocab.VACCINES:
        raise PmhInputError(f"{reader.at('vaccineCode')}: pmh needs a coding of "
                            f"{systems.VACCINE}", field=reader.at("vaccineCode"),
                            code=PmhCode.FHIR_UNSUPPORTED)
    out["vaccine"] = vaccine
    out["occurred"] = reader.need("occurrenceDateTime")
    protocols = reader.need("protocolApplied")
    dose = protocols[0].get("doseNumberPositiveInt")
    if not isinstance(dose, int):
        path = reader.at("protocolApplied", 0, "doseNumberPositiveInt")
        raise PmhInputError(f"{path} is required by pmh", field=path,
                            code=PmhCode.FHIR_MISSING)
    out["doseNumber"] = dose
    if protocols[0].get("series"):
        out["series"] = protocols[0]["series"]
    if resource.get("lotNumber"):
        out["lotNumber"] = resource["lotNumber"]
    performers = resource.get("performer") or ()
    if performers and isinstance(performers[0], Mapping):
        out["clinic"] = organisations.from_fhir(performers[0].get("actor"))
    return out

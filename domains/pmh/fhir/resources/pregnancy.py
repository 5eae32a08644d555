"""PregnancyRegistration <-> Observation: the 母子健康手帳 issued (effective: the issue date,
performer: the issuing municipality, the project's code: no LOINC code names the handbook),
with the expected delivery date as a component (LOINC 11778-8, Delivery date Estimated)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domains.pmh import vocab
from domains.pmh.errors import PmhCode, PmhInputError
from domains.pmh.fhir import organisations, systems
from domains.pmh.fhir.refs import Json, Reader, Writer, coding, identifier

CODE = {"coding": [{"system": systems.PMH_CODES, "code": vocab.PREGNANCY_REGISTRATION_CODE,
                    "display": "pregnancy registration (maternal and child health handbook "
                               "issued)"}],
        "text": "妊娠届・母子健康手帳の交付"}
EDD = {"coding": [{"system": systems.LOINC, "code": vocab.EXPECTED_DELIVERY_LOINC,
                   "display": "Delivery date Estimated"}], "text": "出産予定日"}


def is_registration(resource: Mapping[str, Any]) -> bool:
    return coding(resource.get("code"), systems.PMH_CODES) == vocab.PREGNANCY_REGISTRATION_CODE


def to_fhir(record: Mapping[str, Any], writer: Writer) -> Json:
    out = writer.head("Observation", record)
    if "handbookNumber" in record:
        out["identifier"].append({"system": systems.HANDBOOK_NUMBER,
                                  "value": record["handbookNumber"]})
    out["status"] = "final"
    out["code"] = CODE
    out["subject"] = writer.ref(record["mother"], "mother")
    out["effectiveDateTime"] = record["handbookIssued"]
    out["performer"] = [organisations.municipality(record["issuingMunicipality"])]
    out["component"] = [{"code": EDD, "valueDateTime": record["expectedDelivery"]}]
    return out


def from_fhir(reader: Reader) -> Json:
    resource = reader.resource
    out = reader.head(vocab.PREGNANCY)
    out["mother"] = reader.ref(reader.need("subject"), reader.at("subject"), "Patient")
    out["handbookIssued"] = reader.need("effectiveDateTime")
    edd = next((c for c in resource.get("component") or () if isinstance(c, Mapping)
                and coding(c.get("code"), systems.LOINC) == vocab.EXPECTED_DELIVERY_LOINC),
               None)
    if edd is None or not edd.get("valueDateTime"):
        raise PmhInputError(f"{reader.at('component')}: the expected delivery date (LOINC "
                            f"{vocab.EXPECTED_DELIVERY_LOINC}) is required by pmh",
                            field=reader.at("component"), code=PmhCode.FHIR_MISSING)
    out["expectedDelivery"] = edd["valueDateTime"]
    performers = reader.need("performer")
    out["issuingMunicipality"] = organisations.from_fhir(performers[0])
    if found := identifier(resource, systems.HANDBOOK_NUMBER):
        out["handbookNumber"] = found[1]
    return out

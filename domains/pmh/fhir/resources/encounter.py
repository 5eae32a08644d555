"""Encounter <-> Encounter: an ambulatory visit, its kind as a type coding, the clinic as
serviceProvider, and (extensions) the paying municipality and the voucher it was paid with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domains.pmh import vocab
from domains.pmh.errors import PmhCode, PmhInputError
from domains.pmh.fhir import organisations, systems
from domains.pmh.fhir.refs import Json, Reader, Writer, coding


def to_fhir(record: Mapping[str, Any], writer: Writer) -> Json:
    out = writer.head("Encounter", record)
    extensions = []
    if "payingMunicipality" in record:
        extensions.append({"url": systems.EXT_PAYING_MUNICIPALITY,
                           "valueReference": organisations.municipality(
                               record["payingMunicipality"])})
    if "voucher" in record:
        extensions.append({"url": systems.EXT_VOUCHER,
                           "valueReference": writer.ref(record["voucher"], "voucher")})
    if extensions:
        out["extension"] = extensions
    kind = record["encounterKind"]
    out["status"] = "finished"
    out["class"] = {"system": systems.ACT_CODE, "code": "AMB", "display": "ambulatory"}
    out["type"] = [{"coding": [{"system": systems.ENCOUNTER_KIND, "code": kind,
                                "display": vocab.ENCOUNTER_KINDS[kind][0]}]}]
    out["subject"] = writer.ref(record["subject"], "subject")
    out["period"] = {"start": record["start"], **({"end": record["end"]} if "end" in record
                                                  else {})}
    if "clinic" in record:
        out["serviceProvider"] = organisations.clinic(record["clinic"])
    return out


def from_fhir(reader: Reader) -> Json:
    resource = reader.resource
    out = reader.head(vocab.ENCOUNTER)
    out["subject"] = reader.ref(reader.need("subject"), reader.at("subject"), "Patient")
    kinds = [coding(t, systems.ENCOUNTER_KIND) for t in resource.get("type") or ()]
    out["encounterKind"] = next((k for k in kinds if k in vocab.ENCOUNTER_KINDS), "other")
    period = reader.need("period")
    if not period.get("start"):
        raise PmhInputError(f"{reader.at('period', 'start')} is required by pmh",
                            field=reader.at("period", "start"), code=PmhCode.FHIR_MISSING)
    out["start"] = period["start"]
    if period.get("end"):
        out["end"] = period["end"]
    if "serviceProvider" in resource:
        out["clinic"] = organisations.from_fhir(resource["serviceProvider"])
    for index, extension in enumerate(resource.get("extension") or ()):
        url = extension.get("url") if isinstance(extension, Mapping) else None
        if url == systems.EXT_PAYING_MUNICIPALITY:
            out["payingMunicipality"] = organisations.from_fhir(extension.get("valueReference"))
        elif url == systems.EXT_VOUCHER:
            out["voucher"] = reader.ref(extension.get("valueReference"),
                                        reader.at("extension", index, "valueReference"),
                                        "Coverage")
    return out

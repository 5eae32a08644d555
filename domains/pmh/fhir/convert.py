"""Which FHIR mapping serves a pmh record, and which pmh record type a FHIR resource is."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from domains.pmh import vocab
from domains.pmh.errors import PmhCode, PmhInputError
from domains.pmh.fhir.refs import Json, Reader, Writer
from domains.pmh.fhir.resources import (
    coverage,
    encounter,
    immunization,
    observation,
    patient,
    pregnancy,
    related_person,
)

ToFhir = Callable[[Mapping[str, Any], Writer], Json]
FromFhir = Callable[[Reader], Json]

TO_FHIR: dict[str, ToFhir] = {
    vocab.MOTHER: patient.to_fhir,
    vocab.CHILD: patient.to_fhir,
    vocab.LINK: related_person.to_fhir,
    vocab.PREGNANCY: pregnancy.to_fhir,
    vocab.ENCOUNTER: encounter.to_fhir,
    vocab.OBSERVATION: observation.to_fhir,
    vocab.IMMUNIZATION: immunization.to_fhir,
    vocab.SUBSIDY: coverage.to_fhir,
    vocab.VOUCHER: coverage.to_fhir,
}
SUPPORTED = ("Patient", "RelatedPerson", "Encounter", "Observation", "Immunization", "Coverage")


def to_fhir(record: Mapping[str, Any], writer: Writer) -> Json:
    """The FHIR R4 resource for a (checked) pmh record."""
    return TO_FHIR[record["type"]](record, writer)


def from_fhir(reader: Reader) -> Json:
    """The pmh record for a (validated) FHIR resource."""
    kind = reader.resource.get("resourceType")
    if kind == "Patient":
        return patient.from_fhir(reader)
    if kind == "RelatedPerson":
        return related_person.from_fhir(reader)
    if kind == "Encounter":
        return encounter.from_fhir(reader)
    if kind == "Observation":
        if pregnancy.is_registration(reader.resource):
            return pregnancy.from_fhir(reader)
        return observation.from_fhir(reader)
    if kind == "Immunization":
        return immunization.from_fhir(reader)
    if kind == "Coverage":
        return coverage.from_fhir(reader)
    raise PmhInputError(f"{reader.at('resourceType')}: pmh holds no {str(kind)[:40]} "
                        f"(only {', '.join(SUPPORTED)})", field=reader.at("resourceType"),
                        code=PmhCode.FHIR_UNSUPPORTED)

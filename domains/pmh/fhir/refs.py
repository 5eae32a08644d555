"""Identity and references across the two sides.

A pmh record's id is an IRI; a FHIR resource's id is at most 64 of [A-Za-z0-9.-]. So each
resource carries its record's IRI as an identifier (system urn:ietf:rfc:3986), its id is the
record's UUID (or a UUID 5 of the IRI), its Bundle fullUrl is ``urn:uuid:<id>``, and
references point at fullUrls. Importing reads the record's IRI back from that identifier, or
takes the entry's fullUrl when a clinic's EHR sent none; references may be fullUrls or
relative (``Patient/123``), and one that names no entry of the Bundle is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domains.pmh import vocab
from domains.pmh.errors import PmhCode, PmhInputError
from domains.pmh.fhir import systems

Json = dict[str, Any]
_NAMESPACE = uuid.UUID("6f1c0d2e-8a43-5b7e-9c1d-2e3f4a5b6c7d")


def resource_id(record_id: str) -> str:
    """The FHIR id of the resource for the record ``record_id``."""
    if record_id.startswith("urn:uuid:"):
        try:
            return str(uuid.UUID(record_id.removeprefix("urn:uuid:")))
        except ValueError:
            pass
    return str(uuid.uuid5(_NAMESPACE, record_id))


def full_url(record_id: str) -> str:
    return "urn:uuid:" + resource_id(record_id)


class Writer:
    """Model to FHIR: references to the records being exported together."""

    def __init__(self, records: Iterable[Mapping[str, Any]]) -> None:
        self.ids = {r["id"] for r in records}
        self.where = ""  # which record is being written, for errors: "records[3] "

    def ref(self, record_id: str, field: str) -> Json:
        """A Reference to the record ``record_id``, which must be exported too."""
        if record_id not in self.ids:
            path = f"{self.where}$.{field}"
            raise PmhInputError(f"{path} names a record that is not among those exported: "
                                "export it too, so that the Bundle's references resolve",
                                field=path, code=PmhCode.FHIR_REFERENCE)
        return {"reference": full_url(record_id)}

    def head(self, resource_type: str, record: Mapping[str, Any]) -> Json:
        """resourceType, id, meta (version, modified) and the record's IRI as identifier."""
        out: Json = {"resourceType": resource_type, "id": resource_id(record["id"])}
        meta: Json = {}
        if "version" in record:
            meta["versionId"] = str(record["version"])
        if "modified" in record:
            meta["lastUpdated"] = record["modified"]
        provenance = [{"url": url, "valueUri": record[field]}
                      for field, url in systems.PROVENANCE.items() if field in record]
        if provenance:
            meta["extension"] = provenance
        if meta:
            out["meta"] = meta
        out["identifier"] = [{"system": systems.RECORD_ID, "value": record["id"]}]
        return out


@dataclass(frozen=True)
class Target:
    """A Bundle entry a reference may point at."""

    resource_type: str
    record_id: str


@dataclass
class Reader:
    """FHIR to model, for one entry: where it is (for errors), its record id, and the Bundle's
    entries (for references)."""

    resource: Mapping[str, Any]
    path: str
    record_id: str
    targets: Mapping[str, Target] = field(default_factory=dict)
    role: str | None = None  # a Patient's pmh type (Mother, Child), decided by the Bundle

    def at(self, *parts: str | int) -> str:
        out = self.path
        for part in parts:
            out += f"[{part}]" if isinstance(part, int) else f".{part}"
        return out

    def need(self, key: str) -> Any:
        value = self.resource.get(key)
        if value in (None, "", [], {}):
            raise PmhInputError(f"{self.at(key)} is required by pmh", field=self.at(key),
                                code=PmhCode.FHIR_MISSING)
        return value

    def ref(self, value: Any, path: str, *types: str) -> str:
        """The record id of the entry ``value`` (a Reference) points at, of one of ``types``."""
        reference = value.get("reference") if isinstance(value, Mapping) else None
        if not isinstance(reference, str):
            raise PmhInputError(f"{path}.reference is required: pmh links records by "
                                "reference to an entry of the Bundle", field=f"{path}.reference",
                                code=PmhCode.FHIR_MISSING)
        target = self.targets.get(reference) or self.targets.get(relative(reference))
        if target is None:
            raise PmhInputError(f"{path}.reference names no entry of the Bundle",
                                field=f"{path}.reference", code=PmhCode.FHIR_REFERENCE)
        if types and target.resource_type not in types:
            raise PmhInputError(f"{path}.reference names a {target.resource_type}; pmh "
                                f"expects {' or '.join(types)}", field=f"{path}.reference",
                                code=PmhCode.FHIR_REFERENCE)
        return target.record_id

    def head(self, term: str) -> Json:
        """@context, id, type, and version/modified from meta."""
        out: Json = {"@context": list(vocab.RECORD_CONTEXT), "id": self.record_id,
                     "type": term}
        meta = self.resource.get("meta") or {}
        version = meta.get("versionId")
        if isinstance(version, str) and version.isascii() and version.isdigit():
            out["version"] = int(version)
        if isinstance(meta.get("lastUpdated"), str):
            out["modified"] = meta["lastUpdated"]
        for extension in meta.get("extension") or ():
            for field_name, url in systems.PROVENANCE.items():
                if extension.get("url") == url and isinstance(extension.get("valueUri"), str):
                    out[field_name] = extension["valueUri"]
        return out


def relative(reference: str) -> str:
    """``https://ehr.example/fhir/Patient/123/_history/2`` -> ``Patient/123``."""
    parts = reference.split("/_history/")[0].rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else reference


def record_id_of(resource: Mapping[str, Any], full: Any) -> str | None:
    """The pmh record IRI of a resource: its urn:ietf:rfc:3986 identifier, else its fullUrl.
    (Also asked of resources that failed validation, so nothing about their shape is assumed.)
    """
    found = identifier(resource, systems.RECORD_ID)
    if found is not None:
        return found[1]
    return full if isinstance(full, str) and ":" in full else None


def identifier(resource: Mapping[str, Any], system: str) -> tuple[int, str] | None:
    """(index, value) of the resource's first identifier of ``system``."""
    identifiers = resource.get("identifier")
    for index, found in enumerate(identifiers if isinstance(identifiers, list) else ()):
        if isinstance(found, Mapping) and found.get("system") == system \
                and isinstance(found.get("value"), str):
            return index, found["value"]
    return None


def coding(concept: Any, system: str) -> str | None:
    """The code of the first coding of ``system`` in a CodeableConcept."""
    if isinstance(concept, Mapping):
        for found in concept.get("coding") or ():
            if isinstance(found, Mapping) and found.get("system") == system:
                code = found.get("code")
                return code if isinstance(code, str) else None
    return None

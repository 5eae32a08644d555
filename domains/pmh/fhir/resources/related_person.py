"""MotherChildLink <-> RelatedPerson: the child's mother (v3 RoleCode MTH), with the mother's
own Patient in an extension (R4 RelatedPerson cannot reference a Patient as the person)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domains.pmh import vocab
from domains.pmh.errors import PmhCode, PmhInputError
from domains.pmh.fhir import systems
from domains.pmh.fhir.refs import Json, Reader, Writer


def to_fhir(record: Mapping[str, Any], writer: Writer) -> Json:
    out = writer.head("RelatedPerson", record)
    out["extension"] = [{"url": systems.EXT_MOTHER,
                         "valueReference": writer.ref(record["mother"], "mother")}]
    out["patient"] = writer.ref(record["child"], "child")
    out["relationship"] = [{"coding": [{"system": systems.ROLE_CODE, "code": "MTH",
                                        "display": "mother"}]}]
    return out


def from_fhir(reader: Reader) -> Json:
    relationships = reader.resource.get("relationship") or ()
    if not any(c.get("system") == systems.ROLE_CODE and c.get("code") in systems.MOTHER_ROLES
               for r in relationships if isinstance(r, Mapping)
               for c in r.get("coding") or () if isinstance(c, Mapping)):
        raise PmhInputError(f"{reader.at('relationship')}: pmh holds only a child's mother "
                            "(v3-RoleCode MTH or NMTH)", field=reader.at("relationship"),
                            code=PmhCode.FHIR_UNSUPPORTED)
    out = reader.head(vocab.LINK)
    index, extension = mother_extension(reader.resource)
    if extension is None:
        raise PmhInputError(f"{reader.at('extension')}: pmh needs the mother's Patient "
                            f"(extension {systems.EXT_MOTHER})", field=reader.at("extension"),
                            code=PmhCode.FHIR_MISSING)
    out["mother"] = reader.ref(extension.get("valueReference"),
                               reader.at("extension", index, "valueReference"), "Patient")
    out["child"] = reader.ref(reader.need("patient"), reader.at("patient"), "Patient")
    return out


def mother_extension(resource: Mapping[str, Any]) -> tuple[int, Mapping[str, Any] | None]:
    for index, extension in enumerate(resource.get("extension") or ()):
        if isinstance(extension, Mapping) and extension.get("url") == systems.EXT_MOTHER:
            return index, extension
    return -1, None

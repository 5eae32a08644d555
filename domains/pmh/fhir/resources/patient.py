"""Mother and Child <-> Patient (JP Core names, the pmh profile in meta.profile)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domains.pmh import vocab
from domains.pmh.errors import PmhCode, PmhInputError
from domains.pmh.fhir import names, systems
from domains.pmh.fhir.refs import Json, Reader, Writer

PROFILES = {vocab.MOTHER: systems.PROFILE_MOTHER, vocab.CHILD: systems.PROFILE_CHILD}


def to_fhir(record: Mapping[str, Any], writer: Writer) -> Json:
    term = record["type"]
    out = writer.head("Patient", record)
    out.setdefault("meta", {})["profile"] = [PROFILES[term]]
    if found := names.to_fhir(record):
        out["name"] = found
    out["gender"] = "female" if term == vocab.MOTHER else record["sex"]
    out["birthDate"] = record["birthDate"]
    if "address" in record:
        out["address"] = [{"text": record["address"]}]
    return out


def from_fhir(reader: Reader) -> Json:
    term = reader.role  # decided for the whole Bundle (``bundle._roles``)
    if term not in PROFILES:
        raise PmhInputError(f"{reader.at('meta', 'profile')}: cannot tell whether this "
                            "Patient is a mother or a child", field=reader.at("meta", "profile"),
                            code=PmhCode.FHIR_UNSUPPORTED)
    out = reader.head(term)
    out.update(names.from_fhir(reader))
    out["birthDate"] = reader.need("birthDate")
    if term == vocab.CHILD:
        out["sex"] = reader.need("gender")
    addresses = reader.resource.get("address") or ()
    if addresses and isinstance(addresses[0], Mapping) and addresses[0].get("text"):
        out["address"] = addresses[0]["text"]
    return out


def role(resource: Mapping[str, Any]) -> str | None:
    """Mother or Child if the Patient says so in meta.profile."""
    for profile in (resource.get("meta") or {}).get("profile") or ():
        for term, url in PROFILES.items():
            if profile == url:
                return term
    return None

"""A My Number anywhere in a FHIR resource refuses the whole import: also in elements pmh does
not keep (an identifier, a note), since taking the rest would mean having read it. Machine-made
places are skipped (ids, references, code systems, the record IRI), so that a 12-digit run in a
UUID is not mistaken for a person's number."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domains.japanese.mynumber import PersonalNumberRefused, contains_my_number, is_my_number_field
from domains.pmh.fhir import systems

_MACHINE_MADE = frozenset({"id", "fullUrl", "reference", "system", "url", "profile",
                           "resourceType", "versionId", "lastUpdated"})


def refuse_my_number(value: Any, path: str) -> None:
    """``PersonalNumberRefused`` naming the element if ``value`` holds a My Number."""
    if isinstance(value, str):
        if contains_my_number(value):
            raise PersonalNumberRefused(f"{path} looks like a My Number (個人番号); pmh never "
                                        "takes one", field=path)
    elif isinstance(value, int) and not isinstance(value, bool):
        refuse_my_number(str(value), path)
    elif isinstance(value, Mapping):
        record_iri = value.get("system") == systems.RECORD_ID
        for key, item in value.items():
            if is_my_number_field(str(key)):
                raise PersonalNumberRefused(f"{path}.{key} is a My Number field; pmh never "
                                            "takes one", field=f"{path}.{key}")
            if key in _MACHINE_MADE or (record_iri and key == "value"):
                continue
            refuse_my_number(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            refuse_my_number(item, f"{path}[{index}]")

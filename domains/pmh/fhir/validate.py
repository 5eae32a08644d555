"""FHIR validation with ``fhir.resources``' R4B models (element for element R4 for the
resources pmh uses; its R4 models do not import under pydantic 2). Each entry is validated on
its own, so that every invalid one is reported, each with its FHIRPath-like path."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from typing import Any

import pydantic

from domains.pmh.errors import FhirInvalid, PmhCode, PmhInputError
from domains.pmh.fhir.convert import SUPPORTED

_MODULES = {name: name.lower() for name in (*SUPPORTED, "Bundle")}
# fhir.resources checks a code's form, not its value set: the required bindings of the
# elements pmh reads are checked here (FHIR R4 value sets).
REQUIRED_CODES: dict[str, dict[str, frozenset[str]]] = {
    "Bundle": {"type": frozenset({"document", "message", "transaction", "transaction-response",
                                  "batch", "batch-response", "history", "searchset",
                                  "collection"})},
    "Patient": {"gender": frozenset({"male", "female", "other", "unknown"})},
    "Encounter": {"status": frozenset({"planned", "arrived", "triaged", "in-progress",
                                       "onleave", "finished", "cancelled", "entered-in-error",
                                       "unknown"})},
    "Observation": {"status": frozenset({"registered", "preliminary", "final", "amended",
                                         "corrected", "cancelled", "entered-in-error",
                                         "unknown"})},
    "Immunization": {"status": frozenset({"completed", "entered-in-error", "not-done"})},
    "Coverage": {"status": frozenset({"active", "cancelled", "draft", "entered-in-error"})},
    "RelatedPerson": {},
}


@cache
def _model(resource_type: str) -> Any:
    module = importlib.import_module(f"fhir.resources.R4B.{_MODULES[resource_type]}")
    return getattr(module, resource_type)


def problems(resource: Any, path: str) -> list[PmhInputError]:
    """What is wrong with ``resource`` as a FHIR R4 resource pmh reads (empty: valid)."""
    if not isinstance(resource, Mapping):
        return [FhirInvalid(f"{path} is not a JSON object", field=path)]
    kind = resource.get("resourceType")
    if not isinstance(kind, str) or kind not in _MODULES:
        return [PmhInputError(f"{path}.resourceType: pmh holds no {str(kind)[:40]} (only "
                              f"{', '.join(SUPPORTED)})", field=f"{path}.resourceType",
                              code=PmhCode.FHIR_UNSUPPORTED)]
    found = [FhirInvalid(f"{path}.{element}: not a code of its required value set",
                         field=f"{path}.{element}", fhir_error="code_not_in_value_set")
             for element, codes in REQUIRED_CODES[kind].items()
             if element in resource and (not isinstance(resource[element], str)
                                         or resource[element] not in codes)]
    try:
        _model(kind).model_validate(dict(resource))
    except pydantic.ValidationError as exc:
        found += [FhirInvalid(f"{_join(path, e['loc'])}: {e['type']}",
                              field=_join(path, e["loc"]), fhir_error=e["type"])
                  for e in exc.errors()]
    except (KeyError, TypeError, ValueError):
        # fhir.resources raises these for a contained resource of an unknown or non-string
        # resourceType, before it can say where: the resource as a whole is named.
        found.append(FhirInvalid(f"{path}: not a FHIR R4 {kind} (a contained resource or an "
                                 "element of an unknown kind)", field=path,
                                 fhir_error="unreadable"))
    return found


def check(resource: Any, path: str) -> None:
    """Raise the first problem of ``resource``, if any."""
    found = problems(resource, path)
    if found:
        raise found[0]


def _join(path: str, loc: tuple[Any, ...]) -> str:
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path

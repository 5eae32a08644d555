"""The state of the world: facts the enforcing connector supplies to an evaluation.

The JSON form is described by ``usage_policies/schemas/state.schema.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from usage_policies import datatypes
from usage_policies.datatypes import Iri
from usage_policies.errors import PolicyCode, StateError
from usage_policies.operands import canonical_left_operand, find_left_operand
from usage_policies.vocab import ODRL, expand_name, is_absolute_iri


@dataclass(frozen=True, slots=True)
class DutyStatus:
    fulfilled: bool
    at: datetime | None = None


@dataclass(frozen=True)
class State:
    current_time: datetime
    agreement_time: datetime | None = None
    part_of: Mapping[str, frozenset[str]] = field(default_factory=dict)
    use_counts: Mapping[str, int] = field(default_factory=dict)
    duties: Mapping[str, DutyStatus] = field(default_factory=dict)
    events: frozenset[str] = frozenset()
    operands: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.current_time.tzinfo is None:
            raise StateError("current_time must be timezone-aware")
        object.__setattr__(self, "_closure", {})

    def is_part_of(self, member: str, collection: str) -> bool:
        """Transitive membership from the partOf facts (member == collection counts)."""
        if member == collection:
            return True
        closure: dict[str, frozenset[str]] = self._closure  # type: ignore[attr-defined]
        ups = closure.get(member)
        if ups is None:
            seen: set[str] = set()
            todo = [member]
            while todo:
                for up in self.part_of.get(todo.pop(), ()):
                    if up not in seen:
                        seen.add(up)
                        todo.append(up)
            ups = closure[member] = frozenset(seen)
        return collection in ups

    def duty_status(self, *keys: str | None) -> DutyStatus | None:
        for key in keys:
            if key and key in self.duties:
                return self.duties[key]
        return None


@cache
def state_schema() -> dict[str, Any]:
    text = resources.files("usage_policies").joinpath("schemas/state.schema.json").read_text()
    return json.loads(text)


def operand_key(name: str) -> str:
    """State/request keys: full IRI, compact IRI (odrl:, tsunagu:) or a bare ODRL term.
    Aliases of a left operand (``system`` for ``systemDevice``) give the operand's IRI."""
    expanded = expand_name(name)
    return canonical_left_operand(expanded if is_absolute_iri(expanded) else ODRL + name)


def json_value(value: Any, iri: str, path: str) -> Any:
    """A JSON / JSON-LD value from a state or request document, typed for operand ``iri``.

    ``{"@value": 50, "@type": "xsd:decimal", "unit": IRI}`` is a quantity with a unit
    (``odrl:unit``). NaN and infinities are rejected: they are not valid values."""
    if isinstance(value, list):
        return tuple(json_value(v, iri, f"{path}[{i}]") for i, v in enumerate(value))
    spec = find_left_operand(iri)
    unit = None
    typed = False
    if isinstance(value, dict):
        if value.get("unit") is not None:
            unit = value["unit"]
            if not isinstance(unit, str) or not is_absolute_iri(expand_name(unit)):
                raise StateError(f"unit must be an IRI, got {unit!r}", path=f"{path}.unit")
            unit = expand_name(unit)
        if "@id" in value:
            value = Iri(value["@id"])
        elif "@type" in value:
            datatype = expand_name(value["@type"])
            try:
                value = datatypes.convert(value["@value"], datatype)
            except KeyError:
                raise StateError(f"unknown datatype {datatype}", path=path,
                                 code=PolicyCode.UNKNOWN_DATATYPE) from None
            except ValueError as exc:
                raise StateError(str(exc), path=path, code=PolicyCode.DATATYPE) from None
            typed = True
        else:
            value = value["@value"]
    if datatypes.is_non_finite(value):
        raise StateError(f"{value!r} is not a valid value: NaN and infinities are not allowed",
                         path=path, code=PolicyCode.DATATYPE)
    if spec is not None:
        if typed:
            value = spec.normalize(value) if spec.normalize else value
        else:
            value = spec.coerce(value, path=path)
    return value if unit is None else datatypes.Quantity(value, unit)


def parse_state(document: Mapping[str, Any]) -> State:
    """Validate a state document against its JSON schema and type its values."""
    try:
        jsonschema.validate(document, state_schema())
    except jsonschema.ValidationError as exc:
        where = "state" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]"
                                  for p in exc.absolute_path)
        raise StateError(exc.message, path=where) from None
    times = {}
    for key in ("currentTime", "agreementTime"):
        if document.get(key) is not None:
            try:
                times[key] = datatypes.parse_datetime(document[key])
            except ValueError as exc:
                raise StateError(str(exc), path=f"state[{key!r}]",
                                 code=PolicyCode.DATATYPE) from None
    now = times["currentTime"]
    part_of: dict[str, set[str]] = {}
    for fact in document.get("partOf", ()):
        part_of.setdefault(fact["member"], set()).add(fact["collection"])
    duties = {}
    for key, status in document.get("duties", {}).items():
        at = status.get("at")
        try:
            duties[key] = DutyStatus(status["fulfilled"],
                                     datatypes.parse_datetime(at) if at else None)
        except ValueError as exc:
            raise StateError(str(exc), path=f"state.duties[{key!r}].at") from None
        duties.setdefault(operand_key(key), duties[key])  # odrl:delete, delete -> full IRI
    operands = {}
    for name, value in document.get("operands", {}).items():
        iri = operand_key(name)
        operands[iri] = json_value(value, iri, f"state.operands[{name!r}]")
    return State(
        current_time=now,
        agreement_time=times.get("agreementTime"),
        part_of={k: frozenset(v) for k, v in part_of.items()},
        use_counts=dict(document.get("useCounts", {})),
        duties=duties,
        events=frozenset(Iri(operand_key(e)) for e in document.get("events", ())),
        operands=operands,
    )

"""Facts about the world a connector asserts when it evaluates usage policies.

Some constraints depend on the world, not on the request: "only while the disaster phase is
response" needs somebody to say which phase holds. The participant that may say so (the
municipality for its area) sets the fact on its connector, in ``[facts]`` of participant.toml
or through the app API; every policy decision this connector makes then sees it as a state
operand (usage_policies gives state facts precedence over a requester's claims). Changes are
persisted and audited. A fact nobody set is simply absent, so constraints on it fail closed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import orjson

from connector.control.audit import AuditLog
from connector.errors import ConnectorCode
from connector.store.database import Store
from trust.errors import ValidationError
from usage_policies.errors import PolicyError
from usage_policies.operands import find_left_operand
from usage_policies.state import json_value, operand_key
from usage_policies.vocab import TSUNAGU


def _operand_iri(name: str) -> str:
    """ODRL terms and tsunagu terms may both be named bare ("purpose", "disasterPhase")."""
    iri = operand_key(name)
    if find_left_operand(iri) is None and ":" not in name:
        return operand_key(TSUNAGU + name)
    return iri


def _typed(name: str, value: Any) -> tuple[str, Any]:
    iri = _operand_iri(name)
    operand = find_left_operand(iri)
    if operand is None:
        raise ValidationError(f"fact {name!r} names no known left operand",
                              code=ConnectorCode.FACT_INVALID,
                              field=name)
    # An operand with a closed vocabulary (a domain's disaster phases): a fact outside it is
    # a typo, and a typo must not silently become a value no rule will ever match (or worse,
    # one that does).
    vocabulary = operand.vocabulary
    if vocabulary is not None and (not isinstance(value, str) or vocabulary.token(value) is None):
        raise ValidationError(f"fact {name!r} must be one of {', '.join(vocabulary.labels)}",
                              code=ConnectorCode.FACT_INVALID, field=name)
    try:
        return iri, json_value(value, iri, f"facts.{name}")
    except PolicyError as exc:
        raise ValidationError(f"fact {name!r} cannot be set: {exc}",
                              code=ConnectorCode.FACT_INVALID,
                              field=name) from exc


class WorldFacts:
    def __init__(self, store: Store, audit: AuditLog, initial: Mapping[str, Any]) -> None:
        self.store, self.audit = store, audit
        self._raw: dict[str, Any] = {}
        self._typed: dict[str, Any] = {}
        for name, value in initial.items():
            iri, typed = _typed(name, value)
            self._raw[iri], self._typed[iri] = value, typed
        # Values set at run time outlive restarts and win over the config file.
        for iri, text in store.query("SELECT operand, value FROM facts"):
            value = orjson.loads(text)
            self._raw[iri], self._typed[iri] = value, _typed(iri, value)[1]
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each change (the usage gate decides afresh)."""
        self._listeners.append(listener)

    def operands(self) -> Mapping[str, Any]:
        return MappingProxyType(self._typed)

    def as_json(self) -> dict[str, Any]:
        return dict(self._raw)

    def set(self, name: str, value: Any) -> str:
        iri, typed = _typed(name, value)
        with self.store.transaction() as db:
            db.execute("INSERT OR REPLACE INTO facts (operand, value) VALUES (?, ?)",
                       (iri, orjson.dumps(value).decode()))
            self.audit.append("fact_set", datetime.now(UTC), fact=iri,
                              value=value if isinstance(value, str | int | bool) else "(json)")
        self._raw[iri], self._typed[iri] = value, typed
        for listener in self._listeners:
            listener()
        return iri

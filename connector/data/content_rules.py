"""Domain content rules: what a record may not contain, checked before anything of it is stored.

A domain plug-in declares ``content_rules`` by record type IRI
(``connector.plugins.contract.ContentRule``; bosai refuses a My Number in any free-text
field of its records). The connector runs the rules of every type a record has, on both ends
of a transfer:

* sending: ``RecordService`` runs them on each new version before it is signed, so a refused
  record gets the rule's error (``personal_number.refused``, naming the field path) and
  nothing is written, as with a schema error;
* receiving: the pull loop runs them after the proof check, so a refused record goes to the
  dead letters with its code and reason, nothing of it is stored or handed to apps or
  domains, and the provider is told (``connector.data.refusals``).

A rule's error names paths, never values: it reaches logs, dead-letter rows, problem bodies
and the other participant. The record's types are expanded with the connector's bundled
contexts (one domain's "Evacuee" is not another's), once per distinct (context, type) pair.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from trust import jsonld
from trust.errors import TsunaguError

ContentRule = Callable[[Mapping[str, Any]], None]
"""``rule(record)``: raise a ``TsunaguError`` naming the offending field's path to refuse."""

_MAX_CACHED = 4096


class ContentRules:
    """The rules of the active plug-ins, by record type IRI."""

    def __init__(self, rules: Iterable[tuple[str, ContentRule]] = (),
                 contexts: jsonld.ContextRegistry = jsonld.CORE_CONTEXTS) -> None:
        self._contexts = contexts  # the connector's: a record names its domain's context
        self._rules: dict[str, list[ContentRule]] = {}
        for iri, rule in rules:
            self._rules.setdefault(iri, []).append(rule)
        self._types: dict[tuple[Any, Any], tuple[str, ...]] = {}
        self._lock = threading.Lock()  # the pull loop checks records in a worker thread

    def __bool__(self) -> bool:
        return bool(self._rules)

    def check(self, record: Mapping[str, Any]) -> None:
        """Raise the first refusal of a rule for one of ``record``'s types."""
        if not self._rules:
            return
        for iri in self.type_iris(record):
            for rule in self._rules.get(iri, ()):
                rule(record)

    def type_iris(self, record: Mapping[str, Any]) -> tuple[str, ...]:
        """The record's types as IRIs (expanded with the bundled contexts), cached."""
        key = (_frozen(record.get("@context")), _frozen(record.get("type")))
        found = self._types.get(key)
        if found is None:
            found = _expand_types(record, self._contexts)
            with self._lock:
                if len(self._types) >= _MAX_CACHED:
                    self._types.clear()
                self._types[key] = found
        return found


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value


def _expand_types(record: Mapping[str, Any], contexts: jsonld.ContextRegistry
                  ) -> tuple[str, ...]:
    """The record's types as IRIs; none when they do not expand (the JSON-LD check refuses
    such a record on its own)."""
    try:
        nodes = jsonld.expand({"@context": record.get("@context"), "type": record.get("type")},
                              contexts)
    except TsunaguError:
        return ()
    return tuple(t for node in nodes for t in node.get("@type", ()) if isinstance(t, str))

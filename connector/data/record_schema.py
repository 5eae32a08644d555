"""Checking a record against its dataset's JSON schema, compiled once per schema.

Two validators per schema: ``jsonschema_rs`` (compiled, in Rust) answers the common case,
"valid", at about a tenth of the cost of the pure-Python ``jsonschema`` (bench/README.md,
"record schema"); only when it says "invalid" does ``jsonschema`` run, to name every error
the way the rest of the connector reports them. So a record is refused exactly when
``jsonschema`` finds errors: if the two ever disagree on an invalid record (a format the
compiled one checks more strictly), the reference decides; the property test
(tests/connector/test_record_schema.py) holds that whatever the compiled one accepts,
the reference accepts too. Neither fetches anything: a remote ``$ref`` is an error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jsonschema
import jsonschema_rs
from referencing import Registry

from connector.data.datasets import schema_id_for
from connector.protocol.dsp.validation import describe


def _reference_formats(checker: jsonschema.FormatChecker
                       ) -> dict[str, Callable[[str], bool]]:
    """The reference's own check for each format it knows, for the compiled validator to
    call: on those formats the two cannot disagree (the compiled one's own "date" takes
    year 0000, which Python's dates cannot hold). Formats the reference does not check
    the compiled one checks its own way; where that is stricter, the reference decides."""
    return {name: functools.partial(checker.conforms, format=name)
            for name in checker.checkers}


class _Compiled:
    __slots__ = ("fast", "reference")

    def __init__(self, schema: dict[str, Any]) -> None:
        cls = jsonschema.validators.validator_for(schema,
                                                  default=jsonschema.Draft202012Validator)
        # An empty registry: a remote $ref is an error, never a network fetch.
        self.reference = cls(schema, registry=Registry(), format_checker=cls.FORMAT_CHECKER)
        try:
            self.fast: Any = jsonschema_rs.validator_for(
                schema, validate_formats=True, offline=True,
                formats=_reference_formats(cls.FORMAT_CHECKER))
        except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError):
            # A schema the compiled validator cannot take (a $ref it cannot resolve
            # offline): the reference alone, which reports the problem as before.
            self.fast = None


def _fast_ok(fast: Any, document: dict[str, Any]) -> bool:
    try:
        return bool(fast.is_valid(document))
    except (ValueError, OverflowError):  # text it cannot encode, numbers past 64 bits
        return False  # the reference decides


class RecordSchemas:
    """Compiled validators per content-addressed schema id."""

    def __init__(self) -> None:
        self._compiled: dict[str, _Compiled] = {}
        self._last: tuple[object, _Compiled] | None = None

    def errors(self, schema: dict[str, Any], document: dict[str, Any]
               ) -> list[dict[str, str]]:
        """Each rule ``document`` breaks, by path, in path order ([] when it is valid).
        Reasons name the rule, never the value: they reach logs and other participants.
        A schema whose ``$ref`` cannot be resolved locally raises ``Unresolvable``."""
        last = self._last
        if last is not None and last[0] is schema:  # a batch: one schema object, many records
            compiled = last[1]
        else:
            key = schema_id_for(schema)  # hashing the schema costs more than the check
            compiled = self._compiled.get(key)
            if compiled is None:
                compiled = self._compiled[key] = _Compiled(schema)
            self._last = (schema, compiled)
        if compiled.fast is not None and _fast_ok(compiled.fast, document):
            return []
        found = sorted(compiled.reference.iter_errors(document), key=lambda e: e.json_path)
        return [{"path": e.json_path, "reason": describe(e)} for e in found]

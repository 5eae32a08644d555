"""Checks of DSP 2025-1 messages: the official JSON schemas, then JSON-LD expansion.

The schemas in ``schemas/`` are the DSP 2025-1 artifacts, unchanged. They reference each other
by ``$id`` (``https://w3id.org/dspace/2025/1/<folder>/<file>``), so all of them go into one
``referencing.Registry``; nothing is ever fetched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import Any, NoReturn

import jsonschema
from jsonschema.exceptions import ValidationError as SchemaError
from referencing import Registry, Resource

from trust.errors import ValidationError

SCHEMA_BASE = "https://w3id.org/dspace/2025/1/"
SCHEMA_FOLDERS = ("catalog", "common", "negotiation", "transfer")
MAX_REPORTED_ERRORS = 20

# The DSP 2025-1 transfer-termination, transfer-suspension and transfer-error schemas point at
# "transfer-schema.json#definitions/..." without the "/" after "#". That fragment is neither a
# JSON pointer nor a plain-name anchor, so a strict resolver refuses it. We repair exactly
# this reference when loading, instead of editing the vendored files.
_REF_REPAIRS = {
    f"{SCHEMA_BASE}transfer/transfer-schema.json#definitions/AbstractTransferCodeMessage":
        f"{SCHEMA_BASE}transfer/transfer-schema.json#/definitions/AbstractTransferCodeMessage",
}

# @type -> the schema that describes it.
SCHEMA_FOR_TYPE = {
    "CatalogRequestMessage": "catalog/catalog-request-message-schema.json",
    "DatasetRequestMessage": "catalog/dataset-request-message-schema.json",
    "Catalog": "catalog/catalog-schema.json",
    "Dataset": "catalog/dataset-schema.json",
    "CatalogError": "catalog/catalog-error-schema.json",
    "ContractRequestMessage": "negotiation/contract-request-message-schema.json",
    "ContractOfferMessage": "negotiation/contract-offer-message-schema.json",
    "ContractAgreementMessage": "negotiation/contract-agreement-message-schema.json",
    "ContractAgreementVerificationMessage":
        "negotiation/contract-agreement-verification-message-schema.json",
    "ContractNegotiationEventMessage": "negotiation/contract-negotiation-event-message-schema.json",
    "ContractNegotiationTerminationMessage":
        "negotiation/contract-negotiation-termination-message-schema.json",
    "ContractNegotiation": "negotiation/contract-negotiation-schema.json",
    "ContractNegotiationError": "negotiation/contract-negotiation-error-schema.json",
    "TransferRequestMessage": "transfer/transfer-request-message-schema.json",
    "TransferStartMessage": "transfer/transfer-start-message-schema.json",
    "TransferSuspensionMessage": "transfer/transfer-suspension-message-schema.json",
    "TransferCompletionMessage": "transfer/transfer-completion-message-schema.json",
    "TransferTerminationMessage": "transfer/transfer-termination-message-schema.json",
    "TransferProcess": "transfer/transfer-process-schema.json",
    "TransferError": "transfer/transfer-error-schema.json",
}
MESSAGE_TYPES = tuple(SCHEMA_FOR_TYPE)


class DspValidationError(ValidationError):
    """A DSP message failed its schema; ``details["errors"]`` lists ``{path, reason}``."""

    code = "dsp.invalid_message"


def _repair(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (_REF_REPAIRS.get(v, v) if k == "$ref" else _repair(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_repair(item) for item in node]
    return node


@cache
def registry() -> Registry:
    """Every DSP 2025-1 schema, keyed by its ``$id``."""
    root = files("connector.dsp") / "schemas"
    resources = []
    for folder in SCHEMA_FOLDERS:
        for entry in sorted((root / folder).iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".json"):
                contents = _repair(json.loads(entry.read_text(encoding="utf-8")))
                expected = f"{SCHEMA_BASE}{folder}/{entry.name}"
                if contents.get("$id") != expected:
                    raise RuntimeError(f"bundled schema {folder}/{entry.name} has $id "
                                       f"{contents.get('$id')!r}, expected {expected}")
                resources.append((expected, Resource.from_contents(contents)))
    return Registry().with_resources(resources).crawl()


@cache
def _validator(message_type: str) -> jsonschema.protocols.Validator:
    schema = registry().contents(SCHEMA_BASE + SCHEMA_FOR_TYPE[message_type])
    cls = jsonschema.validators.validator_for(schema)  # the schemas declare draft 2019-09
    return cls(schema, registry=registry())


def _fail(message: str, errors: list[dict[str, str]], message_type: str | None = None,
          total: int = 1) -> NoReturn:
    raise DspValidationError(message, type=message_type, errors=errors, total=total)


def validate_message(message: Any) -> str:
    """The message's ``@type`` if it matches its DSP 2025-1 schema; else ``DspValidationError``."""
    if not isinstance(message, dict):
        _fail("a DSP message must be a JSON object",
              [{"path": "$", "reason": "must be a JSON object"}])
    message_type = message.get("@type")
    if not isinstance(message_type, str):
        _fail("the message has no @type string",
              [{"path": "$['@type']", "reason": "is required (a string)"}])
    if message_type not in SCHEMA_FOR_TYPE:
        reason = f"unknown DSP message type {message_type[:100]!r}"
        _fail(f"{reason} (expected one of: {', '.join(MESSAGE_TYPES)})",
              [{"path": "$['@type']", "reason": reason}], message_type)
    # allOf and $ref yield their inner errors; oneOf/anyOf/not come as one error each.
    found = sorted(_validator(message_type).iter_errors(message),
                   key=lambda e: (list(map(str, e.absolute_path)), str(e.validator)))
    if found:
        errors = [{"path": e.json_path, "reason": describe(e)} for e in found]
        shown = errors[:MAX_REPORTED_ERRORS]
        more = len(errors) - len(shown)
        listing = "; ".join(f"{e['path']}: {e['reason']}" for e in shown)
        _fail(f"{message_type} does not match the DSP 2025-1 schema: {listing}"
              + (f"; and {more} more" if more else ""), shown, message_type, len(errors))
    return message_type


def _names(error: SchemaError, key: str) -> str:
    alternatives = error.validator_value if isinstance(error.validator_value, list) else []
    named = [", ".join(alt.get(key, [])) for alt in alternatives if isinstance(alt, dict)]
    return " | ".join(n for n in named if n)


# Reasons name the rule that failed, never the offending value: error texts travel back to
# the counterparty and into logs.
_REASONS: dict[str, Callable[[SchemaError], str]] = {
    "required": lambda e: e.message.replace("is a required property", "is required"),
    "type": lambda e: f"must be of type {e.validator_value}",
    "const": lambda e: f"must be {e.validator_value!r}",
    "enum": lambda e: f"must be one of {', '.join(map(str, e.validator_value))}",
    "minItems": lambda e: f"must have at least {e.validator_value} item(s)",
    "pattern": lambda _: "does not have the required format",
    "contains": lambda e: f"must contain {e.validator_value.get('const', 'a matching item')!r}",
    "oneOf": lambda e: ("must have exactly one of: " + _names(e, "required")
                        if _names(e, "required") else "must match exactly one alternative"),
    "anyOf": lambda e: ("must have at least one of: " + _names(e, "required")
                        if _names(e, "required") else "matches none of the alternatives"),
    "not": lambda e: ("must not have: " + ", ".join(e.validator_value.get("required", []))
                      if "required" in e.validator_value else "matches a forbidden shape"),
}


def describe(error: SchemaError) -> str:
    """A short reason for one schema error."""
    explain = _REASONS.get(str(error.validator))
    return explain(error) if explain else f"fails the {error.validator!r} rule"


def check_jsonld(message: dict[str, Any]) -> None:
    """Expand under the bundled DSP context; raises ``JsonLdError`` on dropped terms,
    remote contexts or syntax errors."""
    from trust import jsonld  # imported here: the schema check does not need a JSON-LD processor

    jsonld.check_no_dropped_terms(message)

"""Checks of DSP 2025-1 messages: the official JSON schemas, then JSON-LD expansion.

The schemas in ``schemas/`` are the DSP 2025-1 artifacts, unchanged. They reference each other
by ``$id`` (``https://w3id.org/dspace/2025/1/<folder>/<file>``), so all of them go into one
``referencing.Registry``; nothing is ever fetched.

Messages come from other participants, so size and nesting are bounded *before* any
recursive code (jsonschema, pyld) sees them: a message nested ~980 levels deep used to end
in ``RecursionError`` inside the schema check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import Any, NoReturn

import jsonschema
import jsonschema_rs
from jsonschema.exceptions import ValidationError as SchemaError
from referencing import Registry, Resource

from connector.errors import ConnectorCode
from trust.errors import ValidationError

SCHEMA_BASE = "https://w3id.org/dspace/2025/1/"
SCHEMA_FOLDERS = ("catalog", "common", "negotiation", "transfer")
MAX_REPORTED_ERRORS = 20
# Real DSP messages nest about 12 levels (catalog > dataset > offer > rule > constraint >
# logical constraint > ...). jsonschema and pyld recurse at least once per level and share the
# interpreter's recursion limit (1000 frames) with the caller's stack: 64 stays far below it
# and far above any real message.
MAX_DEPTH = 64
# Values (objects, arrays, scalars) and characters (keys and strings): a catalog of a few
# thousand datasets fits; the bus already refuses envelopes over 4 MiB.
MAX_VALUES = 250_000
MAX_CHARS = 4 * 1024 * 1024

# The DSP 2025-1 transfer-termination, transfer-suspension and transfer-error schemas point at
# "transfer-schema.json#definitions/..." without the "/" after "#". That fragment is neither a
# JSON pointer nor a plain-name anchor, so a strict resolver refuses it. We repair exactly
# this reference when loading, instead of editing the vendored files.
_REF_REPAIRS = {
    f"{SCHEMA_BASE}transfer/transfer-schema.json#definitions/AbstractTransferCodeMessage":
        f"{SCHEMA_BASE}transfer/transfer-schema.json#/definitions/AbstractTransferCodeMessage",
}

# The published did-service schema requires every entry's serviceEndpoint to end in
# "/catalog", but the specification's own DataService example points at the data service's
# "/.well-known/dspace-version": the pattern is meant for CatalogService entries. Loaded with
# exactly that narrowing (the vendored file stays unchanged): a CatalogService still needs the
# "/catalog" URL, a DataService an http(s) URL.
_DID_SERVICE_ID = f"{SCHEMA_BASE}common/did-service-schema.json"


def _repair_did_service(schema: dict[str, Any]) -> dict[str, Any]:
    entry = schema.get("definitions", {}).get("DidService", {})
    endpoint = entry.get("properties", {}).get("serviceEndpoint")
    if not isinstance(endpoint, dict) or "pattern" not in endpoint:
        return schema
    catalog_pattern = endpoint["pattern"]
    entry["properties"]["serviceEndpoint"] = {"type": "string", "pattern": "^https?://"}
    entry["if"] = {"properties": {"type": {"const": "CatalogService"}}, "required": ["type"]}
    entry["then"] = {"properties": {"serviceEndpoint": {"pattern": catalog_pattern}}}
    return schema


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

# The two documents DSP 2025-1 defines beside its messages, by the name the validator reports.
# The version document of /.well-known/dspace-version is plain JSON (no @context, no @type);
# a DID service entry (catalog or data service in a DID document) says "type", as DID
# documents do, under the W3C DID v1 context.
VERSION_DOCUMENT = "VersionDocument"
DID_SERVICE = "DidService"
DID_V1 = "https://www.w3.org/ns/did/v1"
DOCUMENT_SCHEMAS = {VERSION_DOCUMENT: "common/protocol-version-schema.json",
                    DID_SERVICE: "common/did-service-schema.json"}


class DspValidationError(ValidationError):
    """A DSP message failed its schema; ``details["errors"]`` lists ``{path, reason}``."""

    code = ConnectorCode.DSP_INVALID_MESSAGE


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
    root = files("connector.protocol.dsp") / "schemas"
    resources = []
    for folder in SCHEMA_FOLDERS:
        for entry in sorted((root / folder).iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".json"):
                contents = _repair(json.loads(entry.read_text(encoding="utf-8")))
                expected = f"{SCHEMA_BASE}{folder}/{entry.name}"
                if expected == _DID_SERVICE_ID:
                    contents = _repair_did_service(contents)
                if contents.get("$id") != expected:
                    raise RuntimeError(f"bundled schema {folder}/{entry.name} has $id "
                                       f"{contents.get('$id')!r}, expected {expected}")
                resources.append((expected, Resource.from_contents(contents)))
    return Registry().with_resources(resources).crawl()


@cache
def _validator(message_type: str) -> jsonschema.protocols.Validator:
    schema = registry().contents(
        SCHEMA_BASE + (SCHEMA_FOR_TYPE.get(message_type) or DOCUMENT_SCHEMAS[message_type]))
    cls = jsonschema.validators.validator_for(schema)  # the schemas declare draft 2019-09
    return cls(schema, registry=registry())


def _fail(message: str, errors: list[dict[str, str]], message_type: str | None = None,
          total: int = 1) -> NoReturn:
    raise DspValidationError(message, type=message_type, errors=errors, total=total)


def check_bounds(message: Any) -> None:
    """Refuse a message nested deeper than ``MAX_DEPTH`` (``dsp.too_deep``) or larger than
    ``MAX_VALUES`` values / ``MAX_CHARS`` characters (``dsp.too_large``).

    Iterative, so it is itself safe at any depth; one pass over the message.
    """
    stack: list[tuple[Any, int]] = [(message, 1)]
    values = chars = 0
    while stack:
        node, depth = stack.pop()
        values += 1
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                _limit(ConnectorCode.DSP_TOO_DEEP,
                       f"the message is nested deeper than {MAX_DEPTH} levels")
            if isinstance(node, dict):
                chars += sum(len(k) for k in node if isinstance(k, str))
                children = node.values()
            else:
                children = node
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(node, str):
            chars += len(node)
        if values > MAX_VALUES or chars > MAX_CHARS:
            _limit(ConnectorCode.DSP_TOO_LARGE, f"the message is larger than {MAX_VALUES} "
                   f"values or {MAX_CHARS} characters")


def _limit(code: ConnectorCode, reason: str) -> NoReturn:
    raise DspValidationError(f"{reason}; refused before validation", code=code,
                             errors=[{"path": "$", "reason": reason}], type=None, total=1)


def validate_message(message: Any) -> str:
    """The message's ``@type`` if it matches its DSP 2025-1 schema; else ``DspValidationError``
    (``dsp.too_deep`` and ``dsp.too_large`` before the schema is even tried)."""
    check_bounds(message)
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
    _check_schema(message, message_type)
    return message_type


def document_kind(document: dict[str, Any]) -> str | None:
    """:data:`VERSION_DOCUMENT` or :data:`DID_SERVICE` for the non-message documents of DSP
    2025-1, by their shape; None for anything else (a message has ``@type``)."""
    if "@type" in document:
        return None
    if "@context" not in document and "protocolVersions" in document:
        return VERSION_DOCUMENT
    context = document.get("@context")
    if "type" in document and isinstance(context, list) and DID_V1 in context:
        return DID_SERVICE
    return None


DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"


def is_compact(document: Any) -> bool:
    """In the compact DSP shape the schemas describe: an object with a string ``@type``
    or one of the non-message documents (the fast path: nothing to convert)."""
    return isinstance(document, dict) and "@graph" not in document and (
        isinstance(document.get("@type"), str) or document_kind(document) is not None)


def to_compact(document: Any) -> Any:
    """A DSP message in any JSON-LD form (expanded, flattened into a node array or
    ``@graph`` with blank node references, compacted with another bundled context) in the
    compact DSP 2025-1 shape the schemas check; a compact one is returned as it is.

    Expands with the core contexts (every check of ``trust.jsonld`` applies), resolves
    references (``trust.jsonld.embed``: dangling, cyclic or conflicting ones are refused
    naming the @id), then compacts with the DSP context. A document holding several
    messages, or none, is left as it is for the schema check to refuse.
    """
    if is_compact(document) or not isinstance(document, dict | list):
        return document
    from trust import jsonld

    roots = jsonld.embed(jsonld.expand(document))
    if len(roots) != 1:
        return document
    compact = jsonld.compact(roots[0], [DSP_CONTEXT])
    compact["@context"] = [DSP_CONTEXT]
    if isinstance(compact.get("@id"), str) and compact["@id"].startswith("_:"):
        del compact["@id"]  # a label flattening gave the message, not an identifier
    return compact


def validate_document(document: Any) -> str:
    """Like :func:`validate_message`, and also the version document and DID service entries
    (returns :data:`VERSION_DOCUMENT` or :data:`DID_SERVICE` for them) and messages in any
    JSON-LD form (:func:`to_compact`): for tools that check any DSP 2025-1 document, such as
    ``tsunagu dsp validate``. The bus takes compact messages only."""
    check_bounds(document)
    document = to_compact(document)
    kind = document_kind(document) if isinstance(document, dict) else None
    if kind is None:
        return validate_message(document)
    _check_schema(document, kind)
    return kind


@cache
def _compiled(message_type: str) -> Any:
    """The same schema compiled by jsonschema_rs over the same bundled registry (offline:
    nothing is fetched), or None if it cannot take it. It answers "valid" hundreds of times
    faster than ``jsonschema`` (a 100-dataset Catalog page: 0.2 ms against 130 ms), which
    a catalog node crawling thousands of pages needs; ``jsonschema`` still names the
    errors and decides whenever the compiled one says "invalid". The property test in
    tests/dsp/test_compiled_schemas.py holds that the compiled check is never more lenient."""
    known = registry()
    try:
        resources = jsonschema_rs.Registry([(uri, known.contents(uri)) for uri in known])
        return jsonschema_rs.validator_for(
            known.contents(SCHEMA_BASE + (SCHEMA_FOR_TYPE.get(message_type)
                                          or DOCUMENT_SCHEMAS[message_type])),
            registry=resources, offline=True)
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError):
        return None


def compiled_valid(message: dict[str, Any], message_type: str) -> bool:
    fast = _compiled(message_type)
    try:
        return fast is not None and bool(fast.is_valid(message))
    except (ValueError, OverflowError):  # text it cannot encode, numbers past 64 bits
        return False


def _check_schema(message: dict[str, Any], message_type: str) -> None:
    if compiled_valid(message, message_type):
        return
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
    """Expand with the core contexts (a DSP message names no domain context); raises
    ``JsonLdError`` on dropped terms, remote contexts or syntax errors. Call
    :func:`check_bounds` first on untrusted input."""
    from trust import jsonld  # imported here: the schema check does not need a JSON-LD processor
    from trust.errors import JsonLdError

    kind = document_kind(message)
    if kind == VERSION_DOCUMENT:
        return  # plain JSON by definition: nothing to expand
    if kind == DID_SERVICE:
        # An entry of a DID document's "service": its terms (serviceEndpoint) are scoped to
        # that property by the DID v1 context, so it is checked where it sits.
        entry = {k: v for k, v in message.items() if k != "@context"}
        message = {"@context": message["@context"], "service": [entry]}
    parts = _parts(message)
    try:
        for part in parts:
            jsonld.check_no_dropped_terms(part)
    except JsonLdError:
        if len(parts) == 1:
            raise
        jsonld.check_no_dropped_terms(message)  # the error with its path in the whole
        raise


def _parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A Catalog as itself without its datasets and as one Catalog per dataset: expansion
    treats each element of ``dataset`` alone under the same active context (the message's,
    the Catalog's type-scoped and the property's scoped contexts), so a term is dropped in
    the whole exactly when it is dropped in one part. Parts repeat one dataset shape, which
    the shape cache (trust.jsonld) then answers: a 100-dataset page went from ~90 ms to a
    few, where the whole page's shape was new each time. Anything else: the message."""
    datasets = message.get("dataset")
    if message.get("@type") != "Catalog" or not isinstance(datasets, list) or len(datasets) < 2:
        return [message]
    rest = {k: v for k, v in message.items() if k != "dataset"}
    return [rest, *({**rest, "dataset": [entry]} for entry in datasets)]


def check_received(message: Any) -> str:
    """Everything the bus checks of a DSP message it receives, before any service sees it;
    returns the message's ``@type``.

    Bounds first (``dsp.too_deep``, ``dsp.too_large``: nothing recursive runs on a message
    out of bounds), then the schema (``dsp.invalid_message``), then JSON-LD under bundled
    contexts only (``jsonld.remote_context``, and nothing is fetched; ``jsonld.dropped_term``
    for a term no context defines; ...). The JSON-LD verdict is cached per message shape
    (``trust.jsonld``), so repeated kinds of message cost little; records never pass here.
    """
    message_type = validate_message(message)
    check_jsonld(_without_proofs(message))
    return message_type


# Where tsunagu puts a Data Integrity proof into a DSP message: the provider signs the
# agreement (connector.agreements). eddsa-jcs-2022 signs the JSON (JCS), not a JSON-LD graph,
# and the DSP context defines no "proof", so that one member is left out of the JSON-LD check;
# the service reading the agreement verifies it. Anywhere else "proof" is an undefined term.
_PROOF_AT = {"ContractAgreementMessage": "agreement"}


def _without_proofs(message: dict[str, Any]) -> dict[str, Any]:
    message_type = message.get("@type")
    key = _PROOF_AT.get(message_type) if isinstance(message_type, str) else None
    node = message.get(key) if key is not None else None
    if key is None or not isinstance(node, dict) or "proof" not in node:
        return message
    return {**message, key: {k: v for k, v in node.items() if k != "proof"}}

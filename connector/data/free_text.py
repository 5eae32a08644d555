"""Which strings of a record are free text, read off the record type's JSON schema.

Content rules (``connector.data.content_rules``) look for things that must never be stored, such as
a My Number typed into an address. They must look at every string a person could have typed,
and at nothing else: identifiers, IRIs, dates and digests are machine-made, and a 12-digit run
in them (about 0.2 % of random ``urn:uuid`` ids, 0.3 % of SHA-256 hex digests) is chance, not
a person's number. Which is which is decided by the schema, never by the value:

* not free text: a string whose schema gives ``enum`` or ``const`` (a closed vocabulary),
  a ``format`` in ``NOT_TEXT_FORMATS`` (dates, times, IRIs, UUIDs), or the annotation
  ``"x-tsunagu-identifier": true`` (an id minted by a system: a shelter's 共通ID, a
  household id, a digest);
* free text: every other string, including strings the schema does not describe at all
  (an open ``additionalProperties``, a missing schema): what is not declared is checked.

The JSON-LD keywords ``@context`` and ``type`` and the ``proof`` are never free text: the
JSON-LD check admits only bundled context URLs and defined terms there, and a proof is
checked cryptographically. ``$ref`` (local), ``allOf``, ``oneOf`` / ``anyOf`` (the branches
whose ``type`` fits the value) and ``if``/``then``/``else`` are followed; a declaration counts
where it must hold (``_machine_made``). Paths are JSON paths (``$.address``, ``$.needs[2]``):
what a refusal names instead of the value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

NOT_TEXT_FORMATS = frozenset({"date", "date-time", "time", "duration", "uri", "iri",
                              "uri-reference", "iri-reference", "uuid"})
IDENTIFIER = "x-tsunagu-identifier"
STRUCTURAL = frozenset({"@context", "type", "proof"})
_JSON_TYPES = {"string": str, "object": dict, "array": list, "boolean": bool,
               "integer": int, "number": (int, float), "null": type(None)}

_MAX_DEPTH = 32  # $ref chains deeper than this are not followed (so: free text)

Schema = Mapping[str, Any]


def free_text(document: Mapping[str, Any], schema: Schema | None) -> Iterator[tuple[str, str]]:
    """(JSON path, string) of every free-text string in ``document``, in document order."""
    nodes = None if schema is None else _applicable(schema, document, schema)
    for key, value in document.items():
        if key in STRUCTURAL:
            continue
        yield from _walk(value, _property(nodes, key), _child("$", key), schema)


def _walk(value: Any, nodes: list[Schema] | None, path: str,
          root: Schema | None) -> Iterator[tuple[str, str]]:
    """``nodes``: the schemas that describe this value; None when nothing does."""
    if isinstance(value, str):
        if nodes is None or not any(_machine_made(n, value, root) for n in nodes):
            yield path, value
    elif isinstance(value, Mapping):
        applicable = _expand(nodes, value, root)
        for key, item in value.items():
            yield from _walk(item, _property(applicable, key), _child(path, key), root)
    elif isinstance(value, list):
        applicable = _expand(nodes, value, root)
        for index, item in enumerate(value):
            yield from _walk(item, _item(applicable, index), f"{path}[{index}]", root)


def _child(path: str, key: str) -> str:
    simple = key.isidentifier() and key.isascii()
    return f"{path}.{key}" if simple else f"{path}[{key!r}]"


def _expand(nodes: list[Schema] | None, value: Any, root: Schema | None
            ) -> list[Schema] | None:
    if nodes is None:
        return None
    return [n for node in nodes for n in _applicable(node, value, root)]


def _applicable(node: Any, value: Any, root: Schema | None, depth: int = 0) -> list[Schema]:
    """The schemas that may describe ``value``'s members: ``node`` with its ``$ref``
    resolved, its ``allOf`` branches, the ``oneOf`` / ``anyOf`` branches whose ``type`` fits
    ``value``, and ``then`` / ``else``, flattened."""
    if not isinstance(node, Mapping) or depth > _MAX_DEPTH:
        return []
    out: list[Schema] = [node]
    if isinstance(node.get("$ref"), str):
        out += _applicable(_resolve(node["$ref"], root), value, root, depth + 1)
    for key in ("allOf", "oneOf", "anyOf"):
        for branch in node.get(key) or ():
            if key == "allOf" or _fits(branch, value, root):
                out += _applicable(branch, value, root, depth + 1)
    for key in ("then", "else"):
        out += _applicable(node.get(key), value, root, depth + 1)
    return out


def _machine_made(node: Any, value: str, root: Schema | None, depth: int = 0) -> bool:
    """Whether ``node`` declares the string ``value`` not free text: itself, through its
    ``$ref`` or an ``allOf`` branch (all must hold), or through ``oneOf`` / ``anyOf`` when
    every branch that fits a string declares it. ``then`` / ``else`` hold only sometimes,
    so they never make a string machine-made."""
    if not isinstance(node, Mapping) or depth > _MAX_DEPTH:
        return False
    if ("enum" in node or "const" in node or node.get(IDENTIFIER) is True
            or node.get("format") in NOT_TEXT_FORMATS):
        return True
    if isinstance(node.get("$ref"), str) and _machine_made(_resolve(node["$ref"], root),
                                                            value, root, depth + 1):
        return True
    if any(_machine_made(b, value, root, depth + 1) for b in node.get("allOf") or ()):
        return True
    for key in ("oneOf", "anyOf"):
        fitting = [b for b in node.get(key) or () if _fits(b, value, root)]
        if fitting and all(_machine_made(b, value, root, depth + 1) for b in fitting):
            return True
    return False


def _resolve(ref: str, root: Schema | None) -> Any:
    """A local ``#/...`` reference; anything else resolves to nothing (so: free text)."""
    if root is None or not ref.startswith("#"):
        return None
    node: Any = root
    for part in filter(None, ref[1:].split("/")):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _fits(branch: Any, value: Any, root: Schema | None) -> bool:
    """Whether ``branch``'s ``type`` (if it names one) admits ``value``."""
    if isinstance(branch, Mapping) and isinstance(branch.get("$ref"), str):
        branch = _resolve(branch["$ref"], root)
    declared = branch.get("type") if isinstance(branch, Mapping) else None
    if declared is None:
        return True
    names = declared if isinstance(declared, list) else [declared]
    if isinstance(value, bool):
        return "boolean" in names
    return any(isinstance(value, _JSON_TYPES.get(n, ())) for n in names)


def _property(nodes: list[Schema] | None, key: str) -> list[Schema] | None:
    """The schemas of member ``key`` in every applicable object schema, or None when none
    describes it (then all of it is free text)."""
    if nodes is None:
        return None
    found: list[Schema] = []
    for node in nodes:
        properties = node.get("properties")
        if isinstance(properties, Mapping) and key in properties:
            found.append(properties[key])
        elif isinstance(node.get("additionalProperties"), Mapping):
            found.append(node["additionalProperties"])
    return found or None


def _item(nodes: list[Schema] | None, index: int) -> list[Schema] | None:
    if nodes is None:
        return None
    found: list[Schema] = []
    for node in nodes:
        prefix = node.get("prefixItems")
        if isinstance(prefix, list) and index < len(prefix):
            found.append(prefix[index])
        elif isinstance(node.get("items"), Mapping):
            found.append(node["items"])
    return found or None

"""One tree out of any JSON-LD form: node references resolved into embedded nodes.

RDF tools (rdflib, Jena, triple stores) and ``jsonld.flatten`` write a document as a flat array
(or ``@graph``) of node objects that refer to each other by ``@id``, blank nodes included: a
policy names its rules by ``{"@id": "_:b1"}``. Readers of the project (the policy parser,
DSP message readers) walk trees, so :func:`embed` turns an *expanded* document into the same
tree an embedded document expands to: each reference to a node the document defines is
replaced by that node, and the roots are the nodes nobody refers to.

A document with no such reference (compact and expanded documents as written by tsunagu and
the DSP examples) is returned as it is, after one walk: the fast path.

Refused, each naming the ``@id`` (``JsonLdError``):

* ``jsonld.dangling_reference``: a reference to a blank node the document does not define (a
  blank node means nothing outside its document; an IRI not defined here is just an IRI);
* ``jsonld.reference_cycle``: a blank node that contains itself through references (no tree
  has it). A cycle through an IRI-named node (an offer whose target is the dataset that holds
  the offer) is legitimate RDF: the second visit stays a reference ``{"@id": ...}``;
* ``jsonld.conflicting_node``: a reference to an ``@id`` that two nodes define with different
  content (equal duplicates are one node). Unreferenced duplicates are left alone: the DSP
  2025-1 catalog example gives a dataset and its offer one ``@id``.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from trust.errors import JsonLdError, TrustCode

if TYPE_CHECKING:
    from trust.jsonld.contexts import ContextRegistry

_NODE_KEYWORDS = frozenset({"@id", "@index"})


def _is_reference(value: Any) -> bool:
    return isinstance(value, dict) and value.keys() == {"@id"} and isinstance(value["@id"], str)


def _is_definition(value: Any) -> bool:
    """A node object saying something about its ``@id`` (not a bare reference, not a value)."""
    return (isinstance(value, dict) and isinstance(value.get("@id"), str)
            and "@value" not in value and not value.keys() <= _NODE_KEYWORDS)


def top_nodes(expanded: list[Any]) -> list[dict[str, Any]]:
    """The top-level nodes: array elements, and the members of each ``@graph``."""
    nodes: list[dict[str, Any]] = []
    for item in expanded:
        if not isinstance(item, dict):
            continue
        graph = item.get("@graph")
        if isinstance(graph, list):
            nodes.extend(n for n in graph if isinstance(n, dict))
            if item.keys() <= {"@graph", "@id", "@context"}:
                continue
        nodes.append(item)
    return nodes


def _index(nodes: list[dict[str, Any]], links: frozenset[str]
           ) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Every node definition by @id (nested ones too) and the @ids some reference names."""
    defined: dict[str, dict[str, Any]] = {}
    referenced: set[str] = set()
    stack: list[Any] = list(nodes)
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
            continue
        if not isinstance(value, dict):
            continue
        if _is_reference(value):
            referenced.add(value["@id"])
            continue
        if _is_definition(value):
            ident = value["@id"]
            known = defined.setdefault(ident, value)
            if known is not value and known != value:
                defined[ident] = _conflict(ident, known, value)
        for key, item in value.items():
            if key not in ("@value", "@context") and key not in links:
                stack.append(item)
    return defined, referenced


def _conflict(ident: str, first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Mark a conflict; raised only if a reference has to be resolved to that @id."""
    return {"@id": ident, "__conflict__": (first, second)}


def embed(expanded: list[Any], links: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The roots of ``expanded`` (a ``jsonld.expand`` result) with references resolved.

    ``links``: properties (IRIs) whose references name another root and stay references,
    such as ODRL ``inheritFrom`` (a policy inheriting from a policy of the same document).
    """
    nodes = top_nodes(expanded)
    defined, referenced = _index(nodes, links)
    if not referenced & defined.keys() and not any(r.startswith("_:") for r in referenced):
        return nodes  # already a tree: nothing refers to a node defined elsewhere
    roots = [n for n in nodes if n.get("@id") not in referenced]
    return [_resolve(root, defined, (), links) for root in roots]


def _resolve(value: Any, defined: dict[str, dict[str, Any]], path: tuple[str, ...],
             links: frozenset[str]) -> Any:
    if isinstance(value, list):
        return [_resolve(v, defined, path, links) for v in value]
    if not isinstance(value, dict) or "@value" in value:
        return value
    if _is_reference(value):
        ident = value["@id"]
        target = defined.get(ident)
        if target is None:
            if ident.startswith("_:"):
                raise JsonLdError(f"blank node {ident!r} is referenced but not defined in "
                                  "the document", code=TrustCode.JSONLD_DANGLING_REFERENCE,
                                  id=ident)
            return value  # an IRI this document says nothing about
        if "__conflict__" in target:  # which of the two would the reference mean?
            raise JsonLdError(f"two nodes claim @id {ident!r} with different content",
                              code=TrustCode.JSONLD_CONFLICTING_NODE, id=ident)
        value = target
    ident = value.get("@id")
    if isinstance(ident, str) and ident in path:
        if ident.startswith("_:"):
            cycle = " -> ".join((*path[path.index(ident):], ident))
            raise JsonLdError(f"blank node {ident!r} refers back to itself ({cycle})",
                              code=TrustCode.JSONLD_REFERENCE_CYCLE, id=ident)
        return {"@id": ident}
    inner = (*path, ident) if isinstance(ident, str) else path
    return {k: (v if k == "@id" or k in links else _resolve(v, defined, inner, links))
            for k, v in value.items()}


def untangle(document: Any, contexts: ContextRegistry) -> Any:
    """A flattened compact document (``{"@context": [...], "@graph": [...]}`` with node
    references, as ``jsonld.flatten(doc, context)`` writes it) as the one tree it holds,
    compacted with its own ``@context``; any other document is returned as it is (records
    in the usual compact form pay one key lookup).

    Raises ``jsonld.syntax`` when the graph holds more than one root node (a record is one
    node), and whatever :func:`embed` and expansion raise.
    """
    if not isinstance(document, dict) or "@graph" not in document:
        return document
    from trust.jsonld.expansion import compact, expand  # nodes stays free of pyld otherwise

    context = document.get("@context")
    roots = embed(expand(document, contexts))
    if len(roots) != 1:
        raise JsonLdError(f"the @graph holds {len(roots)} top nodes (nodes no other node "
                          "refers to); one document is one node",
                          code=TrustCode.JSONLD_SYNTAX, roots=len(roots))
    tree = compact(roots[0], context if context is not None else {}, contexts)
    if context is not None:
        tree["@context"] = copy.deepcopy(context)
    return tree

"""What every part of the JSON-LD processor needs to say about a document: its type, a walk
over its nodes, JSON paths for error messages, and the two keywords tsunagu refuses.

Relative IRIs stay relative: documents arrive over NATS and have no base IRI. pyld would
otherwise resolve them against ``http://example.org/base/``, silently rewriting identifiers;
``@base`` is refused for the same reason. ``@import`` is refused in documents because pyld
3.3's handling of it is unsafe with a shared context cache (see ``contexts``).
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from trust.errors import JsonLdError, TrustCode

JsonLdDocument = dict[str, Any] | list[Any]
"""A parsed JSON-LD document: a JSON object or array (never a URL or JSON text)."""

_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def refuse_unsupported(document: Any, url: str | None) -> None:
    """Refuse ``@base`` (relative IRIs stay relative here) and ``@import`` in documents."""
    for node in walk(document):
        if isinstance(node, dict):
            for keyword in ("@base", "@import"):
                if keyword in node:
                    where = f"context {url}" if url else "document"
                    raise JsonLdError(
                        f"{where} uses {keyword}, which is not supported here; reference "
                        "a bundled context by URL instead" if keyword == "@import" else
                        f"{where} uses @base, which is not supported: documents have no base "
                        "IRI here, so relative IRIs stay relative",
                        code=TrustCode.JSONLD_UNSUPPORTED, url=url, keyword=keyword)


def walk(value: Any) -> Iterator[Any]:
    """Every node of ``value`` (objects, arrays and scalars), depth first, no recursion."""
    stack = [value]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def find_path(root: Any, match: Callable[[Any], bool]) -> str | None:
    """JSON path (``$.a[0].b``) of the first node, breadth first, that ``match`` accepts.

    Context definitions are skipped: a path should point at data, not at a term definition.
    """
    queue: deque[tuple[Any, str]] = deque([(root, "$")])
    while queue:
        node, path = queue.popleft()
        if match(node):
            return path
        if isinstance(node, dict):
            queue.extend((v, path + path_step(k)) for k, v in node.items() if k != "@context")
        elif isinstance(node, list):
            queue.extend((v, f"{path}[{i}]") for i, v in enumerate(node))
    return None


def path_step(key: str) -> str:
    return f".{key}" if _IDENTIFIER.fullmatch(key) else f"[{json.dumps(key)}]"


def is_absolute(iri: Any) -> bool:
    """Absolute IRI (has a scheme) or blank node identifier."""
    return isinstance(iri, str) and (iri.startswith("_:") or bool(_ABSOLUTE_IRI.match(iri)))

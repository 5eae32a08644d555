"""The one JSON-LD processor of tsunagu: closed world of contexts, no silent data loss.

Why this module exists rather than calling pyld directly:

* pyld's default document loader fetches any URL named in ``@context`` (a server-side request
  forgery path and a network dependency). Here only bundled context files are served, each
  pinned by SHA-256 in this source; any other URL raises ``jsonld.remote_context`` and no
  connection is ever opened. Importing this module also installs that loader as pyld's
  process-wide default, so a stray ``pyld.jsonld.expand`` elsewhere cannot fetch either.
* pyld silently drops terms its context does not define (``"constrain"`` for ``"constraint"``
  makes a whole ODRL constraint vanish). Every drop raises ``jsonld.dropped_term`` naming the
  term and its JSON path; so does a ``@type`` or a vocabulary-typed value (ODRL ``action``,
  ``operator``, ...) that no context defines, which pyld would keep as a meaningless relative
  IRI. This is VC Data Integrity's data-loss detection, and it fails closed.
* Resolved contexts are cached across calls per context URL (or per canonical inline context),
  and pyld caches each processed active context on top of that, so a repeated context costs a
  dictionary lookup instead of a re-parse. pyld 3.3's ``@import`` handling is unsafe with a
  shared cache (it merges the importing context into the cached imported one, and caches the
  merge under the active context alone, so the second type that imports the ODRL profile gets
  the first one's terms). Bundled contexts therefore have each ``@import`` inlined at load (the
  same merge, done once), and documents may not use ``@import`` (``jsonld.unsupported``).

Relative IRIs stay relative: documents arrive over NATS and have no base IRI. pyld would
otherwise resolve them against ``http://example.org/base/``, silently rewriting identifiers;
``@base`` is refused for the same reason.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from cachetools import LRUCache
from pyld import jsonld as _pyld
from pyld.context_resolver import ContextResolver
from pyld.documentloader.base import DocumentLoader, RemoteDocument

from trust.errors import JsonLdError, TsunaguError

__all__ = [
    "CONTEXTS",
    "CONTEXTS_DIR",
    "CREDENTIALS_EXAMPLES_V2",
    "CREDENTIALS_V2",
    "DSP_CONTEXT",
    "JsonLdDocument",
    "ODRL_CONTEXT",
    "TSUNAGU_V1",
    "BundledDocumentLoader",
    "PinnedContext",
    "check_no_dropped_terms",
    "clear_caches",
    "compact",
    "expand",
    "load_context",
    "register_context",
]

JsonLdDocument = dict[str, Any] | list[Any]
"""A parsed JSON-LD document: a JSON object or array (never a URL or JSON text)."""

CONTEXTS_DIR = Path(__file__).parent / "contexts"

CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"
CREDENTIALS_EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"
ODRL_CONTEXT = "https://w3id.org/dspace/2025/1/odrl-profile.jsonld"
"""DSP 2025-1's ODRL profile context: the URL that dspace.jsonld itself imports."""
TSUNAGU_V1 = "https://w3id.org/tsunagu/v1"


class PinnedContext(NamedTuple):
    """A context file and the SHA-256 (lowercase hex) its bytes must have."""

    path: Path
    sha256: str


_ODRL_FILE = PinnedContext(
    CONTEXTS_DIR / "dspace-2025-1-odrl-profile.jsonld",
    "65b96c89a93830c6d8c1b7bba93f4ce64411fe9bb942b445a6d27862511bbb9d",
)

CONTEXTS: dict[str, PinnedContext] = {
    # pyld 3.3.0's bundled copy (documentloader/frozen/bundled/credentials-v2.jsonld).
    CREDENTIALS_V2: PinnedContext(
        CONTEXTS_DIR / "credentials-v2.jsonld",
        "8a9f494a89ecc51db093e90e84713e07e84d6d9204364a9b3c7868b21751236f",
    ),
    # Needed by the W3C eddsa-jcs-2022 test vectors; the published context is one @vocab.
    CREDENTIALS_EXAMPLES_V2: PinnedContext(
        CONTEXTS_DIR / "credentials-examples-v2.jsonld",
        "57393fbc69d6efb9b9b5dc9cb6b9880b0944360abfe2eaf459c9e58cf2279d7c",
    ),
    DSP_CONTEXT: PinnedContext(
        CONTEXTS_DIR / "dspace-2025-1.jsonld",
        "4c09141559c51331c8cb6946c93040d799c39f269afde5d76d79076b9645e1ea",
    ),
    ODRL_CONTEXT: _ODRL_FILE,
    # The W3C ODRL URLs are served with the DSP profile subset (see contexts/NOTICE.md):
    # a W3C term missing from the subset then fails closed as a dropped term.
    "http://www.w3.org/ns/odrl.jsonld": _ODRL_FILE,
    "https://www.w3.org/ns/odrl.jsonld": _ODRL_FILE,
    TSUNAGU_V1: PinnedContext(
        CONTEXTS_DIR / "tsunagu-v1.jsonld",
        "a9da1394813f772cbf6477861d6806a30e063114319e337608a9d653731a89f5",
    ),
}
"""Every context URL this process can use, mapped to its bundled file and pinned hash."""

# Vocabulary-typed properties whose values are bare tokens by design, not terms: DSP 2025-1
# writes ``"format": "HttpData-PULL"`` with no @vocab in scope.
_BARE_TOKEN_PROPERTIES = frozenset({"http://purl.org/dc/terms/format"})

_UNDEFINED_TERM_NAMESPACES = (
    "https://www.w3.org/ns/credentials/issuer-dependent#",
    "https://www.w3.org/ns/credentials/undefined-term#",
)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_registry_lock = threading.RLock()  # re-entered when a context @imports another
_loading: set[str] = set()  # URLs being loaded, to refuse circular @import
_verified: dict[str, dict[str, Any]] = {}  # url -> parsed document whose hash was checked
_resolved_cache: LRUCache = LRUCache(maxsize=256)  # pyld ResolvedContexts, across calls
# pyld's caches (cachetools LRUs) are not thread-safe; pyld is CPU-bound under the GIL anyway.
_processing_lock = threading.RLock()


# --------------------------------------------------------------------------- registry


def register_context(url: str, path: Path | str, sha256: str) -> None:
    """Add a bundled context (for domain plug-ins); verified now so a bad file fails at load.

    Re-registering the same URL with the same file and hash is a no-op; anything else for an
    already served URL raises ``jsonld.context_conflict`` so a plug-in cannot replace a core
    context such as credentials v2.
    """
    if not isinstance(url, str) or not re.fullmatch(r"https?://\S+", url):
        raise JsonLdError(f"context URL must be an absolute http(s) URL: {url!r}",
                          code="jsonld.context_invalid", url=str(url))
    sha = sha256.lower() if isinstance(sha256, str) else ""
    if not _SHA256_HEX.fullmatch(sha):
        raise JsonLdError(f"context {url}: sha256 must be 64 hex digits",
                          code="jsonld.context_invalid", url=url)
    pinned = PinnedContext(Path(path), sha)
    with _registry_lock:
        existing = CONTEXTS.get(url)
        if existing is not None and existing != pinned:
            raise JsonLdError(f"context {url} is already registered with another file or hash",
                              code="jsonld.context_conflict", url=url)
        document = _read_pinned(url, pinned)
        CONTEXTS[url] = pinned
        _verified[url] = document


def load_context(url: str) -> dict[str, Any]:
    """Return a copy of the context served for ``url`` (file verified once, @import inlined).

    Raises ``jsonld.remote_context`` for a URL that is not bundled: nothing is fetched.
    """
    return copy.deepcopy(_verified_document(url))


def clear_caches() -> None:
    """Forget verified files and resolved contexts (tests, timing, after replacing a file)."""
    with _registry_lock:
        _verified.clear()
        _resolved_cache.clear()


def _verified_document(url: str) -> dict[str, Any]:
    document = _verified.get(url)
    if document is not None:
        return document
    with _registry_lock:
        pinned = CONTEXTS.get(url)
        if pinned is None:
            raise JsonLdError(
                f"remote @context {url!r} refused: only bundled contexts are served "
                "(register the context with trust.jsonld.register_context)",
                code="jsonld.remote_context", url=url)
        document = _read_pinned(url, pinned)
        _verified[url] = document
        return document


def _inline_imports(document: Any, url: str) -> None:
    """Replace each ``{"@import": U, ...}`` in a context by U's context merged with the rest.

    This is JSON-LD 1.1's ``@import`` (the importing context's entries win), done once at
    load instead of by pyld on every use (see the module docstring).
    """
    if url in _loading:
        raise JsonLdError(f"context {url}: circular @import", code="jsonld.context_integrity",
                          url=url)
    _loading.add(url)
    try:
        for node in _walk(document):
            if isinstance(node, dict) and "@import" in node:
                target = node["@import"]
                if not isinstance(target, str):
                    raise JsonLdError(f"context {url}: @import must be a URL",
                                      code="jsonld.context_integrity", url=url)
                imported = _verified_document(target)["@context"]
                if not isinstance(imported, dict):
                    raise JsonLdError(f"context {url}: @import {target} is not a single context",
                                      code="jsonld.context_integrity", url=url)
                own = {k: v for k, v in node.items() if k != "@import"}
                node.clear()
                node.update(copy.deepcopy(imported))
                node.update(own)
    finally:
        _loading.discard(url)


def _read_pinned(url: str, pinned: PinnedContext) -> dict[str, Any]:
    try:
        raw = pinned.path.read_bytes()
    except OSError as exc:
        raise JsonLdError(f"context {url}: cannot read bundled file {pinned.path.name}",
                          code="jsonld.context_integrity", url=url) from exc
    actual = hashlib.sha256(raw).hexdigest()
    if actual != pinned.sha256:
        raise JsonLdError(
            f"context {url}: bundled file {pinned.path.name} has SHA-256 {actual}, "
            f"pinned {pinned.sha256}; refusing a modified context",
            code="jsonld.context_integrity", url=url, expected=pinned.sha256, actual=actual)
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise JsonLdError(f"context {url}: bundled file is not JSON",
                          code="jsonld.context_integrity", url=url) from exc
    if not isinstance(document, dict) or not isinstance(document.get("@context"), dict | list):
        raise JsonLdError(f"context {url}: bundled file has no @context object",
                          code="jsonld.context_integrity", url=url)
    _inline_imports(document, url)
    _refuse_unsupported(document, url)
    return document


# --------------------------------------------------------------------------- pyld plumbing


class BundledDocumentLoader(DocumentLoader):
    """pyld document loader serving only :data:`CONTEXTS`; it never opens a connection.

    ``share=True`` tags documents ``static`` so pyld keeps the resolved context across
    operations. The loader installed as pyld's global default does not: direct pyld callers
    do not refuse ``@import`` in their documents, and pyld's shared cache is unsafe with it.
    """

    def __init__(self, *, share: bool = True) -> None:
        self.share = share

    def __call__(self, url: str, options: dict) -> RemoteDocument:
        document: RemoteDocument = {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            # A copy: pyld rewrites nested @context URLs of what it is given in place.
            "document": copy.deepcopy(_verified_document(url)),
        }
        if self.share:
            document["tag"] = "static"  # type: ignore[typeddict-unknown-key]
        return document


class _Dropped(Exception):
    """Raised inside pyld at a data loss; turned into JsonLdError with the JSON path.

    ``element`` is the object being expanded (pyld's copy) and ``key`` the entry of it that
    loses data; both are None when only the lost term itself is known.
    """

    def __init__(self, term: str, element: Any = None, key: str | None = None) -> None:
        super().__init__(term)
        self.term = term
        self.element = element
        self.key = key


class _GuardedProcessor(_pyld.JsonLdProcessor):
    """pyld's processor with every silent drop turned into an exception.

    The overrides wrap pyld internals (``_expand_object``, ``_expand_value``) only to learn
    which object is being expanded; they call through unchanged.
    """

    def __init__(self) -> None:
        super().__init__(on_property_dropped=self._on_dropped)
        self._local = threading.local()

    def _frames(self) -> list[tuple[dict, Any]]:
        frames = getattr(self._local, "frames", None)
        if frames is None:
            frames = self._local.frames = []
        return frames

    def _expand_object(self, active_ctx: dict, active_property: Any,
                       expanded_active_property: Any, element: Any,
                       *args: Any, **kwargs: Any) -> Any:
        frames = self._frames()
        frames.append((active_ctx, element))
        try:
            return super()._expand_object(active_ctx, active_property,
                                          expanded_active_property, element, *args, **kwargs)
        finally:
            frames.pop()

    def _on_dropped(self, expanded: str | None) -> None:
        frames = self._frames()
        if not frames:
            raise _Dropped(str(expanded))
        active_ctx, element = frames[-1]
        # pyld visits keys in sorted order and this fires at the first drop, so the first
        # key that does not expand to an absolute IRI or keyword is the one being dropped.
        for key in sorted(element):
            if key == "@context":
                continue
            iri = self._expand_iri(active_ctx, key, vocab=True)
            if iri == expanded and not (_is_absolute(iri) or _pyld._is_keyword(iri)):
                raise _Dropped(key, element, key)
        raise _Dropped(str(expanded))

    def _expand_value(self, active_ctx: dict, active_property: Any, value: Any,
                      options: dict) -> Any:
        result = super()._expand_value(active_ctx, active_property, value, options)
        if (isinstance(value, str) and isinstance(result, dict)
                and self.get_context_value(active_ctx, active_property, "@type") == "@vocab"):
            iri = result.get("@id")
            if (isinstance(iri, str) and not _is_absolute(iri)
                    and self._expand_iri(active_ctx, active_property, vocab=True)
                    not in _BARE_TOKEN_PROPERTIES):
                frames = self._frames()
                raise _Dropped(value, frames[-1][1] if frames else None, active_property)
        return result


_LOADER = BundledDocumentLoader()
_PROCESSOR = _GuardedProcessor()
# Defence in depth: any direct pyld call in this process gets the closed loader too.
_pyld.set_document_loader(BundledDocumentLoader(share=False))


def _options() -> dict[str, Any]:
    return {
        "documentLoader": _LOADER,
        "contextResolver": ContextResolver(_resolved_cache, _LOADER),
        "base": None,  # keep relative IRIs relative (see module docstring)
    }


# --------------------------------------------------------------------------- public API


def expand(document: JsonLdDocument) -> list[dict[str, Any]]:
    """Expand ``document`` (not mutated) with bundled contexts only; any data loss raises.

    Raises ``JsonLdError`` with code ``jsonld.remote_context`` (unbundled @context URL),
    ``jsonld.dropped_term`` (a term no context defines; details ``term`` and ``path``),
    ``jsonld.context_integrity`` (a bundled file does not match its pin),
    ``jsonld.unsupported`` (``@base``, ``@import``) or ``jsonld.syntax`` (malformed JSON-LD).
    """
    if not isinstance(document, dict | list):
        raise JsonLdError(
            f"JSON-LD document must be a JSON object or array, not {type(document).__name__}",
            code="jsonld.syntax")
    _refuse_unsupported(document, None)
    with _processing_lock, _translated(document):
        expanded = _PROCESSOR.expand(document, _options())
    _check_types(expanded, document)
    return expanded


def compact(document: JsonLdDocument, context: str | dict[str, Any] | list[Any]
            ) -> dict[str, Any]:
    """Compact ``document`` to ``context`` (a URL, an object or a list of them).

    The document is expanded by :func:`expand` first, so every check there applies; neither
    argument is mutated and the returned ``@context`` is the caller's own copy.
    """
    expanded = expand(document)
    if not isinstance(context, str | dict | list):
        raise JsonLdError(f"compaction context must be a URL, object or array, "
                          f"not {type(context).__name__}", code="jsonld.syntax")
    # pyld keeps the context object in its cache and in the output: give it a private copy.
    private = copy.deepcopy(context)
    _refuse_unsupported(private, None)
    options = _options()
    options["skipExpansion"] = True
    with _processing_lock, _translated(document):
        compacted = _PROCESSOR.compact(expanded, private, options)
    if "@context" in compacted:
        compacted["@context"] = copy.deepcopy(compacted["@context"])
    return compacted


def check_no_dropped_terms(document: JsonLdDocument) -> None:
    """Raise ``jsonld.dropped_term`` if ``document`` uses any term no context defines.

    For record validation: the checks of :func:`expand`, plus one a general expansion cannot
    make. Some contexts catch undefined terms with an ``@vocab`` into a namespace meaning
    exactly "no context defines this" (W3C ``undefined-terms/v2``, drafts of credentials v2);
    nothing is dropped then, but for our own records such a term is refused all the same.
    """
    for node in _walk(expand(document)):
        if not isinstance(node, dict) or "@value" in node:
            continue
        types = node.get("@type", ())
        for iri in [*node, *(t for t in types if isinstance(t, str))]:
            for namespace in _UNDEFINED_TERM_NAMESPACES:
                if iri.startswith(namespace):
                    raise _dropped_error(_Dropped(iri[len(namespace):]), document)


# --------------------------------------------------------------------------- helpers


@contextmanager
def _translated(document: JsonLdDocument) -> Iterator[None]:
    """Map whatever pyld raises to a typed JsonLdError; keep ours (raised inside pyld)."""
    _PROCESSOR._frames().clear()
    try:
        yield
    except Exception as exc:
        for link in _chain(exc):
            if isinstance(link, _Dropped):
                raise _dropped_error(link, document) from None
            if isinstance(link, TsunaguError):
                raise link from None
        error = _syntax_error(exc)
        if error is None:
            raise
        raise error from exc
    finally:
        _PROCESSOR._frames().clear()


def _syntax_error(exc: Exception) -> JsonLdError | None:
    pyld_errors = [e for e in _chain(exc) if isinstance(e, _pyld.JsonLdError)]
    if pyld_errors:
        # The innermost error says what is wrong; outer ones only say which step failed.
        inner = pyld_errors[-1]
        reason = f" ({inner.code})" if inner.code else ""
        return JsonLdError(f"malformed JSON-LD: {inner.args[0]}{reason}", code="jsonld.syntax",
                           jsonld_code=inner.code)
    if isinstance(exc, RecursionError | TypeError | ValueError | KeyError | AttributeError
                  | IndexError):
        # pyld assumes well-formed input in places; untrusted input must still fail typed.
        return JsonLdError(f"malformed JSON-LD: processor failed with {type(exc).__name__}",
                           code="jsonld.syntax")
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def _dropped_error(dropped: _Dropped, document: Any) -> JsonLdError:
    term = dropped.term
    path: str | None = None
    if dropped.element is not None and isinstance(dropped.key, str):
        parent = _find_path(document, lambda node: node == dropped.element)
        path = parent + _path_step(dropped.key) if parent is not None else None
    if path is None:
        path = _find_path(document, lambda node: node == term)
    if dropped.key == term:
        what = f"term {term!r} maps to no IRI in the @context in scope (undefined or null)"
    else:
        what = f"{term!r} is used as a term (a type or vocabulary value) but no @context in " \
               "scope defines it"
    where = f" at {path}" if path else ""
    return JsonLdError(f"{what}{where}; expanding would lose it", code="jsonld.dropped_term",
                       term=term, path=path)


def _check_types(expanded: Any, document: JsonLdDocument) -> None:
    """A relative ``@type`` after expansion is a type term no context defines."""
    for node in _walk(expanded):
        if isinstance(node, dict) and "@value" not in node:
            for type_iri in node.get("@type", ()):
                if isinstance(type_iri, str) and not _is_absolute(type_iri):
                    raise _dropped_error(_Dropped(type_iri), document)


def _refuse_unsupported(document: Any, url: str | None) -> None:
    """Refuse ``@base`` (relative IRIs stay relative here) and ``@import`` in documents."""
    for node in _walk(document):
        if isinstance(node, dict):
            for keyword in ("@base", "@import"):
                if keyword in node:
                    where = f"context {url}" if url else "document"
                    raise JsonLdError(
                        f"{where} uses {keyword}, which is not supported here; reference "
                        "a bundled context by URL instead" if keyword == "@import" else
                        f"{where} uses @base, which is not supported: documents have no base "
                        "IRI here, so relative IRIs stay relative",
                        code="jsonld.unsupported", url=url, keyword=keyword)


def _walk(value: Any) -> Iterator[Any]:
    stack = [value]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _find_path(root: Any, match: Callable[[Any], bool]) -> str | None:
    """JSON path (``$.a[0].b``) of the first node, breadth first, that ``match`` accepts.

    Context definitions are skipped: a path should point at data, not at a term definition.
    """
    queue: deque[tuple[Any, str]] = deque([(root, "$")])
    while queue:
        node, path = queue.popleft()
        if match(node):
            return path
        if isinstance(node, dict):
            queue.extend((v, path + _path_step(k)) for k, v in node.items() if k != "@context")
        elif isinstance(node, list):
            queue.extend((v, f"{path}[{i}]") for i, v in enumerate(node))
    return None


def _path_step(key: str) -> str:
    return f".{key}" if _IDENTIFIER.fullmatch(key) else f"[{json.dumps(key)}]"


def _is_absolute(iri: Any) -> bool:
    """Absolute IRI (has a scheme) or blank node identifier."""
    return isinstance(iri, str) and (iri.startswith("_:") or bool(_ABSOLUTE_IRI.match(iri)))

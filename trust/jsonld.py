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
* :func:`check_no_dropped_terms` remembers which document *shapes* passed (see "shape cache"
  below): records that differ only in free text skip pyld after the first one.

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
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from cachetools import LRUCache
from pyld import jsonld as _pyld
from pyld.context_resolver import ContextResolver
from pyld.documentloader.base import DocumentLoader, RemoteDocument

from trust.errors import JsonLdError, TrustCode, TsunaguError

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
                          code=TrustCode.JSONLD_CONTEXT_INVALID, url=str(url))
    sha = sha256.lower() if isinstance(sha256, str) else ""
    if not _SHA256_HEX.fullmatch(sha):
        raise JsonLdError(f"context {url}: sha256 must be 64 hex digits",
                          code=TrustCode.JSONLD_CONTEXT_INVALID, url=url)
    pinned = PinnedContext(Path(path), sha)
    with _registry_lock:
        existing = CONTEXTS.get(url)
        if existing is not None and existing != pinned:
            raise JsonLdError(f"context {url} is already registered with another file or hash",
                              code=TrustCode.JSONLD_CONTEXT_CONFLICT, url=url)
        document = _read_pinned(url, pinned)
        CONTEXTS[url] = pinned
        _verified[url] = document
        _clear_shapes()


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
        _clear_shapes()


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
                code=TrustCode.JSONLD_REMOTE_CONTEXT, url=url)
        document = _read_pinned(url, pinned)
        _verified[url] = document
        return document


def _inline_imports(document: Any, url: str) -> None:
    """Replace each ``{"@import": U, ...}`` in a context by U's context merged with the rest.

    This is JSON-LD 1.1's ``@import`` (the importing context's entries win), done once at
    load instead of by pyld on every use (see the module docstring).
    """
    if url in _loading:
        raise JsonLdError(f"context {url}: circular @import",
                          code=TrustCode.JSONLD_CONTEXT_INTEGRITY,
                          url=url)
    _loading.add(url)
    try:
        for node in _walk(document):
            if isinstance(node, dict) and "@import" in node:
                target = node["@import"]
                if not isinstance(target, str):
                    raise JsonLdError(f"context {url}: @import must be a URL",
                                      code=TrustCode.JSONLD_CONTEXT_INTEGRITY, url=url)
                imported = _verified_document(target)["@context"]
                if not isinstance(imported, dict):
                    raise JsonLdError(f"context {url}: @import {target} is not a single context",
                                      code=TrustCode.JSONLD_CONTEXT_INTEGRITY, url=url)
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
                          code=TrustCode.JSONLD_CONTEXT_INTEGRITY, url=url) from exc
    actual = hashlib.sha256(raw).hexdigest()
    if actual != pinned.sha256:
        raise JsonLdError(
            f"context {url}: bundled file {pinned.path.name} has SHA-256 {actual}, "
            f"pinned {pinned.sha256}; refusing a modified context",
            code=TrustCode.JSONLD_CONTEXT_INTEGRITY, url=url, expected=pinned.sha256, actual=actual)
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise JsonLdError(f"context {url}: bundled file is not JSON",
                          code=TrustCode.JSONLD_CONTEXT_INTEGRITY, url=url) from exc
    if not isinstance(document, dict) or not isinstance(document.get("@context"), dict | list):
        raise JsonLdError(f"context {url}: bundled file has no @context object",
                          code=TrustCode.JSONLD_CONTEXT_INTEGRITY, url=url)
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


_SINK, _USED = 1, 2  # how _RecordingProcessor saw a string: only as a sink / otherwise


class _RecordingProcessor(_GuardedProcessor):
    """:class:`_GuardedProcessor` that records how each tracked string value is consumed.

    Used only on a shape-cache miss. ``uses`` maps ``id()`` of the document's (fresh, hence
    unique) string values to flags: ``_SINK`` when pyld consumed the string in a way whose
    outcome cannot depend on its characters, ``_USED`` for anything else it saw. The two
    sinks, and why they are content-blind (pyld 3.3 code, read for this):

    * ``_expand_value`` returned ``{"@value": <that very string>, ...}``: a plain or typed
      literal. The branch taken depends on the term definition and on ``isinstance(value,
      str)`` only; the characters go to the output ``@value``, which no later check reads.
    * ``_expand_iri(value, vocab=False)`` outside context processing: a node ``@id`` or an
      ``@type: @id`` value. With ``base=None`` this never raises, never consults @vocab or
      terms (only prefixes), and its result only fills an ``@id``, which no check reads.

    Vocabulary expansion (``vocab=True``: ``@type`` values, ``@vocab``-typed values, type
    map keys) is ``_USED``: whether the string is a term decides the verdict. Strings pyld
    handles without these hooks (``@value``, ``@language``, ``@direction``, ``@index``,
    language-map values, ``@json`` literals) are never marked ``_SINK``, so they stay in the
    key verbatim: the failure mode of a missed hook is a cache miss, never a wrong verdict.
    """

    def __init__(self) -> None:
        super().__init__()
        self.uses: dict[int, int] = {}

    def _expand_iri(self, active_ctx: dict, value: Any, base: Any = None, vocab: Any = False,
                    local_ctx: Any = None, defined: Any = None) -> Any:
        flags = self.uses.get(id(value))
        if flags is not None:
            self.uses[id(value)] = flags | (_SINK if not vocab and local_ctx is None else _USED)
        return super()._expand_iri(active_ctx, value, base, vocab, local_ctx, defined)

    def _expand_value(self, active_ctx: dict, active_property: Any, value: Any,
                      options: dict) -> Any:
        result = super()._expand_value(active_ctx, active_property, value, options)
        flags = self.uses.get(id(value))
        if flags is not None:
            if isinstance(result, dict) and result.get("@value") is value:
                flags |= _SINK  # a literal
            elif not (isinstance(result, dict) and result.keys() == {"@id"}):
                flags |= _USED  # {"@id": ...} was judged by _expand_iri above
            self.uses[id(value)] = flags
        return result


_LOADER = BundledDocumentLoader()
_PROCESSOR = _GuardedProcessor()
_RECORDER = _RecordingProcessor()
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
    return _expand_with(_PROCESSOR, document, document)


def _expand_with(processor: _GuardedProcessor, document: JsonLdDocument,
                 source: JsonLdDocument) -> list[dict[str, Any]]:
    """:func:`expand` by ``processor``; errors name paths in ``source`` (equal to document)."""
    if not isinstance(document, dict | list):
        raise JsonLdError(
            f"JSON-LD document must be a JSON object or array, not {type(document).__name__}",
            code=TrustCode.JSONLD_SYNTAX)
    _refuse_unsupported(document, None)
    with _processing_lock, _translated(source, processor):
        expanded = processor.expand(document, _options())
    _check_types(expanded, source)
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
                          f"not {type(context).__name__}", code=TrustCode.JSONLD_SYNTAX)
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

    A document whose shape already passed returns at once (see "shape cache" below); any
    other is checked in full, so every error is computed afresh, path included.
    """
    shape = _shape(document)
    if shape is not None and _shape_passed(*shape):
        return
    if shape is None:
        _check_expanded(expand(document), document)
        return
    # Check a copy whose strings are fresh objects, recording how pyld consumes each one.
    fresh: list[str] = []
    duplicate = _skeleton(document, [], fresh, copy=True)
    generation = _shape_generation
    with _processing_lock:
        _RECORDER.uses = dict.fromkeys(map(id, fresh), 0)
        try:
            _check_expanded(_expand_with(_RECORDER, duplicate, document), document)
            uses = _RECORDER.uses
        finally:
            _RECORDER.uses = {}
    # 0- and 1-character strings may be shared objects (CPython caches them): then it is
    # unknown which position a use was at, so each such position counts as used.
    shared = {key for key, count in Counter(map(id, fresh)).items() if count > 1}
    mask = tuple(uses[id(s)] != _SINK or id(s) in shared for s in fresh)
    _remember(shape[0], shape[1], mask, generation)


def _check_expanded(expanded: list[dict[str, Any]], document: JsonLdDocument) -> None:
    for node in _walk(expanded):
        if not isinstance(node, dict) or "@value" in node:
            continue
        types = node.get("@type", ())
        for iri in [*node, *(t for t in types if isinstance(t, str))]:
            for namespace in _UNDEFINED_TERM_NAMESPACES:
                if iri.startswith(namespace):
                    raise _dropped_error(_Dropped(iri[len(namespace):]), document)


# --------------------------------------------------------------------------- shape cache
#
# Records of one dataset share a structure and differ in free text, so the verdict of
# check_no_dropped_terms is remembered per *shape*: the skeleton plus those string values
# whose characters can matter. The skeleton is a flat token tuple holding, in document order:
#
# * every object key at every path, in order, and every list with its exact length (list
#   positions are not collapsed: with type-scoped contexts, element i's keys are read in
#   the context of element i's own @type, so element shapes must not be merged);
# * every @context value verbatim (URLs, inline contexts, their scalars with their types);
#   with the context registry (the shape cache is emptied whenever it may change: see
#   clear_caches and register_context) that fixes every context the expansion can use;
# * the kind of every other scalar: string, int, float, bool or null. JSON-LD never looks
#   at a number's or boolean's value during expansion (pyld: kind tests only), and a null
#   is dropped silently wherever it is, so its kind is what matters.
#
# Which strings matter is learned, not re-derived from the contexts: re-implementing
# JSON-LD 1.1's scoped-context rules (type-scoped contexts that do not propagate,
# property-scoped ones that do, @propagate, protected terms, aliases of @type and @id) to
# predict which values are vocabulary-typed would be a second, subtly different processor.
# On a miss, the check runs once with _RecordingProcessor, which marks each string pyld only
# ever consumed as a literal or as a node/@id-typed IRI (a "sink"; see that class for why
# the characters cannot change the verdict there). The resulting mask says, per string
# position, "keep verbatim" or "free"; a free string is keyed only by whether it starts with
# "@" (defence in depth: pyld turns keyword-like IRIs into null). Every @type value, every
# value pyld resolves against a vocabulary, @language/@direction/@value/@index values and
# anything else it reads are kept verbatim.
#
# Why a hit is sound: take a passing document A and B with the same skeleton and the same
# projection under A's mask. Expansion is deterministic and reads a document only through
# the skeleton and the string values. Inductively over pyld's walk, the active context at
# every node is the same for A and B: it is a function of the @context values, the keys
# along the path (property-scoped contexts) and the @type values along the path
# (type-scoped contexts), all equal. So every string position is reached by the same code
# with the same term definition; at a kept position the strings are equal, at a free one
# pyld takes the same content-blind sink it took for A. Hence B's run makes the same
# decisions, reaches no drop, no relative @type, no undefined-term IRI, no syntax error:
# B passes. A wrong mask can therefore only come from a sink that reads characters, and
# there are two, both audited. Only passes are cached: errors are recomputed, so their
# term, path and message are exactly those of an uncached check.

# Skeleton tokens. Ints, so no token equals a key (keys are str) and the sequence parses
# one way only: every value starts with an int token.
_OBJECT, _LIST, _END, _STRING, _INT, _FLOAT, _BOOL, _NULL, _LITERAL = range(9)
_KINDS = {int: _INT, float: _FLOAT, bool: _BOOL, type(None): _NULL, str: _STRING}

_SHAPE_MAX_TOKENS = 2048  # larger documents are checked uncached (records are far smaller)
_SHAPE_MAX_CHARS = 16384  # ... as are shapes whose keys and kept strings are this long
_SHAPE_MASKS = 4  # masks kept per skeleton (one per way of using its strings)
_shape_lock = threading.Lock()
_shape_masks: LRUCache = LRUCache(maxsize=256)  # skeleton -> (same skeleton, masks)
_shape_passes: LRUCache = LRUCache(maxsize=1024)  # (skeleton, mask, projection) -> True
_shape_generation = 0  # bumped on every clear: a check started before it stores nothing


class _Unshaped(Exception):
    """The document holds something other than exact JSON types: it is not cached."""


def _shape(document: Any) -> tuple[tuple[Any, ...], list[str]] | None:
    """(skeleton, string values in document order), or None when not cacheable."""
    tokens: list[Any] = []
    strings: list[str] = []
    try:
        _skeleton(document, tokens, strings, copy=False)
    except (_Unshaped, RecursionError):
        return None
    if len(tokens) > _SHAPE_MAX_TOKENS:
        return None
    return tuple(tokens), strings


def _skeleton(value: Any, tokens: list[Any], strings: list[str], *, copy: bool) -> Any:
    """Append ``value``'s skeleton to ``tokens`` and its strings to ``strings``.

    With ``copy``, return a copy of ``value`` whose strings are new objects (so each
    position has its own ``id()``), in the same order as ``strings``.
    """
    kind = type(value)
    if kind is str:
        if copy:
            value = (value + "\0")[:-1]  # a new object, except 0/1-char strings CPython caches
        tokens.append(_STRING)
        strings.append(value)
        return value
    if kind is dict:
        tokens.append(_OBJECT)
        out: dict[str, Any] | None = {} if copy else None
        for key, item in value.items():
            if type(key) is not str:
                raise _Unshaped
            tokens.append(key)
            if key == "@context":
                _literal(item, tokens)  # a copy shares it: pyld copies its input
            else:
                item = _skeleton(item, tokens, strings, copy=copy)
            if out is not None:
                out[key] = item
        tokens.append(_END)
        return value if out is None else out
    if kind is list:
        tokens.append(_LIST)
        items = [_skeleton(item, tokens, strings, copy=copy) for item in value]
        tokens.append(_END)
        return items if copy else value
    token = _KINDS.get(kind)
    if token is None:
        raise _Unshaped
    tokens.append(token)
    return value


def _literal(value: Any, tokens: list[Any]) -> None:
    """Append ``value`` verbatim (an @context): structure, keys, and typed scalar values."""
    kind = type(value)
    if kind is dict:
        tokens.append(_OBJECT)
        for key, item in value.items():
            if type(key) is not str:
                raise _Unshaped
            tokens.append(key)
            _literal(item, tokens)
        tokens.append(_END)
    elif kind is list:
        tokens.append(_LIST)
        for item in value:
            _literal(item, tokens)
        tokens.append(_END)
    elif kind in _KINDS:
        tokens.extend((_LITERAL, _KINDS[kind], value))  # the kind keeps 1, 1.0, True apart
    else:
        raise _Unshaped


def _project(strings: list[str], mask: tuple[bool, ...]) -> tuple[Any, ...]:
    """The strings a mask keeps, verbatim; for a free one only whether it starts with @."""
    return tuple([s if keep else s[:1] == "@" for s, keep in zip(strings, mask, strict=True)])


def _shape_passed(skeleton: tuple[Any, ...], strings: list[str]) -> bool:
    with _shape_lock:
        entry = _shape_masks.get(skeleton)
        if entry is None:
            return False
        skeleton, masks = entry
        return any(_shape_passes.get((skeleton, mask, _project(strings, mask)))
                   for mask in masks)


def _remember(skeleton: tuple[Any, ...], strings: list[str], mask: tuple[bool, ...],
              generation: int) -> None:
    """Record that documents of this skeleton and projection under ``mask`` pass."""
    projection = _project(strings, mask)
    size = sum(len(t) for t in (*skeleton, *projection) if type(t) is str)
    if size > _SHAPE_MAX_CHARS:
        return
    with _shape_lock:
        if generation != _shape_generation:
            return  # the caches were cleared while this document was being checked
        skeleton, masks = _shape_masks.get(skeleton, (skeleton, ()))  # share one skeleton
        if mask not in masks:
            masks = (mask, *masks)[:_SHAPE_MASKS]
        _shape_masks[skeleton] = (skeleton, masks)
        _shape_passes[(skeleton, mask, projection)] = True


def _clear_shapes() -> None:
    global _shape_generation
    with _shape_lock:
        _shape_generation += 1
        _shape_masks.clear()
        _shape_passes.clear()


# --------------------------------------------------------------------------- helpers


@contextmanager
def _translated(document: JsonLdDocument,
                processor: _GuardedProcessor = _PROCESSOR) -> Iterator[None]:
    """Map whatever pyld raises to a typed JsonLdError; keep ours (raised inside pyld)."""
    processor._frames().clear()
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
        processor._frames().clear()


def _syntax_error(exc: Exception) -> JsonLdError | None:
    pyld_errors = [e for e in _chain(exc) if isinstance(e, _pyld.JsonLdError)]
    if pyld_errors:
        # The innermost error says what is wrong; outer ones only say which step failed.
        inner = pyld_errors[-1]
        reason = f" ({inner.code})" if inner.code else ""
        return JsonLdError(f"malformed JSON-LD: {inner.args[0]}{reason}",
                           code=TrustCode.JSONLD_SYNTAX,
                           jsonld_code=inner.code)
    if isinstance(exc, RecursionError | TypeError | ValueError | KeyError | AttributeError
                  | IndexError):
        # pyld assumes well-formed input in places; untrusted input must still fail typed.
        return JsonLdError(f"malformed JSON-LD: processor failed with {type(exc).__name__}",
                           code=TrustCode.JSONLD_SYNTAX)
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
    return JsonLdError(f"{what}{where}; expanding would lose it",
                       code=TrustCode.JSONLD_DROPPED_TERM,
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
                        code=TrustCode.JSONLD_UNSUPPORTED, url=url, keyword=keyword)


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

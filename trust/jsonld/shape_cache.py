"""The dropped-term check, and the shape cache that makes it cheap for records.

:func:`check_no_dropped_terms` is :func:`trust.jsonld.expansion.expand`'s checks plus one a
general expansion cannot make. Records of one dataset share a structure and differ in free
text, so its verdict is remembered per *shape* (separately for each context registry): the
skeleton plus those string values whose characters can matter. The skeleton is a flat
token tuple holding, in document order:

* every object key at every path, in order, and every list with its exact length (list
  positions are not collapsed: with type-scoped contexts, element i's keys are read in
  the context of element i's own @type, so element shapes must not be merged);
* every @context value verbatim (URLs, inline contexts, their scalars with their types);
  with the context registry (each registry has its own cache, emptied whenever the
  registry changes) that fixes every context the expansion can use;
* the kind of every other scalar: string, int, float, bool or null. JSON-LD never looks
  at a number's or boolean's value during expansion (pyld: kind tests only), and a null
  is dropped silently wherever it is, so its kind is what matters.

Which strings matter is learned, not re-derived from the contexts: re-implementing
JSON-LD 1.1's scoped-context rules (type-scoped contexts that do not propagate,
property-scoped ones that do, @propagate, protected terms, aliases of @type and @id) to
predict which values are vocabulary-typed would be a second, subtly different processor.
On a miss, the check runs once with _RecordingProcessor, which marks each string pyld only
ever consumed as a literal or as a node/@id-typed IRI (a "sink"; see that class for why
the characters cannot change the verdict there). The resulting mask says, per string
position, "keep verbatim" or "free"; a free string is keyed only by whether it starts with
"@" (defence in depth: pyld turns keyword-like IRIs into null). Every @type value, every
value pyld resolves against a vocabulary, @language/@direction/@value/@index values and
anything else it reads are kept verbatim.

Why a hit is sound: take a passing document A and B with the same skeleton and the same
projection under A's mask. Expansion is deterministic and reads a document only through
the skeleton and the string values. Inductively over pyld's walk, the active context at
every node is the same for A and B: it is a function of the @context values, the keys
along the path (property-scoped contexts) and the @type values along the path
(type-scoped contexts), all equal. So every string position is reached by the same code
with the same term definition; at a kept position the strings are equal, at a free one
pyld takes the same content-blind sink it took for A. Hence B's run makes the same
decisions, reaches no drop, no relative @type, no undefined-term IRI, no syntax error:
B passes. A wrong mask can therefore only come from a sink that reads characters, and
there are two, both audited. Only passes are cached: errors are recomputed, so their
term, path and message are exactly those of an uncached check.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from typing import Any

from cachetools import LRUCache

from trust.jsonld.contexts import CORE_CONTEXTS, ContextRegistry
from trust.jsonld.documents import JsonLdDocument, walk
from trust.jsonld.expansion import (
    Dropped,
    GuardedProcessor,
    dropped_error,
    expand,
    expand_by,
    processing_lock,
)

_UNDEFINED_TERM_NAMESPACES = (
    "https://www.w3.org/ns/credentials/issuer-dependent#",
    "https://www.w3.org/ns/credentials/undefined-term#",
)

# Skeleton tokens. Ints, so no token equals a key (keys are str) and the sequence parses
# one way only: every value starts with an int token.
_OBJECT, _LIST, _END, _STRING, _INT, _FLOAT, _BOOL, _NULL, _LITERAL = range(9)
_KINDS = {int: _INT, float: _FLOAT, bool: _BOOL, type(None): _NULL, str: _STRING}

_SHAPE_MAX_TOKENS = 2048  # larger documents are checked uncached (records are far smaller)
_SHAPE_MAX_CHARS = 16384  # ... as are shapes whose keys and kept strings are this long
_SHAPE_MASKS = 4  # masks kept per skeleton (one per way of using its strings)
SKELETONS_KEPT = 256
PASSES_KEPT = 1024


_SINK, _USED = 1, 2  # how _RecordingProcessor saw a string: only as a sink / otherwise


class _RecordingProcessor(GuardedProcessor):
    """:class:`GuardedProcessor` that records how each tracked string value is consumed.

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


_RECORDER = _RecordingProcessor()


def check_no_dropped_terms(document: JsonLdDocument,
                           contexts: ContextRegistry = CORE_CONTEXTS) -> None:
    """Raise ``jsonld.dropped_term`` if ``document`` uses any term no context defines.

    For record validation: the checks of :func:`expand`, plus one a general expansion cannot
    make. Some contexts catch undefined terms with an ``@vocab`` into a namespace meaning
    exactly "no context defines this" (W3C ``undefined-terms/v2``, drafts of credentials v2);
    nothing is dropped then, but for our own records such a term is refused all the same.

    A document whose shape already passed under ``contexts`` returns at once; any other is
    checked in full, so every error is computed afresh, path included.
    """
    cache = shape_cache(contexts)
    shape = _shape(document)
    if shape is not None and cache.passed(*shape):
        return
    if shape is None:
        _check_expanded(expand(document, contexts), document, contexts)
        return
    # Check a copy whose strings are fresh objects, recording how pyld consumes each one.
    fresh: list[str] = []
    duplicate = _skeleton(document, [], fresh, copy=True)
    with processing_lock:
        _RECORDER.uses = dict.fromkeys(map(id, fresh), 0)
        try:
            _check_expanded(expand_by(_RECORDER, duplicate, document, contexts), document,
                            contexts)
            uses = _RECORDER.uses
        finally:
            _RECORDER.uses = {}
    # 0- and 1-character strings may be shared objects (CPython caches them): then it is
    # unknown which position a use was at, so each such position counts as used.
    shared = {key for key, count in Counter(map(id, fresh)).items() if count > 1}
    mask = tuple(uses[id(s)] != _SINK or id(s) in shared for s in fresh)
    cache.remember(shape[0], shape[1], mask)


def _check_expanded(expanded: list[dict[str, Any]], document: JsonLdDocument,
                    contexts: ContextRegistry) -> None:
    for node in walk(expanded):
        if not isinstance(node, dict) or "@value" in node:
            continue
        types = node.get("@type", ())
        for iri in [*node, *(t for t in types if isinstance(t, str))]:
            for namespace in _UNDEFINED_TERM_NAMESPACES:
                if iri.startswith(namespace):
                    raise dropped_error(Dropped(iri[len(namespace):]), document, contexts)


class ShapeCache:
    """Shapes that passed under one registry, as it was at one ``generation``."""

    def __init__(self, contexts: ContextRegistry) -> None:
        self._contexts = weakref.ref(contexts)
        self.generation = contexts.generation
        self._lock = threading.Lock()
        self.masks: LRUCache = LRUCache(maxsize=SKELETONS_KEPT)  # skeleton -> (it, masks)
        self.passes: LRUCache = LRUCache(maxsize=PASSES_KEPT)  # (skeleton, mask, proj.) -> True

    def passed(self, skeleton: tuple[Any, ...], strings: list[str]) -> bool:
        with self._lock:
            entry = self.masks.get(skeleton)
            if entry is None:
                return False
            skeleton, masks = entry
            return any(self.passes.get((skeleton, mask, _project(strings, mask)))
                       for mask in masks)

    def remember(self, skeleton: tuple[Any, ...], strings: list[str],
                 mask: tuple[bool, ...]) -> None:
        """Record that documents of this skeleton and projection under ``mask`` pass."""
        projection = _project(strings, mask)
        size = sum(len(t) for t in (*skeleton, *projection) if type(t) is str)
        if size > _SHAPE_MAX_CHARS:
            return
        contexts = self._contexts()
        with self._lock:
            if contexts is None or contexts.generation != self.generation:
                return  # the registry changed while this document was being checked
            skeleton, masks = self.masks.get(skeleton, (skeleton, ()))  # share one skeleton
            if mask not in masks:
                masks = (mask, *masks)[:_SHAPE_MASKS]
            self.masks[skeleton] = (skeleton, masks)
            self.passes[(skeleton, mask, projection)] = True


_caches: weakref.WeakKeyDictionary[ContextRegistry, ShapeCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def shape_cache(contexts: ContextRegistry) -> ShapeCache:
    """The shape cache of ``contexts``: a new, empty one after every change to it."""
    cache = _caches.get(contexts)  # the per-record path: one lookup, no lock
    if cache is not None and cache.generation == contexts.generation:
        return cache
    with _caches_lock:
        cache = _caches.get(contexts)
        if cache is None or cache.generation != contexts.generation:
            cache = _caches[contexts] = ShapeCache(contexts)
        return cache


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

"""Strict JSON-LD expansion and compaction over pyld: no silent data loss, no fetching.

pyld silently drops terms its context does not define (``"constrain"`` for ``"constraint"``
makes a whole ODRL constraint vanish). Here every drop raises ``jsonld.dropped_term`` naming
the term and its JSON path; so does a ``@type`` or a vocabulary-typed value (ODRL
``action``, ``operator``, ...) that no context defines, which pyld would keep as a
meaningless relative IRI (ODRL terms by short name excepted: see ``odrl_terms``). This
is VC Data Integrity's data-loss detection, and it fails closed. Contexts come from the
caller's :class:`ContextRegistry` only.

Importing this module also installs a loader serving the core contexts as pyld's
process-wide default, so a stray ``pyld.jsonld.expand`` elsewhere cannot fetch either.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyld import jsonld as _pyld

from trust.errors import JsonLdError, TrustCode, TsunaguError
from trust.jsonld import odrl_terms
from trust.jsonld.contexts import CORE_CONTEXTS, BundledDocumentLoader, ContextRegistry
from trust.jsonld.documents import (
    JsonLdDocument,
    find_path,
    is_absolute,
    path_step,
    refuse_unsupported,
    walk,
)

# Vocabulary-typed properties whose values are bare tokens by design, not terms: DSP 2025-1
# writes ``"format": "HttpData-PULL"`` with no @vocab in scope.
_BARE_TOKEN_PROPERTIES = frozenset({"http://purl.org/dc/terms/format"})

# pyld's caches (cachetools LRUs) are not thread-safe; pyld is CPU-bound under the GIL anyway.
processing_lock = threading.RLock()


class Dropped(Exception):
    """Raised inside pyld at a data loss; turned into JsonLdError with the JSON path.

    ``element`` is the object being expanded (pyld's copy) and ``key`` the entry of it that
    loses data; both are None when only the lost term itself is known.
    """

    def __init__(self, term: str, element: Any = None, key: str | None = None) -> None:
        super().__init__(term)
        self.term = term
        self.element = element
        self.key = key


class GuardedProcessor(_pyld.JsonLdProcessor):
    """pyld's processor with every silent drop turned into an exception.

    The overrides wrap pyld internals (``_expand_object``, ``_expand_value``) only to learn
    which object is being expanded; they call through unchanged.
    """

    def __init__(self) -> None:
        super().__init__(on_property_dropped=self._on_dropped)
        self._local = threading.local()

    def frames(self) -> list[tuple[dict, Any]]:
        frames = getattr(self._local, "frames", None)
        if frames is None:
            frames = self._local.frames = []
        return frames

    def _expand_object(self, active_ctx: dict, active_property: Any,
                       expanded_active_property: Any, element: Any,
                       *args: Any, **kwargs: Any) -> Any:
        frames = self.frames()
        frames.append((active_ctx, element))
        try:
            return super()._expand_object(active_ctx, active_property,
                                          expanded_active_property, element, *args, **kwargs)
        finally:
            frames.pop()

    def _on_dropped(self, expanded: str | None) -> None:
        frames = self.frames()
        if not frames:
            raise Dropped(str(expanded))
        active_ctx, element = frames[-1]
        # pyld visits keys in sorted order and this fires at the first drop, so the first
        # key that does not expand to an absolute IRI or keyword is the one being dropped.
        for key in sorted(element):
            if key == "@context":
                continue
            iri = self._expand_iri(active_ctx, key, vocab=True)
            if iri == expanded and not (is_absolute(iri) or _pyld._is_keyword(iri)):
                raise Dropped(key, element, key)
        raise Dropped(str(expanded))

    def _expand_value(self, active_ctx: dict, active_property: Any, value: Any,
                      options: dict) -> Any:
        result = super()._expand_value(active_ctx, active_property, value, options)
        if (isinstance(value, str) and isinstance(result, dict)
                and self.get_context_value(active_ctx, active_property, "@type") == "@vocab"):
            iri = result.get("@id")
            if isinstance(iri, str) and not is_absolute(iri):
                prop = self._expand_iri(active_ctx, active_property, vocab=True)
                if prop in _BARE_TOKEN_PROPERTIES:
                    return result
                meant = odrl_terms.resolve(prop, value) if iri == value else None
                if meant == odrl_terms.KEEP:
                    return result  # an unknown left operand: the evaluator denies on it
                if meant is not None:
                    return {**result, "@id": meant}
                frames = self.frames()
                raise Dropped(value, frames[-1][1] if frames else None, active_property)
        return result


_PROCESSOR = GuardedProcessor()
# Defence in depth: any direct pyld call in this process gets the closed loader too.
_pyld.set_document_loader(BundledDocumentLoader(CORE_CONTEXTS, share=False))


def expand(document: JsonLdDocument, contexts: ContextRegistry = CORE_CONTEXTS
           ) -> list[dict[str, Any]]:
    """Expand ``document`` (not mutated) with the contexts of ``contexts`` only; any data
    loss raises.

    Raises ``JsonLdError`` with code ``jsonld.remote_context`` (a @context URL the registry
    does not serve), ``jsonld.dropped_term`` (a term no context defines; details ``term`` and
    ``path``), ``jsonld.context_integrity`` (a bundled file does not match its pin),
    ``jsonld.unsupported`` (``@base``, ``@import``) or ``jsonld.syntax`` (malformed JSON-LD).
    """
    return expand_by(_PROCESSOR, document, document, contexts)


def expand_by(processor: GuardedProcessor, document: JsonLdDocument,
              source: JsonLdDocument, contexts: ContextRegistry) -> list[dict[str, Any]]:
    """:func:`expand` by ``processor``; errors name paths in ``source`` (equal to document)."""
    if not isinstance(document, dict | list):
        raise JsonLdError(
            f"JSON-LD document must be a JSON object or array, not {type(document).__name__}",
            code=TrustCode.JSONLD_SYNTAX)
    refuse_unsupported(document, None)
    with processing_lock, _translated(source, processor, contexts):
        expanded = processor.expand(document, contexts.pyld_options())
    _check_types(expanded, source, contexts)
    return expanded


def compact(document: JsonLdDocument, context: str | dict[str, Any] | list[Any],
            contexts: ContextRegistry = CORE_CONTEXTS) -> dict[str, Any]:
    """Compact ``document`` to ``context`` (a URL, an object or a list of them).

    The document is expanded by :func:`expand` first, so every check there applies; neither
    argument is mutated and the returned ``@context`` is the caller's own copy.
    """
    expanded = expand(document, contexts)
    if not isinstance(context, str | dict | list):
        raise JsonLdError(f"compaction context must be a URL, object or array, "
                          f"not {type(context).__name__}", code=TrustCode.JSONLD_SYNTAX)
    # pyld keeps the context object in its cache and in the output: give it a private copy.
    private = copy.deepcopy(context)
    refuse_unsupported(private, None)
    options = contexts.pyld_options()
    options["skipExpansion"] = True
    with processing_lock, _translated(document, _PROCESSOR, contexts):
        compacted = _PROCESSOR.compact(expanded, private, options)
    if "@context" in compacted:
        compacted["@context"] = copy.deepcopy(compacted["@context"])
    return compacted


def dropped_error(dropped: Dropped, document: Any,
                  contexts: ContextRegistry | None = None) -> JsonLdError:
    """The ``jsonld.dropped_term`` error for a loss, with the JSON path in ``document`` and,
    when a context ``contexts`` serves defines the term, which one to add."""
    term = dropped.term
    path: str | None = None
    if dropped.element is not None and isinstance(dropped.key, str):
        parent = find_path(document, lambda node: node == dropped.element)
        path = parent + path_step(dropped.key) if parent is not None else None
    if path is None:
        path = find_path(document, lambda node: node == term)
    if dropped.key == term:
        what = f"term {term!r} maps to no IRI in the @context in scope (undefined or null)"
    else:
        what = f"{term!r} is used as a term (a type or vocabulary value) but no @context in " \
               "scope defines it"
    where = f" at {path}" if path else ""
    defined_by = contexts.defining(term) if contexts is not None else []
    hint = (f" ({' and '.join(defined_by)} define{'s' if len(defined_by) == 1 else ''} it: "
            "add it to the document's @context)" if defined_by else "")
    return JsonLdError(f"{what}{where}; expanding would lose it{hint}",
                       code=TrustCode.JSONLD_DROPPED_TERM,
                       term=term, path=path)


@contextmanager
def _translated(document: JsonLdDocument, processor: GuardedProcessor,
                contexts: ContextRegistry) -> Iterator[None]:
    """Map whatever pyld raises to a typed JsonLdError; keep ours (raised inside pyld)."""
    processor.frames().clear()
    try:
        yield
    except Exception as exc:
        for link in _chain(exc):
            if isinstance(link, Dropped):
                raise dropped_error(link, document, contexts) from None
            if isinstance(link, TsunaguError):
                raise link from None
        error = _syntax_error(exc)
        if error is None:
            raise
        raise error from exc
    finally:
        processor.frames().clear()


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


def _check_types(expanded: Any, document: JsonLdDocument, contexts: ContextRegistry) -> None:
    """A relative ``@type`` after expansion is a type term no context defines."""
    for node in walk(expanded):
        if isinstance(node, dict) and "@value" not in node:
            for type_iri in node.get("@type", ()):
                if isinstance(type_iri, str) and not is_absolute(type_iri):
                    raise dropped_error(Dropped(type_iri), document, contexts)

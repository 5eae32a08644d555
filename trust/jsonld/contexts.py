"""Context registries: the closed world of JSON-LD contexts one connector can use.

pyld's default document loader fetches any URL named in ``@context`` (a server-side request
forgery path and a network dependency). Here a :class:`ContextRegistry` serves bundled
context files only, each pinned by SHA-256; any other URL raises ``jsonld.remote_context``
and no connection is ever opened.

Each connector owns its registry (``Connector.contexts``): the core contexts plus those of
its domain plug-ins, so two connectors in one process (tests, the demo, a hub running two
participants) never see each other's domain contexts, and everything derived from a
registry (verified files, pyld's resolved contexts, the shape cache of ``shape_cache``) is
kept per registry. :data:`CORE_CONTEXTS` is the shared, frozen registry of the core contexts
for code that runs without a connector (the authority, offline validation tools).

pyld 3.3's ``@import`` handling is unsafe with a shared cache (it merges the importing
context into the cached imported one, and caches the merge under the active context alone,
so the second type that imports the ODRL profile gets the first one's terms). Bundled
contexts therefore have each ``@import`` inlined at load (the same merge, done once).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from cachetools import LRUCache
from pyld.context_resolver import ContextResolver
from pyld.documentloader.base import DocumentLoader, RemoteDocument

from trust.errors import JsonLdError, TrustCode, TsunaguError
from trust.jsonld.documents import refuse_unsupported, walk

CONTEXTS_DIR = Path(__file__).parent.parent / "contexts"

CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"
CREDENTIALS_EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"
ODRL_CONTEXT = "https://w3id.org/dspace/2025/1/odrl-profile.jsonld"
"""DSP 2025-1's ODRL profile context: the URL that dspace.jsonld itself imports."""
TSUNAGU_V1 = "https://w3id.org/tsunagu/v1"
DID_V1 = "https://www.w3.org/ns/did/v1"
"""W3C DID v1.0: DSP 2025-1's DID service entries (catalog and data services) name it."""

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_RESOLVED_CACHE_SIZE = 256


class PinnedContext(NamedTuple):
    """A context file and the SHA-256 (lowercase hex) its bytes must have."""

    path: Path
    sha256: str


_ODRL_FILE = PinnedContext(
    CONTEXTS_DIR / "dspace-2025-1-odrl-profile.jsonld",
    "65b96c89a93830c6d8c1b7bba93f4ce64411fe9bb942b445a6d27862511bbb9d",
)

CORE_FILES: Mapping[str, PinnedContext] = MappingProxyType({
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
    # pyld 3.3.0's bundled copy (documentloader/frozen/bundled/did-v1.jsonld): the W3C DID
    # v1.0 Recommendation's context (see contexts/NOTICE.md for why not w3c/did-core's file).
    DID_V1: PinnedContext(
        CONTEXTS_DIR / "did-v1.jsonld",
        "62c1054bf404d6dd3a4b26b64f830fd72095f6a26edc4469908c94351352ce5f",
    ),
    TSUNAGU_V1: PinnedContext(
        CONTEXTS_DIR / "tsunagu-v1.jsonld",
        "a9da1394813f772cbf6477861d6806a30e063114319e337608a9d653731a89f5",
    ),
})
"""The core contexts every registry starts with, by URL: bundled file and pinned hash."""


class ContextRegistry:
    """The contexts one connector serves, by URL, each a bundled file pinned by SHA-256.

    Files are verified and parsed once per registry, on first use or at :meth:`register`.
    ``generation`` counts changes, so caches derived from the registry know when to forget.
    A registry made with ``frozen=True`` refuses :meth:`register` (the shared core one).
    """

    def __init__(self, files: Mapping[str, PinnedContext] = CORE_FILES, *,
                 frozen: bool = False) -> None:
        self._files: dict[str, PinnedContext] = dict(files)
        self._frozen = frozen
        self._lock = threading.RLock()  # re-entered when a context @imports another
        self._loading: set[str] = set()  # URLs being loaded, to refuse circular @import
        self._verified: dict[str, dict[str, Any]] = {}  # url -> parsed, hash-checked document
        self.generation = 0
        self.loader = BundledDocumentLoader(self)
        self._resolved: LRUCache = LRUCache(maxsize=_RESOLVED_CACHE_SIZE)  # pyld's, per URL

    @classmethod
    def core(cls) -> ContextRegistry:
        """A new registry holding the core contexts, for one connector to extend."""
        return cls(CORE_FILES)

    # ----------------------------------------------------------------- what is served

    def __contains__(self, url: object) -> bool:
        return url in self._files

    def files(self) -> Mapping[str, PinnedContext]:
        """Every URL served, mapped to its file and pinned hash (a read-only copy)."""
        with self._lock:
            return MappingProxyType(dict(self._files))

    def get(self, url: str) -> PinnedContext | None:
        return self._files.get(url)

    def register(self, url: str, path: Path | str, sha256: str) -> None:
        """Serve a bundled context (a domain plug-in's); verified now, so a bad file fails here.

        Re-registering the same URL with the same file and hash is a no-op; anything else for
        an already served URL raises ``jsonld.context_conflict``, so a plug-in cannot replace
        a core context such as credentials v2.
        """
        if not isinstance(url, str) or not re.fullmatch(r"https?://\S+", url):
            raise JsonLdError(f"context URL must be an absolute http(s) URL: {url!r}",
                              code=TrustCode.JSONLD_CONTEXT_INVALID, url=str(url))
        sha = sha256.lower() if isinstance(sha256, str) else ""
        if not _SHA256_HEX.fullmatch(sha):
            raise JsonLdError(f"context {url}: sha256 must be 64 hex digits",
                              code=TrustCode.JSONLD_CONTEXT_INVALID, url=url)
        pinned = PinnedContext(Path(path), sha)
        with self._lock:
            existing = self._files.get(url)
            if existing == pinned:
                return
            if existing is not None:
                raise JsonLdError(f"context {url} is already registered with another file or "
                                  "hash", code=TrustCode.JSONLD_CONTEXT_CONFLICT, url=url)
            if self._frozen:
                raise JsonLdError(
                    f"context {url}: the core registry is shared by every connector in this "
                    "process and cannot be extended; register on a connector's own registry",
                    code=TrustCode.JSONLD_CONTEXT_CONFLICT, url=url)
            document = self._read(url, pinned)
            self._files[url] = pinned
            self._verified[url] = document
            self.generation += 1

    def defining(self, term: str) -> list[str]:
        """The served contexts that define ``term`` at their top level (for error hints: a
        record that uses a term without the context that defines it)."""
        found = []
        for url in sorted(self._files):
            try:
                body = self.document(url).get("@context")
            except TsunaguError:
                continue
            scopes = body if isinstance(body, list) else [body]
            if any(isinstance(scope, dict) and term in scope for scope in scopes):
                found.append(url)
        return found

    def load(self, url: str) -> dict[str, Any]:
        """A copy of the context served for ``url`` (file verified once, @import inlined).

        Raises ``jsonld.remote_context`` for a URL that is not bundled: nothing is fetched.
        """
        return copy.deepcopy(self.document(url))

    def clear_caches(self) -> None:
        """Forget verified files and resolved contexts (after replacing a file, for timing)."""
        with self._lock:
            self._verified.clear()
            self._resolved.clear()
            self.generation += 1

    # ----------------------------------------------------------------- for the processor

    def document(self, url: str) -> dict[str, Any]:
        """The verified document for ``url``, shared: callers must not change it."""
        document = self._verified.get(url)
        if document is not None:
            return document
        with self._lock:
            pinned = self._files.get(url)
            if pinned is None:
                raise JsonLdError(
                    f"remote @context {url!r} refused: only bundled contexts are served "
                    "(a domain plug-in declares its contexts in the plug-in contract)",
                    code=TrustCode.JSONLD_REMOTE_CONTEXT, url=url)
            document = self._read(url, pinned)
            self._verified[url] = document
            return document

    def pyld_options(self) -> dict[str, Any]:
        """Options that make a pyld call use this registry and nothing else."""
        return {
            "documentLoader": self.loader,
            "contextResolver": ContextResolver(self._resolved, self.loader),
            "base": None,  # keep relative IRIs relative (see trust.jsonld.documents)
        }

    def _read(self, url: str, pinned: PinnedContext) -> dict[str, Any]:
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
                code=TrustCode.JSONLD_CONTEXT_INTEGRITY, url=url, expected=pinned.sha256,
                actual=actual)
        try:
            document = json.loads(raw)
        except ValueError as exc:
            raise JsonLdError(f"context {url}: bundled file is not JSON",
                              code=TrustCode.JSONLD_CONTEXT_INTEGRITY, url=url) from exc
        if not isinstance(document, dict) or not isinstance(document.get("@context"),
                                                            dict | list):
            raise JsonLdError(f"context {url}: bundled file has no @context object",
                              code=TrustCode.JSONLD_CONTEXT_INTEGRITY, url=url)
        self._inline_imports(document, url)
        refuse_unsupported(document, url)
        return document

    def _inline_imports(self, document: Any, url: str) -> None:
        """Replace each ``{"@import": U, ...}`` in a context by U's context merged with the
        rest: JSON-LD 1.1's ``@import`` (the importing context's entries win), done once at
        load instead of by pyld on every use."""
        if url in self._loading:
            raise JsonLdError(f"context {url}: circular @import",
                              code=TrustCode.JSONLD_CONTEXT_INTEGRITY, url=url)
        self._loading.add(url)
        try:
            for node in walk(document):
                if isinstance(node, dict) and "@import" in node:
                    target = node["@import"]
                    if not isinstance(target, str):
                        raise JsonLdError(f"context {url}: @import must be a URL",
                                          code=TrustCode.JSONLD_CONTEXT_INTEGRITY, url=url)
                    imported = self.document(target)["@context"]
                    if not isinstance(imported, dict):
                        raise JsonLdError(
                            f"context {url}: @import {target} is not a single context",
                            code=TrustCode.JSONLD_CONTEXT_INTEGRITY, url=url)
                    own = {k: v for k, v in node.items() if k != "@import"}
                    node.clear()
                    node.update(copy.deepcopy(imported))
                    node.update(own)
        finally:
            self._loading.discard(url)


class BundledDocumentLoader(DocumentLoader):
    """pyld document loader serving one registry's contexts; it never opens a connection.

    ``share=True`` tags documents ``static`` so pyld keeps the resolved context across
    operations. The loader installed as pyld's global default does not: direct pyld callers
    do not refuse ``@import`` in their documents, and pyld's shared cache is unsafe with it.
    """

    def __init__(self, registry: ContextRegistry, *, share: bool = True) -> None:
        self.registry = registry
        self.share = share

    def __call__(self, url: str, options: dict) -> RemoteDocument:
        document: RemoteDocument = {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            # A copy: pyld rewrites nested @context URLs of what it is given in place.
            "document": copy.deepcopy(self.registry.document(url)),
        }
        if self.share:
            document["tag"] = "static"  # type: ignore[typeddict-unknown-key]
        return document


CORE_CONTEXTS = ContextRegistry(CORE_FILES, frozen=True)
"""The core contexts, shared and frozen: for code that runs without a connector."""

"""The one JSON-LD processor of tsunagu: a closed world of contexts, no silent data loss.

Three ideas, one module each:

* ``contexts``: :class:`ContextRegistry`, the bundled, hash-pinned contexts one connector
  serves (nothing is ever fetched); :data:`CORE_CONTEXTS` for code without a connector.
* ``expansion``: :func:`expand` and :func:`compact`, pyld with every silent drop of a term
  turned into ``jsonld.dropped_term``.
* ``nodes``: :func:`embed`, any flattened form (node arrays, ``@graph``, blank node
  references) back to the tree an embedded document expands to.
* ``shape_cache``: :func:`check_no_dropped_terms`, the record check, whose verdict is
  remembered per document shape so records that differ only in free text skip pyld.

``documents`` holds what they share (the document type, walks and JSON paths).
"""

from trust.errors import JsonLdError
from trust.jsonld.contexts import (
    CONTEXTS_DIR,
    CORE_CONTEXTS,
    CORE_FILES,
    CREDENTIALS_EXAMPLES_V2,
    CREDENTIALS_V2,
    DID_V1,
    DSP_CONTEXT,
    ODRL_CONTEXT,
    TSUNAGU_V1,
    BundledDocumentLoader,
    ContextRegistry,
    PinnedContext,
)
from trust.jsonld.documents import JsonLdDocument
from trust.jsonld.expansion import compact, expand
from trust.jsonld.nodes import embed, untangle
from trust.jsonld.shape_cache import check_no_dropped_terms

__all__ = [
    "CONTEXTS_DIR",
    "CORE_CONTEXTS",
    "CORE_FILES",
    "CREDENTIALS_EXAMPLES_V2",
    "CREDENTIALS_V2",
    "DID_V1",
    "DSP_CONTEXT",
    "ODRL_CONTEXT",
    "TSUNAGU_V1",
    "BundledDocumentLoader",
    "ContextRegistry",
    "JsonLdDocument",
    "JsonLdError",
    "PinnedContext",
    "check_no_dropped_terms",
    "compact",
    "embed",
    "expand",
    "untangle",
]

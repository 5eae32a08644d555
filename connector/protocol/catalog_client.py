"""Asks another connector for its DSP catalog, over the bus or HTTPS (connector.dsp_http)
(the app API's /api/v1/catalog, the catalog node's crawl), following its pages.

Paging on the NATS binding (docs/catalog.md, "Paging"): DSP 2025-1 pages a catalog over HTTPS
with a ``Link: <...?continuationToken=T>; rel="next"`` header, and the next page is the same
CatalogRequestMessage sent to that URL. A NATS reply has no URL to point at, so the reply's
``Catalog`` carries the reference itself, ``"tsunagu:nextPage": "T"``, and the next request is
the same CatalogRequestMessage with ``"tsunagu:continuationToken": "T"`` (both are extra
properties, which the DSP schemas allow; a connector that does not page ignores the request
property and answers everything at once). Each page is a signed envelope of its own, checked
like any answer. The token is opaque to the asker.

A participant's pages are bounded (``PageBounds``): entries per page, pages and entries in
all, and no token twice; the caller bounds the time (the crawl's deadline per participant),
so a hostile participant with endless pages cannot stall anyone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from catalog.search import search
from connector.bus.messaging import RemoteError
from connector.errors import ConnectorCode
from connector.protocol.dsp import messages as m
from connector.protocol.dsp.validation import validate_message
from trust.credentials import VerifiedCredential
from trust.errors import TsunaguError, ValidationError

if TYPE_CHECKING:
    from connector.runtime.connector import Connector

NEXT_PAGE = "tsunagu:nextPage"  # in a Catalog answer: the next page's continuation token
CONTINUATION = "tsunagu:continuationToken"  # in a CatalogRequestMessage: which page
MAX_TOKEN_CHARS = 512


@dataclass(frozen=True)
class PageBounds:
    page_datasets: int = 1_000  # a provider pages by 100 (DatasetService.page_size)
    pages: int = 500
    datasets: int = 50_000
    # One page's answer: a busy asker checks the pages that arrived before (DSP schema and
    # JSON-LD, ~0.5 s for 100 datasets on a loaded core) before it reads the next one, so
    # the bus's 5 s default would fail pages that came in time; the caller's deadline per
    # participant bounds them all.
    page_timeout_s: float = 30.0


DEFAULT_BOUNDS = PageBounds()


class PagingError(TsunaguError):
    """A participant's pages broke a bound (too big, too many, a token repeated)."""

    code = ConnectorCode.CATALOG_ERROR


# (recipient, message type, payload, timeout=) -> (envelope, credential): ``DspBus.request``
# or the binding router's (``connector.dsp.request``: None for a non-tsunagu HTTPS peer's
# answer without an ID token, where configuration allows it)
Request = Callable[..., Awaitable[tuple[Any, VerifiedCredential | None]]]


async def fetch_pages(request: Request, provider_did: str, bounds: PageBounds = DEFAULT_BOUNDS,
                      *, validate: bool = True
                      ) -> tuple[dict[str, Any], VerifiedCredential | None]:
    """The provider's whole catalog (every page's datasets in one ``Catalog``, the first
    page's other properties) and the credential that answered. ``validate``: check each
    page against the DSP Catalog schema here as well (the bus already checks every DSP
    message it receives; the catalog node relies on that and skips this)."""
    first: dict[str, Any] | None = None
    credential: VerifiedCredential | None = None
    datasets: list[Any] = []
    seen: set[str] = set()
    token: str | None = None
    for _ in range(bounds.pages):
        payload = m.catalog_request()
        if token is not None:
            payload[CONTINUATION] = token
        env, answered = await request(provider_did, "CatalogRequestMessage", payload,
                                      timeout=bounds.page_timeout_s)
        if answered is not None and answered.did != provider_did:
            raise PagingError("the catalog was answered by another participant")
        credential = answered
        page = _checked_page(env, validate)
        entries = page.get("dataset") or []
        entries = entries if isinstance(entries, list) else [entries]
        if len(entries) > bounds.page_datasets:
            raise PagingError(f"a catalog page holds over {bounds.page_datasets} datasets")
        datasets += entries
        if len(datasets) > bounds.datasets:
            raise PagingError(f"the catalog holds over {bounds.datasets} datasets")
        first = first or page
        token = page.get(NEXT_PAGE)
        if token is None:
            out = {k: v for k, v in first.items() if k != NEXT_PAGE}
            out["dataset"] = datasets
            return out, credential
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
            raise PagingError("the next-page reference is not a short string")
        if token in seen:
            raise PagingError("the catalog's pages run in a circle")
        seen.add(token)
    raise PagingError(f"the catalog has over {bounds.pages} pages")


def _checked_page(env: Any, validate: bool) -> dict[str, Any]:
    if env.message_type == "CatalogError":
        raise RemoteError("provider refused the catalog request",
                          code=str(env.payload.get("code", ConnectorCode.CATALOG_ERROR)))
    if env.message_type != "Catalog" or not isinstance(env.payload, dict) \
            or (validate and validate_message(env.payload) != "Catalog"):
        raise ValidationError("provider answered with something other than a Catalog",
                              code=ConnectorCode.DSP_INVALID_MESSAGE)
    return dict(env.payload)


class CatalogClient:
    """A connector service; ``connector.catalog.fetch(provider_did, query)``."""

    def __init__(self, connector: Connector, bounds: PageBounds = DEFAULT_BOUNDS) -> None:
        self.connector = connector
        self.bounds = bounds

    async def startup(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def fetch(self, provider_did: str, query: str | None = None) -> dict[str, Any]:
        """The provider's catalog (every page), checked against the DSP schema; filtered
        by ``query``."""
        catalog, credential = await fetch_pages(self.connector.dsp.request, provider_did,
                                                self.bounds)
        catalog["dataset"] = search(catalog["dataset"], query)
        catalog["provider"] = {"did": credential.did, "name": credential.name,
                               "roles": list(credential.roles)} if credential is not None \
            else {"did": provider_did, "name": None, "roles": [], "verified": False}
        return catalog

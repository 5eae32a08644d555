"""Asks another connector for its DSP catalog, over the bus or HTTPS (connector.dsp_http)
(the app API's /api/v1/catalog)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from catalog.search import search
from connector.bus.messaging import RemoteError
from connector.errors import ConnectorCode
from connector.protocol.dsp import messages as m
from connector.protocol.dsp.validation import validate_message
from trust.errors import ValidationError

if TYPE_CHECKING:
    from connector.runtime.connector import Connector


class CatalogClient:
    """A connector service; ``connector.catalog.fetch(provider_did, query)``."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    async def startup(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def fetch(self, provider_did: str, query: str | None = None) -> dict[str, Any]:
        """The provider's catalog, checked against the DSP schema; filtered by ``query``."""
        env, credential = await self.connector.dsp.request(
            provider_did, "CatalogRequestMessage", m.catalog_request())
        if env.message_type == "CatalogError":
            raise RemoteError("provider refused the catalog request",
                              code=str(env.payload.get("code", ConnectorCode.CATALOG_ERROR)))
        if validate_message(env.payload) != "Catalog":
            raise ValidationError("provider answered with something other than a Catalog",
                                  code=ConnectorCode.DSP_INVALID_MESSAGE)
        catalog = dict(env.payload)
        datasets = catalog.get("dataset") or []
        catalog["dataset"] = search(datasets if isinstance(datasets, list) else [datasets],
                                    query)
        catalog["provider"] = {"did": credential.did, "name": credential.name,
                               "roles": list(credential.roles)} if credential is not None \
            else {"did": provider_did, "name": None, "roles": [], "verified": False}
        return catalog

"""``DSP-ID-Token`` on answers is tsunagu's own. A counterparty that is not a tsunagu
connector (an EDC connector) answers without it: refused by default; accepted, marked
unverified, with ``[dsp_https] require_response_token = false``; never from a participant
that has signed to this connector before (a tsunagu connector stays strict)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from connector.bus.messaging import RemoteError
from connector.errors import ConnectorCode
from connector.runtime.connector import Connector
from tests.dsp_http.conftest import Space
from tests.e2e.conftest import CITY_CODE, OPERATOR_NUMBER
from trust.keys import KeyPair

# The DSP 2025-1 specification's own Catalog example (tests/vectors, with its licence).
CATALOG = (Path(__file__).resolve().parents[1] / "vectors" / "dsp-2025-1" / "examples"
           / "catalog" / "catalog.json").read_bytes()
EDC = KeyPair.generate().did  # a participant whose connector is not tsunagu


@pytest.fixture
async def edc(space: Space) -> AsyncIterator[str]:
    """A DSP endpoint that answers a catalog request as EDC does: no DSP-ID-Token."""
    async def catalog(request: web.Request) -> web.Response:
        return web.Response(body=CATALOG, content_type="application/json")
    app = web.Application()
    app.router.add_post("/dsp/catalog/request", catalog)
    runner = web.AppRunner(app)
    await runner.setup()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*space.certs[CITY_CODE])
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"https://127.0.0.1:{port}/dsp"
    await runner.cleanup()


async def consumer(space: Space, peers: dict[str, str], **changes: object) -> Connector:
    config = space.config("避難所運営", OPERATOR_NUMBER, "shelter_operator", peers=peers)
    assert config.dsp_https is not None
    return await space.start(config.model_copy(update={
        "dsp_https": config.dsp_https.model_copy(update=changes)}))


async def test_an_answer_without_the_token_is_refused_by_default(space: Space, edc: str
                                                                  ) -> None:
    reader = await consumer(space, {EDC: edc})
    assert reader.config.dsp_https is not None
    assert reader.config.dsp_https.require_response_token is True
    with pytest.raises(RemoteError) as refused:
        await reader.catalog.fetch(EDC)
    assert refused.value.code == ConnectorCode.DSP_HTTP_UNSIGNED_REPLY


async def test_configured_to_accept_it_from_a_peer_that_is_not_tsunagu(space: Space, edc: str
                                                                       ) -> None:
    provider = await space.start(space.config("仙台市", CITY_CODE, "municipality"))
    assert provider.dsp_http is not None
    # The tsunagu provider's DID at the same token-less endpoint: it must not pass.
    reader = await consumer(space, {EDC: edc, provider.did: edc},
                            require_response_token=False)
    catalog = await reader.catalog.fetch(EDC)
    assert catalog["provider"] == {"did": EDC, "name": None, "roles": [], "verified": False}
    assert catalog["@type"] == "Catalog"

    assert reader.dsp_http is not None
    reader.dsp_http.auth.verify(provider.dsp_http.auth.token_for(reader.did))  # it signed
    with pytest.raises(RemoteError) as refused:
        await reader.catalog.fetch(provider.did)
    assert refused.value.code == ConnectorCode.DSP_HTTP_UNSIGNED_REPLY

"""Fixtures for the staff login tests: a bosai connector whose dashboard trusts a real
OpenID Connect provider started on loopback (tests/staff/oidc_provider.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestServer

from connector.api.app import make_app
from connector.runtime.config import OidcSection, StaffSection
from connector.runtime.connector import Connector
from connector.runtime.ports import pick_free_port
from domains.bosai import plugin as bosai_plugin
from tests.api.conftest import api, api_factory, connector, connector_config  # noqa: F401
from tests.domains.bosai.browser.conftest import browser, page  # noqa: F401 (chromium)
from tests.domains.bosai.dashboard_support import (  # noqa: F401 (fixtures)
    DASHBOARD_PATH,
    DashboardServer,
    bosai_connector,
    dashboard,
)
from tests.staff.oidc_provider import Provider, running_provider
from trust.status_list import StatusListCache


@dataclass(frozen=True)
class OidcSetup:
    dashboard: DashboardServer
    provider: Provider
    redirect_uri: str


@pytest.fixture
async def oidc_setup(tmp_path, authority, nats_server, request):
    # The dashboard's port is chosen first: the provider must know the redirect URI.
    port = pick_free_port()
    redirect = f"http://127.0.0.1:{port}{DASHBOARD_PATH}oidc/callback"
    async with running_provider(redirect) as provider:
        secret = tmp_path / "oidc-client-secret"
        secret.write_text(provider.client_secret + "\n", encoding="utf-8")
        secret.chmod(0o600)
        issuer = getattr(request, "param", None) or provider.issuer
        config = connector_config(tmp_path, authority, nats_server.url).model_copy(update={
            "staff": StaffSection(oidc=OidcSection(
                issuer=issuer(provider.issuer) if callable(issuer) else issuer,
                client_id=provider.client_id, client_secret_file=secret,
                redirect_uri=redirect))})
        cache = StatusListCache([authority.did])
        cache.add(authority.status_list_jwt())
        node = Connector(config, status_lists=cache)
        await node.start()
        try:
            app = make_app(node, plugins=[bosai_plugin], heartbeat=0.3, poll_interval=5.0)
            server = TestServer(app, host="127.0.0.1", port=port)
            await server.start_server()
            try:
                yield OidcSetup(DashboardServer(node, server), provider, redirect)
            finally:
                await server.close()
        finally:
            await node.stop()

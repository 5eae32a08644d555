"""The supply-chain view behind the connector's authentication (``view_app`` with
``ViewSessions``, as ``domains.steel.view.mounted`` mounts it), on a real socket over a real
store: only ``steel:chain`` tokens, sessions made from them in an HttpOnly SameSite=Strict
cookie, cross-site logins refused, revocation and logout ending a session."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from connector.api.tokens import TokenStore, register_scope
from connector.store.database import Store
from connector.web.sessions import ViewSessions
from domains.steel.view.app import view_app
from domains.steel.view.mounted import SCOPE, SCOPES, TABLE
from domains.steel.view.tree import finder_over
from tests.domains.steel import provenance_samples as samples
from tests.domains.steel.view_support import serving

MOUNT = "/domains/steel/chain/"


@pytest.fixture
async def guarded(tmp_path):
    for name, description in SCOPES.items():
        register_scope(name, description)  # as activating the plug-in does
    store = Store(tmp_path / "connector.sqlite")
    sessions = ViewSessions(store, SCOPE, table=TABLE, event="steel.view_login")
    root = web.Application()
    root.add_subapp(MOUNT, view_app(finder_over(samples.strip_holders()), lambda: sessions))
    try:
        async with serving(root) as origin:
            yield origin + MOUNT, TokenStore(store), store
    finally:
        store.close()


async def test_only_steel_chain_tokens_open_the_view(guarded):
    base, tokens, _ = guarded
    good = tokens.issue([SCOPE], days=1).token
    other = tokens.issue(["records:read"], days=1).token
    async with aiohttp.ClientSession() as http:
        async with http.get(base + f"?q={samples.HEAT}",
                            headers={"Authorization": f"Bearer {good}"}) as r:
            assert r.status == 200 and f'data-piece="{samples.PIECE}"' in await r.text()
        for header in (f"Bearer {other}", "Bearer tsu_unknown"):
            async with http.get(base, headers={"Authorization": header}) as r:
                assert r.status == 401
        async with http.get(base + f"pieces/{samples.PIECE}", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == MOUNT + "login"
        async with http.get(base + "?lang=en", allow_redirects=False) as r:
            assert r.headers["Location"] == MOUNT + "login?lang=en"


async def test_a_session_from_a_token_until_logout_or_revocation(guarded):
    base, tokens, store = guarded
    issued = tokens.issue([SCOPE], days=1)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.post(base + "login", data={"token": "tsu_wrong"}) as r:
            assert r.status == 401 and "トークンが無効" in await r.text()
        async with http.post(base + "login", data={"token": issued.token},
                             headers={"Sec-Fetch-Site": "cross-site"}) as r:
            assert r.status == 403
        async with http.post(base + "login", data={"token": issued.token},
                             allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == MOUNT
            cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert f"Path={MOUNT}" in cookie and issued.token not in cookie
        # The table keeps a digest and the token's id, never the token or the session id.
        rows = store.query(f"SELECT digest, token_id FROM {TABLE}", ())
        assert len(rows) == 1 and rows[0][1] == issued.id
        assert issued.token not in repr(rows) and cookie.split(";")[0].split("=", 1)[1] \
            not in repr(rows)

        async with http.get(base) as r:
            assert r.status == 200 and "ログアウト" in await r.text()
        async with http.post(base + "logout", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == MOUNT + "login?bye=1"
        async with http.get(base, allow_redirects=False) as r:
            assert r.status == 303

        async with http.post(base + "login", data={"token": issued.token}) as r:
            assert r.status == 200 and str(r.url) == base
        assert tokens.revoke(issued.id)
        async with http.get(base, allow_redirects=False) as r:  # revoked: the session ends
            assert r.status == 303 and r.headers["Location"] == MOUNT + "login"

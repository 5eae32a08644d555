"""Staff login through a real OpenID Connect provider (npm oidc-provider on loopback): the
authorization code flow with PKCE, state and nonce, followed by real HTTP through the
provider's own login pages; the person it vouches for is named in the audit log.

And every way such a login must fail: a subject no admin linked, a disabled account, a
forged or replayed state, a provider that names another issuer. Each refusal is audited
and opens no session."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urljoin, urlparse

import aiohttp
import pytest

from domains.bosai.dashboard.auth import PERSON_SEARCH, SESSION_COOKIE
from tests.staff.conftest import OidcSetup

DASHBOARD_SCOPES = ["bosai:dashboard", PERSON_SEARCH]
_FORM = re.compile(r'<form[^>]*action="([^"]+)"')


def link(setup: OidcSetup, subject: str, *, login: str = "hanako", name: str = "山田 花子"):
    return setup.dashboard.connector and _accounts(setup).add(
        login, name, scopes=DASHBOARD_SCOPES, department="危機管理課",
        oidc_issuer=setup.provider.issuer, oidc_subject=subject).account


def _accounts(setup: OidcSetup):
    from connector.api.staff.accounts import StaffAccounts

    return StaffAccounts(setup.dashboard.connector.store)


async def start(http: aiohttp.ClientSession, setup: OidcSetup) -> str:
    """Press the dashboard's municipality button: where it sends the browser."""
    d = setup.dashboard
    async with http.get(d.url + "oidc/start", allow_redirects=False) as resp:
        assert resp.status == 303, await resp.text()
        cookie = resp.headers["Set-Cookie"]
        assert "tsunagu_bosai_oidc=" in cookie and "SameSite=Lax" in cookie
        assert "HttpOnly" in cookie
        return resp.headers["Location"]


async def at_provider(http: aiohttp.ClientSession, setup: OidcSetup, url: str,
                      subject: str) -> str:
    """Follow the provider's pages as a browser would, logging in as ``subject``; the URL
    the provider finally sends the browser to (the dashboard's callback)."""
    for _ in range(12):
        if url.startswith(setup.redirect_uri):
            return url
        async with http.get(url, allow_redirects=False) as resp:
            if resp.status in (302, 303):
                url = urljoin(url, resp.headers["Location"])
                continue
            page = await resp.text()
            assert resp.status == 200, page[:500]
        action = _FORM.search(page)
        assert action, page[:500]
        async with http.post(urljoin(url, unescape(action.group(1))), allow_redirects=False,
                             data={"prompt": "login", "login": subject,
                                   "password": "the provider's business"}) as resp:
            assert resp.status in (302, 303), await resp.text()
            url = urljoin(url, resp.headers["Location"])
    raise AssertionError("the provider never sent the browser back")


def audit(setup: OidcSetup, event: str) -> list[dict]:
    return setup.dashboard.connector.audit.entries(event)


async def test_a_staff_login_through_the_provider_names_the_person_in_the_audit_log(
        oidc_setup):
    setup, d = oidc_setup, oidc_setup.dashboard
    account = link(setup, "hanako-at-city")
    async with d.client() as http:
        authorize = await start(http, setup)
        query = parse_qs(urlparse(authorize).query)
        assert authorize.startswith(setup.provider.issuer)
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
        assert query["client_id"] == [setup.provider.client_id]
        assert query["state"] and query["nonce"] and query["state"] != query["nonce"]
        callback = await at_provider(http, setup, authorize, "hanako-at-city")
        assert parse_qs(urlparse(callback).query)["state"] == query["state"]
        async with http.get(callback, allow_redirects=False) as resp:
            page = await resp.text()
            assert resp.status == 200, page
            assert 'http-equiv="refresh"' in page  # a same-site step on: Strict cookie
            cookie = resp.headers.getall("Set-Cookie")
        session = [c for c in cookie if c.startswith(SESSION_COOKIE + "=")]
        assert session and "SameSite=Strict" in session[0] and "HttpOnly" in session[0]
        async with http.get(d.url, allow_redirects=False) as resp:
            assert resp.status == 200 and "避難状況ダッシュボード" in await resp.text()
        async with http.post(d.url + "search", data={"q": "山田"}, allow_redirects=False,
                             headers={"Origin": d.origin}) as resp:
            assert resp.status == 200
        async with http.get(callback, allow_redirects=False) as resp:  # the same answer again
            assert resp.status == 401 and "oidc.wrong_state" in await resp.text()
    (login,) = audit(setup, "staff.login")
    assert (login["staff"], login["staff_name"], login["method"]) == (
        account.id, "山田 花子", "oidc")
    (search,) = audit(setup, "bosai.staff_search")
    assert search["staff"] == account.id and search["staff_name"] == "山田 花子"
    assert "token" not in search
    assert search["session"] == login["session"]
    (replayed,) = audit(setup, "staff.login_refused")
    assert replayed["code"] == "oidc.wrong_state" and replayed["method"] == "oidc"
    # nothing secret in the audit log or the store's staff rows
    lines = "".join(d.connector.audit.lines())
    assert setup.provider.client_secret not in lines
    assert query["state"][0] not in lines and query["nonce"][0] not in lines


async def test_a_subject_nobody_linked_is_refused_audited_and_gets_no_session(oidc_setup):
    setup, d = oidc_setup, oidc_setup.dashboard
    link(setup, "hanako-at-city")
    async with d.client() as http:
        callback = await at_provider(http, setup, await start(http, setup), "mallory")
        async with http.get(callback, allow_redirects=False) as resp:
            page = await resp.text()
            assert resp.status == 401 and 'role="alert"' in page
            assert "oidc.not_linked" in page and "結び付けられていません" in page
            assert not [c for c in resp.headers.getall("Set-Cookie", [])
                        if c.startswith(SESSION_COOKIE + "=")]
        async with http.get(d.url, allow_redirects=False) as resp:
            assert resp.status == 303
    (refused,) = audit(setup, "staff.login_refused")
    assert refused["code"] == "oidc.not_linked" and "staff" not in refused
    assert audit(setup, "staff.login") == []


async def test_a_disabled_account_cannot_log_in_through_the_provider(oidc_setup):
    setup, d = oidc_setup, oidc_setup.dashboard
    account = link(setup, "hanako-at-city")
    _accounts(setup).set_disabled(account.id, True)
    async with d.client() as http:
        callback = await at_provider(http, setup, await start(http, setup), "hanako-at-city")
        async with http.get(callback, allow_redirects=False,
                            headers={"Accept": "application/problem+json"}) as resp:
            assert resp.status == 401
            assert resp.content_type == "application/problem+json"
            body = await resp.json()
    assert body["code"] == "staff.disabled" and body["status"] == 401
    (refused,) = audit(setup, "staff.login_refused")
    assert (refused["code"], refused["staff"]) == ("staff.disabled", account.id)


async def test_a_forged_state_or_another_browser_is_refused(oidc_setup):
    setup, d = oidc_setup, oidc_setup.dashboard
    link(setup, "hanako-at-city")
    async with d.client() as http:
        callback = await at_provider(http, setup, await start(http, setup), "hanako-at-city")
    # the answer arrives in a browser that did not start this login (no state cookie)
    async with d.client() as other:
        async with other.get(callback, allow_redirects=False) as resp:
            assert resp.status == 401 and "oidc.wrong_state" in await resp.text()
    async with d.client() as http:
        callback = await at_provider(http, setup, await start(http, setup), "hanako-at-city")
        forged = re.sub(r"state=[^&]+", "state=forged", callback)
        async with http.get(forged, allow_redirects=False) as resp:
            assert resp.status == 401 and "oidc.wrong_state" in await resp.text()
    assert [e["code"] for e in audit(setup, "staff.login_refused")] == [
        "oidc.wrong_state"] * 2
    assert audit(setup, "staff.login") == []


@pytest.mark.parametrize("oidc_setup", [lambda issuer: issuer + "/"], indirect=True)
async def test_a_provider_that_names_another_issuer_is_refused(oidc_setup):
    """The connector trusts "<issuer>/"; the provider's discovery says "<issuer>"."""
    d = oidc_setup.dashboard
    async with d.client() as http:
        async with http.get(d.url + "oidc/start", allow_redirects=False) as resp:
            assert resp.status == 401 and "oidc.wrong_issuer" in await resp.text()

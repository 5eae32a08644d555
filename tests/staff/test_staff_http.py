"""Staff logins over real HTTP: the dashboard's form (password + TOTP) and the app API's
``/api/v1/staff/login`` (RFC 9457 problems, checked against openapi.json); the audit lines
written while serving the person name them; logout and an admin's revocation end the
session at once; a pasted token still works for scripts."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from connector.api.staff import totp
from connector.api.staff.service import StaffAuth
from connector.cli.main import main
from domains.bosai.dashboard.auth import DASHBOARD, PERSON_SEARCH
from tests.api.conftest import DATASET, add_held

PASSWORD = "correct horse battery"


def add_person(node, login="hanako", scopes=(DASHBOARD, PERSON_SEARCH), **extra):
    made = StaffAuth(node.store).accounts.add(
        login, "山田 花子", scopes=list(scopes), department="危機管理課", password=PASSWORD,
        **extra)
    return made.account, parse_qs(urlparse(made.totp_uri).query)["secret"][0]


def now_code(secret: str) -> str:
    from datetime import UTC, datetime

    return totp.code_at(secret, datetime.now(UTC))


async def form_login(http, d, login: str, password: str, code: str, **headers):
    async with http.post(d.url + "login", allow_redirects=False,
                         data={"login": login, "password": password, "totp": code},
                         headers={"Origin": d.origin, **headers}) as resp:
        return resp.status, resp.headers, await resp.text()


async def test_the_dashboard_form_logs_a_person_in_and_their_search_names_them(dashboard):
    d = dashboard
    account, secret = add_person(d.connector)
    async with d.client() as http:
        async with http.get(d.url + "login") as resp:
            page = await resp.text()
        for field in ('name="login"', 'name="password"', 'name="totp"', 'name="token"',
                      'autocomplete="one-time-code"', "職員ID", "確認コード"):
            assert field in page, field
        assert "oidc/start" not in page  # no provider configured: no button
        status, headers, _ = await form_login(http, d, "hanako", PASSWORD, now_code(secret))
        assert status == 303 and "sts_" in headers["Set-Cookie"]
        assert "SameSite=Strict" in headers["Set-Cookie"]
        async with http.get(d.url) as resp:  # the header says who is logged in
            assert "ログイン中：山田 花子（危機管理課）" in await resp.text()
        async with http.post(d.url + "search", data={"q": "山田"}, allow_redirects=False,
                             headers={"Origin": d.origin}) as resp:
            assert resp.status == 200
        async with http.post(d.url + "logout", allow_redirects=False,
                             headers={"Origin": d.origin}) as resp:
            assert resp.status == 303
        async with http.get(d.url, allow_redirects=False) as resp:
            assert resp.status == 303  # logged out
    audit = d.connector.audit
    (search,) = audit.entries("bosai.staff_search")
    assert (search["staff"], search["staff_name"]) == (account.id, "山田 花子")
    (logout,) = audit.entries("staff.logout")
    assert logout["staff"] == account.id and logout["session"] == search["session"]


async def test_the_dashboard_form_refuses_with_a_clear_reason_and_changes_nothing(dashboard):
    d = dashboard
    account, secret = add_person(d.connector)
    add_person(d.connector, "records-only", scopes=("records:read",))
    async with d.client() as http:
        status, headers, page = await form_login(http, d, "hanako", "wrong password!!",
                                                 now_code(secret))
        assert status == 401 and 'role="alert"' in page and "staff.login_failed" in page
        assert "職員IDかパスワードが違います" in page and "Set-Cookie" not in headers
        status, _, unknown = await form_login(http, d, "nobody", PASSWORD, now_code(secret))
        assert status == 401 and "staff.login_failed" in unknown
        code = now_code(secret)
        assert (await form_login(http, d, "hanako", PASSWORD, code))[0] == 303
        async with d.client() as other:  # the same code, from another browser: a replay
            status, headers, page = await form_login(
                other, d, "hanako", PASSWORD, code, Accept="application/problem+json")
            assert status == 401 and headers["Content-Type"] == "application/problem+json"
            assert '"code":"staff.totp_replayed"' in page
    codes = [e["code"] for e in d.connector.audit.entries("staff.login_refused")]
    assert codes == ["staff.login_failed", "staff.login_failed", "staff.totp_replayed"]
    assert len(StaffAuth(d.connector.store).sessions.list()) == 1


async def test_revocation_by_an_admin_ends_a_dashboard_session_at_once(dashboard, capsys):
    d = dashboard
    account, secret = add_person(d.connector)
    async with d.client() as http:
        await form_login(http, d, "hanako", PASSWORD, now_code(secret))
        async with http.get(d.url, allow_redirects=False) as resp:
            assert resp.status == 200
        store = d.connector.config.store_path
        assert main(["connector", "staff", "sessions", "--store", str(store)]) == 0
        listed = capsys.readouterr().out
        session_id = listed.split()[0]
        assert session_id.startswith("ses_") and account.id in listed and "sts_" not in listed
        assert main(["connector", "staff", "revoke-session", session_id,
                     "--store", str(store)]) == 0
        async with http.get(d.url, allow_redirects=False) as resp:
            assert resp.status == 303  # the next request: sent to the login form
    (revoked,) = d.connector.audit.entries("staff.session_revoked")
    assert (revoked["session"], revoked["staff_name"]) == (session_id, "山田 花子")


async def test_token_paste_still_logs_scripts_in(dashboard):
    async with dashboard.client() as http:
        await dashboard.login(http, DASHBOARD)
        async with http.get(dashboard.url, allow_redirects=False) as resp:
            assert resp.status == 200


async def test_app_api_staff_login_reads_through_the_gate_as_the_person(api):
    account, secret = add_person(api.connector, scopes=("records:read",),
                                 role="health_department")
    add_held(api.connector, "urn:uuid:held-1")
    status, _, body = await api.call("POST", "/api/v1/staff/login", json={
        "login": "hanako", "password": PASSWORD, "totp": now_code(secret)})
    assert status == 201 and body["account"]["id"] == account.id
    session = body["session"]
    status, _, page = await api.call(
        "GET", f"/api/v1/held?purpose=disaster_response&dataset={DATASET}", token=session)
    assert status == 200 and [i["id"] for i in page["items"]] == ["urn:uuid:held-1"]
    (use,) = api.connector.audit.entries("use")
    assert use["reader"] == f"staff:{account.id}" and use["staff_name"] == "山田 花子"
    status, _, problem = await api.call("GET", "/api/v1/agreements", token=session)
    assert (status, problem["code"]) == (403, "auth.scope")  # the account's scopes only
    async with api.http.post(api.url + "/api/v1/staff/logout",
                             headers={"Authorization": f"Bearer {session}"}) as resp:
        assert resp.status == 204
    status, _, problem = await api.call("GET", "/api/v1/held?purpose=disaster_response",
                                        token=session)
    assert (status, problem["code"]) == (401, "auth.invalid")
    refused = api.connector.audit.entries("use")[-1]  # the refused read names the person too
    assert (refused["decision"], refused["reader"], refused["staff_name"]) == (
        "deny", f"staff:{account.id}", "山田 花子")


async def test_app_api_staff_login_refusals_are_problems(api):
    _, secret = add_person(api.connector)
    for creds, code in (({"login": "hanako", "password": "wrong password!!"}, "login_failed"),
                        ({"login": "ghost", "password": PASSWORD}, "login_failed"),
                        ({"login": "hanako", "password": PASSWORD, "totp": "000000"}, None)):
        sent = {"totp": now_code(secret), **creds}
        if code is None and sent["totp"] == now_code(secret):
            continue  # 000000 happened to be this step's code
        status, ctype, problem = await api.call("POST", "/api/v1/staff/login", json=sent)
        assert (status, ctype) == (401, "application/problem+json")
        assert problem["code"] == f"staff.{code or 'totp_wrong'}"
        assert PASSWORD not in str(problem) and "wrong password" not in str(problem)
    status, _, problem = await api.call("POST", "/api/v1/staff/login", json={"login": "x"})
    assert (status, problem["code"], problem["field"]) == (400, "input.invalid", "password")


def test_the_cli_adds_lists_and_disables_accounts(tmp_path, capsys):
    from connector.store.database import Store

    store = tmp_path / "connector.sqlite"
    Store(store).close()
    password = tmp_path / "pw"
    password.write_text(PASSWORD + "\n", encoding="utf-8")
    assert main(["connector", "staff", "add", "hanako", "--name", "山田 花子",
                 "--department", "危機管理課", "--scope", DASHBOARD, "--role", "health_department",
                 "--password-file", str(password), "--store", str(store)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("otpauth://totp/") and "secret=" in out and "stf_" in err
    assert PASSWORD not in out + err
    assert main(["connector", "staff", "list", "--store", str(store)]) == 0
    listed = capsys.readouterr().out
    assert "hanako" in listed and "山田 花子" in listed and "secret" not in listed
    assert main(["connector", "staff", "disable", "hanako", "--store", str(store)]) == 0
    assert "disabled" in capsys.readouterr().out
    assert main(["connector", "staff", "reset-totp", "hanako", "--store", str(store)]) == 0
    assert capsys.readouterr().out.startswith("otpauth://")
    assert main(["connector", "staff", "disable", "nobody", "--store", str(store)]) == 2
    assert "staff.unknown" in capsys.readouterr().err


async def test_a_person_logged_in_to_an_app_is_named_by_the_bosai_routes(dashboard):
    """The plug-in's app routes (安否確認 here) sit behind the same auth: a staff session as
    the bearer value, and the registry's audit line names the person."""
    d = dashboard
    account, secret = add_person(d.connector, scopes=("bosai:inquiry",))
    async with d.client() as http:
        async with http.post(d.origin + "/api/v1/staff/login", json={
                "login": "hanako", "password": PASSWORD, "totp": now_code(secret)}) as resp:
            assert resp.status == 201
            session = (await resp.json())["session"]
        async with http.post(d.origin + "/domains/bosai/inquiries",
                             json={"name": "山田花子", "birthDate": "1950-04-01"},
                             headers={"Authorization": f"Bearer {session}"}) as resp:
            assert resp.status == 200, await resp.text()
    (inquiry,) = d.connector.audit.entries("bosai.safety_inquiry")
    assert inquiry["asked_by"] == f"staff:{account.id} 山田 花子"


async def test_revoking_a_session_ends_its_open_live_stream(dashboard):
    import asyncio
    import time

    d = dashboard
    account, secret = add_person(d.connector)
    async with d.client() as http:
        await form_login(http, d, "hanako", PASSWORD, now_code(secret))
        async with http.get(d.url + "events?since=0") as resp:
            assert resp.status == 200 and resp.content_type == "text/event-stream"
            await resp.content.readline()  # the stream is open
            (live,) = StaffAuth(d.connector.store).sessions.list()
            started = time.monotonic()
            assert StaffAuth(d.connector.store).sessions.revoke(live["id"])
            await asyncio.wait_for(resp.content.read(), timeout=10)  # until it ends
            assert time.monotonic() - started < 5
        async with http.get(d.url + "events?since=0") as resp:
            assert resp.status == 401  # and it cannot come back


def test_the_cli_opens_a_store_encrypted_at_rest_with_its_key(tmp_path, capsys):
    from connector.store.database import Store
    from trust.at_rest import AtRestKey, generate_key, write_key_file

    key = generate_key()
    write_key_file(tmp_path / "city.at-rest.key", key)
    store = tmp_path / "connector.sqlite"
    Store(store, AtRestKey(key).store_key).close()
    password = tmp_path / "pw"
    password.write_text(PASSWORD + "\n", encoding="utf-8")
    args = ["--store", str(store), "--at-rest-key", f"file:{tmp_path / 'city.at-rest.key'}"]
    assert main(["connector", "staff", "add", "hanako", "--name", "山田 花子", "--scope",
                 DASHBOARD, "--password-file", str(password), *args]) == 0
    assert capsys.readouterr().out.startswith("otpauth://")
    assert b"hanako" not in store.read_bytes()  # the account is in the encrypted store
    assert main(["connector", "staff", "list", *args]) == 0
    assert "山田 花子" in capsys.readouterr().out
    assert main(["connector", "staff", "list", "--store", str(store)]) == 2  # no key: refused

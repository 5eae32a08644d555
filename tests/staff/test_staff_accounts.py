"""Staff accounts on a real store: password (argon2id) + TOTP logins, refusals with their
codes (each audited, nothing changed), sessions that expire and end when revoked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from connector.api.problems import status_of
from connector.api.staff import totp
from connector.api.staff.accounts import LOCK_AFTER, StaffError
from connector.api.staff.service import StaffAuth
from connector.api.tokens import AuthError, ScopeError
from connector.control.audit import AuditLog, verify_chain
from connector.store.database import Store

PASSWORD = "correct horse battery"
T0 = datetime(2026, 4, 30, 6, 0, 0, tzinfo=UTC)


@pytest.fixture
def staff(tmp_path):
    store = Store(tmp_path / "connector.sqlite")
    yield StaffAuth(store)
    store.close()


def secret_of(uri: str) -> str:
    return parse_qs(urlparse(uri).query)["secret"][0]


def add_hanako(staff: StaffAuth, **extra):
    made = staff.accounts.add("hanako", "山田 花子", scopes=["records:read"],
                              department="危機管理課", role="health_department",
                              password=PASSWORD, now=T0, **extra)
    assert made.totp_uri and made.totp_uri.startswith("otpauth://totp/")
    return made.account, secret_of(made.totp_uri)


def refusals(staff: StaffAuth) -> list[dict]:
    return AuditLog(staff.store).entries("staff.login_refused")


def test_a_person_logs_in_with_password_and_totp_and_the_session_names_them(staff):
    account, secret = add_hanako(staff)
    session = staff.login_password("hanako", PASSWORD, totp.code_at(secret, T0), T0)
    info = staff.sessions.verify(session.secret, "records:read", now=T0 + timedelta(minutes=1))
    assert info.person.account_id == account.id and info.person.name == "山田 花子"
    assert info.role == "health_department" and info.id == session.id
    assert info.audit_fields() == {"staff": account.id, "staff_name": "山田 花子",
                                   "session": session.id}
    login = AuditLog(staff.store).entries("staff.login")
    assert [(e["staff"], e["staff_name"], e["method"]) for e in login] == [
        (account.id, "山田 花子", "password+totp")]
    with pytest.raises(ScopeError):
        staff.sessions.verify(session.secret, "admin", now=T0)
    # what is stored: a hash, the digest of the session secret; no password, no secret
    raw = b"".join(p.read_bytes() for p in staff.store.path.parent.glob("connector.sqlite*"))
    assert PASSWORD.encode() not in raw and session.secret.encode() not in raw
    assert b"$argon2id$" in raw
    assert verify_chain(AuditLog(staff.store).lines()).ok


def test_wrong_password_and_unknown_login_get_the_same_answer_and_are_audited(staff):
    account, secret = add_hanako(staff)
    answers = []
    for login, password in (("hanako", "wrong password!"), ("nobody", PASSWORD),
                            ("'; DROP TABLE staff_accounts; --", PASSWORD)):
        with pytest.raises(StaffError) as info:
            staff.login_password(login, password, totp.code_at(secret, T0), T0)
        answers.append((info.value.code, info.value.message, status_of(info.value)))
    assert len(set(answers)) == 1 and answers[0][0] == "staff.login_failed"
    assert answers[0][2] == 401
    found = refusals(staff)
    assert [e["code"] for e in found] == ["staff.login_failed"] * 3
    assert found[0]["staff"] == account.id and "staff" not in found[1]  # no typed name
    assert "nobody" not in "".join(AuditLog(staff.store).lines())
    assert staff.sessions.list() == []  # nothing opened


def test_a_wrong_totp_code_is_refused(staff):
    add_hanako(staff)
    wrong = totp.code_at(totp.new_secret(), T0)
    with pytest.raises(StaffError) as info:
        staff.login_password("hanako", PASSWORD, wrong, T0)
    assert info.value.code == "staff.totp_wrong"
    with pytest.raises(StaffError) as info:
        staff.login_password("hanako", PASSWORD, "12345", T0)  # not even six digits
    assert info.value.code == "staff.totp_wrong"
    assert [e["code"] for e in refusals(staff)] == ["staff.totp_wrong"] * 2


def test_a_totp_code_is_accepted_once_within_its_window(staff):
    _, secret = add_hanako(staff)
    code = totp.code_at(secret, T0)
    staff.login_password("hanako", PASSWORD, code, T0)
    with pytest.raises(StaffError) as info:  # the same code, 10 s later: same 30 s step
        staff.login_password("hanako", PASSWORD, code, T0 + timedelta(seconds=10))
    assert info.value.code == "staff.totp_replayed"
    assert len(staff.sessions.list(now=T0)) == 1
    earlier = totp.code_at(secret, T0 - timedelta(seconds=30))  # in the drift, but older
    with pytest.raises(StaffError) as info:
        staff.login_password("hanako", PASSWORD, earlier, T0 + timedelta(seconds=10))
    assert info.value.code == "staff.totp_replayed"
    later = T0 + timedelta(seconds=30)
    staff.login_password("hanako", PASSWORD, totp.code_at(secret, later), later)
    assert [e["code"] for e in refusals(staff)] == ["staff.totp_replayed"] * 2


def test_failures_lock_the_account_and_unknown_names_alike(staff):
    _, secret = add_hanako(staff)
    for _ in range(LOCK_AFTER):
        with pytest.raises(StaffError):
            staff.login_password("hanako", "wrong password!", "000000", T0)
    with pytest.raises(StaffError) as info:  # even the right password and code
        staff.login_password("hanako", PASSWORD, totp.code_at(secret, T0), T0)
    assert (info.value.code, status_of(info.value)) == ("staff.locked", 401)
    assert refusals(staff)[LOCK_AFTER - 1]["locked_for_s"] == 900
    for _ in range(LOCK_AFTER):
        with pytest.raises(StaffError):
            staff.login_password("ghost", "wrong password!", "000000", T0)
    with pytest.raises(StaffError) as info:
        staff.login_password("ghost", "wrong password!", "000000", T0)
    assert info.value.code == "staff.locked"
    later = T0 + timedelta(minutes=16)  # the lock ends by itself
    staff.login_password("hanako", PASSWORD, totp.code_at(secret, later), later)
    assert staff.sessions.list(now=later)


def test_a_disabled_account_is_refused_and_its_sessions_end_at_once(staff):
    account, secret = add_hanako(staff)
    session = staff.login_password("hanako", PASSWORD, totp.code_at(secret, T0), T0)
    staff.accounts.set_disabled("hanako", True, now=T0)
    assert staff.sessions.resolve(session.secret, T0) is None  # re-read on every request
    at = T0 + timedelta(seconds=30)
    with pytest.raises(StaffError) as info:
        staff.login_password("hanako", PASSWORD, totp.code_at(secret, at), at)
    assert info.value.code == "staff.disabled"
    assert refusals(staff)[-1] == {**refusals(staff)[-1], "code": "staff.disabled",
                                   "staff": account.id}


def test_sessions_expire_when_idle_and_absolutely_and_end_on_revocation(staff):
    _, secret = add_hanako(staff)
    session = staff.login_password("hanako", PASSWORD, totp.code_at(secret, T0), T0)
    at = T0
    for _ in range(20):  # a request every 25 minutes keeps it alive, for 8 hours at most
        at += timedelta(minutes=25)
        if at >= T0 + timedelta(hours=8):
            break
        assert staff.sessions.resolve(session.secret, at) is not None, at
    assert staff.sessions.resolve(session.secret, T0 + timedelta(hours=8)) is None
    t1 = T0 + timedelta(seconds=60)
    idle = staff.login_password("hanako", PASSWORD, totp.code_at(secret, t1), t1)
    assert staff.sessions.resolve(idle.secret, t1 + timedelta(minutes=29)) is not None
    assert staff.sessions.resolve(idle.secret, t1 + timedelta(minutes=60)) is None
    t2 = T0 + timedelta(seconds=120)
    third = staff.login_password("hanako", PASSWORD, totp.code_at(secret, t2), t2)
    assert staff.sessions.revoke(third.id, now=t2)
    with pytest.raises(AuthError):
        staff.sessions.verify(third.secret, now=t2)
    revoked = AuditLog(staff.store).entries("staff.session_revoked")
    assert revoked[-1]["session"] == third.id and revoked[-1]["staff_name"] == "山田 花子"


def test_reset_totp_invalidates_the_old_secret(staff):
    _, secret = add_hanako(staff)
    uri = staff.accounts.reset_totp("hanako", now=T0)
    with pytest.raises(StaffError) as info:
        staff.login_password("hanako", PASSWORD, totp.code_at(secret, T0), T0)
    assert info.value.code == "staff.totp_wrong"
    staff.login_password("hanako", PASSWORD, totp.code_at(secret_of(uri), T0), T0)


def test_accounts_refuse_bad_input(staff):
    add_hanako(staff)
    for kwargs in ({"login": "Hanako Y"}, {"password": "short"}, {"scopes": ["nope"]},
                   {"role": "Bad Role"}, {"password": None}):
        args = {"login": "x", "name": "X", "scopes": ["records:read"], "password": PASSWORD,
                **kwargs}
        login, name = args.pop("login"), args.pop("name")
        with pytest.raises(Exception) as info:
            staff.accounts.add(login, name, **args)
        assert info.value.code == "input.invalid", kwargs
    with pytest.raises(StaffError) as info:
        staff.accounts.add("hanako", "別人", scopes=["records:read"], password=PASSWORD)
    assert info.value.code == "staff.exists"


def test_the_log_formatter_masks_staff_secrets_as_a_last_line(staff):
    from trust.log import redact

    _, secret = add_hanako(staff)
    session = staff.login_password("hanako", PASSWORD, totp.code_at(secret, T0), T0)
    (hashed,) = staff.store.query("SELECT password_hash FROM staff_accounts")[0]
    uri = totp.provisioning_uri(secret, "hanako", "tsunagu")
    line = redact(f"oops {session.secret} {uri} {hashed}")
    assert session.secret not in line and secret not in line and hashed not in line
    assert line.count("[redacted]") == 3 and "otpauth://totp/" in line

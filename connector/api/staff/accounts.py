"""Staff accounts: one row per person, in the connector's ``staff_accounts`` table.

A person logs in with a login name, a password (stored as an argon2id hash, argon2-cffi) and
a TOTP code (the secret is shown once, as an otpauth:// URI), or through the municipality's
OpenID Connect provider when an admin linked the provider's subject to the account
(``connector.api.staff.oidc``). The account carries what a token carries for the routes
(scopes, the reader role for the usage gate) and what a person has (display name,
department).

Refusals say why with a stable code, and are audited with the account's id where there is
one; the login name typed is never written anywhere (it may be a password typed in the
wrong field). A wrong password and an unknown login name get the same answer, after the
same work (a hash is verified either way). Five failures in a row lock the name for 15
minutes: unknown names too (kept in memory), so a lock tells nothing about who exists.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import argon2
from cachetools import TTLCache

from connector.api.staff import totp
from connector.api.tokens import _ROLE, known_scopes
from connector.control.audit import AuditLog
from connector.errors import ConnectorCode
from connector.store.database import Store
from trust.errors import TsunaguError, ValidationError

LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 hashes anything, but a megabyte "password" is an attack
_LOGIN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_HASHER = argon2.PasswordHasher()  # argon2id, RFC 9106's second recommended parameters
# Verified against when the login name is unknown: the same work as for a real account.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
# Failures of login names that have no account, by digest: they lock like real ones.
_UNKNOWN_FAILURES: TTLCache[str, int] = TTLCache(maxsize=10_000,
                                                 ttl=LOCK_FOR.total_seconds())

PASSWORD_TOTP = "password+totp"
OIDC = "oidc"


class _Replayed(Exception):
    """Raised inside the login transaction when another login took the step first."""


class StaffError(TsunaguError):
    """A staff login or account operation refused (the code says which check)."""

    code = ConnectorCode.STAFF_LOGIN_FAILED


@dataclass(frozen=True)
class Account:
    id: str
    login: str
    name: str
    department: str | None
    role: str | None
    scopes: frozenset[str]
    disabled: bool
    local_login: bool  # has a password and a TOTP secret
    oidc_issuer: str | None
    oidc_subject: str | None
    locked_until: datetime | None
    created: str

    def summary(self) -> dict[str, Any]:
        """What a listing shows: never a hash or a secret."""
        return {"id": self.id, "login": self.login, "name": self.name,
                "department": self.department, "role": self.role,
                "scopes": sorted(self.scopes), "disabled": self.disabled,
                "local_login": self.local_login,
                "oidc": f"{self.oidc_issuer} {self.oidc_subject}" if self.oidc_subject else None,
                "locked_until": _iso(self.locked_until) if self.locked_until else None}


@dataclass(frozen=True)
class NewAccount:
    account: Account
    totp_uri: str | None  # shown once, to the admin who added the account


_COLUMNS = ("id, login, display_name, department, role, scopes, password_hash IS NOT NULL "
            "AND totp_secret IS NOT NULL, disabled, oidc_issuer, oidc_subject, locked_until, "
            "created")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


def _account(row: tuple[Any, ...]) -> Account:
    (account_id, login, name, department, role, scopes, local, disabled, issuer, subject,
     locked, created) = row
    return Account(account_id, login, name, department, role, frozenset(scopes.split()),
                   bool(disabled), bool(local), issuer, subject,
                   datetime.fromisoformat(locked) if locked else None, created)


def _name_digest(login: str) -> str:
    return hashlib.sha256(login.encode("utf-8", "replace")).hexdigest()


def check_password_rules(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValidationError(f"a staff password has {MIN_PASSWORD} to {MAX_PASSWORD} "
                              "characters", field="password")


class StaffAccounts:
    """Add, find, change and check staff accounts (the ``staff_accounts`` table's owner)."""

    def __init__(self, store: Store, *, issuer_label: str = "tsunagu") -> None:
        self.store = store
        self.audit = AuditLog(store)
        self.issuer_label = issuer_label  # shown by authenticator apps beside the login

    # --- administration ----------------------------------------------------------------

    def add(self, login: str, name: str, *, scopes: list[str] | frozenset[str],
            department: str | None = None, role: str | None = None,
            password: str | None = None, oidc_issuer: str | None = None,
            oidc_subject: str | None = None, now: datetime | None = None) -> NewAccount:
        """A new account. With a password it gets a TOTP secret too (both factors or none);
        with an OIDC issuer and subject, the provider's login for that subject is its."""
        now = now or datetime.now(UTC)
        if not _LOGIN.fullmatch(login):
            raise ValidationError("a login name is lowercase letters, digits, '.', '_' and "
                                  "'-' (at most 64)", field="login")
        if not name.strip() or len(name) > 100:
            raise ValidationError("a display name has 1 to 100 characters", field="name")
        wanted, known = frozenset(scopes), known_scopes()
        if not wanted or wanted - known:
            raise ValidationError(f"unknown scope(s) {sorted(wanted - known)}; choose from "
                                  f"{sorted(known)}", field="scope")
        if role is not None and not _ROLE.fullmatch(role):
            raise ValidationError("a reader role is lowercase letters, digits and _",
                                  field="role")
        if password is None and oidc_subject is None:
            raise ValidationError("give a password (local login) or an OpenID Connect "
                                  "subject, or both", field="password")
        if (oidc_issuer is None) != (oidc_subject is None):
            raise ValidationError("an OpenID Connect link needs both issuer and subject",
                                  field="oidc")
        password_hash = secret = None
        if password is not None:
            check_password_rules(password)
            password_hash, secret = _HASHER.hash(password), totp.new_secret()
        account_id = "stf_" + secrets.token_hex(8)
        with self.store.transaction() as db:
            clash = db.execute(
                "SELECT 1 FROM staff_accounts WHERE login = ? OR (oidc_issuer = ? AND "
                "oidc_subject = ?)", (login, oidc_issuer, oidc_subject)).fetchone()
            if clash:
                raise StaffError(f"a staff account with the login name {login!r} or this "
                                 "OpenID Connect subject exists", code=ConnectorCode.STAFF_EXISTS)
            db.execute("INSERT INTO staff_accounts (id, login, display_name, department, role, "
                       "scopes, password_hash, totp_secret, oidc_issuer, oidc_subject, created)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (account_id, login, name.strip(), department, role,
                        " ".join(sorted(wanted)), password_hash, secret, oidc_issuer,
                        oidc_subject, _iso(now)))
            self.audit.append("staff.account_added", now, staff=account_id,
                              staff_name=name.strip(), scopes=sorted(wanted), role=role,
                              local_login=password is not None, oidc=oidc_subject is not None)
        uri = totp.provisioning_uri(secret, login, self.issuer_label) if secret else None
        return NewAccount(self.require(login), uri)

    def get(self, account_id: str) -> Account | None:
        rows = self.store.query(f"SELECT {_COLUMNS} FROM staff_accounts WHERE id = ?",
                                (account_id,))
        return _account(rows[0]) if rows else None

    def by_login(self, login: str) -> Account | None:
        rows = self.store.query(f"SELECT {_COLUMNS} FROM staff_accounts WHERE login = ?",
                                (login,))
        return _account(rows[0]) if rows else None

    def by_oidc(self, issuer: str, subject: str) -> Account | None:
        rows = self.store.query(f"SELECT {_COLUMNS} FROM staff_accounts WHERE oidc_issuer = ? "
                                "AND oidc_subject = ?", (issuer, subject))
        return _account(rows[0]) if rows else None

    def require(self, login_or_id: str) -> Account:
        found = self.by_login(login_or_id) or self.get(login_or_id)
        if found is None:
            raise StaffError(f"no staff account {login_or_id!r}",
                             code=ConnectorCode.STAFF_UNKNOWN)
        return found

    def list(self) -> list[Account]:
        return [_account(r) for r in self.store.query(
            f"SELECT {_COLUMNS} FROM staff_accounts ORDER BY login")]

    def set_disabled(self, login_or_id: str, disabled: bool,
                     now: datetime | None = None) -> Account:
        """Disable (or enable again) an account. The caller ends its sessions
        (``StaffSessions.revoke_account``): disabling alone refuses new logins, and
        sessions re-read the flag on every request anyway."""
        account = self.require(login_or_id)
        with self.store.transaction() as db:
            db.execute("UPDATE staff_accounts SET disabled = ?, failed_logins = 0, "
                       "locked_until = NULL WHERE id = ?", (int(disabled), account.id))
            self.audit.append("staff.account_disabled" if disabled else "staff.account_enabled",
                              now or datetime.now(UTC), staff=account.id,
                              staff_name=account.name)
        return self.require(account.id)

    def reset_totp(self, login_or_id: str, now: datetime | None = None) -> str:
        """A new TOTP secret (the old one stops working at once); its otpauth:// URI."""
        account = self.require(login_or_id)
        if not self._hash_of(account.id):
            raise ValidationError(f"{account.login} has no local login (set a password first)",
                                  field="login")
        secret = totp.new_secret()
        with self.store.transaction() as db:
            db.execute("UPDATE staff_accounts SET totp_secret = ?, totp_last_step = NULL, "
                       "failed_logins = 0, locked_until = NULL WHERE id = ?",
                       (secret, account.id))
            self.audit.append("staff.totp_reset", now or datetime.now(UTC), staff=account.id,
                              staff_name=account.name)
        return totp.provisioning_uri(secret, account.login, self.issuer_label)

    def link_oidc(self, login_or_id: str, issuer: str, subject: str,
                  now: datetime | None = None) -> Account:
        account = self.require(login_or_id)
        other = self.by_oidc(issuer, subject)
        if other is not None and other.id != account.id:
            raise StaffError(f"this OpenID Connect subject is linked to {other.login}",
                             code=ConnectorCode.STAFF_EXISTS)
        with self.store.transaction() as db:
            db.execute("UPDATE staff_accounts SET oidc_issuer = ?, oidc_subject = ? WHERE id = ?",
                       (issuer, subject, account.id))
            self.audit.append("staff.oidc_linked", now or datetime.now(UTC), staff=account.id,
                              staff_name=account.name, issuer=issuer)
        return self.require(account.id)

    def _hash_of(self, account_id: str) -> str | None:
        rows = self.store.query("SELECT password_hash FROM staff_accounts WHERE id = ?",
                                (account_id,))
        return rows[0][0] if rows else None

    # --- login ---------------------------------------------------------------------------

    def check_password(self, login: str, password: str, code: str,
                       now: datetime | None = None) -> Account:
        """The account whose password and TOTP code these are, or StaffError (audited).

        Order: the lock first (a locked name is not checked, so locking stops guessing),
        then the password (unknown names verify a dummy hash: same time, same answer), then
        the TOTP code and its step (a step used once is refused), then the disabled flag (a
        person who knows both factors may learn their account is disabled)."""
        now = now or datetime.now(UTC)
        rows = self.store.query(
            f"SELECT {_COLUMNS}, password_hash, totp_secret, totp_last_step, failed_logins "
            "FROM staff_accounts WHERE login = ?", (login,)) if _LOGIN.fullmatch(login) else []
        if not rows:
            key = _name_digest(f"{self.store.path}\0{login}")  # per connector
            if _UNKNOWN_FAILURES.get(key, 0) >= LOCK_AFTER:
                self._refused(None, ConnectorCode.STAFF_LOCKED, now)
            _verify_hash(_DUMMY_HASH, password)
            _UNKNOWN_FAILURES[key] = _UNKNOWN_FAILURES.get(key, 0) + 1
            self._refused(None, ConnectorCode.STAFF_LOGIN_FAILED, now)
        account = _account(rows[0][:12])
        password_hash, secret, last_step, failures = rows[0][12:]
        if account.locked_until is not None and now < account.locked_until:
            self._refused(account, ConnectorCode.STAFF_LOCKED, now)
        if not password_hash or not secret or len(password) > MAX_PASSWORD \
                or not _verify_hash(password_hash, password):
            if not password_hash:
                _verify_hash(_DUMMY_HASH, password)
            self._failed(account, failures, ConnectorCode.STAFF_LOGIN_FAILED, now)
        step = totp.matching_step(secret, code, now)
        if step is None:
            self._failed(account, failures, ConnectorCode.STAFF_TOTP_WRONG, now)
        if last_step is not None and step <= last_step:
            self._failed(account, failures, ConnectorCode.STAFF_TOTP_REPLAYED, now)
        if account.disabled:
            self._refused(account, ConnectorCode.STAFF_DISABLED, now)
        try:
            with self.store.transaction() as db:
                # The step is claimed in the same statement that checks it: of two logins racing
                # with one code, only one wins.
                claimed = db.execute(
                    "UPDATE staff_accounts SET totp_last_step = ?, failed_logins = 0, "
                    "locked_until = NULL WHERE id = ? AND (totp_last_step IS NULL OR "
                    "totp_last_step < ?)", (step, account.id, step)).rowcount
                if not claimed:
                    raise _Replayed()
                if _HASHER.check_needs_rehash(password_hash):
                    db.execute("UPDATE staff_accounts SET password_hash = ? WHERE id = ?",
                               (_HASHER.hash(password), account.id))
        except _Replayed:
            self._failed(account, failures, ConnectorCode.STAFF_TOTP_REPLAYED, now)
        return account

    def check_oidc(self, issuer: str, subject: str, now: datetime | None = None) -> Account:
        """The account linked to the provider's subject, or StaffError (audited)."""
        now = now or datetime.now(UTC)
        account = self.by_oidc(issuer, subject)
        if account is None:
            self._refused(None, ConnectorCode.OIDC_NOT_LINKED, now, method=OIDC)
        if account.disabled:
            self._refused(account, ConnectorCode.STAFF_DISABLED, now, method=OIDC)
        return account

    def _failed(self, account: Account, failures: int, code: ConnectorCode,
                now: datetime) -> NoReturn:
        failures += 1
        locked = _iso(now + LOCK_FOR) if failures >= LOCK_AFTER else None
        with self.store.transaction() as db:
            db.execute("UPDATE staff_accounts SET failed_logins = ?, locked_until = ? "
                       "WHERE id = ?", (0 if locked else failures, locked, account.id))
        self._refused(account, code, now, locked=locked is not None)

    def _refused(self, account: Account | None, code: ConnectorCode, now: datetime, *,
                 method: str = PASSWORD_TOTP, locked: bool = False) -> NoReturn:
        """Audit the refusal, then raise it (never returns)."""
        fields: dict[str, Any] = {"method": method, "code": code}
        if account is not None:
            fields.update(staff=account.id, staff_name=account.name)
        if locked:
            fields["locked_for_s"] = int(LOCK_FOR.total_seconds())
        with self.store.transaction():
            self.audit.append("staff.login_refused", now, **fields)
        raise StaffError(refusal_message(code), code=code)

    def refuse_oidc(self, code: ConnectorCode, now: datetime | None = None) -> NoReturn:
        """Audit and raise an OIDC refusal found before any account is known."""
        self._refused(None, code, now or datetime.now(UTC), method=OIDC)


_MESSAGES = {
    ConnectorCode.STAFF_LOGIN_FAILED: "the login name or password is wrong",
    ConnectorCode.STAFF_TOTP_WRONG: "the one-time code is wrong; check the authenticator "
                                    "app's clock and account",
    ConnectorCode.STAFF_TOTP_REPLAYED: "this one-time code was already used; wait for the "
                                       "next code (30 seconds)",
    ConnectorCode.STAFF_LOCKED: "too many failed logins: try again in 15 minutes, or ask an "
                                "administrator",
    ConnectorCode.STAFF_DISABLED: "this staff account is disabled; ask an administrator",
    ConnectorCode.OIDC_NOT_LINKED: "your municipality account is not linked to a staff "
                                   "account of this connector; ask an administrator",
}


def refusal_message(code: ConnectorCode) -> str:
    return _MESSAGES.get(code, code.meaning)


def _verify_hash(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password[:MAX_PASSWORD])
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False

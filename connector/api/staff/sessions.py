"""Staff sessions: what a person holds after logging in (the ``staff_sessions`` table).

The secret (``sts_`` + 32 random bytes) goes to the browser as a cookie or to an app as a
bearer value; the table keeps its SHA-256 digest only, with a public handle (``ses_...``)
that listings, audit lines and revocation use. A session ends at the first of: its absolute
expiry (8 hours: one shift), 30 minutes without a request (idle), logout, revocation by an
admin, or the account being disabled. Every request re-reads the account, so a change of
scopes, role or the disabled flag applies at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.api.staff.accounts import Account, StaffAccounts
from connector.api.tokens import AuthError, Person, ScopeError, TokenInfo
from connector.control.audit import AuditLog
from connector.errors import ConnectorCode
from connector.store.database import Store

PREFIX = "sts_"
ABSOLUTE = timedelta(hours=8)
IDLE = timedelta(minutes=30)
TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most this often


@dataclass(frozen=True)
class StaffSession:
    id: str  # ses_...
    secret: str  # sts_...: given to the client once, never stored
    account: Account
    expires: datetime


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


class StaffSessions:
    """Open, resolve, list and end staff sessions."""

    def __init__(self, store: Store, accounts: StaffAccounts | None = None, *,
                 absolute: timedelta = ABSOLUTE, idle: timedelta = IDLE) -> None:
        self.store = store
        self.accounts = accounts or StaffAccounts(store)
        self.audit = AuditLog(store)
        self.absolute, self.idle = absolute, idle

    def open(self, account: Account, method: str, now: datetime | None = None) -> StaffSession:
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        session = StaffSession("ses_" + secrets.token_hex(8), PREFIX + secrets.token_urlsafe(32),
                               account, now + self.absolute)
        with self.store.transaction() as db:
            db.execute("DELETE FROM staff_sessions WHERE expires <= ?", (_iso(now),))
            db.execute("INSERT INTO staff_sessions (id, digest, account_id, method, created, "
                       "last_seen, expires) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (session.id, _digest(session.secret), account.id, method, _iso(now),
                        _iso(now), _iso(session.expires)))
            self.audit.append("staff.login", now, staff=account.id, staff_name=account.name,
                              session=session.id, method=method)
        return session

    def resolve(self, secret: str | None, now: datetime | None = None) -> TokenInfo | None:
        """The person behind a live session, as a TokenInfo (scopes and role from the
        account, ``person`` set); None for anything else."""
        if not secret or not secret.startswith(PREFIX):
            return None
        rows = self.store.query("SELECT id, account_id, last_seen, expires, revoked FROM "
                                "staff_sessions WHERE digest = ?", (_digest(secret),))
        if not rows:
            return None
        session_id, account_id, last_seen, expires, revoked = rows[0]
        now = now or datetime.now(UTC)
        seen = datetime.fromisoformat(last_seen)
        if revoked or now >= datetime.fromisoformat(expires) or now >= seen + self.idle:
            return None
        account = self.accounts.get(account_id)
        if account is None or account.disabled:
            return None
        if now - seen >= TOUCH_EVERY:
            with self.store.transaction() as db:
                db.execute("UPDATE staff_sessions SET last_seen = ? WHERE id = ?",
                           (_iso(now), session_id))
        ends = min(datetime.fromisoformat(expires), now + self.idle)
        return TokenInfo(session_id, account.scopes, ends, account.role, None,
                         Person(account.id, account.name, session_id, account.department))

    def identify(self, secret: str) -> Account | None:
        """The account a session belongs to (ended ones too), for audit lines of refused
        requests; None if no session has this secret."""
        rows = self.store.query("SELECT account_id FROM staff_sessions WHERE digest = ?",
                                (_digest(secret),))
        return self.accounts.get(rows[0][0]) if rows else None

    def verify(self, secret: str | None, required_scope: str | None = None,
               now: datetime | None = None) -> TokenInfo:
        """As ``TokenStore.verify``: the principal, or AuthError (401) / ScopeError (403)."""
        info = self.resolve(secret, now)
        if info is None:
            raise AuthError("the staff session is unknown, expired, revoked or its account "
                            "disabled; log in again", code=ConnectorCode.AUTH_INVALID)
        if required_scope is not None and not info.allows(required_scope):
            raise ScopeError(f"staff account {info.person.account_id} lacks the scope "
                             f"{required_scope!r}", scope=required_scope)
        return info

    def logout(self, secret: str | None, now: datetime | None = None) -> bool:
        if not secret or not secret.startswith(PREFIX):
            return False
        now = now or datetime.now(UTC)
        with self.store.transaction() as db:
            row = db.execute("UPDATE staff_sessions SET revoked = 1 WHERE digest = ? AND "
                             "revoked = 0 RETURNING id, account_id",
                             (_digest(secret),)).fetchone()
            if row:
                account = self.accounts.get(row[1])
                self.audit.append("staff.logout", now, staff=row[1], session=row[0],
                                  staff_name=account.name if account else None)
        return row is not None

    def revoke(self, session_id: str, by: str = "cli", now: datetime | None = None) -> bool:
        """End one session at once (its next request is refused)."""
        with self.store.transaction() as db:
            row = db.execute("UPDATE staff_sessions SET revoked = 1 WHERE id = ? AND "
                             "revoked = 0 RETURNING account_id", (session_id,)).fetchone()
            if row:
                account = self.accounts.get(row[0])
                self.audit.append("staff.session_revoked", now or datetime.now(UTC),
                                  staff=row[0], staff_name=account.name if account else None,
                                  session=session_id, by=by)
        return row is not None

    def revoke_account(self, account: Account, by: str = "cli",
                       now: datetime | None = None) -> int:
        """End every session of an account (disabling it, a lost phone)."""
        with self.store.transaction() as db:
            ended = [r[0] for r in db.execute(
                "UPDATE staff_sessions SET revoked = 1 WHERE account_id = ? AND revoked = 0 "
                "RETURNING id", (account.id,)).fetchall()]
            if ended:
                self.audit.append("staff.session_revoked", now or datetime.now(UTC),
                                  staff=account.id, staff_name=account.name,
                                  sessions=sorted(ended), by=by)
        return len(ended)

    def list(self, account: Account | None = None,
             now: datetime | None = None) -> list[dict[str, Any]]:
        """Live sessions (all, or one account's): handles and times, never a secret."""
        now = now or datetime.now(UTC)
        sql = ("SELECT id, account_id, method, created, last_seen, expires FROM staff_sessions "
               "WHERE revoked = 0 AND expires > ?")
        params: tuple[Any, ...] = (_iso(now),)
        if account is not None:
            sql, params = sql + " AND account_id = ?", (*params, account.id)
        live = []
        for sid, account_id, method, created, seen, expires in self.store.query(
                sql + " ORDER BY created", params):
            if now < datetime.fromisoformat(seen) + self.idle:
                live.append({"id": sid, "account": account_id, "method": method,
                             "created": created, "last_seen": seen, "expires": expires})
        return live

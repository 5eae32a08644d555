"""Browser sessions of a domain's view, made from an app API token (the pmh views and the
steel supply-chain view share this; the bosai dashboard keeps its own table).

A reader pastes a token with the view's scope into the login form once; the browser then
holds only a random session id (HttpOnly, SameSite=Strict, the view's path). The view's
table (owned by its domain, named by it) keeps the id's SHA-256 digest and the token's id,
never the token, so revoking the token ends its sessions at once. Scripts send the token as
a bearer header instead. A staff person's session secret (``sts_...``, password + TOTP) is
resolved by the connector's staff service when the view takes staff.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from aiohttp import web

from connector.api.staff.service import StaffAuth
from connector.api.staff.sessions import PREFIX as STAFF_PREFIX
from connector.api.tokens import AuthError, TokenInfo, TokenStore
from connector.control.audit import AuditLog
from connector.store.database import Store

SESSION_TTL = timedelta(hours=8)
_TABLE = re.compile(r"[a-z][a-z0-9_]{0,62}")

SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    digest TEXT PRIMARY KEY,             -- SHA-256 of the session id (the id is in the cookie)
    token_id TEXT NOT NULL,              -- tokens.id: scopes, subjects, revocation read there
    scope TEXT NOT NULL,                 -- the view it was made for
    expires TEXT NOT NULL
);
"""


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


class ViewSessions:
    """Sessions of one view (``scope``) in the domain's ``table``; ``event`` names the
    audit line of a login."""

    def __init__(self, store: Store, scope: str, *, table: str, event: str,
                 staff: StaffAuth | None = None) -> None:
        if not _TABLE.fullmatch(table):
            raise ValueError(f"not a table name: {table!r}")
        self.store, self.scope, self.table, self.event = store, scope, table, event
        self.tokens = TokenStore(store)
        self.audit = AuditLog(store)
        self.staff = staff
        store.db.executescript(SCHEMA.format(table=table))

    def login(self, token: str) -> tuple[str, datetime]:
        """A session id for a token with this view's scope (AuthError / ScopeError)."""
        now = datetime.now(UTC)
        info = self.tokens.verify(token.strip(), self.scope, now=now)
        session_id = secrets.token_urlsafe(32)
        expires = min(now + SESSION_TTL, info.expires)
        with self.store.transaction() as db:
            db.execute(f"DELETE FROM {self.table} WHERE expires <= ?", (_iso(now),))
            db.execute(f"INSERT INTO {self.table} VALUES (?, ?, ?, ?)",
                       (_digest(session_id), info.id, self.scope, _iso(expires)))
            self.audit.append(self.event, now, token=info.id, view=self.scope)
        return session_id, expires

    def resolve(self, session_id: str | None) -> TokenInfo | None:
        if not session_id:
            return None
        if session_id.startswith(STAFF_PREFIX):
            return self.staff.sessions.resolve(session_id) if self.staff else None
        rows = self.store.query(f"SELECT token_id, expires FROM {self.table} "
                                "WHERE digest = ? AND scope = ?",
                                (_digest(session_id), self.scope))
        now = datetime.now(UTC)
        if not rows or _iso(now) >= rows[0][1]:
            return None
        return self.tokens.by_id(rows[0][0], now)

    def logout(self, session_id: str | None) -> None:
        if not session_id:
            return
        if session_id.startswith(STAFF_PREFIX):
            if self.staff is not None:
                self.staff.sessions.logout(session_id)
            return
        with self.store.transaction() as db:
            db.execute(f"DELETE FROM {self.table} WHERE digest = ?", (_digest(session_id),))

    def from_request(self, request: web.Request, cookie: str) -> TokenInfo | None:
        """The reader behind a request with this view's scope: a bearer token or the
        cookie's session; None otherwise."""
        header = request.headers.get("Authorization", "")
        info: TokenInfo | None
        if header[:7].lower() == "bearer ":
            info = bearer_reader(header[7:].strip(), self.tokens, self.staff)
        else:
            info = self.resolve(request.cookies.get(cookie))
        return info if info is not None and info.allows(self.scope) else None


def bearer_reader(value: str, tokens: TokenStore, staff: StaffAuth | None) -> TokenInfo | None:
    """Who a bearer value names: a staff person's session secret (``sts_...``) or an app
    API token; None for anything else (unknown, expired, revoked)."""
    if value.startswith(STAFF_PREFIX):
        return staff.sessions.resolve(value) if staff else None
    try:
        return tokens.verify(value)
    except AuthError:
        return None


def same_origin(request: web.Request) -> bool:
    """A state-changing request comes from our own pages (Sec-Fetch-Site is set by the
    browser, scripts cannot forge it for a browser)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str,
               path: str, max_age: int | None) -> None:
    response.set_cookie(name, value, path=path, max_age=max_age, httponly=True,
                        samesite="Strict", secure=request.secure or None)

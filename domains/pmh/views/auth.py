"""Who may see the pmh views (as the bosai dashboard does it).

* Health-department staff: a staff account (``connector.api.staff``: password + TOTP)
  whose scopes include ``pmh:dashboard``; the cookie holds the connector's staff session
  secret, resolved to the person on every request. Or an app token with the scope, pasted
  once into the login form, or sent as a bearer header by scripts.
* A family: a ``pmh:family`` token issued for the family's people (``subjects``), pasted
  into the family view's login form, or sent as a bearer header by the family's app.

A browser holds only a random session id (HttpOnly, SameSite=Strict, the view's path); the
table keeps its SHA-256 digest and the token's id, never the token, so revoking the token
ends its sessions at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from aiohttp import web

from connector.api.staff.service import StaffAuth
from connector.api.staff.sessions import PREFIX as STAFF_PREFIX
from connector.api.tokens import AuthError, TokenInfo, TokenStore
from connector.control.audit import AuditLog
from connector.store.database import Store

DASHBOARD = "pmh:dashboard"  # declared with the hub's scopes (domains.pmh.hub.api)
SESSION_TTL = timedelta(hours=8)

SCHEMA = """
CREATE TABLE IF NOT EXISTS pmh_view_sessions (
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


class Sessions:
    """Sessions of one view (``scope``) over the connector's store."""

    def __init__(self, store: Store, scope: str, staff: StaffAuth | None = None) -> None:
        self.store, self.scope = store, scope
        self.tokens = TokenStore(store)
        self.audit = AuditLog(store)
        self.staff = staff
        store.db.executescript(SCHEMA)

    def login(self, token: str) -> tuple[str, datetime]:
        """A session id for a token with this view's scope (AuthError / ScopeError)."""
        now = datetime.now(UTC)
        info = self.tokens.verify(token.strip(), self.scope, now=now)
        session_id = secrets.token_urlsafe(32)
        expires = min(now + SESSION_TTL, info.expires)
        with self.store.transaction() as db:
            db.execute("DELETE FROM pmh_view_sessions WHERE expires <= ?", (_iso(now),))
            db.execute("INSERT INTO pmh_view_sessions VALUES (?, ?, ?, ?)",
                       (_digest(session_id), info.id, self.scope, _iso(expires)))
            self.audit.append("pmh.view_login", now, token=info.id, view=self.scope)
        return session_id, expires

    def resolve(self, session_id: str | None) -> TokenInfo | None:
        if not session_id:
            return None
        if session_id.startswith(STAFF_PREFIX):
            return self.staff.sessions.resolve(session_id) if self.staff else None
        rows = self.store.query("SELECT token_id, expires FROM pmh_view_sessions "
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
            db.execute("DELETE FROM pmh_view_sessions WHERE digest = ?", (_digest(session_id),))

    def from_request(self, request: web.Request, cookie: str) -> TokenInfo | None:
        """The reader behind a request with this view's scope: a bearer token or the
        cookie's session; None otherwise."""
        header = request.headers.get("Authorization", "")
        info: TokenInfo | None
        if header[:7].lower() == "bearer ":
            value = header[7:].strip()
            if value.startswith(STAFF_PREFIX):
                info = self.staff.sessions.resolve(value) if self.staff else None
            else:
                try:
                    info = self.tokens.verify(value)
                except AuthError:
                    info = None
        else:
            info = self.resolve(request.cookies.get(cookie))
        return info if info is not None and info.allows(self.scope) else None


def same_origin(request: web.Request) -> bool:
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str,
               path: str, max_age: int | None) -> None:
    response.set_cookie(name, value, path=path, max_age=max_age, httponly=True,
                        samesite="Strict", secure=request.secure or None)

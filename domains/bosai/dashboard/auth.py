"""Who may see the dashboard: app API tokens, and browser sessions made from them.

Staff paste a token (``tsunagu connector token --scope bosai:dashboard``) into the login
form once; the browser then holds only a random session id in an HttpOnly, SameSite=Strict
cookie scoped to the dashboard's path. The session table keeps the id's SHA-256 digest and
the token's *id*, never the token: every request re-reads the token's scopes, expiry and
revocation, so revoking the token ends its sessions at once. Scripts may send the token as
a bearer header instead (same scopes, no cookie).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from connector.api.tokens import AuthError, TokenInfo, TokenStore
from connector.control.audit import AuditLog
from connector.store.database import Error as DbError
from connector.store.database import Store, StoreError

DASHBOARD = "bosai:dashboard"
PERSON_SEARCH = "bosai:person-search"
INQUIRY = "bosai:inquiry"  # declared with the app routes' scopes (domains.bosai.api)
SCOPES = {
    DASHBOARD: "read the bosai municipality dashboard (aggregates, shelters, supplies)",
    PERSON_SEARCH: "find evacuees by name on the bosai dashboard (personal data; audited)",
}
SESSION_COOKIE = "tsunagu_bosai_session"
LANG_COOKIE = "tsunagu_bosai_lang"
SESSION_TTL = timedelta(hours=8)  # one shift; never longer than the token itself

SCHEMA = """
CREATE TABLE IF NOT EXISTS bosai_dashboard_sessions (
    digest TEXT PRIMARY KEY,             -- SHA-256 of the session id; the id is only in the cookie
    token_id TEXT NOT NULL,              -- tokens.id: scopes and revocation are read from there
    created TEXT NOT NULL,
    expires TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bosai_dashboard_sessions_expires ON bosai_dashboard_sessions(expires);
"""


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Session:
    id: str  # the cookie value
    expires: datetime


class Sessions:
    """Login, lookup and logout over the connector's store (tables ``tokens`` and
    ``bosai_dashboard_sessions``)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.tokens = TokenStore(store)
        self.audit = AuditLog(store)
        try:
            store.db.executescript(SCHEMA)
        except DbError as exc:
            raise StoreError(f"store {store.path} cannot hold dashboard sessions: {exc}") from exc

    def login(self, token: str, now: datetime | None = None) -> Session:
        """A session for a token with the dashboard scope (AuthError / ScopeError if not)."""
        now = now or datetime.now(UTC)
        info = self.tokens.verify(token.strip(), DASHBOARD, now=now)
        session = Session(secrets.token_urlsafe(32), min(now + SESSION_TTL, info.expires))
        with self.store.transaction() as db:
            db.execute("DELETE FROM bosai_dashboard_sessions WHERE expires <= ?", (_iso(now),))
            db.execute("INSERT INTO bosai_dashboard_sessions (digest, token_id, created, expires)"
                       " VALUES (?, ?, ?, ?)",
                       (_digest(session.id), info.id, _iso(now), _iso(session.expires)))
            self.audit.append("bosai.dashboard_login", now, token=info.id)
        return session

    def staff(self, session_id: str | None, now: datetime | None = None) -> TokenInfo | None:
        """The token behind a live session, or None (unknown, expired, token revoked)."""
        if not session_id:
            return None
        rows = self.store.query("SELECT token_id, expires FROM bosai_dashboard_sessions "
                                "WHERE digest = ?", (_digest(session_id),))
        if not rows:
            return None
        token_id, session_expires = rows[0]
        moment = now or datetime.now(UTC)
        if _iso(moment) >= session_expires:
            return None
        return self.tokens.by_id(token_id, moment)  # None once revoked or expired

    def logout(self, session_id: str | None) -> None:
        if not session_id:
            return
        with self.store.transaction() as db:
            gone = db.execute("DELETE FROM bosai_dashboard_sessions WHERE digest = ? "
                              "RETURNING token_id", (_digest(session_id),)).fetchone()
            if gone:
                self.audit.append("bosai.dashboard_logout", datetime.now(UTC), token=gone[0])

    def from_request(self, request: web.Request) -> TokenInfo | None:
        """Staff behind a request: a bearer token (scripts) or the session cookie (browsers)."""
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            try:
                return self.tokens.verify(header[7:].strip())
            except AuthError:
                return None
        return self.staff(request.cookies.get(SESSION_COOKIE))


def same_origin(request: web.Request) -> bool:
    """A state-changing request comes from our own pages (SameSite=Strict already keeps the
    cookie off cross-site requests; this refuses them even for a browser that ignores it)."""
    site = request.headers.get("Sec-Fetch-Site")  # set by the browser, scripts cannot forge it
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str,
               path: str, max_age: int | None) -> None:
    response.set_cookie(name, value, path=path, max_age=max_age, httponly=True,
                        samesite="Strict", secure=request.secure or None)

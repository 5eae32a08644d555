"""Who may see the dashboard: app API tokens, and browser sessions made from them.

Staff paste a token (``tsunagu connector token --scope bosai:dashboard``) into the login
form once; the browser then holds only a random session id in an HttpOnly, SameSite=Strict
cookie scoped to the dashboard's path. The session table keeps the id's SHA-256 digest and
the token's *id*, never the token: every request re-reads the token's scopes, expiry and
revocation, so revoking the token ends its sessions at once. Scripts may send the token as
a bearer header instead (same scopes, no cookie).

Persons log in with their staff account instead (``connector.api.staff``: password + TOTP,
or the municipality's OpenID Connect provider): the cookie then holds the connector's staff
session secret (``sts_...``), which the connector resolves to the person on every request,
so audit lines name the person and an admin's revocation ends the session at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from connector.api.staff.service import StaffAuth
from connector.api.staff.sessions import PREFIX as STAFF_PREFIX
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
OIDC_STATE_COOKIE = "tsunagu_bosai_oidc"  # binds a provider login to the browser that began it
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

    def __init__(self, store: Store, staff: StaffAuth | None = None) -> None:
        self.store = store
        self.tokens = TokenStore(store)
        self.audit = AuditLog(store)
        self.staff = staff or StaffAuth(store)
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

    def session(self, session_id: str | None, now: datetime | None = None) -> TokenInfo | None:
        """The person or token behind a live session, or None (unknown, expired, revoked)."""
        if not session_id:
            return None
        if session_id.startswith(STAFF_PREFIX):
            return self.staff.sessions.resolve(session_id, now)
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
        if session_id.startswith(STAFF_PREFIX):
            self.staff.sessions.logout(session_id)
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
            value = header[7:].strip()
            if value.startswith(STAFF_PREFIX):  # an app a person logged in to
                return self.staff.sessions.resolve(value)
            try:
                return self.tokens.verify(value)
            except AuthError:
                return None
        return self.session(request.cookies.get(SESSION_COOKIE))


def same_origin(request: web.Request) -> bool:
    """A state-changing request comes from our own pages (SameSite=Strict already keeps the
    cookie off cross-site requests; this refuses them even for a browser that ignores it)."""
    site = request.headers.get("Sec-Fetch-Site")  # set by the browser, scripts cannot forge it
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str,
               path: str, max_age: int | None, samesite: str = "Strict") -> None:
    response.set_cookie(name, value, path=path, max_age=max_age, httponly=True,
                        samesite=samesite, secure=request.secure or None)

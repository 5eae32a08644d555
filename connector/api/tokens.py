"""Bearer tokens for the local app API: issued once, stored only as a SHA-256 digest.

A token is ``tsu_`` + 32 random bytes (urlsafe base64). The store keeps its digest, scopes and
expiry; the token itself is printed once and never written anywhere. Verification hashes the
presented token and looks the digest up: the secret is never compared byte by byte, so there
is no timing side channel on it (the digest of a guess tells an attacker nothing useful).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.errors import ConnectorCode
from connector.store.database import Store
from trust.errors import TsunaguError, ValidationError

PREFIX = "tsu_"
SCOPES = frozenset({
    "records:read", "records:write", "catalog:read", "contracts:read", "contracts:write",
    "events:read", "admin",
    # Residents' rights (connector/api/residents.py): a person's own app, limited to the
    # people its subjects name; staff assisting a person at a counter.
    "residents:self", "residents:assist",
})
ADMIN = "admin"  # implies every other scope
RESIDENT = "residents:self"  # a person's own app: only with the people it acts for
_ROLE = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_DAYS = 3650
# Scopes of domain plug-ins' routes ("bosai:dashboard"), registered when a plug-in is
# activated (connector.plugins): name -> what it allows, for people choosing scopes.
_domain_scopes: dict[str, str] = {}


def register_scope(name: str, description: str) -> None:
    """Make a domain scope issuable. The same name twice must mean the same thing."""
    known = _domain_scopes.get(name)
    if name in SCOPES or (known is not None and known != description):
        raise ValidationError(f"scope {name!r} is already defined", field="scope")
    _domain_scopes[name] = description


def known_scopes() -> frozenset[str]:
    """Every scope a token may be issued with: the core ones and the active plug-ins'."""
    return SCOPES | frozenset(_domain_scopes)


class AuthError(TsunaguError):
    """No usable token: missing, unknown, revoked or expired."""

    code = ConnectorCode.AUTH_INVALID


class ScopeError(TsunaguError):
    """A valid token that lacks the scope the operation needs."""

    code = ConnectorCode.AUTH_SCOPE


@dataclass(frozen=True)
class Person:
    """The staff member behind a session (connector.api.staff): audit lines name them."""

    account_id: str  # stf_...
    name: str  # display name
    session_id: str  # ses_...: the session's public handle, never its secret
    department: str | None = None


@dataclass(frozen=True)
class TokenInfo:
    id: str
    scopes: frozenset[str]
    expires: datetime
    # Who the app reads as, for the usage gate (connector.control.decisions.Reader): its role
    # inside the participant (tsunagu:readerRole) and, for an app limited to the records
    # about some parties (a family app), their ids.
    role: str | None = None
    subjects: frozenset[str] | None = None
    # Set when a staff session (not a token) stands behind the request: the person.
    person: Person | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or ADMIN in self.scopes

    def audit_fields(self) -> dict[str, str]:
        """Who acted, for an audit line: the person (account id and name) behind a staff
        session, the token's id otherwise."""
        if self.person is not None:
            return {"staff": self.person.account_id, "staff_name": self.person.name,
                    "session": self.person.session_id}
        return {"token": self.id}

    @property
    def actor(self) -> str:
        """One string naming who acted: ``staff:stf_... <name>`` or ``token:tok_...``."""
        if self.person is not None:
            return f"staff:{self.person.account_id} {self.person.name}"
        return f"token:{self.id}"


@dataclass(frozen=True)
class IssuedToken:
    id: str
    token: str  # shown once to whoever issued it
    scopes: frozenset[str]
    expires: datetime
    role: str | None = None
    subjects: frozenset[str] | None = None


_COLUMNS = "id, scopes, expires, revoked, role, subjects"


def _info(row: tuple[Any, ...]) -> TokenInfo:
    token_id, scopes, expires, _, role, parties = row
    return TokenInfo(token_id, frozenset(scopes.split()), datetime.fromisoformat(expires), role,
                     None if parties is None else frozenset(json.loads(parties)))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _format(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


class TokenStore:
    """Issue, verify and revoke tokens in a connector's ``tokens`` table."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def issue(self, scopes: list[str] | frozenset[str], *, days: int = 90,
              now: datetime | None = None, role: str | None = None,
              subjects: list[str] | None = None) -> IssuedToken:
        wanted, known = frozenset(scopes), known_scopes()
        unknown = sorted(wanted - known)
        if not wanted or unknown:
            raise ValidationError(
                f"unknown scope(s) {unknown}; choose from {sorted(known)}" if unknown
                else f"give at least one scope, from {sorted(known)}", field="scope")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            raise ValidationError(f"validity must be 1 to {MAX_DAYS} days", field="days")
        if role is not None and not _ROLE.fullmatch(role):
            raise ValidationError("a reader role is lowercase letters, digits and _ (at most "
                                  "64)", field="role")
        parties = None if subjects is None else frozenset(subjects)
        if parties is not None and (not parties or not all(
                isinstance(p, str) and 0 < len(p) <= 2048 for p in parties)):
            raise ValidationError("subjects must be one or more ids", field="subjects")
        if RESIDENT in wanted and parties is None:
            raise ValidationError(f"a {RESIDENT} token acts for the people it is issued for: "
                                  "name them (--subject)", field="subjects")
        expires = (now or datetime.now(UTC)).replace(microsecond=0) + timedelta(days=days)
        token = PREFIX + secrets.token_urlsafe(32)
        token_id = "tok_" + secrets.token_hex(8)  # names the token in listings and revocation
        with self.store.transaction() as db:
            db.execute("INSERT INTO tokens (id, digest, scopes, expires, role, subjects) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (token_id, digest(token), " ".join(sorted(wanted)), _format(expires),
                        role, None if parties is None else json.dumps(sorted(parties))))
        return IssuedToken(token_id, token, wanted, expires, role, parties)

    def verify(self, token: str | None, required_scope: str | None = None,
               now: datetime | None = None) -> TokenInfo:
        """The token's id and scopes, or AuthError (401) / ScopeError (403)."""
        if not token:
            raise AuthError("this API needs a bearer token; issue one with "
                            "'tsunagu connector token'", code=ConnectorCode.AUTH_MISSING)
        if not token.startswith(PREFIX):
            raise AuthError("the bearer token is not a tsunagu token",
                            code=ConnectorCode.AUTH_INVALID)
        rows = self.store.query(f"SELECT {_COLUMNS} FROM tokens WHERE digest=?",
                                (digest(token),))
        if not rows or rows[0][3]:
            raise AuthError("the bearer token is unknown or revoked",
                            code=ConnectorCode.AUTH_INVALID)
        info = _info(rows[0])
        if (now or datetime.now(UTC)) >= info.expires:
            raise AuthError(f"the bearer token {info.id} expired at {rows[0][2]}; "
                            "issue a new one", code=ConnectorCode.AUTH_EXPIRED)
        if required_scope is not None and not info.allows(required_scope):
            raise ScopeError(f"token {info.id} lacks the scope {required_scope!r}",
                             scope=required_scope)
        return info

    def identify(self, token: str) -> str | None:
        """The id of a token (revoked or expired ones too), for audit lines; None if unknown."""
        rows = self.store.query("SELECT id FROM tokens WHERE digest = ?", (digest(token),))
        return rows[0][0] if rows else None

    def by_id(self, token_id: str, now: datetime | None = None) -> TokenInfo | None:
        """A live token's id, scopes, role and parties by its id (None if unknown, revoked
        or expired): for sessions that keep a token id, never the token."""
        rows = self.store.query(f"SELECT {_COLUMNS} FROM tokens WHERE id = ?", (token_id,))
        if not rows or rows[0][3]:
            return None
        info = _info(rows[0])
        return info if (now or datetime.now(UTC)) < info.expires else None

    def revoke(self, token_id: str) -> bool:
        """Mark a token revoked; False if there is no such token."""
        with self.store.transaction() as db:
            changed = db.execute("UPDATE tokens SET revoked=1 WHERE id=?", (token_id,)).rowcount
        return changed > 0

    def list(self) -> list[dict[str, object]]:
        """Every token's id, scopes, expiry and revocation; never a secret."""
        return [{"id": r[0], "scopes": r[1].split(), "expires": r[2], "revoked": bool(r[3]),
                 "role": r[4], "subjects": None if r[5] is None else len(json.loads(r[5]))}
                for r in self.store.query(
                    "SELECT id, scopes, expires, revoked, role, subjects FROM tokens ORDER BY id")]

"""Staff login through the municipality's OpenID Connect provider (authorization code flow
with PKCE, state and nonce), authlib and its JOSE library joserfc doing the protocol parts.

``begin`` makes a one-time state, nonce and PKCE verifier, keeps them in memory for ten
minutes and gives the provider's authorization URL; the caller binds the state to the
browser (a cookie). ``finish`` takes what the provider sent back: the state must be one
this process made and the browser holds, and is used once; the code is exchanged at the
token endpoint with the verifier and the client secret; the ID token must be signed by a
key of the provider's JWKS, name the configured issuer and this client as its audience,
be unexpired and carry this login's nonce. Then the account linked (by an admin) to that
issuer and subject logs in; nobody else does: a valid login at the provider by someone
without a linked account is refused (``oidc.not_linked``). Every refusal is audited.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from cachetools import TTLCache
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
)
from joserfc.jwk import KeySet

from connector.api.staff.accounts import OIDC, StaffAccounts, StaffError
from connector.api.staff.sessions import StaffSession, StaffSessions
from connector.errors import ConnectorCode
from trust.errors import ConfigError

PENDING_S = 600  # a login must come back from the provider within ten minutes
LEEWAY_S = 60  # clock difference tolerated on exp / iat
ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]  # never "none", never HS* (the secret)
TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True)
class OidcSettings:
    issuer: str  # exactly as the provider's discovery document names itself
    client_id: str
    client_secret_file: Path  # read when needed; never logged
    redirect_uri: str  # the connector's callback, as registered at the provider
    scopes: str = "openid email profile"

    def client_secret(self) -> str:
        try:
            return self.client_secret_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the OpenID Connect client secret file "
                              f"{self.client_secret_file}: {exc.strerror}") from None


@dataclass(frozen=True)
class _Pending:
    nonce: str
    verifier: str


@dataclass(frozen=True)
class Begun:
    url: str  # where to send the browser
    state: str  # to bind to the browser (a cookie) and hand back to ``finish``


class OidcError(StaffError):
    """An OpenID Connect login refused (the code says which check)."""

    code = ConnectorCode.OIDC_INVALID_TOKEN


def verify_id_token(id_token: str, keys: KeySet, *, issuer: str, client_id: str, nonce: str,
                    now: datetime | None = None) -> dict[str, Any]:
    """The ID token's claims once signature, iss, aud, exp and nonce hold; OidcError else."""
    try:
        token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
    except (BadSignatureError, InvalidKeyIdError):
        raise OidcError("the ID token is not signed by a key of the configured provider",
                        code=ConnectorCode.OIDC_BAD_SIGNATURE) from None
    except (JoseError, ValueError):
        raise OidcError("the ID token is not a signed JWT this connector can read",
                        code=ConnectorCode.OIDC_INVALID_TOKEN) from None
    claims = CodeIDToken(dict(token.claims), token.header,
                         options={"iss": {"essential": True, "value": issuer},
                                  "aud": {"essential": True, "value": client_id},
                                  "sub": {"essential": True}, "exp": {"essential": True}},
                         params={"client_id": client_id})
    at = int((now or datetime.now(UTC)).timestamp())
    try:
        claims.validate(now=at, leeway=LEEWAY_S)
    except ExpiredTokenError:
        raise OidcError("the ID token has expired", code=ConnectorCode.OIDC_EXPIRED) from None
    except ClaimError as exc:
        claim = getattr(exc, "claim", None)
        code = {"iss": ConnectorCode.OIDC_WRONG_ISSUER, "aud": ConnectorCode.OIDC_WRONG_AUDIENCE,
                "azp": ConnectorCode.OIDC_WRONG_AUDIENCE,
                "exp": ConnectorCode.OIDC_EXPIRED}.get(claim, ConnectorCode.OIDC_INVALID_TOKEN)
        raise OidcError(f"the ID token's {claim or 'claims'} do not hold for this connector",
                        code=code, claim=claim) from None
    found = claims.get("nonce")
    if not isinstance(found, str) or not hmac.compare_digest(found, nonce):
        raise OidcError("the ID token's nonce is not this login's",
                        code=ConnectorCode.OIDC_WRONG_NONCE)
    return dict(claims)


class OidcLogin:
    """One connector's relying party for one provider (its state lives in this object)."""

    def __init__(self, settings: OidcSettings, accounts: StaffAccounts,
                 sessions: StaffSessions) -> None:
        self.settings = settings
        self.accounts, self.sessions = accounts, sessions
        self._pending: TTLCache[str, _Pending] = TTLCache(maxsize=10_000, ttl=PENDING_S)
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    async def _get_json(self, http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
        try:
            async with http.get(url) as resp:
                if resp.status != 200:
                    raise OidcError(f"the OpenID Connect provider answered {resp.status} for "
                                    f"{url}", code=ConnectorCode.OIDC_PROVIDER)
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise OidcError(f"the OpenID Connect provider cannot be reached at {url}: "
                            f"{type(exc).__name__}", code=ConnectorCode.OIDC_PROVIDER) from None
        if not isinstance(body, dict):
            raise OidcError(f"{url} did not answer with a JSON object",
                            code=ConnectorCode.OIDC_PROVIDER)
        return body

    async def metadata(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        if self._metadata is None:
            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            found = await self._get_json(http, url)
            if found.get("issuer") != self.settings.issuer:  # OIDC Discovery 1.0 section 4.3
                raise OidcError("the provider's discovery document names another issuer",
                                code=ConnectorCode.OIDC_WRONG_ISSUER)
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(found.get(key), str):
                    raise OidcError(f"the provider's discovery document lacks {key}",
                                    code=ConnectorCode.OIDC_PROVIDER)
            self._metadata = found
        return self._metadata

    async def _key_set(self, http: aiohttp.ClientSession, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            jwks = await self._get_json(http, (await self.metadata(http))["jwks_uri"])
            try:
                self._keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError, TypeError):
                raise OidcError("the provider's JWKS cannot be read",
                                code=ConnectorCode.OIDC_PROVIDER) from None
        return self._keys

    async def begin(self) -> Begun:
        state, nonce, verifier = generate_token(43), generate_token(43), generate_token(64)
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            endpoint = (await self.metadata(http))["authorization_endpoint"]
        self._pending[state] = _Pending(nonce, verifier)
        query = urlencode({"response_type": "code", "client_id": self.settings.client_id,
                           "redirect_uri": self.settings.redirect_uri,
                           "scope": self.settings.scopes, "state": state, "nonce": nonce,
                           "code_challenge": create_s256_code_challenge(verifier),
                           "code_challenge_method": "S256"})
        return Begun(f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", state)

    async def finish(self, *, state: str | None, browser_state: str | None, code: str | None,
                     error: str | None = None, now: datetime | None = None) -> StaffSession:
        """A staff session for the person the provider vouches for; OidcError (audited)."""
        now = now or datetime.now(UTC)
        pending = self._pending.pop(state, None) if state else None
        if pending is None or not browser_state or not hmac.compare_digest(state, browser_state):
            self.accounts.refuse_oidc(ConnectorCode.OIDC_WRONG_STATE, now)
        if error or not code:  # the person cancelled, or the provider refused
            self.accounts.refuse_oidc(ConnectorCode.OIDC_PROVIDER, now)
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
                id_token = await self._exchange(http, code, pending.verifier)
                keys = await self._key_set(http)
                try:
                    claims = verify_id_token(id_token, keys, issuer=self.settings.issuer,
                                             client_id=self.settings.client_id,
                                             nonce=pending.nonce, now=now)
                except OidcError as exc:
                    if exc.code != ConnectorCode.OIDC_BAD_SIGNATURE:
                        raise
                    # The provider may have rotated its keys: fetch them once more.
                    claims = verify_id_token(id_token, await self._key_set(http, refresh=True),
                                             issuer=self.settings.issuer,
                                             client_id=self.settings.client_id,
                                             nonce=pending.nonce, now=now)
        except OidcError as exc:
            self.accounts.refuse_oidc(ConnectorCode(exc.code), now)
        account = self.accounts.check_oidc(self.settings.issuer, claims["sub"], now)
        return self.sessions.open(account, OIDC, now)

    async def _exchange(self, http: aiohttp.ClientSession, code: str, verifier: str) -> str:
        endpoint = (await self.metadata(http))["token_endpoint"]
        # client_secret_basic: both parts form-encoded first (RFC 6749 section 2.3.1)
        pair = (f"{quote(self.settings.client_id, safe='')}:"
                f"{quote(self.settings.client_secret(), safe='')}")
        auth = "Basic " + base64.b64encode(pair.encode()).decode()
        form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                "redirect_uri": self.settings.redirect_uri}
        try:
            async with http.post(endpoint, data=form,
                                 headers={"Accept": "application/json",
                                          "Authorization": auth}) as resp:
                body = await resp.json(content_type=None)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise OidcError(f"the provider's token endpoint failed: {type(exc).__name__}",
                            code=ConnectorCode.OIDC_PROVIDER) from None
        if status != 200 or not isinstance(body, dict) \
                or not isinstance(body.get("id_token"), str):
            # the provider's error code only: its description might echo input
            error = body.get("error") if isinstance(body, dict) else None
            raise OidcError(f"the provider's token endpoint refused the code ({status}, "
                            f"{error})", code=ConnectorCode.OIDC_PROVIDER)
        return body["id_token"]



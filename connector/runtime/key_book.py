"""Which key signs for which participant, as this connector knows it (``trust.key_history``).

Two sources, the authority's word both times:

- the key-history document the authority signs and serves beside the status list
  (``/key-history``), held in a ``KeyHistoryCache`` and refreshed with the status list, and
  fetched at once (at most every ``min_fetch_interval_s``) when a record or message is
  signed by a key the book does not know: a provider that rotated mid-stream is learnt from
  its first record with the new key, not a minute later;
- the ``signingKey`` of every participant credential that verified here: the authority's
  binding of that key to the identity for the credential's validity, known before the next
  document names it.

When the document names a key, its periods decide (an end there, a rotation or a
compromise, overrides any credential). With a fetcher configured and no fresh document, every
check fails closed (``key_history.unknown``), as credentials do without a status list.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from trust.credentials import VerifiedCredential
from trust.errors import TsunaguError
from trust.key_history import (
    CLOCK_SKEW,
    KeyHistoryCache,
    KeyPeriod,
    KeyRejected,
    check_key,
    current_key,
    identity_only,
    parse_signed_at,
)

log = logging.getLogger(__name__)

# Returns the authority's signed key-history document (fetching it is the caller's I/O).
Fetch = Callable[[], Awaitable[Any]]


class KeyBook:
    def __init__(self, cache: KeyHistoryCache, fetch: Fetch | None = None, *,
                 leeway: timedelta = CLOCK_SKEW, min_fetch_interval_s: float = 1.0) -> None:
        self.cache = cache
        self.fetch = fetch
        self.leeway = leeway
        self.min_fetch_interval_s = min_fetch_interval_s
        # identity -> signing key -> (from, until), from credentials that verified here
        self._bound: dict[str, dict[str, tuple[datetime, datetime]]] = {}
        self._fetched_at: float | None = None
        self._fetching: asyncio.Lock | None = None
        self._asked: set[str] = set()  # unknown keys a fetch was made for (bounded below)

    # ------------------------------------------------------------------ learning

    def learn(self, credential: VerifiedCredential) -> None:
        """Remember the key a verified credential binds to its subject."""
        if credential.signing_key != credential.did:
            self._bound.setdefault(credential.did, {})[credential.signing_key] = (
                credential.valid_from, credential.valid_until)

    async def refresh(self, *, force: bool = False, unknown: Iterable[str] = ()) -> bool:
        """Fetch the authority's document now, unless one was fetched within
        ``min_fetch_interval_s`` (``force``, or a key in ``unknown`` not asked about
        before, fetches anyway). False when it could not be had."""
        if self.fetch is None:
            return False
        if self._fetching is None:
            self._fetching = asyncio.Lock()
        new = set(unknown) - self._asked
        if len(self._asked) > 10_000:  # forged keys must not grow it without end
            self._asked.clear()
        self._asked |= new
        async with self._fetching:
            loop_time = asyncio.get_running_loop().time()
            if not force and not new and self._fetched_at is not None \
                    and loop_time - self._fetched_at < self.min_fetch_interval_s:
                return False
            self._fetched_at = loop_time
            try:
                self.cache.add(await self.fetch())
            except (OSError, TimeoutError, TsunaguError) as exc:
                log.warning("key history refresh failed",
                            extra={"error": getattr(exc, "code", type(exc).__name__)})
                return False
            except Exception as exc:  # aiohttp's errors and the like: try again later
                log.warning("key history refresh failed", extra={"error": type(exc).__name__})
                return False
            return True

    # ------------------------------------------------------------------ deciding

    def periods(self, identity: str, now: datetime) -> tuple[KeyPeriod, ...]:
        if self.fetch is not None:
            base = self.cache.key_histories(now).histories.get(identity)
        else:  # no authority document configured (tests, plain development setups)
            base = None
        periods = base or identity_only(identity)
        named = {p.key for p in periods}
        extra = tuple(KeyPeriod(key, since, until, "rotated")
                      for key, (since, until) in self._bound.get(identity, {}).items()
                      if key not in named)
        return periods + extra

    def check(self, identity: str, key: str, at: datetime, now: datetime | None = None
              ) -> KeyPeriod:
        """The period in which ``key`` signed for ``identity`` at ``at``; ``KeyRejected``."""
        return check_key(identity, key, at, self.periods(identity, now or datetime.now(UTC)),
                         leeway=self.leeway)

    def check_proof(self, identity: str, key: str, created: str | None) -> None:
        """``trust.proofs.KeyCheck``: a proof by ``key`` made at its ``created``."""
        now = datetime.now(UTC)
        self.check(identity, key, parse_signed_at(created, now), now)

    def knows(self, identity: str, key: str) -> bool:
        """Whether any period of ``identity`` names ``key`` (whatever its validity)."""
        try:
            return any(p.key == key for p in self.periods(identity, datetime.now(UTC)))
        except KeyRejected:
            return False

    def current_key(self, identity: str, now: datetime | None = None) -> str:
        """The key ``identity`` signs with now (what to encrypt to); its DID if unknown."""
        try:
            return current_key(self.periods(identity, now or datetime.now(UTC)),
                               now or datetime.now(UTC)) or identity
        except KeyRejected:
            return identity


def http_fetcher(url: str, timeout: float = 5.0) -> Fetch:
    """Fetches the authority's key-history document from ``url``."""

    async def fetch() -> Any:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http, \
                http.get(url) as response:
            response.raise_for_status()
            return await response.json(content_type=None)

    return fetch

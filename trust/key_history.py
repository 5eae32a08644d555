"""Key histories: which Ed25519 keys may sign for a participant, and when.

A participant is named by its *identity DID*: the did:key of the first key it was onboarded
with. Subjects, agreements and credentials name that DID for good. A did:key cannot rotate,
so the authority binds later signing keys to the identity: per participant a list of
periods ``(key, validFrom, validUntil, reason)``. A signature made at time t by key K speaks
for identity X iff one of X's periods names K and covers t. With no history on record, the
identity key is X's only key, valid without end.

The authority publishes every history in one signed document (``sign_key_histories``,
``eddsa-jcs-2022`` by its did:key, short-lived like the status list), served beside the
status list; relying parties keep the newest verified one (``KeyHistoryCache``) and decide
with ``check_key``. The checks here are pure: what counts as "the time of a signature"
(a proof's ``created``, an envelope's ``iat``) is the caller's to say.

Codes: ``key.rotated_out`` (the key's period ended before the signature), ``key.not_yet_valid``
(before it began), ``key.unknown`` (no period of this participant names the key),
``key.history_unknown`` (no fresh history to decide with: fail closed).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from trust.authority_documents import sign_dated
from trust.authority_keys import AuthorityKeyring, AuthorityKeysError
from trust.credentials import aware_now
from trust.errors import DidError, ProofError, TrustCode, TsunaguError, ValidationError
from trust.keys import DID_KEY_PREFIX, KeyPair, resolve_did_key
from trust.proofs import format_datetime, verify_document

KEY_HISTORY_TYPE = "tsunagu:KeyHistories"
DEFAULT_TTL = timedelta(minutes=15)
CLOCK_SKEW = timedelta(seconds=30)
REASONS = ("onboarded", "rotated", "compromised", "lost")


class KeyRejected(TsunaguError):
    """A signature was made with a key that did not speak for the participant then."""

    code = TrustCode.KEY_UNKNOWN


@dataclass(frozen=True)
class KeyPeriod:
    """One key's period of speaking for an identity. ``None`` ends are open."""

    key: str  # did:key of the signing key
    valid_from: datetime | None
    valid_until: datetime | None
    reason: str  # why the period began: onboarded | rotated | compromised | lost
    ended_because: str | None = None  # why it ended early: rotated | compromised | lost

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "reason": self.reason}
        if self.valid_from is not None:
            out["validFrom"] = format_datetime(self.valid_from)
        if self.valid_until is not None:
            out["validUntil"] = format_datetime(self.valid_until)
        if self.ended_because is not None:
            out["endedBecause"] = self.ended_because
        return out

    @classmethod
    def from_json(cls, value: Any) -> KeyPeriod:
        if not isinstance(value, dict):
            raise _malformed("a key period must be a JSON object")
        key = value.get("key")
        try:
            resolve_did_key(key)
        except DidError:
            raise _malformed("a key period names no did:key") from None
        if value.get("reason") not in REASONS:
            raise _malformed(f"a key period's reason must be one of {', '.join(REASONS)}")
        ended = value.get("endedBecause")
        if ended is not None and ended not in REASONS:
            raise _malformed("endedBecause is not a known reason")
        period = cls(key=key, valid_from=_time(value.get("validFrom")),
                     valid_until=_time(value.get("validUntil")), reason=value["reason"],
                     ended_because=ended)
        if period.valid_from and period.valid_until and period.valid_until <= period.valid_from:
            raise _malformed("a key period ends before it begins")
        return period


def _malformed(message: str) -> KeyRejected:
    return KeyRejected(f"key history: {message}", code=TrustCode.KEY_HISTORY_MALFORMED)


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _malformed("times must be ISO 8601 date-times with a time zone")
    return moment.astimezone(UTC)


def identity_only(identity: str) -> tuple[KeyPeriod, ...]:
    """The history of a participant that never rotated: its identity key, without end."""
    return (KeyPeriod(identity, None, None, "onboarded"),)


def parse_signed_at(value: str | None, fallback: datetime) -> datetime:
    """A proof's ``created`` as a moment; a proof without one counts as made ``fallback``
    (now): an undated signature by a rotated-out key must not pass as an old one."""
    if value is None:
        return fallback
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ProofError("proof.created is not a date-time",
                         code=TrustCode.PROOF_MALFORMED) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_key(identity: str, key: str, at: datetime, periods: Sequence[KeyPeriod], *,
              leeway: timedelta = CLOCK_SKEW) -> KeyPeriod:
    """The period in which ``key`` spoke for ``identity`` at ``at``; ``KeyRejected`` if none.

    ``leeway`` applies to the start only: a period's end is a decision (a rotation, a
    compromise) that a signer's fast or slow clock must not stretch."""
    named = [p for p in periods if p.key == key]
    if not named:
        raise KeyRejected(f"the key {key[:24]}... is not a key of {identity[:32]}...",
                          participant=identity, key=key)
    for period in named:
        if period.valid_from is not None and at + leeway < period.valid_from:
            continue
        if period.valid_until is not None and at >= period.valid_until:
            continue
        return period
    last = named[-1]
    if last.valid_until is not None and at >= last.valid_until:
        raise KeyRejected(
            f"the key was rotated out at {format_datetime(last.valid_until)} "
            f"({last.ended_because or 'ended'}); this signature dates from "
            f"{format_datetime(at)}", code=TrustCode.KEY_ROTATED_OUT, participant=identity)
    raise KeyRejected(f"the key speaks for this participant only from "
                      f"{format_datetime(last.valid_from or at)}",
                      code=TrustCode.KEY_NOT_YET_VALID, participant=identity)


def current_key(periods: Sequence[KeyPeriod], now: datetime) -> str | None:
    """The key that signs for the participant now (the latest period that covers now)."""
    live = [p for p in periods
            if (p.valid_from is None or p.valid_from <= now)
            and (p.valid_until is None or now < p.valid_until)]
    if not live:
        return None
    return max(live, key=lambda p: p.valid_from or datetime.min.replace(tzinfo=UTC)).key


# --------------------------------------------------------------------------- publication


def sign_key_histories(key: KeyPair, histories: Mapping[str, Sequence[KeyPeriod]], *,
                       now: datetime | None = None, ttl: timedelta = DEFAULT_TTL,
                       authority: str | None = None,
                       authority_keys: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The authority's signed statement of every participant's key history, valid ``ttl``;
    with its own key chain (``trust.authority_keys``) when it signs with a later key."""
    return sign_dated(key, KEY_HISTORY_TYPE, {
        "participants": {identity: [p.to_json() for p in periods]
                         for identity, periods in sorted(histories.items())},
    }, ttl=ttl, authority=authority, authority_keys=authority_keys, now=now,
        signer_member="issuer")


@dataclass(frozen=True)
class VerifiedKeyHistories:
    issuer: str
    issued: datetime
    valid_until: datetime
    histories: Mapping[str, tuple[KeyPeriod, ...]]


def verify_key_histories(document: Any, trusted_authorities: Collection[str],
                         now: datetime | None = None) -> VerifiedKeyHistories:
    """Check form, a trusted issuer's signature and freshness; raise ``KeyRejected``."""
    if not isinstance(document, dict) or document.get("type") != KEY_HISTORY_TYPE:
        raise _malformed(f"not a JSON object of type {KEY_HISTORY_TYPE}")
    issuer = document.get("issuer")
    if not isinstance(issuer, str) or not issuer.startswith(DID_KEY_PREFIX) \
            or issuer not in trusted_authorities:
        raise KeyRejected("key histories are not issued by a trusted authority",
                          code=TrustCode.KEY_HISTORY_UNTRUSTED)
    key_check = None
    if isinstance(trusted_authorities, AuthorityKeyring):
        try:
            trusted_authorities.learn(issuer, document.get("authorityKeys") or [])
        except AuthorityKeysError as exc:
            raise KeyRejected(f"key histories: {exc.message}",
                              code=TrustCode.KEY_HISTORY_UNTRUSTED) from None
        key_check = _authority_key_check(trusted_authorities)
    try:
        verify_document(document, expected_controller=issuer, key_check=key_check)
    except (ProofError, AuthorityKeysError) as exc:
        raise KeyRejected(f"key histories do not verify: {exc.message}",
                          code=TrustCode.KEY_HISTORY_UNTRUSTED) from None
    issued, valid_until = _time(document.get("issued")), _time(document.get("validUntil"))
    if issued is None or valid_until is None:
        raise _malformed("issued and validUntil are required")
    moment = aware_now(now)
    if issued > moment + CLOCK_SKEW or valid_until <= moment:
        raise KeyRejected("key histories are out of date", code=TrustCode.KEY_HISTORY_UNKNOWN)
    participants = document.get("participants")
    if not isinstance(participants, dict):
        raise _malformed("participants must be an object")
    histories: dict[str, tuple[KeyPeriod, ...]] = {}
    for identity, periods in participants.items():
        if not isinstance(periods, list) or not periods:
            raise _malformed("each participant's history is a non-empty list")
        histories[identity] = tuple(KeyPeriod.from_json(p) for p in periods)
    return VerifiedKeyHistories(issuer, issued, valid_until, histories)


def _authority_key_check(keyring: AuthorityKeyring) -> Any:
    def check(authority: str, key: str, created: str | None) -> None:
        at = parse_signed_at(created, datetime.max.replace(tzinfo=UTC))
        if not keyring.signed_for(authority, key, at):
            raise AuthorityKeysError("signed by a key that did not sign for the authority then")
    return check


class KeyHistorySource(Protocol):
    """Hands out the newest verified key histories; raise when there are none fresh."""

    def key_histories(self, now: datetime) -> VerifiedKeyHistories: ...


class KeyHistoryCache:
    """The newest verified key-history document (an older one never replaces it)."""

    def __init__(self, trusted_authorities: Collection[str]) -> None:
        self.trusted_authorities = trusted_authorities \
            if isinstance(trusted_authorities, AuthorityKeyring) \
            else frozenset(trusted_authorities)
        self._held: VerifiedKeyHistories | None = None

    def add(self, document: Any, now: datetime | None = None) -> VerifiedKeyHistories:
        verified = verify_key_histories(document, self.trusted_authorities, now)
        if self._held is None or verified.issued >= self._held.issued:
            self._held = verified
        return self._held

    def key_histories(self, now: datetime) -> VerifiedKeyHistories:
        if self._held is None or self._held.valid_until <= now:
            raise KeyRejected("no fresh key histories from the authority: signing keys "
                              "cannot be checked (fail closed)",
                              code=TrustCode.KEY_HISTORY_UNKNOWN)
        return self._held


# --------------------------------------------------------------------------- changes


def end_current(periods: Sequence[KeyPeriod], at: datetime, because: str,
                key: str | None = None) -> tuple[KeyPeriod, ...]:
    """``periods`` with ``key``'s period (default: the open one) ended at ``at``: signatures
    from ``at`` on are refused. A period already ending later (a rotation's overlap) is cut
    short. ``KeyRejected`` (``key.rotated_out``) if that key no longer speaks at ``at``."""
    if because not in REASONS:
        raise ValueError(f"unknown reason {because!r}")
    candidates = [p for p in periods if (key is None or p.key == key)
                  and (p.valid_until is None or p.valid_until > at)]
    if key is None:
        candidates = [p for p in candidates if p.valid_until is None]
    if not candidates:
        raise KeyRejected("that key does not speak for the participant at that time any "
                          "more (already revoked or rotated out)",
                          code=TrustCode.KEY_ROTATED_OUT)
    current = candidates[-1]
    if current.valid_from is not None and at <= current.valid_from:
        raise _invalid("a key cannot end before it began")
    ended = KeyPeriod(current.key, current.valid_from, at, current.reason, because)
    return tuple(ended if p is current else p for p in periods)


def bind(periods: Sequence[KeyPeriod], key: str, at: datetime, reason: str
         ) -> tuple[KeyPeriod, ...]:
    """``periods`` with ``key`` speaking from ``at`` on; the open key must have been ended
    (``end_current``) and ``key`` must be new to this history."""
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    if any(p.valid_until is None for p in periods):
        raise _invalid("end the current key before binding another")
    if any(p.key == key for p in periods):
        raise _invalid("this key already served this participant; a rotation needs a new key")
    return (*periods, KeyPeriod(key, at, None, reason))


def _invalid(message: str) -> TsunaguError:
    return ValidationError(message, field="key")

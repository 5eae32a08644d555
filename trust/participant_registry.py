"""The participant registry: the authority's signed list of the participants onboarded now.

What a federated catalog crawls (issue 16, docs/catalog.md). One signed JSON object, served
by ``tsunagu authority serve`` over HTTP at the announcement's ``participantRegistryUrl`` and
over NATS (``tsunagu:ParticipantRegistryRequest`` to the authority, as stream grants are)::

    {
      "type": "ParticipantRegistry",
      "id": "did:key:z6Mk...",                  the authority's DID (it signs this)
      "issued": "2026-01-01T00:00:00Z",
      "validUntil": "2026-01-01T00:10:00Z",
      "participants": [
        {"id": "did:key:...", "name": "仙台市", "legalIdentifier": {...},
         "roles": ["municipality"], "dspSubject": "tsunagu.dsp.z6Mk...",
         "credentialId": "urn:uuid:...", "validUntil": "..."}
      ],
      "proof": { DataIntegrityProof, eddsa-jcs-2022, by the authority's current key }
    }

Only live participants are listed: a revoked or expired credential is left out, so every
catalog built on the registry drops that participant's datasets at its next refresh. The
list is short-lived (``REGISTRY_TTL``) so an old copy that still names a revoked participant
is not accepted for long.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from trust.authority_documents import check_signed_by, sign_dated, valid_now
from trust.errors import TrustCode, TsunaguError
from trust.keys import DID_KEY_PREFIX, KeyPair

REGISTRY_TYPE = "ParticipantRegistry"
REGISTRY_TTL = timedelta(minutes=10)


class RegistryError(TsunaguError):
    code = TrustCode.PROOF_INVALID


@dataclass(frozen=True)
class RegistryEntry:
    did: str
    name: str
    roles: tuple[str, ...]
    dsp_subject: str
    legal_identifier: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.did, "name": self.name, "roles": list(self.roles),
                "dspSubject": self.dsp_subject, "legalIdentifier": self.legal_identifier}


@dataclass(frozen=True)
class Registry:
    authority: str
    issued: str
    valid_until: str
    participants: tuple[RegistryEntry, ...]
    document: dict[str, Any]


def sign_registry(key: KeyPair, participants: Sequence[dict[str, Any]], *,
                  authority: str | None = None, authority_keys: Sequence[dict[str, Any]] = (),
                  now: datetime | None = None) -> dict[str, Any]:
    """The registry of ``participants`` (already the live ones), signed from ``now``."""
    return sign_dated(key, REGISTRY_TYPE, {"participants": list(participants)},
                      ttl=REGISTRY_TTL, authority=authority, authority_keys=authority_keys,
                      now=now)


def _fail(message: str) -> RegistryError:
    return RegistryError(f"the participant registry {message}")


def _entry(value: Any, i: int) -> RegistryEntry:
    if not isinstance(value, dict):
        raise _fail(f"entry {i} is not an object")
    did, name, roles, subject = (value.get("id"), value.get("name"), value.get("roles"),
                                 value.get("dspSubject"))
    if not isinstance(did, str) or not did.startswith(DID_KEY_PREFIX):
        raise _fail(f"entry {i} names no did:key")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise _fail(f"entry {i} has no list of roles")
    if not isinstance(subject, str) or not subject:
        raise _fail(f"entry {i} has no DSP subject")
    legal = value.get("legalIdentifier")
    return RegistryEntry(did, name if isinstance(name, str) else "", tuple(roles), subject,
                         legal if isinstance(legal, dict) else {})


def verify_registry(document: Any, *, expected_authority: str,
                    now: datetime | None = None) -> Registry:
    """Check shape, signature (by the authority or a key its chain names), the authority
    pinned by the caller and the validity period; raise RegistryError saying which failed."""
    if not isinstance(document, dict) or document.get("type") != REGISTRY_TYPE:
        raise _fail(f"is not a JSON object of type {REGISTRY_TYPE}")
    did = document.get("id")
    if did != expected_authority:
        raise _fail(f"is by {did!r}, not by the authority expected ({expected_authority})")
    check_signed_by(document, did, _fail)
    if valid_now(document, _fail, now) is not None:
        raise _fail(f"is valid from {document['issued']} until {document['validUntil']}, "
                    "not now")
    entries = document.get("participants")
    if not isinstance(entries, list):
        raise _fail("has no list of participants")
    return Registry(did, document["issued"], document["validUntil"],
                    tuple(_entry(e, i) for i, e in enumerate(entries)), document)

"""The data-space announcement: what an authority tells the connectors that join it.

One signed JSON object, served by ``tsunagu authority serve`` at ``WELL_KNOWN_PATH`` and read
by ``tsunagu connector init --authority URL``::

    {
      "type": "DataSpaceAnnouncement",
      "id": "did:key:z6Mk...",                       the authority's DID (it signs this)
      "name": "テスト認証局",
      "natsUrls": ["nats://127.0.0.1:4222"],         the data space's NATS (a cluster: several)
      "streamReplicas": 3,                           optional (absent: 1): copies a cluster
                                                     keeps of each dataset stream
      "statusListUrl": "http://127.0.0.1:8470/status-list",
      "participantRegistryUrl": "http://127.0.0.1:8470/participants",
      "issued": "2026-01-01T00:00:00Z",
      "validUntil": "2026-01-01T01:00:00Z",
      "proof": { DataIntegrityProof, eddsa-jcs-2022, by the key of "id" }
    }

Later versions add members rather than change these: the proof covers the whole object, so
an added member is signed like the rest, and a reader of this version checks the members it
knows and keeps the document (``Announcement.document``) with the ones it does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from trust.authority_documents import check_signed_by, sign_dated, valid_now
from trust.errors import TrustCode, TsunaguError
from trust.keys import DID_KEY_PREFIX, KeyPair
from trust.proofs import format_datetime

ANNOUNCEMENT_TYPE = "DataSpaceAnnouncement"
WELL_KNOWN_PATH = "/.well-known/tsunagu-data-space"
# Signed afresh for every request; short-lived so an old copy (an old NATS URL) is not
# replayed for long.
ANNOUNCEMENT_TTL = timedelta(hours=1)


class AnnouncementError(TsunaguError):
    """A data-space announcement is malformed, not signed by its authority, or out of date."""

    code = TrustCode.ANNOUNCEMENT_INVALID


@dataclass(frozen=True)
class Announcement:
    """A verified announcement: the members this version knows, and the whole document."""

    authority: str  # the authority's did:key
    name: str
    nats_urls: tuple[str, ...]
    status_list_url: str
    participant_registry_url: str
    issued: str
    valid_until: str
    document: dict[str, Any]
    stream_replicas: int = 1


def sign_announcement(key: KeyPair, *, name: str, nats_urls: Sequence[str],
                      status_list_url: str, participant_registry_url: str,
                      now: datetime | None = None, authority: str | None = None,
                      authority_keys: Sequence[dict[str, Any]] = (),
                      stream_replicas: int = 1) -> dict[str, Any]:
    """The announcement of the authority holding ``key``, signed and valid from ``now``.
    A rotated authority (``trust.authority_keys``): its DID as ``authority`` and its chain
    (``authorityKeys``), so readers that know only the DID accept the current key."""
    return sign_dated(key, ANNOUNCEMENT_TYPE, {
        "name": name,
        "natsUrls": list(nats_urls),
        **({"streamReplicas": stream_replicas} if stream_replicas != 1 else {}),
        "statusListUrl": status_list_url,
        "participantRegistryUrl": participant_registry_url,
    }, ttl=ANNOUNCEMENT_TTL, authority=authority, authority_keys=authority_keys, now=now)


def _fail(message: str) -> AnnouncementError:
    return AnnouncementError(f"the data-space announcement {message}")


def _http_url(document: dict[str, Any], member: str) -> str:
    value = document.get(member)
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail(f"has no http(s) URL in {member!r}")
    return value  # type: ignore[return-value]


def verify_announcement(document: Any, *, expected_authority: str | None = None,
                        now: datetime | None = None) -> Announcement:
    """Check shape, signature (by the key of its ``id``), the pinned DID and the validity
    period; raise ``AnnouncementError`` saying which failed."""
    if not isinstance(document, dict) or document.get("type") != ANNOUNCEMENT_TYPE:
        raise _fail(f"is not a JSON object of type {ANNOUNCEMENT_TYPE}")
    did = document.get("id")
    if not isinstance(did, str) or not did.startswith(DID_KEY_PREFIX):
        raise _fail("names no did:key as its authority ('id')")
    if expected_authority is not None and did != expected_authority:
        raise AnnouncementError(f"the data-space announcement is by {did}, not by the "
                                f"authority expected ({expected_authority})",
                                code=TrustCode.ANNOUNCEMENT_WRONG_AUTHORITY)
    check_signed_by(document, did, _fail)
    nats_urls = document.get("natsUrls")
    if not isinstance(nats_urls, list) or not all(isinstance(u, str) for u in nats_urls):
        raise _fail("has no list of NATS URLs in 'natsUrls'")
    replicas = document.get("streamReplicas", 1)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= 5:
        raise _fail("has a 'streamReplicas' that is not a whole number from 1 to 5")
    name = document.get("name")
    moment = valid_now(document, _fail, now)
    if moment is not None:
        raise AnnouncementError(
            f"the data-space announcement is valid from {document['issued']} until "
            f"{document['validUntil']}, not now ({format_datetime(moment)}): check this "
            "machine's clock", code=TrustCode.ANNOUNCEMENT_EXPIRED)
    return Announcement(
        authority=did, name=name if isinstance(name, str) else "",
        nats_urls=tuple(nats_urls),
        status_list_url=_http_url(document, "statusListUrl"),
        participant_registry_url=_http_url(document, "participantRegistryUrl"),
        issued=document["issued"], valid_until=document["validUntil"], document=document,
        stream_replicas=replicas)

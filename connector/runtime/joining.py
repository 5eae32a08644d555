"""Joining a data space: fetch and verify its authority's announcement
(``trust.announcement``), for ``tsunagu connector init --authority URL``.

The announcement names everything a connector must be told (the authority's DID, the NATS
URLs, the status-list URL), signed by the authority's key. Its signature proves that the
holder of the DID's key wrote it, not that the DID is the one the participant meant to
trust: init prints the DID for the participant to compare with the one the authority gave
them, and ``--authority-did`` pins it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import orjson

from connector.errors import ConnectorCode
from trust.announcement import (
    WELL_KNOWN_PATH,
    Announcement,
    AnnouncementError,
    verify_announcement,
)
from trust.errors import ConfigError, TrustCode

MAX_ANNOUNCEMENT_BYTES = 64 * 1024


def announcement_url(authority_url: str) -> str:
    """Where the authority at ``authority_url`` (its base URL, as ``serve`` prints it)
    serves its announcement; a URL already ending in the well-known path is kept."""
    parts = urlsplit(authority_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--authority must be the http(s) URL `tsunagu authority serve` "
                          f"prints, e.g. http://127.0.0.1:8470, not {authority_url!r}")
    base = authority_url.rstrip("/")
    return base if base.endswith(WELL_KNOWN_PATH) else base + WELL_KNOWN_PATH


async def fetch_announcement(authority_url: str, *, expected_authority: str | None = None,
                             timeout: float = 10.0) -> Announcement:
    """The verified announcement of the authority at ``authority_url``."""
    url = announcement_url(authority_url)
    unreachable = f"cannot fetch the data-space announcement from {url}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http, \
                http.get(url) as response:
            if response.status != 200:
                raise ConfigError(f"{unreachable}: HTTP {response.status}; is {authority_url} "
                                  "the URL `tsunagu authority serve` printed?",
                                  code=ConnectorCode.JOIN_UNREACHABLE)
            body = await response.content.read(MAX_ANNOUNCEMENT_BYTES + 1)
    except aiohttp.ClientConnectorError as exc:
        raise ConfigError(f"{unreachable}: {exc.strerror or exc}; is `tsunagu authority "
                          "serve` running there?", code=ConnectorCode.JOIN_UNREACHABLE) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ConfigError(f"{unreachable}: {type(exc).__name__}",
                          code=ConnectorCode.JOIN_UNREACHABLE) from None
    if len(body) > MAX_ANNOUNCEMENT_BYTES:
        raise AnnouncementError(f"the data-space announcement at {url} is larger than "
                                f"{MAX_ANNOUNCEMENT_BYTES} bytes")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise AnnouncementError(f"the data-space announcement at {url} is not JSON") from None
    return verify_announcement(document, expected_authority=expected_authority)


@dataclass(frozen=True)
class Joined:
    """What ``connector init`` writes: the announced values, unless given explicitly."""

    authority_dids: list[str]
    status_list_url: str | None
    nats_urls: list[str]
    announcement: Announcement | None

    @property
    def stream_replicas(self) -> int:
        return self.announcement.stream_replicas if self.announcement else 1


async def resolve(authority_url: str | None, *, authority_dids: list[str],
                  status_list_url: str | None, nats_urls: list[str]) -> Joined:
    """The authority settings from ``authority_url``'s announcement, the explicit ones
    winning; with ``authority_dids`` the announcement must be by one of them (a pin)."""
    if authority_url is None:
        return Joined(authority_dids, status_list_url, nats_urls, None)
    pinned = authority_dids[0] if len(authority_dids) == 1 else None
    found = await fetch_announcement(authority_url, expected_authority=pinned)
    if authority_dids and found.authority not in authority_dids:
        raise AnnouncementError(
            f"the data-space announcement is by {found.authority}, none of the --authority-did "
            "given", code=TrustCode.ANNOUNCEMENT_WRONG_AUTHORITY)
    return Joined(authority_dids or [found.authority],
                  status_list_url or found.status_list_url,
                  nats_urls or list(found.nats_urls), found)

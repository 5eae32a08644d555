"""Versions of the app API: ``/api/v1/...`` is current; the unversioned paths answer, deprecated.

Apps written for 0.1 call ``/api/...`` and ``/events``. Those paths keep answering as
``/api/v1`` does (the same handlers: a read of received data still needs its purpose, the
core redesign's change that made this versioning necessary) until the sunset date, with the
headers that tell a client so: ``Deprecation`` (RFC 9745, the date it was deprecated),
``Sunset`` (RFC 8594, the date it stops answering) and ``Link: <successor>;
rel="successor-version"``. A breaking change later gets ``/api/v2`` the same way, with
``/api/v1`` deprecated for a documented period (docs/upgrading.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

CURRENT = "v1"
PREFIX = f"/api/{CURRENT}"
API_VERSION = "1.1.0"  # openapi.json info.version: the v1 contract's own version


@dataclass(frozen=True)
class Deprecated:
    """Paths that still answer but are on their way out."""

    prefix: str  # path prefix of the old paths (matched on whole segments)
    successor: str  # the prefix that replaces it
    deprecated: datetime
    sunset: datetime

    def successor_of(self, path: str) -> str | None:
        if path == self.prefix or path.startswith(self.prefix + "/"):
            return self.successor + path[len(self.prefix):]
        return None

    def headers(self, successor: str) -> dict[str, str]:
        return {"Deprecation": f"@{int(self.deprecated.timestamp())}",
                "Sunset": format_datetime(self.sunset, usegmt=True),
                "Link": f'<{successor}>; rel="successor-version"'}


# The 0.1 paths: /api/... and the event stream /events (now /api/v1/events).
UNVERSIONED = (
    Deprecated("/api", PREFIX, datetime(2026, 12, 5, tzinfo=UTC),
               datetime(2027, 6, 30, tzinfo=UTC)),
    Deprecated("/events", f"{PREFIX}/events", datetime(2026, 12, 5, tzinfo=UTC),
               datetime(2027, 6, 30, tzinfo=UTC)),
)


def deprecation_headers(path: str) -> dict[str, str]:
    """The headers a response to ``path`` carries: none for current paths."""
    if path.startswith(PREFIX + "/"):
        return {}
    for old in UNVERSIONED:
        successor = old.successor_of(path)
        if successor is not None:
            return old.headers(successor)
    return {}


def legacy_path(path: str) -> str:
    """The unversioned 0.1 path of a current ``/api/v1`` path (``/api/v1/events`` ->
    ``/events``, ``/api/v1/held`` -> ``/api/held``)."""
    rest = path.removeprefix(PREFIX)
    return rest if rest == "/events" else "/api" + rest

"""The counterparties reached over HTTPS, DID -> DSP base URL.

Configured ones (``[dsp_https.peers]``: a consumer knows its providers' endpoints, as from a
catalog or a DID document) win; the others are learned from the ``callbackAddress`` of an
authenticated request (a provider answers its consumers where they asked) and kept in the
store (``dsp_http_peers``), so a restarted provider still reaches its consumers, with the
notices that end their agreements.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connector.runtime.connector import Connector


class Peers:
    def __init__(self, connector: Connector, configured: Mapping[str, str]) -> None:
        self.connector = connector
        self._configured = dict(configured)
        self._learned: dict[str, str] | None = None  # read from the store on first use

    def forget_loaded(self) -> None:
        """On stop: a restart reads the store again (it may be another file)."""
        self._learned = None

    def _loaded(self) -> dict[str, str]:
        if self._learned is None:
            self._learned = {did: url for did, url in self.connector.store.query(
                "SELECT did, base_url FROM dsp_http_peers")}
        return self._learned

    def address_of(self, did: str) -> str | None:
        return self._configured.get(did) or self._loaded().get(did)

    def learn(self, did: str, callback: Any) -> None:
        """An authenticated participant's callbackAddress, when it is an HTTPS one."""
        if not isinstance(callback, str) or not callback.startswith("https://") \
                or did in self._configured:
            return
        url = callback.rstrip("/")
        learned = self._loaded()
        if learned.get(did) == url:
            return
        with self.connector.store.transaction() as db:
            db.execute("INSERT INTO dsp_http_peers (did, base_url, learned) VALUES (?, ?, ?) "
                       "ON CONFLICT (did) DO UPDATE SET base_url = excluded.base_url, "
                       "learned = excluded.learned",
                       (did, url, datetime.now(UTC).isoformat()))
        learned[did] = url

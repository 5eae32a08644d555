"""The bosai hub inside one participant's connector (the plug-in's service).

Who holds what (docs/bosai.md):

* the municipality holds the designated-site master and shelter status timeline
  (``BosaiStore``, ``<data_dir>/bosai.sqlite``), the evacuee registry (tables in the
  connector's own store, so a registration and the Evacuee record it publishes commit in one
  transaction) and serves the dashboard;
* shelter operators and a supplies participant hold their own datasets (supply requests) and
  change the municipality's records only through contributions (connector.contributions).

The hub follows every record change of a bosai dataset type (connector.record_events) and
bumps ``feed`` so that open dashboards refresh.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from domains.bosai.feed import ChangeFeed
from domains.bosai.registry.registry import Registry
from domains.bosai.store import BosaiStore

if TYPE_CHECKING:
    from connector.record_events import RecordChange
    from connector.runtime import Connector

log = logging.getLogger(__name__)

STORE_FILE = "bosai.sqlite"


class BosaiHub:
    def __init__(self) -> None:
        self.feed = ChangeFeed()
        self._connector: Connector | None = None
        self._sites: BosaiStore | None = None
        self._registry: Registry | None = None

    @property
    def connector(self) -> Connector:
        if self._connector is None:
            raise RuntimeError("the bosai hub is not started")
        return self._connector

    @property
    def sites(self) -> BosaiStore:
        """Designated sites and the shelter status timeline."""
        if self._sites is None:
            raise RuntimeError("the bosai hub is not started")
        return self._sites

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            raise RuntimeError("the bosai hub is not started")
        return self._registry

    async def start(self, connector: Connector) -> None:
        self._connector = connector
        self._sites = BosaiStore(connector.config.data_dir / STORE_FILE)
        self._registry = Registry(connector.store)
        connector.record_listeners.add(self._on_change)

    async def stop(self) -> None:
        if self._connector is not None:
            self._connector.record_listeners.remove(self._on_change)
        if self._sites is not None:
            self._sites.close()
        self._connector = self._sites = self._registry = None

    def _on_change(self, db: Any, change: RecordChange) -> None:
        kinds = change.record.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        for kind in kinds:
            if isinstance(kind, str):
                self.feed.notify(kind)

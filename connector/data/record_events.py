"""Record changes a domain plug-in can follow, inside the transaction that makes them.

Every new version of an own record (``connector.data.records``) and every record received under an
agreement (``connector.data.pull``) is passed to the connector's listeners while its rows are being
written, with the same database handle: a domain keeps its own tables in step with the records
(both commit or neither). A listener that raises aborts the whole transaction, so it must only
refuse what must not be stored. Listeners must be quick; anything slow or asynchronous (a
page to refresh) should be scheduled, not awaited, and may see a change that then rolls back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RecordChange:
    dataset_id: str
    record: dict[str, Any]  # the signed record as stored
    event: str  # created / updated / deleted
    held: bool  # received from a provider (True) or one of this connector's own (False)
    provider: str  # the did of the record's provider (this connector's, for own records)


RecordListener = Callable[[Any, RecordChange], None]
"""``listener(db, change)``: ``db`` is the open transaction's connection."""


class RecordListeners:
    def __init__(self) -> None:
        self._listeners: list[RecordListener] = []

    def add(self, listener: RecordListener) -> None:
        self._listeners.append(listener)

    def remove(self, listener: RecordListener) -> None:
        self._listeners.remove(listener)

    def __call__(self, db: Any, change: RecordChange) -> None:
        for listener in self._listeners:
            listener(db, change)

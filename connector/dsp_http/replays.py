"""The ID token replay cache in the store (``id_token_replays``), so a restart forgets no
``jti`` that could still be replayed: each token's key is kept until its ``exp`` plus the
allowed clock skew (trust.id_token), then dropped on the next check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trust.envelope import ReplayCache

if TYPE_CHECKING:
    from connector.store.database import Store


class StoredReplayCache(ReplayCache):
    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    def check_and_add(self, key: str, forget_after: float, now: float) -> bool:
        with self.store.transaction() as db:
            db.execute("DELETE FROM id_token_replays WHERE forget_after <= ?", (now,))
            added = db.execute("INSERT OR IGNORE INTO id_token_replays (key, forget_after) "
                               "VALUES (?, ?)", (key, forget_after)).rowcount
        return added == 1

    def __len__(self) -> int:
        return int(self.store.query("SELECT count(*) FROM id_token_replays")[0][0])

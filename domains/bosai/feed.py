"""A change counter pages can wait on: the dashboard's live updates.

Record listeners (inside store transactions, on the event loop's thread) call ``notify``;
each dashboard stream waits for the counter to pass the value it last saw and then re-reads
what it shows. A notification is a hint, not data: one for a change that then rolled back
only causes a re-read, and many changes close together cause one.
"""

from __future__ import annotations

import asyncio


class ChangeFeed:
    def __init__(self) -> None:
        self.seq = 0
        self.topics: dict[str, int] = {}  # topic -> seq of its last change
        self._changed = asyncio.Event()

    def notify(self, topic: str) -> None:
        self.seq += 1
        self.topics[topic] = self.seq
        self._changed.set()
        self._changed = asyncio.Event()  # later waiters wait for the next change

    async def wait(self, after: int, timeout: float) -> int:
        """The counter once it is past ``after``, or as it is after ``timeout`` seconds."""
        if self.seq > after:
            return self.seq
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except TimeoutError:
            pass
        return self.seq

    def changed_since(self, seq: int) -> set[str]:
        return {topic for topic, at in self.topics.items() if at > seq}

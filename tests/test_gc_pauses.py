"""connector.runtime.gc_pauses: every collection counted and timed per generation, the
longest kept; ``settle`` freezes what is alive so full collections no longer walk it."""

from __future__ import annotations

import gc

from connector.runtime.gc_pauses import COLLECTIONS, PAUSE_MAX, PAUSE_SECONDS, GcPauses, settle
from connector.runtime.metrics import Metrics


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_each_collection_is_counted_and_timed_per_generation() -> None:
    metrics = Metrics()
    pauses = GcPauses(metrics)
    pauses.install()
    pauses.install()  # twice is once
    try:
        for _ in range(3):
            [Cycle() for _ in range(10_000)]
            gc.collect(2)
    finally:
        pauses.uninstall()
    assert metrics.value(COLLECTIONS, generation="2") >= 3
    longest = metrics.value(PAUSE_MAX, generation="2")
    total = metrics.value(PAUSE_SECONDS, generation="2")
    assert 0 < longest <= total
    text = metrics.exposition()
    assert 'tsunagu_gc_pause_max_seconds{generation="2"}' in text
    assert "# HELP tsunagu_gc_collections_total" in text
    counted = metrics.value(COLLECTIONS, generation="2")
    gc.collect(2)  # uninstalled: no longer counted
    assert metrics.value(COLLECTIONS, generation="2") == counted


def test_settle_freezes_what_is_alive_and_full_collections_skip_it() -> None:
    kept = [Cycle() for _ in range(50_000)]
    try:
        frozen = settle()
        assert frozen >= len(kept)
        assert gc.get_freeze_count() == frozen
        # A full collection walks the generations, no longer the permanent one.
        walked = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
        assert not any(id(k) in walked for k in kept)
        made_since = Cycle()
        assert id(made_since) in {id(o) for o in gc.get_objects(0)}
    finally:
        gc.unfreeze()  # the test process goes on collecting as before
        del kept

"""The garbage collector's pauses, measured and kept short in a connector process.

CPython's cyclic collector stops the event loop while it runs. A full (generation 2)
collection walks every tracked object, and a started connector holds hundreds of thousands
that live as long as the process (compiled schemas, JSON-LD contexts, policies, the code
itself): walking them takes tens of milliseconds, every few seconds under load, and that is
what a record arriving then waits for (issue 17: latency p99 under load). ``settle`` moves
what the start-up made into the permanent generation (``gc.freeze``), so later collections
walk only what was made since. ``GcPauses`` counts each collection and its time, per
generation, for /metrics.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from connector.runtime.metrics import Metrics

COLLECTIONS = "tsunagu_gc_collections_total"
PAUSE_SECONDS = "tsunagu_gc_pause_seconds_total"
PAUSE_MAX = "tsunagu_gc_pause_max_seconds"


def settle() -> int:
    """Collect once, then freeze every object alive now: call when start-up is done (a
    process-wide step, so the process entry point takes it, not a library). Returns how
    many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class GcPauses:
    """Times every collection through ``gc.callbacks`` while installed."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._started = 0.0
        self._longest: dict[str, float] = {}
        metrics.describe(COLLECTIONS, "garbage collections, per generation")
        metrics.describe(PAUSE_SECONDS, "time the event loop stood still for the garbage "
                                        "collector, per generation")
        metrics.describe(PAUSE_MAX, "the longest single garbage collection, per generation")

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        generation = str(info.get("generation", "?"))
        self.metrics.inc(COLLECTIONS, generation=generation)
        self.metrics.inc(PAUSE_SECONDS, took, generation=generation)
        if took > self._longest.get(generation, 0.0):
            self._longest[generation] = took
            self.metrics.set(PAUSE_MAX, took, generation=generation)

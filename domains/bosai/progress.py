"""A one-line progress bar on stderr, without a dependency.

Only drawn when asked to (the CLI enables it when stderr is a terminal or on --progress), and
redrawn at most every 0.1 s so a 100,000-row file is not slowed down by its own bar.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30


class ProgressBar:
    def __init__(self, label: str, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.label, self.stream, self.enabled = label, stream or sys.stderr, enabled
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and done < total:
            return
        self._last = now
        total = max(total, done, 1)
        filled = WIDTH * done // total
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] "
                          f"{100 * done // total:3d}% {done:,}/{total:,} lines")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

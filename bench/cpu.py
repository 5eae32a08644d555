"""CPU seconds a process has used (user + system), from /proc: the cost of a step in a
process, which holds up better than wall time when other work shares the machine."""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (Linux /proc/PID/stat fields 14 and 15), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def us_per_item(before: float, after: float, items: int) -> float:
    return (after - before) * 1e6 / items if items else float("nan")

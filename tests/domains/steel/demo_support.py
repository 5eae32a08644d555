"""``tsunagu demo steel --serve`` running in the test's event loop until the test is done."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from domains.steel.demo.scenario import SUMMARY_FILE, run_demo


@asynccontextmanager
async def serving_demo(workdir: Path, said: list[str]) -> AsyncIterator[dict[str, Any]]:
    """The demo's summary once written (``said`` holds what it printed); the connectors
    keep serving inside the block."""
    task = asyncio.create_task(run_demo(workdir, said.append, serve=True))
    try:
        async with asyncio.timeout(120):
            while not (workdir / SUMMARY_FILE).exists():
                assert not task.done(), task.exception()
                await asyncio.sleep(0.1)
        yield json.loads((workdir / SUMMARY_FILE).read_text(encoding="utf-8"))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

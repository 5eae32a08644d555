"""The README's app example runs as written, against a real consumer connector's app API."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from contextlib import redirect_stdout
from pathlib import Path

from aiohttp.test_utils import TestServer

from connector.api.app import make_app
from connector.api.tokens import TokenStore
from tests.e2e.conftest import DATASET, PURPOSE, publish, record
from tests.e2e.test_transfer import delivered, started_transfer

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


async def test_the_readme_subscription_example_receives_what_was_agreed(provider, consumer):
    (example,) = [b for b in python_blocks() if "subscribe" in b]
    await started_transfer(consumer, provider)
    await publish(provider, range(3))
    assert await delivered(consumer, 3) == 3
    server = TestServer(make_app(consumer.connector), host="127.0.0.1", port=0)
    await server.start_server()
    out = io.StringIO()
    scope = {"url": str(server.make_url("")).rstrip("/"), "dataset_id": DATASET,
             "token": TokenStore(consumer.connector.store).issue(["events:read"]).token}
    body = "".join(f"    {line}\n" for line in example.splitlines())
    exec(f"async def example(url, token, dataset_id):\n{body}", scope)
    task = asyncio.get_running_loop().create_task(
        scope["example"](scope["url"], scope["token"], scope["dataset_id"]))
    try:
        with redirect_stdout(out):
            for _ in range(100):
                if out.getvalue().count("\n") >= 3:
                    break
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await server.close()
    lines = out.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == [record(n)["id"] for n in range(3)]
    assert PURPOSE == "disaster_response"  # what the example declares

"""Bad input (issue 17): an app that reads its event stream slowly (or not at all) holds at
most one page of events and the socket's buffers in the connector, and never stalls another
app's stream. A real connector (store, nats-server), its app API on a socket, a raw TCP
client that stops reading, and an aiohttp client that reads everything."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path

import orjson

from connector.api.app import STREAMS
from tests.api.conftest import DATASET
from tests.held import agreement

RECORDS, FILLER = 8000, "避" * 1300  # ~4 KB per event: ~32 MB in all
AGREEMENT = "urn:uuid:agreement-slow"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def hold_many(connector, n: int) -> None:
    """``n`` records received under one agreement, as the pull loop stores a batch."""
    agreement(connector, AGREEMENT, DATASET, provider="did:key:z6MkProvider")
    for start in range(0, n, 500):
        batch = [{"id": f"urn:uuid:slow-{i}", "type": "Evacuee", "version": 1, "note": FILLER}
                 for i in range(start, min(n, start + 500))]
        with connector.store.transaction() as db:
            connector.gate.admit(db, agreement_id=AGREEMENT, dataset_id=DATASET,
                                 provider="did:key:z6MkProvider",
                                 transfer_pid="urn:uuid:test-transfer",
                                 accepted=[(r, "created", orjson.dumps(r)) for r in batch],
                                 refused=[], now=datetime.now(UTC))
    connector.gate.feed.notify()


async def stalled_reader(api) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client that sends the request, reads the response head, then reads nothing more
    (a small receive buffer, so the connector meets it soon)."""
    host, port = api.url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"GET /api/v1/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer "
                 f"{api.token('events:read')}\r\nTsunagu-Purpose: disaster_response\r\n\r\n"
                 .encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200"), head
    return reader, writer


async def read_all(api, n: int) -> int:
    """An app reading its stream at full speed: how many events it got."""
    got = 0
    headers = {"Authorization": f"Bearer {api.token('events:read')}",
               "Tsunagu-Purpose": "disaster_response"}
    async with api.http.get(api.url + "/api/v1/events", headers=headers) as resp:
        assert resp.status == 200
        async for line in resp.content:
            if line.startswith(b"event: created"):
                got += 1
                if got == n:
                    return got
    return got


async def test_a_stalled_reader_holds_bounded_memory_and_stalls_no_other_stream(api) -> None:
    hold_many(api.connector, RECORDS)
    before = rss_mb()
    _, slow = await stalled_reader(api)
    try:
        await asyncio.sleep(0.5)  # the connector has filled what the slow socket takes
        (request,) = api.app[STREAMS].active.values()  # the stalled reader's stream
        # Another app reads all ~32 MB while the first reads nothing.
        got = await asyncio.wait_for(read_all(api, RECORDS), 60)
        assert got == RECORDS
        buffered = request.transport.get_write_buffer_size()
        assert buffered <= 1024 * 1024, buffered  # the slow one waits on a full socket
        grown = rss_mb() - before
        print(f"stalled stream: {buffered} bytes buffered, RSS +{grown:.1f} MB")
        # One page of 500 events (~2 MB) and the socket buffers, not the ~32 MB behind it.
        assert grown < 20, f"RSS grew {grown:.1f} MB with a stalled reader"
    finally:
        slow.close()

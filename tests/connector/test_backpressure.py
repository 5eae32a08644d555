"""Bad input (issue 17): a flood of record writes through the app API meets 503 api.busy with
Retry-After beyond the connector's limits, and nothing of a refused batch is written, while
every accepted batch is whole. A real provider connector (store, signing, nats-server) behind
its real app API on a socket."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import aiohttp
import orjson
from aiohttp.test_utils import TestServer

from connector.api.admission import BUSY, WriteAdmission
from connector.api.app import make_app
from connector.api.tokens import TokenStore
from connector.data.records import PUBLISHED
from tests.connector.conftest import DATASET, shelter

BATCH, BATCHES = 100, 24


async def test_a_flood_of_batches_gets_503_with_retry_after_and_nothing_half_written(
        provider) -> None:
    connector = provider.connector
    writes = WriteAdmission(max_requests=2)
    server = TestServer(make_app(connector, writes=writes), host="127.0.0.1", port=0)
    await server.start_server()
    token = TokenStore(connector.store).issue(["records:write"], days=1).token
    url = f"{str(server.make_url('')).rstrip('/')}/api/v1/datasets/{quote(DATASET, safe='')}" \
          "/records:batch"
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:

            async def send(n: int) -> tuple[int, dict[str, str], dict]:
                batch = [shelter(f"urn:tsunagu:test:flood:{n}:{i}") for i in range(BATCH)]
                async with http.post(url, data=orjson.dumps({"records": batch}),
                                     headers={"Content-Type": "application/json"}) as resp:
                    return resp.status, dict(resp.headers), orjson.loads(await resp.read())

            answers = await asyncio.gather(*(send(n) for n in range(BATCHES)))
    finally:
        await server.close()
    statuses = [status for status, _, _ in answers]
    assert set(statuses) == {201, 503}, statuses  # some through, the rest refused at once
    for status, headers, body in answers:
        if status == 503:
            assert headers["Retry-After"] == "1"
            assert headers["Content-Type"].startswith("application/problem+json")
            assert (body["code"], body["limit"], body["retry_after"]) == (
                "api.busy", "max_writes_in_flight", 1)
            assert "max_writes_in_flight" in body["detail"]
    assert writes.requests == 0 and writes.bytes == 0  # every admission released
    # Whole batches or nothing: each accepted batch has all its records stored and
    # published, each refused one none.
    stored = {row[0] for row in connector.store.query(
        "SELECT id FROM records WHERE id LIKE 'urn:tsunagu:test:flood:%'")}
    accepted = {n for n, (status, _, _) in enumerate(answers) if status == 201}
    assert stored == {f"urn:tsunagu:test:flood:{n}:{i}" for n in accepted for i in range(BATCH)}
    assert connector.metrics.value(PUBLISHED, dataset=DATASET) == len(accepted) * BATCH
    assert connector.metrics.value(BUSY, limit="max_writes_in_flight") == BATCHES - len(accepted)


def test_the_byte_limit_refuses_what_would_exceed_it_but_never_a_lone_request() -> None:
    writes = WriteAdmission(max_requests=8, max_bytes=1000)
    writes.admit(5000)  # alone: taken, however large (the body limit bounds it)
    try:
        writes.admit(10)
    except Exception as exc:
        assert exc.details["limit"] == "max_write_mb_in_flight"
    else:
        raise AssertionError("a second request beyond the byte limit was admitted")
    writes.release(5000)
    writes.admit(10)
    assert (writes.requests, writes.bytes) == (1, 10)


async def test_the_sdk_sends_a_busy_write_again_after_retry_after(provider) -> None:
    """An app on the SDK meets the limit and still gets every batch in, whole and once."""
    from connector.api.sdk import TsunaguClient

    connector = provider.connector
    server = TestServer(make_app(connector, writes=WriteAdmission(max_requests=1)),
                        host="127.0.0.1", port=0)
    await server.start_server()
    token = TokenStore(connector.store).issue(["records:write"], days=1).token
    try:
        async with TsunaguClient(str(server.make_url("")), token, busy_retries=20) as app:
            await asyncio.gather(*(app.publish_batch(DATASET, [
                shelter(f"urn:tsunagu:test:sdk:{n}:{i}") for i in range(50)]) for n in range(4)))
    finally:
        await server.close()
    assert connector.metrics.value(BUSY, limit="max_writes_in_flight") >= 1  # it was busy
    assert connector.store.query("SELECT count(*) FROM records WHERE id LIKE "
                                 "'urn:tsunagu:test:sdk:%'")[0][0] == 200

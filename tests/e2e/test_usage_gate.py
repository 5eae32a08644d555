"""The usage gate is the one door to received data: every read path declares a purpose, a
disallowed one returns nothing and is audited, and an open event stream ends within a second
when its agreement is terminated or the disaster phase it needs is over (issue 11, item 1).

Two real connectors on the data space's operator-mode nats-server (tests/e2e/conftest.py);
the consumer's app API on a real socket, read over HTTP and with the SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from connector.api.app import make_app
from connector.api.sdk import ApiError, StreamEnded, TsunaguClient
from connector.api.tokens import TokenStore
from connector.control.audit import verify_chain
from connector.control.decisions import Reader, Use
from connector.control.gate import UsageDenied
from connector.data.record_events import RecordChange
from connector.protocol.dsp import messages as m
from tests.e2e.conftest import DATASET, PURPOSE, ROLE_OK, Node, offer, publish, record
from tests.e2e.test_transfer import delivered

IN_RESPONSE = m.constraint("tsunagu:disasterPhase", "isAnyOf", ["response"])
FOR_PURPOSE = m.constraint("odrl:purpose", "isAnyOf", [PURPOSE])
GUARDED = offer("urn:tsunagu:test:offer:guarded", ROLE_OK, FOR_PURPOSE, IN_RESPONSE)
WITHOUT_NOTES = offer("urn:tsunagu:test:offer:fields", ROLE_OK, FOR_PURPOSE,
                      m.constraint("tsunagu:field", "isNoneOf", ["description"]))
N = 5


class App:
    """The consumer's app API on 127.0.0.1, and what an app sends it."""

    def __init__(self, node: Node, server: TestServer) -> None:
        self.node, self.server = node, server
        self.origin = str(server.make_url("")).rstrip("/")

    def token(self, *scopes: str, **options: Any) -> str:
        return TokenStore(self.node.connector.store).issue(list(scopes), **options).token

    async def get(self, path: str, token: str) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as http, http.get(
                self.origin + path, headers={"Authorization": f"Bearer {token}"}) as resp:
            return resp.status, await resp.json(content_type=None)


async def agreed(consumer: Node, provider: Node, terms: dict[str, Any] = GUARDED) -> str:
    for node in (provider, consumer):
        node.connector.facts.set("disasterPhase", "response")
    await provider.datasets.offer_dataset(DATASET, "指定避難所", [terms])
    started = await consumer.connector.negotiations.start(provider.did, DATASET, terms["@id"],
                                                          purpose=PURPOSE)
    done = await consumer.connector.negotiations.wait(started["pid"])
    assert done["state"] == "FINALIZED", done
    transfer = await consumer.connector.transfers.start(done["agreementId"])
    await consumer.connector.transfers.wait(transfer["pid"], "STARTED")
    await publish(provider, range(N))
    assert await delivered(consumer, N) == N
    return done["agreementId"]


@pytest.fixture
async def app(consumer) -> AsyncIterator[App]:
    server = TestServer(make_app(consumer.connector, heartbeat=0.3, poll_interval=5.0),
                        host="127.0.0.1", port=0)
    await server.start_server()
    yield App(consumer, server)
    await server.close()


def denials(node: Node, purpose: str | None = None) -> list[dict[str, Any]]:
    return [e for e in node.connector.audit.entries("use")
            if e["decision"] == "deny" and (purpose is None or e["purpose"] == purpose)]


async def test_the_held_records_api_releases_nothing_for_a_disallowed_purpose(
        provider, consumer, app):
    await agreed(consumer, provider)
    token = app.token("records:read")
    status, body = await app.get("/api/v1/held?purpose=research", token)
    assert status == 403 and body["code"] == "usage.denied" and "items" not in body
    assert "purpose" in body["detail"] and body["rule"].endswith("constraint[1]")
    status, body = await app.get("/api/v1/held", token)  # no purpose declared
    assert (status, body["code"], body["rule"]) == (403, "usage.purpose_missing", "purpose")
    status, body = await app.get(f"/api/v1/held?purpose={PURPOSE}", token)
    assert status == 200 and len(body["items"]) == N
    assert all("proof" in i["record"] for i in body["items"])
    refused = denials(consumer)
    assert [(d["purpose"], d["code"]) for d in refused] == [
        ("research", "usage.denied"), (None, "usage.purpose_missing")]
    assert all(d["reader"].startswith("app:tok_") and d["records"] == 0 for d in refused)
    permit = [e for e in consumer.connector.audit.entries("use") if e["decision"] == "permit"]
    assert [(p["records"], len(p["ids"])) for p in permit] == [(N, 32)]  # one line, N records
    assert verify_chain(consumer.connector.audit.lines()).ok


async def test_a_single_held_record_is_refused_for_a_disallowed_purpose(provider, consumer,
                                                                        app):
    await agreed(consumer, provider)
    token = app.token("records:read")
    path = f"/api/v1/held/{quote(record(0)['id'], safe='')}"
    status, body = await app.get(path + "?purpose=research", token)
    assert (status, body["code"]) == (403, "usage.denied") and "record" not in body
    status, body = await app.get(path + f"?purpose={PURPOSE}", token)
    assert status == 200 and body["record"]["name"] == record(0)["name"]
    status, body = await app.get("/api/v1/held/urn%3Ax%3Anone" + f"?purpose={PURPOSE}", token)
    assert (status, body["code"]) == (404, "usage.not_held")
    assert [d["purpose"] for d in denials(consumer)] == ["research", PURPOSE]


async def test_the_event_stream_and_the_sdk_refuse_a_disallowed_purpose(provider, consumer,
                                                                        app):
    await agreed(consumer, provider)
    status, body = await app.get("/api/v1/events?purpose=research", app.token("events:read"))
    assert (status, body["code"]) == (403, "usage.denied")
    async with TsunaguClient(app.origin, app.token("events:read"),
                             purpose="research") as client:
        with pytest.raises(ApiError) as refused:
            async for _ in client.subscribe(DATASET):
                raise AssertionError("an event was released for research")
    assert (refused.value.status, refused.value.code) == (403, "usage.denied")
    assert len(denials(consumer, "research")) == 2


async def test_a_token_of_another_scope_reads_nothing_and_is_audited(provider, consumer, app):
    await agreed(consumer, provider)
    status, body = await app.get(f"/api/v1/events?purpose={PURPOSE}", app.token("records:read"))
    assert (status, body["code"]) == (403, "auth.scope")
    status, body = await app.get(f"/api/v1/held?purpose={PURPOSE}", app.token("catalog:read"))
    assert (status, body["code"]) == (403, "auth.scope")
    assert [d["code"] for d in denials(consumer)] == ["auth.scope", "auth.scope"]


async def test_a_domain_plug_in_gets_nothing_for_a_disallowed_purpose(provider, consumer):
    seen: dict[str, list[RecordChange]] = {"research": [], PURPOSE: []}
    for purpose, into in seen.items():
        consumer.connector.gate.follow(Reader.domain("sample"), Use(purpose),
                                       lambda db, change, into=into: into.append(change))
    await agreed(consumer, provider)
    assert seen["research"] == [] and len(seen[PURPOSE]) == N
    assert all(c.held and c.record["name"] for c in seen[PURPOSE])
    refused = [d for d in denials(consumer) if d["reader"] == "domain:sample"]
    assert refused and all(d["purpose"] == "research" and d["records"] == 0 for d in refused)
    with pytest.raises(UsageDenied):
        consumer.connector.gate.read(Reader.domain("sample"), Use("research"), record(0)["id"])


@pytest.fixture
async def subscribed(app: App) -> AsyncIterator[asyncio.Queue[Any]]:
    """An SDK subscription in the background (after the first N events): what it yields
    next, then the exception that ended it."""
    client = TsunaguClient(app.origin, app.token("events:read"), purpose=PURPOSE)
    got: asyncio.Queue[Any] = asyncio.Queue()

    async def run() -> None:
        try:
            async for event in client.subscribe(DATASET, idle_timeout=5):
                await got.put(event)
        except Exception as exc:  # the end is what the test looks at
            await got.put(exc)

    task = asyncio.get_running_loop().create_task(run())
    yield got
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await client.close()


async def first_events(got: asyncio.Queue[Any]) -> None:
    for _ in range(N):
        event = await asyncio.wait_for(got.get(), 10)
        assert not isinstance(event, Exception), event


async def ended_within(got: asyncio.Queue[Any], started: float) -> tuple[float, StreamEnded]:
    end = await asyncio.wait_for(got.get(), 5)
    assert isinstance(end, StreamEnded), end
    return time.monotonic() - started, end


async def test_terminating_the_agreement_ends_an_open_stream_within_a_second(
        provider, consumer, app, subscribed):
    agreement_id = await agreed(consumer, provider)
    await first_events(subscribed)
    started = time.monotonic()
    await provider.connector.agreements.terminate(agreement_id, "shelter closed")
    took, end = await ended_within(subscribed, started)
    assert took < 1.0, took
    assert end.code == "usage.agreement_inactive" and "terminated" in end.detail
    assert denials(consumer)[-1]["code"] == "usage.agreement_inactive"


async def test_the_end_of_the_phase_ends_an_open_stream_within_a_second(
        provider, consumer, app, subscribed):
    await agreed(consumer, provider)
    await first_events(subscribed)
    started = time.monotonic()
    consumer.connector.facts.set("disasterPhase", "recovery")
    took, end = await ended_within(subscribed, started)
    assert took < 1.0, took
    assert end.code == "usage.denied" and "disasterPhase" in end.detail
    status, body = await app.get(f"/api/v1/held?purpose={PURPOSE}", app.token("records:read"))
    assert (status, body["code"]) == (403, "usage.denied")


async def test_a_field_level_policy_releases_only_the_fields_it_grants(provider, consumer,
                                                                       app):
    await provider.datasets.offer_dataset(DATASET, "指定避難所", [WITHOUT_NOTES])
    started = await consumer.connector.negotiations.start(
        provider.did, DATASET, WITHOUT_NOTES["@id"], purpose=PURPOSE)
    done = await consumer.connector.negotiations.wait(started["pid"])
    assert done["state"] == "FINALIZED", done
    transfer = await consumer.connector.transfers.start(done["agreementId"])
    await consumer.connector.transfers.wait(transfer["pid"], "STARTED")
    await provider.records.publish(DATASET, record(1, description="要配慮: 透析"))
    assert await delivered(consumer, 1) == 1
    status, body = await app.get(f"/api/v1/held?purpose={PURPOSE}", app.token("records:read"))
    (item,) = body["items"]
    assert status == 200 and item["withheld"] == ["description"]
    assert "description" not in item["record"] and "proof" not in item["record"]
    assert item["record"]["name"] == record(1)["name"]
    assert denials(consumer) == []
    uses = consumer.connector.audit.entries("use")
    assert uses[-1]["withheld"] == ["description"]


async def test_an_expired_or_unknown_agreement_releases_nothing(provider, consumer):
    agreement_id = await agreed(consumer, provider)
    gate = consumer.connector.gate
    with consumer.connector.store.transaction() as db:
        from connector.protocol import agreements

        agreements.set_status(db, agreement_id, "expired")
    gate.changed()
    with pytest.raises(UsageDenied) as refused:
        gate.read(Reader.connector("test"), Use(PURPOSE), record(0)["id"])
    assert refused.value.code == "usage.agreement_inactive"
    decision = gate.decide("urn:uuid:not-ours", Reader.connector("test"), Use(PURPOSE))
    assert decision.code == "usage.not_held"  # an agreement this connector does not hold

"""Server-Sent Events over the delivery log: order, resume, live wake-up, heartbeat, paging."""

import asyncio
from urllib.parse import quote

import orjson
import pytest
from jsonschema import Draft202012Validator

from connector.api.app import STREAMS
from tests.api.conftest import _DOC_URI, _REGISTRY, DATASET, add_held

EVENT_SCHEMA = Draft202012Validator({"$ref": f"{_DOC_URI}#/components/schemas/DeliveryEvent"},
                                    registry=_REGISTRY)


class Stream:
    """A raw SSE reader: events as dicts, comments counted."""

    def __init__(self, resp):
        self.resp, self.comments, self.retry = resp, [], None

    async def next(self, timeout=2.0):
        """The next event within ``timeout`` seconds in all (heartbeats do not extend it)."""
        fields = {}
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            raw = await asyncio.wait_for(self.resp.content.readline(), max(left, 0))
            assert raw, "stream ended"
            line = raw.decode().rstrip("\n")
            if line.startswith(":"):
                self.comments.append(line)
            elif line.startswith("retry:"):
                self.retry = int(line[6:])
            elif line:
                name, _, value = line.partition(": ")
                fields[name] = value
            elif fields:
                data = orjson.loads(fields["data"])
                EVENT_SCHEMA.validate(data)
                assert fields["id"] == str(data["seq"]) and fields["event"] == data["event"]
                return data

    async def take(self, n, timeout=2.0):
        return [await self.next(timeout) for _ in range(n)]

    async def nothing_within(self, seconds):
        with pytest.raises(TimeoutError):
            await self.next(seconds)


async def open_stream(api, query="", token=None, headers=None):
    sent = {"Authorization": f"Bearer {token or api.token('events:read')}",
            "Tsunagu-Purpose": "disaster_response", **(headers or {})}
    resp = await api.http.get(api.url + "/api/v1/events" + query, headers=sent)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/event-stream"
    return Stream(resp)


async def test_rows_arrive_in_seq_order_with_bodies(api):
    add_held(api.connector, "urn:uuid:a")
    add_held(api.connector, "urn:uuid:b")
    add_held(api.connector, "urn:uuid:a", 2)
    add_held(api.connector, "urn:uuid:b", 2)
    stream = await open_stream(api)
    events = await stream.take(4)
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert [(e["id"], e["version"], e["event"]) for e in events] == [
        ("urn:uuid:a", 1, "created"), ("urn:uuid:b", 1, "created"),
        ("urn:uuid:a", 2, "updated"), ("urn:uuid:b", 2, "updated")]
    assert events[2]["record"] == {"id": "urn:uuid:a", "type": "Evacuee", "version": 2}
    assert events[3]["agreement"] == "urn:uuid:agreement-1"
    assert stream.retry == 50


async def test_resume_after_last_event_id_without_duplicates(api):
    for n in range(5):
        add_held(api.connector, f"urn:uuid:r{n}")
    first = await open_stream(api)
    seen = await first.take(3)
    first.resp.close()
    # ?after= as well, to show that the header wins (a browser keeps the URL it started with)
    again = await open_stream(api, "?after=1", headers={"Last-Event-ID": str(seen[-1]["seq"])})
    rest = await again.take(2)
    assert [e["seq"] for e in seen + rest] == [1, 2, 3, 4, 5]
    await again.nothing_within(0.4)
    by_query = await open_stream(api, "?after=4")
    assert [e["seq"] for e in await by_query.take(1)] == [5]


async def test_new_row_reaches_a_connected_client_within_a_second(api_factory):
    # Heartbeat and poll both 5 s: only notify() can wake the stream in time.
    api = await api_factory(heartbeat=5.0, poll_interval=5.0)
    add_held(api.connector, "urn:uuid:before")
    stream = await open_stream(api)
    await stream.take(1)
    await asyncio.sleep(0.1)  # the stream is now waiting (poll interval is 5 s)
    loop = asyncio.get_running_loop()
    started = loop.time()
    seq = add_held(api.connector, "urn:uuid:after")
    api.connector.gate.feed.notify()
    event = await stream.next(timeout=1.0)
    assert event["seq"] == seq and loop.time() - started < 1.0


async def test_poll_catches_a_writer_that_forgets_to_notify(api_factory):
    api = await api_factory(poll_interval=0.2)
    stream = await open_stream(api)
    await asyncio.sleep(0.1)
    seq = add_held(api.connector, "urn:uuid:silent", notify=False)
    assert (await stream.next(timeout=1.0))["seq"] == seq


async def test_heartbeat_comments_keep_an_idle_stream_alive(api):
    stream = await open_stream(api)
    await stream.nothing_within(0.8)  # heartbeat is 0.3 s in tests
    assert len(stream.comments) >= 2 and stream.comments[0] == ": keep-alive"


async def test_dataset_filter(api):
    add_held(api.connector, "urn:uuid:x", dataset_id="urn:other-dataset")
    add_held(api.connector, "urn:uuid:y")
    stream = await open_stream(api, f"?dataset={quote(DATASET, safe='')}")
    assert [e["id"] for e in await stream.take(1)] == ["urn:uuid:y"]
    await stream.nothing_within(0.4)


async def test_large_backlog_is_read_in_pages_in_order(api):
    api.app[STREAMS].page_size = 3
    for n in range(10):
        add_held(api.connector, f"urn:uuid:p{n}")
    stream = await open_stream(api)
    assert [e["seq"] for e in await stream.take(10)] == list(range(1, 11))


async def test_purged_held_record_is_announced_without_body(api):
    add_held(api.connector, "urn:uuid:gone")
    with api.connector.store.transaction() as db:
        db.execute("DELETE FROM held_records")
    stream = await open_stream(api)
    assert (await stream.next())["record"] is None


@pytest.mark.parametrize("headers, code", [({"Last-Event-ID": "abc"}, "input.invalid"),
                                           ({"Last-Event-ID": "-1"}, "input.invalid")])
async def test_bad_cursor_is_a_problem(api, headers, code):
    status, ctype, body = await api.call("GET", "/api/v1/events", token=api.token("events:read"),
                                         headers=headers)
    assert (status, ctype, body["code"]) == (400, "application/problem+json", code)


async def test_events_need_the_events_scope(api):
    status, _, body = await api.call("GET", "/api/v1/events", token=api.token("records:read"))
    assert (status, body["code"]) == (403, "auth.scope")


async def test_shutdown_ends_open_streams(api):
    stream = await open_stream(api)
    assert len(api.app[STREAMS].active) == 1
    assert api.connector.metrics.value("tsunagu_api_sse_clients") == 1
    api.app[STREAMS].close()
    assert await asyncio.wait_for(stream.resp.content.read(), 2.0) is not None
    await asyncio.sleep(0.05)
    assert not api.app[STREAMS].active


async def test_read_page_never_returns_more_than_a_page(connector):
    from connector.control.decisions import Reader, Use

    for n in range(7):
        add_held(connector, f"urn:uuid:q{n}")
    stream = connector.gate.stream(Reader.app("tok_test"), Use("disaster_response"))
    pages, after = [], 0
    while (page := stream.page(after, 3))[0]:
        pages.append([e["seq"] for e in page[0]])
        after = page[1]
    assert pages == [[1, 2, 3], [4, 5, 6], [7]]


def hold_wire_bytes(connector, record, body: bytes) -> None:
    """``record`` held with ``body`` as the bytes it arrived in (a provider's own layout)."""
    from datetime import UTC, datetime

    from tests.held import PROVIDER_KEY, agreement

    agreement(connector, "urn:uuid:agreement-1", DATASET)
    with connector.store.transaction() as db:
        connector.gate.admit(db, agreement_id="urn:uuid:agreement-1", dataset_id=DATASET,
                             provider=PROVIDER_KEY.did, transfer_pid="urn:uuid:test-transfer",
                             accepted=[(record, "created", body)], refused=[],
                             now=datetime.now(UTC))
    connector.gate.feed.notify()


async def test_records_arrive_whatever_the_layout_of_the_bytes_they_came_in(api):
    # Passed through as stored when nothing is withheld; a body with line breaks (which
    # an SSE data line cannot hold) is serialised again. Either way one event, the record.
    compact = {"id": "urn:uuid:compact", "type": "Evacuee", "version": 1, "name": "山田 花子"}
    spaced = {"id": "urn:uuid:spaced", "type": "Evacuee", "version": 1, "note": "a\u2028b"}
    pretty = {"id": "urn:uuid:pretty", "type": "Evacuee", "version": 1, "name": "改行\nあり"}
    hold_wire_bytes(api.connector, compact, orjson.dumps(compact))
    hold_wire_bytes(api.connector, spaced, b'{ "version": 1, "type": "Evacuee", '
                                           b'"id": "urn:uuid:spaced", "note": "a\\u2028b" }')
    hold_wire_bytes(api.connector, pretty, orjson.dumps(pretty, option=orjson.OPT_INDENT_2))
    assert b"\n" in orjson.dumps(pretty, option=orjson.OPT_INDENT_2)
    stream = await open_stream(api)
    events = await stream.take(3)
    assert [e["record"] for e in events] == [compact, spaced, pretty]

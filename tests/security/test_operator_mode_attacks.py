"""A rogue participant C with valid operator-mode credentials against provider A: every
attempt is refused by the server, and A's stream and DSP inbox see nothing."""

from __future__ import annotations

import nats.errors
import nats.js.errors
import pytest

from authority.accounts import consumer_name
from connector.bus.subjects import data_subject
from tests.isolation import test_operator_mode
from tests.isolation.test_operator_mode import AGREEMENT, DATASET, Space, provider_stream

space = test_operator_mode.space  # A, B and rogue C on an operator-mode nats-server


def subscribe_targets(space: Space) -> dict[str, str]:
    a = space.a
    return {
        "a-data-wildcard": f"tsunagu.data.{a.pid}.>",
        "a-dataset-created": data_subject(a.did, DATASET, "created"),
        "a-dsp-inbox": f"tsunagu.dsp.{a.pid}.*",
        "a-ctl-topics": f"tsunagu.ctl.{a.pid}.>",
        "a-reply-inbox": f"_INBOX.{a.pid}.>",
        "everything": ">",
        "a-jetstream-api": "$JS.API.>",
    }


@pytest.mark.parametrize("target", ["a-data-wildcard", "a-dataset-created", "a-dsp-inbox",
                                    "a-ctl-topics", "a-reply-inbox", "everything",
                                    "a-jetstream-api"])
async def test_rogue_cannot_subscribe(space: Space, target: str) -> None:
    a, c = space.a, space.c
    subject = subscribe_targets(space)[target]
    await c.nc.subscribe(subject)
    violations = await c.violations()
    assert len(violations) == 1, c.errors
    assert "subscription" in violations[0].lower()
    # A's traffic never reaches C, and C's own subjects still work (not a blanket refusal).
    own = await c.nc.subscribe(f"tsunagu.data.{c.pid}.>")
    await c.nc.flush()
    await a.nc.publish(data_subject(a.did, DATASET, "created"), b"private")
    await c.nc.publish(data_subject(c.did, DATASET, "created"), b"mine")
    assert (await own.next_msg(timeout=2)).data == b"mine"
    with pytest.raises(nats.errors.TimeoutError):
        await own.next_msg(timeout=0.3)


def publish_targets(space: Space) -> dict[str, str]:
    a, b = space.a, space.b
    return {
        "a-data-created": data_subject(a.did, DATASET, "created"),
        "a-data-deleted": data_subject(a.did, DATASET, "deleted"),
        "dsp-spoofing-b": f"tsunagu.dsp.{a.pid}.{b.pid}",
        "dsp-spoofing-a-to-itself": f"tsunagu.dsp.{a.pid}.{a.pid}",
        "a-reply-inbox": f"_INBOX.{a.pid}.forged",
    }


@pytest.mark.parametrize("target", ["a-data-created", "a-data-deleted", "dsp-spoofing-b",
                                    "dsp-spoofing-a-to-itself", "a-reply-inbox"])
async def test_rogue_cannot_publish_on_a_subjects(space: Space, target: str) -> None:
    a, c = space.a, space.c
    stream = await provider_stream(a)
    spy = await a.nc.subscribe(">")
    await a.nc.flush()
    await c.nc.publish(publish_targets(space)[target], b"forged")
    violations = await c.violations()
    assert len(violations) == 1, c.errors
    assert "publish" in violations[0].lower()
    assert (await a.nc.jetstream().stream_info(stream)).state.messages == 3
    with pytest.raises(nats.errors.TimeoutError):
        while True:  # A sees nothing C sent (its own stream API chatter aside)
            msg = await spy.next_msg(timeout=0.3)
            assert msg.data != b"forged"


@pytest.mark.parametrize("api", ["stream-info", "stream-msg-get", "consumer-create",
                                 "stream-purge", "stream-delete"])
async def test_rogue_cannot_call_a_jetstream_api(space: Space, api: str) -> None:
    """C's $JS.API reaches only C's own account; A's exported prefix answers nobody."""
    a, c = space.a, space.c
    stream = await provider_stream(a)
    js_c = c.nc.jetstream()
    calls = {
        "stream-info": lambda: js_c.stream_info(stream),
        "stream-msg-get": lambda: js_c.get_msg(stream, 1),
        "consumer-create": lambda: js_c.add_consumer(stream, durable_name="rogue"),
        "stream-purge": lambda: js_c.purge_stream(stream),
        "stream-delete": lambda: js_c.delete_stream(stream),
    }
    with pytest.raises(nats.js.errors.NotFoundError):
        await calls[api]()
    with pytest.raises((nats.errors.NoRespondersError, nats.errors.TimeoutError)):
        await c.nc.request(f"$JS.{a.pid}.API.STREAM.INFO.{stream}", b"", timeout=0.5)
    info = await a.nc.jetstream().stream_info(stream)
    assert info.state.messages == 3
    assert [x.name for x in await a.nc.jetstream().consumers_info(stream)] == [
        consumer_name(AGREEMENT)]

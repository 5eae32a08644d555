"""Sealed streams (trust.sealing, connector.data.content_keys): whoever runs NATS sees only
ciphertext and routing; a consumer whose agreement ended gets no key for what follows.

The module runs on a plain nats-server, so that a raw client subscribed to ``>`` sees every
message the server carries: the view of the server's operator.
"""

from __future__ import annotations

import asyncio

import nats
import pytest

from connector.bus import subjects
from connector.data.content_keys import ContentKeyRefused
from tests.e2e.conftest import DATASET, publish, record
from tests.e2e.test_contributions import (  # noqa: F401 (fixtures)
    MODIFY_OFFER,
    PURPOSE,
    RID,
    agree,
    contributions,
    evacuee_context,
    space,
)
from tests.e2e.test_transfer import delivered, started_transfer
from trust.sealing import SEAL_HEADER, epoch_of

PERSONAL = ("避難者 山田花子", "宮城県仙台市青葉区一番町1-1")


@pytest.fixture
def e2e_nats(nats_server):
    return nats_server


async def watch_everything(url: str, seen: list[bytes]) -> nats.NATS:
    """A client subscribed to every subject: what the server's operator can see."""
    operator = await nats.connect(url)

    async def keep(msg) -> None:
        headers = b" ".join(f"{k}={v}".encode() for k, v in (msg.headers or {}).items())
        seen.append(b" ".join((msg.subject.encode(), headers, msg.data)))

    await operator.subscribe(">", cb=keep)
    await operator.flush()  # the server holds the subscription before anything is sent
    return operator


async def test_the_nats_operator_sees_no_plaintext_of_a_stream(provider, consumer,
                                                               nats_server):
    seen: list[bytes] = []
    operator = await watch_everything(nats_server.url, seen)
    try:
        await started_transfer(consumer, provider)
        for n in range(5):
            await provider.records.publish(DATASET, record(n, name=PERSONAL[0],
                                                           description=PERSONAL[1]))
        assert await delivered(consumer, 5) == 5
        await operator.flush()
    finally:
        await operator.close()
    data_messages = [b for b in seen if b.startswith(b"tsunagu.data.")]
    assert len(data_messages) >= 5  # the operator saw the records go by...
    for value in PERSONAL:  # ...and none of their content, anywhere on the wire
        assert not any(value.encode() in b for b in seen), value
    # What JetStream keeps (a stream backup) is sealed too, and the consumer read it all.
    js, stream = provider.connector.js, subjects.dataset_stream(provider.did, DATASET)
    stored = await js.get_msg(stream, 1)
    assert epoch_of(stored.headers[SEAL_HEADER]) is not None
    assert PERSONAL[0].encode() not in stored.data
    rows = consumer.connector.store.query("SELECT count(*) FROM held_content_keys")
    assert rows[0][0] == 1  # one epoch, asked for once
    [given] = provider.connector.audit.entries("content_key_given")
    assert given["consumer"] == consumer.did


async def test_a_terminated_consumer_gets_no_key_for_what_is_published_after(provider,
                                                                          consumer):
    done, _ = await started_transfer(consumer, provider)
    await publish(provider, range(3))
    assert await delivered(consumer, 3) == 3
    before = provider.connector.content_keys.current(DATASET).epoch
    agreement = consumer.connector.agreements.get(done["agreementId"])
    await provider.connector.agreements.terminate(done["agreementId"], "災害対応の終了")
    after = provider.connector.content_keys.current(DATASET).epoch
    assert after != before  # rotated at termination
    rotations = [e for e in provider.connector.audit.entries("content_key_rotated")
                 if e.get("reason") == "agreement_ended"]
    assert len(rotations) == 1
    for _ in range(50):  # the consumer learns of the termination and drops its keys
        if not consumer.connector.store.query("SELECT 1 FROM held_content_keys"):
            break
        await asyncio.sleep(0.05)
    assert not consumer.connector.store.query("SELECT 1 FROM held_content_keys")
    with pytest.raises(ContentKeyRefused, match="terminat"):
        await consumer.connector.content_keys.key_for(
            agreement, subjects.dataset_stream(provider.did, DATASET), after)
    with pytest.raises(ContentKeyRefused):  # nor the old one again
        await consumer.connector.content_keys.key_for(
            agreement, subjects.dataset_stream(provider.did, DATASET), before)


async def test_keys_rotate_on_schedule_and_the_consumer_reads_across_epochs(
        tmp_path, authority, nats_server, start_node, consumer_config):
    from tests.e2e.conftest import CITY_CODE, CITY_OFFER, OPEN_OFFER, operator_participant

    config = await operator_participant(tmp_path / "p", authority, nats_server,
                                        name="仙台市", legal_id=CITY_CODE, role="municipality")
    provider = await start_node(config, content_key_lifetime_s=0.3)
    await provider.datasets.offer_dataset(DATASET, "指定避難所", [OPEN_OFFER, CITY_OFFER])
    consumer = await start_node(consumer_config)
    await started_transfer(consumer, provider)
    await publish(provider, range(3))
    await asyncio.sleep(0.4)
    await publish(provider, range(3, 6))
    assert await delivered(consumer, 6) == 6
    js, stream = provider.connector.js, subjects.dataset_stream(provider.did, DATASET)
    epochs = {epoch_of((await js.get_msg(stream, seq)).headers[SEAL_HEADER])
              for seq in range(1, 7)}
    assert len(epochs) >= 2  # a slow machine may rotate inside the first batch too
    held = consumer.connector.store.query("SELECT epoch FROM held_content_keys")
    assert {e for (e,) in held} == epochs


async def test_a_contribution_crosses_nats_sealed(space, nats_server):  # noqa: F811
    """A shelter operator's change to an evacuee record (flow 6) carries record content in
    a DSP message: sealed to the holder, so the operator of NATS reads none of it."""
    holder, a = space["holder"], space["a"]
    agreement = await agree(a, holder, MODIFY_OFFER, transfer=True)
    seen: list[bytes] = []
    operator = await watch_everything(nats_server.url, seen)
    try:
        result = await contributions(a).contribute(
            holder.did, agreement, RID, 1, {"stayLocation": "片平小学校 体育館 北側"}, PURPOSE)
        assert result["version"] == 2
        assert holder.records.get(RID)["stayLocation"] == "片平小学校 体育館 北側"
        await operator.flush()
        await asyncio.sleep(0.2)
    finally:
        await operator.close()
    assert any(b"tsunagu.dsp." in b for b in seen)  # the change went by...
    assert not any("片平小学校".encode() in b for b in seen)  # ...sealed

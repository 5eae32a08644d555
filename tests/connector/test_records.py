"""Provider records: validate -> version -> sign -> store -> JetStream, and the outbox."""

from __future__ import annotations

import asyncio
import re

import orjson
import pytest

from connector.bus import subjects
from connector.data.records import (
    MAX_RECORD_BYTES,
    PENDING,
    PUBLISHED,
    REJECTED,
    TOMBSTONE_FLAG,
    RecordError,
)
from tests.connector.conftest import (
    DATASET,
    OFFER,
    shelter,
    start_provider,
)
from tests.connector.conftest import (
    SHELTER_CONTEXT as SHELTER_CONTEXT_URL,
)
from trust import jsonld
from trust.errors import JsonLdError, ProofError
from trust.keys import KeyPair
from trust.proofs import verify_document

ZULU = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


async def stream_messages(provider) -> list:
    """Every message of the dataset's stream, in order, with headers."""
    js, did = provider.connector.js, provider.connector.did
    name = subjects.dataset_stream(did, DATASET)
    info = await js.stream_info(name)
    return [await js.get_msg(name, seq)
            for seq in range(info.state.first_seq, info.state.last_seq + 1)
            if info.state.messages]


def opened(provider, msg) -> dict:
    """A stream message as the provider sealed it, opened with its own key."""
    return orjson.loads(provider.connector.content_keys.open_own(
        DATASET, msg.subject, msg.headers, msg.data))


def versions_table(provider) -> list[tuple]:
    return [tuple(r) for r in provider.connector.store.query(
        "SELECT id, version, event, published FROM record_versions ORDER BY rowid")]


def assert_nothing_stored(provider) -> None:
    store = provider.connector.store
    assert store.query("SELECT count(*) FROM records")[0][0] == 0
    assert versions_table(provider) == []
    assert provider.connector.audit.entries("published") == []


async def test_publish_appends_created_event_with_msg_id(provider):
    did = provider.connector.did
    signed = await provider.records.publish(DATASET, shelter())
    assert signed["version"] == 1 and ZULU.fullmatch(signed["modified"])
    [msg] = await stream_messages(provider)
    assert msg.subject == subjects.data_subject(did, DATASET, "created")
    assert msg.headers["Nats-Msg-Id"] == "urn:tsunagu:test:shelter:1@1"
    assert opened(provider, msg) == signed
    assert versions_table(provider) == [("urn:tsunagu:test:shelter:1", 1, "created", 1)]
    assert provider.records.get(signed["id"]) == signed
    [line] = provider.connector.audit.entries("published")
    assert (line["record"], line["version"], line["change"]) == (signed["id"], 1, "created")
    assert "name" not in line and "capacity" not in line  # identifiers only, no body
    assert provider.connector.metrics.value(PUBLISHED, dataset=DATASET) == 1


async def test_second_publish_of_an_id_is_version_2_updated(provider):
    did = provider.connector.did
    await provider.records.publish(DATASET, shelter(capacity=300))
    second = await provider.records.publish(DATASET, shelter(capacity=120, status="full"))
    assert second["version"] == 2 and second["capacity"] == 120
    first_msg, second_msg = await stream_messages(provider)
    assert second_msg.subject == subjects.data_subject(did, DATASET, "updated")
    assert second_msg.headers["Nats-Msg-Id"] == "urn:tsunagu:test:shelter:1@2"
    assert [v["version"] for v in provider.records.versions(second["id"])] == [1, 2]
    assert provider.records.get(second["id"]) == second
    assert provider.records.list(DATASET) == [second]


async def test_proof_is_by_the_provider_and_replaces_incoming_fields(provider):
    did = provider.connector.did
    forged = {"type": "DataIntegrityProof", "proofValue": "z111"}
    signed = await provider.records.publish(DATASET, shelter(proof=forged, version=99,
                                                             modified="1999-01-01T00:00:00Z"))
    assert signed["version"] == 1 and signed["modified"] != "1999-01-01T00:00:00Z"
    assert verify_document(signed, expected_controller=did).controller == did
    [msg] = await stream_messages(provider)
    verify_document(opened(provider, msg), expected_controller=did)
    with pytest.raises(ProofError) as info:
        verify_document(signed, expected_controller=KeyPair.generate().did)
    assert info.value.code == "proof.wrong_signer"
    with pytest.raises(ProofError) as info:
        verify_document({**signed, "capacity": 1}, expected_controller=did)
    assert info.value.code == "proof.bad_signature"


async def test_delete_appends_a_signed_tombstone(provider):
    did = provider.connector.did
    record = await provider.records.publish(DATASET, shelter())
    tombstone = await provider.records.delete(DATASET, record["id"])
    assert set(tombstone) == {"@context", "id", "type", "version", "modified", "proof",
                              TOMBSTONE_FLAG}
    assert tombstone[TOMBSTONE_FLAG] is True and tombstone["version"] == 2
    verify_document(tombstone, expected_controller=did)
    jsonld.check_no_dropped_terms({k: v for k, v in tombstone.items() if k != "proof"},
                                  provider.connector.contexts)
    # Version 1 is erased from the stream; only the tombstone stays (connector.erasure).
    [msg] = await stream_messages(provider)
    assert msg.subject == subjects.data_subject(did, DATASET, "deleted")
    assert msg.headers["Nats-Msg-Id"] == f"{record['id']}@2"
    assert opened(provider, msg) == tombstone
    assert provider.records.list(DATASET) == []
    assert provider.records.get(record["id"]) == tombstone
    # Deleting again changes nothing; publishing again starts over as "created", version 3.
    assert await provider.records.delete(DATASET, record["id"]) == tombstone
    again = await provider.records.publish(DATASET, shelter())
    assert again["version"] == 3
    assert [m.subject.rsplit(".", 1)[1] for m in await stream_messages(provider)] == [
        "deleted", "created"]


async def test_delete_of_unknown_record_is_refused(provider):
    with pytest.raises(RecordError) as info:
        await provider.records.delete(DATASET, "urn:tsunagu:test:shelter:none")
    assert info.value.code == "record.not_found"


async def test_schema_invalid_record_is_refused_with_paths_and_nothing_stored(provider):
    bad = shelter(capacity="many")
    del bad["name"]
    with pytest.raises(RecordError) as info:
        await provider.records.publish(DATASET, bad)
    assert info.value.code == "record.schema_invalid"
    paths = {e["path"] for e in info.value.details["errors"]}
    assert paths == {"$", "$.capacity"}
    assert "many" not in info.value.message  # reasons name rules, never values
    assert_nothing_stored(provider)
    assert await stream_messages(provider) == []
    assert provider.connector.metrics.value(REJECTED, reason="record.schema_invalid") == 1


async def test_undefined_json_ld_term_is_refused(provider):
    with pytest.raises(JsonLdError) as info:
        await provider.records.publish(DATASET, shelter(capacty=10))
    assert info.value.code == "jsonld.dropped_term"
    assert info.value.details["path"] == "$.capacty"
    assert_nothing_stored(provider)
    assert await stream_messages(provider) == []
    assert provider.connector.metrics.value(REJECTED, reason="jsonld.dropped_term") == 1


async def test_remote_context_is_refused(provider):
    record = shelter()
    record["@context"].append("https://example.com/not-bundled.jsonld")
    with pytest.raises(JsonLdError) as info:
        await provider.records.publish(DATASET, record)
    assert info.value.code == "jsonld.remote_context"
    assert_nothing_stored(provider)
    assert await stream_messages(provider) == []


@pytest.mark.parametrize("change, path", [
    ({"id": None}, "$.id"),
    ({"id": "shelter-1"}, "$.id"),  # relative: not an IRI
    ({"type": None}, "$.type"),
    ({"type": []}, "$.type"),
    ({"@context": None}, "$['@context']"),
    ({"@context": [{"capacity": "https://evil.example/capacity"}]}, "$['@context']"),
    ({TOMBSTONE_FLAG: True}, f"$['{TOMBSTONE_FLAG}']"),
])
async def test_record_without_required_fields_is_refused(provider, change, path):
    record = {k: v for k, v in {**shelter(), **change}.items() if v is not None}
    with pytest.raises(RecordError) as info:
        await provider.records.publish(DATASET, record)
    assert (info.value.code, info.value.details["path"]) == ("record.invalid", path)
    assert_nothing_stored(provider)


async def test_oversized_record_is_refused(provider):
    with pytest.raises(RecordError) as info:
        await provider.records.publish(DATASET, shelter(name="x" * MAX_RECORD_BYTES))
    assert info.value.code == "record.too_large"
    assert_nothing_stored(provider)


async def test_unknown_dataset_and_foreign_record_id_are_refused(provider):
    with pytest.raises(RecordError) as info:
        await provider.records.publish("urn:tsunagu:test:dataset:none", shelter())
    assert info.value.code == "dataset.not_found"
    other = "urn:tsunagu:test:dataset:other"
    await provider.datasets.offer_dataset(other, "other", [OFFER], None)
    await provider.records.publish(DATASET, shelter())
    with pytest.raises(RecordError) as info:
        await provider.records.publish(other, shelter())
    assert info.value.code == "record.wrong_dataset"


async def test_outbox_is_republished_once_after_a_restart(provider, provider_config,
                                                          start_connector):
    records = provider.records
    first = await records.publish(DATASET, shelter())
    # Crash after JetStream stored version 1 but before published=1 was written ...
    with provider.connector.store.transaction() as db:
        db.execute("UPDATE record_versions SET published = 0")
    # ... and a crash right after the commit of version 2, before its publish.
    dataset, signed, event = records._prepare(DATASET, shelter(capacity=5))
    records._commit(dataset, signed, event)
    assert [r[3] for r in versions_table(provider)] == [0, 0]
    await provider.connector.stop()

    restarted = await start_provider(start_connector, provider_config)
    messages = await stream_messages(restarted)
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [f"{first['id']}@1",
                                                             f"{first['id']}@2"]
    assert opened(restarted, messages[1]) == signed
    assert [r[3] for r in versions_table(restarted)] == [1, 1]
    # Version 1 was a duplicate for JetStream: counted once, in the first process.
    assert restarted.connector.metrics.value(PUBLISHED, dataset=DATASET) == 1
    assert restarted.connector.metrics.value(PENDING) == 0


async def test_publish_while_nats_is_down_is_sent_exactly_once(provider, nats_server):
    nc = provider.connector.nc
    nats_server.kill()
    signed = await provider.records.publish(DATASET, shelter())  # durable, not yet sent
    assert versions_table(provider) == [(signed["id"], 1, "created", 0)]
    assert provider.connector.metrics.value(PENDING) == 1
    await nats_server.restart()
    for _ in range(100):
        if nc.is_connected:
            break
        await asyncio.sleep(0.1)
    # nats-py resends what it buffered while disconnected; the outbox sends it again.
    await asyncio.sleep(0.5)
    assert await provider.records.flush_outbox() == 1
    [msg] = await stream_messages(provider)
    assert msg.headers["Nats-Msg-Id"] == f"{signed['id']}@1"
    assert versions_table(provider) == [(signed["id"], 1, "created", 1)]
    assert provider.connector.metrics.value(PENDING) == 0


def test_unserialisable_records_get_a_typed_error():
    from connector.data.records import RecordError, _check_size

    deep: dict = {}
    node = deep
    for _ in range(300):
        node["a"] = {}
        node = node["a"]
    for bad in (deep, {"n": -(2**63) - 1}):
        with pytest.raises(RecordError) as info:
            _check_size(bad)
        assert info.value.code == "record.invalid"


# --- staging inside a caller's transaction (a domain's rows and its records together) -------

async def test_staged_records_commit_and_roll_back_with_the_callers_transaction(provider):
    store, records = provider.connector.store, provider.records
    store.db.execute("CREATE TABLE IF NOT EXISTS caller_rows (n INTEGER)")
    with pytest.raises(RuntimeError), store.transaction() as db:
        db.execute("INSERT INTO caller_rows VALUES (1)")
        records.stage(db, DATASET, [shelter(), shelter("urn:tsunagu:test:shelter:2")])
        raise RuntimeError("the caller's own step failed")
    assert_nothing_stored(provider)
    assert store.query("SELECT count(*) FROM caller_rows")[0][0] == 0

    with store.transaction() as db:
        db.execute("INSERT INTO caller_rows VALUES (1)")
        staged = records.stage(db, DATASET, [shelter()])
        assert await stream_messages(provider) == []  # nothing leaves before the commit
    assert await records.flush() == 1
    [msg] = await stream_messages(provider)
    assert opened(provider, msg) == staged[0]

    with store.transaction() as db:
        tombstone = records.stage_delete(db, DATASET, staged[0]["id"])
    await records.flush()
    assert tombstone[TOMBSTONE_FLAG] is True and records.get(staged[0]["id"]) == tombstone
    assert [v for _, v, _, _ in versions_table(provider)] == [1, 2]


async def test_a_term_without_its_context_names_the_bundled_context_that_defines_it(provider):
    record = shelter()
    record["@context"] = [jsonld.CREDENTIALS_V2, jsonld.TSUNAGU_V1]  # the domain's is missing
    with pytest.raises(JsonLdError) as info:
        await provider.records.publish(DATASET, record)
    assert info.value.code == "jsonld.dropped_term"
    assert SHELTER_CONTEXT_URL in info.value.message and "add it to the document's @context" \
        in info.value.message
    assert_nothing_stored(provider)


async def test_a_field_the_connector_adds_is_named_as_the_connectors_own(provider):
    record = shelter()
    record["@context"] = [jsonld.CREDENTIALS_V2, SHELTER_CONTEXT_URL]  # no tsunagu/v1
    with pytest.raises(JsonLdError) as info:
        await provider.records.publish(DATASET, record)
    message = info.value.message
    assert "the connector adds" in message and jsonld.TSUNAGU_V1 in message  # not a bare
    assert info.value.details["term"] in ("version", "modified")  # "term 'modified' ..."
    assert_nothing_stored(provider)


@pytest.mark.parametrize(("context", "said"), [
    (None, "missing"), ({"capacity": "https://evil.example/c"}, "an inline object"),
    (7, "a int")])
async def test_a_bad_record_context_says_what_it_is_and_what_to_use(provider, context, said):
    with pytest.raises(RecordError) as info:
        await provider.records.publish(DATASET, shelter(**{"@context": context}))
    assert f"here it is {said}" in info.value.message
    assert jsonld.TSUNAGU_V1 in info.value.message
    assert_nothing_stored(provider)


async def test_a_flattened_record_is_stored_as_its_compact_tree(provider):
    # RDF tools write a record as {"@context", "@graph"} with nodes referring to each other;
    # it is published as the one record it holds (issue 18: every JSON-LD form in).
    from pyld import jsonld as pyld

    compact = shelter()
    flat = pyld.flatten(dict(compact), compact["@context"],
                        provider.connector.contexts.pyld_options())
    assert "@graph" in flat
    stored = await provider.records.publish(DATASET, flat)
    assert {k: v for k, v in stored.items() if k not in ("proof", "modified", "version")} \
        == compact
    assert stored["@context"] == compact["@context"]


async def test_a_flattened_record_with_two_top_nodes_is_refused(provider):
    flat = {"@context": list(shelter()["@context"]), "@graph": [
        {k: v for k, v in shelter().items() if k != "@context"},
        {k: v for k, v in shelter("urn:tsunagu:test:shelter:2").items() if k != "@context"}]}
    with pytest.raises(JsonLdError) as info:
        await provider.records.publish(DATASET, flat)
    assert info.value.code == "jsonld.syntax" and "2 top nodes" in info.value.message
    assert_nothing_stored(provider)

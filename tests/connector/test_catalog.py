"""Datasets on offer: their streams, and the DSP catalog served over the real bus."""

from __future__ import annotations

import pytest

from connector.bus import subjects
from connector.data.datasets import DUPLICATE_WINDOW_S, DatasetError
from connector.protocol.dsp import messages as m
from connector.protocol.dsp.validation import check_jsonld, validate_message
from tests.connector.conftest import DATASET, OFFER, SHELTER_SCHEMA, start_provider
from trust.errors import JsonLdError


async def ask(consumer, provider, message: dict) -> tuple[str, dict]:
    """Send a DSP request from ``consumer``; the reply must be a valid DSP message."""
    validate_message(message)
    env, who = await consumer.bus.request(provider.connector.did, message["@type"], message)
    assert who.did == provider.connector.did
    assert validate_message(env.payload) == env.message_type
    check_jsonld(env.payload)
    return env.message_type, env.payload


async def test_catalog_request_returns_the_dataset_with_its_offers(provider, consumer):
    kind, catalog = await ask(consumer, provider, m.catalog_request())
    assert kind == "Catalog"
    assert catalog["participantId"] == provider.connector.did
    [entry] = catalog["dataset"]
    assert entry["@id"] == DATASET and entry["hasPolicy"] == [OFFER]
    assert entry["dct:title"] == "指定避難所" and entry["dcat:keyword"] == ["避難所", "bosai"]
    [service] = catalog["service"]
    assert entry["distribution"][0]["accessService"] == service["@id"]


async def test_dataset_request_returns_the_dataset(provider, consumer):
    kind, dataset = await ask(consumer, provider, m.dataset_request(DATASET))
    assert kind == "Dataset"
    assert dataset["@id"] == DATASET and dataset["hasPolicy"] == [OFFER]
    assert dataset["distribution"][0]["accessService"]["@type"] == "DataService"


async def test_dataset_request_for_an_unknown_id_is_a_catalog_error(provider, consumer):
    kind, error = await ask(consumer, provider, m.dataset_request("urn:tsunagu:test:nope"))
    assert (kind, error["code"]) == ("CatalogError", "dataset.not_found")


async def test_malformed_and_filtered_requests_are_catalog_errors(provider, consumer):
    env, _ = await consumer.bus.request(provider.connector.did, "DatasetRequestMessage",
                                        {"@type": "DatasetRequestMessage"})
    assert (env.message_type, env.payload["code"]) == ("CatalogError", "dsp.invalid_message")
    validate_message(env.payload)
    kind, error = await ask(consumer, provider, m.catalog_request([{"dct:title": "x"}]))
    assert (kind, error["code"]) == ("CatalogError", "catalog.filter_unsupported")


async def test_empty_catalog_is_valid(start_connector, provider_config, consumer):
    provider = await start_provider(start_connector, provider_config)
    kind, catalog = await ask(consumer, provider, m.catalog_request())
    assert kind == "Catalog" and "dataset" not in catalog


async def test_dataset_stream_is_append_only_and_deduplicating(provider):
    did = provider.connector.did
    info = await provider.connector.js.stream_info(subjects.dataset_stream(did, DATASET))
    config = info.config
    assert sorted(config.subjects) == sorted(subjects.data_subject(did, DATASET, e)
                                             for e in subjects.EVENTS)
    assert config.duplicate_window == DUPLICATE_WINDOW_S >= 600
    assert config.storage == "file" and config.max_age == 0
    # Single deletes are allowed for erasure only (connector.erasure); no TTLs, no rollups.
    assert not config.deny_delete and not config.allow_msg_ttl \
        and not config.allow_rollup_hdrs
    await provider.records.publish(DATASET, {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://w3id.org/tsunagu/v1",
                     "https://example.org/tsunagu-test/shelter/v1"],
        "id": "urn:tsunagu:test:shelter:9", "type": "Shelter", "name": "n", "capacity": 1})
    # The provider itself may delete a message (erasure); in operator mode no other account
    # reaches this API (tests/isolation).
    assert await provider.connector.js.delete_msg(config.name, 1) is True


async def test_offering_again_replaces_offers_and_schema(provider, consumer):
    second = m.offer("urn:tsunagu:test:offer:2", permission=[m.rule("use")])
    await provider.datasets.offer_dataset(DATASET, "指定避難所", [OFFER, second], None)
    _, catalog = await ask(consumer, provider, m.catalog_request())
    [entry] = catalog["dataset"]
    assert entry["hasPolicy"] == [OFFER, second]
    assert provider.datasets.get(DATASET).schema is None


async def test_datasets_survive_a_restart(provider, provider_config, start_connector,
                                          consumer):
    await provider.connector.stop()
    restarted = await start_provider(start_connector, provider_config)
    assert restarted.datasets.get(DATASET).schema == SHELTER_SCHEMA
    kind, dataset = await ask(consumer, restarted, m.dataset_request(DATASET))
    assert kind == "Dataset"


@pytest.mark.parametrize("offers, code", [
    ([], "dataset.invalid"),
    ([m.offer("urn:o:1", target=DATASET, permission=[m.rule("use")])], "dataset.invalid"),
    ([{"@id": "urn:o:1", "@type": "Offer", "permission": [
        {"action": "use", "constrain": [m.constraint("odrl:dateTime", "lteq", "2030")]}]}],
     "jsonld.dropped_term"),
])
async def test_invalid_offers_are_refused_before_anything_is_written(provider, offers, code):
    dataset_id = "urn:tsunagu:test:dataset:bad"
    with pytest.raises((DatasetError, JsonLdError)) as info:
        await provider.datasets.offer_dataset(dataset_id, "bad", offers, None)
    assert info.value.code == code
    assert provider.datasets.get(dataset_id) is None
    names = [n async for n in _stream_names(provider)]
    assert subjects.dataset_stream(provider.connector.did, dataset_id) not in names


async def test_invalid_schema_and_dataset_id_are_refused(provider):
    with pytest.raises(DatasetError) as info:
        await provider.datasets.offer_dataset("urn:x:1", "t", [OFFER], {"type": "nonsense"})
    assert info.value.code == "dataset.schema_invalid"
    with pytest.raises(DatasetError) as info:
        await provider.datasets.offer_dataset("not an iri", "t", [OFFER], None)
    assert info.value.code == "dataset.invalid"


async def _stream_names(provider):
    for info in await provider.connector.js.streams_info():
        yield info.config.name

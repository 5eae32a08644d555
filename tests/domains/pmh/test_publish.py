"""pmh records as a clinic's import makes them are published through a real connector's app
API: schema, content rules (no My Number, check digits, impossible values), JSON-LD with no
dropped term, proof; what comes back is what went in."""

from __future__ import annotations

import json

import pytest

from connector.api.sdk import ApiError, TsunaguClient
from connector.api.tokens import TokenStore
from domains.pmh.fhir.bundle import import_bundle
from domains.pmh.model.datasets import DATASET_TYPES
from tests.api.conftest import running_connector, start_api
from tests.connector.conftest import OFFER
from tests.domains.pmh import family
from tests.domains.pmh.test_fhir_import import clinic

DATASET = {dt.record_type.rsplit("#", 1)[1]: f"urn:example:pmh:{name}"
           for name, dt in DATASET_TYPES.items()}


@pytest.fixture
async def publisher(tmp_path, nats_server):
    async with running_connector(tmp_path, nats_server.url) as connector:
        for name, dt in DATASET_TYPES.items():
            await connector.datasets.offer_dataset(
                f"urn:example:pmh:{name}", name, [OFFER],
                json.loads(dt.schema.read_bytes()))
        _, server = await start_api(connector)
        token = TokenStore(connector.store).issue(["records:write"]).token
        async with TsunaguClient(str(server.make_url("")), token) as client:
            yield client
        await server.close()


async def test_every_record_type_is_published_signed_and_unchanged(publisher):
    records = family.family() + import_bundle(clinic())
    for record in records:
        published = await publisher.publish(DATASET[record["type"]], record)
        assert published.record["proof"]["cryptosuite"] == "eddsa-jcs-2022"
        held = {k: published.record[k] for k in record if k not in ("version", "modified")}
        assert held == {k: v for k, v in record.items() if k not in ("version", "modified")}


@pytest.mark.parametrize("record, code", [
    (family.mother(address="東京都千代田区 123456789018"), "personal_number.refused"),
    (family.subsidy(recipientNumber="1234567"), "pmh.subsidy_number"),
])
async def test_the_connector_refuses_what_pmh_refuses(publisher, record, code):
    with pytest.raises(ApiError) as caught:
        await publisher.publish(DATASET[record["type"]], record)
    assert caught.value.code == code and "123456789018" not in caught.value.detail


async def test_an_impossible_blood_pressure_is_refused_by_schema_or_rule(publisher):
    with pytest.raises(ApiError) as caught:
        await publisher.publish(DATASET["Observation"],
                                family.observation(systolic=500, diastolic=300))
    assert caught.value.status == 400 and "systolic" in caught.value.detail

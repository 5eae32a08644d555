"""docs/records.md: every example record is published, as written, through a real
connector's app API into a dataset of its type (with that type's JSON schema), and the
refusals its table promises come with the codes it names."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from connector.api.sdk import ApiError, TsunaguClient
from connector.api.tokens import TokenStore
from connector.plugins.registry import dataset_schema
from tests.api.conftest import running_connector, start_api
from tests.connector.conftest import OFFER

DOC = Path(__file__).resolve().parents[2] / "docs" / "records.md"
# The dataset type each record type of the page goes into (None: no schema).
DATASET_TYPE = {"Record": None, "ShelterStatus": "shelter-status", "Evacuee": "evacuee",
                "MedicalNeeds": "medical-needs", "SupplyRequest": "supply-requests"}


def examples() -> list[dict[str, Any]]:
    return [json.loads(block) for block in
            re.findall(r"^```json\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M)]


def test_the_page_has_an_example_per_bosai_record_type():
    assert sorted(e["type"] for e in examples()) == sorted(DATASET_TYPE)


@pytest.fixture
async def publisher(tmp_path, nats_server):
    """The app API of a connector (with the installed domains) offering one dataset per
    record type of the page; an app token that may publish."""
    async with running_connector(tmp_path, nats_server.url) as connector:
        for record_type, kind in DATASET_TYPE.items():
            await connector.datasets.offer_dataset(
                f"urn:example:docs:{record_type}", record_type, [OFFER],
                dataset_schema(kind) if kind else None)
        _, server = await start_api(connector)
        token = TokenStore(connector.store).issue(["records:write"]).token
        async with TsunaguClient(str(server.make_url("")), token) as client:
            yield client
        await server.close()


@pytest.mark.parametrize("index", range(len(examples())))
async def test_each_example_is_published_and_signed(publisher, index):
    record = examples()[index]
    published = await publisher.publish(f"urn:example:docs:{record['type']}", record)
    assert (published.id, published.version) == (record["id"], 1)
    assert published.record["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert {k: published.record[k] for k in record} == record  # nothing dropped or changed


async def refused(publisher: TsunaguClient, record: dict[str, Any]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await publisher.publish(f"urn:example:docs:{record['type']}", record)
    assert caught.value.status == 400
    return caught.value


async def test_the_refusals_table_holds(publisher):
    by_type = {e["type"]: e for e in examples()}
    status = by_type["ShelterStatus"]
    inline = await refused(publisher, {**status, "@context": {"name": "https://x.example/n"}})
    assert inline.code == "record.invalid" and "inline" in inline.detail
    colour = await refused(publisher, {**by_type["Record"], "colour": "red"})
    assert colour.code == "jsonld.dropped_term" and "colour" in colour.detail
    undefined = await refused(publisher, {**by_type["Record"], "name": "x"})
    assert "https://w3id.org/tsunagu/bosai/v1" in undefined.detail  # who defines it
    missing = {k: v for k, v in status.items() if k != "open"}
    schema = await refused(publisher, missing)
    assert schema.code == "record.schema_invalid" and "open" in schema.detail
    number = "123456789018"  # a valid My Number check digit, in a free-text field
    personal = await refused(publisher, {**status, "needs": [f"番号 {number}"]})
    assert personal.code == "personal_number.refused" and number not in personal.detail

"""A steel mill publishes certificates through a real connector's app API: its 法人番号 comes
from its participant credential, each certificate record carries its own eddsa-jcs-2022
proof that verifies alone, and the EN 10168 document exported from the stored record is the
input after RFC 8785 canonicalisation."""

from __future__ import annotations

import json

import pytest

from authority.state import Authority
from connector.api.sdk import ApiError, TsunaguClient
from connector.api.tokens import TokenStore
from connector.runtime.connector import Connector
from domains.steel.certificate import to_en10168
from domains.steel.issue import NotASteelMill, issue
from domains.steel.model import DATASET_TYPES
from tests.api.conftest import connector_config, start_api
from tests.connector.conftest import OFFER
from tests.domains.steel.certs import EXAMPLES, example, jis
from trust.canonical import canonical_json
from trust.keys import load_key
from trust.proofs import verify_document
from trust.status_list import StatusListCache

DATASET = "urn:example:steel:mill-certificates"
MILL_LEGAL_ID = "8000000000001"  # a made-up 法人番号 with a valid check digit


@pytest.fixture
async def mill(tmp_path, nats_server):
    authority = Authority.init(tmp_path / "authority", name="test authority")
    cache = StatusListCache([authority.did])
    cache.add(authority.status_list_jwt())
    config = connector_config(tmp_path, authority, nats_server.url, name="例示製鋼")
    # The helper issues a municipality's credential; a mill's replaces it.
    data_dir = tmp_path / "participant"
    key_did = load_key(data_dir / "participant.pem").did
    (data_dir / "credential.jwt").write_text(
        authority.issue(did=key_did, name="例示製鋼", legal_id=MILL_LEGAL_ID,
                        roles=["steel_mill"]).jwt, encoding="ascii")
    node = Connector(config, status_lists=cache)
    await node.start()
    try:
        dt = DATASET_TYPES["mill-certificates"]
        await node.datasets.offer_dataset(DATASET, "mill-certificates", [OFFER],
                                          json.loads(dt.schema.read_bytes()))
        _, server = await start_api(node)
        token = TokenStore(node.store).issue(["records:write"]).token
        async with TsunaguClient(str(server.make_url("")), token) as client:
            yield node, client
        await server.close()
    finally:
        await node.stop()


def credential_of(node):
    return node.checker.check(node.identity.credential, node.did)


@pytest.mark.parametrize("name", EXAMPLES)
async def test_an_example_is_issued_signed_verified_and_exported_unchanged(mill, name):
    node, client = mill
    document = example(name)
    record = issue(document, credential_of(node))
    assert record["manufacturerLegalId"] == MILL_LEGAL_ID
    published = (await client.publish(DATASET, record)).record
    assert published["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    verify_document(published)  # its own proof, verifiable without any other record
    assert canonical_json(to_en10168(published)) == canonical_json(document)
    assert published["flagged"] == record["flagged"]


async def test_a_record_that_hides_a_failure_is_refused(mill):
    node, client = mill
    record = issue(jis(tensile={"C12": {"Value": 600}}), credential_of(node))
    assert record["flagged"]
    with pytest.raises(ApiError) as caught:
        await client.publish(DATASET, record | {"flagged": False})
    assert caught.value.code == "steel.record_invalid"


def test_only_a_steel_mill_issues(tmp_path):
    class Municipality:
        roles = ("municipality",)
        legal_id = type("L", (), {"kind": "local_government_code", "value": "041009"})()

    with pytest.raises(NotASteelMill):
        issue(jis(), Municipality())  # type: ignore[arg-type]


async def test_a_certificate_with_a_broken_attachment_is_refused_and_nothing_kept(mill):
    node, client = mill
    record = issue(jis(), credential_of(node))
    logo = record["en10168"]["Certificate"]["CommercialTransaction"]["A04"]
    record["en10168"]["Certificate"]["CommercialTransaction"]["A04"] = logo[:200]
    with pytest.raises(ApiError) as caught:
        await client.publish(DATASET, record)
    assert caught.value.code == "steel.attachment_broken"
    assert "/Certificate/CommercialTransaction/A04" in caught.value.detail
    assert node.records.get(record["id"]) is None

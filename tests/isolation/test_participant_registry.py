"""The participant registry (issue 16, item 1): the authority's signed list of live
participants, over NATS (asked like a stream grant) and HTTP (the announcement's
participantRegistryUrl); revoked participants disappear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from authority.cli import make_app
from connector.bus.connection import close_nats
from connector.bus.subjects import dsp_inbox
from tests.isolation.test_authority_nats import join
from trust.participant_registry import RegistryError, verify_registry


@pytest.fixture
async def two(authority, space_nats):
    made = [await join(authority, space_nats, "041009", "municipality"),
            await join(authority, space_nats, "7000012050002", "shelter_operator")]
    try:
        yield made
    finally:
        for party in made:
            await close_nats(party.nc, timeout=1)


async def test_registry_over_nats_lists_live_participants_signed(authority, two):
    city, shelter = two
    registry = await shelter.grants.participant_registry()
    assert registry.authority == authority.did
    by_did = {p.did: p for p in registry.participants}
    assert set(by_did) == {city.did, shelter.did}
    assert by_did[city.did].roles == ("municipality",)
    assert by_did[city.did].dsp_subject == dsp_inbox(city.did).removesuffix(".*")
    assert by_did[city.did].legal_identifier["value"] == "041009"


async def test_revoked_participant_disappears_everywhere(authority, space_nats, two):
    city, shelter = two
    authority.revoke(did=shelter.did, reason="left the data space")
    registry = await city.grants.participant_registry()
    assert [p.did for p in registry.participants] == [city.did]
    async with TestClient(TestServer(make_app(authority))) as client:
        resp = await client.get("/participants")
        assert resp.status == 200
        document = await resp.json()
    served = verify_registry(document, expected_authority=authority.did)
    assert [p.did for p in served.participants] == [city.did]
    assert "left the data space" not in str(document)


def test_registry_signature_authority_and_period_are_checked(authority):
    authority.issue(did="did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
                    name="仙台市", legal_id="041009", roles=["municipality"])
    document = authority.signed_registry()
    verify_registry(document, expected_authority=authority.did)
    tampered = {**document, "participants": [{**document["participants"][0],
                                              "roles": ["medical_institution"]}]}
    with pytest.raises(RegistryError):
        verify_registry(tampered, expected_authority=authority.did)
    with pytest.raises(RegistryError):
        verify_registry(document, expected_authority="did:key:z6MkOther")
    with pytest.raises(RegistryError):
        verify_registry(document, expected_authority=authority.did,
                        now=datetime.now(UTC) + timedelta(hours=1))
    with pytest.raises(RegistryError):
        verify_registry({"type": "Nope"}, expected_authority=authority.did)

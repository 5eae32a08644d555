"""Contributions (flow 6) between real connectors on a real nats-server: a city holds evacuee
records; shelter operators whose agreements grant ``modify`` on named fields revise them; a
hospital with a read agreement receives every new version through its transfer."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from connector.bus.messaging import RemoteError
from connector.control.audit import verify_chain
from connector.data.contributions import (
    ContributionConflict,
    ContributionError,
    ContributionService,
    version_iri,
)
from connector.protocol.dsp import messages as m
from connector.runtime.connector import Connector
from tests.connector.conftest import status_lists
from tests.e2e.conftest import (
    CITY_CODE,
    FOR_PURPOSE,
    OPERATOR_NUMBER,
    PURPOSE,
    Node,
    operator_participant,
    record_messages,
    tuning,
)
from trust import jsonld
from trust.keys import KeyPair
from trust.proofs import sign_document, verify_document

EVACUEES = "urn:tsunagu:test:dataset:evacuees"
EVACUEE_CONTEXT = "https://example.org/tsunagu-test/evacuee/v1"
CONTEXT = [jsonld.CREDENTIALS_V2, jsonld.TSUNAGU_V1, EVACUEE_CONTEXT]
RID = "urn:tsunagu:test:evacuee:1"
OPERATOR_B_NUMBER = "6700001205001"
HOSPITAL_NUMBER = "5800001205000"
_EV = "https://example.org/tsunagu-test/evacuee#"
_CONTEXT_DOC = {"@context": {
    "@version": 1.1, "@protected": True, "Evacuee": _EV + "Evacuee",
    "stayLocation": _EV + "stayLocation", "needs": _EV + "needs"}}
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "type", "name"],
    "properties": {"name": {"type": "string", "minLength": 1},
                   "stayLocation": {"type": "string", "minLength": 1},
                   "needs": {"type": "string"}},
}
SHELTER_ROLE = m.constraint("tsunagu:role", "eq", "shelter_operator")
READERS = m.constraint("tsunagu:role", "isAnyOf", ["shelter_operator", "medical_institution"])
# Operators may read, and modify exactly two fields, for disaster response.
MODIFY_OFFER = m.offer("urn:tsunagu:test:offer:checkin", permission=[
    m.rule("use", [SHELTER_ROLE, FOR_PURPOSE]),
    m.rule("odrl:modify", [SHELTER_ROLE, FOR_PURPOSE, m.constraint(
        "tsunagu:field", "isAnyOf", ["stayLocation", "needs"])])])
READ_OFFER = m.offer("urn:tsunagu:test:offer:read", permission=[
    m.rule("use", [READERS, FOR_PURPOSE])])


def evacuee(**fields: Any) -> dict[str, Any]:
    return {"@context": list(CONTEXT), "id": RID, "type": ["Record", "Evacuee"],
            "name": "山田 花子", "needs": "none", **fields}


@pytest.fixture
def evacuee_context(tmp_path: Path) -> jsonld.ContextRegistry:
    """The core contexts plus the test domain's, for each connector (as a plug-in's are)."""
    path = tmp_path / "evacuee-v1.jsonld"
    data = json.dumps(_CONTEXT_DOC).encode()
    path.write_bytes(data)
    contexts = jsonld.ContextRegistry.core()
    contexts.register(EVACUEE_CONTEXT, path, hashlib.sha256(data).hexdigest())
    return contexts


@pytest.fixture
async def space(tmp_path, authority, e2e_nats, evacuee_context
                ) -> AsyncIterator[dict[str, Node]]:
    """Holder (仙台市), operators A and B, and a hospital, all with ContributionService."""
    nodes: dict[str, Node] = {}
    for key, name, legal_id, role in (
            ("holder", "仙台市", CITY_CODE, "municipality"),
            ("a", "避難所運営A", OPERATOR_NUMBER, "shelter_operator"),
            ("b", "避難所運営B", OPERATOR_B_NUMBER, "shelter_operator"),
            ("hospital", "病院", HOSPITAL_NUMBER, "medical_institution")):
        config = await operator_participant(tmp_path, authority, e2e_nats, name=name,
                                            legal_id=legal_id, role=role)
        connector = Connector(config, tuning=tuning(), status_lists=status_lists(authority),
                              contexts=evacuee_context)
        await connector.start()
        nodes[key] = Node(connector, connector.datasets, connector.records, config)
        record_messages(nodes[key])
    holder = nodes["holder"]
    await holder.datasets.offer_dataset(EVACUEES, "避難者名簿", [MODIFY_OFFER, READ_OFFER],
                                        SCHEMA)
    await holder.records.publish(EVACUEES, evacuee())
    yield nodes
    for node in nodes.values():
        if not node.connector.nc.is_closed:
            await node.connector.stop()


async def agree(node: Node, holder: Node, offer: dict[str, Any], *, transfer: bool = False
                ) -> str:
    started = await node.connector.negotiations.start(holder.did, EVACUEES, offer["@id"],
                                                      purpose=PURPOSE)
    done = await node.connector.negotiations.wait(started["pid"])
    assert done["state"] == "FINALIZED", done
    if transfer:
        t = await node.connector.transfers.start(done["agreementId"])
        await node.connector.transfers.wait(t["pid"], "STARTED")
    return done["agreementId"]


async def held(node: Node, version: int, timeout: float = 10.0) -> dict[str, Any] | None:
    """The held copy of RID at ``version``, once its transfer delivered it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = node.connector.store.query(
            "SELECT body FROM held_records WHERE id = ? AND version = ?", (RID, version))
        if rows:
            return json.loads(rows[0][0])
        await asyncio.sleep(0.05)
    return None


def contributions(node: Node) -> ContributionService:
    return node.connector.contributions  # type: ignore[attr-defined]


async def refused(coro: Any, code: str) -> ContributionError:
    with pytest.raises(ContributionError) as caught:
        await coro
    assert caught.value.code == code, caught.value
    return caught.value


def unchanged(holder: Node) -> None:
    """Nothing was written: still version 1, one version row, no stored contribution."""
    assert holder.records.get(RID)["version"] == 1
    assert len(holder.records.versions(RID)) == 1
    assert holder.count("SELECT count(*) FROM contributions") == 0


async def test_operator_sets_stay_location_and_every_subscriber_gets_it(space):
    holder, a, hospital = space["holder"], space["a"], space["hospital"]
    agreement = await agree(a, holder, MODIFY_OFFER, transfer=True)
    await agree(hospital, holder, READ_OFFER, transfer=True)
    assert await held(hospital, 1) is not None

    result = await contributions(a).contribute(holder.did, agreement, RID, 1,
                                               {"stayLocation": "片平小学校 体育館"}, PURPOSE)
    assert result["version"] == 2 and result["previousVersion"] == 1

    current = holder.records.get(RID)
    assert current["version"] == 2 and current["stayLocation"] == "片平小学校 体育館"
    assert current["name"] == "山田 花子" and current["needs"] == "none"  # the rest kept
    assert current["wasAttributedTo"] == a.did
    assert current["wasDerivedFrom"] == version_iri(RID, 1) == f"{RID}#v1"
    verify_document(current, expected_controller=holder.did)  # the holder vouches for it
    jsonld.check_no_dropped_terms({k: v for k, v in current.items() if k != "proof"},
                                  holder.connector.contexts)

    for subscriber in (hospital, a):
        got = await held(subscriber, 2)
        assert got == current, subscriber.connector.config.participant.name

    kept = holder.connector.store.query("SELECT body, contributor, version FROM contributions")
    change = json.loads(kept[0][0])
    assert (kept[0][1], kept[0][2]) == (a.did, 2) and change["changes"] == {
        "stayLocation": "片平小学校 体育館"}
    verify_document(change, expected_controller=a.did)  # evidence of who asked for what
    entry = holder.connector.audit.entries("contribution")[-1]
    assert (entry["decision"], entry["by"], entry["version"], entry["fields"]) == (
        "permit", a.did, 2, ["stayLocation"])
    sent = a.connector.audit.entries("contribution_sent")
    assert [(e["decision"], e["version"]) for e in sent] == [("accepted", 2)]
    for node in (holder, a):
        assert verify_chain(node.connector.audit.lines()).ok


async def test_a_field_outside_the_scope_refuses_the_whole_change(space):
    holder, a = space["holder"], space["a"]
    agreement = await agree(a, holder, MODIFY_OFFER)
    error = await refused(contributions(a).contribute(
        holder.did, agreement, RID, 1, {"stayLocation": "体育館", "name": "別人"}, PURPOSE),
        "contribution.field_not_allowed")
    assert error.details["field"] == "name" and "'name'" in error.message
    for reserved in ({"wasAttributedTo": holder.did}, {"version": 7}, {"id": "urn:x:y"},
                     {"@type": "Other"}):
        error = await refused(contributions(a).contribute(holder.did, agreement, RID, 1,
                                                          reserved, PURPOSE),
                              "contribution.field_not_allowed")
        assert error.details["field"] == next(iter(reserved))
    unchanged(holder)
    denials = holder.connector.audit.entries("contribution")
    assert [(d["decision"], d["code"]) for d in denials] == [
        ("deny", "contribution.field_not_allowed")] * 5
    assert denials[0]["fields"] == ["name", "stayLocation"]


async def test_without_agreement_wrong_purpose_or_read_only_agreement_refused(space):
    holder, a, hospital = space["holder"], space["a"], space["hospital"]
    agreement = await agree(a, holder, MODIFY_OFFER)
    await refused(contributions(a).contribute(holder.did, "urn:uuid:no-such-agreement", RID, 1,
                                              {"stayLocation": "体育館"}, PURPOSE),
                  "contribution.unknown_agreement")
    error = await refused(contributions(a).contribute(holder.did, agreement, RID, 1,
                                                      {"stayLocation": "体育館"}, "research"),
                          "contribution.denied")
    assert "purpose" in error.message
    # Someone else's agreement is not yours to use.
    await refused(contributions(hospital).contribute(holder.did, agreement, RID, 1,
                                                     {"stayLocation": "体育館"}, PURPOSE),
                  "contribution.not_assignee")
    # A read agreement: ODRL's use includes modify, but only field-scoped grants count.
    read_only = await agree(hospital, holder, READ_OFFER)
    await refused(contributions(hospital).contribute(holder.did, read_only, RID, 1,
                                                     {"stayLocation": "体育館"}, PURPOSE),
                  "contribution.not_granted")
    await refused(contributions(a).contribute(holder.did, agreement, "urn:tsunagu:test:x", 1,
                                              {"stayLocation": "体育館"}, PURPOSE),
                  "contribution.unknown_record")
    unchanged(holder)


async def test_terminated_agreement_refused(space):
    holder, a = space["holder"], space["a"]
    agreement = await agree(a, holder, MODIFY_OFFER)
    await holder.connector.agreements.terminate(agreement, "evacuation over")
    await refused(contributions(a).contribute(holder.did, agreement, RID, 1,
                                              {"stayLocation": "体育館"}, PURPOSE),
                  "contribution.agreement_inactive")
    unchanged(holder)


async def test_change_signed_by_another_key_or_altered_is_refused(space):
    holder, a = space["holder"], space["a"]
    agreement = await agree(a, holder, MODIFY_OFFER)
    service = contributions(a)
    change = service.sign_change(holder.did, agreement, RID, 1, {"stayLocation": "体育館"},
                                 PURPOSE)
    other = sign_document(change, KeyPair.generate())  # same content, a stranger's proof
    error = await refused(service.send(holder.did, other), "contribution.bad_signature")
    assert error.details["cause"] == "proof.wrong_signer"
    altered = {**change, "changes": {"stayLocation": "別の場所"}}
    error = await refused(service.send(holder.did, altered), "contribution.bad_signature")
    assert error.details["cause"] == "proof.bad_signature"
    # B's correctly signed change naming A as contributor, sent by B.
    b = space["b"]
    forged = sign_document({**change, "contributor": a.did}, b.connector.identity.key)
    await refused(contributions(b).send(holder.did, forged), "contribution.wrong_party")
    unchanged(holder)


async def test_invalid_record_refused_and_resend_is_idempotent(space):
    holder, a = space["holder"], space["a"]
    agreement = await agree(a, holder, MODIFY_OFFER)
    service = contributions(a)
    error = await refused(service.contribute(holder.did, agreement, RID, 1,
                                             {"stayLocation": 42}, PURPOSE),
                          "contribution.invalid_record")
    assert error.details["cause"] == "record.schema_invalid"
    unchanged(holder)
    change = service.sign_change(holder.did, agreement, RID, 1, {"needs": "wheelchair"},
                                 PURPOSE)
    first = await service.send(holder.did, change)
    again = await service.send(holder.did, change)  # the reply was "lost": sent again
    assert first == again and first["version"] == 2
    assert len(holder.records.versions(RID)) == 2


async def test_concurrent_changes_one_wins_the_other_retries_and_both_land(space):
    holder, a, b = space["holder"], space["a"], space["b"]
    agreement_a = await agree(a, holder, MODIFY_OFFER)
    agreement_b = await agree(b, holder, MODIFY_OFFER)
    outcomes = await asyncio.gather(
        contributions(a).contribute(holder.did, agreement_a, RID, 1,
                                    {"stayLocation": "片平小学校"}, PURPOSE),
        contributions(b).contribute(holder.did, agreement_b, RID, 1,
                                    {"needs": "insulin"}, PURPOSE),
        return_exceptions=True)
    wins = [o for o in outcomes if isinstance(o, dict)]
    losses = [o for o in outcomes if isinstance(o, ContributionConflict)]
    assert len(wins) == 1 and len(losses) == 1, outcomes
    assert wins[0]["version"] == 2
    assert losses[0].current_version == 2
    assert losses[0].changed_fields in (["stayLocation"], ["needs"])
    assert holder.records.get(RID)["version"] == 2

    # Both again on the stale base, now with the retry helper: the one that lost before
    # rebases onto the current version because its field was not touched meanwhile.
    a_lost = isinstance(outcomes[0], ContributionConflict)
    loser, agreement, changes = (a, agreement_a, {"stayLocation": "片平小学校"}) if a_lost \
        else (b, agreement_b, {"needs": "insulin"})
    result = await contributions(loser).contribute_with_retry(holder.did, agreement, RID, 1,
                                                              changes, PURPOSE)
    assert result["version"] == 3
    final = holder.records.get(RID)
    assert final["stayLocation"] == "片平小学校" and final["needs"] == "insulin"
    assert final["wasAttributedTo"] == loser.did and final["wasDerivedFrom"] == f"{RID}#v2"
    sent = loser.connector.audit.entries("contribution_sent")
    assert [e.get("code") or e["decision"] for e in sent] == [
        "contribution.conflict", "contribution.conflict", "accepted"]


async def test_concurrent_retries_both_land_and_same_field_is_never_overwritten(space):
    holder, a, b = space["holder"], space["a"], space["b"]
    agreement_a = await agree(a, holder, MODIFY_OFFER)
    agreement_b = await agree(b, holder, MODIFY_OFFER)
    done = await asyncio.gather(
        contributions(a).contribute_with_retry(holder.did, agreement_a, RID, 1,
                                               {"stayLocation": "片平小学校"}, PURPOSE),
        contributions(b).contribute_with_retry(holder.did, agreement_b, RID, 1,
                                               {"needs": "insulin"}, PURPOSE))
    assert sorted(r["version"] for r in done) == [2, 3]
    final = holder.records.get(RID)
    assert (final["version"], final["stayLocation"], final["needs"]) == (3, "片平小学校",
                                                                         "insulin")
    # Now B changes A's field on a stale base: no automatic retry, A's value stays.
    conflict = await refused(contributions(b).contribute_with_retry(
        holder.did, agreement_b, RID, 1, {"stayLocation": "体育館"}, PURPOSE),
        "contribution.conflict")
    assert isinstance(conflict, ContributionConflict)
    assert conflict.current_version == 3 and "stayLocation" in conflict.changed_fields
    assert holder.records.get(RID)["stayLocation"] == "片平小学校"
    # Having re-read version 3, B may change it deliberately.
    again = await contributions(b).contribute(holder.did, agreement_b, RID, 3,
                                              {"stayLocation": "体育館"}, PURPOSE)
    assert again["version"] == 4


async def test_unreachable_holder_is_a_remote_error(space):
    a, holder = space["a"], space["holder"]
    agreement = await agree(a, holder, MODIFY_OFFER)
    await holder.connector.stop()
    with pytest.raises(RemoteError) as caught:
        await contributions(a).contribute(holder.did, agreement, RID, 1,
                                          {"stayLocation": "体育館"}, PURPOSE, timeout=0.5)
    assert caught.value.code == "remote.unreachable"
    assert a.connector.audit.entries("contribution_sent")[-1]["code"] == "remote.unreachable"


async def test_a_write_between_check_and_commit_is_a_conflict_not_a_loss(space, monkeypatch):
    """The holder's own app publishes after the contribution was checked but before it is
    stored: the version check inside the store step turns it into a conflict."""
    holder, a = space["holder"], space["a"]
    agreement = await agree(a, holder, MODIFY_OFFER)
    real = holder.records.publish

    async def interleaved(dataset_id: str, record: dict[str, Any], **options: Any
                          ) -> dict[str, Any]:
        if options.get("expected_version"):  # the contribution's write: the app gets there first
            monkeypatch.setattr(holder.records, "publish", real)
            await real(EVACUEES, evacuee(needs="dialysis"))
        return await real(dataset_id, record, **options)

    monkeypatch.setattr(holder.records, "publish", interleaved)
    conflict = await refused(contributions(a).contribute(
        holder.did, agreement, RID, 1, {"stayLocation": "体育館"}, PURPOSE),
        "contribution.conflict")
    assert isinstance(conflict, ContributionConflict)
    assert (conflict.current_version, conflict.changed_fields) == (2, ["needs"])
    current = holder.records.get(RID)
    assert (current["version"], current["needs"]) == (2, "dialysis")
    assert "stayLocation" not in current and "wasAttributedTo" not in current
    assert holder.count("SELECT count(*) FROM contributions") == 0
    # Disjoint fields: the retry helper lands it on version 2, the app's value kept.
    monkeypatch.setattr(holder.records, "publish", interleaved)
    done = await contributions(a).contribute_with_retry(holder.did, agreement, RID, 2,
                                                        {"stayLocation": "体育館"}, PURPOSE)
    final = holder.records.get(RID)
    assert done["version"] == final["version"] == 4
    assert (final["needs"], final["stayLocation"]) == ("dialysis", "体育館")


async def test_world_facts_of_the_holder_decide_a_contribution(space):
    """A modify grant limited to the response phase: the holder's declared phase decides."""
    holder, a = space["holder"], space["a"]
    in_response = m.offer("urn:tsunagu:test:offer:response-only", permission=[
        m.rule("use", [SHELTER_ROLE, FOR_PURPOSE]),
        m.rule("odrl:modify", [SHELTER_ROLE, m.constraint("tsunagu:field", "isAnyOf",
                                                          ["stayLocation"]),
                               m.constraint("tsunagu:disasterPhase", "eq", "response")])])
    await holder.datasets.offer_dataset(EVACUEES, "避難者名簿", [in_response], SCHEMA)
    agreement = await agree(a, holder, in_response)
    error = await refused(contributions(a).contribute(holder.did, agreement, RID, 1,
                                                      {"stayLocation": "体育館"}, PURPOSE),
                          "contribution.denied")
    assert "disasterPhase" in error.message
    unchanged(holder)
    holder.connector.facts.set("disasterPhase", "response")
    done = await contributions(a).contribute(holder.did, agreement, RID, 1,
                                             {"stayLocation": "体育館"}, PURPOSE)
    assert done["version"] == 2


NEW_RID = "urn:tsunagu:test:evacuee:2"


async def test_a_contributor_creates_a_record_the_holder_then_holds(space):
    """baseVersion 0: a new record in the agreement's dataset, signed by the holder,
    attributed to the contributor, its fields scoped like any change."""
    holder, a = space["holder"], space["a"]
    agreement = await agree(a, holder, MODIFY_OFFER)
    new = {"@context": list(CONTEXT), "type": ["Record", "Evacuee"],
           "stayLocation": "片平小学校", "needs": "酸素"}
    # Without its identity, with a field outside the scope, or with another id: refused.
    await refused(contributions(a).contribute(holder.did, agreement, NEW_RID, 0,
                                              {"needs": "酸素"}, PURPOSE),
                  "contribution.invalid")
    error = await refused(contributions(a).contribute(
        holder.did, agreement, NEW_RID, 0, {**new, "name": "別人"}, PURPOSE),
        "contribution.field_not_allowed")
    assert error.details["field"] == "name"
    await refused(contributions(a).contribute(holder.did, agreement, NEW_RID, 0,
                                              {**new, "id": RID}, PURPOSE),
                  "contribution.invalid")
    assert holder.records.get(NEW_RID) is None
    # The holder's schema still applies (it requires name, which this scope cannot give).
    error = await refused(contributions(a).contribute(holder.did, agreement, NEW_RID, 0,
                                                      new, PURPOSE),
                          "contribution.invalid_record")
    assert holder.records.get(NEW_RID) is None
    # An existing record cannot be created again: a conflict naming its version.
    error = await refused(contributions(a).contribute(
        holder.did, agreement, RID, 0, {**new, "stayLocation": "x"}, PURPOSE),
        "contribution.conflict")
    assert error.details["currentVersion"] == 1


async def test_a_created_record_is_signed_by_the_holder_and_attributed(space, tmp_path):
    holder, a = space["holder"], space["a"]
    await holder.datasets.offer_dataset(EVACUEES, "避難者名簿", [
        MODIFY_OFFER, READ_OFFER], {**SCHEMA, "required": ["id", "type"]})
    agreement = await agree(a, holder, MODIFY_OFFER)
    new = {"@context": list(CONTEXT), "type": ["Record", "Evacuee"],
           "stayLocation": "片平小学校", "needs": "酸素"}
    result = await contributions(a).contribute(holder.did, agreement, NEW_RID, 0, new,
                                               PURPOSE)
    assert (result["version"], result["previousVersion"]) == (1, 0)
    made = holder.records.get(NEW_RID)
    assert made["wasAttributedTo"] == a.did and "wasDerivedFrom" not in made
    assert made["stayLocation"] == "片平小学校" and made["id"] == NEW_RID
    verify_document(made, expected_controller=holder.did)
    # A resend of the same signed change after a lost reply gets the same answer.
    kept = holder.connector.store.query("SELECT body FROM contributions")
    again = await contributions(a).send(holder.did, json.loads(kept[0][0]))
    assert again == result and len(holder.records.versions(NEW_RID)) == 1


WRITE_OFFER = m.offer("urn:tsunagu:test:offer:write-only", permission=[
    m.rule("odrl:modify", [SHELTER_ROLE, FOR_PURPOSE, m.constraint(
        "tsunagu:field", "isAnyOf", ["stayLocation"])])])


async def test_a_write_only_offer_is_agreed_on_modify_and_streams_nothing(space):
    """An offer granting only field-scoped changes: negotiated on what it grants, the
    contribution lands, and a transfer under it is refused (no reading was agreed)."""
    holder, a = space["holder"], space["a"]
    await holder.datasets.offer_dataset(EVACUEES, "避難者名簿", [
        MODIFY_OFFER, READ_OFFER, WRITE_OFFER], SCHEMA)
    agreement = await agree(a, holder, WRITE_OFFER)
    result = await contributions(a).contribute(holder.did, agreement, RID, 1,
                                               {"stayLocation": "体育館"}, PURPOSE)
    assert result["version"] == 2
    started = await a.connector.transfers.start(agreement)
    ended = await a.connector.transfers.wait(started["pid"], "STARTED", "TERMINATED")
    assert (ended["state"], ended["code"]) == ("TERMINATED", "transfer.write_only")
    assert await held(a, 1, timeout=0.5) is None and await held(a, 2, timeout=0.5) is None

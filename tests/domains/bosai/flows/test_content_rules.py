"""A My Number in a bosai record's free text is refused by the sending connector and by every
receiving one, before anything of the record is stored (issue 10, item 1).

The path that used to let one through: a shelter operator's app publishes an Evacuee
reception record with the generic record API (not the registry's own inputs, which always
refused it), the city receives it under its agreement, and only the registry part was rolled
back: the body stayed in the operator's ``record_versions`` and the city's ``held_records``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from urllib.parse import quote

import aiohttp
import orjson
import pytest

from connector.data.content_rules import ContentRules
from domains.bosai import vocab
from domains.japanese.mynumber import check_digit
from tests.domains.bosai.flows.support import CHIYODA, OPERATOR_NUMBER, BosaiNode
from tests.privacy import found_in_files, found_in_text, store_files

FIRST11 = "27182818284"
MY_NUMBER = FIRST11 + str(check_digit(FIRST11))
GROUPED = f"{MY_NUMBER[:4]}-{MY_NUMBER[4:8]}-{MY_NUMBER[8:]}"


def evacuee(address: str, **extra: object) -> dict[str, object]:
    return {"@context": list(vocab.RECORD_CONTEXT), "id": f"urn:uuid:{uuid.uuid4()}",
            "type": "Evacuee", "familyName": "試験", "givenName": "花子",
            "birthDate": "1970-01-02", "sex": "female", "address": address,
            "consentToDisclose": False, **extra}


@pytest.fixture
async def space(start_bosai) -> dict[str, BosaiNode]:
    city = await start_bosai(name="千代田区", legal_id=CHIYODA.code, role="municipality")
    await city.hub.setup_municipality(CHIYODA, operators=[OPERATOR_NUMBER])
    operator = await start_bosai(name="避難所運営", legal_id=OPERATOR_NUMBER,
                                 role="shelter_operator")
    await operator.hub.setup_shelter_operator([CHIYODA.code])
    done = await city.agree(operator, operator.hub.reception_dataset)
    assert done["state"] == "FINALIZED", done
    return {"city": city, "operator": operator}


async def publish(node: BosaiNode, dataset: str, record: dict[str, object]
                  ) -> tuple[int, dict[str, object]]:
    """The generic record API of the node's own connector, as an app with records:write."""
    headers = {"Authorization": f"Bearer {node.token('records:write')}",
               "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http, http.post(
            f"{node.api.origin}/api/v1/datasets/{quote(dataset, safe='')}/records",
            data=orjson.dumps(record), headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def dead_letters(node: BosaiNode, timeout: float = 15.0) -> list[tuple[str, str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = node.connector.store.query("SELECT code, reason FROM dead_letters")
        if rows:
            return [(code, reason) for code, reason in rows]
        await asyncio.sleep(0.05)
    return []


@pytest.mark.parametrize("written", [MY_NUMBER, GROUPED,
                                     "".join(chr(ord(c) + 0xFEE0) for c in MY_NUMBER)])
async def test_the_sending_connector_refuses_a_my_number_in_free_text(space, caplog, written):
    caplog.set_level(logging.DEBUG)
    operator = space["operator"]
    record = evacuee(f"東京都千代田区九段南1-2-1 {written}")
    status, body = await publish(operator, operator.hub.reception_dataset, record)
    assert status == 422, body
    assert body["code"] == "personal_number.refused" and body["field"] == "$.address"
    assert not found_in_text(orjson.dumps(body).decode(), [MY_NUMBER, written])
    assert operator.connector.store.query(
        "SELECT count(*) FROM record_versions WHERE id = ?", (record["id"],))[0][0] == 0
    assert not found_in_files(store_files(operator.connector.config.store_path),
                              [MY_NUMBER, written])
    assert not found_in_text(caplog.text, [MY_NUMBER, written])


async def test_a_my_number_in_a_list_of_needs_is_refused_with_its_path(space):
    city = space["city"]
    dataset = city.hub.setup.dataset("shelter-status")
    record = {"@context": list(vocab.RECORD_CONTEXT), "id": "urn:tsunagu:test:status:1",
              "type": "ShelterStatus", "shelterId": "131016-0001", "name": "九段小学校",
              "shelterType": ["designated_shelter"], "open": True,
              "needs": ["毛布", f"連絡先 {GROUPED}"]}
    status, body = await publish(city, dataset, record)
    assert (status, body["code"], body["field"]) == (422, "personal_number.refused",
                                                     "$.needs[1]")


async def test_identifiers_that_happen_to_hold_twelve_digits_are_not_free_text(space):
    """A urn:uuid's last group can be 12 digits with a valid check digit; so can a shelter
    id. The schema says they are identifiers, so neither is refused."""
    operator = space["operator"]
    record = evacuee("東京都千代田区九段南1-2-1",
                     stayLocation={"stayType": "shelter", "shelterId": MY_NUMBER})
    record["id"] = f"urn:uuid:3f1e2d4c-0000-4000-8000-{MY_NUMBER}"
    status, body = await publish(operator, operator.hub.reception_dataset, record)
    assert status == 201, body


async def test_a_receiver_refuses_a_record_whose_sender_did_not_check_it(space, caplog):
    """A sender without the rule (an older connector, one without the bosai plug-in) gets a
    My Number through; the city dead-letters the record, keeps nothing of it, and tells the
    sender which field it refused."""
    caplog.set_level(logging.DEBUG)
    city, operator = space["city"], space["operator"]
    operator.connector.content_rules = ContentRules()  # this sender checks nothing
    record = evacuee(f"東京都千代田区九段南1-2-1 {GROUPED}")
    status, body = await publish(operator, operator.hub.reception_dataset, record)
    assert status == 201, body

    letters = await dead_letters(city)
    assert [code for code, _ in letters] == ["personal_number.refused"]
    assert "$.address" in letters[0][1] and not found_in_text(letters[0][1], [MY_NUMBER])
    store = city.connector.store
    for table in ("held_records", "deliveries"):
        assert store.query(f"SELECT count(*) FROM {table} WHERE "
                           f"{'id' if table == 'held_records' else 'record_id'} = ?",
                           (record["id"],))[0][0] == 0, table
    assert city.hub.registry.count() == 0
    store.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    assert not found_in_files(store_files(city.connector.config.store_path),
                              [MY_NUMBER, GROUPED])

    deadline = time.monotonic() + 10
    told: list[tuple[object, ...]] = []
    while not told and time.monotonic() < deadline:
        told = operator.connector.store.query(
            "SELECT record_id, version, consumer, code, field FROM record_refusals")
        await asyncio.sleep(0.05)
    assert [tuple(r) for r in told] == [(record["id"], 1, city.did, "personal_number.refused",
                                         "$.address")]
    async with aiohttp.ClientSession() as http, http.get(
            f"{operator.api.origin}/api/v1/records/{quote(record['id'], safe='')}/refusals",
            headers={"Authorization": f"Bearer {operator.token('records:read')}"}) as resp:
        listed = await resp.json()
    assert [(i["consumer"], i["code"], i["field"]) for i in listed["items"]] == [
        (city.did, "personal_number.refused", "$.address")]
    assert not found_in_text(caplog.text, [MY_NUMBER, GROUPED])

"""Reading what a shelter operator received from the city, through the usage gate: an app
limited to some people (a family's app) sees only their records; the hub's own reads (the
reception desk's finder) are decided and audited like an app's."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from domains.bosai.setup import EVACUEE
from tests.domains.bosai.dashboard_support import person
from tests.domains.bosai.flows.support import CHIYODA, OPERATOR_NUMBER, PURPOSE, BosaiNode


@pytest.fixture
async def space(start_bosai) -> dict[str, Any]:
    city = await start_bosai(name="千代田区", legal_id=CHIYODA.code, role="municipality")
    await city.hub.setup_municipality(CHIYODA, operators=[OPERATOR_NUMBER])
    operator = await start_bosai(name="避難所運営", legal_id=OPERATOR_NUMBER,
                                 role="shelter_operator")
    done = await operator.agree(city, city.hub.setup.dataset(EVACUEE))
    assert done["state"] == "FINALIZED", done
    people = [await city.hub.register(person(f, g, k, b), source="reception:form")
              for f, g, k, b in (("試験", "一子", ("シケン", "イチコ"), "1950-04-01"),
                                 ("試験", "二子", ("シケン", "ニコ"), "1951-05-02"),
                                 ("見本", "三郎", ("ミホン", "サブロウ"), "1952-06-03"))]
    for registered in people:
        assert await operator.held(registered.person_id) is not None
    return {"city": city, "operator": operator, "ids": [p.person_id for p in people]}


async def get(node: BosaiNode, path: str, token: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(
            node.api.origin + path, headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_an_app_limited_to_some_people_sees_only_their_records(space):
    operator, ids = space["operator"], space["ids"]
    from connector.api.tokens import TokenStore

    family = TokenStore(operator.connector.store).issue(
        ["records:read"], subjects=[ids[0]]).token
    everyone = operator.token("records:read")
    status, page = await get(operator, f"/api/v1/held?purpose={PURPOSE}", family)
    assert status == 200 and [i["id"] for i in page["items"]] == [ids[0]]
    status, page = await get(operator, f"/api/v1/held?purpose={PURPOSE}", everyone)
    assert sorted(i["id"] for i in page["items"]) == sorted(ids)
    status, body = await get(operator, f"/api/v1/held/{quote(ids[1], safe='')}"
                                       f"?purpose={PURPOSE}", family)
    assert (status, body["code"]) == (403, "usage.out_of_scope") and "record" not in body
    scoped = [e for e in operator.connector.audit.entries("use") if e.get("scoped")]
    assert [(e["decision"], e["records"]) for e in scoped] == [("permit", 1), ("deny", 0)]


async def test_the_reception_desk_reads_through_the_gate(space):
    operator = space["operator"]
    found = operator.hub.find_held("試験二子", "1951-05-02")
    assert [p["givenName"] for p in found] == ["二子"]
    uses = [e for e in operator.connector.audit.entries("use")
            if e["reader"] == "domain:bosai" and e["purpose"] == "shelter_operation"]
    assert uses and uses[-1]["decision"] == "permit" and uses[-1]["records"] >= 1

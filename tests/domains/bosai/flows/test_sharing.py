"""A resident of another municipality checks in at a host's shelter: the host registers them
and shares them with the home municipality under a policy only that municipality meets;
the home's registry learns who is safe and where, and follows their check-ins. Three real
connectors (host, home, shelter operator), plus one that must not get the share."""

from __future__ import annotations

import pytest

from domains.bosai.api import CHECKIN
from domains.bosai.publishing import share_id
from domains.bosai.setup import EVACUEE
from tests.domains.bosai.dashboard_support import SITES, load_sites, load_status, person
from tests.domains.bosai.flows.support import CHIYODA, OPERATOR_NUMBER, SENDAI, BosaiNode

SENDAI_RESIDENT = person("伊達", "政子", ("ダテ", "マサコ"), "1960-08-15",
                         address="宮城県仙台市青葉区国分町3-7-1")
LOCAL = person("山田", "花子", ("ヤマダ", "ハナコ"), "1950-04-01")
HOST_WAIT = 25.0  # the host's grant on the operator stalls pulls from the host (~10 s)


@pytest.fixture
async def space(start_bosai, tmp_path) -> dict[str, BosaiNode]:
    host = await start_bosai(name="千代田区", legal_id=CHIYODA.code, role="municipality")
    await host.hub.setup_municipality(CHIYODA, operators=[OPERATOR_NUMBER], partners=[SENDAI])
    load_sites(host.hub, tmp_path, SITES)
    load_status(host.hub, tmp_path, [
        {"shelter_id": SITES[0].id, "open": "開設", "timestamp": "2024/4/30 6:00"}])
    home = await start_bosai(name="仙台市", legal_id=SENDAI.code, role="municipality")
    await home.hub.setup_municipality(SENDAI)
    operator = await start_bosai(name="避難所運営", legal_id=OPERATOR_NUMBER,
                                 role="shelter_operator")
    done = await operator.agree(host, host.hub.setup.dataset(EVACUEE))
    assert done["state"] == "FINALIZED", done
    done = await home.agree(host, host.hub.setup.share_dataset(SENDAI))
    assert done["state"] == "FINALIZED", done
    return {"host": host, "home": home, "operator": operator}


async def test_the_home_municipality_learns_of_its_resident_and_follows_the_check_in(space):
    host, home, operator = space["host"], space["home"], space["operator"]
    local = await host.hub.register(LOCAL, source="reception:form")
    guest = await host.hub.register(SENDAI_RESIDENT, source="reception:form")
    shared = host.records(host.hub.setup.share_dataset(SENDAI))
    assert [r["id"] for r in shared] == [share_id(guest.person_id, SENDAI)]  # only hers

    assert await home.held(share_id(guest.person_id, SENDAI)) is not None
    (resident,) = home.hub.registry.store.query("SELECT id FROM bosai_persons")
    person = home.hub.registry.get_person(resident[0], with_sources=True)
    assert person.family_name == "伊達"
    assert person.sources[0].source.startswith(f"shared:{host.did}#")
    # The home publishes her in its own registry's records too (its own ids).
    assert [r["familyName"] for r in home.records(home.hub.setup.dataset(EVACUEE))] == ["伊達"]
    assert local.person_id not in {r["id"] for r in shared}

    assert await operator.held(guest.person_id, timeout=HOST_WAIT) is not None
    status, body = await operator.post("checkins", {
        "record": guest.person_id, "action": "check_in", "shelterId": SITES[0].id}, CHECKIN)
    assert status == 200, body
    copy = await home.held(share_id(guest.person_id, SENDAI), 2, timeout=HOST_WAIT)
    assert copy["stayLocation"]["shelterId"] == SITES[0].id
    stay = home.hub.registry.get_person(resident[0]).stay
    assert (stay.stay_type, stay.shelter_id) == ("shelter", SITES[0].id)
    assert home.hub.registry.count() == 1  # the same person, updated: never a second one


async def test_no_one_else_may_agree_to_the_share(space, start_bosai):
    host = space["host"]
    dataset = host.hub.setup.share_dataset(SENDAI)
    assert (await space["operator"].agree(host, dataset))["state"] == "TERMINATED"
    other = await start_bosai(name="神戸市", legal_id="281000", role="municipality")
    assert (await other.agree(host, dataset))["state"] == "TERMINATED"


async def test_an_operator_registers_a_walk_in_at_the_host_and_the_home_learns_of_it(
        space):
    host, home, operator = space["host"], space["home"], space["operator"]
    await operator.hub.setup_shelter_operator([CHIYODA.code])
    done = await host.agree(operator, operator.hub.reception_dataset)
    assert done["state"] == "FINALIZED", done
    status, body = await operator.post("receptions", {
        "person": SENDAI_RESIDENT, "shelterId": SITES[0].id}, CHECKIN)
    assert status == 201, body
    assert await host.held(body["record"], timeout=HOST_WAIT) is not None
    (row,) = host.hub.registry.store.query("SELECT id FROM bosai_persons")
    guest = host.hub.registry.get_person(row[0], with_sources=True)
    assert guest.sources[0].source.startswith(f"reception:{operator.did}#")
    assert (guest.stay.shelter_id, guest.stay_updated_by) == (SITES[0].id, operator.did)
    # ... and, living in 仙台市, she is shared with it.
    assert await home.held(share_id(guest.id, SENDAI), timeout=HOST_WAIT) is not None
    assert home.hub.registry.get_person(
        home.hub.registry.store.query("SELECT id FROM bosai_persons")[0][0]
    ).stay.shelter_id == SITES[0].id

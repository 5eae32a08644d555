"""Issue 14 item 7, once-only across domains: the municipality's shelter view (bosai) shows
that an evacuee is pregnant or has an infant, from the health department's pmh records,
only while the disaster phase is response, and nothing else of the medical record. Real
connectors on the data space's operator-mode nats-server: the health department (pmh) and
the disaster office (bosai), the same municipality's legal id, two participants."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import date

import pytest

from domains.bosai import care_flags
from domains.bosai.dashboard.auth import DASHBOARD, PERSON_SEARCH
from domains.bosai.registry.errors import MyNumberRefused
from domains.pmh.hub.care_flags import flag_id
from domains.pmh.hub.setup import CARE
from tests.domains.bosai.dashboard_support import SITES, load_sites, load_status, person
from tests.domains.bosai.flows.support import CHIYODA as BOSAI_CHIYODA
from tests.domains.pmh import family
from tests.domains.pmh.flows.support import municipality

MOTHER_FORM = {**person("山田", "花子", ("ヤマダ", "ハナコ"), "1994-04-01",
                        address="東京都千代田区一番町1-1", stay="shelter", shelter=SITES[0].id)}
# The child's form as a shelter writes it: hiragana kana, the prefecture left out.
CHILD_FORM = {**person("山田", "さくら", ("やまだ", "さくら"), "2026-08-03",
                       address="千代田区一番町1－1", stay="shelter", shelter=SITES[0].id)}
# Same name and birth date as the mother, another address: not the same person.
NAMESAKE = {**person("山田", "花子", ("ヤマダ", "ハナコ"), "1994-04-01",
                     address="東京都千代田区九段南2-2-2", stay="shelter", shelter=SITES[0].id)}
FLAG_FIELDS = {"@context", "id", "type", "version", "modified", "proof", "familyName",
               "givenName", "familyNameKana", "givenNameKana", "birthDate", "sex", "address",
               "asOf"}


def shown(page: str) -> str:
    import html

    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def flags_in(view: str) -> list[str]:
    """What a person reads of the care flags: counts on the shelter page (妊娠中 N, 乳児 N),
    each person's in the search results (妊娠N週, 乳児(Nか月))."""
    return re.findall(r"妊娠\d+週|乳児\(\d+か月\)|妊娠中 \d+|乳児 \d+", view)


async def shelter_view(office) -> str:
    """The shelter's page and the staff's search for 山田, as staff read them."""
    async with office.api.client() as http:
        await office.api.login(http, DASHBOARD, PERSON_SEARCH)
        async with http.get(f"{office.api.url}shelters/{SITES[0].id}") as resp:
            assert resp.status == 200
            page = shown(await resp.text())
        async with http.post(f"{office.api.url}search", data={"q": "山田"},
                             headers={"Origin": office.api.origin}) as resp:
            assert resp.status == 200
            return page + " || " + shown(await resp.text())


async def until(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.fixture
async def space(start_pmh, start_bosai, tmp_path):
    health = await municipality(start_pmh)  # 千代田区's health department, holding the family
    office = await start_bosai(name="千代田区防災", legal_id=BOSAI_CHIYODA.code,
                               role="municipality", phase="mitigation")
    await office.hub.setup_municipality(BOSAI_CHIYODA)
    load_sites(office.hub, tmp_path, SITES)
    load_status(office.hub, tmp_path, [
        {"shelter_id": SITES[0].id, "open": "開設", "timestamp": "2026/9/1 6:00"}])
    return health, office


async def test_the_shelter_view_shows_pregnancy_and_infants_only_while_the_phase_holds(space):
    health, office = space
    mother = (await office.hub.register(MOTHER_FORM, source="reception:form")).person_id
    child = (await office.hub.register(CHILD_FORM, source="reception:form")).person_id
    namesake = (await office.hub.register(NAMESAKE, source="reception:form")).person_id
    assert len({mother, child, namesake}) == 3

    flag = await health.hub.flag_pregnancy(family.MOTHER, date(2026, 8, 7), date(2026, 6, 1))
    assert flag["pregnancyWeeks"] == 30  # 280 - 67 days = 213 days: 30 weeks 3 days
    infant = await health.hub.flag_infant(family.CHILD, family.MOTHER, date(2026, 10, 5))
    assert infant["infantAgeMonths"] == 2  # born 8/3: 2 months reached on 10/2
    dataset = health.hub.municipality.dataset(CARE)

    # Before: normal times, at both (the municipality's word: each connector decides with
    # its own facts). The health department does not even agree: nothing flows.
    health.connector.facts.set("disasterPhase", "mitigation")
    refused = await office.agree(health, dataset)
    assert (refused["state"], refused["code"]) == ("TERMINATED", "negotiation.policy_denied")
    assert "disasterPhase" in str(refused["reason"])
    assert await office.held(flag_id(family.MOTHER), timeout=0.5) is None
    view = await shelter_view(office)
    assert flags_in(view) == []

    # During: the municipality declares the response phase.
    for node in (health, office):
        node.connector.facts.set("disasterPhase", "response")
    done = await office.agree(health, dataset)
    assert done["state"] == "FINALIZED", str(done)
    held = await office.held(flag_id(family.MOTHER))
    assert held is not None and await office.held(flag_id(family.CHILD)) is not None
    # Exactly the 4 items, the need and its date: no other field of the medical record.
    assert set(held) == FLAG_FIELDS | {"pregnancyWeeks"}
    await until(lambda: len(list(care_flags.all_flags(office.hub.registry))) == 2)
    assert sorted(care_flags.all_flags(office.hub.registry)) == sorted(
        [(mother, "pregnancy", 30), (child, "infant", 2)])  # never the namesake
    view = await shelter_view(office)
    page, search = view.split(" || ")
    assert flags_in(page) == ["妊娠中 1", "乳児 1"]  # counts: the shelter page names nobody
    assert search.count("山田 花子 ヤマダ ハナコ 1994-04-01") == 2  # she and the namesake
    # One flag each for her and her child (the table above: hers, not the namesake's).
    assert sorted(flags_in(search)) == ["乳児(2か月)", "妊娠30週"]
    # Drawing the pages reads through the gate; with nothing changed, open dashboards are
    # not told to redraw (they would draw, sync and redraw for ever).
    seq = office.hub.feed.seq
    await shelter_view(office)
    assert office.hub.feed.seq == seq
    # What bosai keeps: a person id, the kind and the number (no record, no medical field).
    columns = [r[1] for r in office.connector.store.query("PRAGMA table_info(bosai_care_flags)")]
    assert columns == ["record_id", "person_id", "kind", "value", "as_of", "provider"]
    assert office.hub.registry.medical(mother, by="test") is None

    # A new week arrives while the phase holds: the flag follows.
    await health.hub.flag_pregnancy(family.MOTHER, date(2026, 8, 7), date(2026, 6, 8))
    await until(lambda: (mother, "pregnancy", 31) in care_flags.all_flags(office.hub.registry))

    # After: recovery, declared at the disaster office. The gate denies; the cached flags
    # are gone, the view shows nothing.
    office.connector.facts.set("disasterPhase", "recovery")
    await until(lambda: list(care_flags.all_flags(office.hub.registry)) == [])
    view = await shelter_view(office)
    assert flags_in(view) == []
    # The held copy stays the gate's (purged by its agreement's duties), never shown.
    assert await office.held(flag_id(family.MOTHER)) is not None


def test_matching_refuses_a_my_number_and_uses_only_the_4_items(tmp_path):
    from domains.bosai.registry.registry import Registry

    registry = Registry.open(tmp_path / "registry.sqlite")
    try:
        good = {"familyName": "山田", "givenName": "花子", "birthDate": "1994-04-01",
                "sex": "female", "address": "東京都千代田区一番町1-1"}
        keys = care_flags.keys_of(good, registry)
        assert (keys.birth, keys.sex) == ("1994-04-01", "female")
        with pytest.raises(MyNumberRefused) as caught:
            care_flags.keys_of({**good, "address": "123456789018"}, registry)
        assert "123456789018" not in str(caught.value)
        # A My Number beside the 4 items is not read at all (only the 4 items are).
        care_flags.keys_of({**good, "myNumber": "123456789018"}, registry)
    finally:
        registry.close()

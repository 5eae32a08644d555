"""Development items (発達の確認) at an infant checkup, through real connectors: the clinic
records each item with the visit its age's voucher pays for; the municipality stores them,
refuses an item of another checkup age (at the clinic, by the model) or one sent with a
visit of another age (by the municipality's rule), and the family reads its child's answers."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from domains.pmh.hub import vouchers
from domains.pmh.hub.api import CLINIC, FAMILY
from tests.domains.pmh import family
from tests.domains.pmh.flows.support import (
    TOKYO_CLINIC,
    TOKYO_CLINIC_NUMBER,
    clinic,
    municipality,
)

THREE_MONTHS = "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-000000000034"
VISIT = {"subject": family.CHILD, "encounterKind": "infant_checkup", "start": "2026-11-20",
         "clinic": TOKYO_CLINIC, "voucher": THREE_MONTHS}


def answered(key: str, answer: str, age: str = "3_4m") -> dict:
    return {"measurement": "development_item", "checkupAge": age, "item": key,
            "answer": answer, "effective": "2026-11-20"}


@pytest.fixture
async def space(start_pmh):
    city = await municipality(start_pmh)
    await city.hub.register("checkup-vouchers", family.voucher(
        id=THREE_MONTHS, subject=family.CHILD, voucherKind="infant_checkup_3_4m", sequence=1,
        voucherNumber="131016-I3", validFrom="2026-11-03", validUntil="2027-01-31"))
    tokyo = await clinic(start_pmh, city, number=TOKYO_CLINIC_NUMBER, name="つなぐ小児科")
    return city, tokyo


async def record(tokyo, observations, visit=VISIT):
    return await tokyo.call("POST", "checkups", {
        "municipality": "131016", "encounter": visit, "observations": observations}, CLINIC)


async def test_development_answers_land_and_the_family_reads_them(space):
    city, tokyo = space
    status, body = await record(tokyo, [answered("head_control", "yes"),
                                        answered("follows_with_eyes", "no"),
                                        answered("eye_movement_concern", "unknown")])
    assert status == 201, body
    held = [city.hub.own(o) for o in body["observations"]]
    assert [(h["checkupAge"], h["item"], h["answer"]) for h in held] == [
        ("3_4m", "head_control", "yes"), ("3_4m", "follows_with_eyes", "no"),
        ("3_4m", "eye_movement_concern", "unknown")]
    assert {h["wasAttributedTo"] for h in held} == {tokyo.did}
    assert vouchers.used_by(city.connector.store, THREE_MONTHS) == body["encounter"]
    status, answer = await city.call("GET", f"family-app/children/{family.CHILD}", None,
                                     FAMILY, subjects=[family.MOTHER, family.CHILD])
    assert status == 200, answer
    assert sorted((d["item"], d["answer"]) for d in answer["development"]) == [
        ("eye_movement_concern", "unknown"), ("follows_with_eyes", "no"),
        ("head_control", "yes")]


async def test_an_item_of_another_age_is_refused_before_anything_is_sent(space):
    city, tokyo = space
    status, body = await record(tokyo, [answered("head_control", "yes"),
                                        answered("walks_alone", "yes")])
    assert (status, body["code"]) == (422, "pmh.development_item"), body
    assert "walks_alone" not in orjson.dumps(body).decode()
    assert not city.connector.records.list(city.hub.municipality.dataset("encounters"))
    assert vouchers.used_by(city.connector.store, THREE_MONTHS) is None


async def test_an_item_sent_with_a_visit_of_another_age_is_refused_by_the_municipality(space):
    city, tokyo = space
    status, body = await record(tokyo, [answered("walks_alone", "yes", age="1y6m")])
    assert (status, body["code"], body.get("rule")) == (
        403, "contribution.rule_violated", "pmh.development_item"), body
    assert not city.connector.records.list(city.hub.municipality.dataset("observations"))


async def test_the_family_page_shows_the_answers_in_both_languages(space):
    city, tokyo = space
    assert (await record(tokyo, [answered("head_control", "no")]))[0] == 201
    token = city.token(FAMILY, subjects=[family.MOTHER, family.CHILD])
    pages = {}
    async with aiohttp.ClientSession() as http:
        for lang in ("ja", "en"):
            async with http.get(f"{city.origin}/domains/pmh/family-app/?lang={lang}",
                                headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 200
                pages[lang] = await resp.text()
    assert "発達の確認" in pages["ja"] and "首がすわりましたか" in pages["ja"]
    assert "いいえ" in pages["ja"] and "（確認）" in pages["ja"]  # "no" on a positive item
    assert "Holds the head steady" in pages["en"] and "(to follow up)" in pages["en"]

"""Safety inquiries over the app route (consent only, audited, unknown = non-consenting) and
the catalog page that explains every offer in plain Japanese."""

from __future__ import annotations

import aiohttp
import pytest

from domains.bosai.api import INQUIRY, REGISTER
from tests.domains.bosai.dashboard_support import person
from tests.domains.bosai.flows.support import CHIYODA, OPERATOR_NUMBER

CONSENTING = {**person("山田", "花子", ("ヤマダ", "ハナコ"), "1950-04-01", stay="shelter",
                       shelter="131016-001"),
              "consentToDisclose": True, "disclosureScope": ["stay_type", "shelter"],
              "contact": {"telephone": "03-1234-5678"}}
SILENT = person("髙橋", "一郎", ("タカハシ", "イチロウ"), "1985-07-12", stay="home")


@pytest.fixture
async def city(start_bosai):
    node = await start_bosai(name="千代田区", legal_id=CHIYODA.code, role="municipality")
    await node.hub.setup_municipality(CHIYODA, operators=[OPERATOR_NUMBER])
    return node


async def test_an_inquiry_answers_consenting_people_with_consented_items_only(city):
    for form in (CONSENTING, SILENT):
        status, body = await city.post("registrations", form, REGISTER)
        assert status == 201, body
    status, found = await city.post("inquiries", {"name": "やまだ はなこ",
                                                  "birthDate": "昭和25年4月1日"}, INQUIRY)
    assert status == 200 and found["people"] == [
        {"accountedFor": True, "stayType": "shelter", "shelterId": "131016-001"}]
    # Not consenting and not registered look the same (apart from the inquiry's own id).
    answers = []
    for name, born in (("髙橋一郎", "1985-07-12"), ("存在しない人", "1985-07-12")):
        status, body = await city.post("inquiries", {"name": name, "birthDate": born},
                                       INQUIRY)
        assert status == 200
        answers.append({k: v for k, v in body.items() if k != "inquiry"})
    assert answers[0] == answers[1] and answers[0]["people"] == []
    entries = city.connector.audit.entries("bosai.safety_inquiry")
    assert len(entries) == 3 and all(e["asked_by"].startswith("token:") for e in entries)
    assert "山田" not in str(entries) and "髙橋" not in str(entries)


async def test_inquiries_need_their_scope(city):
    status, body = await city.post("inquiries", {"name": "山田花子", "birthDate": "1950-04-01"},
                                   REGISTER)
    assert (status, body["code"]) == (403, "auth.scope")
    status, body = await city.post("inquiries", {"name": "山田花子"}, INQUIRY)
    assert status == 422 and "1950" not in str(body)


async def test_the_catalog_page_explains_each_offer_in_plain_japanese(city):
    async with aiohttp.ClientSession() as http, \
            http.get(f"{city.api.origin}/domains/bosai/catalog") as resp:
        assert resp.status == 200
        page = await resp.text()
    assert "Content-Security-Policy" in resp.headers
    for words in ("千代田区 避難者名簿", "避難所運営者の役割を持つ参加者だけが",
                  "入所・退所（滞在場所の項目だけ）", "医療機関と、この市区町村の保健部局",
                  "避難所の開設状況は公開情報です", OPERATOR_NUMBER, "stayLocation"):
        assert words in page, words
    async with aiohttp.ClientSession() as http, \
            http.get(f"{city.api.origin}/domains/bosai/catalog?lang=en") as resp:
        assert "Medical needs" in await resp.text()

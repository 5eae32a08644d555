"""The cross-connector flows in headless Chromium: a check-in made through a shelter
operator's own connector appears on the municipality's dashboard without a reload within a
second; a safety inquiry is answered only for a consenting person, and a person who did not
consent looks exactly like one who is not registered."""

from __future__ import annotations

from playwright.async_api import expect

from domains.bosai.api import CHECKIN
from domains.bosai.dashboard.auth import DASHBOARD, INQUIRY
from domains.bosai.setup import EVACUEE
from tests.domains.bosai.browser.helpers import DashboardUi, axe
from tests.domains.bosai.dashboard_support import SITES, load_sites, load_status, person
from tests.domains.bosai.flows.support import CHIYODA, OPERATOR_NUMBER


async def municipality(start_bosai, tmp_path):
    city = await start_bosai(name="千代田区", legal_id=CHIYODA.code, role="municipality")
    await city.hub.setup_municipality(CHIYODA, operators=[OPERATOR_NUMBER])
    load_sites(city.hub, tmp_path, SITES)
    load_status(city.hub, tmp_path, [
        {"shelter_id": s.id, "open": "開設", "timestamp": "2024/4/30 6:00"} for s in SITES])
    return city


async def test_a_check_in_through_the_operators_connector_appears_within_a_second(
        page, start_bosai, tmp_path):
    city = await municipality(start_bosai, tmp_path)
    operator = await start_bosai(name="避難所運営", legal_id=OPERATOR_NUMBER,
                                 role="shelter_operator")
    assert (await operator.agree(city, city.hub.setup.dataset(EVACUEE)))["state"] == \
        "FINALIZED"
    guest = await city.hub.register(
        person("鈴木", "健", ("スズキ", "ケン"), "1970-03-03", stay="vehicle"),
        source="reception:form")
    assert await operator.held(guest.person_id) is not None

    ui = DashboardUi(page, city.api)
    await ui.login(DASHBOARD)
    shelters = page.locator('[data-live="shelters"]')
    await expect(shelters.get_by_role("row", name="九段ホール")).to_contain_text("0人／定員40人")
    await ui.wait_live()
    await ui.mark()
    status, body = await operator.post("checkins", {
        "record": guest.person_id, "action": "check_in", "shelterId": SITES[1].id}, CHECKIN)
    assert status == 200, body
    took = await ui.expect_live("shelters", "1人／定員40人", within_ms=1000)
    assert took < 1000
    await expect(page.locator('[data-total="in_shelters"]')).to_have_text("1人")


async def test_a_safety_inquiry_is_answered_only_with_consent(page, start_bosai, tmp_path):
    city = await municipality(start_bosai, tmp_path)
    await city.hub.register({**person("山田", "花子", ("ヤマダ", "ハナコ"), "1950-04-01",
                                      stay="shelter", shelter=SITES[0].id),
                             "consentToDisclose": True,
                             "disclosureScope": ["stay_type", "shelter"]}, source="r:1")
    await city.hub.register(person("髙橋", "一郎", ("タカハシ", "イチロウ"), "1985-07-12",
                                   stay="shelter", shelter=SITES[0].id), source="r:2")
    ui = DashboardUi(page, city.api)
    await ui.login(DASHBOARD, INQUIRY)
    await page.get_by_role("link", name="安否確認").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("安否確認への回答")

    async def ask(name: str, born: str) -> str:
        await page.get_by_label("氏名またはふりがな").fill(name)
        await page.get_by_label("生年月日").fill(born)
        await page.get_by_role("button", name="照会").click()
        answer = page.locator("#inquiry-answer")
        await expect(answer).to_be_visible()
        return await answer.inner_text()

    consenting = await ask("やまだ　はなこ", "昭和25年4月1日")
    assert "所在を確認しています" in consenting and "番町小学校" in consenting
    assert "山田" not in consenting and "住所" not in consenting  # only what she allowed
    silent = await ask("髙橋一郎", "1985-07-12")
    unknown = await ask("高橋一郎", "1985-07-13")
    assert silent == unknown == "お尋ねの方について、お答えできる情報はありません。"
    assert await axe(page) == []
    assert len(city.connector.audit.entries("bosai.safety_inquiry")) == 3


async def test_the_inquiry_page_needs_its_scope(page, start_bosai, tmp_path):
    city = await municipality(start_bosai, tmp_path)
    ui = DashboardUi(page, city.api)
    await ui.login(DASHBOARD)
    await expect(page.get_by_role("link", name="安否確認")).to_have_count(0)
    await ui.open("inquiry")
    await expect(page.locator("main")).to_contain_text("bosai:inquiry の権限が必要です")

"""The pmh views over HTTP against real connectors: who may see them, what the health
department's aggregates count, and that a family's token reads its own child only."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlparse

import aiohttp
import orjson
import pytest

from connector.api.staff import totp
from connector.api.staff.service import StaffAuth
from domains.pmh.hub.api import CLAIMS, CLINIC, FAMILY
from domains.pmh.views.auth import DASHBOARD
from domains.pmh.views.queries import overview
from tests.domains.pmh import family
from tests.domains.pmh.views.support import (
    CHILD_B,
    CHILD_B_NAME,
    FAMILY_A,
    MOTHER_B,
    get,
    infant_checkup,
    post_checkup,
    town,
)

PASSWORD = "correct horse battery"
EPDS_CHECKUP = {"municipality": "131016",
                "encounter": {"subject": family.MOTHER, "encounterKind": "pregnancy_checkup",
                              "start": "2026-06-01T10:00:00+09:00",
                              "clinic": {"code": "1312345678"}, "voucher": family.VOUCHER},
                "observations": [{"measurement": "epds_total", "value": 10,
                                  "effective": "2026-06-01T10:30:00+09:00"}]}


@pytest.fixture
async def space(start_pmh):
    return await town(start_pmh)


async def test_the_dashboard_needs_its_scope(space):
    city, _ = space
    status, _, headers = await get(city, "dashboard/")
    assert status == 303 and headers["Location"].endswith("/dashboard/login")
    family_token = city.token(FAMILY, subjects=FAMILY_A)
    assert (await get(city, "dashboard/", family_token))[0] == 401
    status, text, headers = await get(city, "dashboard/", city.token(DASHBOARD))
    assert status == 200 and '<html lang="ja">' in text
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "<script>" not in text and "style=" not in text


async def test_the_dashboard_counts(space):
    city, tokyo = space
    token = city.token(DASHBOARD)
    _, before, _ = await get(city, "dashboard/?lang=en", token)
    await post_checkup(tokyo, EPDS_CHECKUP)
    await post_checkup(tokyo, infant_checkup(date(2026, 11, 20), 6.1, 61.0))
    status, text = await tokyo.call("POST", "vaccinations", {
        "municipality": "131016", "immunization": family.immunization(id=None) | {
            "id": "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-000000000077"}}, CLINIC)
    assert status == 201, text
    found = city.hub.connector.store.query
    assert found("SELECT count(*) FROM pmh_ix_visits")[0][0] == 2
    counted = overview(city.connector.store, date.today(), datetime.now(UTC))
    assert counted.trimesters == {1: 0, 2: 1, 3: 0}  # due in 100 days: 25 weeks
    assert ("pregnancy_checkup", 2, 1) in counted.checkups  # vouchers 5 and 6, one used
    assert counted.followups_open == 1
    assert counted.cohorts == [("2026", 2)]
    assert counted.coverage == {("2026", "dpt_ipv_hib"): 1}
    assert counted.clinics == [("1312345678", 2, 0, 0, 0, 0, 0)]  # both checkups
    _, after, _ = await get(city, "dashboard/?lang=en", token)
    assert "Pregnancies by trimester" in after and after != before
    assert "50%" in after  # one child of two born in 2026 has a DTaP-IPV-Hib dose
    # Aggregates only: no person's name or id on the health department's view.
    assert "山田" not in after and family.MOTHER not in after


async def test_a_family_sees_its_child(space):
    city, tokyo = space
    await post_checkup(tokyo, infant_checkup(date(2026, 11, 20), 6.1, 61.0))
    token = city.token(FAMILY, subjects=FAMILY_A)
    status, text, headers = await get(city, "family-app/", token)
    assert status == 200, text
    assert "さくら" in text and "<svg" in text and "6.1" in text
    assert CHILD_B_NAME not in text and CHILD_B not in text
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    (seen,) = city.connector.audit.entries("pmh.family_view")
    assert seen["shown"] == [family.CHILD]
    status, body, _ = await get(city, f"family-app/children/{family.CHILD}", token)
    answer = orjson.loads(body)
    assert status == 200 and answer["growth"]["weight"][0][1] == 6.1
    # A girl of 3.6 months: 6.1 kg is just under the reference's median, 61.0 cm above it.
    [weight], [height] = answer["growth"]["bands"]["weight"], answer["growth"]["bands"]["height"]
    assert (weight["band"], weight["followUp"], weight["edition"]) == ("P25–P50", False,
                                                                       "r5-2023")
    assert 45 < weight["estimate"] < 50 and height["band"] == "P50–P75"
    assert answer["growth"]["reference"]["attribution"] == (
        "出典：厚生労働省「令和5年乳幼児身体発育調査」（e-Stat）")
    # The page draws the bands behind the points, says each band, and names the source.
    assert 'class="band-outer"' in text and 'class="p50"' in text
    assert "P25–P50（推定P" in text
    assert "出典：厚生労働省「令和5年乳幼児身体発育調査」（e-Stat）" in text
    assert answer["next"], "the schedule says what is due next"


async def test_a_family_cannot_read_another_familys_child(space):
    city, _ = space
    token = city.token(FAMILY, subjects=FAMILY_A)
    for asked in (CHILD_B, MOTHER_B, "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-0000000000ff"):
        status, body, _ = await get(city, f"family-app/children/{asked}", token)
        assert status == 404, body
        assert CHILD_B_NAME not in body and "2026-05-10" not in body and "佐藤" not in body
    refused = city.connector.audit.entries("pmh.family_view_refused")
    assert [e["asked"] for e in refused] == [CHILD_B, MOTHER_B,
                                             "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-0000000000ff"]
    # B's own token reads B's child; a token without subjects reads nothing.
    token_b = city.token(FAMILY, subjects=[MOTHER_B, CHILD_B])
    assert (await get(city, f"family-app/children/{CHILD_B}", token_b))[0] == 200
    assert (await get(city, "family-app/", city.token(FAMILY)))[0] == 403


async def test_the_dashboard_stream_sends_a_new_checkup(space):
    city, tokyo = space
    headers = {"Authorization": f"Bearer {city.token(DASHBOARD)}"}
    since = city.hub.changes
    async with aiohttp.ClientSession() as http, http.get(
            f"{city.origin}/domains/pmh/dashboard/events?since={since}",
            headers=headers) as resp:
        assert resp.status == 200
        await post_checkup(tokyo, EPDS_CHECKUP)
        got = b""
        async with asyncio.timeout(5):
            while b"event: sections" not in got:
                got += await resp.content.readany()
        while not got.endswith(b"\n\n"):
            got += await resp.content.readany()
    data = orjson.loads(got.split(b"data: ", 1)[1].split(b"\n", 1)[0])
    assert "followups" in data["sections"] and ">1<" in data["sections"]["followups"]


async def test_a_staff_person_logs_in_with_password_and_code(space):
    city, _ = space
    made = StaffAuth(city.connector.store).accounts.add(
        "kenko", "保健 師子", scopes=[DASHBOARD], department="健康推進課", password=PASSWORD)
    secret = parse_qs(urlparse(made.totp_uri).query)["secret"][0]
    nurse = StaffAuth(city.connector.store).accounts.add(
        "other", "別 課員", scopes=[CLAIMS], password=PASSWORD)
    nurse_secret = parse_qs(urlparse(nurse.totp_uri).query)["secret"][0]
    url = f"{city.origin}/domains/pmh/dashboard/"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(url + "login", allow_redirects=False, headers={
                "Origin": city.origin}, data={"login": "other", "password": PASSWORD,
                                              "totp": totp.code_at(nurse_secret,
                                                                   datetime.now(UTC))}) as r:
            assert r.status == 401  # a person without pmh:dashboard
        async with http.post(url + "login", allow_redirects=False, headers={
                "Origin": city.origin}, data={"login": "kenko", "password": PASSWORD,
                                              "totp": totp.code_at(secret,
                                                                   datetime.now(UTC))}) as r:
            assert r.status == 303, await r.text()
        async with http.get(url) as r:
            page = await r.text()
            assert r.status == 200 and "保健 師子（健康推進課）" in page
        async with http.post(url + "logout", headers={"Origin": city.origin}) as r:
            assert r.status == 200  # the login page, after the redirect
        async with http.get(url, allow_redirects=False) as r:
            assert r.status == 303

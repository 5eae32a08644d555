"""A municipality with two synthetic families and a Tokyo clinic, for the pmh views.

Family A is tests/domains/pmh/family.py (山田 花子 and さくら); family B (佐藤) is another
mother and child of the same town. A's child has a 3-4 month checkup voucher, A's mother a
pregnancy registration due in 100 days (second trimester)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import aiohttp

from domains.pmh.hub.api import CLINIC
from domains.pmh.hub.followups import JAPAN
from tests.domains.pmh import family
from tests.domains.pmh.flows.support import (
    TOKYO_CLINIC,
    TOKYO_CLINIC_NUMBER,
    PmhNode,
    clinic,
    municipality,
)

MOTHER_B = "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-0000000000b1"
CHILD_B = "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-0000000000b2"
CHILD_B_NAME = "ひなた"
INFANT_VOUCHER = "urn:uuid:0b6f4a4e-1c1e-4f0a-9e1a-000000000038"
FAMILY_A = [family.MOTHER, family.CHILD]
TODAY = datetime.now(JAPAN).date()


async def town(start_pmh) -> tuple[PmhNode, PmhNode]:
    city = await municipality(start_pmh)
    hub = city.hub
    await hub.register("children", family.child(id=CHILD_B, givenName=CHILD_B_NAME,
                                                 givenNameKana="ヒナタ", familyName="佐藤",
                                                 familyNameKana="サトウ",
                                                 birthDate="2026-05-10"))
    await hub.register("mothers", {k: v for k, v in family.mother(
        id=MOTHER_B, familyName="佐藤", familyNameKana="サトウ").items()
        if k not in ("version", "modified")})
    await hub.register("checkup-vouchers", family.voucher(
        id=INFANT_VOUCHER, subject=family.CHILD, voucherKind="infant_checkup_3_4m",
        sequence=1, voucherNumber="131016-I1", validFrom="2026-11-01",
        validUntil="2027-01-31"))
    await hub.register("pregnancy-registrations", family.registration(
        expectedDelivery=(TODAY + timedelta(days=100)).isoformat()))
    tokyo = await clinic(start_pmh, city, number=TOKYO_CLINIC_NUMBER, name="つなぐ産婦人科")
    return city, tokyo


def infant_checkup(day: date, weight: float, height: float) -> dict:
    at = f"{day.isoformat()}T10:00:00+09:00"
    return {"municipality": "131016",
            "encounter": {"subject": family.CHILD, "encounterKind": "infant_checkup",
                          "start": at, "clinic": TOKYO_CLINIC,
                          "voucher": INFANT_VOUCHER},
            "observations": [{"measurement": "body_weight", "value": weight, "effective": at},
                             {"measurement": "body_height", "value": height,
                              "effective": at}]}


async def post_checkup(tokyo: PmhNode, body: dict) -> dict:
    status, answer = await tokyo.call("POST", "checkups", body, CLINIC)
    assert status == 201, answer
    return answer


async def get(node: PmhNode, path: str, token: str | None = None
              ) -> tuple[int, str, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(
            f"{node.origin}/domains/pmh/{path}", headers=headers,
            allow_redirects=False) as resp:
        return resp.status, await resp.text(), dict(resp.headers)

"""``tsunagu demo pmh``: a municipality's maternal and child health over simulated months.

The data-space authority runs the nats-server in operator mode and onboards three
participants, each its own connector with the pmh hub: 千代田区 (municipality: it holds its
mothers, children and checkup vouchers), a clinic in Tokyo and one in Sapporo (里帰り出産).
The clinics agree to add records to the municipality's datasets, then month by month record
pregnancy checkups (Tokyo: paid by voucher; Sapporo: a 里帰り claim opens) with blood pressure
and EPDS (9 or more raises a follow-up for the nurses) and the infants' first vaccinations
(checked with the routine schedule). A voucher used twice is refused to the clinic. The URLs
of the municipality's staff view and a family's app (``views``) and their tokens are printed;
``--serve`` keeps everything running until Ctrl-C.

No personal value is printed or logged: counts, opaque ids and URLs only.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from authority.space import AuthorityNats
from authority.state import Authority
from connector.api.tokens import TokenStore
from connector.control.audit import verify_chain
from connector.runtime.connector import Connector
from domains.demos import finish, run_main, start_participant
from domains.pmh.demo.people import Family, families
from domains.pmh.demo.views import VIEWS, urls
from domains.pmh.hub.claims import Rule
from domains.pmh.hub.offering import offer_id
from domains.pmh.hub.service import PmhHub
from domains.pmh.hub.setup import CONTRIBUTED, Municipality
from domains.pmh.schedule.legal_age import reaches_months
from trust.errors import TsunaguError

Say = Callable[[str], None]

TOWN = Municipality("131016", "千代田区")
CLAIM_RULES = {"pregnancy_checkup": Rule(5000, 12)}
# The town's unit price per voucher used (yen): synthetic figures of the demo, not a real
# municipality's (each sets its own, as data: setup_municipality(voucher_prices=...)).
VOUCHER_PRICES = {"pregnancy_checkup": 5000, "postpartum_checkup": 5000,
                  "infant_checkup_1m": 6000}
MONTHS = 3
START = date(2026, 6, 1)  # the first simulated month (the records carry these dates)
SUMMARY_FILE = "summary.json"
SATOGAERI_SHARE = 0.1  # pregnant mothers who have their checkups in Sapporo


@dataclass(frozen=True)
class Party:
    label: str
    name: str
    legal_id: str
    role: str
    clinic: dict[str, str] | None = None  # 医療機関コード and name, for a clinic


CITY = Party("city", "千代田区 保健福祉部 (架空)", TOWN.code, "municipality")
TOKYO = Party("tokyo", "つなぐ産婦人科クリニック (架空)", "5800001205000", "medical_institution",
              {"code": "1312345678", "name": "つなぐ産婦人科クリニック"})
SAPPORO = Party("sapporo", "さっぽろ母子クリニック (架空)", "4011105005400", "medical_institution",
                {"code": "0112345678", "name": "さっぽろ母子クリニック"})


def hub_of(connector: Connector) -> PmhHub:
    return connector.plugin_services["pmh"]


async def participant(workdir: Path, authority: Authority, space: AuthorityNats, party: Party,
                      *, api: bool = False) -> Connector:
    """Onboard ``party`` (key, credential, NATS user) and start its connector."""
    return (await start_participant(workdir, authority, space, party.label, party.name,
                                    party.legal_id, party.role, api=api))[0]


async def agree(clinic: Connector, city: Connector, kind: str) -> None:
    dataset = TOWN.dataset(kind)
    started = await clinic.negotiations.start(city.did, dataset, offer_id(dataset),
                                              purpose="maternal_child_health")
    done = await clinic.negotiations.wait(started["pid"], timeout=30)
    if done["state"] != "FINALIZED":
        raise RuntimeError(f"negotiation for {kind} ended {done['state']}")


@dataclass
class Tally:
    checkups: int = 0
    satogaeri: int = 0
    vaccinations: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    def refusal(self, exc: TsunaguError) -> None:
        code = str(getattr(exc, "details", {}).get("rule") or exc.code)
        self.refused[code] = self.refused.get(code, 0) + 1


def _at(day: date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00+09:00"


async def checkup(clinic: Connector, party: Party, family: Family, day: date,
                  voucher: dict[str, Any] | None, rng: random.Random) -> None:
    assert party.clinic is not None
    encounter = {"subject": family.mother["id"], "encounterKind": "pregnancy_checkup",
                 "start": _at(day, 10), "clinic": party.clinic}
    if voucher is not None:
        encounter["voucher"] = voucher["id"]
    systolic = rng.randint(100, 135)
    await hub_of(clinic).record_checkup(TOWN.code, encounter, [
        {"measurement": "blood_pressure", "systolic": systolic,
         "diastolic": systolic - rng.randint(35, 50), "effective": _at(day, 10)},
        {"measurement": "epds_total", "value": rng.choice((2, 4, 5, 7, 8, 10, 12)),
         "effective": _at(day, 11)}])


async def month(space: dict[str, Connector], people: list[Family], n: int, tally: Tally,
                rng: random.Random) -> None:
    """Month ``n``: each pregnant mother's checkup (voucher ``n``, or in Sapporo), each
    infant's vaccination when it falls in the month."""
    first = START + timedelta(days=30 * n)
    for i, family in enumerate(people):
        day = first + timedelta(days=i % 28)
        if family.expected_delivery is not None:
            away = i % round(1 / SATOGAERI_SHARE) == 0
            clinic, party = (space["sapporo"], SAPPORO) if away else (space["tokyo"], TOKYO)
            try:
                await checkup(clinic, party, family, day,
                              None if away else family.vouchers[n], rng)
                tally.checkups += 1
                tally.satogaeri += away
            except TsunaguError as exc:
                tally.refusal(exc)
        if family.child is not None:
            await vaccinate(space["tokyo"], family, first, first + timedelta(days=30), tally)


async def vaccinate(clinic: Connector, family: Family, first: date, end: date,
                    tally: Tally) -> None:
    """五種混合 1期初回: dose 1 three days after 2 months, dose 2 five weeks later."""
    assert family.child is not None and TOKYO.clinic is not None
    born = date.fromisoformat(family.child["birthDate"])
    one = reaches_months(born, 2) + timedelta(days=3)
    for dose, day in ((1, one), (2, one + timedelta(days=35))):
        if not first <= day < end:
            continue
        try:
            await hub_of(clinic).record_vaccination(TOWN.code, {
                "subject": family.child["id"], "vaccine": "dpt_ipv_hib", "doseNumber": dose,
                "series": "1期初回", "lotNumber": f"DEMO{dose:02d}", "occurred": day.isoformat(),
                "clinic": TOKYO.clinic})
            tally.vaccinations += 1
        except TsunaguError as exc:
            tally.refusal(exc)


async def run_demo(workdir: Path, say: Say = print, people: int = 500, months: int = MONTHS,
                   serve: bool = False) -> dict[str, Any]:
    """Run the scenario in ``workdir``; return what happened (tests, scripts)."""
    summary: dict[str, Any] = {}
    authority = Authority.init(workdir / "authority", name="tsunagu pmh demo authority")
    nats = AuthorityNats(authority)
    url = await nats.start(store_dir=workdir / "nats")
    say(f"1. 認証局が nats-server を起動しました (JetStream、operator モード): {url}")
    running: list[Connector] = []
    try:
        space = {}
        for party in (CITY, TOKYO, SAPPORO):
            space[party.label] = await participant(workdir, authority, nats, party,
                                                   api=party is CITY)
            running.append(space[party.label])
        city = hub_of(space["city"])
        say(f"2. 参加者を登録しました: {CITY.name}、医療機関 2か所 ({TOKYO.name}、"
            f"{SAPPORO.name}: 北海道、里帰り出産)")
        await city.setup_municipality(TOWN, CLAIM_RULES, VOUCHER_PRICES)
        for label in ("tokyo", "sapporo"):
            for kind in CONTRIBUTED:
                await agree(space[label], space["city"], kind)
        say("3. 市が母子保健のデータセットを提供し、医療機関が健診・予防接種の記録の追加に合意"
            "しました (書き込みのみ: 医療機関は市のデータを読めません)")

        drawn = families(people, START, months, TOWN.code)
        for family in drawn:
            await city.register("mothers", family.mother, resident_from=date(2024, 4, 1))
            if family.child is not None:
                await city.register("children", family.child,
                                    resident_from=date.fromisoformat(
                                        family.child["birthDate"]))
            for voucher in family.vouchers:
                await city.register("checkup-vouchers", voucher)
        pregnant = sum(1 for f in drawn if f.expected_delivery is not None)
        infants = sum(1 for f in drawn if f.child is not None)
        summary.update(mothers=len(drawn), children=infants, pregnant=pregnant)
        say(f"4. 市が {len(drawn)}人の母 (妊娠中 {pregnant}人) と {infants}人の子、受診票を登録"
            "しました (すべて架空の人物)")

        rng, tally = random.Random(7), Tally()
        for n in range(months):
            await month(space, drawn, n, tally, rng)
            say(f"   {n + 1}か月目: 健診 累計{tally.checkups}件 (里帰り {tally.satogaeri}件)、"
                f"予防接種 累計{tally.vaccinations}件")
        first = next(f for f in drawn if f.expected_delivery is not None)
        try:  # the same voucher again: refused to the clinic, at once
            await checkup(space["tokyo"], TOKYO, first, START + timedelta(days=30 * months),
                          first.vouchers[0], rng)
        except TsunaguError as exc:
            tally.refusal(exc)
        summary.update(checkups=tally.checkups, satogaeri=tally.satogaeri,
                       vaccinations=tally.vaccinations, refused=tally.refused,
                       claims=len(city.claims()), follow_ups=len(city.follow_ups()))
        say(f"5. 健診 {tally.checkups}件、予防接種 {tally.vaccinations}件を市が受け付けました。"
            f"里帰り請求 {summary['claims']}件、EPDS の要フォロー {summary['follow_ups']}件。"
            f"拒否: {', '.join(f'{k} {v}件' for k, v in sorted(tally.refused.items()))}")

        summary.update(settle(city, months))
        say(f"   精算: {TOKYO.name} の受診票を月ごとにまとめ、{summary['settled_batches']}件を"
            f"支払済み ({summary['paid_yen']:,}円)、最後の月は承認待ちのまま")

        summary["audit_ok"] = all(verify_chain(c.audit.lines()).ok for c in running)
        summary.update(print_views(space["city"], first, say))
        return await finish(workdir, summary, say, serve, SUMMARY_FILE)
    finally:
        for connector in reversed(running):
            await connector.stop()
        await nats.close()


def settle(city: PmhHub, months: int) -> dict[str, int]:
    """The town settles the Tokyo clinic's used vouchers month by month: every batch but the
    last month's is approved and paid (the last stays created, for the dashboard)."""
    assert TOKYO.clinic is not None
    paid = batches = 0
    for n in range(months):
        first = START.replace(month=(START.month - 1 + n) % 12 + 1,
                              year=START.year + (START.month - 1 + n) // 12)
        try:
            batch = city.create_settlement(TOKYO.clinic["code"], first.strftime("%Y-%m"),
                                           by="demo:会計担当")
        except TsunaguError:
            continue  # no voucher used that month
        if n == months - 1:
            continue
        city.advance_settlement(batch["id"], "approved", by="demo:課長")
        done = city.advance_settlement(batch["id"], "paid", by="demo:会計担当",
                                       paid_on=first + timedelta(days=45))
        batches, paid = batches + 1, paid + done["amount_yen"]
    return {"settled_batches": batches, "paid_yen": paid}


def print_views(city: Connector, family: Family, say: Say) -> dict[str, Any]:
    """Each view's URLs and a token for it; the summary keeps the URLs, never a token."""
    assert city.api is not None and city.api.port is not None
    origin = f"http://127.0.0.1:{city.api.port}"
    tokens = TokenStore(city.store)
    shown: dict[str, Any] = {}
    for n, view in enumerate(VIEWS, start=6):
        token = tokens.issue(list(view.scopes), days=1,
                             subjects=family.subjects if view.family else None).token
        shown[f"{view.key}_urls"] = urls(origin, view)
        say(f"{n}. {view.title}: {' '.join(shown[f'{view.key}_urls'])}")
        say(f"   トークン (Authorization: Bearer): {token}")
    return shown


def succeeded(summary: dict[str, Any]) -> bool:
    return bool(summary.get("checkups") and summary.get("claims")
                and summary.get("refused", {}).get("pmh.voucher_used")
                and summary.get("audit_ok"))


def main(directory: Path | None, people: int = 500, serve: bool = False) -> int:
    return run_main(directory, "pmh", lambda d: run_demo(d, people=people, serve=serve),
                    succeeded, SUMMARY_FILE)


__all__ = ["main", "run_demo", "succeeded"]

"""``tsunagu demo bosai``: the first hours of a disaster in 仙台市 across four connectors.

The data-space authority runs the nats-server in operator mode and onboards four
participants, each its own connector with every service and the bosai hub
(``domains.bosai.demo_space`` builds them): 仙台市 (municipality: shelter master, evacuee registry,
dashboard), two shelter operators of its region and a relief-supplies NPO. The city imports
its shelters from a GSI 指定避難所 CSV and a status sheet, registers several hundred
synthetic evacuees (re-registrations merge on the 4 items, near matches wait for review),
and the operators check people in over simulated hours as signed contributions to the
city's records: arrivals, moves between shelters, departures. The operators post supply
requests that the NPO commits to and delivers; two safety inquiries reach the registry, one
about a person who consented and one about a person who did not. The city's health
department (a pmh participant, when pmh is installed) sends the care flags of pregnant
evacuees (step 9b, docs/pmh.md). The dashboard URL and a staff token are printed;
``--serve`` keeps everything running until Ctrl-C.

People are generated (``domains.bosai.registry.workload``), never real; no personal value is
printed or logged: only counts, shelter names and opaque ids.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from authority.space import AuthorityNats
from authority.state import Authority
from connector.api.tokens import TokenStore
from connector.control.audit import verify_chain
from connector.runtime.connector import Connector
from domains.bosai import care_flags
from domains.bosai.api import INQUIRY
from domains.bosai.dashboard.auth import DASHBOARD, PERSON_SEARCH
from domains.bosai.dashboard.queries import Queries
from domains.bosai.demo_space import CITY_CODE, CITY_NAME, Say, api_port, participant, until
from domains.bosai.hub import BosaiHub
from domains.bosai.registry.workload import workload
from domains.bosai.setup import EVACUEE, Municipality
from domains.bosai.synthetic import SyntheticShelter, import_into, write_shelter_files
from domains.demos import run_main
from trust.legal_id import corporate_number_check_digit

PURPOSE = "disaster_response"
HOURS = 6  # simulated: registration, then this many hours of arrivals, ending now
SHELTERS = 10  # the tenth is a 福祉避難所
SUMMARY_FILE = "summary.json"
SUPPLY_NEEDS = (  # (item, quantity, unit, urgency, for whom); the last one stays committed
    ("infant_formula", 24, "can", "high", ["infant"]),
    ("adult_diapers", 40, "pack", "medium", ["elderly"]),
    ("allergy_safe_food", 60, "serving", "high", ["general"]),
    ("blankets", 150, "sheet", "critical", ["general"]),
)


def corporate_number(base: str) -> str:
    """A fictional 法人番号: twelve digits with their check digit in front."""
    return f"{corporate_number_check_digit(base)}{base}"


@dataclass(frozen=True)
class Party:
    label: str  # its directory under the work directory
    name: str
    legal_id: str
    role: str


CITY = Party("city", CITY_NAME, CITY_CODE, "municipality")
OPERATORS = (
    Party("aoba", "NPO法人 青葉避難所運営ネット (架空)", corporate_number("210987654321"),
          "shelter_operator"),
    Party("izumi", "一般社団法人 泉避難所運営協議会 (架空)", corporate_number("310987654321"),
          "shelter_operator"),
)
SUPPLIER = Party("supplies", "NPO法人 みやぎ支援物資ネット (架空)",
                 corporate_number("410987654321"), "relief_supplier")
# The city's health department: the same legal id, another participant, running pmh.
HEALTH = Party("health", f"{CITY_NAME} 子供未来局 (架空)", CITY_CODE, "municipality")
PREGNANT = 3  # evacuees in shelters the health department knows to be pregnant


def hub_of(connector: Connector) -> BosaiHub:
    return connector.plugin_services["bosai"]


def evacuee_dataset(city: Connector) -> str:
    setup = hub_of(city).setup
    if setup is None:
        raise RuntimeError("the city's hub is not set up as a municipality")
    return setup.dataset(EVACUEE)


async def agree(consumer: Connector, provider: Connector, dataset: str) -> str:
    """Negotiate the dataset's offer and start the transfer; the agreement id."""
    started = await consumer.negotiations.start(provider.did, dataset, f"{dataset}:offer",
                                                purpose=PURPOSE)
    done = await consumer.negotiations.wait(started["pid"], timeout=30)
    if done["state"] != "FINALIZED":
        raise RuntimeError(f"negotiation for {dataset} ended {done['state']}")
    transfer = await consumer.transfers.start(done["agreementId"])
    await consumer.transfers.wait(transfer["pid"], "STARTED", timeout=30)
    return done["agreementId"]


def held_count(connector: Connector, dataset: str) -> int:
    """Records of ``dataset`` held (a count: no body is read)."""
    return connector.gate.held_count(dataset=dataset, distinct=True)


def held_version(connector: Connector, record_id: str) -> int:
    return connector.gate.newest_version(record_id) or 0


def in_shelters(city: Connector) -> int:
    """People staying in a shelter, as the dashboard counts them."""
    hub = hub_of(city)
    return Queries(hub, hub.sites).overview().in_shelters


class SimulatedClock:
    """The time of the simulated hours after the disaster. The city's registry reads it (its
    stay history and audit lines carry it, so the dashboard's trend spans those hours);
    operators report it as the check-in time. Everything else runs on real time. It never
    passes the real now."""

    def __init__(self, hours: int) -> None:
        self.start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=hours)
        self.at = self.start

    def now(self) -> datetime:
        return self.at

    def text(self) -> str:
        return self.at.strftime("%Y-%m-%dT%H:%M:%SZ")

    def local(self) -> str:
        return (self.at + timedelta(hours=9)).strftime("%H:%M")  # 日本時間 (no DST)


# --------------------------------------------------------------------------- the steps

@dataclass
class Space:
    authority: Authority
    nats: AuthorityNats
    city: Connector
    operators: list[Connector]
    supplier: Connector

    @property
    def everyone(self) -> list[Connector]:
        return [self.city, *self.operators, self.supplier]


async def onboard(workdir: Path, say: Say, running: list[Connector], authority: Authority,
                  nats: AuthorityNats) -> Space:
    made = []
    for party in (CITY, *OPERATORS, SUPPLIER):
        connector, _ = await participant(workdir, authority, nats, party.label, party.name,
                                          party.legal_id, party.role,
                                          api=party is CITY)  # the dashboard is the city's
        running.append(connector)
        made.append(connector)
        connector.facts.set("disasterPhase", "response")  # what the city declared
    say(f"2. 参加者を登録しました: {CITY.name} (市区町村)、避難所運営者 2団体 "
        f"({'、'.join(p.name for p in OPERATORS)})、物資支援 {SUPPLIER.name}。"
        "それぞれ資格情報と NATS アカウントを持つ自分のコネクタで動いています")
    return Space(authority, nats, made[0], made[1:3], made[3])


async def open_shelters(space: Space, workdir: Path, say: Say, count: int
                        ) -> list[SyntheticShelter]:
    city = hub_of(space.city)
    await city.setup_municipality(Municipality(CITY.legal_id, CITY.name),
                                  operators=[p.legal_id for p in OPERATORS])
    say(f"3. {CITY.name}が災害フェーズ「応急時」を宣言し、避難者名簿・医療的ニーズ・避難所の"
        "開設状況を提供しました (名簿は地域の避難所運営者だけ、災害対応の目的だけ、入所・退所の"
        "記録は滞在場所の項目だけ)")
    files = write_shelter_files(workdir / "city-files", count, at=datetime.now(UTC),
                                capacity=(60, 200))
    master, status = await import_into(city, files)
    for step, report, what in (("4a", master, "指定避難所 CSV (国土地理院形式)"),
                               ("4b", status, "開設状況 CSV (列対応ファイル付き)")):
        n = report.counts()
        say(f"{step}. {what} を取り込みました: 取込 {n['imported']}件、補正 {n['corrected']}件、"
            f"拒否 {n['refused']}件")
    return files.sites


async def connect_operators(space: Space, say: Say) -> None:
    evacuees = evacuee_dataset(space.city)
    for operator in space.operators:
        await agree(operator, space.city, evacuees)
        supplies = await hub_of(operator).setup_shelter_operator([CITY.legal_id])
        for reader in (space.supplier, space.city):  # the NPO acts, the city's dashboard shows
            await agree(reader, operator, supplies)
    say("5. 避難所運営者 2団体が名簿の利用に合意し (署名付き契約)、それぞれ救援物資の要請を提供。"
        "物資支援 NPO と市がその要請の受け取りに合意しました")


async def register(space: Space, say: Say, people: int, clock: SimulatedClock
                   ) -> dict[str, Any]:
    drawn = workload(people)
    rng = random.Random(7)
    for form in drawn.forms:  # where they are before reaching a shelter, if anyone knows
        roll = rng.random()
        if roll < 0.25:
            form["stayLocation"] = {"stayType": "home"}
        elif roll < 0.3:
            form["stayLocation"] = {"stayType": "vehicle"}
        else:
            form.pop("stayLocation", None)
    city = hub_of(space.city)
    clock.at = clock.start - timedelta(minutes=30)
    stats = await city.register_many(drawn.forms, source="demo:reception", by="demo:staff")
    ids = list(dict.fromkeys(r.person_id for r in stats.results if r is not None))
    dataset = evacuee_dataset(space.city)
    for operator in space.operators:
        await until(lambda op=operator: held_count(op, dataset) >= len(ids), timeout=120)
    say(f"6. 受付で {stats.total}件の登録を受け付けました: 新規 {stats.new}人、同一人物として統合 "
        f"{stats.merged}件 (基本4情報の一致)、確認待ち {stats.review}件 (近い一致は職員が判断)。"
        f"名簿の {len(ids)}人が署名付きレコードとして避難所運営者 2団体に届きました")
    return {"registrations": stats.total, "people": city.registry.count(), "new": stats.new,
            "merged": stats.merged, "review": stats.review, "person_ids": ids}


def _shelters_of(sites: list[SyntheticShelter], index: int) -> list[str]:
    """The operator ``index`` runs every other shelter."""
    return [s.id for n, s in enumerate(sites) if n % len(OPERATORS) == index]


async def check_ins(space: Space, say: Say, sites: list[SyntheticShelter],
                    person_ids: list[str], clock: SimulatedClock) -> dict[str, int]:
    """Arrivals each hour, moves between the two operators' shelters in the fourth hour,
    departures in the fifth: every change a contribution from an operator's connector."""
    rng = random.Random(11)
    arriving = rng.sample(person_ids, k=int(len(person_ids) * 0.7))
    where: dict[str, tuple[int, str]] = {}  # person -> (operator index, shelter)
    done = {"checked_in": 0, "moved": 0, "checked_out": 0}
    per_hour = -(-len(arriving) // HOURS)
    for hour in range(HOURS):
        arrivals = arriving[hour * per_hour:(hour + 1) * per_hour]
        changes: list[tuple[str, int, str, str]] = [  # (action, operator, person, shelter)
            ("check_in", n % len(OPERATORS), pid,
             rng.choice(_shelters_of(sites, n % len(OPERATORS))))
            for n, pid in enumerate(arrivals)]
        inside = sorted(where)
        if hour == 3:
            for pid in rng.sample(inside, k=min(len(inside), max(1, len(inside) // 20))):
                other = (where[pid][0] + 1) % len(OPERATORS)
                changes.append(("move", other, pid, rng.choice(_shelters_of(sites, other))))
        if hour == 4:
            for pid in rng.sample(inside, k=min(len(inside), max(1, len(inside) // 20))):
                changes.append(("check_out", where[pid][0], pid, where[pid][1]))
        for n, (action, index, pid, shelter) in enumerate(changes):
            clock.at = clock.start + timedelta(hours=hour, minutes=60 * n // len(changes))
            hub = hub_of(space.operators[index])
            if action == "check_out":
                await hub.check_out(pid, shelter, going_to="home", at=clock.text())
                del where[pid]
                done["checked_out"] += 1
            else:
                await hub.check_in(pid, shelter, at=clock.text())
                where[pid] = (index, shelter)
                done["moved" if action == "move" else "checked_in"] += 1
        clock.at = clock.start + timedelta(hours=hour + 1)
        counts = {a: sum(1 for c in changes if c[0] == a) for a in ("check_in", "move",
                                                                   "check_out")}
        say(f"   {clock.local()} 入所 {counts['check_in']}人、別の避難所への移動 "
            f"{counts['move']}人、退所 {counts['check_out']}人 → 避難所にいる人 "
            f"{in_shelters(space.city)}人")
    return done


async def supplies(space: Space, say: Say, sites: list[SyntheticShelter]) -> dict[str, int]:
    """Each need posted by the operator running its shelter; the NPO commits to all and
    delivers all but the last (still on its way when the demo ends)."""
    posted = []
    for n, (item, quantity, unit, urgency, for_whom) in enumerate(SUPPLY_NEEDS):
        index = n % len(OPERATORS)
        made = await hub_of(space.operators[index]).request_supplies(
            shelter_id=_shelters_of(sites, index)[0], item=item, quantity=quantity,
            unit=unit, urgency=urgency, for_whom=for_whom)
        posted.append(made["id"])
    npo = hub_of(space.supplier)
    await until(lambda: all(held_version(space.supplier, r) for r in posted), 30)
    delivered = 0
    for n, record_id in enumerate(posted):
        committed = await npo.commit_supplies(record_id)
        if n < len(posted) - 1:  # delivering reads the committed version: wait for it
            await until(lambda r=record_id, v=committed["version"]:
                         held_version(space.supplier, r) >= v, 30)
            await npo.deliver_supplies(record_id)
            delivered += 1

    def seen_by_city() -> Counter[str]:  # what the city's dashboard shows
        return Counter(s.status for s in Queries(hub_of(space.city),
                                                 hub_of(space.city).sites).supplies())
    wanted = Counter({"delivered": delivered, "committed": len(posted) - delivered})
    await until(lambda: seen_by_city() == wanted, 30)
    seen = seen_by_city()
    say(f"8. 避難所運営者が救援物資を {len(posted)}件要請し、物資支援 NPO が全件を手配、"
        f"{seen['delivered']}件を配送しました (各段階は要請元への署名付き変更。市のダッシュボード"
        f"にも反映: 配送済み {seen['delivered']}件、手配済み {seen['committed']}件)")
    return {"supplies_requested": len(posted),
            "supplies_committed": seen["committed"] + seen["delivered"],
            "supplies_delivered": seen["delivered"]}


async def inquiries(space: Space, say: Say, person_ids: list[str], origin: str
                    ) -> dict[str, bool]:
    """One inquiry about a person who consented to disclosure, one about a person who did
    not, through the city's app API as a family-inquiry desk would ask."""
    registry = hub_of(space.city).registry
    people = [registry.get_person(pid) for pid in person_ids]
    consenting = next(p for p in people if p.data.consent.disclose)
    refusing = next(p for p in people if not p.data.consent.disclose)
    token = TokenStore(space.city.store).issue([INQUIRY], days=1).token
    answered = {}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        for label, person in (("with_consent", consenting), ("without_consent", refusing)):
            body = {"name": person.data.family_name + person.data.given_name,
                    "birthDate": person.data.birth_date.isoformat()}
            async with http.post(f"{origin}/domains/bosai/inquiries",
                                 data=orjson.dumps(body),
                                 headers={"Content-Type": "application/json"}) as resp:
                answer = await resp.json()
            answered[label] = bool(answer.get("people"))
    say(f"9. 安否確認を 2件受け付けました: 開示に同意した人については同意した項目だけを回答"
        f"({'回答あり' if answered['with_consent'] else '回答なし'})、同意していない人については"
        f"未登録の人と同じ「お答えできる情報はありません」"
        f"({'回答あり' if answered['without_consent'] else '回答なし'})。どちらも監査ログに記録")
    return {"inquiry_with_consent_answered": answered["with_consent"],
            "inquiry_without_consent_answered": answered["without_consent"]}


async def care_flags_step(space: Space, workdir: Path, say: Say, person_ids: list[str],
                          running: list[Connector]) -> dict[str, Any]:
    """Once only across domains (docs/pmh.md): the city's health department (pmh) sends
    the care flags of pregnant evacuees (4 items + weeks, nothing else) to the city's
    disaster office under a policy for disaster response while the phase is response; the
    registry matches them on the 4 items and the shelter pages show 妊娠N週. bosai imports
    nothing of pmh: the department's service is driven by name, the flags come through the
    data space and the usage gate. Skipped when pmh is not installed."""
    health, _ = await participant(workdir, space.authority, space.nats, HEALTH.label,
                                  HEALTH.name, HEALTH.legal_id, HEALTH.role)
    running.append(health)
    pmh = health.plugin_services.get("pmh")
    if pmh is None:
        say("9b. 母子保健 (pmh) がインストールされていないため、保健部局との連携は省略します")
        return {"care_flags": None}
    health.facts.set("disasterPhase", "response")  # the city's declaration, at both
    await pmh.setup_as(CITY_CODE, CITY_NAME)
    registry = hub_of(space.city).registry
    today = datetime.now(UTC).date()
    chosen = [p for p in (registry.get_person(pid) for pid in person_ids)
              if p.data.sex == "female" and p.stay_updated_at
              and 20 <= (today - p.data.birth_date).days // 365 <= 40][:PREGNANT]
    for n, person in enumerate(chosen):
        mother = await pmh.register_person("mothers", {
            "familyName": person.data.family_name, "givenName": person.data.given_name,
            "birthDate": person.data.birth_date.isoformat(), "address": person.data.address})
        await pmh.flag_pregnancy(mother["id"], today + timedelta(days=40 + 30 * n), today)
    await agree(space.city, health, pmh.municipality.dataset("care-flags"))
    await until(lambda: len(list(care_flags.all_flags(registry))) >= len(chosen), 30)
    flagged = len(list(care_flags.all_flags(registry)))
    say(f"9b. 市の保健部局 (母子保健、別の参加者) が、避難所にいる妊婦 {flagged}人の情報を防災部局"
        "に提供しました: 基本4情報と妊娠週数だけ、災害対応の目的で応急時に限る契約。名簿と4情報"
        "で照合し (マイナンバーは使いません)、避難所のページに「妊娠N週」と表示します。応急時が"
        "終わると表示も保存した情報も消えます")
    return {"care_flags": flagged}


# --------------------------------------------------------------------------- the scenario

async def run_demo(workdir: Path, say: Say = print, people: int = 300,
                   shelters: int = SHELTERS, serve: bool = False) -> dict[str, Any]:
    """Run the scenario in ``workdir``; return what happened (tests, scripts). With
    ``serve``, keep everything running after the summary until Ctrl-C cancels the run."""
    summary: dict[str, Any] = {}
    authority = Authority.init(workdir / "authority", name="tsunagu bosai demo authority")
    nats = AuthorityNats(authority)
    url = await nats.start(store_dir=workdir / "nats")
    say(f"1. 認証局が nats-server を起動しました (JetStream、operator モード): {url}")
    running: list[Connector] = []
    try:
        space = await onboard(workdir, say, running, authority, nats)
        sites = await open_shelters(space, workdir, say, shelters)
        await connect_operators(space, say)
        clock = SimulatedClock(HOURS)
        hub_of(space.city).registry.clock = clock.now
        registered = await register(space, say, people, clock)
        person_ids = registered.pop("person_ids")
        summary.update(registered)
        say(f"7. 発災後の {HOURS}時間を模擬時間で進めます。避難所運営者が自分のコネクタから"
            "市の名簿へ入所・移動・退所を署名付きで記録します")
        summary.update(await check_ins(space, say, sites, person_ids, clock))
        hub_of(space.city).registry.clock = lambda: datetime.now(UTC)
        summary["in_shelters"] = in_shelters(space.city)
        summary.update(await supplies(space, say, sites))
        origin = f"http://127.0.0.1:{api_port(space.city)}"
        summary.update(await inquiries(space, say, person_ids, origin))
        summary.update(await care_flags_step(space, workdir, say, person_ids, running))
        for connector in running:
            report = verify_chain(connector.audit.lines())
            summary.setdefault("audit_ok", True)
            summary["audit_ok"] = summary["audit_ok"] and report.ok
        say(f"   監査ログ ({len(running)}コネクタ): "
            f"{'改ざんなし' if summary['audit_ok'] else '破損あり'}")
        token = TokenStore(space.city.store).issue([DASHBOARD, PERSON_SEARCH], days=1).token
        summary["dashboard_url"] = f"{origin}/domains/bosai/dashboard/"
        # Counts and the URL only (no token, no person): for tests and scripts.
        (workdir / SUMMARY_FILE).write_text(json.dumps(summary, ensure_ascii=False, indent=2),
                                            encoding="utf-8")
        say(f"10. 市のダッシュボード: {summary['dashboard_url']}")
        say(f"    職員用トークン (ログイン画面に貼り付け): {token}")
        say(f"完了: 登録 {summary['registrations']}件 (名簿 {summary['people']}人、統合 "
            f"{summary['merged']}件、確認待ち {summary['review']}件)、入所 "
            f"{summary['checked_in']}件、移動 {summary['moved']}件、退所 "
            f"{summary['checked_out']}件、避難所にいる人 {summary['in_shelters']}人、救援物資 "
            f"配送 {summary['supplies_delivered']}/{summary['supplies_requested']}件")
        if serve:
            say("ダッシュボードを表示し続けます。終了するには Ctrl-C を押してください")
            await asyncio.Event().wait()
        return summary
    finally:
        for connector in reversed(running):
            await connector.stop()
        await nats.close()


def succeeded(summary: dict[str, Any]) -> bool:
    return bool(summary.get("merged") and summary.get("checked_in")
                and summary.get("moved") and summary.get("checked_out")
                and summary.get("supplies_delivered")
                and summary.get("inquiry_with_consent_answered")
                and summary.get("inquiry_without_consent_answered") is False
                and summary.get("audit_ok"))


def main(directory: Path | None, people: int = 300, serve: bool = False) -> int:
    return run_main(directory, "bosai", lambda d: run_demo(d, people=people, serve=serve),
                    succeeded, SUMMARY_FILE)

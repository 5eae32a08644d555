"""``tsunagu demo steel``: one coil from the mill to a construction site, on real connectors.

The data-space authority runs the nats-server in operator mode and onboards four
participants, each its own connector with the steel hub: 東北製鉄 (steel_mill), a trading
house (trader), a coil centre (processor) and a construction company (customer). The mill
imports its mill sheet from its CSV layout and issues it signed for one coil; each hand-over
is a signed custody event under an agreement between the two parties; the coil centre slits
the coil into strips and cuts a strip into lengths (derived certificates); one length reaches
the construction company, which verifies the chain back to the mill and exports the
provenance package (JSON-LD, HTML, PDF). Then a tampered copy of the certificate (one byte
altered) is caught, and the trading house's second transfer of the coil it no longer holds
is refused. The supply-chain view of the coil centre and of the construction company is
printed with a token each; ``--serve`` keeps everything running until Ctrl-C.

Every company is made up; no token is written to the summary.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authority.space import AuthorityNats
from authority.state import Authority
from connector.api.tokens import TokenStore
from connector.runtime.connector import Connector
from domains.demos import finish, run_main, start_participant
from domains.steel.csv_import import read_csv
from domains.steel.demo import mill_sheet
from domains.steel.errors import ChainRefused, Problem
from domains.steel.hub import SteelHub
from domains.steel.package import export
from domains.steel.package.bundle import verify_package
from domains.steel.package.text import chain_lines
from domains.steel.provenance import Provenance
from domains.steel.verify import verify_chain
from domains.steel.view.mounted import PATH, SCOPE

Say = Callable[[str], None]
SUMMARY_FILE = "summary.json"
ARRIVAL_S = 30.0


@dataclass(frozen=True)
class Party:
    label: str
    name: str
    legal_id: str  # made-up 法人番号s with valid check digits
    role: str
    serves: bool = False  # its supply-chain view is printed


MILL = Party("mill", "東北製鉄株式会社 (架空)", "8000000000001", "steel_mill")
TRADER = Party("trader", "つなぐ商事株式会社 (架空)", "7000012050002", "trader")
CENTRE = Party("coil-centre", "みやぎコイルセンター株式会社 (架空)", "5800001205000",
               "processor", serves=True)
BUILDER = Party("builder", "仙台つなぐ建設株式会社 (架空)", "4011105005400", "customer",
                serves=True)
PARTIES = (MILL, TRADER, CENTRE, BUILDER)

STRIPS = [f"{mill_sheet.COIL}-S{i}" for i in range(1, 5)]    # 4 strips of the coil
LENGTHS = [f"{STRIPS[1]}-L{i}" for i in range(1, 4)]          # strip 2 cut in 3 lengths
DELIVERED = LENGTHS[0]


@dataclass
class Member:
    party: Party
    connector: Connector

    @property
    def hub(self) -> SteelHub:
        return self.connector.plugin_services["steel"]  # type: ignore[return-value]


async def arrives(member: Member, piece: str) -> None:
    deadline = time.monotonic() + ARRIVAL_S
    while piece not in member.hub.pieces():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{piece} never reached {member.party.label}")
        await asyncio.sleep(0.05)


async def deliver(sender: Member, receiver: Member, pieces: Sequence[str]) -> dict[str, Any]:
    """The receiver agrees to the sender's custody events for it; the sender transfers."""
    await sender.hub.open_deliveries(receiver.party.legal_id)
    await receiver.hub.receive_from(sender.connector.did, sender.party.legal_id)
    event = await sender.hub.transfer(list(pieces), receiver.connector.did,
                                      receiver.party.name)
    await arrives(receiver, pieces[0])
    return event


def import_mill_sheet(workdir: Path) -> dict[str, Any]:
    """The mill's CSV file, read as ``tsunagu steel import`` reads it."""
    path = workdir / "mill-sheet.csv"
    path.write_text(mill_sheet.csv_text(), encoding="utf-8")
    (_, document), = read_csv(path, mill_sheet.LOGO)
    if isinstance(document, Problem):
        raise RuntimeError(f"the demo mill sheet does not import: {document.message}")
    return document


def tampered(records: Sequence[dict[str, Any]], piece: str) -> tuple[Provenance, str]:
    """The chain with one byte of the mill's certificate altered (its carbon content, in
    the signed JSON text): the provenance that finds it, and what was altered."""
    certificate = records[0]
    text = json.dumps(certificate, ensure_ascii=False)
    old = '"Value": "0.05"'
    at = text.index(old) + len(old) - 2
    altered = json.loads(text[:at] + "9" + text[at + 1:])  # C 0.05 % -> 0.09 %
    return verify_chain([altered, *records[1:]], piece), "C 0.05 % -> 0.09 %"


async def run_demo(workdir: Path, say: Say = print, serve: bool = False) -> dict[str, Any]:
    """Run the scenario in ``workdir``; return what happened (tests, scripts)."""
    summary: dict[str, Any] = {"steps": []}

    def step(text: str) -> None:
        summary["steps"].append(text)
        say(text)

    authority = Authority.init(workdir / "authority", name="tsunagu steel demo authority")
    nats = AuthorityNats(authority)
    url = await nats.start(store_dir=workdir / "nats")
    step(f"1. 認証局が nats-server を起動しました (JetStream、operator モード): {url}")
    members: dict[str, Member] = {}
    try:
        for party in PARTIES:
            connector, _ = await start_participant(workdir, authority, nats, party.label,
                                                   party.name, party.legal_id, party.role,
                                                   api=party.serves)
            members[party.label] = Member(party, connector)
        mill, trader, centre, builder = (members[p.label] for p in PARTIES)
        step("2. 参加者を登録しました (それぞれ自分のコネクタ): " + "、".join(
            f"{p.name} ({p.role})" for p in PARTIES))

        document = import_mill_sheet(workdir)
        certificate = await mill.hub.issue(document, [mill_sheet.COIL])
        checks = certificate["checks"]
        step(f"3. {MILL.name} がミルシート (CSV → EN 10168) を署名して発行しました: 証明書 "
             f"{mill_sheet.CERTIFICATE_NUMBER}、溶鋼番号 {mill_sheet.HEAT}、"
             f"{certificate.get('gradeStandard')} {certificate.get('gradeDesignation')}、"
             f"コイル {mill_sheet.COIL} {mill_sheet.MASS_KG:.0f} kg、規格検査 "
             f"{sum(c['status'] == 'pass' for c in checks)}/{len(checks)} 合格")

        await deliver(mill, trader, [mill_sheet.COIL])
        await deliver(trader, centre, [mill_sheet.COIL])
        step(f"4. コイルを {TRADER.name} に、さらに {CENTRE.name} に引き渡しました (当事者間の"
             "契約のもとで署名した引渡し記録、原本の証明書はそのまま)")

        await centre.hub.split(mill_sheet.COIL, [
            {"pieceId": p, "massKg": 2980.0, "thicknessMm": 3.2, "widthMm": 300.0}
            for p in STRIPS], document_number="MCC-SL-0001", operation="slit",
            scrap_kg=70.0, kerf_kg=10.0)
        await centre.hub.split(STRIPS[1], [
            {"pieceId": p, "massKg": 990.0, "thicknessMm": 3.2, "widthMm": 300.0,
             "lengthMm": 6000.0} for p in LENGTHS], document_number="MCC-CT-0001",
            operation="cut", scrap_kg=8.0, kerf_kg=2.0)
        step(f"5. {CENTRE.name} がコイルを {len(STRIPS)} 本の帯鋼にスリットし (派生証明書 "
             f"MCC-SL-0001)、帯鋼 {STRIPS[1]} を {len(LENGTHS)} 本に切断しました (派生証明書 "
             "MCC-CT-0001、成分・機械試験値は親から継承)")

        await deliver(centre, builder, [DELIVERED])
        issuers = {m.connector.did: m.party.name for m in members.values()}
        provenance = builder.hub.provenance(DELIVERED, issuers)
        summary.update(delivered=DELIVERED, verified=provenance.verified,
                       chain=[link.kind for link in provenance.links],
                       holder=provenance.holder_name)
        verdict = ("すべての署名と原本へのリンクを確認しました" if provenance.verified
                   else "検証に失敗しました")
        step(f"6. {DELIVERED} を {BUILDER.name} に納入しました。受け取った側で検証: "
             f"{verdict} ({len(provenance.links)} 件の記録)")
        for line in chain_lines(provenance):
            say("   " + line)

        view_url = {label: _view_url(members[label]) for label in (CENTRE.label,
                                                                   BUILDER.label)}
        exported = export.build(provenance, base_url=view_url[BUILDER.label])
        files = export.write(exported, workdir / "package")
        package = json.loads(files[0].read_text(encoding="utf-8"))
        findings = verify_package(package)
        summary.update(package=[str(f) for f in files], package_findings=len(findings))
        step(f"7. 来歴資料を書き出しました ({', '.join(f.name for f in files)}: {files[0].parent})"
             f"、再検証の指摘 {len(findings)} 件")

        caught, altered = tampered(list(provenance.records), DELIVERED)
        failed = [c for link in caught.links for c in link.checks if not c.ok]
        summary["tampering"] = {"altered": altered, "caught": not caught.verified,
                                "code": failed[0].code if failed else None}
        step(f"8. 改ざんを検出しました: 証明書の 1 バイトを変更 ({altered}) → "
             + (f"{failed[0].reason_ja}" if failed else "検出されず"))
        try:
            await trader.hub.transfer([mill_sheet.COIL], centre.connector.did, CENTRE.name)
            summary["double_transfer"] = None
        except ChainRefused as exc:
            summary["double_transfer"] = str(exc.code)
            step(f"9. {TRADER.name} が引渡し済みのコイルを再び引き渡そうとして拒否されました: "
                 f"{exc.code}")

        summary["views"] = print_views(members, view_url, say)
        return await finish(workdir, summary, say, serve, SUMMARY_FILE)
    finally:
        for member in reversed(list(members.values())):
            await member.connector.stop()
        await nats.close()


def _view_url(member: Member) -> str:
    api = member.connector.api
    assert api is not None and api.port is not None
    return f"http://127.0.0.1:{api.port}/domains/steel/{PATH}"


def print_views(members: dict[str, Member], urls: dict[str, str], say: Say
                ) -> dict[str, str]:
    """Each served view's URLs and a token for it (printed, never written down)."""
    for n, (label, url) in enumerate(urls.items(), start=10):
        member = members[label]
        token = TokenStore(member.connector.store).issue([SCOPE], days=1).token
        say(f"{n}. {member.party.name} のサプライチェーン画面: {url}?q={mill_sheet.HEAT}")
        say(f"   トークン (ログイン画面に貼り付け、または Authorization: Bearer): {token}")
    return {label: f"{url}?q={mill_sheet.HEAT}" for label, url in urls.items()}


def succeeded(summary: dict[str, Any]) -> bool:
    return bool(summary.get("verified") and summary.get("package_findings") == 0
                and summary.get("tampering", {}).get("caught")
                and summary.get("double_transfer"))


def main(directory: Path | None, serve: bool = False) -> int:
    # WeasyPrint tells each step of each PDF at info: not what a demo's reader follows.
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return run_main(directory, "steel", lambda d: run_demo(d, serve=serve), succeeded, SUMMARY_FILE)


__all__ = ["main", "run_demo", "succeeded"]

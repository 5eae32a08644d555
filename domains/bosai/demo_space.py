"""``tsunagu demo``: a small disaster data space running for real, printed step by step.

A data-space authority running the data space's nats-server in operator mode (as
``tsunagu authority serve`` does), and two connectors with all their services, each logged in
with the NATS user the authority issued: 仙台市 (municipality) holds the evacuee registry and
shelter status; a shelter-operating NPO finds them in the city's catalog, negotiates,
receives signed records under the agreement (through the stream import the authority opened
for it) and uses them only as the agreement allows. Then the city ends the agreement (the
NPO purges) and the authority revokes the NPO: the server disconnects it, the city refuses
its credential and ends its remaining agreement with it. Evacuees are generated, never real
people; no personal value is ever printed or logged.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from authority.space import AuthorityNats
from authority.state import Authority
from connector.control.audit import verify_chain
from connector.control.decisions import Reader, Use
from connector.control.gate import UsageDenied
from connector.runtime.connector import Connector
from domains.bosai.demo_people import evacuees
from domains.bosai.policies import evacuee_registry, shelter_status_open
from domains.bosai.vocab import RECORD_CONTEXT
from domains.demos import start_participant
from trust.errors import CredentialError, CredentialRevoked
from trust.legal_id import corporate_number_check_digit
from trust.status_list import StatusListCache
from usage_policies.serialize import to_dsp

Say = Callable[[str], None]

CITY_NAME, CITY_CODE = "仙台市", "041009"  # 全国地方公共団体コード of 仙台市
NPO_NAME = "NPO法人 みやぎ避難所支援ネット (架空)"
NPO_BASE = "012345678901"  # a fictional corporate number base; the check digit is computed
NPO_NUMBER = f"{corporate_number_check_digit(NPO_BASE)}{NPO_BASE}"
EVACUEES = "urn:tsunagu:demo:dataset:evacuees-041009"
SHELTERS = "urn:tsunagu:demo:dataset:shelter-status-041009"
SHELTER_IDS = [f"041009-{n:04d}" for n in range(1, 6)]


def _offer(policy: Any) -> dict[str, Any]:
    document = to_dsp(policy, standalone=False)
    document.pop("target", None)  # offers inside a DSP Dataset carry no target
    return document


async def participant(workdir: Path, authority: Authority, space: AuthorityNats, label: str,
                       name: str, legal_id: str, role: str, *, api: bool = False
                       ) -> tuple[Connector, StatusListCache]:
    """Onboard a participant (key, credential, NATS user) and start its connector with
    every service; ``api`` also serves its app API (and plug-in pages) on 127.0.0.1."""
    return await start_participant(workdir, authority, space, label, name, legal_id, role,
                                   api=api)


async def until(predicate: Callable[[], bool], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


NPO_APP = Reader.app("demo-app")  # the NPO's app, reading what its connector received


def _held(connector: Connector, dataset: str) -> int:
    return connector.gate.held_count(dataset=dataset)


def api_port(connector: Connector) -> int:
    """The port a connector started with ``api=True`` serves its app API on."""
    assert connector.api is not None and connector.api.port is not None
    return connector.api.port


async def run_demo(workdir: Path, say: Say = print, people: int = 300) -> dict[str, Any]:
    """Run the scenario in ``workdir``; return what happened, for tests and scripts."""
    summary: dict[str, Any] = {}
    authority = Authority.init(workdir / "authority", name="tsunagu demo authority")
    space = AuthorityNats(authority)
    url = await space.start(store_dir=workdir / "nats")
    say(f"1. the authority runs nats-server (JetStream, operator mode) on {url}")
    running: list[Connector] = []
    try:
        city, city_lists = await participant(workdir, authority, space, "city",
                                              CITY_NAME, CITY_CODE, "municipality")
        npo, _ = await participant(workdir, authority, space, "npo", NPO_NAME,
                                    NPO_NUMBER, "shelter_operator")
        running += [city, npo]
        say(f"2. authority onboarded {CITY_NAME} (municipality) and the NPO "
            "(shelter_operator): a credential and a NATS account each; both connectors are "
            "running")

        # The city declares the phase; the NPO's connector asserts what the city announced
        # (each connector decides with the facts it holds; an unknown phase denies).
        for connector in (city, npo):
            connector.facts.set("disasterPhase", "response")
        datasets = city.datasets
        await datasets.offer_dataset(
            SHELTERS, "指定避難所の開設状況", [_offer(shelter_status_open(
                "urn:tsunagu:demo:offer:shelters-open", assigner=city.did))],
            keywords=["避難所", "shelter"])
        registry_offer = _offer(evacuee_registry("urn:tsunagu:demo:offer:evacuees",
                                                 assigner=city.did))
        await datasets.offer_dataset(EVACUEES, "避難者名簿", [registry_offer],
                                     keywords=["避難者", "evacuee"])
        say("3. city declared disaster phase 'response' and offered two datasets: shelter "
            "status (open) and the evacuee registry (shelter operators, disaster response, "
            "response phase only, no onward transfer, delete after recovery)")

        query = "避難者 ｅｖａｃｕｅｅ"  # full-width letters fold to "evacuee"
        found = await npo.catalog.fetch(city.did, query)
        summary["catalog"] = [d["@id"] for d in found["dataset"]]
        say(f"4. NPO searched the city's catalog for '{query}': "
            f"{len(summary['catalog'])} dataset(s) found")

        started = await npo.negotiations.start(city.did, EVACUEES, registry_offer["@id"],
                                               purpose="disaster_response")
        done = await npo.negotiations.wait(started["pid"], timeout=20)
        summary["negotiation"] = done["state"]
        agreement_id = done["agreementId"]
        say(f"5. negotiation {done['state']}: agreement signed by both connectors")
        transfer = await npo.transfers.start(agreement_id)
        await npo.transfers.wait(transfer["pid"], "STARTED", timeout=20)

        records = city.records
        for person in evacuees(people, SHELTER_IDS):
            await records.publish(EVACUEES, person)
        await until(lambda: _held(npo, EVACUEES) >= people, timeout=120)
        summary["delivered"] = _held(npo, EVACUEES)
        say(f"6. city registered {people} synthetic evacuees; the NPO received and verified "
            f"{summary['delivered']} signed records over the transfer")

        first = "urn:tsunagu:demo:evacuee:00000"
        npo.gate.read(NPO_APP, Use("disaster_response"), first)
        try:
            npo.gate.read(NPO_APP, Use("research"), first)
            summary["research_refused"] = False
        except UsageDenied as exc:
            summary["research_refused"] = True
            say(f"7. NPO used a record for disaster_response (permitted) and was refused for "
                f"research ({exc.code})")

        await city.agreements.terminate(agreement_id, "応急期の終了")
        await until(lambda: _held(npo, EVACUEES) == 0, timeout=30)
        summary["purged"] = True
        say("8. city ended the agreement; the NPO's connector purged every record it held "
            "under it")

        shelters = await npo.negotiations.start(city.did, SHELTERS,
                                                "urn:tsunagu:demo:offer:shelters-open")
        shelters = await npo.negotiations.wait(shelters["pid"], timeout=20)
        authority.revoke(did=npo.did, reason="demo")
        await space.revoke(npo.did)
        await until(lambda: not npo.nc.is_connected, timeout=10)
        city_lists.add(authority.status_list_jwt())  # what the city's next refresh fetches
        await city.status_changed()
        ended = city.agreements.get(shelters["agreementId"])["status"] == "terminated"
        try:
            city.checker.check(npo.identity.credential, npo.did)
            summary["revoked_refused"] = False
        except CredentialError as exc:
            summary["revoked_refused"] = isinstance(exc, CredentialRevoked) and ended
            say(f"9. authority revoked the NPO: the nats-server disconnected it, the city "
                f"ended its other agreement with it, and the city refuses it: {exc.code}")

        for label, connector in (("city", city), ("npo", npo)):
            report = verify_chain(connector.audit.lines())
            summary[f"audit_{label}"] = report.ok
            say(f"   audit log of the {label}: {report.lines} lines, "
                f"{'intact' if report.ok else 'BROKEN'}")
        say("done: every message signed, every credential checked, every record verified, "
            "every use decided by the agreement")
        return summary
    finally:
        for connector in running:
            await connector.stop()
        await space.close()


def succeeded(summary: dict[str, Any]) -> bool:
    return bool(summary.get("negotiation") == "FINALIZED" and summary.get("research_refused")
                and summary.get("purged") and summary.get("revoked_refused")
                and summary.get("audit_city") and summary.get("audit_npo"))


def main(directory: Path | None, people: int = 300) -> int:
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        summary = asyncio.run(run_demo(directory, people=people))
    else:
        with tempfile.TemporaryDirectory(prefix="tsunagu-demo-") as tmp:
            summary = asyncio.run(run_demo(Path(tmp), people=people))
    return 0 if succeeded(summary) else 1


__all__ = ["RECORD_CONTEXT", "main", "run_demo"]

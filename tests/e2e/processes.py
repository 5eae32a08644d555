"""Connectors and an authority as real OS processes, started through the ``tsunagu`` CLI.

What a participant runs is what these tests run: ``tsunagu authority serve``,
``tsunagu connector init`` / ``run`` / ``token``; so a SIGKILL here is a real crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
import pytest

from authority.space import AuthorityNats
from authority.state import Authority
from connector.api.sdk import ApiError, TsunaguClient, _sse_fields
from connector.bus.server import EmbeddedNatsServer
from connector.cli.main import main as _main
from connector.cli.store_key import store_key_for
from connector.runtime.at_rest import NATS_CREDS_ROLE
from connector.runtime.config import load_config
from connector.store.database import open_sqlite
from trust.at_rest import read_secret

PYTHON_CLI = [sys.executable, "-m", "connector.cli.main"]


def cli(args: list[str]) -> int:
    """``tsunagu ARGS`` in this process, on a thread of its own: some commands run their own
    event loop (asyncio.run), which cannot start inside a test's running loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_main, args).result()


def _operator_config(authority_dir: Path, store_dir: Path) -> str:
    """The authority's operator-mode config for a nats-server keeping JWTs in store_dir."""
    authority = AuthorityNats(Authority.open(authority_dir))
    with ThreadPoolExecutor(1) as pool:  # its own event loop, as for cli()
        return pool.submit(asyncio.run, authority.server_config(store_dir / "jwt")).result()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_ready(proc: subprocess.Popen[str], pattern: str, timeout: float) -> re.Match[str]:
    """Wait for the line announcing readiness; keep draining stdout afterwards."""
    lines: list[str] = []
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: lines.extend(stdout), daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(lines):
            found = re.search(pattern, line)
            if found:
                return found
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before it was ready")
        time.sleep(0.05)
    raise TimeoutError(f"no {pattern!r} within {timeout} s; output so far: {lines[-5:]}")


@dataclass
class Process:
    args: list[str]
    log: Path
    ready: str
    proc: subprocess.Popen[str] | None = None
    match: re.Match[str] | None = None

    def start(self, timeout: float = 30.0) -> re.Match[str]:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a") as err:
            self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=err,
                                         text=True)
        self.match = _read_ready(self.proc, self.ready, timeout)
        return self.match

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


@dataclass
class Participant:
    name: str
    directory: Path
    did: str = ""
    api_port: int = 0
    token: str = ""
    process: Process | None = None
    extra: dict = field(default_factory=dict)
    log: Path | None = None  # the connector's stderr; default: connector.log in its directory

    @property
    def config(self) -> Path:
        return self.directory / "participant.toml"

    @property
    def store(self) -> Path:
        return self.directory / "connector.sqlite"

    @property
    def log_path(self) -> Path:
        return self.log or self.directory / "connector.log"

    def nats_creds(self) -> str:
        """Its NATS user credentials in the clear (the file is sealed at rest)."""
        key = load_config(self.config).load_at_rest_key()
        return read_secret(self.directory / "nats.creds", NATS_CREDS_ROLE, key).decode()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self) -> None:
        self.process = Process([*PYTHON_CLI, "--log-format", "json", "connector", "run",
                                "--config", str(self.config)],
                               self.log_path, r"ready participant=(\S+)")
        self.process.start()

    def restart_after_kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.start()


class DataSpace:
    """An authority serving its status list and the data space's NATS, and participants
    created through the CLI.

    NATS runs in operator mode, as deployed: each connector logs in with the user the
    authority issued with its credential, and reads other participants' data only through
    the stream grants of its agreements.

    - default: ``tsunagu authority serve`` starts the data space's nats-server and announces
      its URL (``self.nats_url``);
    - ``nats_server``: a server the test owns (e.g. to crash and restart it) becomes the data
      space's: it is restarted in the authority's operator mode and given to ``serve``;
    - ``nats_url`` (a plain server's URL): INSECURE, kept for tests written before operator
      mode: connectors join it without credentials (``--insecure-no-auth``).

    ``log_dir``: where the connectors' logs go (``<label>.log``) instead of their data
    directories, e.g. when a test fills the disk those live on. ``at_rest``: participants
    encrypted at rest as `connector init` makes them (False: ``--plain-at-rest``, for the
    benchmark's comparison)."""

    def __init__(self, root: Path, nats_url: str | None = None, log_dir: Path | None = None,
                 *, nats_server: EmbeddedNatsServer | None = None, at_rest: bool = True) -> None:
        self.root, self.log_dir, self.at_rest = root, log_dir, at_rest
        self.insecure = nats_url is not None
        self.authority_dir = root / "authority"
        assert cli(["authority", "init", "--dir", str(self.authority_dir),
                    "--name", "test authority"]) == 0
        serve = [*PYTHON_CLI, "authority", "serve", "--dir", str(self.authority_dir),
                 "--port", str(free_port())]
        if self.insecure:
            serve.append("--no-nats")
        elif nats_server is not None:
            nats_server.configure(_operator_config(self.authority_dir, nats_server.store_dir))
            nats_server.restart_sync()
            serve += ["--nats-url", nats_server.url]
        self.authority = Process(serve, root / "authority.log",
                                 r"authority (\S+) serving on (\S+)(?: nats (\S+))?")
        match = self.authority.start()
        self.authority_did, self.authority_url = match.group(1), match.group(2)
        self.nats_url: str = nats_url or match.group(3)
        self.participants: list[Participant] = []

    def onboard(self, label: str, name: str, legal_id: str, role: str) -> Participant:
        p = Participant(name=name, directory=self.root / label, api_port=free_port(),
                        log=self.log_dir / f"{label}.log" if self.log_dir else None)
        assert cli(["connector", "init", "--dir", str(p.directory), "--name", name,
                    "--legal-id", legal_id, "--role", role,
                    "--authority-did", self.authority_did,
                    "--status-list-url", f"{self.authority_url}/status-list",
                    # Revocations reach the connectors within a second.
                    "--status-list-refresh", "1",
                    "--nats-url", self.nats_url, "--api-port", str(p.api_port),
                    *(["--insecure-no-auth"] if self.insecure else []),
                    *([] if self.at_rest else ["--plain-at-rest"])]) == 0
        assert cli(["authority", "issue", "--dir", str(self.authority_dir), "--request",
                    str(p.directory / "credential-request.json"),
                    "--out", str(p.directory / "credential.jwt")]) == 0
        p.start()
        assert p.process is not None and p.process.match is not None
        p.did = p.process.match.group(1)
        result = subprocess.run([*PYTHON_CLI, "connector", "token", "--store",
                                 str(p.store), "--scope", "admin"],
                                capture_output=True, text=True, check=True)
        p.token = result.stdout.strip()
        self.participants.append(p)
        return p

    def pair(self) -> tuple[Participant, Participant]:
        """The usual two: a city (provider) and a shelter operator (consumer)."""
        provider = self.onboard("city", "仙台市", "041009", "municipality")
        consumer = self.onboard("npo", "避難所運営 NPO", "7000012050002", "shelter_operator")
        return provider, consumer

    def close(self) -> None:
        for p in self.participants:
            if p.process is not None:
                p.process.stop()
        self.authority.stop()


async def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


# ---------------------------------------------------------------- one dataset, two apps
# Shared by tests/e2e/test_processes.py and tests/faults/: a provider app publishing one
# dataset in batches, a contract, and a consumer app counting what it is handed.

SCALE = float(os.environ.get("TSUNAGU_E2E_SCALE", "1"))
DATASET = "urn:tsunagu:test:dataset:shelter-status"
OFFER = {"@id": "urn:tsunagu:test:offer:open", "@type": "Offer",
         "permission": [{"action": "use"}]}
CONTEXT = "https://w3id.org/tsunagu/v1"
PURPOSE = "disaster_response"  # what the apps declare when they read received records
# What a dying connector or a dropped connection looks like to an HTTP client.
TRANSIENT = (aiohttp.ClientError, ConnectionError, TimeoutError)


def scaled(n: int) -> int:
    """A test size scaled by TSUNAGU_E2E_SCALE (CI runs the sizes of the issue)."""
    return max(1, int(n * SCALE))


def record(i: int) -> dict:
    return {"@context": [CONTEXT], "id": f"urn:tsunagu:test:record:{i:06d}", "type": "Record"}


@pytest.fixture
def space(tmp_path: Path, nats_server):
    """The data space in operator mode on the ``nats_server`` fixture's server (so a test
    may crash and restart it with tests.nats_fixtures.crash_and_restart)."""
    ds = DataSpace(tmp_path, nats_server=nats_server)
    yield ds
    ds.close()


async def publish_once(client: TsunaguClient, records: list[dict]) -> None:
    """Publish one batch exactly once, even when the provider connector dies mid-request.

    A batch is one transaction, so after a failed request its last record tells whether it
    was committed before the failure; only a batch that was not is sent again (sending a
    committed one again would publish every record a second time, as version 2)."""
    while True:
        try:
            await client.publish_batch(DATASET, records)
            return
        except TRANSIENT:
            pass
        except ApiError as exc:
            if exc.status < 500:
                raise
        while True:  # until the provider answers again
            await asyncio.sleep(0.2)
            try:
                await client.record(records[-1]["id"])
                return  # committed before the failure
            except ApiError as exc:
                if exc.status == 404:
                    break  # not committed: send it again
                if exc.status < 500:
                    raise
            except TRANSIENT:
                continue


async def publish_all(client: TsunaguClient, first: int, last: int, batch: int = 250,
                      progress: list[int] | None = None,
                      pace: Callable[[int], Awaitable[None]] | None = None) -> None:
    """The provider app publishes in batches (one request, one transaction each).

    ``progress[0]``: records published so far; ``pace(i)`` is awaited before the batch
    starting at record ``i`` (a test keeps the stream steady with it)."""
    for start in range(first, last, batch):
        end = min(start + batch, last)
        if pace is not None:
            await pace(start)
        await publish_once(client, [record(i) for i in range(start, end)])
        if progress is not None:
            progress[0] = end


async def contract(provider: TsunaguClient, consumer: TsunaguClient, provider_did: str
                   ) -> tuple[str, str]:
    """Catalog -> negotiation FINALIZED -> transfer STARTED; returns (agreement, transfer)."""
    await provider.offer_dataset(DATASET, "避難所の開設状況 (テスト)", [OFFER],
                                 keywords=["避難所", "shelter"])
    found = await consumer.catalog(provider_did, "ﾃｽﾄ 避難所")  # half-width kana
    assert [d["@id"] for d in found["dataset"]] == [DATASET]
    negotiation = await consumer.negotiate(provider_did, DATASET, OFFER["@id"])

    async def finalized():
        n = await consumer.negotiation(negotiation.pid)
        return n if n.state in ("FINALIZED", "TERMINATED") else None

    done = await wait_for(finalized, 20, "negotiation to finish")
    assert done.state == "FINALIZED"
    agreement = done.agreement_id
    transfer = await consumer.transfer(agreement)

    async def started():
        t = await consumer.get_transfer(transfer.pid)
        return t if t.state == "STARTED" else None

    await wait_for(started, 20, "transfer to start")
    return agreement, transfer.pid


class App:
    """A consumer app subscribed through the SDK: counts every record version it is handed.

    ``disconnect()`` drops the subscription wherever it is (as an app that dies would);
    ``connect()`` subscribes again from the last event it processed (Last-Event-ID)."""

    def __init__(self, client: TsunaguClient | None, after: int = 0) -> None:
        self.client = client
        self.seen: Counter[tuple[str, int]] = Counter()
        self.seqs: list[int] = []  # event ids in the order they came
        self.last = after  # the last event id processed: where a reconnect resumes
        self.task: asyncio.Task[None] | None = None
        self.connect()

    def connect(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def disconnect(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def _run(self) -> None:
        async for event in self._events():
            # Counted and remembered in one step: a disconnect never falls between the two.
            self.seen[(event["id"], event["version"])] += 1
            self.seqs.append(event["seq"])
            self.last = event["seq"]

    async def _events(self) -> AsyncIterator[dict]:
        assert self.client is not None
        async for event in self.client.subscribe(DATASET, purpose=PURPOSE, after=self.last,
                                                 idle_timeout=20, max_delay=1):
            yield {"seq": event.seq, "id": event.id, "version": event.version}

    @property
    def count(self) -> int:
        return len(self.seen)

    async def until(self, count: int, timeout: float) -> None:
        async def enough():
            assert self.task is not None
            if self.task.done():  # the subscription ended: say why instead of timing out
                self.task.result()
                raise AssertionError(f"the subscription ended after {self.count} records")
            return self.count >= count
        await wait_for(enough, timeout, f"{count} records at the app", interval=0.2)

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()


class EventSourceApp(App):
    """An app reading ``/events`` itself, as a browser's EventSource does: Last-Event-ID on
    every connect, and nothing filtered on the client, so a repeat the connector sent after
    a reconnect would be counted (the SDK drops event ids it has seen)."""

    def __init__(self, participant: Participant, after: int = 0) -> None:
        self.url, self.token = participant.api_url, participant.token
        super().__init__(None, after)

    async def _events(self) -> AsyncIterator[dict]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream",
                   "Last-Event-ID": str(self.last)}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=20)
        async with aiohttp.ClientSession() as session, \
                session.get(f"{self.url}/events",
                            params={"dataset": DATASET, "purpose": PURPOSE},
                            headers=headers, timeout=timeout) as resp:
            assert resp.status == 200, await resp.text()
            async for name, value in _sse_fields(resp.content):
                if name == "event":
                    yield orjson.loads(value)


def read_store(store: Path, sql: str, *params: object) -> list[tuple]:
    """Rows from a connector's SQLite store (the connector may be running), opened with the
    at-rest key its participant.toml names, as `tsunagu connector token` finds it."""
    db = open_sqlite(store, store_key_for(store, None))
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def audit_entries(store: Path) -> list[dict]:
    return [orjson.loads(line) for (line,) in read_store(store, "SELECT line FROM audit")]


def audit_events(store: Path) -> list[str]:
    return [entry["event"] for entry in audit_entries(store)]


async def assert_exactly_once(app: App, n: int, provider: Participant, consumer: Participant
                              ) -> None:
    """Records 0..n-1 were each published once (version 1) and reached the app exactly once,
    as the consumer's store recorded them; both audit chains are intact."""
    async def outbox_empty():
        # A version whose JetStream ack was lost in a crash is already in the stream; the
        # provider marks it when its outbox retry sends it again (deduplicated).
        return read_store(provider.store, "SELECT count(*) FROM record_versions "
                                          "WHERE published = 0") == [(0,)]
    await wait_for(outbox_empty, 30, "the provider's outbox to drain", interval=0.5)
    expected = {(record(i)["id"], 1) for i in range(n)}
    twice = sorted(k for k, c in app.seen.items() if c > 1)
    lost = sorted(expected - set(app.seen))
    extra = sorted(set(app.seen) - expected)
    assert (len(lost), len(twice), len(extra)) == (0, 0, 0), \
        f"lost {lost[:5]}, twice {twice[:5]}, unexpected {extra[:5]}"
    seqs = [seq for (seq,) in read_store(consumer.store, "SELECT seq FROM deliveries "
                                                         "ORDER BY seq")]
    assert app.seqs == seqs  # each delivery row once, in order
    assert len(seqs) == n
    assert read_store(consumer.store, "SELECT count(*) FROM dead_letters") == [(0,)]
    # One audit line per pulled batch, with its count (and the digest of its ids).
    assert sum(e["records"] for e in audit_entries(consumer.store)
               if e["event"] == "delivery") == n
    assert read_store(provider.store, "SELECT count(*), sum(published), max(version) "
                                      "FROM record_versions") == [(n, n, 1)]
    assert audit_events(provider.store).count("published") == n
    for p in (provider, consumer):
        assert read_store(p.store, "PRAGMA integrity_check") == [("ok",)]
        assert cli(["audit", "verify", "--store", str(p.store)]) == 0

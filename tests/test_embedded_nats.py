"""Embedded NATS: a real nats-server child process, JetStream durability, no orphans."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from connector.bus.connection import (
    NatsConnectError,
    NatsSettings,
    close_nats,
    connect,
    open_nats,
)
from connector.bus.server import EmbeddedNatsServer, NatsServerError
from tests.nats_fixtures import crash_and_restart, nats_settings_for
from trust import nats_jwt


def pid_alive(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: fall back to signal 0
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def varz(server: EmbeddedNatsServer) -> dict:
    with urllib.request.urlopen(f"{server.monitor_url}/varz", timeout=5) as resp:
        return json.load(resp)


def test_starts_ready_on_loopback_free_port(nats_server: EmbeddedNatsServer) -> None:
    assert nats_server.url == f"nats://127.0.0.1:{nats_server.port}"
    assert nats_server.running
    # Ready means a client gets the INFO greeting right away.
    with socket.create_connection(("127.0.0.1", nats_server.port), timeout=2) as sock:
        assert sock.recv(5) == b"INFO "
    info = varz(nats_server)
    assert info["host"] == "127.0.0.1"
    assert info["port"] == nats_server.port
    assert info["jetstream"]["config"]["store_dir"] == str(nats_server.store_dir / "jetstream")
    assert "Server is ready" in nats_server.log_path.read_text()
    assert nats_server.config_path.is_file()


def test_two_servers_get_different_ports(tmp_path: Path) -> None:
    with (
        EmbeddedNatsServer(tmp_path / "a") as a,
        EmbeddedNatsServer(tmp_path / "b") as b,
    ):
        assert a.port != b.port
        assert a.monitor_url != b.monitor_url
        assert varz(a)["port"] == a.port
        assert varz(b)["port"] == b.port


async def test_jetstream_dedup_and_pull_consume(nats_client) -> None:
    js = nats_client.jetstream()
    await js.add_stream(name="ORDERS", subjects=["orders.>"], duplicate_window=60)
    first = await js.publish("orders.new", b"one", headers={"Nats-Msg-Id": "m-1"})
    again = await js.publish("orders.new", b"one", headers={"Nats-Msg-Id": "m-1"})
    second = await js.publish("orders.new", b"two", headers={"Nats-Msg-Id": "m-2"})
    assert not first.duplicate
    assert again.duplicate is True and again.seq == first.seq
    assert second.seq == first.seq + 1
    assert (await js.stream_info("ORDERS")).state.messages == 2

    sub = await js.pull_subscribe(
        "orders.>", durable="worker", config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT)
    )
    msgs = await sub.fetch(10, timeout=2)
    assert [m.data for m in msgs] == [b"one", b"two"]
    for m in msgs:
        await m.ack_sync()
    info = await sub.consumer_info()
    assert info.num_ack_pending == 0 and info.num_pending == 0
    assert info.ack_floor.stream_seq == second.seq


async def test_sigkill_restart_keeps_stream_dedup_and_acks(
    nats_server: EmbeddedNatsServer,
) -> None:
    nc = await connect(nats_settings_for(nats_server))
    assert nc.options["max_reconnect_attempts"] == -1  # a connector never gives up
    try:
        js = nc.jetstream()
        await js.add_stream(name="EVENTS", subjects=["events.>"], duplicate_window=60)
        for i in range(1, 4):
            await js.publish("events.x", str(i).encode(), headers={"Nats-Msg-Id": f"e-{i}"})
        sub = await js.pull_subscribe("events.>", durable="keeper")
        [first] = await sub.fetch(1, timeout=2)
        assert first.data == b"1"
        await first.ack_sync()

        old_pid, old_port = nats_server.pid, nats_server.port
        assert old_pid is not None
        await crash_and_restart(nats_server)
        assert not pid_alive(old_pid)
        assert nats_server.pid != old_pid and nats_server.port == old_port

        deadline = time.monotonic() + 10
        while nc.stats["reconnects"] < 1 or not nc.is_connected:
            assert time.monotonic() < deadline, "client did not reconnect"
            await asyncio.sleep(0.02)

        assert (await js.stream_info("EVENTS")).state.messages == 3
        dup = await js.publish("events.x", b"1", headers={"Nats-Msg-Id": "e-1"})
        assert dup.duplicate is True
        [nxt] = await sub.fetch(1, timeout=2)
        assert nxt.data == b"2", "the durable consumer lost its ack state"
        await nxt.ack_sync()
    finally:
        await close_nats(nc, timeout=2)


def test_stop_leaves_no_process_and_frees_the_store(tmp_path: Path) -> None:
    server = EmbeddedNatsServer(tmp_path / "nats")
    server.start_sync()
    pid = server.pid
    assert pid is not None and pid_alive(pid)
    server.stop_sync()
    assert not pid_alive(pid)
    assert not server.running and server.pid is None
    assert "Server Exiting" in server.log_path.read_text()  # SIGTERM, a clean shutdown
    # The store lock is released: another server may use the store now.
    with EmbeddedNatsServer(tmp_path / "nats") as again:
        assert again.running


def test_second_server_on_same_store_is_refused(nats_server: EmbeddedNatsServer) -> None:
    with pytest.raises(NatsServerError, match="in use") as err:
        EmbeddedNatsServer(nats_server.store_dir).start_sync()
    assert err.value.code == "nats.server"
    assert nats_server.running


async def test_server_dies_with_its_killed_parent(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from connector.bus.server import EmbeddedNatsServer

        server = EmbeddedNatsServer(Path(sys.argv[1]))
        server.start_sync()
        print(server.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        str(tmp_path / "nats"),
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parents[1],
    )
    server_pid = None
    try:
        line = await asyncio.wait_for(parent.stdout.readline(), timeout=15)
        server_pid = int(line)
        assert pid_alive(server_pid)
        parent.send_signal(signal.SIGKILL)  # no atexit, no finally: only PDEATHSIG can help
        await parent.wait()
        assert await asyncio.to_thread(wait_gone, server_pid, 5.0), "orphaned nats-server"
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()
        if server_pid is not None and pid_alive(server_pid):
            os.kill(server_pid, signal.SIGKILL)


async def test_connect_to_external_url_list(
    tmp_path: Path, nats_server: EmbeddedNatsServer
) -> None:
    with socket.socket() as s:  # a port nobody listens on, as a dead cluster member
        s.bind(("127.0.0.1", 0))
        dead = f"nats://127.0.0.1:{s.getsockname()[1]}"
    settings = nats_settings_for(nats_server, urls=f"{dead}, {nats_server.url}")
    unused = tmp_path / "embedded-store"
    async with open_nats(settings, unused) as nc:
        assert nc.connected_url.port == nats_server.port
        sub = await nc.subscribe("ping")
        await nc.publish("ping", b"hello")
        assert (await sub.next_msg(timeout=2)).data == b"hello"
    assert nc.is_closed
    assert not unused.exists(), "an embedded server was started despite external URLs"
    assert nats_server.running


async def test_open_nats_without_urls_runs_and_stops_embedded_server(tmp_path: Path) -> None:
    store = tmp_path / "nats"
    async with open_nats(None, store) as nc:
        js = nc.jetstream()
        await js.add_stream(name="S", subjects=["s"])
        assert (await js.publish("s", b"x")).seq == 1
        log = (store / "nats-server.log").read_text()
        pid = int(log.split("]", 1)[0].lstrip("["))  # nats-server prefixes lines with [pid]
        assert pid_alive(pid)
    assert nc.is_closed
    assert not pid_alive(pid)


async def test_connect_gives_up_on_first_connect_with_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = NatsSettings(
        urls=[f"nats://user:hunter2@127.0.0.1:{port}"],
        reconnect_time_wait=0.1,
        initial_connect_deadline=0.5,
    )
    started = time.monotonic()
    with pytest.raises(NatsConnectError) as err:
        await connect(settings)
    assert time.monotonic() - started < 3
    assert err.value.code == "nats.connect"
    assert f"127.0.0.1:{port}" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_store_dir_that_is_a_file_raises(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "store"
    not_a_dir.write_text("")
    with pytest.raises(NatsServerError, match="not a directory") as err:
        EmbeddedNatsServer(not_a_dir).start_sync()
    assert err.value.code == "nats.server"
    assert str(not_a_dir) in str(err.value)

    below_a_file = not_a_dir / "nats"
    with pytest.raises(NatsServerError, match="store directory is not usable") as err:
        EmbeddedNatsServer(below_a_file).start_sync()
    assert str(below_a_file) in str(err.value)


def test_server_start_failure_names_the_cause_and_the_log(tmp_path: Path) -> None:
    server = EmbeddedNatsServer(tmp_path / "nats", config_extra="max_payload: {{{")
    with pytest.raises(NatsServerError, match="exited with code") as err:
        server.start_sync()
    assert "Parse error" in str(err.value)
    assert str(server.log_path) in str(err.value)
    assert not server.running


def test_port_taken_raises(nats_server: EmbeddedNatsServer, tmp_path: Path) -> None:
    clash = EmbeddedNatsServer(tmp_path / "other", port=nats_server.port)
    with pytest.raises(NatsServerError, match="exited with code") as err:
        clash.start_sync()
    assert str(nats_server.port) in str(err.value)
    assert nats_server.running


def test_settings_validation_hides_secrets() -> None:
    assert NatsSettings(urls="nats://a:4222, tls://b:4222").urls == [
        "nats://a:4222",
        "tls://b:4222",
    ]
    with pytest.raises(ValueError, match="together") as err:
        NatsSettings(urls=["nats://a:4222"], user_jwt="eyJsecret.part.sig")
    assert "eyJsecret" not in str(err.value)
    with pytest.raises(ValueError, match="embedded server has no auth"):
        NatsSettings(credentials_file=Path("/nonexistent.creds"))
    with pytest.raises(ValueError, match="must look like"):
        NatsSettings(urls=["http://a:4222"])
    settings = NatsSettings(urls=["nats://a:4222"], user_jwt="eyJa.b.c", user_seed="SUAKEY")
    assert "SUAKEY" not in repr(settings)


# --- credentials against a real operator-mode server ---------------------------------------------


async def test_credentials_jwt_seed_and_creds_file(tmp_path: Path) -> None:
    operator = nats_jwt.generate_key("operator")
    account, system = nats_jwt.generate_key("account"), nats_jwt.generate_key("account")
    user = nats_jwt.generate_key("user")
    account_pub, system_pub = nats_jwt.public_key(account), nats_jwt.public_key(system)
    user_jwt = nats_jwt.user_jwt(account, nats_jwt.public_key(user), "test")
    sys_limits = nats_jwt.SYSTEM_ACCOUNT_LIMITS
    config = textwrap.dedent(
        f"""
        operator: {nats_jwt.operator_jwt(operator, "test", system_account=system_pub)}
        system_account: {system_pub}
        resolver: MEMORY
        resolver_preload: {{
          {account_pub}: {nats_jwt.account_jwt(operator, account_pub, "test")}
          {system_pub}: {nats_jwt.account_jwt(operator, system_pub, "sys", limits=sys_limits)}
        }}
        """
    )
    creds_file = tmp_path / "user.creds"
    creds_file.write_text(nats_jwt.format_creds(user_jwt, nats_jwt.seed(user)))
    async with EmbeddedNatsServer(tmp_path / "nats", config_extra=config) as server:
        for creds in (
            {"user_jwt": user_jwt, "user_seed": nats_jwt.seed(user)},
            {"credentials_file": creds_file},
        ):
            async with open_nats(nats_settings_for(server, **creds), tmp_path / "unused") as nc:
                sub = await nc.subscribe("hello")
                await nc.publish("hello", b"world")
                assert (await sub.next_msg(timeout=2)).data == b"world"
        # Without credentials the server refuses: the credentials above did the work.
        with pytest.raises(NatsConnectError, match="Authorization Violation"):
            await connect(nats_settings_for(server, initial_connect_deadline=0.5))

"""A full disk under running connectors and a read-only store at start (real processes, as
in tests/e2e/processes.py): the connector refuses new data with ``store.unavailable`` rather than
corrupting what it holds, and once the condition clears, what it held is intact (``PRAGMA
integrity_check``, ``tsunagu audit verify``, exact counts) and the stream goes on exactly once.

How the conditions are made, honestly and without faking SQLite:

* full disk, ``file-size-limit``: RLIMIT_FSIZE set on the running connector process with
  prlimit(2). The kernel then refuses writes past the limit (a short write, then EFBIG;
  Python ignores SIGXFSZ), which SQLite reports as SQLITE_FULL (a short write, as on a full
  disk) or SQLITE_IOERR_WRITE (EFBIG). Needs no privilege, so it runs everywhere.
* full disk, ``tmpfs``: each connector's data directory on a small tmpfs of its own, filled
  with a file until the kernel says ENOSPC. Real ENOSPC; needs root and mount(8), skipped
  elsewhere (a failure in CI: tests/ci.py's skip_or_fail).
* read-only store: the crashed connector's directory made read-only (a read-only bind mount
  when root, where permissions do not bind; ``chmod a-w`` otherwise; skipped for a root
  that cannot mount, a failure in CI), then started again.
  Linux refuses to remount a file system read-only while a file on it is open for writing,
  so a store cannot turn read-only under a running connector: read-only is met at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import resource
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.api.sdk import ApiError, TsunaguClient
from connector.bus.server import EmbeddedNatsServer
from tests.ci import skip_or_fail
from tests.e2e.processes import (
    DATASET,
    PURPOSE,
    PYTHON_CLI,
    App,
    DataSpace,
    Participant,
    assert_exactly_once,
    audit_events,
    contract,
    publish_all,
    read_store,
    record,
    wait_for,
)

pytestmark = pytest.mark.slow  # 8-20 s each; CI runs them (the README test command)

BATCH = 250
HELD = 1_000  # records held by both sides before the fault
WHILE_FULL = 5_000  # published while only the consumer's disk is full: more than it has room for
AFTER = 1_000  # published after the condition cleared


# ------------------------------------------------------------------------- full disks


class FileSizeLimit:
    """RLIMIT_FSIZE on the connector process: no file of it may grow past the limit.

    The limit is the size of its largest file (database or log, plus room for its log lines
    meanwhile): the write-ahead log, appended to past that, and the database, grown by a
    checkpoint past it, are refused (there may be room for a few transactions first, as on
    a real disk)."""

    name = "file-size-limit"

    def __init__(self, participant: Participant) -> None:
        self.participant = participant

    @property
    def pid(self) -> int:
        assert self.participant.process is not None and self.participant.process.proc
        return self.participant.process.proc.pid

    def fill(self) -> None:
        p = self.participant
        limit = max(p.store.stat().st_size, p.log_path.stat().st_size + 1024 * 1024)
        _, hard = resource.prlimit(self.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (limit, hard))

    def clear(self) -> None:
        _, hard = resource.prlimit(self.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (hard, hard))


class Tmpfs:
    """A tmpfs of its own as the participant's data directory; ``fill`` takes all its free
    space with one file, so every write that needs a new block fails with ENOSPC."""

    name = "tmpfs"
    SIZE = "64m"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.filler = directory / "filler"
        directory.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.SIZE}", "tmpfs",
                        str(directory)], check=True, capture_output=True)

    def fill(self) -> None:
        chunk = b"\0" * (1 << 20)
        with open(self.filler, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        with contextlib.suppress(OSError), open(self.filler, "ab", buffering=0) as f:
            while f.write(b"\0"):  # the last bytes of a partly free page
                pass
        assert os.statvfs(self.directory).f_bavail == 0

    def clear(self) -> None:
        self.filler.unlink()

    def unmount(self) -> None:
        # Lazily: a connector that failed to stop may still hold files open.
        subprocess.run(["umount", "-l", str(self.directory)], check=False, capture_output=True)


def tmpfs_possible(tmp_path: Path) -> str | None:
    """Why no tmpfs can be mounted here, or None if it can."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    probe = tmp_path / "probe"
    try:
        disk = Tmpfs(probe)
    except (subprocess.CalledProcessError, OSError) as exc:
        return f"cannot mount a tmpfs here: {exc}"
    disk.unmount()
    return None


@contextlib.contextmanager
def data_space(tmp_path: Path, nats_server: EmbeddedNatsServer, kind: str
               ) -> Iterator[tuple[DataSpace, dict]]:
    """A data space whose two connectors' disks can be filled: ``disks["consumer"].fill()``.
    Logs go elsewhere, so what a connector says while its disk is full is kept."""
    mounts: list[Tmpfs] = []
    if kind == Tmpfs.name:
        reason = tmpfs_possible(tmp_path)
        if reason:
            skip_or_fail(reason)
    space: DataSpace | None = None
    try:
        for label in ("city", "npo") if kind == Tmpfs.name else ():
            mounts.append(Tmpfs(tmp_path / "space" / label))
        space = DataSpace(tmp_path / "space", log_dir=tmp_path / "logs",
                          nats_server=nats_server)
        provider, consumer = space.pair()
        if kind == Tmpfs.name:
            disks = {"provider": mounts[0], "consumer": mounts[1]}
        else:
            disks = {"provider": FileSizeLimit(provider), "consumer": FileSizeLimit(consumer)}
        yield space, disks
    finally:
        if space is not None:
            space.close()
        for m in mounts:
            m.unmount()


def deliveries(p: Participant) -> int:
    return read_store(p.store, "SELECT count(*) FROM deliveries")[0][0]


def held_rows(p: Participant, table: str, upto: int) -> list[tuple]:
    """Rows of records 0..upto-1 as stored: (id, version, SHA-256 of the body)."""
    rows = read_store(p.store, f"SELECT id, version, body FROM {table} WHERE id <= ? "
                               "ORDER BY id, version", record(upto - 1)["id"])
    return [(i, v, hashlib.sha256(body).hexdigest()) for i, v, body in rows]


@pytest.mark.parametrize("kind", [FileSizeLimit.name, Tmpfs.name])
async def test_full_disk_refuses_new_data_and_keeps_what_it_holds(tmp_path, nats_server, kind):
    with data_space(tmp_path, nats_server, kind) as (space, disks):
        provider, consumer = space.participants
        async with TsunaguClient(provider.api_url, provider.token) as p_app, \
                TsunaguClient(consumer.api_url, consumer.token, purpose=PURPOSE) as c_app:
            await contract(p_app, c_app, provider.did)
            app = App(c_app)
            try:
                await publish_all(p_app, 0, HELD, batch=BATCH)
                await app.until(HELD, timeout=60)
                held = held_rows(consumer, "held_records", HELD)
                own = held_rows(provider, "record_versions", HELD)

                # 1. The consumer's disk is full: it cannot store deliveries, so it acks
                # none of them; they wait in the stream. A read of what it holds is released
                # only with its audit line (the usage gate): where the full disk leaves no
                # room for that line, the read is refused, never released unaudited.
                disks["consumer"].fill()
                n = HELD + WHILE_FULL
                await publish_all(p_app, HELD, n, batch=BATCH)

                async def refused_in_log():
                    return "store.unavailable" in consumer.log_path.read_text()
                await wait_for(refused_in_log, 30, "the consumer to report store.unavailable")
                stored = deliveries(consumer)
                assert stored < n, "the consumer stored everything although its disk is full"
                uses = audit_events(consumer.store).count("use")
                try:
                    page = await c_app.held(DATASET, limit=10)
                except ApiError as exc:
                    assert (exc.status, exc.code) == (503, "store.unavailable"), exc
                    assert audit_events(consumer.store).count("use") == uses
                else:
                    assert len(page.items) == 10
                    assert audit_events(consumer.store).count("use") == uses + 1

                # 2. The provider's disk is full too: a batch is refused whole, with a clear
                # error, never half stored (there may be room for a few batches first).
                disks["provider"].fill()
                refused: ApiError | None = None
                accepted = 0  # batches that still found room
                while refused is None and accepted < 400:
                    batch = [record(i) for i in range(n, n + BATCH)]
                    try:
                        await p_app.publish_batch(DATASET, batch)
                    except ApiError as exc:
                        refused = exc
                    else:
                        accepted += 1
                        n += BATCH
                assert refused is not None, "the provider kept accepting records on a full disk"
                assert (refused.status, refused.code) == (503, "store.unavailable")
                assert "full" in refused.detail or "I/O" in refused.detail, refused.detail
                with pytest.raises(ApiError) as again:
                    await p_app.publish_batch(DATASET, batch)
                assert again.value.code == "store.unavailable"
                for r in (batch[0], batch[-1]):
                    with pytest.raises(ApiError) as missing:
                        await p_app.record(r["id"])
                    assert missing.value.status == 404
                assert deliveries(consumer) == stored >= app.count  # still refusing

                # 3. The disks have room again: what each side held is unchanged, the
                # refused batch goes in now, and the stream resumes exactly once.
                disks["provider"].clear()
                disks["consumer"].clear()
                await p_app.publish_batch(DATASET, batch)
                await publish_all(p_app, n + BATCH, n + BATCH + AFTER, batch=BATCH)
                n += BATCH + AFTER
                await app.until(n, timeout=120)
                await asyncio.sleep(1)  # anything extra would arrive now
            finally:
                app.close()
        assert held_rows(consumer, "held_records", HELD) == held
        assert held_rows(provider, "record_versions", HELD) == own
        await assert_exactly_once(app, n, provider, consumer)
        print(f"{kind}: consumer stored {stored - HELD} of {WHILE_FULL} before refusing; "
              f"provider took {accepted} batches on its full disk, refused: {refused.detail}")


# ------------------------------------------------------------------------- read-only store


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[str]:
    """``directory`` read-only until the block ends; yields how it was done."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [directory, *directory.iterdir()]}
        for p, mode in modes.items():
            p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        try:
            yield "chmod a-w"
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    bind = subprocess.run(["mount", "--bind", str(directory), str(directory)],
                          capture_output=True)
    if bind.returncode != 0:
        skip_or_fail("running as root without mount(8): no way to make a directory read-only")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], check=True,
                       capture_output=True)
        yield "read-only bind mount"
    finally:
        subprocess.run(["umount", str(directory)], check=True, capture_output=True)


def digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.glob("connector.sqlite*"))}


async def test_read_only_store_refuses_to_start_and_keeps_what_it_holds(space):
    provider, consumer = space.pair()
    async with TsunaguClient(provider.api_url, provider.token) as p_app, \
            TsunaguClient(consumer.api_url, consumer.token, purpose=PURPOSE) as c_app:
        await contract(p_app, c_app, provider.did)
        app = App(c_app)
        try:
            await publish_all(p_app, 0, HELD, batch=BATCH)
            await app.until(HELD, timeout=60)
            held = held_rows(consumer, "held_records", HELD)
            # A crash leaves the write-ahead log and its index behind: the harder case, as
            # SQLite can still open such a store for reading.
            assert consumer.process is not None
            await asyncio.to_thread(consumer.process.kill)
            before = digests(consumer.directory)
            assert "connector.sqlite-wal" in before
            with read_only(consumer.directory) as how:
                n = 2 * HELD  # published meanwhile; they wait in the stream
                await publish_all(p_app, HELD, n, batch=BATCH)
                run = await asyncio.to_thread(
                    subprocess.run, [*PYTHON_CLI, "connector", "run", "--config",
                                     str(consumer.config)],
                    capture_output=True, text=True, timeout=60)
                assert run.returncode == 2, (how, run.stdout, run.stderr[-2000:])
                assert "ready" not in run.stdout
                error = run.stderr.strip().splitlines()[-1]
                assert "store.unavailable" in error and "read-only" in error, error
                assert digests(consumer.directory) == before, how
            await asyncio.to_thread(consumer.start)
            await app.until(n, timeout=60)
            await asyncio.sleep(1)
        finally:
            app.close()
    assert held_rows(consumer, "held_records", HELD) == held
    await assert_exactly_once(app, n, provider, consumer)

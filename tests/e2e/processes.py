"""Connectors and an authority as real OS processes, started through the ``tsunagu`` CLI.

What a participant runs is what these tests run: ``tsunagu authority serve``,
``tsunagu connector init`` / ``run`` / ``token``; so a SIGKILL here is a real crash.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from connector.cli import main as cli

PYTHON_CLI = [sys.executable, "-m", "connector.cli"]


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

    @property
    def config(self) -> Path:
        return self.directory / "participant.toml"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self) -> None:
        self.process = Process([*PYTHON_CLI, "--log-format", "json", "connector", "run",
                                "--config", str(self.config)],
                               self.directory / "connector.log", r"ready participant=(\S+)")
        self.process.start()

    def restart_after_kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.start()


class DataSpace:
    """An authority serving its status list and participants created through the CLI."""

    def __init__(self, root: Path, nats_url: str) -> None:
        self.root, self.nats_url = root, nats_url
        self.authority_dir = root / "authority"
        assert cli(["authority", "init", "--dir", str(self.authority_dir),
                    "--name", "test authority"]) == 0
        port = free_port()
        self.authority = Process([*PYTHON_CLI, "authority", "serve", "--dir",
                                  str(self.authority_dir), "--port", str(port)],
                                 root / "authority.log", r"authority (\S+) serving on (\S+)")
        match = self.authority.start()
        self.authority_did, self.authority_url = match.group(1), match.group(2)
        self.participants: list[Participant] = []

    def onboard(self, label: str, name: str, legal_id: str, role: str) -> Participant:
        p = Participant(name=name, directory=self.root / label, api_port=free_port())
        assert cli(["connector", "init", "--dir", str(p.directory), "--name", name,
                    "--legal-id", legal_id, "--role", role,
                    "--authority-did", self.authority_did,
                    "--status-list-url", f"{self.authority_url}/status-list",
                    "--nats-url", self.nats_url, "--api-port", str(p.api_port)]) == 0
        assert cli(["authority", "issue", "--dir", str(self.authority_dir), "--request",
                    str(p.directory / "credential-request.json"),
                    "--out", str(p.directory / "credential.jwt")]) == 0
        p.start()
        assert p.process is not None and p.process.match is not None
        p.did = p.process.match.group(1)
        result = subprocess.run([*PYTHON_CLI, "connector", "token", "--store",
                                 str(p.directory / "connector.sqlite"), "--scope", "admin"],
                                capture_output=True, text=True, check=True)
        p.token = result.stdout.strip()
        self.participants.append(p)
        return p

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

"""Onboarding a participant by hand, as the README's "Command line" section does it.

A real ``tsunagu authority serve`` announces the data space (signed); ``tsunagu connector
init --authority URL`` learns from it and picks a free app API port; ``tsunagu connector
run`` refuses to start, in one line with the fix, when a port is taken, something is
missing, or nothing listens at its NATS URL; the authority keeps its NATS port across
restarts. What the user reads is checked as printed, from real processes.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from authority.state import Authority
from connector.runtime.config import load_config
from connector.runtime.ports import bindable
from tests.e2e.processes import PYTHON_CLI, Process, cli, free_port
from trust.announcement import WELL_KNOWN_PATH, AnnouncementError, verify_announcement
from trust.keys import KeyPair
from trust.proofs import sign_document

READY_AUTHORITY = r"authority (\S+) serving on (\S+) nats (\S+)"


@dataclass
class Served:
    root: Path
    did: str
    url: str
    nats_url: str
    process: Process

    @property
    def directory(self) -> Path:
        return self.root / "authority"


def serve(directory: Path, port: int, log: Path, *extra: str) -> Process:
    process = Process([*PYTHON_CLI, "authority", "serve", "--dir", str(directory),
                       "--port", str(port), *extra], log, READY_AUTHORITY)
    process.start()
    return process


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """An authority whose public URL is where it serves, as `authority init` + `serve` with
    their defaults give (on a free port here, not 8470)."""
    root = tmp_path_factory.mktemp("onboarding")
    port = free_port()
    assert cli(["authority", "init", "--dir", str(root / "authority"), "--name", "テスト認証局",
                "--public-url", f"http://127.0.0.1:{port}"]) == 0
    process = serve(root / "authority", port, root / "authority.log")
    assert process.match is not None
    did, url, nats_url = process.match.groups()
    yield Served(root, did, url, nats_url, process)
    process.stop()


def init(capsys, directory: Path, *extra: str, legal_id: str = "041009",
         role: str = "municipality") -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli(["connector", "init", "--dir", str(directory), "--name", "仙台市",
                "--legal-id", legal_id, "--role", role, *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def issue(served: Served, directory: Path) -> None:
    assert cli(["authority", "issue", "--dir", str(served.directory), "--request",
                str(directory / "credential-request.json"),
                "--out", str(directory / "credential.jwt")]) == 0


def run(config: Path, timeout: float = 20) -> tuple[int, list[str], float]:
    """``tsunagu connector run`` expected to fail: exit code, stderr lines, seconds taken."""
    started = time.monotonic()
    result = subprocess.run([*PYTHON_CLI, "connector", "run", "--config", str(config)],
                            capture_output=True, text=True, timeout=timeout)
    return result.returncode, result.stderr.splitlines(), time.monotonic() - started


def api_port(out: str) -> int:
    found = re.search(r"^app API +http://127\.0\.0\.1:(\d+)", out, re.MULTILINE)
    assert found, out
    return int(found.group(1))


# ------------------------------------------------------------------ the announcement


def test_init_learns_the_data_space_from_the_authority_url(served, tmp_path, capsys):
    code, out, err = init(capsys, tmp_path / "city", "--authority", served.url)
    assert code == 0, err
    # The DID is printed for the participant to compare with the one they were given.
    assert re.search(rf"^authority +{re.escape(served.did)} ", out, re.MULTILINE), out
    config = load_config(tmp_path / "city" / "participant.toml")
    assert config.authority.dids == [served.did]
    assert config.authority.status_list_url == f"{served.url}/status-list"
    assert config.nats.urls == [served.nats_url]
    assert config.nats.credentials_file == (tmp_path / "city" / "nats.creds").resolve()
    # No fixed default API port: a free one, said which, and written to the config.
    port = api_port(out)
    assert config.api.port == port and bindable(port)

    code, out, _ = init(capsys, tmp_path / "npo", "--authority", served.url,
                        legal_id="7000012050002", role="shelter_operator")
    assert code == 0 and api_port(out) != port  # a second participant on this machine
    code, out, _ = init(capsys, tmp_path / "chosen", "--authority", served.url,
                        "--api-port", "18480")
    assert code == 0 and api_port(out) == 18480
    assert load_config(tmp_path / "chosen" / "participant.toml").api.port == 18480


def test_init_refuses_an_announcement_it_cannot_trust(served, tmp_path, capsys):
    other = KeyPair.generate().did
    code, _, err = init(capsys, tmp_path / "pinned", "--authority", served.url,
                        "--authority-did", other)
    assert code == 2 and "announcement.wrong_authority" in err and served.did in err
    assert not (tmp_path / "pinned").exists()
    code, _, err = init(capsys, tmp_path / "ok", "--authority", served.url,
                        "--authority-did", served.did)
    assert code == 0, err

    code, _, err = init(capsys, tmp_path / "away", "--authority",
                        f"http://127.0.0.1:{free_port()}")
    assert code == 2 and "join.unreachable" in err and "authority serve" in err
    assert err.count("\n") == 1 and not (tmp_path / "away").exists()


async def test_the_announcement_is_signed_over_every_member(served, tmp_path):
    async with aiohttp.ClientSession() as http, \
            http.get(served.url + WELL_KNOWN_PATH) as response:
        assert response.status == 200
        document = await response.json()
    found = verify_announcement(document)
    assert (found.authority, found.nats_urls) == (served.did, (served.nats_url,))
    assert found.participant_registry_url == f"{served.url}/participants"

    for member, value in (("natsUrls", ["nats://evil.example:4222"]),
                          ("statusListUrl", "http://evil.example/status-list"),
                          ("id", KeyPair.generate().did)):
        with pytest.raises(AnnouncementError):
            verify_announcement({**document, member: value})
    with pytest.raises(AnnouncementError) as info:  # a member slipped in unsigned
        verify_announcement({**document, "grantDeskSubject": "x"})
    assert info.value.code == "announcement.invalid"
    # Later versions add members, signed with the rest: this version accepts and keeps them.
    key = Authority.open(served.directory).signing_key
    extended = sign_document({**document, "grantDeskSubject": "x"}, key)
    assert verify_announcement(extended).document["grantDeskSubject"] == "x"
    later = datetime.now(UTC) + timedelta(hours=2)
    with pytest.raises(AnnouncementError) as info:
        verify_announcement(document, now=later)
    assert info.value.code == "announcement.expired"


# ------------------------------------------------------------------ connector run


def test_run_refuses_to_start_naming_what_is_missing(served, tmp_path, capsys):
    # The README's old way: no status-list URL given, and no credential issued yet.
    code, _, err = init(capsys, tmp_path / "half", "--authority-did", served.did,
                        "--nats-url", served.nats_url)
    assert code == 0, err
    code, lines, _ = run(tmp_path / "half" / "participant.toml")
    assert code == 2 and len(lines) == 1, lines
    assert "start.missing" in lines[0]
    assert "status_list_url" in lines[0] and "--authority URL" in lines[0]
    assert "tsunagu authority issue" in lines[0] and "credential.jwt" in lines[0]
    assert not (tmp_path / "half" / "connector.sqlite").exists()  # nothing was started


def test_two_connectors_on_one_machine_and_a_taken_port(served, tmp_path, capsys):
    ports, running = [], []
    try:
        for label, legal_id, role in (("city", "041009", "municipality"),
                                      ("npo", "7000012050002", "shelter_operator")):
            code, out, err = init(capsys, tmp_path / label, "--authority", served.url,
                                  legal_id=legal_id, role=role)
            assert code == 0, err
            issue(served, tmp_path / label)
            ports.append(api_port(out))
            process = Process([*PYTHON_CLI, "connector", "run", "--config",
                               str(tmp_path / label / "participant.toml")],
                              tmp_path / f"{label}.log", r"ready participant=\S+ api=(\S+)")
            running.append(process)
            assert process.start().group(1) == f"http://127.0.0.1:{ports[-1]}"
        # The same participant started twice: its port is taken, said in one line.
        code, lines, _ = run(tmp_path / "npo" / "participant.toml")
        assert code == 2 and len(lines) == 1, lines
        assert "port.in_use" in lines[0] and f"port {ports[1]} " in lines[0]
        assert "[api]" in lines[0] and "--api-port" in lines[0]
    finally:
        for process in running:
            assert process.stop() == 0


def test_first_connect_to_nothing_fails_fast_in_one_line(served, tmp_path, capsys):
    code, _, err = init(capsys, tmp_path / "p", "--authority", served.url)
    assert code == 0, err
    issue(served, tmp_path / "p")
    config = tmp_path / "p" / "participant.toml"
    dead = f"nats://127.0.0.1:{free_port()}"
    config.write_text(config.read_text().replace(served.nats_url, dead))
    code, lines, seconds = run(config)
    assert code == 2 and len(lines) == 1, lines
    assert "nats.connect" in lines[0] and "nothing listens" in lines[0] and dead in lines[0]
    assert seconds < 8


# ------------------------------------------------------------------ authority serve


def test_serve_keeps_its_nats_port_across_restarts(tmp_path):
    directory, port = tmp_path / "authority", free_port()
    assert cli(["authority", "init", "--dir", str(directory), "--name", "auth",
                "--public-url", f"http://127.0.0.1:{port}"]) == 0
    urls, nats_port = [], free_port()
    for extra in ((), (), ("--nats-port", str(nats_port))):
        process = serve(directory, port, tmp_path / "serve.log", *extra)
        assert process.match is not None
        urls.append(process.match.group(3))
        assert process.stop() == 0
    assert urls[0] == urls[1] and urls[2] == f"nats://127.0.0.1:{nats_port}"

    # The kept port (now --nats-port's) is taken: one line naming it and the option.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", nats_port))
        holder.listen()
        result = subprocess.run([*PYTHON_CLI, "authority", "serve", "--dir", str(directory),
                                 "--port", str(port)], capture_output=True, text=True,
                                timeout=20)
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1, lines
    assert "port.in_use" in lines[0] and f"port {nats_port} " in lines[0]
    assert "--nats-port" in lines[0]

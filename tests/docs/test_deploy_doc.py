"""docs/deploy.md: every `tsunagu authority nats-config` command of the page runs as written
(with this test's directories for the paths) and writes configs nats-server accepts; every
`tsunagu authority serve` and `nats-server` line parses."""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from connector.bus.server import find_nats_server_binary
from connector.cli.main import build_parser, main
from trust.keys import KeyPair

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def commands(program: str) -> list[list[str]]:
    """The page's shell commands starting with ``program`` (continuations joined), from
    blocks that use real names (the synopsis block with DIR, O, D... is left out)."""
    found = []
    for block in re.findall(r"^```sh\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M):
        if "--dir DIR" in block:
            continue
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" > ")[0].split("  #")[0].strip()
            if line.startswith(program + " "):
                found.append(shlex.split(line))
    return found


@pytest.fixture(autouse=True)
def _restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_every_nats_config_command_of_the_page_writes_configs_nats_server_accepts(
        tmp_path: Path, capsys):
    found = commands("tsunagu authority nats-config")
    assert {"cluster", "hub", "leaf"} <= {c[c.index("--shape") + 1] for c in found
                                         if "--shape" in c}
    assert main(["authority", "init", "--dir", str(tmp_path / "authority"), "--name", "県"]) == 0
    muni = KeyPair.generate().did
    assert main(["authority", "issue", "--dir", str(tmp_path / "authority"), "--did", muni,
                 "--name", "堺市", "--legal-id", "271004", "--role", "municipality",
                 "--out", str(tmp_path / "muni.jwt")]) == 0
    for argv in found:
        args = argv[1:]
        for option in ("--dir", "--out", "--store-root", "--resolver-dir"):
            if option in args:
                i = args.index(option) + 1
                args[i] = str(tmp_path / args[i].strip("/").replace("/", "_"))
        if "--participant" in args:
            args[args.index("--participant") + 1] = muni
        capsys.readouterr()
        assert main(args) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        if "--shape" not in args:
            assert "resolver_preload" in out
            continue
        confs = [Path(p) for p in out.split() if p.endswith(".conf")]
        assert confs
        for conf in confs:
            env = {"TSUNAGU_JETSTREAM_KEY": (conf.parent / "jetstream.env").read_text()
                   .strip().split("=", 1)[1]}
            result = subprocess.run([str(find_nats_server_binary()), "-t", "-c", str(conf)],
                                    capture_output=True, text=True, timeout=30, env=env)
            assert result.returncode == 0, result.stdout + result.stderr


def test_every_serve_line_of_the_page_parses():
    parser = build_parser()
    lines = commands("tsunagu authority serve")
    assert any("--stream-replicas" in line for line in lines)
    for argv in lines:
        args = parser.parse_args(argv[1:])
        assert args.authority_command == "serve"
    assert all(argv[1] == "-c" for argv in commands("nats-server"))


def test_the_api_limits_block_is_a_valid_api_section() -> None:
    import tomllib

    from connector.runtime.config import ApiSection

    (block,) = [b for b in re.findall(r"^```toml\n(.*?)^```", DOC.read_text(encoding="utf-8"),
                                      re.S | re.M) if "[api]" in b]
    api = ApiSection.model_validate(tomllib.loads(block)["api"])
    assert (api.max_writes_in_flight, api.max_write_mb_in_flight) == (64, 32)
    assert ApiSection() == api  # the page shows the defaults

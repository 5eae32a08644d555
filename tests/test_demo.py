"""The README's main command: ``tsunagu demo`` runs end to end and leaks no secrets."""

import subprocess
import sys
from pathlib import Path

import orjson

from trust.keys import load_key


def test_demo_runs_and_logs_no_key_material(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "connector.cli", "--log-format", "json", "--log-level", "DEBUG",
         "demo", "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "reply signed by 仙台市" in out
    assert "verified the proof" in out
    assert "credential.revoked" in out
    # Every stderr line is a JSON object (the --log-format json promise).
    lines = [orjson.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert any(line["msg"] == "participant credential issued" for line in lines)
    everything = out + result.stderr
    secrets = []
    for pem in tmp_path.rglob("*.pem"):
        key = load_key(pem)
        secrets += [key.secret_key_multibase(), pem.read_text().splitlines()[1]]
    secrets += [p.read_text().strip() for p in tmp_path.rglob("credential.jwt")]
    assert len(secrets) >= 6
    for secret in secrets:
        assert secret not in everything
    assert "PRIVATE KEY" not in everything

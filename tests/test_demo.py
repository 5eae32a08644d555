"""The README's main command: ``tsunagu demo`` runs end to end and leaks no secrets or
personal data into its output or its logs."""

import re
import subprocess
import sys
from pathlib import Path

import orjson

from connector.demo import SHELTER_IDS
from connector.demo_people import evacuees
from trust.keys import load_key
from trust.nats_jwt import parse_creds


def test_demo_runs_and_leaks_no_key_material_or_personal_data(tmp_path: Path):
    people = 120
    result = subprocess.run(
        [sys.executable, "-m", "connector.cli", "--log-format", "json", "--log-level", "DEBUG",
         "demo", "--dir", str(tmp_path), "--people", str(people)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for step in ("operator mode", "negotiation FINALIZED",
                 f"received and verified {people} signed records",
                 "refused for research (usage.denied)", "purged every record",
                 "the nats-server disconnected it", "the city refuses it: credential.revoked",
                 "intact"):
        assert step in out, step
    # Every stderr line is a JSON object (the --log-format json promise).
    lines = [orjson.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert any(line["msg"] == "connector started" for line in lines)
    everything = out + result.stderr

    secrets = []
    for pem in tmp_path.rglob("*.pem"):
        key = load_key(pem)
        secrets += [key.secret_key_multibase(), pem.read_text().splitlines()[1]]
    secrets += [p.read_text().strip() for p in tmp_path.rglob("credential.jwt")]
    # NATS: each participant's user seed, and every operator/account seed the authority holds.
    secrets += [parse_creds(p.read_text()).seed for p in tmp_path.rglob("nats.creds")]
    secrets += re.findall(r'"(S[OAU][A-Z2-7]{50,})"',
                          (tmp_path / "authority" / "nats.json").read_text())
    assert len(secrets) >= 12
    leaked = [s[:12] for s in secrets if s in everything]
    assert leaked == []
    assert "PRIVATE KEY" not in everything

    # The same generator with the same seed: the personal values the demo registered.
    personal = set()
    for person in evacuees(people, SHELTER_IDS):
        personal |= {person["familyName"] + person["givenName"],
                     person["familyNameKana"] + person["givenNameKana"],
                     person["birthDate"], person["address"]}
    assert len(personal) > people
    found = sorted(v for v in personal if v in everything)
    assert found == []

"""The README's main commands: ``tsunagu demo`` and ``tsunagu demo bosai`` run end to end and
leak no secrets or personal data into their output or their logs."""

import json
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from connector.demo import SHELTER_IDS
from connector.demo_people import evacuees
from domains.bosai.demo import SUMMARY_FILE
from domains.bosai.registry.workload import workload
from trust.keys import load_key
from trust.nats_jwt import parse_creds


def run_demo(tmp_path: Path, *args: str) -> tuple[str, str]:
    """``tsunagu demo ARGS`` with DEBUG logs as JSON lines: (stdout, stderr)."""
    result = subprocess.run(
        [sys.executable, "-m", "connector.cli", "--log-format", "json", "--log-level", "DEBUG",
         "demo", *args, "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Every stderr line is a JSON object (the --log-format json promise).
    lines = [orjson.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert any(line["msg"] == "connector started" for line in lines)
    return result.stdout, result.stderr


def assert_no_secrets(tmp_path: Path, everything: str, participants: int) -> None:
    """No private key, credential or NATS seed of the run's participants and authority."""
    secrets = []
    for pem in tmp_path.rglob("*.pem"):
        key = load_key(pem)
        secrets += [key.secret_key_multibase(), pem.read_text().splitlines()[1]]
    secrets += [p.read_text().strip() for p in tmp_path.rglob("credential.jwt")]
    # NATS: each participant's user seed, and every operator/account seed the authority holds.
    secrets += [parse_creds(p.read_text()).seed for p in tmp_path.rglob("nats.creds")]
    secrets += re.findall(r'"(S[OAU][A-Z2-7]{50,})"',
                          (tmp_path / "authority" / "nats.json").read_text())
    assert len(secrets) >= 6 * participants
    leaked = [s[:12] for s in secrets if s in everything]
    assert leaked == []
    assert "PRIVATE KEY" not in everything


def assert_no_personal_data(everything: str, people: Iterable[Mapping[str, Any]]) -> None:
    """None of the names (kanji, kana), birth dates or addresses the demo registered, as
    written (the same generator with the same seed gives them)."""
    personal, count = set(), 0
    for person in people:
        count += 1
        personal |= {person["familyName"] + person["givenName"],
                     person["familyNameKana"] + person["givenNameKana"],
                     person["birthDate"], person["address"]}
    assert len(personal) > count
    found = sorted(v for v in personal if v in everything)
    assert found == []


def test_demo_runs_and_leaks_no_key_material_or_personal_data(tmp_path: Path):
    people = 120
    out, err = run_demo(tmp_path, "--people", str(people))
    for step in ("operator mode", "negotiation FINALIZED",
                 f"received and verified {people} signed records",
                 "refused for research (usage.denied)", "purged every record",
                 "the nats-server disconnected it", "the city refuses it: credential.revoked",
                 "intact"):
        assert step in out, step
    assert_no_secrets(tmp_path, out + err, participants=2)
    assert_no_personal_data(out + err, evacuees(people, SHELTER_IDS))


def test_bosai_demo_runs_its_flows_and_leaks_no_key_material_or_personal_data(tmp_path: Path):
    registrations = 80
    out, err = run_demo(tmp_path, "bosai", "--people", str(registrations))
    summary = json.loads((tmp_path / SUMMARY_FILE).read_text(encoding="utf-8"))
    kinds = workload(registrations).kinds
    # Registration: every re-registration merged into its person, near matches to review.
    assert summary["registrations"] == registrations
    assert summary["merged"] == kinds.count("variant") > 0
    assert summary["review"] >= kinds.count("near")
    assert summary["people"] == registrations - summary["merged"]
    # Check-ins through the operators' connectors: 70 % arrive, some move, some leave.
    assert summary["checked_in"] == int(summary["people"] * 0.7)
    assert summary["moved"] >= 1 and summary["checked_out"] >= 1
    assert summary["in_shelters"] == summary["checked_in"] - summary["checked_out"]
    # Supplies: all committed, all but the last delivered, as the city's dashboard sees them.
    assert (summary["supplies_requested"], summary["supplies_committed"],
            summary["supplies_delivered"]) == (4, 4, 3)
    # Safety inquiries: answered only for the person who consented.
    assert summary["inquiry_with_consent_answered"] is True
    assert summary["inquiry_without_consent_answered"] is False
    assert summary["audit_ok"] is True
    for step in ("operator モード", f"受付で {registrations}件の登録", "改ざんなし",
                 summary["dashboard_url"], "職員用トークン"):
        assert step in out, step
    assert_no_secrets(tmp_path, out + err, participants=4)
    assert_no_personal_data(out + err, workload(registrations).forms)

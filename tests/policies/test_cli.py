from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from connector.cli.main import main

from .helpers import CTX, c, policy, rule

DATA = Path(__file__).parent / "data"


def run(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr().out


@pytest.mark.parametrize("name", ["offer_compact.json", "offer_expanded.json",
                                  "offer_prefixes.json"])
def test_evaluate_permit_on_every_serialisation(capsys, name):
    code, out = run(capsys, "policy", "evaluate", "--policy", str(DATA / name),
                    "--request", str(DATA / "request.json"), "--state", str(DATA / "state.json"))
    data = json.loads(out)
    assert code == 0 and data["decision"] == "permit"
    assert {"decision", "rules", "constraints", "duties", "errors"} <= set(data)
    assert data["duties"][0]["deadline"] == "2025-09-19T00:00:00Z"


def test_evaluate_deny_exit_1(capsys, tmp_path):
    state = json.loads((DATA / "state.json").read_text())
    state["operands"]["odrl:spatial"] = "131016"  # Tokyo, outside Hyogo
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    code, out = run(capsys, "policy", "evaluate", "--policy", str(DATA / "offer_compact.json"),
                    "--request", str(DATA / "request.json"), "--state", str(path))
    data = json.loads(out)
    assert code == 1 and data["decision"] == "deny"
    failing = [x for x in data["constraints"] if x["satisfied"] is False]
    assert failing[0]["leftOperand"] == "spatial" and failing[0]["value"] == "13101"


def test_evaluate_invalid_input_exit_2(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(policy(permission=[rule("use", c("odrl:colour", "eq", "x"))])))
    code, out = run(capsys, "policy", "evaluate", "--policy", str(bad),
                    "--request", str(DATA / "request.json"), "--state", str(DATA / "state.json"))
    data = json.loads(out)
    assert code == 2 and data["decision"] == "deny"
    assert data["errors"][0]["code"] == "policy.unknown_left_operand"
    notjson = tmp_path / "x.json"
    notjson.write_text("{")
    assert run(capsys, "policy", "evaluate", "--policy", str(DATA / "offer_compact.json"),
               "--request", str(DATA / "request.json"), "--state", str(notjson))[0] == 2


def test_validate_and_explain(capsys, tmp_path):
    code, out = run(capsys, "policy", "validate", str(DATA / "offer_expanded.json"))
    assert code == 0 and json.loads(out)["valid"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"@context": CTX, "@type": "Offer", "permission": [rule()]}))
    code, out = run(capsys, "policy", "validate", str(bad))
    assert code == 2 and json.loads(out)["errors"][0]["code"] == "policy.missing_uid"
    code, out = run(capsys, "policy", "explain", str(DATA / "offer_compact.json"))
    assert code == 0 and "災害対応" in out and "disaster response" in out


def test_installed_command(tmp_path):
    # The console script of the interpreter running the tests (a CI clone has its own venv).
    tsunagu = Path(sys.executable).parent / "tsunagu"
    result = subprocess.run(
        [str(tsunagu), "policy", "evaluate", "--policy",
         str(DATA / "offer_expanded.json"), "--request", str(DATA / "request.json"),
         "--state", str(DATA / "state.json")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["decision"] == "permit"

"""``tsunagu dsp validate FILE``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from connector.cli.main import main
from connector.protocol.dsp import messages as m
from tests.ci import skip_or_fail

C, P = "urn:uuid:consumer-pid", "urn:uuid:provider-pid"
OFFER = m.offer("urn:uuid:offer-1", target="urn:uuid:dataset-1", permission=[m.rule("use")])


def write(tmp_path: Path, content: object, name: str = "message.json") -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content),
                    encoding="utf-8")
    return str(path)


def test_valid_message_exits_0_and_prints_the_type(tmp_path, capsys):
    path = write(tmp_path, m.contract_request(C, OFFER, callback_address="cb"))
    assert main(["dsp", "validate", path]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "ContractRequestMessage"
    assert err == ""


def test_schema_errors_exit_1_with_each_path(tmp_path, capsys):
    message = m.contract_request(C, OFFER, callback_address="cb")
    message["providerPid"] = P  # both: the schema's oneOf refuses
    del message["offer"]["@id"]
    assert main(["dsp", "validate", write(tmp_path, message)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "invalid ContractRequestMessage" in err
    assert "$: must have exactly one of: callbackAddress | providerPid" in err
    assert "$.offer: '@id' is required" in err


def test_dropped_jsonld_term_exits_1(tmp_path, capsys):
    message = {**m.transfer_completion(C, P), "completedAt": "2025-01-01T00:00:00Z"}
    assert main(["dsp", "validate", write(tmp_path, message)]) == 1
    err = capsys.readouterr().err
    assert "JSON-LD [jsonld.dropped_term]" in err
    assert "completedAt" in err


def test_unknown_type_exits_1(tmp_path, capsys):
    path = write(tmp_path, {"@context": [m.DSP_CONTEXT], "@type": "Hello"})
    assert main(["dsp", "validate", path]) == 1
    assert "unknown DSP message type 'Hello'" in capsys.readouterr().err


def test_json_that_is_not_an_object_exits_1(tmp_path, capsys):
    assert main(["dsp", "validate", write(tmp_path, [1, 2])]) == 1
    assert "must be a JSON object" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["{not json", "", b"\xff\xfe\x00garbage"])
def test_non_json_exits_2(tmp_path, capsys, content):
    path = tmp_path / "broken.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    assert main(["dsp", "validate", str(path)]) == 2
    assert "is not JSON" in capsys.readouterr().err


def test_unreadable_file_exits_2(tmp_path, capsys):
    assert main(["dsp", "validate", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["dsp", "validate", str(tmp_path)]) == 2  # a directory


def test_installed_command(tmp_path):
    path = write(tmp_path, m.transfer_process(C, P, "STARTED"))
    tsunagu = Path(sys.executable).parent / "tsunagu"
    if not tsunagu.exists():
        skip_or_fail("tsunagu entry point not installed")
    done = subprocess.run([str(tsunagu), "dsp", "validate", path], capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "TransferProcess"), done.stderr

"""Every example the DSP 2025-1 specification publishes is accepted by ``tsunagu dsp validate``
(copied with its licence under tests/vectors/dsp-2025-1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.cli.main import main
from connector.protocol.dsp.validation import (
    DID_SERVICE,
    VERSION_DOCUMENT,
    DspValidationError,
    validate_document,
    validate_message,
)
from tests.vectors import UPSTREAM_DSP

EXAMPLES = sorted((UPSTREAM_DSP / "examples").rglob("*.json"))


def test_all_27_examples_are_here():
    assert len(EXAMPLES) == 27
    assert (UPSTREAM_DSP / "LICENSE").is_file()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_is_accepted_by_the_cli(path: Path, capsys):
    assert main(["dsp", "validate", str(path)]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out.strip()
    document = json.loads(path.read_text(encoding="utf-8"))
    assert printed == document.get("@type", printed)


def test_the_non_message_documents_are_named():
    version = json.loads((UPSTREAM_DSP / "examples/common/protocol-version.json").read_text())
    assert validate_document(version) == VERSION_DOCUMENT
    service = json.loads(
        (UPSTREAM_DSP / "examples/common/catalogservice-did-service.json").read_text())
    assert validate_document(service) == DID_SERVICE
    with pytest.raises(DspValidationError):  # the bus takes messages only
        validate_message(version)


def test_a_version_document_missing_its_binding_is_refused(tmp_path, capsys):
    bad = {"protocolVersions": [{"version": "2025-1", "path": "/dsp"}]}
    path = tmp_path / "version.json"
    path.write_text(json.dumps(bad))
    assert main(["dsp", "validate", str(path)]) == 1
    assert "binding" in capsys.readouterr().err


def test_a_catalog_service_still_needs_its_catalog_url():
    service = json.loads(
        (UPSTREAM_DSP / "examples/common/catalogservice-did-service.json").read_text())
    with pytest.raises(DspValidationError, match="serviceEndpoint"):
        validate_document({**service, "serviceEndpoint": "https://bar.example.com/other"})


def test_a_did_service_with_an_undefined_term_is_refused(tmp_path, capsys):
    service = json.loads(
        (UPSTREAM_DSP / "examples/common/dataservice-did-service.json").read_text())
    path = tmp_path / "service.json"
    path.write_text(json.dumps({**service, "serviceEndpiont": "https://x.example/"}))
    assert main(["dsp", "validate", str(path)]) == 1
    assert "jsonld.dropped_term" in capsys.readouterr().err


def test_an_undefined_short_name_elsewhere_stays_an_error(tmp_path, capsys):
    message = json.loads(
        (UPSTREAM_DSP / "examples/negotiation/contract-offer-message.json").read_text())
    message["offer"]["permission"][0]["constraint"][0]["operator"] = "equals"
    path = tmp_path / "offer.json"
    path.write_text(json.dumps(message))
    assert main(["dsp", "validate", str(path)]) == 1
    assert "'equals'" in capsys.readouterr().err

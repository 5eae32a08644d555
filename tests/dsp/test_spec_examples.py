"""Every example the DSP 2025-1 specification publishes is accepted by ``tsunagu dsp validate``
(copied with its licence under tests/vectors/dsp-2025-1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.cli.main import build_parser
from connector.protocol.dsp.validation import (
    DID_SERVICE,
    VERSION_DOCUMENT,
    DspValidationError,
    validate_document,
    validate_message,
)
from tests.vectors import UPSTREAM_DSP

EXAMPLES = sorted((UPSTREAM_DSP / "examples").rglob("*.json"))
# ``tsunagu dsp validate``'s command tree, built once: ``main`` would load and check every
# domain plug-in (about a second) for each of the ~100 runs below; the command is the same.
PARSER = build_parser(plugins=[])


def main(argv: list[str]) -> int:
    args = PARSER.parse_args(argv)
    return int(args.func(args) or 0)


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


# --- the same messages in other JSON-LD forms (issue 18, item 1) ------------------------------

def _forms(path: Path) -> dict[str, object]:
    import copy

    from pyld import jsonld as pyld

    from trust import jsonld
    from trust.jsonld import CORE_CONTEXTS

    message = json.loads(path.read_text(encoding="utf-8"))
    options = CORE_CONTEXTS.pyld_options()
    return {"expanded": jsonld.expand(message),
            "flattened": pyld.flatten(copy.deepcopy(message), None, options),
            "@graph": pyld.flatten(copy.deepcopy(message),
                                   {"dspace": "https://w3id.org/dspace/2025/1/"}, options)}


# catalog.json gives its dataset and the dataset's offer one @id: flattened, they are one node
# (RDF merges them), so that form is no longer the example's catalog.
MESSAGES = [p for p in EXAMPLES if "@type" in json.loads(p.read_text(encoding="utf-8"))
            and p.name != "catalog.json"]


@pytest.mark.parametrize("path", MESSAGES, ids=lambda p: p.name)
def test_a_message_in_any_json_ld_form_validates_as_itself(path: Path, tmp_path, capsys):
    expected = json.loads(path.read_text(encoding="utf-8"))["@type"]
    for name, document in _forms(path).items():
        assert validate_document(document) == expected, name
        file = tmp_path / f"{name}.json"
        file.write_text(json.dumps(document))
        assert main(["dsp", "validate", str(file)]) == 0, (name, capsys.readouterr().err)
        assert capsys.readouterr().out.strip() == expected


def test_a_flattened_message_with_a_dangling_blank_node_is_refused(tmp_path, capsys):
    flat = _forms(UPSTREAM_DSP / "examples/negotiation/contract-offer-message.json")["flattened"]
    rule = next(n for n in flat if "http://www.w3.org/ns/odrl/2/action" in n)
    flat.remove(rule)
    file = tmp_path / "flat.json"
    file.write_text(json.dumps(flat))
    assert main(["dsp", "validate", str(file)]) == 1
    err = capsys.readouterr().err
    assert "jsonld.dangling_reference" in err and repr(rule["@id"]) in err

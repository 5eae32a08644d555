"""The steel context is pinned and closed: every field of a certificate record is a term, the
EN 10168 document stays a JSON literal (nothing of it is dropped or rewritten by JSON-LD), and
the record schema and the context name the same fields."""

from __future__ import annotations

import hashlib
import json

import pytest

from connector.plugins.registry import activate_plugins, plugin_contexts
from domains.steel import plugin as steel
from domains.steel import vocab
from domains.steel.certificate import to_record
from domains.steel.model import DATASET_TYPES
from tests.domains.steel.certs import VALID, example, jis
from trust import jsonld

CONTEXTS = plugin_contexts([steel])
LITERAL = "@json"


@pytest.fixture(autouse=True)
def _active(isolated_registries):
    activate_plugins([steel])


def test_the_context_file_is_the_one_pinned():
    assert hashlib.sha256(vocab.CONTEXT.path.read_bytes()).hexdigest() == vocab.CONTEXT.sha256


@pytest.mark.parametrize("document", [*(example(n) for n in VALID[:2]), jis("SN400B")])
def test_a_record_has_no_dropped_term_and_keeps_the_document_as_a_literal(document):
    record = to_record(document, product_ids=["P-1"], legal_id="8000000000001")
    jsonld.check_no_dropped_terms(record, CONTEXTS)
    node = jsonld.expand(record, CONTEXTS)[0]
    literal = node[vocab.NAMESPACE + "en10168Document"][0]
    assert literal["@type"] == LITERAL and literal["@value"] == document
    assert node["@type"] == [vocab.type_iri(vocab.CERTIFICATE)]


def test_the_schemas_and_the_context_name_the_same_fields():
    context = json.loads(vocab.CONTEXT.path.read_bytes())["@context"]
    own = {name for dt in DATASET_TYPES.values()
           for name in json.loads(dt.schema.read_bytes())["properties"]} - {
        "@context", "id", "type", "version", "modified", "proof"}
    assert own == {t for t in context if not t.startswith("@") and t[0].islower()} - {
        "steel", "id", "type"}


def test_chain_records_have_no_dropped_term_and_keep_their_literals():
    from tests.domains.steel.chain import six_levels

    records, _ = six_levels()
    for signed in records[3:]:
        record = {k: v for k, v in signed.items() if k != "proof"}
        jsonld.check_no_dropped_terms(record, CONTEXTS)
        node = jsonld.expand(record, CONTEXTS)[0]
        literal = "chain" if record["type"] == vocab.CUSTODY_EVENT else "inherited"
        key = vocab.NAMESPACE + literal
        assert node[key][0]["@type"] == LITERAL and node[key][0]["@value"] == record[literal]

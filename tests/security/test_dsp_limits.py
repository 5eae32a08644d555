"""DSP messages out of bounds: nested deeper than ``MAX_DEPTH`` or larger than ``MAX_VALUES``
values / ``MAX_CHARS`` characters. ``validate_message`` used to end in ``RecursionError`` at
about 980 levels (inside jsonschema); now the bounds are checked first, iteratively, and each
case is a typed ``dsp.too_deep`` / ``dsp.too_large``: in the library, over the bus between two
real connectors (nothing stored), and in ``tsunagu dsp validate`` (exit 1, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from connector.cli import dsp as dsp_cli
from connector.cli.main import main
from connector.protocol.dsp import messages as m
from connector.protocol.dsp.validation import (
    MAX_CHARS,
    MAX_DEPTH,
    MAX_VALUES,
    DspValidationError,
    check_bounds,
    check_received,
    validate_message,
)
from tests.ci import skip_or_fail
from tests.e2e import conftest as e2e
from tests.e2e.conftest import DATASET, OPEN_OFFER
from tests.security.helpers import nested_json, nested_list

authority, start_node, provider = e2e.authority, e2e.start_node, e2e.provider
consumer_config, consumer = e2e.consumer_config, e2e.consumer

REJECTED = "tsunagu_messages_rejected_total"


def nested_dict(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"and": value}
    return value


def deep_request(depth: int) -> dict:
    """A ContractRequestMessage whose offer carries a constraint nested ``depth`` levels."""
    constraint = m.constraint("tsunagu:role", "eq", nested_list(depth, "municipality"))
    offer = {**OPEN_OFFER, "target": DATASET,
             "permission": [m.rule("use", [constraint])]}
    return m.contract_request("urn:uuid:c-deep", offer, callback_address="nats:x")


# --------------------------------------------------------------- the library

def deep_filter(value: object) -> dict:
    return {**m.catalog_request(), "filter": [value]}


@pytest.mark.parametrize("message", [
    deep_request(980),  # the reported RecursionError: jsonschema walks the constraint
    deep_filter(nested_list(980)), deep_filter(nested_dict(980)),
    deep_filter(nested_list(100_000)),
], ids=["offer-constraint-980", "filter-lists-980", "filter-objects-980",
        "filter-lists-100000"])
def test_deeply_nested_message_is_too_deep_not_a_recursion_error(message):
    with pytest.raises(DspValidationError) as info:
        validate_message(message)
    assert info.value.code == "dsp.too_deep"
    assert f"nested deeper than {MAX_DEPTH} levels" in info.value.message
    assert info.value.details["errors"] == [
        {"path": "$", "reason": f"the message is nested deeper than {MAX_DEPTH} levels"}]


def test_nesting_up_to_the_limit_passes_the_bounds():
    check_bounds(nested_list(MAX_DEPTH))
    with pytest.raises(DspValidationError) as info:
        check_bounds(nested_list(MAX_DEPTH + 1))
    assert info.value.code == "dsp.too_deep"


@pytest.mark.parametrize("filter_", [[0] * (MAX_VALUES + 1), ["x" * (MAX_CHARS + 1)],
                                     [{"k" * 1000: 1} for _ in range(MAX_CHARS // 1000 + 1)]],
                         ids=["too-many-values", "too-long-string", "too-long-keys"])
def test_oversized_message_is_too_large(filter_):
    with pytest.raises(DspValidationError) as info:
        validate_message({**m.catalog_request(), "filter": filter_})
    assert info.value.code == "dsp.too_large"


def test_bounds_come_before_the_jsonld_check():
    """pyld recurses too: a deep message never reaches it."""
    with pytest.raises(DspValidationError) as info:
        check_received({**m.catalog_request(), "filter": [nested_dict(980)]})
    assert info.value.code == "dsp.too_deep"


# --------------------------------------------------------------- over the bus

def provider_state(provider) -> tuple:
    store = provider.connector.store
    return (store.query("SELECT pid, state FROM negotiations ORDER BY pid"),
            store.query("SELECT id, status FROM agreements ORDER BY id"))


async def test_deeply_nested_contract_request_is_refused_over_the_bus(provider, consumer):
    before = provider_state(provider)
    request = deep_request(500)  # crashed jsonschema before; the envelope still carries it
    env, _ = await consumer.connector.bus.request(provider.did, request["@type"], request)
    assert (env.message_type, env.payload["code"]) == ("ContractNegotiationError",
                                                       "dsp.too_deep")
    assert provider_state(provider) == before
    assert provider.connector.metrics.value(REJECTED, reason="dsp.too_deep") == 1


async def test_oversized_catalog_request_is_refused_over_the_bus(provider, consumer):
    request = m.catalog_request([0] * (MAX_VALUES + 1))
    env, _ = await consumer.connector.bus.request(provider.did, request["@type"], request)
    assert (env.message_type, env.payload["code"]) == ("CatalogError", "dsp.too_large")
    assert provider.connector.metrics.value(REJECTED, reason="dsp.too_large") == 1


# --------------------------------------------------------------- tsunagu dsp validate

def write(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "message.json"
    path.write_bytes(data)
    return str(path)


def deep_file(tmp_path: Path, depth: int) -> str:
    head = json.dumps(m.catalog_request()).encode()[:-1]  # without the closing brace
    return write(tmp_path, head + b', "filter": [' + nested_json(depth) + b"]}")


@pytest.mark.parametrize("depth", [980, 100_000], ids=["parsed-then-bounded", "parser-limit"])
def test_cli_on_deeply_nested_file_exits_1_with_the_reason(tmp_path, capsys, depth):
    assert main(["dsp", "validate", deep_file(tmp_path, depth)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"nested deeper than {MAX_DEPTH} levels [dsp.too_deep]" in err
    assert "Traceback" not in err


def test_cli_on_oversized_file_exits_1_with_the_reason(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(dsp_cli, "MAX_FILE_BYTES", 1000)
    assert main(["dsp", "validate", write(tmp_path, b" " * 1001)]) == 1
    assert "larger than 1000 bytes [dsp.too_large]" in capsys.readouterr().err


def test_installed_cli_on_deeply_nested_file_exits_1_without_traceback(tmp_path):
    tsunagu = Path(sys.executable).parent / "tsunagu"
    if not tsunagu.exists():
        skip_or_fail("tsunagu entry point not installed (pip install -e .)")
    done = subprocess.run([str(tsunagu), "dsp", "validate", deep_file(tmp_path, 980)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "[dsp.too_deep]" in done.stderr and "Traceback" not in done.stderr

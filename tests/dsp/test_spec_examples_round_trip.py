"""Round trip of the DSP 2025-1 examples: every policy in each example (offers, agreements, a
catalog's and a dataset's ``hasPolicy``) parsed by usage_policies and written back by its DSP
serialiser gives a message that still validates against the published schemas and the
bundled contexts."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from connector.protocol.dsp.validation import check_jsonld, validate_document
from tests.vectors import UPSTREAM_DSP
from usage_policies import parse_policies
from usage_policies.serialize import to_dsp

EXAMPLES = sorted((UPSTREAM_DSP / "examples").rglob("*.json"))
POLICY_TYPES = {"Offer", "Agreement", "Set", "Policy"}


def _rewrite(node: Any, written: dict[str, dict[str, Any]], seen: list[str]) -> Any:
    if isinstance(node, list):
        return [_rewrite(v, written, seen) for v in node]
    if not isinstance(node, dict):
        return node
    if node.get("@type") in POLICY_TYPES:
        seen.append(node["@id"])
        return written[node["@id"]]
    return {k: _rewrite(v, written, seen) for k, v in node.items()}


def _collect(node: Any, found: list[str]) -> None:
    if isinstance(node, list):
        for v in node:
            _collect(v, found)
    elif isinstance(node, dict):
        if node.get("@type") in POLICY_TYPES:
            found.append(node["@id"])
        for v in node.values():
            _collect(v, found)


def test_the_policy_examples_are_covered():
    with_policies = [p.name for p in EXAMPLES if _policies_in(p)]
    assert len(with_policies) == 8, with_policies


def _policies_in(path: Path) -> list[str]:
    found: list[str] = []
    _collect(json.loads(path.read_text(encoding="utf-8")), found)
    return found


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_written_back_validates(path: Path):
    message = json.loads(path.read_text(encoding="utf-8"))
    if not _policies_in(path):  # no policy inside: what is written back is the JSON itself
        assert validate_document(json.loads(json.dumps(message)))
        return
    # Profiles are only named by the examples (https://test.com/profile): read, not evaluated.
    policies = parse_policies(copy.deepcopy(message), validate=False)
    written = {p.uid: to_dsp(p, standalone=False) for p in policies}
    seen: list[str] = []
    again = _rewrite(message, written, seen)
    assert sorted(seen) == sorted(written)  # every policy found, none invented
    assert validate_document(again) == message["@type"]
    check_jsonld(again)
    # and reading it back gives the same policies
    assert sorted(parse_policies(again, validate=False), key=lambda p: p.uid) == sorted(
        policies, key=lambda p: p.uid)

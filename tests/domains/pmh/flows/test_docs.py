"""The route examples of docs/pmh.md ("Routes"), run in order against real connectors: each
request gets the documented status, and each documented response's fields are there."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from domains.pmh.hub.api import CLAIMS, CLINIC, FAMILY, NURSE, SETTLEMENT
from tests.domains.pmh import family
from tests.domains.pmh.flows.support import (
    SAPPORO_CLINIC_NUMBER,
    TOKYO_CLINIC_NUMBER,
    clinic,
    municipality,
)

DOC = Path(__file__).resolve().parents[4] / "docs" / "pmh.md"
_MARK = re.compile(r"<!-- example: (\w+) (GET|POST) (\S+) (\d{3}) -->")
_JSON = re.compile(r"```json\n(.*?)\n```", re.S)


def examples() -> list[dict[str, Any]]:
    """(actor, method, path, status, request body or None, documented response or None)."""
    text = DOC.read_text(encoding="utf-8")
    found = []
    for mark in _MARK.finditer(text):
        rest = text[mark.end():]
        nxt = _MARK.search(rest)
        chunk = rest[:nxt.start()] if nxt else rest
        request = response = None
        if "<!-- response -->" in chunk:
            before, after = chunk.split("<!-- response -->", 1)
            response = orjson.loads(_JSON.search(after).group(1))
        else:
            before = chunk
        if (block := _JSON.search(before)) is not None:
            request = orjson.loads(block.group(1))
        actor, method, path, status = mark.groups()
        found.append({"actor": actor, "method": method, "path": path, "status": int(status),
                      "request": request, "response": response})
    return found


def fields_match(documented: Any, actual: Any, where: str = "$") -> None:
    if isinstance(documented, dict):
        assert isinstance(actual, dict), where
        missing = set(documented) - set(actual)
        assert not missing, f"{where}: {sorted(missing)}"
        for key, value in documented.items():
            fields_match(value, actual[key], f"{where}.{key}")
    elif isinstance(documented, list) and documented:
        assert isinstance(actual, list) and actual, where
        fields_match(documented[0], actual[0], f"{where}[0]")


SCOPE = {"checkups": CLINIC, "vaccinations": CLINIC, "claims": CLAIMS,
         "claims:decide": CLAIMS, "follow-ups": NURSE, "family/claims": FAMILY,
         **dict.fromkeys(("settlements", "settlements:approve", "settlements:pay"),
                         SETTLEMENT)}


def test_the_doc_has_examples_of_every_route_kind():
    shown = {(e["method"], e["path"]) for e in examples()}
    assert {("POST", "checkups"), ("POST", "vaccinations"), ("GET", "claims"),
            ("POST", "claims:decide"), ("GET", "follow-ups"),
            ("GET", "family/claims"), ("POST", "settlements"), ("POST", "settlements:approve"),
            ("POST", "settlements:pay"), ("GET", "settlements")} <= shown


async def test_the_route_examples_run_as_documented(start_pmh):
    city = await municipality(start_pmh)
    nodes = {"city": city, "family": city,
             "tokyo": await clinic(start_pmh, city, number=TOKYO_CLINIC_NUMBER, name="東京"),
             "sapporo": await clinic(start_pmh, city, number=SAPPORO_CLINIC_NUMBER,
                                     name="札幌", kinds=("encounters",))}
    for example in examples():
        node = nodes[example["actor"]]
        body = example["request"]
        if body is not None and "{claim}" in orjson.dumps(body).decode():
            claim = city.hub.claims()[0]["id"]
            body = orjson.loads(orjson.dumps(body).decode().replace("{claim}", claim))
        if body is not None and "{settlement}" in orjson.dumps(body).decode():
            batch = city.hub.settlements()[0]["id"]
            body = orjson.loads(orjson.dumps(body).decode().replace("{settlement}", batch))
        subjects = [family.MOTHER, family.CHILD] if example["actor"] == "family" else None
        status, answer = await node.call(example["method"], example["path"], body,
                                         SCOPE[example["path"]], subjects=subjects)
        assert status == example["status"], (example["path"], answer)
        if example["response"] is not None:
            fields_match(example["response"], answer)
            if "rule" in example["response"]:
                assert answer["rule"] == example["response"]["rule"]

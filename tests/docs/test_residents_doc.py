"""docs/residents-rights.md: every request on the page is sent, as written, to a real
connector's app API (with the token its Authorization line names) and answers as the page
says; the response example and the policy duty are what the code reads; the Python example
runs."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from jsonschema import Draft202012Validator

from connector.api.tokens import TokenStore
from connector.control.delete_duties import purges_on_withdrawal
from connector.plugins.registry import dataset_schema
from connector.protocol import agreements
from connector.runtime.connector import Connector
from tests.api.conftest import _REGISTRY, running_connector, start_api
from tests.connector.conftest import OFFER
from trust import jsonld

DOC = Path(__file__).resolve().parents[2] / "docs" / "residents-rights.md"
TEXT = DOC.read_text(encoding="utf-8")
PERSON = "urn:example:sendai:evacuee:0001"
EVACUEES = "urn:example:docs:evacuees"
# A request: its http block (method, path, Authorization) and the json block right after it.
_REQUEST = re.compile(r"^```http\n(.*?)^```\n(?:```json\n(.*?)^```\n)?", re.S | re.M)
_JSON = re.compile(r"^```json\n(.*?)^```", re.S | re.M)


def requests() -> list[tuple[str, str, str, dict[str, Any] | None]]:
    """(method, path, token kind, body) of each request line, in page order."""
    found = []
    for head, body in _REQUEST.findall(TEXT):
        lines = head.strip().splitlines()
        auth = next(line for line in lines if line.startswith("Authorization"))
        kind = "person" if "residents:self" in auth else "staff"
        for line in lines:
            method, _, target = line.partition(" ")
            if method in ("GET", "POST"):
                found.append((method, target, kind, json.loads(body) if body else None))
    return found


def json_blocks() -> list[Any]:
    return [json.loads(b) for b in _JSON.findall(TEXT)]


@dataclass
class City:
    url: str
    connector: Connector
    tokens: dict[str, str]
    http: aiohttp.ClientSession

    async def send(self, method: str, target: str, kind: str, body: Any = None
                   ) -> tuple[int, Any]:
        async with self.http.request(method, self.url + target, json=body, headers={
                "Authorization": f"Bearer {self.tokens[kind]}"}) as resp:
            return resp.status, await resp.json(content_type=None)


@pytest.fixture
async def city(tmp_path, nats_server) -> AsyncIterator[City]:
    async with running_connector(tmp_path, nats_server.url) as connector:
        await connector.datasets.offer_dataset(EVACUEES, "避難者名簿", [OFFER],
                                               dataset_schema("evacuee"))
        await connector.records.publish(EVACUEES, {
            "@context": [jsonld.CREDENTIALS_V2, jsonld.TSUNAGU_V1,
                         "https://w3id.org/tsunagu/bosai/v1"],
            "id": PERSON, "type": "Evacuee", "familyName": "山田", "givenName": "花子",
            "birthDate": "1952-04-01", "sex": "female",
            "address": "宮城県仙台市青葉区一番町1-1", "consentToDisclose": True})
        _, server = await start_api(connector)
        store = TokenStore(connector.store)
        tokens = {"person": store.issue(["residents:self"], subjects=[PERSON]).token,
                  "staff": store.issue(["records:write"]).token}
        async with aiohttp.ClientSession() as http:
            yield City(str(server.make_url("")).rstrip("/"), connector, tokens, http)
        await server.close()


def test_the_page_shows_each_right():
    sent = [(m, t.split("/")[-1].split("?")[0]) for m, t, _, _ in requests()]
    assert sent == [("POST", "apps"), ("POST", "consent-withdrawals"), ("GET", "disclosure"),
                    ("POST", "corrections"), ("GET", "corrections"), ("POST", "decision")]


async def test_each_request_answers_as_the_page_says(city):
    correction = None
    for method, target, kind, body in requests():
        if "{correction id}" in target:
            target = target.replace("{correction id}", quote(correction, safe=""))
        status, answer = await city.send(method, target, kind, body)
        assert status in (200, 201), (target, answer)
        if target.endswith("/corrections") and method == "POST":
            correction = answer["id"]
    assert city.connector.records.get(PERSON)["address"] == "宮城県仙台市青葉区二番町2-2"
    # The refusal body, on a second request.
    [asked] = [r for r in requests() if r[0] == "POST" and r[1].endswith("/corrections")]
    _, second = await city.send(*asked[:3], {**asked[3], "value": "どこか"})
    refusal = next(b for b in json_blocks() if b.get("accept") is False)
    status, refused = await city.send(
        "POST", f"/api/v1/corrections/{quote(second['id'], safe='')}/decision", "staff",
        refusal)
    assert (status, refused["status"], refused["decisionReason"]) == (
        200, "refused", refusal["reason"])


def test_the_response_example_is_a_documented_withdrawal():
    example = next(b for b in json_blocks() if "holders" in b)
    schema = {"$ref": "urn:tsunagu:openapi#/components/schemas/ConsentWithdrawal"}
    Draft202012Validator(schema, registry=_REGISTRY).validate(example)


def test_the_duty_on_the_page_purges_on_withdrawal():
    duty = next(b for b in json_blocks() if b.get("action") == "odrl:delete")
    offer = {**OFFER, "permission": [{**OFFER["permission"][0], "duty": [duty]}]}
    document = {"@context": ["https://w3id.org/dspace/2025/1/context.jsonld",
                             "https://w3id.org/dspace/2025/1/odrl-profile.jsonld",
                             "https://w3id.org/tsunagu/v1"], **offer,
                "assigner": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
                "target": EVACUEES}
    assert purges_on_withdrawal(agreements.parse(document))
    assert not purges_on_withdrawal(agreements.parse({**document, "permission": [
        OFFER["permission"][0]]}))


async def test_the_python_example_runs(city):
    [code] = re.findall(r"^```python\n(.*?)^```", TEXT, re.S | re.M)
    scope: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), scope)
    await scope["example"](city.url, city.tokens["person"], city.tokens["staff"])

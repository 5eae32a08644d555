"""Every request and response body in openapi.json comes with an example, and every example
is valid against the schema documented beside it (the same schemas the API tests check real
responses against, see conftest.Api.call)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from tests.api.conftest import _DOC_URI, _REGISTRY, OPENAPI, _escape

SELF = ("get", "/openapi.json")  # its body is this document


def bodies() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(label, JSON pointer of the media object, media object) of every documented body."""
    for path, operations in OPENAPI["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":  # shared by the path's operations, not one
                continue
            base = f"/paths/{_escape(path)}/{method}"
            request = operation.get("requestBody", {}).get("content", {})
            for media_type, media in request.items():
                yield (f"{method} {path} request", f"{base}/requestBody/content/"
                       f"{_escape(media_type)}", media)
            for status, response in operation["responses"].items():
                if "$ref" in response or (method, path) == SELF:
                    continue  # shared responses are checked once, below
                for media_type, media in response.get("content", {}).items():
                    yield (f"{method} {path} {status}", f"{base}/responses/{status}/content/"
                           f"{_escape(media_type)}", media)
    for name, response in OPENAPI["components"]["responses"].items():
        for media_type, media in response["content"].items():
            yield (f"response {name}", f"/components/responses/{name}/content/"
                   f"{_escape(media_type)}", media)


BODIES = list(bodies())


def test_every_body_has_an_example():
    missing = [label for label, _, media in BODIES if "example" not in media]
    assert missing == []
    assert len(BODIES) >= 40  # requests, responses and the shared error responses


@pytest.mark.parametrize("label, pointer, media", BODIES, ids=[b[0] for b in BODIES])
def test_each_example_matches_its_schema(label, pointer, media):
    example = media["example"]
    if "x-event-data" in media:  # an event stream: each event's data is a DeliveryEvent
        data = [line.removeprefix("data: ") for line in example.splitlines()
                if line.startswith("data: ")]
        assert data, "the stream example shows no event"
        schema = {"$ref": f"{_DOC_URI}#{pointer}/x-event-data"}
        for item in data:
            Draft202012Validator(schema, registry=_REGISTRY).validate(orjson.loads(item))
        return
    Draft202012Validator({"$ref": f"{_DOC_URI}#{pointer}/schema"},
                         registry=_REGISTRY).validate(example)

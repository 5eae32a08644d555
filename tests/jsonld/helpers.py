"""Shared pieces of the trust.jsonld tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from trust import jsonld
from trust.errors import JsonLdError

ODRL = "http://www.w3.org/ns/odrl/2/"
DSPACE = "https://w3id.org/dspace/2025/1/"
TSUNAGU = "https://w3id.org/tsunagu/ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
VECTORS = Path(__file__).parent.parent / "vectors" / "vc-di-eddsa-jcs"


def offer(**permission_extra) -> dict:
    permission = {"action": "use",
                  "constraint": [{"leftOperand": "tsunagu:disasterPhase", "operator": "eq",
                                  "rightOperand": {"@id": "tsunagu:disaster_response"}}]}
    permission.update(permission_extra)
    return {"@context": [jsonld.ODRL_CONTEXT, jsonld.TSUNAGU_V1], "@type": "Offer",
            "@id": "urn:uuid:policy-1", "permission": [permission]}


def raises(code: str, document, fn=jsonld.expand, *args) -> JsonLdError:
    with pytest.raises(JsonLdError) as info:
        fn(document, *args)
    assert info.value.code == code, str(info.value)
    return info.value

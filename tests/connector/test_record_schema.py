"""The compiled schema check never accepts what the reference (jsonschema) refuses.

connector.data.record_schema answers "valid" from jsonschema_rs and asks jsonschema only
otherwise, so the compiled validator must never be more lenient than the reference: these
properties hold it to that on every format the reference checks and on every domain schema.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.data.record_schema import RecordSchemas, _Compiled
from tests.fuzz.strategies import FUZZ, json_values, mutated_text

# 28 properties: fewer examples each than the fuzz suite's 2000 keeps this file near 30 s.
PROPERTY = settings(FUZZ, max_examples=300)

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_SCHEMAS = sorted((ROOT / "domains").glob("*/*.schema.json"))
# The formats jsonschema's own checker knows (others it lets through, and so does the check).
SEEDS = {"date": "2026-03-11", "email": "staff@city.example", "ipv4": "192.0.2.1",
         "ipv6": "2001:db8::1", "uuid": "7f0c1c2e-5b1a-4d0e-9c38-0a1b2c3d4e5f",
         "regex": "^[0-9]{6}$", "idn-email": "職員@市.example", "idn-hostname": "市役所.example"}


def reference_ok(schema: dict, document: object) -> bool:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER).is_valid(document)


def compiled(schema: dict) -> jsonschema_rs.Validator:
    """The compiled validator exactly as RecordSchemas builds it."""
    fast = _Compiled(schema).fast
    assert fast is not None
    return fast


def compiled_ok(schema: dict, document: object) -> bool:
    """The compiled verdict as RecordSchemas takes it (text it cannot encode: not valid)."""
    try:
        return compiled(schema).is_valid(document)
    except (ValueError, OverflowError):
        return False


@pytest.mark.parametrize("fmt", sorted(SEEDS))
@PROPERTY
@given(data=st.data())
def test_the_compiled_check_is_never_more_lenient_on_a_format(fmt: str, data) -> None:
    value = data.draw(mutated_text(SEEDS[fmt]) | st.text(max_size=24) | st.just(SEEDS[fmt]))
    schema = {"type": "string", "format": fmt}
    if compiled_ok(schema, value):
        assert reference_ok(schema, value), (fmt, value)


@pytest.mark.parametrize("path", DOMAIN_SCHEMAS, ids=lambda p: f"{p.parent.name}/{p.name}")
@PROPERTY
@given(document=json_values(12))
def test_the_compiled_check_is_never_more_lenient_on_a_domain_schema(path: Path,
                                                                      document) -> None:
    schema = json.loads(path.read_text())
    if compiled_ok(schema, document):
        assert reference_ok(schema, document)


def test_errors_come_from_the_reference_and_name_rules_not_values() -> None:
    schema = {"type": "object", "required": ["name"],
              "properties": {"name": {"type": "string", "maxLength": 3},
                             "born": {"type": "string", "format": "date"}}}
    schemas = RecordSchemas()
    assert schemas.errors(schema, {"name": "abc", "born": "2026-02-28"}) == []
    errors = schemas.errors(schema, {"name": "山田太郎", "born": "2026-02-30"})
    assert [e["path"] for e in errors] == ["$.born", "$.name"]
    assert all("山田" not in e["reason"] and "2026-02-30" not in e["reason"] for e in errors)


def test_a_format_only_the_compiled_check_knows_does_not_refuse() -> None:
    """jsonschema (as installed) does not check date-time; a record refused by the compiled
    check alone is decided by the reference, so publishing behaves as it did before."""
    schema = {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}
    document = {"at": "2026-03-11 14:46"}
    assert not jsonschema_rs.validator_for(schema, validate_formats=True).is_valid(document)
    assert RecordSchemas().errors(schema, document) == []


def test_a_remote_ref_is_never_fetched() -> None:
    schema = {"$ref": "http://127.0.0.1:9/evil.schema.json"}
    with pytest.raises(Exception, match="127.0.0.1:9|Unresolvable|resolve"):
        RecordSchemas().errors(schema, {"x": 1})

"""canonical_json's orjson fast path is byte-identical to the rfc8785 reference.

For every JSON value hypothesis draws (keys and strings over all of Unicode, including
controls, U+2028/9, U+E000-U+FFFF, supplementary characters and lone surrogates; integers
around the 2**53 edge; floats; tuples), canonical_json either returns exactly what
rfc8785.dumps returns, or both refuse.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trust.canonical import _fast_ok, canonical_json
from trust.errors import ValidationError

LIMIT = 2**53 - 1

texts = st.one_of(
    st.text(),  # all code points but lone surrogates
    st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF,
                                   exclude_categories=())),  # surrogates included
    st.text(alphabet=st.sampled_from(["a", "\x00", "\x1f", "\x7f", '"', "\\", "\b", "\f",
                                      "\n", "\r", "\t", "\u2028", "\u2029", "\ud7ff",
                                      "\ue000", "\uffff", "\U00010000", "\U0001f600", "é"])),
)
integers = st.one_of(st.integers(-LIMIT - 3, -LIMIT + 3), st.integers(LIMIT - 3, LIMIT + 3),
                     st.integers(-(10**6), 10**6), st.integers())
scalars = st.one_of(st.none(), st.booleans(), integers, texts,
                    st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.tuples(inner, inner),
                            st.dictionaries(texts, inner, max_size=6)),
    max_leaves=30)


def reference(value: Any) -> bytes | None:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError):
        return None


def ours(value: Any) -> bytes | None:
    try:
        return canonical_json(value)
    except ValidationError:
        return None


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_fast_path_is_identical_to_rfc8785(value):
    assert ours(value) == reference(value)


@settings(max_examples=1000, deadline=None)
@given(st.dictionaries(texts, st.one_of(st.none(), integers, texts), max_size=8))
def test_key_order_and_escapes(value):
    assert ours(value) == reference(value)


class Colour(enum.StrEnum):
    RED = "r"


class Level(enum.IntEnum):
    HIGH = 3


@pytest.mark.parametrize("value", [
    {"a": 56.0}, {"b": 1e21}, [0.1], {"\U0001f600": 1, "\ufb01": 2}, {"k": (1, 2)},
    {"c": Colour.RED}, {"l": Level.HIGH}, {Colour.RED: 1},
])
def test_values_outside_the_fast_domain_take_the_reference_path(value):
    assert not _fast_ok(value)
    assert ours(value) == reference(value)


@pytest.mark.parametrize("value", [{"n": 2**53}, {"n": -(2**53)}, {"s": "\ud800"}, {1: "x"}])
def test_refusals_are_the_same(value):
    assert reference(value) is None
    with pytest.raises(ValidationError) as info:
        canonical_json(value)
    assert info.value.code == "json.not_canonicalizable"


def test_a_signed_record_shape():
    record = {"@context": ["https://www.w3.org/ns/credentials/v2"], "id": "urn:x:1",
              "type": ["Record"], "name": "避難所 1", "version": 3, "deleted": False,
              "proof": {"type": "DataIntegrityProof", "created": "2025-01-01T00:00:00Z"}}
    assert _fast_ok(record)
    assert canonical_json(record) == rfc8785.dumps(record)

"""Base58btc multibase: our two-digits-at-a-time codec against the base58 package."""

import base58
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trust.errors import MultibaseError
from trust.multibase import decode_base58btc, encode_base58btc


@given(st.binary(max_size=80) | st.binary(max_size=8).map(lambda b: b"\0" * 3 + b))
def test_encode_matches_the_reference_and_round_trips(data: bytes) -> None:
    encoded = encode_base58btc(data)
    assert encoded == "z" + base58.b58encode(data).decode("ascii")
    if data:
        assert decode_base58btc(encoded) == data


@given(st.text(alphabet="123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz",
               min_size=1, max_size=100))
def test_decode_matches_the_reference(text: str) -> None:
    assert decode_base58btc("z" + text) == base58.b58decode(text)


@pytest.mark.parametrize("text", ["z", "zO0Il", "z12 3", "z\u0661", "f00", "", "z1+"])
def test_anything_outside_the_alphabet_is_refused(text: str) -> None:
    with pytest.raises(MultibaseError):
        decode_base58btc(text)


def test_leading_zero_bytes_are_leading_ones() -> None:
    assert encode_base58btc(b"\0\0\x01") == "z112"
    assert decode_base58btc("z112") == b"\0\0\x01"

"""Batch proofs (trust.batch_proofs): one signature per batch, each record verifiable alone."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from trust import batch_proofs
from trust.errors import ProofError
from trust.keys import KeyPair
from trust.multibase import decode_base58btc, decode_base64url, encode_base58btc, encode_base64url
from trust.proofs import RECORD_SUITES, sign_document, verify_document

VECTORS = Path(__file__).parent / "vectors" / "batch-proofs"
KEY = KeyPair.from_seed(bytes(range(32)))


def docs(n: int) -> list[dict]:
    return [{"@context": ["https://www.w3.org/ns/credentials/v2", "https://w3id.org/tsunagu/v1"],
             "id": f"urn:example:r:{i}", "type": "Record", "name": f"避難所 {i}", "version": 1}
            for i in range(n)]


def verify(doc: dict, **kw) -> object:
    return verify_document(doc, expected_controller=KEY.did, suites=RECORD_SUITES, **kw)


def test_the_vectors_follow_the_documented_algorithm_independently_of_the_module() -> None:
    """Leaves, root and signature recomputed with hashlib, rfc8785 and cryptography only."""
    given_ = json.loads((VECTORS / "input.json").read_text())
    expected = json.loads((VECTORS / "expected.json").read_text())
    h = lambda data: hashlib.sha256(data).digest()  # noqa: E731
    leaves = []
    for signed in expected["signed"]:
        proof = signed["proof"]
        config = {k: v for k, v in proof.items() if k not in ("proofValue", "merklePath")}
        document = {k: v for k, v in signed.items() if k != "proof"}
        leaves.append(h(b"\x00" + h(rfc8785.dumps(config)) + h(rfc8785.dumps(document))))
    assert [x.hex() for x in leaves] == expected["leavesHex"]
    root = h(b"\x01" + h(b"\x01" + leaves[0] + leaves[1]) + leaves[2])  # 3 leaves: last moves up
    assert root.hex() == expected["rootHex"]
    message = b"tsunagu-merkle-eddsa-jcs-2026\x00" + root
    signature = decode_base58btc(expected["signed"][0]["proof"]["proofValue"])
    key = Ed25519PublicKey.from_public_bytes(bytes(KEY.public_key.public_bytes_raw()))
    key.verify(signature, message)  # raises if it does not hold
    # and the module makes exactly these documents from the input (Ed25519 is deterministic)
    from datetime import UTC, datetime
    again = batch_proofs.sign_batch(given_["documents"], KeyPair.from_seed(
        bytes.fromhex(given_["seedHex"])), created=datetime(2026, 12, 6, tzinfo=UTC))
    assert again == expected["signed"]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40))
def test_every_document_of_any_batch_verifies_on_its_own(n: int) -> None:
    signed = batch_proofs.sign_batch(docs(n), KEY)
    assert len({s["proof"]["proofValue"] for s in signed}) == 1  # one signature per batch
    for s in signed:
        assert verify(s).controller == KEY.did


def test_the_batch_suite_is_accepted_only_where_the_caller_says_so() -> None:
    (signed,) = batch_proofs.sign_batch(docs(1), KEY)
    with pytest.raises(ProofError) as caught:
        verify_document(signed, expected_controller=KEY.did)  # agreements, credentials...
    assert caught.value.code == "proof.unsupported_cryptosuite"
    verify(sign_document(docs(1)[0], KEY))  # records still take per-record proofs


@pytest.mark.parametrize("tamper, code", [
    (lambda s, o: {**s, "name": "改ざん"}, "proof.bad_signature"),
    (lambda s, o: {**s, "proof": {**s["proof"], "merklePath": o["proof"]["merklePath"]}},
     "proof.bad_signature"),  # another record's path
    (lambda s, o: {**s, "proof": {**s["proof"], "merklePath": encode_base64url(
        decode_base64url(s["proof"]["merklePath"])[33:])}}, "proof.bad_signature"),  # a step cut
    (lambda s, o: {**s, "proof": {**s["proof"], "merklePath": encode_base64url(
        b"X" + decode_base64url(s["proof"]["merklePath"])[1:])}}, "proof.malformed"),
    (lambda s, o: {**s, "proof": {**s["proof"], "merklePath": encode_base64url(b"L" * 40)}},
     "proof.malformed"),
    (lambda s, o: {**s, "proof": {**s["proof"], "merklePath": "z" + s["proof"]["merklePath"][1:]}},
     "proof.malformed"),
    (lambda s, o: {**s, "proof": {k: v for k, v in s["proof"].items() if k != "merklePath"}},
     "proof.malformed"),
    (lambda s, o: {**s, "proof": {**s["proof"], "created": "2020-01-01T00:00:00Z"}},
     "proof.bad_signature"),
])
def test_a_tampered_record_or_path_is_refused_naming_why(tamper, code) -> None:
    first, other, *_ = batch_proofs.sign_batch(docs(5), KEY)
    roots = batch_proofs.VerifiedRoots()
    verify(first, verified_roots=roots)  # the batch's root is now known good
    with pytest.raises(ProofError) as caught:
        verify(tamper(first, other), verified_roots=roots)
    assert caught.value.code == code


def test_a_known_root_skips_the_signature_check_but_only_for_that_signature() -> None:
    signed = batch_proofs.sign_batch(docs(8), KEY)
    roots = batch_proofs.VerifiedRoots(size=2)
    verify(signed[0], verified_roots=roots)
    assert len(roots._seen) == 1
    forged_value = encode_base58btc(b"\x00" * 64)
    with pytest.raises(ProofError, match="altered or forged"):
        verify({**signed[1], "proof": {**signed[1]["proof"], "proofValue": forged_value}},
               verified_roots=roots)
    for s in signed:
        verify(s, verified_roots=roots)
    assert len(roots._seen) == 1  # one root, checked once


def test_another_key_cannot_claim_the_batch() -> None:
    (signed,) = batch_proofs.sign_batch(docs(1), KeyPair.generate())
    with pytest.raises(ProofError) as caught:
        verify(signed)
    assert caught.value.code == "proof.wrong_signer"

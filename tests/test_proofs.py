"""eddsa-jcs-2022 against the W3C test vectors, byte for byte, plus failure reasons."""

import copy
import json
from datetime import datetime
from pathlib import Path

import pytest

from trust.canonical import canonical_json, sha256
from trust.errors import ProofError
from trust.keys import KeyPair
from trust.proofs import hash_data, sign_document, verify_document

VECTORS = Path(__file__).parent / "vectors" / "vc-di-eddsa-jcs"


def text(name: str) -> str:
    return (VECTORS / name).read_text().strip()


def load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


@pytest.fixture
def key() -> KeyPair:
    return KeyPair.from_secret_multibase(load("keyPair.json")["privateKeyMultibase"])


@pytest.fixture
def proof_config() -> dict:
    return load("proofConfigJCS.json")


def test_key_pair_matches_vector(key):
    assert key.public_key_multibase == load("keyPair.json")["publicKeyMultibase"]
    assert key.secret_key_multibase() == load("keyPair.json")["privateKeyMultibase"]


def test_canonical_document_matches():
    assert canonical_json(load("unsigned.json")).decode() == text("canonDocJCS.txt")


def test_canonical_proof_config_matches(proof_config):
    assert canonical_json(proof_config).decode() == text("proofCanonJCS.txt")


def test_hashes_match(proof_config):
    assert sha256(canonical_json(load("unsigned.json"))).hex() == text("docHashJCS.txt")
    assert sha256(canonical_json(proof_config)).hex() == text("proofHashJCS.txt")
    assert hash_data(load("unsigned.json"), proof_config).hex() == text("combinedHashJCS.txt")


def test_signature_and_proof_value_match(key, proof_config):
    signature = key.sign(hash_data(load("unsigned.json"), proof_config))
    assert signature.hex() == text("sigHexJCS.txt")
    created = datetime.fromisoformat(proof_config["created"].replace("Z", "+00:00"))
    signed = sign_document(load("unsigned.json"), key, created=created)
    assert signed["proof"]["proofValue"] == text("sigBTC58JCS.txt")
    assert signed == load("signedJCS.json")


def test_signed_vector_verifies():
    result = verify_document(load("signedJCS.json"))
    assert result.controller == "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
    assert result.created == "2023-02-24T23:36:38Z"


def test_tampered_vector_fails_with_clear_reason():
    doc = load("signedJCS.json")
    doc["credentialSubject"]["alumniOf"] = "Another School"
    with pytest.raises(ProofError) as info:
        verify_document(doc)
    assert info.value.code == "proof.bad_signature"
    assert "altered or forged" in info.value.message


def test_tampered_proof_option_fails():
    doc = load("signedJCS.json")
    doc["proof"]["created"] = "2024-02-24T23:36:38Z"
    with pytest.raises(ProofError) as info:
        verify_document(doc)
    assert info.value.code == "proof.bad_signature"


def test_signer_swap_is_detected():
    """A valid signature by another key cannot be passed off as the claimed signer's."""
    doc = load("signedJCS.json")
    other = KeyPair.generate()
    doc["proof"]["verificationMethod"] = other.verification_method
    with pytest.raises(ProofError) as info:
        verify_document(doc)
    assert info.value.code == "proof.bad_signature"


def test_round_trip_with_unicode_and_expected_signer():
    key = KeyPair.generate()
    record = {"id": "urn:uuid:1", "名前": "避難所 一号", "emoji": "\U0001f30a", "n": 56.0}
    signed = sign_document(record, key)
    assert verify_document(signed, expected_controller=key.did).controller == key.did
    with pytest.raises(ProofError) as info:
        verify_document(signed, expected_controller=KeyPair.generate().did)
    assert info.value.code == "proof.wrong_signer"


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda d: d.pop("proof"), "proof.missing"),
        (lambda d: d.__setitem__("proof", "x"), "proof.malformed"),
        (lambda d: d.__setitem__("proof", [d["proof"]]), "proof.multiple"),
        (lambda d: d["proof"].__setitem__("cryptosuite", "eddsa-rdfc-2022"),
         "proof.unsupported_cryptosuite"),
        (lambda d: d["proof"].__setitem__("type", "Ed25519Signature2020"),
         "proof.unsupported_type"),
        (lambda d: d["proof"].__setitem__("proofPurpose", "authentication"),
         "proof.wrong_purpose"),
        (lambda d: d["proof"].__setitem__("verificationMethod", "did:web:example.com#k"),
         "proof.unresolvable_key"),
        (lambda d: d["proof"].__setitem__("proofValue", "z0OIl"), "proof.malformed"),
        (lambda d: d["proof"].__setitem__("proofValue", "z2Hn"), "proof.bad_signature"),
        (lambda d: d.__setitem__("@context", ["https://www.w3.org/ns/credentials/v2"]),
         "proof.context_mismatch"),
    ],
)
def test_malformed_proofs_name_the_problem(mutate, code):
    doc = copy.deepcopy(load("signedJCS.json"))
    mutate(doc)
    with pytest.raises(ProofError) as info:
        verify_document(doc)
    assert info.value.code == code

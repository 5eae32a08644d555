"""Ed25519 keys on disk, did:key and Multikey encodings."""

import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from trust.errors import DidError, KeyMaterialError
from trust.keys import (
    KeyPair,
    load_key,
    public_key_from_multibase,
    resolve_did_key,
    save_key,
    verification_method,
)
from trust.multibase import ED25519_PUB, encode_base58btc

# did:key spec example (Ed25519): the key bytes below encode to this DID.
SPEC_DID = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"


def test_did_key_has_ed25519_multicodec_prefix_and_resolves():
    key = KeyPair.generate()
    assert key.did.startswith("did:key:z6Mk")
    resolved = resolve_did_key(key.did)
    assert resolved.public_bytes_raw() == key.public_key.public_bytes_raw()
    assert resolve_did_key(key.verification_method).public_bytes_raw() == (
        key.public_key.public_bytes_raw())


def test_spec_did_resolves_and_re_encodes():
    from trust.keys import did_from_public_key

    assert did_from_public_key(resolve_did_key(SPEC_DID)) == SPEC_DID
    assert verification_method(SPEC_DID) == SPEC_DID + "#" + SPEC_DID.split(":")[2]


def test_multikey_round_trip():
    key = KeyPair.generate()
    assert public_key_from_multibase(key.public_key_multibase).public_bytes_raw() == (
        key.public_key.public_bytes_raw())
    again = KeyPair.from_secret_multibase(key.secret_key_multibase())
    assert again.did == key.did


def test_save_writes_mode_0600_and_loads_back(tmp_path):
    key = KeyPair.generate()
    path = tmp_path / "keys" / "participant.pem"
    save_key(key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path).did == key.did
    assert [p.name for p in path.parent.iterdir()] == ["participant.pem"]  # no temp left


def test_save_never_overwrites(tmp_path):
    path = tmp_path / "k.pem"
    save_key(KeyPair.generate(), path)
    before = path.read_bytes()
    with pytest.raises(KeyMaterialError, match="refusing to overwrite"):
        save_key(KeyPair.generate(), path)
    assert path.read_bytes() == before


def test_world_readable_key_is_refused(tmp_path):
    path = tmp_path / "k.pem"
    save_key(KeyPair.generate(), path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyMaterialError, match="chmod 600"):
        load_key(path)


def test_non_ed25519_and_garbage_keys_are_refused(tmp_path):
    ec = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    with pytest.raises(KeyMaterialError, match="Ed25519"):
        KeyPair.from_pem(ec)
    with pytest.raises(KeyMaterialError, match="PKCS8 PEM"):
        KeyPair.from_pem(b"not a key")
    with pytest.raises(KeyMaterialError, match="cannot read"):
        load_key(tmp_path / "missing.pem")


@pytest.mark.parametrize(
    ("did", "fragment"),
    [
        ("did:web:example.com", "only did:key"),
        ("did:key:", "malformed"),
        ("did:key:6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", "malformed"),  # no 'z'
        ("did:key:z0OIl", "malformed"),  # characters outside base58
        ("did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169", "codec prefix"),  # P-256
        ("did:key:" + encode_base58btc(ED25519_PUB + bytes(31)), "key bytes"),
        (SPEC_DID + "#z6Mkother", "fragment"),
        (42, "only did:key"),
    ],
)
def test_malformed_dids_name_the_problem(did, fragment):
    with pytest.raises(DidError) as info:
        resolve_did_key(did)
    assert fragment in info.value.message


def test_repr_hides_key_material():
    key = KeyPair.generate()
    assert key.secret_key_multibase() not in repr(key)
    assert "PRIVATE" not in repr(key)


def test_did_with_whitespace_or_padding_is_not_a_second_spelling():
    spaced = SPEC_DID.replace("z6Mk", "z 6Mk")
    for bad in (SPEC_DID + "\n", SPEC_DID + " ", spaced):
        with pytest.raises(DidError):
            resolve_did_key(bad)


def test_save_key_under_a_file_is_a_typed_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(KeyMaterialError, match="cannot write key file"):
        save_key(KeyPair.generate(), tmp_path / "file" / "sub" / "k.pem")

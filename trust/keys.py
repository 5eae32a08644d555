"""Ed25519 key pairs, their storage on disk and their did:key / Multikey encodings."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from trust import ed25519
from trust.at_rest import AtRestKey, read_secret, write_secret
from trust.errors import DidError, KeyMaterialError, MultibaseError
from trust.multibase import (
    ED25519_PRIV,
    ED25519_PUB,
    decode_multikey,
    encode_multikey,
)

if TYPE_CHECKING:
    from nacl.signing import SigningKey

DID_KEY_PREFIX = "did:key:"
KEY_FILE_ROLE = "ed25519-private-key"  # bound to a sealed key file (trust.at_rest)


def public_key_multibase(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return encode_multikey(ED25519_PUB, raw)


def public_key_from_multibase(text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(decode_multikey(text, ED25519_PUB))
    except MultibaseError as exc:
        raise KeyMaterialError(f"not an Ed25519 Multikey public key: {exc.message}") from exc


def did_from_public_key(public_key: Ed25519PublicKey) -> str:
    return DID_KEY_PREFIX + public_key_multibase(public_key)


def resolve_did_key(did_or_url: str) -> Ed25519PublicKey:
    """Return the Ed25519 public key a did:key (or a did:key verification method URL) names."""
    if not isinstance(did_or_url, str) or not did_or_url.startswith(DID_KEY_PREFIX):
        raise DidError("only did:key identifiers can be resolved here", did=str(did_or_url)[:80])
    return _resolve(did_or_url)


# A did:key names its key: resolution is a pure function of the string, and the public key
# object is immutable. Failures raise, and lru_cache never caches a raise.
@functools.lru_cache(maxsize=1024)
def _resolve(did_or_url: str) -> Ed25519PublicKey:
    did, _, fragment = did_or_url.partition("#")
    multikey = did[len(DID_KEY_PREFIX):]
    if fragment and fragment != multikey:
        raise DidError("did:key verification method fragment must repeat the key", did=did)
    try:
        return Ed25519PublicKey.from_public_bytes(decode_multikey(multikey, ED25519_PUB))
    except MultibaseError as exc:
        raise DidError(f"malformed did:key: {exc.message}", did=did[:80]) from exc


def verification_method(did: str) -> str:
    """The did:key verification method URL: the DID plus its key as fragment."""
    return f"{did}#{did[len(DID_KEY_PREFIX):]}"


def verify_signature(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    return ed25519.verify(public_key, signature, data)


@dataclass(frozen=True)
class KeyPair:
    """An Ed25519 key pair and the did:key that names it."""

    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> KeyPair:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> KeyPair:
        if len(seed) != 32:
            raise KeyMaterialError(f"an Ed25519 seed is 32 bytes, got {len(seed)}")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_secret_multibase(cls, text: str) -> KeyPair:
        try:
            return cls.from_seed(decode_multikey(text, ED25519_PRIV))
        except MultibaseError as exc:
            raise KeyMaterialError(f"not an Ed25519 Multikey secret key: {exc.message}") from exc

    # Derived once per key pair (the dataclass is frozen; cached_property writes __dict__).
    @functools.cached_property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @functools.cached_property
    def did(self) -> str:
        return did_from_public_key(self.public_key)

    @functools.cached_property
    def verification_method(self) -> str:
        return verification_method(self.did)

    @property
    def public_key_multibase(self) -> str:
        return public_key_multibase(self.public_key)

    def secret_key_multibase(self) -> str:
        return encode_multikey(ED25519_PRIV, self._seed())

    @functools.cached_property
    def _signer(self) -> SigningKey:
        return ed25519.signer(self._seed())

    def sign(self, data: bytes) -> bytes:
        return self._signer.sign(data).signature

    def _seed(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    def to_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_pem(cls, data: bytes) -> KeyPair:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyMaterialError("file is not an unencrypted PKCS8 PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyMaterialError(
                f"private key is {type(key).__name__}, tsunagu needs Ed25519"
            )
        return cls(key)

    def __repr__(self) -> str:  # never show key material
        return f"KeyPair(did={self.did!r})"


def save_key(key: KeyPair, path: Path, at_rest: AtRestKey | None = None) -> None:
    """Write the private key as PKCS8 PEM with mode 0600, atomically (no half-written file),
    sealed with the at-rest key when there is one; an existing key file is never replaced."""
    path = Path(path)
    if path.exists():
        raise KeyMaterialError(f"refusing to overwrite existing key file {path}")
    try:
        write_secret(path, key.to_pem(), KEY_FILE_ROLE, at_rest)
    except FileExistsError:
        raise KeyMaterialError(f"refusing to overwrite existing key file {path}") from None
    except OSError as exc:
        raise KeyMaterialError(f"cannot write key file {path}: {exc.strerror}") from exc


def load_key(path: Path, at_rest: AtRestKey | None = None) -> KeyPair:
    """A key file written by ``save_key`` (sealed ones need ``at_rest``)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode & 0o777
        data = read_secret(path, KEY_FILE_ROLE, at_rest)
    except OSError as exc:
        raise KeyMaterialError(f"cannot read key file {path}: {exc.strerror}") from exc
    if mode & 0o077:
        raise KeyMaterialError(
            f"key file {path} is readable by others (mode {mode:o}); run chmod 600 on it"
        )
    return KeyPair.from_pem(data)

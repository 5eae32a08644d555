"""Sealed payloads: data readable by the two connectors of an agreement, not by NATS.

Whoever runs the NATS servers (the authority, a cloud operator, anyone holding a stream
backup) sees every message. A record's issuer signature proves who wrote it but hides
nothing, so a dataset's messages are sealed:

- **Content keys.** The provider encrypts each message of a dataset's stream with the
  stream's current *content key* (32 random bytes, named by an *epoch* id), with
  XChaCha20-Poly1305 (random 24-byte nonces are safe at any volume). The associated data
  binds the ciphertext to where it was published (stream subject and message id), so a
  ciphertext moved to another subject or record fails to open.
- **Key agreement keys.** Each participant's X25519 key is derived from its Ed25519
  participant key (the birational map libsodium implements), so the key a consumer
  decrypts with is bound to its did:key and credential without publishing anything new.
- **Wrapping.** A content key reaches a consumer wrapped to its X25519 key (a libsodium
  sealed box: ephemeral X25519, XSalsa20-Poly1305) together with what it is for
  (agreement, stream, epoch, consumer): opened elsewhere, or presented for another
  agreement or stream, it is refused.

The issuer's signature stays on the plaintext record, so a record verifies on its own
once opened. Rotation (a new epoch on termination and on a schedule) is the provider's
business (connector.data.stream_keys); this module only seals and opens.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.signing
import orjson

from trust.errors import TrustCode, TsunaguError
from trust.keys import KeyPair, resolve_did_key

SEAL_HEADER = "Tsunagu-Seal"  # "v1 <epoch>" on every sealed message
SEAL_VERSION = "v1"
KEY_BYTES = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_KEYBYTES
NONCE_BYTES = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
_WRAP_TYPE = "tsunagu:WrappedContentKey"


class SealError(TsunaguError):
    """A sealed payload or wrapped key that cannot be opened here."""

    code = TrustCode.SEAL_INVALID


@dataclass(frozen=True, repr=False)
class ContentKey:
    """One epoch of a stream's content key."""

    epoch: str
    key: bytes

    @classmethod
    def generate(cls) -> ContentKey:
        return cls(f"e{secrets.token_hex(8)}", secrets.token_bytes(KEY_BYTES))

    def __repr__(self) -> str:  # never show key material
        return f"ContentKey(epoch={self.epoch!r})"


def seal_header(epoch: str) -> str:
    return f"{SEAL_VERSION} {epoch}"


def epoch_of(header: str | None) -> str | None:
    """The epoch a ``Tsunagu-Seal`` header names; None for an unsealed message. A header
    of another version or form is a SealError (never read as unsealed)."""
    if header is None:
        return None
    version, _, epoch = header.partition(" ")
    if version != SEAL_VERSION or not epoch or " " in epoch or len(epoch) > 64:
        raise SealError(f"unknown {SEAL_HEADER} header {header[:80]!r}")
    return epoch


def bound_to(subject: str, message_id: str) -> bytes:
    """The associated data of a stream message: the routing it was published with."""
    return f"{subject}\n{message_id}".encode()


def seal(key: ContentKey, plaintext: bytes, *, context: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, context, nonce, key.key)


def open_sealed(key: ContentKey, sealed: bytes, *, context: bytes) -> bytes:
    if len(sealed) < NONCE_BYTES + 16:
        raise SealError("the sealed payload is too short to be one")
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed[NONCE_BYTES:], context, sealed[:NONCE_BYTES], key.key)
    except nacl.exceptions.CryptoError:
        raise SealError(f"the payload does not open with the key of epoch {key.epoch}: "
                        "altered, moved to another subject or record, or sealed with "
                        "another key") from None


# ---------------------------------------------------------------- key agreement and wrapping

def agreement_private_key(key: KeyPair) -> nacl.public.PrivateKey:
    """The participant's X25519 key, derived from its Ed25519 key."""
    return nacl.signing.SigningKey(key._seed()).to_curve25519_private_key()


def agreement_public_key(did: str) -> nacl.public.PublicKey:
    """A participant's X25519 public key, from its did:key alone."""
    from cryptography.hazmat.primitives import serialization

    raw = resolve_did_key(did).public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    try:
        return nacl.signing.VerifyKey(raw).to_curve25519_public_key()
    except nacl.exceptions.RuntimeError as exc:  # not a point on the curve
        raise SealError(f"{did} has no usable key agreement key: {exc}") from None


def _box(body: bytes, to: str) -> str:
    """``body`` in a sealed box to ``to``'s X25519 key, as unpadded base64url text."""
    sealed = nacl.public.SealedBox(agreement_public_key(to)).encrypt(body)
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def _open_box(text: str, me: KeyPair, what: str) -> Any:
    """The JSON in a sealed box to ``me``; SealError naming ``what`` if it does not open."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return orjson.loads(nacl.public.SealedBox(agreement_private_key(me)).decrypt(raw))
    except (ValueError, TypeError, nacl.exceptions.CryptoError):
        raise SealError(f"{what} does not open with this participant's key (sealed to "
                        "another participant, or altered)") from None


def wrap(key: ContentKey, *, to: str, agreement: str, stream: str) -> str:
    """``key`` for the participant ``to`` only, for one agreement and stream."""
    body = orjson.dumps({"type": _WRAP_TYPE, "consumer": to, "agreement": agreement,
                         "stream": stream, "epoch": key.epoch,
                         "key": base64.b64encode(key.key).decode()})
    return _box(body, to)


def unwrap(wrapped: str, me: KeyPair, *, agreement: str, stream: str,
           epoch: str | None = None) -> ContentKey:
    """Open a wrapped key sent to ``me`` and check it is for this agreement and stream
    (and ``epoch``, when asked for one)."""
    body = _open_box(wrapped, me, "the wrapped content key")
    expected = {"type": _WRAP_TYPE, "consumer": me.did, "agreement": agreement,
                "stream": stream}
    if epoch is not None:
        expected["epoch"] = epoch
    wrong = sorted(k for k, v in expected.items() if not isinstance(body, dict)
                   or body.get(k) != v)
    if wrong:
        raise SealError(f"the wrapped content key is for another {', '.join(wrong)}")
    try:
        key = base64.b64decode(body["key"], validate=True)
    except (KeyError, ValueError, TypeError):
        raise SealError("the wrapped content key holds no key") from None
    if len(key) != KEY_BYTES or not isinstance(body.get("epoch"), str):
        raise SealError("the wrapped content key holds no key")
    return ContentKey(body["epoch"], key)


# ---------------------------------------------------------------- DSP payloads carrying data

SEALED_FIELD = "sealed"  # the only member of a sealed DSP payload


def seal_payload(payload: dict[str, Any], *, sender: str, to: str) -> dict[str, Any]:
    """A DSP message payload readable only by ``to`` (a sealed box to its X25519 key). The
    sender's DID goes inside, so nobody can lift the ciphertext into an envelope of their
    own: the envelope's signer must be the sender sealed inside."""
    return {SEALED_FIELD: _box(orjson.dumps({"from": sender, "payload": payload}), to)}


def open_payload(sealed: dict[str, Any], me: KeyPair, *, sender: str) -> dict[str, Any]:
    """The payload ``sender`` sealed to ``me``; SealError if it is not one."""
    text = sealed.get(SEALED_FIELD) if len(sealed) == 1 else None
    if not isinstance(text, str):
        raise SealError("the payload is not sealed (it carries data, so it must be)")
    body = _open_box(text, me, "the sealed payload")
    if not isinstance(body, dict) or body.get("from") != sender \
            or not isinstance(body.get("payload"), dict):
        raise SealError("the sealed payload was sealed by another participant than the "
                        "envelope's signer")
    return body["payload"]

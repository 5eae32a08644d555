"""Data at rest: where a participant's at-rest key comes from, and secret files sealed with it.

Threat model (docs/security.md, "Encryption at rest"): a copy of a connector's or the
authority's directory (a stolen disk, a backup tape, a store file mailed for support) must
reveal no personal value and no secret. Protection ends where the key is: whoever can read
the key (the service account on the running machine, root) can read the data.

The key is 32 random bytes kept *apart* from what it protects, named by a source:

- ``file:PATH``: a file holding the key (base64url), mode 0600 (group or others able to read
  it is refused). ``connector init`` writes one beside, not inside, the data directory.
- ``env:VAR``: an environment variable holding the key (base64url or 64 hex digits), for
  service managers that inject secrets (systemd credentials, container secrets).
- ``keyring:SERVICE/NAME``: the OS keyring, through the ``keyring`` package if installed.
- ``kms:NAME[:ARG]``: a key management service: a ``tsunagu.key_sources`` entry point (or a
  loader given to ``register_key_source``) called with ARG that returns the 32 bytes.

Two subkeys are derived with HKDF-SHA256, one per use, so neither use can be turned against
the other: SQLCipher's raw page key for every SQLite store, and the key that seals secret
files (participant key, NATS credentials, the authority's key and account seeds) with
XChaCha20-Poly1305, the file's role as associated data (a sealed NATS credentials file put
where the participant key belongs does not open).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

import nacl.bindings
import nacl.exceptions
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from trust.errors import AtRestError, TrustCode

KEY_BYTES = 32
SEALED_MAGIC = b"tsunagu-sealed-file/1\n"
ENTRY_POINT_GROUP = "tsunagu.key_sources"
_NONCE_BYTES = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")
_loaders: dict[str, Callable[[str], bytes]] = {}


def register_key_source(name: str, loader: Callable[[str], bytes]) -> None:
    """Make ``kms:NAME[:ARG]`` call ``loader(ARG)`` (a KMS client, a hardware token...)."""
    _loaders[name] = loader


def generate_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode("ascii")


def decode_key(text: str, where: str) -> bytes:
    """32 bytes from base64url (padded or not) or 64 hex digits; the error names ``where``,
    never the value."""
    text = text.strip()
    try:
        key = bytes.fromhex(text) if _HEX_KEY.fullmatch(text) else \
            base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise AtRestError(f"{where} does not hold a {KEY_BYTES}-byte key (base64url or 64 "
                          "hex digits)", code=TrustCode.AT_REST_KEY_INVALID)
    return key


def write_key_file(path: Path, key: bytes) -> None:
    """A new key file, 0600 from its first byte; an existing one is never replaced."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".at-rest-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(encode_key(key) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise AtRestError(f"refusing to overwrite the existing key file {path}",
                              code=TrustCode.AT_REST_KEY_INVALID) from None
    finally:
        os.unlink(tmp)


def _from_file(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode & 0o777
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise AtRestError(f"the at-rest key file {path} does not exist",
                          code=TrustCode.AT_REST_KEY_MISSING) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AtRestError(f"cannot read the at-rest key file {path}: {exc}",
                          code=TrustCode.AT_REST_KEY_MISSING) from None
    if mode & 0o077:
        raise AtRestError(f"the at-rest key file {path} is readable by others (mode "
                          f"{mode:o}); run chmod 600 on it", code=TrustCode.AT_REST_KEY_EXPOSED)
    return decode_key(text, f"the at-rest key file {path}")


def _from_env(name: str) -> bytes:
    value = os.environ.get(name)
    if not value:
        raise AtRestError(f"the environment variable {name} (the at-rest key) is not set",
                          code=TrustCode.AT_REST_KEY_MISSING)
    return decode_key(value, f"the environment variable {name}")


def _from_keyring(where: str) -> bytes:
    service, _, name = where.partition("/")
    if not service or not name:
        raise AtRestError("a keyring source is keyring:SERVICE/NAME",
                          code=TrustCode.AT_REST_KEY_INVALID)
    try:
        import keyring  # optional: only deployments that use an OS keyring install it
    except ImportError:
        raise AtRestError("keyring: sources need the 'keyring' package (pip install keyring)",
                          code=TrustCode.AT_REST_KEY_INVALID) from None
    value = keyring.get_password(service, name)
    if not value:
        raise AtRestError(f"the keyring has no entry {service}/{name}",
                          code=TrustCode.AT_REST_KEY_MISSING)
    return decode_key(value, f"the keyring entry {service}/{name}")


def _from_kms(where: str) -> bytes:
    name, _, argument = where.partition(":")
    loader = _loaders.get(name)
    if loader is None:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not found:
            raise AtRestError(f"no key source plug-in named {name!r} (entry point group "
                              f"{ENTRY_POINT_GROUP})", code=TrustCode.AT_REST_KEY_INVALID)
        loader = found[0].load()
    try:
        key = loader(argument)
    except AtRestError:
        raise
    except Exception as exc:  # a KMS client's own error: name the source, not the secret
        raise AtRestError(f"the key source {name!r} failed: {type(exc).__name__}",
                          code=TrustCode.AT_REST_KEY_MISSING) from None
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise AtRestError(f"the key source {name!r} did not return {KEY_BYTES} bytes",
                          code=TrustCode.AT_REST_KEY_INVALID)
    return key


@dataclass(frozen=True)
class KeySource:
    """Where the at-rest key is: ``file:PATH``, ``env:VAR``, ``keyring:S/N`` or ``kms:N[:A]``.

    A relative ``file:`` path is relative to ``base`` (the config file's folder)."""

    spec: str
    base: Path = field(default=Path("."), compare=False)

    def __post_init__(self) -> None:
        kind, sep, rest = self.spec.partition(":")
        if not sep or not rest or kind not in ("file", "env", "keyring", "kms"):
            raise AtRestError(f"unknown at-rest key source {self.spec!r}: write file:PATH, "
                              "env:VAR, keyring:SERVICE/NAME or kms:NAME[:ARG]",
                              code=TrustCode.AT_REST_KEY_INVALID)

    @property
    def path(self) -> Path | None:
        """The key file of a ``file:`` source (absolute), else None."""
        kind, _, rest = self.spec.partition(":")
        return (self.base / rest).resolve() if kind == "file" else None

    def load(self) -> AtRestKey:
        kind, _, rest = self.spec.partition(":")
        if kind == "file":
            assert self.path is not None
            return AtRestKey(_from_file(self.path))
        if kind == "env":
            return AtRestKey(_from_env(rest))
        if kind == "keyring":
            return AtRestKey(_from_keyring(rest))
        return AtRestKey(_from_kms(rest))


def _subkey(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                info=b"tsunagu at-rest v1 " + purpose).derive(key)


@dataclass(frozen=True, repr=False)
class AtRestKey:
    """A loaded at-rest key and its per-use subkeys. Its repr shows nothing."""

    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise AtRestError(f"an at-rest key is {KEY_BYTES} bytes",
                              code=TrustCode.AT_REST_KEY_INVALID)

    def __repr__(self) -> str:
        return "AtRestKey(...)"

    @property
    def store_key(self) -> bytes:
        """SQLCipher's raw key (no passphrase KDF at each open: the key is already random)."""
        return _subkey(self.key, b"sqlite store")

    @property
    def jetstream_key(self) -> bytes:
        """nats-server's JetStream encryption key (the data space's or an embedded server)."""
        return _subkey(self.key, b"jetstream")

    @property
    def _file_key(self) -> bytes:
        return _subkey(self.key, b"secret file")

    def seal(self, data: bytes, role: str) -> bytes:
        """``data`` sealed for a file whose role (``participant-key``, ``nats-creds``...)
        is bound as associated data."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            data, role.encode(), nonce, self._file_key)
        return SEALED_MAGIC + base64.b64encode(nonce + sealed) + b"\n"

    def open(self, data: bytes, role: str, where: str) -> bytes:
        if not is_sealed(data):
            raise AtRestError(f"{where} is not a sealed file", code=TrustCode.AT_REST_WRONG_KEY)
        try:
            raw = base64.b64decode(data[len(SEALED_MAGIC):].strip(), validate=True)
            return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                raw[_NONCE_BYTES:], role.encode(), raw[:_NONCE_BYTES], self._file_key)
        except (binascii.Error, ValueError, nacl.exceptions.CryptoError):
            raise AtRestError(f"{where} does not open with this at-rest key (sealed with "
                              "another key, for another file, or altered)",
                              code=TrustCode.AT_REST_WRONG_KEY) from None


def is_sealed(data: bytes) -> bool:
    return data.startswith(SEALED_MAGIC)


def read_secret(path: Path, role: str, key: AtRestKey | None) -> bytes:
    """A secret file's plaintext: opened with ``key`` if sealed; a sealed file without a key
    is refused (a plain file is returned as it is: stores made before encryption at rest)."""
    data = Path(path).read_bytes()
    if not is_sealed(data):
        return data
    if key is None:
        raise AtRestError(f"{path} is sealed at rest and no at-rest key is configured "
                          "(the [at_rest] key setting)", code=TrustCode.AT_REST_KEY_NEEDED)
    return key.open(data, role, str(path))


def write_secret(path: Path, data: bytes, role: str, key: AtRestKey | None, *,
                 replace: bool = False) -> None:
    """Write a secret file 0600, atomically, sealed when there is a key. Without
    ``replace`` an existing file is never overwritten."""
    path = Path(path)
    body = key.seal(data, role) if key is not None else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def seal_in_place(path: Path, role: str, key: AtRestKey) -> bool:
    """Seal a plain secret file where it is (atomic replace: the plain file stays until the
    sealed one is complete); False if it was sealed already."""
    data = Path(path).read_bytes()
    if is_sealed(data):
        return False
    write_secret(path, data, role, key, replace=True)
    return True

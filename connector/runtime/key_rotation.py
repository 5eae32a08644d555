"""A participant's side of a key rotation, on disk (``tsunagu connector rotate-key``).

1. ``prepare``: a new key in ``participant.next.pem`` (0600, never overwritten) and
   ``key-rotation-request.json``: the identity DID, the new key, signed by the new key (it is
   held) and by the current key (the participant asks, not someone who found its DID). A
   participant whose key was lost or stolen prepares without the current key
   (``--lost``); the authority then confirms who asks out of band, as at onboarding.
2. The authority answers with a credential binding the new key to the identity
   (``tsunagu authority rotate-key --request``).
3. ``install``: the credential must name this participant's identity and the new key; the
   current key and credential move to ``retired-keys/`` (kept: what they signed may need
   explaining), the new ones take their places. A running connector signs with them within
   seconds (``connector.runtime.key_watch``), inside the overlap the authority gives the old
   key after a planned rotation (``authority.state.ROTATION_OVERLAP``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from connector.errors import ConnectorCode
from connector.runtime.config import ConnectorConfig
from trust.credentials import SIGNING_KEY, decode_vc_jwt
from trust.errors import ConfigError, DidError, TsunaguError
from trust.keys import KeyPair, load_key, resolve_did_key, save_key, verify_signature
from trust.proofs import format_datetime

NEXT_KEY_NAME = "participant.next.pem"
REQUEST_NAME = "key-rotation-request.json"
RETIRED_DIR = "retired-keys"
REQUEST_TYPE = "tsunagu:KeyRotationRequest"


class RotationRequestError(TsunaguError):
    code = ConnectorCode.KEY_ROTATION_REQUEST_INVALID


@dataclass(frozen=True)
class Prepared:
    identity: str
    new_key: str
    request_path: Path


def _payload(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def rotation_request(identity: str, new: KeyPair, current: KeyPair | None,
                     now: datetime | None = None) -> dict[str, Any]:
    """The signed request: ``newKeySignature`` by the new key, ``currentKeySignature`` by
    the current one unless it is lost (``current`` None)."""
    body: dict[str, Any] = {"type": REQUEST_TYPE, "participant": identity, "newKey": new.did,
                            "created": format_datetime(now or datetime.now(UTC))}
    if current is not None:
        body["currentKey"] = current.did
    request = {**body, "newKeySignature": new.sign(_payload(body)).hex()}
    if current is not None:
        request["currentKeySignature"] = current.sign(_payload(body)).hex()
    return request


@dataclass(frozen=True)
class RotationRequest:
    identity: str
    new_key: str
    current_key: str | None  # None: the participant lost its key
    created: datetime


def verify_rotation_request(request: Any) -> RotationRequest:
    """Both signatures (the current key's when present); whether the current key is still
    the participant's is the authority's to check with its key history."""
    if not isinstance(request, dict) or request.get("type") != REQUEST_TYPE:
        raise RotationRequestError(f"not a {REQUEST_TYPE}")
    body = {k: v for k, v in request.items() if not k.endswith("Signature")}
    try:
        new = resolve_did_key(body.get("newKey"))
        resolve_did_key(body.get("participant"))
        current = resolve_did_key(body["currentKey"]) if "currentKey" in body else None
        created = datetime.fromisoformat(str(body.get("created")))
    except (DidError, ValueError) as exc:
        raise RotationRequestError(f"the request's keys or time are malformed: {exc}") from None
    for field, key in (("newKeySignature", new), ("currentKeySignature", current)):
        if key is None:
            continue
        try:
            signature = bytes.fromhex(str(request.get(field, "")))
        except ValueError:
            signature = b""
        if not verify_signature(key, signature, _payload(body)):
            raise RotationRequestError(f"{field} does not verify",
                                       code=ConnectorCode.CREDENTIAL_REQUEST_BAD_SIGNATURE)
    return RotationRequest(body["participant"], body["newKey"], body.get("currentKey"),
                           created)


def identity_of(config: ConnectorConfig) -> str:
    """The identity DID the installed credential names."""
    token = config.credential_path.read_text(encoding="ascii").strip()
    subject = decode_vc_jwt(token, config.authority.dids).payload.get("credentialSubject")
    did = subject.get("id") if isinstance(subject, dict) else None
    if not isinstance(did, str):
        raise ConfigError(f"{config.credential_path} names no participant")
    return did


def prepare(config: ConnectorConfig, *, lost: bool = False) -> Prepared:
    """Write the next key and the request (refusing to overwrite either)."""
    identity = identity_of(config)
    at_rest = config.load_at_rest_key()  # the next key is sealed like the current one
    current = None if lost else load_key(config.key_path, at_rest)
    next_path, request_path = config.data_dir / NEXT_KEY_NAME, config.data_dir / REQUEST_NAME
    if next_path.exists() or request_path.exists():
        raise ConfigError(f"a rotation is already prepared ({next_path.name}); install its "
                          f"credential, or remove {next_path.name} and {request_path.name}")
    new = KeyPair.generate()
    save_key(new, next_path, at_rest)
    try:
        fd = os.open(request_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(rotation_request(identity, new, current),
                                  option=orjson.OPT_INDENT_2) + b"\n")
    except BaseException:
        next_path.unlink()
        raise
    return Prepared(identity, new.did, request_path)


def install(config: ConnectorConfig, credential_file: Path) -> tuple[str, str]:
    """Put the next key and the authority's new credential in place; (identity, key)."""
    next_path = config.data_dir / NEXT_KEY_NAME
    at_rest = config.load_at_rest_key()
    new = load_key(next_path, at_rest)
    token = Path(credential_file).read_text(encoding="ascii").strip()
    subject = decode_vc_jwt(token, config.authority.dids).payload.get("credentialSubject")
    identity = identity_of(config)
    if not isinstance(subject, dict) or subject.get("id") != identity \
            or subject.get(SIGNING_KEY) != new.did:
        raise ConfigError(f"{credential_file} does not bind {NEXT_KEY_NAME} to this "
                          "participant; ask the authority for the credential of this request")
    old = load_key(config.key_path, at_rest)
    retired = config.data_dir / RETIRED_DIR
    retired.mkdir(mode=0o700, exist_ok=True)
    stem = retired / old.did.removeprefix("did:key:")
    # The old pair is kept first, so a crash in between leaves every key on disk.
    os.link(config.key_path, stem.with_suffix(".pem"))
    os.link(config.credential_path, stem.with_suffix(".jwt"))
    tmp = config.credential_path.with_name(f".{config.credential_path.name}.new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(token + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(next_path, config.key_path)
    os.replace(tmp, config.credential_path)
    (config.data_dir / REQUEST_NAME).unlink(missing_ok=True)
    return identity, new.did

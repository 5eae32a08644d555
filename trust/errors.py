"""Typed errors shared by every tsunagu package.

Every error carries a stable, machine-readable ``code`` (dotted, lowercase) and a message a
person can act on. Messages never contain key material or personal data: callers pass
identifiers (DIDs, record ids, JSON paths), not values.
"""

from __future__ import annotations

from typing import Any


class TsunaguError(Exception):
    """Base of all tsunagu errors. ``code`` is stable across releases."""

    code: str = "tsunagu.error"
    http_status: int = 400

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class KeyMaterialError(TsunaguError):
    """A key is malformed, of the wrong type, or cannot be read."""

    code = "key.invalid"


class DidError(TsunaguError):
    """A DID is malformed or cannot be resolved."""

    code = "did.invalid"


class MultibaseError(TsunaguError):
    code = "multibase.invalid"


class ProofError(TsunaguError):
    """A Data Integrity proof is missing, malformed or does not verify."""

    code = "proof.invalid"


class JsonLdError(TsunaguError):
    """JSON-LD processing failed (remote context, dropped term, syntax)."""

    code = "jsonld.invalid"


class CredentialError(TsunaguError):
    """A participant credential failed verification; ``code`` says why."""

    code = "credential.invalid"
    http_status = 401


class EnvelopeError(TsunaguError):
    """A signed envelope failed verification; ``code`` says why."""

    code = "envelope.invalid"
    http_status = 401


class ValidationError(TsunaguError):
    """Input failed a schema or format check."""

    code = "input.invalid"


class ConfigError(TsunaguError):
    code = "config.invalid"

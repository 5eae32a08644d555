"""Typed policy errors. Every code is stable; messages name the path in the document."""

from __future__ import annotations

from typing import Any

from trust.errors import TsunaguError


class PolicyError(TsunaguError):
    """A policy, request or state document is invalid, or a policy term is unknown."""

    code = "policy.invalid"

    def __init__(self, message: str, *, code: str | None = None, path: str = "",
                 **details: Any) -> None:
        if path:
            message = f"{path}: {message}"
            details["path"] = path
        super().__init__(message, code=code, **details)
        self.path = path


class PolicySyntaxError(PolicyError):
    """The document is not a well-formed ODRL policy (missing uid, action, operator...)."""

    code = "policy.invalid"


class UnknownTermError(PolicyError):
    """A term the evaluator does not know: it must not guess, so the policy denies."""

    code = "policy.unknown_term"


class DatatypeError(PolicyError):
    """A value does not match its declared or expected datatype."""

    code = "policy.datatype"


class RequestError(PolicyError):
    code = "policy.request_invalid"


class StateError(PolicyError):
    code = "policy.state_invalid"


class SignatureError(PolicyError):
    """A signed offer or agreement does not verify, or an agreement widens its offer."""

    code = "policy.signature"

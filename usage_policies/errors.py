"""Typed policy errors and the codes of this layer. Every code is stable; messages name the
path in the document."""

from __future__ import annotations

from typing import Any

from trust.errors import ErrorCode, TsunaguError


class PolicyCode(ErrorCode):
    """The codes usage_policies raises, or puts in a decision's ``errors``."""

    INVALID = "policy.invalid", "a policy, request or state document is invalid"
    INVALID_TYPE = "policy.invalid_type", "the policy's type is not the one expected here"
    UNSUPPORTED_TYPE = ("policy.unsupported_type",
                        "the document is not a Set, Offer, Agreement or Request")
    UNSUPPORTED_PROPERTY = "policy.unsupported_property", "a property ODRL 2.2 has not is used"
    MISSING_UID = "policy.missing_uid", "the policy has no uid (@id)"
    MISSING_ACTION = "policy.missing_action", "a rule has no action"
    MISSING_LEFTOPERAND = "policy.missing_leftoperand", "a constraint has no leftOperand"
    MISSING_OPERATOR = "policy.missing_operator", "a constraint has no operator"
    MISSING_RIGHTOPERAND = "policy.missing_rightoperand", "a constraint has no rightOperand"
    MISSING_ASSIGNER = "policy.missing_assigner", "an Agreement names no assigner"
    MISSING_ASSIGNEE = "policy.missing_assignee", "an Agreement names no assignee"
    UNKNOWN_CONFLICT = ("policy.unknown_conflict",
                        "the conflict strategy is not perm, prohibit or invalid")
    UNKNOWN_TERM = "policy.unknown_term", "a term the evaluator does not know (so it denies)"
    UNKNOWN_ACTION = "policy.unknown_action", "an action the evaluator does not know"
    UNKNOWN_LEFT_OPERAND = ("policy.unknown_left_operand",
                            "a left operand the evaluator does not know")
    UNKNOWN_OPERATOR = "policy.unknown_operator", "an operator the evaluator does not know"
    UNKNOWN_DATATYPE = "policy.unknown_datatype", "a datatype the evaluator does not know"
    UNKNOWN_PROFILE = "policy.unknown_profile", "the policy names a profile not supported here"
    UNKNOWN_PARENT = "policy.unknown_parent", "the policy inherits from an unknown policy"
    VOCABULARY_CONFLICT = ("policy.vocabulary_conflict",
                           "a vocabulary term is registered again with other labels")
    DUPLICATE_LEFT_OPERAND = ("policy.duplicate_left_operand",
                              "a left operand is registered twice with different shapes")
    CIRCULAR_INHERITANCE = "policy.circular_inheritance", "policies inherit from each other"
    INHERITED_CONFLICT = ("policy.inherited_conflict",
                          "the policy's conflict strategy differs from its parent's")
    CONFLICT = ("policy.conflict",
                "a permission and a prohibition conflict and the strategy is invalid")
    DATATYPE = "policy.datatype", "a value does not match its declared or expected datatype"
    INCOMPARABLE = "policy.incomparable", "two values cannot be compared"
    UNIT_MISMATCH = "policy.unit_mismatch", "two quantities have units that do not convert"
    REQUEST_INVALID = "policy.request_invalid", "an evaluation request is invalid"
    STATE_INVALID = "policy.state_invalid", "an evaluation state document is invalid"
    TEMPLATE = "policy.template", "a policy template was given unusable arguments"
    SIGNATURE = "policy.signature", "a signed offer or agreement does not verify"
    UNSIGNED = "policy.unsigned", "the policy is not signed"
    MISSING_SIGNATURE = "policy.missing_signature", "a party's signature is missing"
    BAD_SIGNATURE = "policy.bad_signature", "a signature on the policy does not verify"
    WRONG_SIGNER = "policy.wrong_signer", "the policy is signed by someone else than its party"
    AGREEMENT_WIDENS_OFFER = ("policy.agreement_widens_offer",
                              "the agreement grants more than its offer")
    IO = "policy.io", "a policy file cannot be read"
    NOT_JSON = "policy.not_json", "a policy file is not JSON"


class PolicyError(TsunaguError):
    """A policy, request or state document is invalid, or a policy term is unknown."""

    code = PolicyCode.INVALID

    def __init__(self, message: str, *, code: ErrorCode | None = None, path: str = "",
                 **details: Any) -> None:
        if path:
            message = f"{path}: {message}"
            details["path"] = path
        super().__init__(message, code=code, **details)
        self.path = path


class PolicySyntaxError(PolicyError):
    """The document is not a well-formed ODRL policy (missing uid, action, operator...)."""

    code = PolicyCode.INVALID


class UnknownTermError(PolicyError):
    """A term the evaluator does not know: it must not guess, so the policy denies."""

    code = PolicyCode.UNKNOWN_TERM


class DatatypeError(PolicyError):
    """A value does not match its declared or expected datatype."""

    code = PolicyCode.DATATYPE


class RequestError(PolicyError):
    code = PolicyCode.REQUEST_INVALID


class StateError(PolicyError):
    code = PolicyCode.STATE_INVALID


class SignatureError(PolicyError):
    """A signed offer or agreement does not verify, or an agreement widens its offer."""

    code = PolicyCode.SIGNATURE

"""Typed errors shared by every tsunagu package, and the registry of their codes.

Every error carries a stable, machine-readable ``code`` and a message a person can act on.
Messages never contain key material or personal data: callers pass identifiers (DIDs, record
ids, JSON paths), not values.

A code is a member of an ``ErrorCode`` enum: a string (``"record.not_found"``, dotted,
lowercase) with a one-line ``meaning``. Each layer lists every code it raises, once, in one
enum in its own errors module (``TrustCode`` here, ``usage_policies.errors.PolicyCode``,
``connector.errors.ConnectorCode``, ``authority.errors.AuthorityCode``, and one per domain
package); a code raised in several layers belongs to the lowest of them. Code branches on
error types or on enum members, never on code strings. What a code means over HTTP is the API
layer's business (``connector.api.problems``), not the error's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self


class ErrorCode(StrEnum):
    """Base of every layer's enum of error codes: ``NAME = "code", "meaning"``.

    Members are strings, so they compare equal to the code as it travels (``exc.code ==
    ConnectorCode.REMOTE_UNREACHABLE`` for a code read off the wire) and serialise as it.
    """

    meaning: str

    def __new__(cls, value: str, meaning: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member


def registered_codes() -> list[ErrorCode]:
    """Every member of every ``ErrorCode`` enum defined so far (a layer's enum is defined
    once its errors module is imported), in definition order: for docs and tests."""
    found: list[ErrorCode] = []
    pending = list(ErrorCode.__subclasses__())
    while pending:
        enum = pending.pop(0)
        found.extend(enum)
        pending.extend(enum.__subclasses__())
    return found


class TrustCode(ErrorCode):
    """The codes the trust layer raises (and those every layer shares: ``input.invalid``)."""

    ERROR = "tsunagu.error", "an error with no more specific code"
    INPUT_INVALID = "input.invalid", "input failed a schema or format check"
    CONFIG_INVALID = "config.invalid", "a configuration file or setting is invalid"
    KEY_INVALID = "key.invalid", "a key is malformed, of the wrong type, or cannot be read"
    DID_INVALID = "did.invalid", "a DID is malformed or cannot be resolved"
    MULTIBASE_INVALID = "multibase.invalid", "a multibase or multicodec value is malformed"
    JSON_NOT_CANONICALIZABLE = ("json.not_canonicalizable",
                                "a value cannot be written as RFC 8785 canonical JSON")
    LEGAL_ID_INVALID = ("legal_id.invalid",
                        "a legal identifier is malformed or its check digit is wrong")
    # Key histories (trust.key_history): which key signs for a participant when
    KEY_UNKNOWN = "key.unknown", "the signing key is not a key of the participant it speaks for"
    KEY_ROTATED_OUT = ("key.rotated_out",
                       "the signing key was rotated out or revoked before the signature")
    KEY_NOT_YET_VALID = ("key.not_yet_valid",
                         "the signing key did not yet speak for the participant then")
    AUTHORITY_KEYS_INVALID = ("authority_keys.invalid",
                              "an authority's key chain does not verify from its trusted DID")
    KEY_HISTORY_MALFORMED = "key_history.malformed", "a key-history document is malformed"
    KEY_HISTORY_UNTRUSTED = ("key_history.untrusted",
                             "a key-history document is not signed by a trusted authority")
    KEY_HISTORY_UNKNOWN = ("key_history.unknown",
                           "no fresh key history from the authority (fail closed)")
    # Data Integrity proofs
    PROOF_INVALID = "proof.invalid", "a Data Integrity proof does not verify"
    PROOF_MISSING = "proof.missing", "the document has no proof"
    PROOF_MULTIPLE = "proof.multiple", "the document has several proofs"
    PROOF_MALFORMED = "proof.malformed", "the proof is not a well-formed proof object"
    PROOF_NOT_OBJECT = "proof.not_object", "only a JSON object can be signed or carry a proof"
    PROOF_UNSUPPORTED_TYPE = "proof.unsupported_type", "the proof type is not DataIntegrityProof"
    PROOF_UNSUPPORTED_CRYPTOSUITE = ("proof.unsupported_cryptosuite",
                                     "the proof's cryptosuite is not eddsa-jcs-2022")
    PROOF_CONTEXT_MISMATCH = ("proof.context_mismatch",
                              "the proof's @context differs from the document's")
    PROOF_WRONG_PURPOSE = "proof.wrong_purpose", "the proof has another proof purpose"
    PROOF_UNRESOLVABLE_KEY = ("proof.unresolvable_key",
                              "the proof's verification method cannot be resolved")
    PROOF_WRONG_SIGNER = "proof.wrong_signer", "the proof is signed by another controller"
    PROOF_BAD_SIGNATURE = "proof.bad_signature", "the proof's signature does not verify"
    # Data-space announcements (trust.announcement)
    ANNOUNCEMENT_INVALID = ("announcement.invalid",
                            "a data-space announcement is malformed or not signed by its "
                            "authority")
    ANNOUNCEMENT_WRONG_AUTHORITY = ("announcement.wrong_authority",
                                    "the announcement is by another authority than expected")
    ANNOUNCEMENT_EXPIRED = ("announcement.expired",
                            "the announcement is not valid now (or a clock is wrong)")
    # JSON-LD
    JSONLD_INVALID = "jsonld.invalid", "JSON-LD processing failed"
    JSONLD_SYNTAX = "jsonld.syntax", "the document is not well-formed JSON-LD"
    JSONLD_DROPPED_TERM = ("jsonld.dropped_term",
                           "a term, type or value is undefined: expanding would lose it")
    JSONLD_REMOTE_CONTEXT = ("jsonld.remote_context",
                             "a remote context was referenced: only bundled ones are served")
    JSONLD_UNSUPPORTED = "jsonld.unsupported", "a JSON-LD keyword not supported here was used"
    JSONLD_CONTEXT_INVALID = ("jsonld.context_invalid",
                              "a context registration names a bad URL or hash")
    JSONLD_CONTEXT_CONFLICT = ("jsonld.context_conflict",
                               "a context URL is already registered with another file or hash")
    JSONLD_CONTEXT_INTEGRITY = ("jsonld.context_integrity",
                                "a bundled context file is unreadable, modified or malformed")
    JSONLD_DANGLING_REFERENCE = ("jsonld.dangling_reference",
                                 "a blank node is referenced but the document does not define it")
    JSONLD_REFERENCE_CYCLE = ("jsonld.reference_cycle",
                              "blank nodes of the document refer to each other in a cycle")
    JSONLD_CONFLICTING_NODE = ("jsonld.conflicting_node",
                               "two nodes of the document claim one @id with different content")
    # Participant credentials (vc+jwt)
    CREDENTIAL_INVALID = "credential.invalid", "a participant credential failed verification"
    CREDENTIAL_MALFORMED = "credential.malformed", "the credential is not well formed"
    CREDENTIAL_ALGORITHM = "credential.algorithm", "the credential is not signed with EdDSA"
    CREDENTIAL_UNTRUSTED_ISSUER = ("credential.untrusted_issuer",
                                   "the credential is not issued by a trusted authority")
    CREDENTIAL_SIGNATURE = "credential.signature", "the credential's signature does not verify"
    CREDENTIAL_NOT_YET_VALID = "credential.not_yet_valid", "the credential is not valid yet"
    CREDENTIAL_EXPIRED = "credential.expired", "the credential has expired"
    CREDENTIAL_STATUS_UNKNOWN = ("credential.status_unknown",
                                 "whether the credential is revoked cannot be told now")
    CREDENTIAL_REVOKED = "credential.revoked", "the authority has revoked the credential"
    # Status list credentials
    STATUS_LIST_MALFORMED = "status_list.malformed", "the status list credential is malformed"
    STATUS_LIST_ALGORITHM = ("status_list.algorithm",
                             "the status list credential is not signed with EdDSA")
    STATUS_LIST_UNTRUSTED_ISSUER = ("status_list.untrusted_issuer",
                                    "the status list is not issued by a trusted authority")
    STATUS_LIST_SIGNATURE = ("status_list.signature",
                             "the status list credential's signature does not verify")
    STATUS_LIST_NOT_YET_VALID = "status_list.not_yet_valid", "the status list is not valid yet"
    STATUS_LIST_EXPIRED = "status_list.expired", "the status list has expired"
    STATUS_LIST_STALE = "status_list.stale", "the status list is older than the one held"
    # Signed envelopes
    ENVELOPE_INVALID = "envelope.invalid", "a signed envelope failed verification"
    ENVELOPE_MALFORMED = "envelope.malformed", "the envelope is not a well-formed compact JWS"
    ENVELOPE_ALGORITHM = "envelope.algorithm", "the envelope is not signed with EdDSA"
    ENVELOPE_UNKNOWN_SIGNER = "envelope.unknown_signer", "the envelope's signer cannot be resolved"
    ENVELOPE_BAD_SIGNATURE = ("envelope.bad_signature",
                              "the envelope's signature does not verify (forged or altered)")
    ENVELOPE_WRONG_RECIPIENT = ("envelope.wrong_recipient",
                                "the envelope is addressed to another participant")
    ENVELOPE_SENDER_MISMATCH = ("envelope.sender_mismatch",
                                "the envelope's issuer does not match its signing key")
    ENVELOPE_LIFETIME = "envelope.lifetime", "the envelope's lifetime is out of bounds"
    ENVELOPE_NOT_YET_VALID = "envelope.not_yet_valid", "the envelope is issued in the future"
    ENVELOPE_EXPIRED = "envelope.expired", "the envelope has expired"
    ENVELOPE_TOO_LARGE = "envelope.too_large", "the envelope is too large"
    ENVELOPE_REPLAYED = "envelope.replayed", "the envelope was already received (a replay)"
    ENVELOPE_REPLAY_CACHE_FULL = ("envelope.replay_cache_full",
                                  "the replay cache is full: try again later")
    # Self-issued ID tokens (trust.id_token: DCP authentication of DSP over HTTPS)
    ID_TOKEN_MISSING = "id_token.missing", "the request carries no self-issued ID token"
    ID_TOKEN_MALFORMED = ("id_token.malformed",
                          "the ID token is not a well-formed EdDSA JWT with the DCP claims")
    ID_TOKEN_BAD_SIGNATURE = ("id_token.bad_signature",
                              "the ID token's signature does not verify (forged or altered)")
    ID_TOKEN_WRONG_AUDIENCE = ("id_token.wrong_audience",
                               "the ID token is addressed to another participant")
    ID_TOKEN_SUBJECT_MISMATCH = ("id_token.subject_mismatch",
                                 "the ID token's iss and sub differ (not self-issued)")
    ID_TOKEN_LIFETIME = "id_token.lifetime", "the ID token's lifetime is out of bounds"
    ID_TOKEN_EXPIRED = "id_token.expired", "the ID token has expired (or is not valid yet)"
    ID_TOKEN_REPLAYED = "id_token.replayed", "the ID token was already used (same jti)"
    SEAL_INVALID = ("seal.invalid",
                    "a sealed payload or wrapped key cannot be opened (altered, moved, or "
                    "for another participant, agreement or stream)")
    # Encryption at rest (trust.at_rest)
    AT_REST_KEY_MISSING = ("at_rest.key_missing",
                           "the key for data at rest is not where its source says")
    AT_REST_KEY_INVALID = ("at_rest.key_invalid",
                           "the key for data at rest is malformed, or its source unknown")
    AT_REST_KEY_EXPOSED = ("at_rest.key_exposed",
                           "the key file for data at rest is readable by other users")
    AT_REST_WRONG_KEY = ("at_rest.wrong_key",
                         "an encrypted file or store does not open with this key (another "
                         "key, or altered)")
    AT_REST_KEY_NEEDED = ("at_rest.key_needed",
                          "a file or store is encrypted at rest and no key was given")
    # NATS JWTs and NKeys
    NATS_JWT = "nats.jwt", "a NATS JWT is malformed"
    NATS_JWT_SIGNATURE = "nats.jwt_signature", "a NATS JWT's signature does not verify"
    NATS_JWT_EXPIRED = "nats.jwt_expired", "a NATS JWT has expired"
    NATS_KEY = "nats.key", "a NATS public NKey is malformed or of the wrong kind"


class TsunaguError(Exception):
    """Base of all tsunagu errors. ``code`` (an ``ErrorCode``) is stable across releases."""

    code: ErrorCode = TrustCode.ERROR

    def __init__(self, message: str, *, code: ErrorCode | None = None, **details: Any) -> None:
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

    code = TrustCode.KEY_INVALID


class DidError(TsunaguError):
    """A DID is malformed or cannot be resolved."""

    code = TrustCode.DID_INVALID


class MultibaseError(TsunaguError):
    code = TrustCode.MULTIBASE_INVALID


class ProofError(TsunaguError):
    """A Data Integrity proof is missing, malformed or does not verify."""

    code = TrustCode.PROOF_INVALID


class JsonLdError(TsunaguError):
    """JSON-LD processing failed (remote context, dropped term, syntax)."""

    code = TrustCode.JSONLD_INVALID


class CredentialError(TsunaguError):
    """A participant credential failed verification; ``code`` says why."""

    code = TrustCode.CREDENTIAL_INVALID


# The first line of a docstring is the title of the problem an error becomes
# (connector.api.problems): these two keep their parent's.
class CredentialStatusUnknown(CredentialError):
    """A participant credential failed verification; ``code`` says why.

    Here whether it is revoked cannot be told now (no fresh status list): fail closed, and
    try again later.
    """

    code = TrustCode.CREDENTIAL_STATUS_UNKNOWN


class CredentialRevoked(CredentialError):
    """A participant credential failed verification; ``code`` says why.

    Here the authority has revoked it.
    """

    code = TrustCode.CREDENTIAL_REVOKED


class IdTokenError(TsunaguError):
    """A self-issued ID token failed verification; ``code`` says why."""

    code = TrustCode.ID_TOKEN_MALFORMED


class EnvelopeError(TsunaguError):
    """A signed envelope failed verification; ``code`` says why."""

    code = TrustCode.ENVELOPE_INVALID


class ValidationError(TsunaguError):
    """Input failed a schema or format check."""

    code = TrustCode.INPUT_INVALID


class AtRestError(TsunaguError):
    """Data at rest cannot be opened or sealed: no key, a bad key source, the wrong key."""

    code = TrustCode.AT_REST_KEY_INVALID


class ConfigError(TsunaguError):
    code = TrustCode.CONFIG_INVALID

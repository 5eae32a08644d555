"""Data Integrity proofs with the ``eddsa-jcs-2022`` cryptosuite.

hashData = SHA-256(JCS(proof config)) || SHA-256(JCS(document without proof)); the signature is
Ed25519 over hashData; proofValue is multibase base58btc. Verification methods are did:key.
``verify_document`` also verifies the batch suite of ``trust.batch_proofs`` where the caller
accepts it (``suites``): records, not agreements or credentials.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from trust import batch_proofs
from trust.canonical import canonical_json, sha256
from trust.errors import DidError, MultibaseError, ProofError, TrustCode, TsunaguError
from trust.keys import KeyPair, resolve_did_key, verify_signature
from trust.multibase import decode_base58btc, encode_base58btc

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
# What a record may carry: a proof of its own, or its batch's (trust.batch_proofs).
RECORD_SUITES = (CRYPTOSUITE, batch_proofs.CRYPTOSUITE)


@dataclass(frozen=True)
class VerifiedProof:
    """What a successful verification establishes: who signed, when, for what purpose."""

    controller: str  # the did:key that signed, or the identity it signed for (key_check)
    verification_method: str
    created: str | None
    proof_purpose: str


class KeyCheck(Protocol):
    """Decides whether ``key`` (a did:key) signed for ``identity`` at ``created`` (a proof's
    ``created``, None when absent); raises a ``TsunaguError`` saying why not
    (``trust.key_history``: a participant's later keys, rotated-out ones)."""

    def __call__(self, identity: str, key: str, created: str | None) -> None: ...


def format_datetime(moment: datetime) -> str:
    """XML Schema dateTime in UTC with a 'Z', second precision, as the vectors use."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_now_text: tuple[int, str] = (-1, "")


def now_text() -> str:
    """``format_datetime`` of now. Formatted once per second, not once per call: a provider
    signs thousands of records a second and strftime showed up in its profile."""
    global _now_text
    second = int(time.time())
    if second != _now_text[0]:
        _now_text = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)))
    return _now_text[1]


def hash_data(document: dict[str, Any], proof_config: dict[str, Any]) -> bytes:
    """The bytes eddsa-jcs-2022 signs (each half exposed for conformance tests)."""
    return sha256(canonical_json(proof_config)) + sha256(canonical_json(document))


def proof_config_for(
    document: dict[str, Any],
    key: KeyPair,
    *,
    proof_purpose: str = "assertionMethod",
    created: datetime | None = None,
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": format_datetime(created) if created is not None else now_text(),
        "verificationMethod": key.verification_method,
        "proofPurpose": proof_purpose,
    }
    if "@context" in document:
        config["@context"] = document["@context"]
    return config


def sign_document(
    document: dict[str, Any],
    key: KeyPair,
    *,
    proof_purpose: str = "assertionMethod",
    created: datetime | None = None,
) -> dict[str, Any]:
    """Return a copy of ``document`` with an eddsa-jcs-2022 ``proof`` (any old proof replaced)."""
    if not isinstance(document, dict):
        raise ProofError("only a JSON object can be signed", code=TrustCode.PROOF_NOT_OBJECT)
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    config = proof_config_for(unsigned, key, proof_purpose=proof_purpose, created=created)
    signature = key.sign(hash_data(unsigned, config))
    return {**unsigned, "proof": {**config, "proofValue": encode_base58btc(signature)}}


def _fail(message: str, code: TrustCode) -> ProofError:
    return ProofError(message, code=code)


def _check_proof_shape(proof: Any, suites: tuple[str, ...] = (CRYPTOSUITE,)
                       ) -> dict[str, Any]:
    if proof is None:
        raise _fail("document has no proof", TrustCode.PROOF_MISSING)
    if isinstance(proof, list):
        raise _fail("documents with several proofs are not accepted here", TrustCode.PROOF_MULTIPLE)
    if not isinstance(proof, dict):
        raise _fail("proof must be a JSON object", TrustCode.PROOF_MALFORMED)
    if proof.get("type") != PROOF_TYPE:
        raise _fail(f"proof type must be {PROOF_TYPE}", TrustCode.PROOF_UNSUPPORTED_TYPE)
    if proof.get("cryptosuite") not in suites:
        raise _fail(f"proof cryptosuite must be {' or '.join(suites)}",
                    TrustCode.PROOF_UNSUPPORTED_CRYPTOSUITE)
    for field in ("verificationMethod", "proofPurpose", "proofValue"):
        if not isinstance(proof.get(field), str):
            raise _fail(f"proof.{field} is missing or not a string", TrustCode.PROOF_MALFORMED)
    return proof


def _check_key(key_check: KeyCheck, identity: str, key: str, created: Any) -> None:
    try:
        key_check(identity, key, created if isinstance(created, str) else None)
    except TsunaguError as exc:
        if exc.code != TrustCode.KEY_UNKNOWN:
            raise
        raise ProofError(f"proof was made by {key}, not a key of {identity}",
                         code=TrustCode.PROOF_WRONG_SIGNER, key=key) from None


def _check_context_prefix(document: dict[str, Any], proof: dict[str, Any]) -> None:
    """The proof's @context must be a prefix of the document's (eddsa-jcs-2022 §3.3.2)."""
    if "@context" not in proof:
        return
    doc_ctx = document.get("@context")
    proof_ctx = proof["@context"]
    doc_list = doc_ctx if isinstance(doc_ctx, list) else [doc_ctx]
    proof_list = proof_ctx if isinstance(proof_ctx, list) else [proof_ctx]
    if doc_list[: len(proof_list)] != proof_list:
        raise _fail("proof @context does not match the document @context",
                    TrustCode.PROOF_CONTEXT_MISMATCH)


def _bad_signature() -> ProofError:
    return _fail("signature does not match the document: it was altered or forged",
                 TrustCode.PROOF_BAD_SIGNATURE)


def _signature(proof: dict[str, Any]) -> bytes:
    try:
        return decode_base58btc(proof["proofValue"])
    except MultibaseError as exc:
        raise _fail(f"proofValue is not base58btc multibase: {exc.message}",
                    TrustCode.PROOF_MALFORMED) from exc


def _verify_batch_signature(unsigned: dict[str, Any], proof: dict[str, Any],
                            public_key: Any,
                            verified_roots: batch_proofs.VerifiedRoots | None) -> None:
    """The document's leaf folded up its path to a root the signature covers. A known
    (key, root, proofValue) is not decoded or checked again (base58 costs too)."""
    config = {k: v for k, v in proof.items() if k not in ("proofValue", batch_proofs.PATH_FIELD)}
    leaf = batch_proofs.leaf_hash(hash_data(unsigned, config))
    root = batch_proofs.root_from(leaf, proof.get(batch_proofs.PATH_FIELD))
    triple = (proof["verificationMethod"], root, proof["proofValue"])
    if verified_roots is not None and triple in verified_roots:
        return
    signature = _signature(proof)
    if len(signature) != 64 or not verify_signature(public_key, signature,
                                                    batch_proofs.signed_message(root)):
        raise _bad_signature()
    if verified_roots is not None:
        verified_roots.add(triple)


def verify_document(
    document: dict[str, Any],
    *,
    expected_purpose: str = "assertionMethod",
    expected_controller: str | None = None,
    key_check: KeyCheck | None = None,
    suites: tuple[str, ...] = (CRYPTOSUITE,),
    verified_roots: batch_proofs.VerifiedRoots | None = None,
) -> VerifiedProof:
    """Verify the embedded eddsa-jcs-2022 proof; raise ProofError with a code saying why not.

    With ``key_check`` (and ``expected_controller``), the proof may be made by any key the
    check accepts for that controller at the proof's ``created``. A key that is not the
    controller's is ``proof.wrong_signer`` (details: ``key``), as without a check; a key
    that was the controller's but not then keeps the check's own code
    (``key.rotated_out``). ``suites``: the cryptosuites accepted (``RECORD_SUITES`` for
    records); a batch proof whose (key, root, signature) is in ``verified_roots`` is not
    checked with Ed25519 again."""
    if not isinstance(document, dict):
        raise _fail("only a JSON object can carry a proof", TrustCode.PROOF_NOT_OBJECT)
    proof = _check_proof_shape(document.get("proof"), suites)
    if proof["proofPurpose"] != expected_purpose:
        raise _fail(
            f"proof purpose is {proof['proofPurpose']!r}, expected {expected_purpose!r}",
            TrustCode.PROOF_WRONG_PURPOSE,
        )
    try:
        public_key = resolve_did_key(proof["verificationMethod"])
    except DidError as exc:
        raise _fail(f"verification method cannot be resolved: {exc.message}",
                    TrustCode.PROOF_UNRESOLVABLE_KEY) from exc
    controller = proof["verificationMethod"].partition("#")[0]
    if expected_controller is not None and key_check is not None:
        _check_key(key_check, expected_controller, controller, proof.get("created"))
    elif expected_controller is not None and controller != expected_controller:
        raise _fail(f"proof was made by {controller}, expected {expected_controller}",
                    TrustCode.PROOF_WRONG_SIGNER)
    _check_context_prefix(document, proof)
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    if proof["cryptosuite"] == batch_proofs.CRYPTOSUITE:
        _verify_batch_signature(unsigned, proof, public_key, verified_roots)
    else:
        config = {k: v for k, v in proof.items() if k != "proofValue"}
        signature = _signature(proof)
        if len(signature) != 64 or not verify_signature(public_key, signature,
                                                        hash_data(unsigned, config)):
            raise _bad_signature()
    if key_check is not None and expected_controller is not None:
        controller = expected_controller
    return VerifiedProof(
        controller=controller,
        verification_method=proof["verificationMethod"],
        created=proof.get("created"),
        proof_purpose=proof["proofPurpose"],
    )

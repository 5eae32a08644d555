"""Signed offers and agreements.

* Data Integrity ``eddsa-jcs-2022`` embedded proofs (trust.proofs). An agreement carries a
  proof set: one proof by the assigner (provider) and one by the assignee (consumer), each
  over the agreement without proofs, so either can be checked alone.
* VC-JOSE-COSE-style compact JWS (pyjwt, EdDSA) for a single signer: the whole policy JSON
  is the payload; header ``typ: odrl+jwt``, ``cty: application/ld+json``, ``kid`` = the
  did:key verification method. pyjwt has no multi-signature JWS, so agreements use proofs.

``verify_agreement`` checks both signatures against the parties' DIDs and that the agreement
does not widen the offer it came from: every agreement permission keeps (at least) every
constraint and duty of an offer permission whose action covers it, every offer prohibition
and obligation is still there, and target, assigner, profiles and conflict strategy match.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from trust.errors import DidError, ProofError
from trust.keys import KeyPair, resolve_did_key, verification_method
from trust.proofs import VerifiedProof, sign_document, verify_document
from usage_policies import actions
from usage_policies.errors import SignatureError
from usage_policies.model import Permission, Policy
from usage_policies.parse import parse_policy
from usage_policies.serialize import to_dsp

JWS_TYP = "odrl+jwt"


def _document(policy: Policy | dict[str, Any]) -> dict[str, Any]:
    return to_dsp(policy) if isinstance(policy, Policy) else copy.deepcopy(policy)


def sign_policy(policy: Policy | dict[str, Any], key: KeyPair, *,
                created: datetime | None = None) -> dict[str, Any]:
    """Add ``key``'s eddsa-jcs-2022 proof to the policy document (kept alongside any proof
    already there, forming a proof set)."""
    document = _document(policy)
    existing = document.pop("proof", None)
    proofs = [] if existing is None else existing if isinstance(existing, list) else [existing]
    signed = sign_document(document, key, created=created)
    document["proof"] = signed["proof"] if not proofs else [*proofs, signed["proof"]]
    return document


def verify_policy_proofs(document: dict[str, Any]) -> list[VerifiedProof]:
    """Verify every proof of the proof set; return who signed. Raises SignatureError."""
    proofs = document.get("proof")
    if proofs is None:
        raise SignatureError("the policy is not signed", code="policy.unsigned")
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    out = []
    for i, proof in enumerate(proofs if isinstance(proofs, list) else [proofs]):
        try:
            out.append(verify_document({**unsigned, "proof": proof}))
        except ProofError as exc:
            raise SignatureError(f"proof[{i}]: {exc.message}", code=exc.code) from None
    return out


def agreement_from_offer(offer: Policy, *, uid: str, assignee: str,
                         timestamp: datetime | None = None, target: str | None = None
                         ) -> Policy:
    """The agreement an offer turns into: same rules, plus the parties and a timestamp."""
    from usage_policies.model import Asset, Party

    chosen = target or (offer.target.uid if offer.target else None)
    if chosen is None:
        raise SignatureError("an agreement needs a target", code="policy.invalid")
    return offer.model_copy(update={
        "uid": uid, "type": "Agreement", "assignee": Party(uid=assignee),
        "target": offer.target or Asset(uid=chosen),
        "timestamp": (timestamp or datetime.now(UTC)).replace(microsecond=0)})


@dataclass(frozen=True)
class VerifiedAgreement:
    agreement: Policy
    offer: Policy
    assigner: str
    assignee: str


def _rule_key(rule: Any) -> str:
    return rule.model_dump_json(exclude={"uid"})


def _constraint_keys(rule: Any) -> set[str]:
    return {c.model_dump_json(exclude={"uid"}) for c in rule.constraint} | {
        c.model_dump_json(exclude={"uid"}) for c in rule.action.refinement}


def _narrows(granted: Permission, offered: Permission) -> bool:
    """``granted`` is no wider than ``offered``."""
    if not actions.covers(offered.action.id, granted.action.id):
        return False
    if offered.target and (granted.target is None or granted.target != offered.target):
        return False
    if offered.assignee and granted.assignee != offered.assignee:
        return False
    duties = {_rule_key(d) for d in granted.duty}
    return _constraint_keys(offered) <= _constraint_keys(granted) and all(
        _rule_key(d) in duties for d in offered.duty)


def check_not_widened(agreement: Policy, offer: Policy) -> None:
    """Raise SignatureError naming the first way ``agreement`` grants more than ``offer``."""
    def fail(message: str) -> SignatureError:
        return SignatureError(f"agreement {agreement.uid} widens offer {offer.uid}: {message}",
                              code="policy.agreement_widens_offer")

    if offer.assigner and (agreement.assigner is None
                           or agreement.assigner.uid != offer.assigner.uid):
        raise fail("assigner differs")
    if offer.target and (agreement.target is None or agreement.target.uid != offer.target.uid):
        raise fail("target differs")
    if set(agreement.profile) != set(offer.profile):
        raise fail("profiles differ")
    if agreement.conflict_strategy != offer.conflict_strategy and offer.conflict != "perm":
        raise fail("conflict strategy differs")
    for i, granted in enumerate(agreement.permission):
        if not any(_narrows(granted, offered) for offered in offer.permission):
            raise fail(f"permission[{i}] is not covered by any offer permission with all of "
                       "its constraints and duties")
    kept = {_rule_key(r) for r in agreement.prohibition}
    for i, p in enumerate(offer.prohibition):
        if _rule_key(p) not in kept:
            raise fail(f"offer prohibition[{i}] is missing")
    kept = {_rule_key(r) for r in agreement.obligation}
    for i, d in enumerate(offer.obligation):
        if _rule_key(d) not in kept:
            raise fail(f"offer obligation[{i}] is missing")


def verify_agreement(agreement_doc: dict[str, Any], offer_doc: dict[str, Any]
                     ) -> VerifiedAgreement:
    """Verify a signed agreement against the signed offer it came from."""
    agreement = parse_policy({k: v for k, v in agreement_doc.items() if k != "proof"})
    offer = parse_policy({k: v for k, v in offer_doc.items() if k != "proof"})
    if agreement.type != "Agreement":
        raise SignatureError(f"{agreement.uid} is a {agreement.type}, not an Agreement")
    if agreement.target is None or agreement.timestamp is None:
        raise SignatureError("an agreement must carry a target and a timestamp",
                             code="policy.invalid")
    assert agreement.assigner and agreement.assignee  # parse_policy enforces both
    signers = {p.controller for p in verify_policy_proofs(agreement_doc)}
    for role, party in (("assigner", agreement.assigner.uid),
                        ("assignee", agreement.assignee.uid)):
        if party not in signers:
            raise SignatureError(f"the agreement is not signed by its {role} {party}",
                                 code="policy.missing_signature")
    offer_signers = {p.controller for p in verify_policy_proofs(offer_doc)}
    if agreement.assigner.uid not in offer_signers:
        raise SignatureError(f"the offer is not signed by {agreement.assigner.uid}",
                             code="policy.missing_signature")
    check_not_widened(agreement, offer)
    return VerifiedAgreement(agreement, offer, agreement.assigner.uid, agreement.assignee.uid)


# --- JWS ----------------------------------------------------------------------------------

def sign_policy_jws(policy: Policy | dict[str, Any], key: KeyPair) -> str:
    document = _document(policy)
    document.pop("proof", None)
    return jwt.encode(document, key.private_key, algorithm="EdDSA", headers={
        "typ": JWS_TYP, "cty": "application/ld+json", "kid": key.verification_method})


def verify_policy_jws(token: str) -> tuple[dict[str, Any], str]:
    """Return (policy document, signer DID). The signer must equal the policy's assigner for
    offers and agreements when one is named."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("typ") != JWS_TYP or header.get("alg") != "EdDSA":
            raise SignatureError(f"JWS header must have typ {JWS_TYP} and alg EdDSA")
        kid = header.get("kid", "")
        public_key = resolve_did_key(kid)
        payload = jwt.decode(token, public_key, algorithms=["EdDSA"],
                             options={"verify_aud": False, "require": []})
    except (jwt.PyJWTError, DidError) as exc:
        raise SignatureError(f"JWS does not verify: {exc}", code="policy.bad_signature") from None
    signer = kid.partition("#")[0]
    if kid != verification_method(signer):
        raise SignatureError("kid is not a did:key verification method")
    policy = parse_policy(payload)
    if policy.assigner and policy.type in ("Offer", "Agreement") and \
            policy.assigner.uid != signer:
        raise SignatureError(f"signed by {signer}, but the assigner is {policy.assigner.uid}",
                             code="policy.wrong_signer")
    return payload, signer

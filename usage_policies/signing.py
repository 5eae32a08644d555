"""Signed offers and agreements.

* Data Integrity ``eddsa-jcs-2022`` embedded proofs (trust.proofs). An agreement carries a
  proof set: one proof by the assigner (provider) and one by the assignee (consumer), each
  over the agreement without proofs, so either can be checked alone.
* VC-JOSE-COSE-style compact JWS (pyjwt, EdDSA) for a single signer: the whole policy JSON
  is the payload; header ``typ: odrl+jwt``, ``cty: application/ld+json``, ``kid`` = the
  did:key verification method. pyjwt has no multi-signature JWS, so agreements use proofs.

``verify_agreement`` checks both signatures against the parties' DIDs and that the agreement
does not widen the offer it came from: every agreement permission is within an offer
permission (action covered; effective target, assignee and assigner, i.e. the rule's own or
else its policy's, the same with at least its refinements; every constraint, refinement and
duty kept), every offer prohibition and obligation is still there with at least its reach,
and target, assignee, assigner, profiles and conflict strategy match.
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
from usage_policies.errors import PolicyCode, SignatureError
from usage_policies.model import Asset, Party, Permission, Policy
from usage_policies.parse import parse_policy
from usage_policies.serialize import to_dsp
from usage_policies.vocab import short_name

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
        raise SignatureError("the policy is not signed", code=PolicyCode.UNSIGNED)
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
    """The agreement an offer turns into: same rules, plus the parties and a timestamp.

    An offer made to a party collection (a role) keeps that collection on every rule that
    inherited it, so the agreement grants no more than the offer did; an offer made to one
    party cannot become an agreement with another."""
    chosen = target or (offer.target.uid if offer.target else None)
    if chosen is None:
        raise SignatureError("an agreement needs a target", code=PolicyCode.INVALID)
    update: dict[str, Any] = {
        "uid": uid, "type": "Agreement", "assignee": Party(uid=assignee),
        "target": offer.target or Asset(uid=chosen),
        "timestamp": (timestamp or datetime.now(UTC)).replace(microsecond=0)}
    offered = offer.assignee
    if offered is not None and (offered.uid != assignee or offered.refinement):
        if not offered.collection:
            raise SignatureError(f"offer {offer.uid} is made to {offered.uid}, not {assignee}",
                                 code=PolicyCode.AGREEMENT_WIDENS_OFFER)
        for name in ("permission", "prohibition"):
            update[name] = tuple(r if r.assignee else r.model_copy(update={"assignee": offered})
                                 for r in getattr(offer, name))
    # A prohibition the offer applies to everyone would, in the agreement, inherit the
    # consumer only; permissions for other parties (a role) keep it binding on them too.
    granted = update.get("permission", offer.permission)
    others = list(dict.fromkeys(p.assignee for p in granted if p.assignee is not None
                                and p.assignee.uid != assignee))
    if offer.assignee is None and others:
        update["prohibition"] = tuple(
            copy for r in update.get("prohibition", offer.prohibition)
            for copy in ([r] if r.assignee else
                         [r, *(r.model_copy(update={"assignee": o}) for o in others)]))
    return offer.model_copy(update=update)


@dataclass(frozen=True)
class VerifiedAgreement:
    agreement: Policy
    offer: Policy
    assigner: str
    assignee: str


def _key(model: Any, *exclude: str) -> str:
    return model.model_dump_json(exclude=set(exclude) or None)


def _constraint_keys(constraints: Any) -> set[str]:
    return {_key(c, "uid") for c in constraints}


def _effective(rule: Any, policy: Policy, name: str) -> Asset | Party | None:
    """The rule's own target/assignee/assigner, else the one it inherits from its policy."""
    return getattr(rule, name) or getattr(policy, name)


def _label(entity: Asset | Party | None) -> str:
    if entity is None:
        return "none"
    return (entity.uid or "a refined collection") + (
        f" (with {len(entity.refinement)} refinement(s))" if entity.refinement else "")


def _scope_narrows(granted: Asset | Party | None, offered: Asset | Party | None) -> bool:
    """``granted`` names the same asset/party as ``offered`` with at least its refinements.
    (No partOf facts are known here, so a member of a collection is not provably narrower.)"""
    if offered is None:
        return True
    if granted is None or granted.uid != offered.uid:
        return False
    return _constraint_keys(offered.refinement) <= _constraint_keys(granted.refinement)


def _scope_covers(kept: Asset | Party | None, offered: Asset | Party | None) -> bool:
    """A prohibition/obligation scope ``kept`` reaches at least as far as ``offered``."""
    if kept is None:
        return True
    if offered is None or kept.uid != offered.uid:
        return False
    return _constraint_keys(kept.refinement) <= _constraint_keys(offered.refinement)


def _permission_widening(granted: Permission, agreement: Policy, offered: Permission,
                         offer: Policy) -> str:
    """Why ``granted`` is not provably within ``offered`` ("" if it is)."""
    if not actions.covers(offered.action.id, granted.action.id):
        return (f"action {short_name(granted.action.id)} is not within "
                f"{short_name(offered.action.id)}")
    for name in ("target", "assignee", "assigner"):
        g, o = _effective(granted, agreement, name), _effective(offered, offer, name)
        if not _scope_narrows(g, o):
            return f"{name} {_label(g)} is not {_label(o)}"
    offered_constraints = _constraint_keys((*offered.constraint, *offered.action.refinement))
    granted_constraints = _constraint_keys((*granted.constraint, *granted.action.refinement))
    if not offered_constraints <= granted_constraints:
        return f"{len(offered_constraints - granted_constraints)} constraint(s) dropped"
    duties = {_key(d) for d in granted.duty}
    missing = [i for i, d in enumerate(offered.duty) if _key(d) not in duties]
    if missing:
        return f"duty[{missing[0]}] dropped or changed"
    return ""


def _same_rule(offered: Any, offer: Policy, kept: Any, agreement: Policy) -> bool:
    """``kept`` (an agreement prohibition/obligation) is the offer's rule with the same action,
    constraints and remedies/consequences, on at least the same target."""
    if _key(kept, "uid", "target", "assignee", "assigner") != \
            _key(offered, "uid", "target", "assignee", "assigner"):
        return False
    kept_target = _effective(kept, agreement, "target")
    offered_target = _effective(offered, offer, "target")
    if _scope_covers(kept_target, offered_target):
        return True
    # An offer without any target is attached to the asset the agreement names.
    return offered_target is None and kept.target is None and agreement.target is not None


def _rule_kept(offered: Any, offer: Policy, kept_rules: Any, agreement: Policy) -> bool:
    """The offer's prohibition/obligation still binds, in the agreement, everyone it bound
    whom the agreement permits anything."""
    same = [k for k in kept_rules if _same_rule(offered, offer, k, agreement)]
    offered_assignee = _effective(offered, offer, "assignee")
    reach = [_effective(k, agreement, "assignee") for k in same]
    if any(_scope_covers(r, offered_assignee) for r in reach):
        return True
    if offered_assignee is not None:
        return False
    # The offer's rule binds everyone; the agreement's rules bind named parties. That is
    # enough when each permission of the agreement is for one of those parties.
    for p in agreement.permission:
        granted = _effective(p, agreement, "assignee")
        if granted is None or not any(r is not None and _scope_narrows(granted, r)
                                      for r in reach):
            return False
    return True


def check_not_widened(agreement: Policy, offer: Policy) -> None:
    """Raise SignatureError naming the first way ``agreement`` grants more than ``offer``.

    Targets, assignees and assigners are compared as each rule sees them (its own, else the
    policy's); anything not provably narrower is a widening."""
    def fail(message: str) -> SignatureError:
        return SignatureError(f"agreement {agreement.uid} widens offer {offer.uid}: {message}",
                              code=PolicyCode.AGREEMENT_WIDENS_OFFER)

    if offer.assigner and (agreement.assigner is None
                           or agreement.assigner.uid != offer.assigner.uid):
        raise fail("assigner differs")
    if offer.target and not _scope_narrows(agreement.target, offer.target):
        raise fail(f"target {_label(agreement.target)} is not {_label(offer.target)}")
    if offer.assignee and not offer.assignee.collection and \
            not _scope_narrows(agreement.assignee, offer.assignee):
        raise fail(f"assignee {_label(agreement.assignee)} is not the offer's "
                   f"{_label(offer.assignee)}")
    if set(agreement.profile) != set(offer.profile):
        raise fail("profiles differ")
    if agreement.conflict_strategy != offer.conflict_strategy and offer.conflict != "perm":
        raise fail("conflict strategy differs")
    for i, granted in enumerate(agreement.permission):
        reasons = [_permission_widening(granted, agreement, offered, offer)
                   for offered in offer.permission]
        if all(reasons):
            detail = "; ".join(f"offer permission[{j}]: {r}" for j, r in enumerate(reasons))
            raise fail(f"permission[{i}] is not covered by any offer permission "
                       f"({detail or 'the offer has no permission'})")
    for name in ("prohibition", "obligation"):
        kept_rules = getattr(agreement, name)
        for i, rule in enumerate(getattr(offer, name)):
            if not _rule_kept(rule, offer, kept_rules, agreement):
                raise fail(f"offer {name}[{i}] is missing, changed or narrowed")


def verify_agreement(agreement_doc: dict[str, Any], offer_doc: dict[str, Any]
                     ) -> VerifiedAgreement:
    """Verify a signed agreement against the signed offer it came from."""
    agreement = parse_policy({k: v for k, v in agreement_doc.items() if k != "proof"})
    offer = parse_policy({k: v for k, v in offer_doc.items() if k != "proof"})
    if agreement.type != "Agreement":
        raise SignatureError(f"{agreement.uid} is a {agreement.type}, not an Agreement")
    if agreement.target is None or agreement.timestamp is None:
        raise SignatureError("an agreement must carry a target and a timestamp",
                             code=PolicyCode.INVALID)
    assert agreement.assigner and agreement.assignee  # parse_policy enforces both
    signers = {p.controller for p in verify_policy_proofs(agreement_doc)}
    for role, party in (("assigner", agreement.assigner.uid),
                        ("assignee", agreement.assignee.uid)):
        if party not in signers:
            raise SignatureError(f"the agreement is not signed by its {role} {party}",
                                 code=PolicyCode.MISSING_SIGNATURE)
    offer_signers = {p.controller for p in verify_policy_proofs(offer_doc)}
    if agreement.assigner.uid not in offer_signers:
        raise SignatureError(f"the offer is not signed by {agreement.assigner.uid}",
                             code=PolicyCode.MISSING_SIGNATURE)
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
        raise SignatureError(f"JWS does not verify: {exc}", code=PolicyCode.BAD_SIGNATURE) from None
    signer = kid.partition("#")[0]
    if kid != verification_method(signer):
        raise SignatureError("kid is not a did:key verification method")
    policy = parse_policy(payload)
    if policy.assigner and policy.type in ("Offer", "Agreement") and \
            policy.assigner.uid != signer:
        raise SignatureError(f"signed by {signer}, but the assigner is {policy.assigner.uid}",
                             code=PolicyCode.WRONG_SIGNER)
    return payload, signer

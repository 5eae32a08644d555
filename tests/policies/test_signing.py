from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trust.keys import KeyPair
from usage_policies import templates as t
from usage_policies.errors import SignatureError
from usage_policies.model import Constraint
from usage_policies.parse import parse_policy
from usage_policies.serialize import to_dsp
from usage_policies.signing import (
    agreement_from_offer,
    sign_policy,
    sign_policy_jws,
    verify_agreement,
    verify_policy_jws,
    verify_policy_proofs,
)

PROVIDER, CONSUMER = KeyPair.generate(), KeyPair.generate()
WHEN = datetime(2025, 9, 1, tzinfo=UTC)


def _offer():
    p = t.offer("urn:offer:1", target="urn:ds:1", assigner=PROVIDER.did)
    return t.no_onward_transfer(t.restrict_purpose(p, ["disaster_response"]))


def _signed_pair(agreement=None):
    offer = _offer()
    signed_offer = sign_policy(offer, PROVIDER)
    agreement = agreement or agreement_from_offer(offer, uid="urn:agreement:1",
                                                  assignee=CONSUMER.did, timestamp=WHEN)
    signed = sign_policy(sign_policy(agreement, PROVIDER), CONSUMER)
    return signed_offer, signed


def test_agreement_with_both_signatures_verifies():
    signed_offer, signed = _signed_pair()
    assert len(signed["proof"]) == 2
    verified = verify_agreement(signed, signed_offer)
    assert verified.assigner == PROVIDER.did and verified.assignee == CONSUMER.did
    assert verified.agreement.timestamp == WHEN
    assert parse_policy({k: v for k, v in signed.items() if k != "proof"}).type == "Agreement"


def test_missing_consumer_signature_fails():
    offer = _offer()
    agreement = agreement_from_offer(offer, uid="urn:a", assignee=CONSUMER.did, timestamp=WHEN)
    with pytest.raises(SignatureError, match="assignee"):
        verify_agreement(sign_policy(agreement, PROVIDER), sign_policy(offer, PROVIDER))


def test_tampered_agreement_fails():
    signed_offer, signed = _signed_pair()
    signed["permission"][0]["action"] = "odrl:distribute"
    with pytest.raises(SignatureError):
        verify_agreement(signed, signed_offer)


def test_offer_signed_by_someone_else_fails():
    offer = _offer()
    agreement = agreement_from_offer(offer, uid="urn:a", assignee=CONSUMER.did, timestamp=WHEN)
    signed = sign_policy(sign_policy(agreement, PROVIDER), CONSUMER)
    with pytest.raises(SignatureError, match="offer is not signed"):
        verify_agreement(signed, sign_policy(offer, CONSUMER))


@pytest.mark.parametrize("widen", [
    lambda a: a.model_copy(update={"permission": tuple(
        p.model_copy(update={"constraint": ()}) for p in a.permission)}),
    lambda a: a.model_copy(update={"prohibition": a.prohibition[:1]}),
    lambda a: a.model_copy(update={"permission": tuple(
        p.model_copy(update={"action": p.action.model_copy(update={
            "id": "http://www.w3.org/ns/odrl/2/transfer"})}) for p in a.permission)}),
    lambda a: a.model_copy(update={"conflict": "perm"}),
    lambda a: a.model_copy(update={"target": a.target.model_copy(update={"uid": "urn:ds:2"})}),
])
def test_widened_agreement_is_rejected(widen):
    offer = _offer()
    agreement = widen(agreement_from_offer(offer, uid="urn:a", assignee=CONSUMER.did,
                                           timestamp=WHEN))
    signed_offer, signed = _signed_pair(agreement)
    with pytest.raises(SignatureError) as info:
        verify_agreement(signed, signed_offer)
    assert info.value.code == "policy.agreement_widens_offer"


def test_narrowed_agreement_is_accepted():
    offer = _offer()
    agreement = agreement_from_offer(offer, uid="urn:a", assignee=CONSUMER.did, timestamp=WHEN)
    extra = Constraint(left_operand="http://www.w3.org/ns/odrl/2/count",
                       operator="http://www.w3.org/ns/odrl/2/lteq",
                       right_operand=(t._lit(5),))
    narrower = agreement.model_copy(update={"permission": tuple(
        p.model_copy(update={"constraint": (*p.constraint, extra),
                             "action": p.action.model_copy(update={
                                 "id": "http://www.w3.org/ns/odrl/2/read"})})
        for p in agreement.permission)})
    signed_offer, signed = _signed_pair(narrower)
    verify_agreement(signed, signed_offer)


def test_jws_round_trip_and_wrong_signer():
    token = sign_policy_jws(_offer(), PROVIDER)
    document, signer = verify_policy_jws(token)
    assert signer == PROVIDER.did and document["@id"] == "urn:offer:1"
    with pytest.raises(SignatureError, match="assigner"):
        verify_policy_jws(sign_policy_jws(_offer(), CONSUMER))
    head, body, sig = token.split(".")
    with pytest.raises(SignatureError):
        verify_policy_jws(f"{head}.{body}x.{sig}")


def test_unsigned_policy():
    with pytest.raises(SignatureError):
        verify_policy_proofs(to_dsp(_offer()))

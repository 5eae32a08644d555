"""bosai policy templates, composed from usage_policies.templates.

* ``shelter_status_open``: shelter status is public information during a disaster; anyone
  in the data space may use it, for any purpose.
* ``evacuee_registry``: evacuee cards are personal data (and may carry health data): only
  shelter operators, only for disaster response, only while the phase is response, never
  passed on, and deleted once the recovery phase is over.

Roles are constrained with ``tsunagu:role`` (the claim the connector takes from the
participant credential, connector.agreements), not ``templates.restrict_role``: that one
makes the assignee a PartyCollection whose members come from partOf facts, which the
connector does not derive, so it could never match in a real negotiation.
"""

from __future__ import annotations

from collections.abc import Sequence

from domains.plugin import LeftOperandSpec, PolicyTemplate
from usage_policies import templates
from usage_policies.model import Action, Constraint, Duty, IriValue, LiteralValue, Policy
from usage_policies.vocab import ODRL, TSUNAGU
from usage_policies.vocabularies import DISASTER_PHASES

SHELTER_OPERATOR = "shelter_operator"
ROLE = TSUNAGU + "role"
DISASTER_PHASE = TSUNAGU + "disasterPhase"
# "After the recovery phase ends": the phase has moved back to normal times or to the
# imminence of the next disaster. Named positively so a missing phase never counts as over.
AFTER_RECOVERY = ("mitigation", "preparedness")

# Same shape as connector.agreements registers it; declared here so that the templates
# evaluate outside a running connector too (tests, ``tsunagu policy``). Whoever registers
# it first wins, and plug-in activation checks that the shapes agree.
ROLE_OPERAND = LeftOperandSpec(ROLE, None, multi=True, label_en="the participant's role",
                               label_ja="参加者の役割")


def _for_roles(policy: Policy, roles: Sequence[str]) -> Policy:
    if not roles or not all(isinstance(r, str) and r for r in roles):
        raise templates.TemplateError("name at least one role")
    constraint = Constraint(left_operand=ROLE, operator=ODRL + "isAnyOf",
                            right_operand=tuple(LiteralValue(value=r) for r in roles))
    return policy.model_copy(update={"permission": tuple(
        p.model_copy(update={"constraint": (*p.constraint, constraint)})
        for p in policy.permission)})


def _delete_after_recovery(policy: Policy, uid: str) -> Policy:
    """A delete duty that becomes due when the phase is past recovery. It is a condition,
    not a deadline: the evaluator reports it as not applicable while the phase is response
    or recovery, and as unfulfilled (blocking every use) once recovery is over."""
    over = Constraint(left_operand=DISASTER_PHASE, operator=ODRL + "isAnyOf",
                      right_operand=tuple(IriValue(id=DISASTER_PHASES.iri(p))
                                          for p in AFTER_RECOVERY))
    duty = Duty(uid=uid, action=Action(id=ODRL + "delete"), constraint=(over,))
    return policy.model_copy(update={"permission": tuple(
        p.model_copy(update={"duty": (*p.duty, duty)}) for p in policy.permission)})


def shelter_status_open(uid: str, *, assigner: str, target: str | None = None) -> Policy:
    """An offer to use shelter status, with no constraint: public information."""
    return templates.offer(uid, target=target, assigner=assigner)


def evacuee_registry(uid: str, *, assigner: str, target: str | None = None,
                     roles: Sequence[str] = (SHELTER_OPERATOR,),
                     retain_at_most: str | None = None) -> Policy:
    """An offer of the evacuee registry to shelter operators during the response phase.

    ``retain_at_most`` (xsd:duration, e.g. ``P1Y``) adds a deletion deadline after the
    agreement as a backstop: the receiving connector's duty task (connector.usage) enforces
    deadlines only, so the phase-conditioned deletion is not carried out by it yet.
    """
    policy = templates.offer(uid, target=target, assigner=assigner)
    policy = _for_roles(policy, roles)
    policy = templates.restrict_purpose(policy, ["disaster_response"])
    policy = templates.during_disaster_phase(policy, ["response"])
    policy = _delete_after_recovery(policy, f"{uid}#delete-after-recovery")
    if retain_at_most is not None:
        policy = templates.delete_after(policy, within=retain_at_most,
                                        uid=f"{uid}#delete-by-deadline")
    return templates.no_onward_transfer(policy)


TEMPLATES: dict[str, PolicyTemplate] = {
    "shelter-status-open": PolicyTemplate(
        shelter_status_open,
        "避難所の開設状況は公開情報です。データスペースのすべての参加者が、目的を問わず"
        "利用できます。",
        "Shelter status is public information: every participant of the data space may use "
        "it, for any purpose."),
    "evacuee-registry": PolicyTemplate(
        evacuee_registry,
        "避難者名簿は、避難所運営者の役割を持つ参加者だけが、災害対応（避難所運営・安否確認など"
        "その下位の目的を含む）のためだけに、災害フェーズが応急時の間だけ利用できます。"
        "第三者への提供や譲渡はできません。復旧・復興時が終わったら削除しなければなりません"
        "（期限を指定した場合は、合意からその期間内にも削除しなければなりません）。",
        "The evacuee registry may be used only by participants holding the shelter operator "
        "role, only for disaster response (or a narrower purpose such as shelter operation or "
        "safety confirmation), and only while the disaster phase is emergency response. It "
        "must not be passed on or transferred. It must be deleted once the recovery phase is "
        "over (and, if a retention period is set, within that period of the agreement)."),
}

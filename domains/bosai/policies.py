"""bosai policy templates, composed from usage_policies.templates.

* ``shelter_status_open``: shelter status is public information during a disaster; anyone
  in the data space may use it, for any purpose.
* ``evacuee_registry``: evacuee cards are personal data: only shelter operators, only for
  disaster response, only while the phase is response, never passed on, and deleted once the
  recovery phase is over. Given ``operators`` (the region, see below), it also lets those
  operators check people in and out: an ``odrl:modify`` permission scoped to the field
  ``stayLocation`` (``tsunagu:field``) under the same role, purpose, phase and region.
* ``medical_needs``: the medical part, only for medical institutions and for the
  municipality's own health department (role ``health_department`` with the municipality's
  legal id), for medical care or disaster response, during response and recovery.
* ``supply_requests``: a shelter's needs; relief suppliers read them and may change only the
  commit/deliver fields (``supplies.lifecycle.SUPPLIER_FIELDS``); the municipalities named
  read them too.
* ``evacuees_for_home`` / ``for_municipalities`` (not catalog templates: they need
  municipality codes): what a host municipality shares with a resident's home municipality,
  and what a shelter operator registered at reception, offered only to the municipalities
  named (role municipality and a 全国地方公共団体コード as legal id).

Roles are constrained with ``tsunagu:role`` (the claim the connector takes from the
participant credential, connector.agreements), not ``templates.restrict_role``: that one
makes the assignee a PartyCollection whose members come from partOf facts, which the
connector does not derive, so it could never match in a real negotiation.

The region of a check-in (decided here, docs/bosai.md): participant credentials carry a
role and a legal id but no area, so "shelter operators of this municipality's region" is the
list of legal ids the municipality names in its offer (``tsunagu:legalId isAnyOf``): its
own 全国地方公共団体コード (municipal staff running a shelter) and the 法人番号 of the
operators it designated (指定管理者, 協定). The list is public in the catalog and explained on
the dataset's page; changing it means offering again (existing agreements keep their terms
until the municipality ends them).
"""

from __future__ import annotations

from collections.abc import Sequence

from connector.plugins.contract import LeftOperandSpec, PolicyTemplate
from domains.bosai import vocab
from domains.bosai.supplies.lifecycle import SUPPLIER_FIELDS
from usage_policies import templates
from usage_policies.model import (
    Action,
    AnyConstraint,
    Constraint,
    Duty,
    IriValue,
    LiteralValue,
    Permission,
    Policy,
)
from usage_policies.vocab import ODRL, TSUNAGU

SHELTER_OPERATOR = "shelter_operator"
MUNICIPALITY = "municipality"
MEDICAL_INSTITUTION = "medical_institution"
HEALTH_DEPARTMENT = "health_department"
RELIEF_SUPPLIER = "relief_supplier"
ROLE = TSUNAGU + "role"
LEGAL_ID = TSUNAGU + "legalId"
FIELD = TSUNAGU + "field"
DISASTER_PHASE = TSUNAGU + "disasterPhase"
PURPOSE = "disaster_response"
# What a check-in or check-out changes in the municipality's Evacuee record.
CHECK_IN_FIELDS = ("stayLocation",)
# "After the recovery phase ends": the phase has moved back to normal times or to the
# imminence of the next disaster. Named positively so a missing phase never counts as over.
AFTER_RECOVERY = ("mitigation", "preparedness")

# Same shape as connector.agreements registers it; declared here so that the templates
# evaluate outside a running connector too (tests, ``tsunagu policy``). Whoever registers
# it first wins, and plug-in activation checks that the shapes agree.
ROLE_OPERAND = LeftOperandSpec(ROLE, None, multi=True, label_en="the participant's role",
                               label_ja="参加者の役割")
LEGAL_ID_OPERAND = LeftOperandSpec(LEGAL_ID, None, label_en="the participant's legal identifier",
                                   label_ja="法人番号等")
FIELD_OPERAND = LeftOperandSpec(FIELD, None, label_en="the record field changed",
                                label_ja="変更する項目")
# bosai's own: the phase of the disaster, a world fact with a closed vocabulary.
DISASTER_PHASE_OPERAND = LeftOperandSpec(DISASTER_PHASE, None, label_en="the disaster phase",
                                         label_ja="災害フェーズ",
                                         vocabulary=vocab.DISASTER_PHASES)
OPERANDS = (ROLE_OPERAND, LEGAL_ID_OPERAND, FIELD_OPERAND, DISASTER_PHASE_OPERAND)


def _any_of(operand: str, values: Sequence[str], what: str) -> Constraint:
    if not values or not all(isinstance(v, str) and v for v in values):
        raise templates.TemplateError(f"name at least one {what}")
    return Constraint(left_operand=operand, operator=ODRL + "isAnyOf",
                      right_operand=tuple(LiteralValue(value=v) for v in values))


def _with(policy: Policy, *constraints: AnyConstraint) -> Policy:
    """Every permission of ``policy`` with ``constraints`` added."""
    return policy.model_copy(update={"permission": tuple(
        p.model_copy(update={"constraint": (*p.constraint, *constraints)})
        for p in policy.permission)})


def _for_roles(policy: Policy, roles: Sequence[str]) -> Policy:
    return _with(policy, _any_of(ROLE, roles, "role"))


def _modify(fields: Sequence[str], constraints: Sequence[AnyConstraint]) -> Permission:
    """A field-scoped modify permission (connector.contributions): only ``fields``."""
    return Permission(action=Action(id=ODRL + "modify"),
                      constraint=(*constraints, _any_of(FIELD, fields, "field")))


def _plus(policy: Policy, permission: Permission) -> Policy:
    return policy.model_copy(update={"permission": (*policy.permission, permission)})


def _delete_after_recovery(policy: Policy, uid: str) -> Policy:
    """A delete duty that becomes due when the phase is past recovery. It is a condition,
    not a deadline: the evaluator reports it as not applicable while the phase is response
    or recovery, and as unfulfilled (blocking every use) once recovery is over."""
    over = Constraint(left_operand=DISASTER_PHASE, operator=ODRL + "isAnyOf",
                      right_operand=tuple(IriValue(id=vocab.DISASTER_PHASES.iri(p))
                                          for p in AFTER_RECOVERY))
    duty = Duty(uid=uid, action=Action(id=ODRL + "delete"), constraint=(over,))
    return policy.model_copy(update={"permission": tuple(
        p.model_copy(update={"duty": (*p.duty, duty)}) for p in policy.permission)})


def shelter_status_open(uid: str, *, assigner: str, target: str | None = None) -> Policy:
    """An offer to use shelter status, with no constraint: public information."""
    return templates.offer(uid, target=target, assigner=assigner)


def evacuee_registry(uid: str, *, assigner: str, target: str | None = None,
                     roles: Sequence[str] = (SHELTER_OPERATOR,),
                     retain_at_most: str | None = None,
                     operators: Sequence[str] | None = None,
                     check_in_fields: Sequence[str] = CHECK_IN_FIELDS) -> Policy:
    """An offer of the evacuee registry to shelter operators during the response phase.

    ``retain_at_most`` (xsd:duration, e.g. ``P1Y``) adds a deletion deadline after the
    agreement as a backstop: the receiving connector's duty task (connector.usage) enforces
    deadlines only, so the phase-conditioned deletion is not carried out by it yet.

    ``operators``: the legal ids of the municipality's region (its own code and the
    operators it designated, see the module doc). Reading is then limited to them too, and
    they may modify ``check_in_fields`` (check-in and check-out) under the same terms.
    Without it the offer is read-only, as before.
    """
    policy = templates.offer(uid, target=target, assigner=assigner)
    policy = _for_roles(policy, roles)
    if operators is not None:
        policy = _with(policy, _any_of(LEGAL_ID, operators, "operator legal id"))
    policy = templates.restrict_purpose(policy, [PURPOSE])
    policy = templates.only_while(policy, DISASTER_PHASE, ["response"])
    terms = policy.permission[0].constraint  # role, region, purpose, phase
    policy = _delete_after_recovery(policy, f"{uid}#delete-after-recovery")
    if retain_at_most is not None:
        policy = templates.delete_after(policy, within=retain_at_most,
                                        uid=f"{uid}#delete-by-deadline")
    if operators is not None:  # writing leaves no copy behind: no delete duty on it
        policy = _plus(policy, _modify(check_in_fields, terms))
    return templates.no_onward_transfer(policy)


def medical_needs(uid: str, *, assigner: str, target: str | None = None,
                  municipality_code: str | None = None) -> Policy:
    """The medical part of the registry: medical institutions, and the municipality's
    health department (role health_department with ``municipality_code`` as legal id; left
    out without a code), for medical care or disaster response, during response and
    recovery; never passed on; deleted once recovery is over."""
    policy = templates.offer(uid, target=target, assigner=assigner)
    policy = _for_roles(policy, [MEDICAL_INSTITUTION])
    if municipality_code is not None:
        department = _with(templates.offer(uid, target=target, assigner=assigner),
                           _any_of(ROLE, [HEALTH_DEPARTMENT], "role"),
                           _any_of(LEGAL_ID, [municipality_code], "municipality code"))
        policy = _plus(policy, department.permission[0])
    policy = templates.restrict_purpose(policy, ["medical_care", PURPOSE])
    policy = templates.only_while(policy, DISASTER_PHASE, ["response", "recovery"])
    policy = _delete_after_recovery(policy, f"{uid}#delete-after-recovery")
    return templates.no_onward_transfer(policy)


def supply_requests(uid: str, *, assigner: str, target: str | None = None,
                    municipalities: Sequence[str] = ()) -> Policy:
    """A shelter's supply requests: relief suppliers read them for disaster response and
    may change only the fields of the commit and deliver steps; the municipalities named
    (全国地方公共団体コード) read them too. No personal data: no deletion duty."""
    supplier = templates.restrict_purpose(
        _for_roles(templates.offer(uid, target=target, assigner=assigner),
                   [RELIEF_SUPPLIER]), [PURPOSE])
    policy = _plus(supplier, _modify(sorted(SUPPLIER_FIELDS),
                                     supplier.permission[0].constraint))
    if municipalities:
        city = templates.restrict_purpose(_with(
            templates.offer(uid, target=target, assigner=assigner),
            _any_of(ROLE, [MUNICIPALITY], "role"),
            _any_of(LEGAL_ID, municipalities, "municipality code")), [PURPOSE])
        policy = _plus(policy, city.permission[0])
    return policy


def for_municipalities(uid: str, *, assigner: str, codes: Sequence[str],
                       target: str | None = None) -> Policy:
    """Evacuees for these municipalities only (role municipality and one of ``codes`` as
    legal id), for disaster response, never passed on, deleted once recovery is over: what a
    host shares with a home municipality, and what an operator registered at reception."""
    policy = _with(templates.offer(uid, target=target, assigner=assigner),
                   _any_of(ROLE, [MUNICIPALITY], "role"),
                   _any_of(LEGAL_ID, codes, "municipality code"))
    policy = templates.restrict_purpose(policy, [PURPOSE])
    policy = _delete_after_recovery(policy, f"{uid}#delete-after-recovery")
    return templates.no_onward_transfer(policy)


def evacuees_for_home(uid: str, *, assigner: str, home_code: str,
                      target: str | None = None) -> Policy:
    """Evacuees a host municipality took in, shared with their home municipality only."""
    return for_municipalities(uid, assigner=assigner, codes=[home_code], target=target)


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
        "運営者を指定した場合は、その運営者（この市区町村の職員と、市区町村が指定した法人）"
        "だけが利用でき、同じ条件で避難者の入所・退所（滞在場所の項目だけ）を記録できます。"
        "医療的ニーズは含みません。"
        "第三者への提供や譲渡はできません。復旧・復興時が終わったら削除しなければなりません"
        "（期限を指定した場合は、合意からその期間内にも削除しなければなりません）。",
        "The evacuee registry may be used only by participants holding the shelter operator "
        "role, only for disaster response (or a narrower purpose such as shelter operation or "
        "safety confirmation), and only while the disaster phase is emergency response. If "
        "operators are named, only they (the municipality's own staff and the organisations "
        "it designated) may use it, and they may record check-ins and check-outs (the stay "
        "location field only) under the same terms. It holds no medical needs. It "
        "must not be passed on or transferred. It must be deleted once the recovery phase is "
        "over (and, if a retention period is set, within that period of the agreement)."),
    "medical-needs": PolicyTemplate(
        medical_needs,
        "医療的ニーズ（人工透析・在宅酸素・アレルギーなど）は、医療機関と、この市区町村の保健"
        "部局（保健所など）だけが、医療の提供または災害対応のためだけに、災害フェーズが応急時"
        "または復旧・復興時の間だけ利用できます。避難所運営者や物資の支援者は受け取れません。"
        "第三者への提供や譲渡はできません。復旧・復興時が終わったら削除しなければなりません。",
        "Medical needs (dialysis, oxygen, allergies ...) may be used only by medical "
        "institutions and this municipality's health department, only for medical care or "
        "disaster response, and only while the disaster phase is response or recovery. "
        "Shelter operators and suppliers do not receive them. They must not be passed on or "
        "transferred, and must be deleted once the recovery phase is over."),
    "supply-requests": PolicyTemplate(
        supply_requests,
        "避難所の救援物資の要請は、物資の支援者（relief_supplier）が災害対応のために閲覧でき、"
        "手配（commit）と配送（deliver）の項目だけを書き込めます（状況、手配した数量・日時・"
        "支援者、配送した数量・日時）。要請の内容そのものや取消は避難所だけが行います。指定"
        "された市区町村も閲覧できます。個人情報は含みません。",
        "A shelter's supply requests may be read by relief suppliers for disaster response; "
        "they may write only the commit and deliver fields (status, committed quantity, time "
        "and supplier, delivered quantity and time). Only the shelter changes the request "
        "itself or cancels it. The municipalities named may read them too. No personal data."),
}

# Need municipality codes, so they are not among the catalog templates above.
RECEPTION = PolicyTemplate(
    for_municipalities,
    "避難所の受付で登録した避難者の情報は、指定した市区町村（団体コードで指定）だけが、避難者"
    "名簿への登録など災害対応のためだけに利用できます。第三者への提供や譲渡はできません。"
    "復旧・復興時が終わったら削除しなければなりません。",
    "People registered at this operator's shelter reception may be used only by the "
    "municipalities named (by their codes), only for disaster response such as entering "
    "them in the evacuee registry. The data must not be passed on or transferred, and must "
    "be deleted once the recovery phase is over.")
HOME_SHARE = PolicyTemplate(
    evacuees_for_home,
    "他の市区町村に住所がある避難者の情報は、その住所地の市区町村（団体コードで指定）だけが、"
    "災害対応のためだけに利用できます。第三者への提供や譲渡はできません。復旧・復興時が"
    "終わったら削除しなければなりません。",
    "Evacuees whose address is in another municipality are shared with that municipality "
    "only (named by its code), only for disaster response. The data must not be passed on or "
    "transferred, and must be deleted once the recovery phase is over.")

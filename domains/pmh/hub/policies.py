"""pmh policy templates (ODRL through usage_policies.templates).

* ``clinic-records``: medical institutions (role ``medical_institution``) may add records of
  one kind (checkup visits, measurements, vaccinations) to the municipality's dataset, for
  maternal and child health (its narrower purposes, vaccination and health checkups,
  included): an ``odrl:modify`` permission scoped to the record type's fields
  (``tsunagu:field``), which connector.contributions also requires to create a record.
  Nothing else: the offer is write-only, so it is negotiated on ``modify`` and the provider
  refuses any transfer under it (``transfer.write_only``): a clinic reads nothing of the
  municipality's datasets.
* ``municipal-health``: the municipality's own people and vouchers, for its health
  department only (role ``health_department`` with the municipality's legal id), for
  maternal and child health.
* ``disaster-care-flags``: the care flags (hub/care_flags.py) for the same municipality's
  disaster office (role ``municipality``, its legal id), for disaster response, only while
  the disaster phase is response, never passed on.

The purpose disaster_response is bosai's term too; pmh declares the same one (same labels),
so its offer can name it. The disaster phase operand comes with its vocabulary from the
plug-in that registers it (bosai; activation refuses a second vocabulary for one operand),
so a connector without it makes no care-flags offer (``phase_known``). pmh imports nothing
of bosai.

Roles are constrained with ``tsunagu:role`` (the credential's claim), as bosai does.
"""

from __future__ import annotations

from collections.abc import Sequence

from connector.plugins.contract import LeftOperandSpec, PolicyTemplate
from domains.pmh.model.datasets import schema_of
from usage_policies import templates
from usage_policies.model import Constraint, LiteralValue, Policy
from usage_policies.operands import find_left_operand
from usage_policies.vocab import ODRL, TSUNAGU

MEDICAL_INSTITUTION = "medical_institution"
HEALTH_DEPARTMENT = "health_department"
PURPOSE = "maternal_child_health"
ROLE = TSUNAGU + "role"
LEGAL_ID = TSUNAGU + "legalId"
FIELD = TSUNAGU + "field"
MUNICIPALITY = "municipality"
DISASTER_RESPONSE = "disaster_response"
DISASTER_PHASE = TSUNAGU + "disasterPhase"
# Set by the holder or naming the record itself, never a granted field.
_NOT_FIELDS = frozenset({"@context", "id", "type", "version", "modified", "proof",
                         "wasAttributedTo", "wasDerivedFrom"})

# The shapes connector.agreements and connector.contributions register (see bosai).
OPERANDS = (
    LeftOperandSpec(ROLE, None, multi=True, label_en="the participant's role",
                    label_ja="参加者の役割"),
    LeftOperandSpec(LEGAL_ID, None, label_en="the participant's legal identifier",
                    label_ja="法人番号等"),
    LeftOperandSpec(FIELD, None, label_en="the record field changed", label_ja="変更する項目"),
)


def _any_of(operand: str, values: Sequence[str]) -> Constraint:
    return Constraint(left_operand=operand, operator=ODRL + "isAnyOf",
                      right_operand=tuple(LiteralValue(value=v) for v in values))


def _with(policy: Policy, *constraints: Constraint) -> Policy:
    return policy.model_copy(update={"permission": tuple(
        p.model_copy(update={"constraint": (*p.constraint, *constraints)})
        for p in policy.permission)})


def record_fields(term: str) -> list[str]:
    """The fields a contributor may give for a record of type ``term`` (from its schema)."""
    return sorted(set(schema_of(term)["properties"]) - _NOT_FIELDS)


def clinic_records(uid: str, *, assigner: str, term: str, target: str | None = None
                   ) -> Policy:
    """Clinics add ``term`` records (see the module doc)."""
    policy = templates.offer(uid, target=target, assigner=assigner, action="modify")
    policy = templates.restrict_purpose(policy, [PURPOSE])
    return _with(policy, _any_of(ROLE, [MEDICAL_INSTITUTION]),
                 _any_of(FIELD, record_fields(term)))


def municipal_health(uid: str, *, assigner: str, municipality_code: str,
                     target: str | None = None) -> Policy:
    """The municipality's own records, for its health department only."""
    policy = templates.restrict_purpose(
        templates.offer(uid, target=target, assigner=assigner), [PURPOSE])
    return _with(policy, _any_of(ROLE, [HEALTH_DEPARTMENT]),
                 _any_of(LEGAL_ID, [municipality_code]))


def phase_known() -> bool:
    """Whether this connector knows the disaster phase (an active plug-in registered it)."""
    spec = find_left_operand(DISASTER_PHASE)
    return spec is not None and spec.vocabulary is not None


def disaster_care_flags(uid: str, *, assigner: str, municipality_code: str,
                        target: str | None = None) -> Policy:
    """Care flags for the municipality's disaster office, while the phase is response."""
    policy = templates.restrict_purpose(
        templates.offer(uid, target=target, assigner=assigner), [DISASTER_RESPONSE])
    policy = templates.only_while(policy, DISASTER_PHASE, ["response"])
    policy = _with(policy, _any_of(ROLE, [MUNICIPALITY]), _any_of(LEGAL_ID, [municipality_code]))
    return templates.no_onward_transfer(policy)


TEMPLATES: dict[str, PolicyTemplate] = {
    "clinic-records": PolicyTemplate(
        clinic_records,
        "医療機関（役割: medical_institution）が、母子保健（予防接種・健康診査を含む）の目的で、"
        "健診・予防接種の記録を市区町村のデータセットに追加できます。追加した記録には医療機関の"
        "署名と帰属が残ります。閲覧（データの受け取り）は許可されません。",
        "Medical institutions (role medical_institution) may add checkup and vaccination "
        "records to the municipality's dataset, for maternal and child health (vaccination "
        "and health checkups included). Each record keeps the clinic's signature and "
        "attribution. Reading (receiving the dataset) is not permitted."),
    "municipal-health": PolicyTemplate(
        municipal_health,
        "市区町村の保健部局（役割: health_department、同じ全国地方公共団体コード）だけが、"
        "母子保健の目的で利用できます。",
        "Only the municipality's own health department (role health_department, same "
        "municipality code) may use this, for maternal and child health."),
    "disaster-care-flags": PolicyTemplate(
        disaster_care_flags,
        "同じ市区町村の防災部局（役割: municipality、同じ全国地方公共団体コード）だけが、災害対応の"
        "目的で、災害フェーズが応急時の間に限り利用できます。内容は4情報と妊娠週数または乳児の"
        "月齢だけで、第三者への提供はできません。",
        "Only the same municipality's disaster office (role municipality, same municipality "
        "code) may use this, for disaster response, only while the disaster phase is "
        "response. It holds the 4 items and pregnancy weeks or an infant's age in months, "
        "nothing else, and may not be passed on."),
}

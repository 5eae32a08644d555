"""Policy templates for the usage patterns participants ask for (compare the IDS usage
control classes). Start from ``offer(...)`` and apply restrictions; each function takes a
policy and returns a new one with the restriction added to every permission (or a
prohibition added). ``explain_template`` gives the plain-language explanation.

    p = offer("urn:offer:1", target=DATASET, assigner=CITY)
    p = restrict_purpose(p, ["research"])  # or a purpose an active domain registered
    p = within_region(p, ["28"])
    p = delete_after(p, within="P30D")
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from usage_policies.datatypes import Duration
from usage_policies.errors import PolicyCode, PolicyError
from usage_policies.explain import PREFECTURES, duration_label, value_label
from usage_policies.model import (
    Action,
    AnyConstraint,
    Asset,
    Constraint,
    Duty,
    IriValue,
    LiteralValue,
    LogicalConstraint,
    Party,
    Permission,
    Policy,
    Prohibition,
)
from usage_policies.operands import find_left_operand
from usage_policies.vocab import ODRL, TSUNAGU, TSUNAGU_PROFILE, XSD, is_absolute_iri
from usage_policies.vocabularies import PURPOSES


class TemplateError(PolicyError):
    code = PolicyCode.TEMPLATE


def _c(left: str, op: str, *values: Any) -> Constraint:
    return Constraint(left_operand=ODRL + left if ":" not in left else left,
                      operator=ODRL + op, right_operand=tuple(values))


def _lit(value: Any, datatype: str | None = None) -> LiteralValue:
    return LiteralValue(value=value, datatype=XSD + datatype if datatype else None)


def _moment(value: datetime | date) -> LiteralValue:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TemplateError("times must be timezone-aware")
        return _lit(value.isoformat(), "dateTime")
    return _lit(value.isoformat(), "date")


def _duration(value: str | timedelta) -> Duration:
    if isinstance(value, timedelta):
        return Duration(0, Decimal(str(value.total_seconds())))
    try:
        return Duration.parse(value)
    except ValueError as exc:
        raise TemplateError(str(exc)) from None


def _constrain(policy: Policy, constraint: AnyConstraint) -> Policy:
    if not policy.permission:
        raise TemplateError("the policy has no permission to restrict")
    return policy.model_copy(update={"permission": tuple(
        p.model_copy(update={"constraint": (*p.constraint, constraint)})
        for p in policy.permission)})


def _add_duty(policy: Policy, duty: Duty) -> Policy:
    if not policy.permission:
        raise TemplateError("the policy has no permission to attach a duty to")
    return policy.model_copy(update={"permission": tuple(
        p.model_copy(update={"duty": (*p.duty, duty)}) for p in policy.permission)})


def _any_of(constraints: list[Constraint]) -> AnyConstraint:
    return constraints[0] if len(constraints) == 1 else LogicalConstraint(
        operand="or", constraints=tuple(constraints))


def _add_profile(policy: Policy) -> Policy:
    if TSUNAGU_PROFILE in policy.profile:
        return policy
    return policy.model_copy(update={"profile": (*policy.profile, TSUNAGU_PROFILE)})


# --- templates ----------------------------------------------------------------------------

def offer(uid: str, *, target: str | None, assigner: str, action: str = "use") -> Policy:
    """An offer permitting ``action`` (default use) on ``target``; restrict it further."""
    return Policy(uid=uid, type="Offer", assigner=Party(uid=assigner),
                  target=Asset(uid=target) if target else None,
                  permission=(Permission(action=Action(id=ODRL + action if ":" not in action
                                                       else action)),))


def restrict_recipients(policy: Policy, recipients: Sequence[str]) -> Policy:
    """Only these parties (DIDs) may receive the data."""
    if not recipients:
        raise TemplateError("name at least one recipient")
    return _constrain(policy, _c("recipient", "isAnyOf", *(IriValue(id=r) for r in recipients)))


def restrict_role(policy: Policy, role: str) -> Policy:
    """Only members of a role (a PartyCollection; membership comes from partOf facts the
    connector derives from participant credentials) are assignees."""
    if not is_absolute_iri(role):
        raise TemplateError(f"role must be an IRI, got {role!r}")
    collection = Party(uid=role, collection=True)
    return policy.model_copy(update={"permission": tuple(
        p.model_copy(update={"assignee": collection}) for p in policy.permission)})


def restrict_purpose(policy: Policy, purposes: Sequence[str]) -> Policy:
    """Only for these purposes (vocabulary tokens or IRIs; narrower purposes included)."""
    if not purposes:
        raise TemplateError("name at least one purpose")
    for p in purposes:
        if PURPOSES.token(p) is None and not is_absolute_iri(p):
            raise TemplateError(f"unknown purpose {p!r}: use one of "
                                f"{', '.join(sorted(PURPOSES.labels))} or an IRI (a "
                                "domain's purposes are known once its plug-in is active)")
    return _constrain(policy, _any_of([_c("purpose", "isA", IriValue(id=PURPOSES.normalize(p)))
                                       for p in purposes]))


def time_window(policy: Policy, *, not_before: datetime | date | None = None,
                not_after: datetime | date | None = None) -> Policy:
    """Usable only from ``not_before`` and up to ``not_after`` (a date means the whole day,
    Japan time)."""
    if not_before is None and not_after is None:
        raise TemplateError("give not_before, not_after or both")
    if not_before is not None:
        policy = _constrain(policy, _c("dateTime", "gteq", _moment(not_before)))
    if not_after is not None:
        policy = _constrain(policy, _c("dateTime", "lteq", _moment(not_after)))
    return policy


def duration_after_agreement(policy: Policy, duration: str | timedelta) -> Policy:
    """Usable for ``duration`` (xsd:duration such as P90D, P1Y) after the agreement."""
    d = _duration(duration)
    return _constrain(policy, _c("elapsedTime", "lteq", _lit(str(d), "duration")))


def max_uses(policy: Policy, count: int) -> Policy:
    """At most ``count`` uses in all."""
    if not isinstance(count, int) or count < 1:
        raise TemplateError("count must be a positive integer")
    return _constrain(policy, _c("count", "lteq", _lit(count)))


def delete_after(policy: Policy, *, within: str | timedelta | None = None,
                 by: datetime | date | None = None, uid: str | None = None) -> Policy:
    """The recipient must delete the data within a period after the agreement, or by a date."""
    if (within is None) == (by is None):
        raise TemplateError("give exactly one of within or by")
    deadline = (_c("elapsedTime", "lteq", _lit(str(_duration(within)), "duration"))
                if within is not None else _c("dateTime", "lteq", _moment(by)))  # type: ignore[arg-type]
    return _add_duty(policy, Duty(uid=uid, action=Action(id=ODRL + "delete"),
                                  constraint=(deadline,)))


def _after_use(action: str, function: str, party: str) -> Duty:
    return Duty(action=Action(id=ODRL + action), parties=((function, Party(uid=party)),),
                constraint=(_c("event", "gt", IriValue(id=ODRL + "policyUsage")),))


def notify_on_use(policy: Policy, notify: str) -> Policy:
    """After every use, inform ``notify`` (usually the provider)."""
    return _add_duty(policy, _after_use("inform", "informedParty", notify))


def log_every_use(policy: Policy, tracking_party: str) -> Policy:
    """Every use is written to the audit log that ``tracking_party`` may inspect."""
    return _add_duty(policy, _after_use("acceptTracking", "trackingParty", tracking_party))


def no_onward_transfer(policy: Policy) -> Policy:
    """No passing on to third parties (distribute) or transferring ownership. Sets the
    conflict strategy to prohibit unless one is set, so the prohibition refines the
    permission to use instead of voiding the policy."""
    prohibitions = tuple(Prohibition(action=Action(id=ODRL + a))
                         for a in ("distribute", "transfer"))
    return policy.model_copy(update={"prohibition": (*policy.prohibition, *prohibitions),
                                     "conflict": policy.conflict or "prohibit"})


_REGION = re.compile(r"^(?:\d{2}|\d{5,6})$")


def within_region(policy: Policy, codes: Sequence[str]) -> Policy:
    """Only used within these prefectures (2-digit codes) or municipalities (5 or 6-digit
    全国地方公共団体コード)."""
    if not codes:
        raise TemplateError("name at least one region code")
    for code in codes:
        if not _REGION.match(code) or not 1 <= int(code[:2]) <= 47:
            raise TemplateError(f"{code!r} is not a prefecture or municipality code")
    return _constrain(policy, _any_of([_c("spatial", "isPartOf", _lit(code)) for code in codes]))


def only_while(policy: Policy, operand: str, values: Sequence[str]) -> Policy:
    """Only while the world fact ``operand`` (a registered left operand with a vocabulary,
    such as bosai's ``tsunagu:disasterPhase``) is one of ``values`` (its tokens or IRIs).
    A tsunagu operand adds the tsunagu profile, which declares tsunagu operands."""
    vocabulary = _vocabulary_of(operand)
    if not values:
        raise TemplateError("name at least one value")
    iris = []
    for value in values:
        if vocabulary.token(value) is None:
            raise TemplateError(f"unknown {vocabulary.name} {value!r}: use one of "
                                f"{', '.join(vocabulary.labels)}")
        iris.append(IriValue(id=vocabulary.normalize(value)))
    constrained = _constrain(policy, _c(operand, "isAnyOf", *iris))
    return _add_profile(constrained) if operand.startswith(TSUNAGU) else constrained


def _vocabulary_of(operand: str) -> Any:
    spec = find_left_operand(operand)
    if spec is None or spec.vocabulary is None or spec.vocabulary.namespace is None:
        raise TemplateError(f"{operand} is not a registered left operand with a vocabulary "
                            "of IRIs (a domain plug-in registers its own when activated)")
    return spec.vocabulary


def _operand_label(operand: str, lang: str) -> str:
    spec = find_left_operand(operand)
    if spec is None:
        return operand
    return (spec.label_ja or spec.label_en) if lang == "ja" else spec.label_en


# --- explanations -------------------------------------------------------------------------

def _join(values: Sequence[Any], lang: str) -> str:
    return ("、" if lang == "ja" else ", ").join(value_label(v, lang) for v in values)


def _region(codes: Sequence[str], lang: str) -> str:
    names = []
    for code in codes:
        pref = PREFECTURES[int(code[:2]) - 1]
        names.append(pref if len(code) == 2 else (f"{pref}の市区町村{code}" if lang == "ja"
                                                  else f"municipality {code} ({pref})"))
    return ("、" if lang == "ja" else ", ").join(names)


@dataclass(frozen=True)
class Template:
    function: Callable[..., Policy]
    ja: Callable[..., str]
    en: Callable[..., str]


TEMPLATES: dict[str, Template] = {
    "restrict_recipients": Template(
        restrict_recipients,
        lambda recipients: f"データを受け取れるのは {_join(recipients, 'ja')} だけです。",
        lambda recipients: f"Only {_join(recipients, 'en')} may receive the data."),
    "restrict_role": Template(
        restrict_role,
        lambda role: f"{role} の役割を持つ参加者だけが利用できます。",
        lambda role: f"Only participants holding the role {role} may use the data."),
    "restrict_purpose": Template(
        restrict_purpose,
        lambda purposes: "利用目的は次に限られます（その下位の目的を含む）: "
        f"{_join([PURPOSES.normalize(p) for p in purposes], 'ja')}。",
        lambda purposes: "The data may be used only for "
        f"{_join([PURPOSES.normalize(p) for p in purposes], 'en')} (or a narrower purpose)."),
    "time_window": Template(
        time_window,
        lambda not_before=None, not_after=None: "利用できる期間: "
        f"{not_before or '制限なし'} から {not_after or '制限なし'} まで。",
        lambda not_before=None, not_after=None: "The data may be used from "
        f"{not_before or 'any time'} until {not_after or 'any time'}."),
    "duration_after_agreement": Template(
        duration_after_agreement,
        lambda duration: f"合意から{duration_label(_duration(duration), 'ja')}"
        "の間だけ利用できます。",
        lambda duration: f"The data may be used for {duration_label(_duration(duration), 'en')}"
        " after the agreement."),
    "max_uses": Template(
        max_uses, lambda count: f"利用できるのは合計{count}回までです。",
        lambda count: f"The data may be used at most {count} times."),
    "delete_after": Template(
        delete_after,
        lambda within=None, by=None, uid=None: (
            f"合意から{duration_label(_duration(within), 'ja')}以内に削除しなければなりません。"
            if within else f"{by}までに削除しなければなりません。"),
        lambda within=None, by=None, uid=None: (
            f"The data must be deleted within {duration_label(_duration(within), 'en')} of the "
            "agreement." if within else f"The data must be deleted by {by}.")),
    "notify_on_use": Template(
        notify_on_use, lambda notify: f"利用のたびに {notify} へ通知しなければなりません。",
        lambda notify: f"Every use must be reported to {notify}."),
    "log_every_use": Template(
        log_every_use,
        lambda tracking_party: f"すべての利用を記録し、{tracking_party} が"
        "確認できるようにしなければなりません。",
        lambda tracking_party: f"Every use must be logged, and {tracking_party} may inspect the "
        "log."),
    "no_onward_transfer": Template(
        no_onward_transfer, lambda: "第三者への提供や譲渡はできません。",
        lambda: "The data must not be passed on to third parties or transferred."),
    "within_region": Template(
        within_region, lambda codes: f"利用できるのは {_region(codes, 'ja')} の中だけです。",
        lambda codes: f"The data may be used only within {_region(codes, 'en')}."),
    "only_while": Template(
        only_while,
        lambda operand, values: f"利用できるのは{_operand_label(operand, 'ja')}が "
        f"{_join([_vocabulary_of(operand).normalize(v) for v in values], 'ja')} の間だけです。",
        lambda operand, values: f"The data may be used only while "
        f"{_operand_label(operand, 'en')} is "
        f"{_join([_vocabulary_of(operand).normalize(v) for v in values], 'en')}."),
}


def explain_template(name: str, lang: str = "ja", **params: Any) -> str:
    """Plain-language explanation of template ``name`` with ``params`` in ``lang``."""
    try:
        template = TEMPLATES[name]
    except KeyError:
        raise TemplateError(f"unknown template {name!r}") from None
    return (template.ja if lang == "ja" else template.en)(**params)

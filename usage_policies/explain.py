"""Plain Japanese and English sentences describing a policy, for people who are not ODRL
experts (data subjects' representatives, municipal staff, auditors)."""

from __future__ import annotations

from typing import Any

from usage_policies import datatypes
from usage_policies.datatypes import Duration
from usage_policies.decision import ConstraintResult
from usage_policies.model import AnyConstraint, Duty, LogicalConstraint, Party, Policy
from usage_policies.operands import find_left_operand, operand_vocabularies
from usage_policies.validate import check_constraint, check_duty, validate_policy
from usage_policies.vocab import ODRL, TSUNAGU, short_name

ACTION_LABELS = {  # short name -> (ja, en)
    "use": ("利用", "use"), "read": ("閲覧", "read"), "display": ("表示", "display"),
    "print": ("印刷", "print"), "play": ("再生", "play"), "distribute": ("第三者への提供",
    "pass {d} on to third parties"), "transfer": ("譲渡", "transfer ownership of {d}"),
    "delete": ("削除", "delete"), "inform": ("通知", "notify"), "acceptTracking":
    ("利用記録の提供", "let every use be logged for"), "modify": ("変更", "modify"),
    "reproduce": ("複製", "copy"), "derive": ("加工・派生物の作成", "derive new data from"),
    "aggregate": ("集計", "aggregate"), "anonymize": ("匿名化", "anonymise"),
    "archive": ("保存", "archive"), "compensate": ("対価の支払い", "pay for"),
    "attribute": ("出典の表示", "credit the source of"), "obtainConsent": ("同意の取得",
    "obtain consent for"), "transform": ("変換", "transform"), "extract": ("抽出",
    "extract"), "index": ("索引付け", "index"), "execute": ("実行", "execute"),
    "stream": ("配信", "stream"), "sell": ("販売", "sell"), "give": ("贈与", "give away"),
    "translate": ("翻訳", "translate"), "present": ("上映・提示", "present"),
    "tsunagu:contribute": ("更新の寄与", "contribute changes to"),
    # a prohibition or duty written without an action (usage_policies.actions.ANY_ACTION)
    "tsunagu:anyAction": ("あらゆる利用", "do anything with {d}"),
}

PREFECTURES = (
    "北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県 東京都 "
    "神奈川県 新潟県 富山県 石川県 福井県 山梨県 長野県 岐阜県 静岡県 愛知県 三重県 滋賀県 京都府 "
    "大阪府 兵庫県 奈良県 和歌山県 鳥取県 島根県 岡山県 広島県 山口県 徳島県 香川県 愛媛県 高知県 "
    "福岡県 佐賀県 長崎県 熊本県 大分県 宮崎県 鹿児島県 沖縄県").split()

_OPS = {  # operator -> (ja template, en template); {v} is the value
    "eq": ("{v}であること", "is {v}"), "neq": ("{v}ではないこと", "is not {v}"),
    "lt": ("{v}より前（未満）であること", "is before (less than) {v}"),
    "lteq": ("{v}まで（以下）であること", "is at most (no later than) {v}"),
    "gt": ("{v}より後（超）であること", "is after (more than) {v}"),
    "gteq": ("{v}から（以上）であること", "is at least (no earlier than) {v}"),
    "isA": ("{v}に当たること", "is a kind of {v}"),
    "isPartOf": ("{v}の中であること", "is within {v}"),
    "hasPart": ("{v}を含むこと", "includes {v}"),
    "isAnyOf": ("{v}のいずれかであること", "is one of {v}"),
    "isAllOf": ("{v}のすべてを含むこと", "includes all of {v}"),
    "isNoneOf": ("{v}のいずれでもないこと", "is none of {v}"),
}
_LOGIC = {"or": ("次のいずれか", "at least one of"), "xone": ("次のうちちょうど一つ",
          "exactly one of"), "and": ("次のすべて", "all of"), "andSequence":
          ("次のすべて（この順に）", "all of, in this order")}


def action_label(iri: str, lang: str) -> str:
    name = short_name(iri)
    ja, en = ACTION_LABELS.get(name, (name, name))
    return ja if lang == "ja" else en


def value_label(value: Any, lang: str) -> str:
    if isinstance(value, tuple):
        sep = "、" if lang == "ja" else ", "
        return sep.join(value_label(v, lang) for v in value)
    if isinstance(value, Duration):
        return duration_label(value, lang)
    if isinstance(value, str):
        for vocabulary in operand_vocabularies():  # purposes, a domain's disaster phases...
            if vocabulary.token(value):
                return vocabulary.label(value, lang)
        if value.isdigit() and len(value) in (2, 5) and 1 <= int(value[:2]) <= 47:
            pref = PREFECTURES[int(value[:2]) - 1]
            return (f"{pref}" if len(value) == 2 else f"{pref}内の市区町村 {value}") if \
                lang == "ja" else (f"prefecture {value} ({pref})" if len(value) == 2 else
                                   f"municipality {value} in {pref}")
        if value.startswith((ODRL, TSUNAGU)):
            return short_name(value)
    rendered = datatypes.to_json(value)
    return str(rendered)


def duration_label(d: Duration, lang: str) -> str:
    months, seconds = d.months, int(d.seconds)
    days, rest = divmod(seconds, 86400)
    hours = rest // 3600
    parts = []
    for amount, ja, en in ((months // 12, "年", "year"), (months % 12, "か月", "month"),
                           (days, "日", "day"), (hours, "時間", "hour")):
        if amount:
            parts.append(f"{amount}{ja}" if lang == "ja" else
                         f"{amount} {en}{'s' if amount > 1 else ''}")
    return ("".join(parts) if lang == "ja" else " ".join(parts)) or "0"


def party_label(party: Party | None, lang: str, default: tuple[str, str]) -> str:
    if party is None:
        return default[0] if lang == "ja" else default[1]
    name = party.uid or "?"
    if party.collection:
        return f"{name} に属する者" if lang == "ja" else f"members of {name}"
    return name


def constraint_sentence(c: AnyConstraint, lang: str) -> str:
    return _sentence(check_constraint(c, ""), c, lang)


def _sentence(checked: Any, c: AnyConstraint, lang: str) -> str:
    """``checked`` is ``c`` checked (usage_policies.validate): same shape, typed values."""
    if isinstance(c, LogicalConstraint):
        ja, en = _LOGIC[c.operand]
        inner = [_sentence(cc, m, lang) for cc, m in zip(checked.children, c.constraints,
                                                          strict=True)]
        return (f"{ja}: " + " / ".join(inner)) if lang == "ja" else (
            f"{en}: " + "; ".join(inner))
    spec = find_left_operand(c.left_operand)
    label = (spec.label_ja or spec.label_en) if spec and lang == "ja" else (
        spec.label_en if spec else short_name(c.left_operand))
    value = checked.right if checked.reference is None else checked.reference
    ja, en = _OPS[checked.op]
    text = value_label(value, lang)
    return f"{label}が{ja.format(v=text)}" if lang == "ja" else \
        f"{label} {en.format(v=text)}"


def result_sentence(result: ConstraintResult, lang: str) -> str:
    """A constraint as the evaluator reported it (usage_policies.decision), in ``lang``: the
    same words as ``constraint_sentence``, for callers that hold results, not the policy."""
    if result.children:
        ja, en = _LOGIC.get(result.operator, (result.operator, result.operator))
        inner = [result_sentence(c, lang) for c in result.children]
        return (f"{ja}: " + " / ".join(inner)) if lang == "ja" else (
            f"{en}: " + "; ".join(inner))
    spec = find_left_operand(result.left_operand)
    label = (spec.label_ja or spec.label_en) if spec and lang == "ja" else (
        spec.label_en if spec else short_name(result.left_operand))
    ja, en = _OPS.get(result.operator, ("{v}", "{v}"))
    text = value_label(result.right_operand, lang)
    return f"{label}が{ja.format(v=text)}" if lang == "ja" else \
        f"{label} {en.format(v=text)}"


def _does(action_iri: str, lang: str) -> str:
    """English verb phrase with its object: "use the data", "pass the data on to..."."""
    label = action_label(action_iri, lang)
    return label.format(d="the data") if "{d}" in label else f"{label} the data"


def duty_sentence(duty: Duty, lang: str, *, remedy: bool = False) -> str:
    plan = check_duty(duty, "")
    act = action_label(duty.action.id, lang).replace("{d}", "the data")
    who = dict(duty.parties)
    whom = next(iter(who.values())).uid if who else None
    if plan.deadline_after is not None:
        when = (f"合意から{duration_label(plan.deadline_after, 'ja')}以内に" if lang == "ja"
                else f"within {duration_label(plan.deadline_after, 'en')} of the agreement")
    elif plan.deadline_at is not None:
        when = (f"{value_label(plan.deadline_at, lang)}までに" if lang == "ja" else
                f"by {value_label(plan.deadline_at, lang)}")
    elif plan.timing == "after use":
        when = "利用のたびに" if lang == "ja" else "after every use"
    elif remedy:
        when = ""
    else:
        when = "利用の前に" if lang == "ja" else "before using it"
    if lang == "ja":
        target = f"{whom}に" if whom else ""
        return f"{when}{target}{act}を行うこと"
    target = f" {whom}" if whom else (" the data" if act in ("delete", "archive") else "")
    return f"{act}{target} {when}".rstrip()


def explain(policy: Policy, lang: str = "en") -> list[str]:
    """Sentences in ``lang`` ("ja" or "en") describing ``policy``; validates it first, so an
    invalid policy raises rather than being explained wrongly."""
    validate_policy(policy)
    ja = lang == "ja"
    target = policy.target.uid if policy.target else None
    out: list[str] = []
    kind = {"Offer": ("提供条件（オファー）", "an offer"), "Agreement": ("利用契約（合意）",
            "an agreement"), "Set": ("利用ポリシー", "a usage policy"),
            "Request": ("利用申請", "a request")}[policy.type]
    if ja:
        out.append(f"これは{target or '対象データ'}についての{kind[0]}です。" + (
            f"提供者: {policy.assigner.uid}。" if policy.assigner else "") + (
            f"利用者: {policy.assignee.uid}。" if policy.assignee else ""))
    else:
        out.append(f"This is {kind[1]} for {target or 'the dataset it is attached to'}." + (
            f" Provider: {policy.assigner.uid}." if policy.assigner else "") + (
            f" User: {policy.assignee.uid}." if policy.assignee else ""))
    for p in policy.permission:
        party = p.assignee or policy.assignee
        who = party_label(party, lang, ("誰にでも", "Anyone"))
        conds = [constraint_sentence(c, lang) for c in (*p.action.refinement, *p.constraint)]
        if ja:
            s = f"{who}{'には' if party else ''}、このデータの{action_label(p.action.id, lang)}が" \
                "認められます。"
            if conds:
                s += "ただし、次の条件をすべて満たす場合に限ります: " + "、".join(conds) + "。"
            if p.duty:
                s += "その際、" + "、".join(duty_sentence(d, lang) for d in p.duty) + "が必要です。"
        else:
            s = f"{who} may {_does(p.action.id, lang)}"
            s += (", only if " + "; and ".join(conds) + ".") if conds else "."
            if p.duty:
                s += " In return they must " + "; and ".join(
                    duty_sentence(d, lang) for d in p.duty) + "."
        out.append(s)
    for p in policy.prohibition:
        party = p.assignee or policy.assignee
        who = party_label(party, lang, ("", "No one"))
        conds = [constraint_sentence(c, lang) for c in p.constraint]
        if ja:
            s = (f"{who}には、" if party else "") + (
                "次の場合、" + "、".join(conds) + "、" if conds else "") + \
                f"このデータの{action_label(p.action.id, lang)}は禁止されています。"
            if p.remedy:
                s += "違反した場合は、" + "、".join(
                    duty_sentence(d, lang, remedy=True) for d in p.remedy) + "が必要です。"
        else:
            s = (f"{who} must not " if party else "No one may ") + _does(p.action.id, lang)
            s += (" when " + "; and ".join(conds) if conds else "") + "."
            if p.remedy:
                s += " If this happens anyway, they must " + "; and ".join(
                    duty_sentence(d, lang, remedy=True) for d in p.remedy) + "."
        out.append(s)
    for d in policy.obligation:
        out.append(("義務: " if ja else "Obligation: ") + duty_sentence(d, lang) +
                   ("。" if ja else "."))
    if policy.permission and policy.prohibition:
        strategy = policy.conflict_strategy
        out.append({
            "perm": ("許可と禁止が重なる場合は許可が優先します。",
                     "Where a permission and a prohibition overlap, the permission wins."),
            "prohibit": ("許可と禁止が重なる場合は禁止が優先します。",
                         "Where a permission and a prohibition overlap, the prohibition wins."),
            "invalid": ("許可と禁止が重なる利用は認められません（ポリシーが無効になります）。",
                        "A use that both a permission and a prohibition cover is refused "
                        "(the policy is void for it)."),
        }[strategy][0 if ja else 1])
    out.append("上記以外の利用は認められません。" if ja else
               "Any other use is not allowed.")
    return out

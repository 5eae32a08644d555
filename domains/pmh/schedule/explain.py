"""Japanese and English explanations of statuses and decisions, built from the rule (its
id and source) and the dates: written only when asked for, never in the evaluation loop."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from domains.pmh.schedule.model import Reason, State

if TYPE_CHECKING:
    from domains.pmh.schedule.model import Status
    from domains.pmh.schedule.table import Rule

_STATE = {
    State.DUE: ("接種時期です", "due"),
    State.OVERDUE: ("標準的な接種期間を過ぎています (定期接種として接種できます)",
                    "overdue (past the standard period, still at public expense)"),
    State.ALLOWED: ("定期接種として接種できます (標準的な接種期間の前です)",
                    "allowed at public expense (before the standard period)"),
    State.NOT_YET_ALLOWED: ("まだ接種できません", "not yet allowed"),
    State.NO_LONGER_PUBLIC: ("定期接種 (公費) の期間を過ぎました",
                             "no longer allowed at public expense"),
    State.COMPLETE: ("接種完了", "complete"),
}
_REASON = {
    Reason.WINDOW_FROM: ("接種可能期間の開始", "the window opens"),
    Reason.WINDOW_TO: ("接種可能期間の終了", "the window closes"),
    Reason.MIN_INTERVAL: ("前の接種からの最短間隔", "the minimum interval after an earlier dose"),
    Reason.STANDARD_FROM: ("標準的な接種期間の開始", "the standard period begins"),
    Reason.STANDARD_TO: ("標準的な接種期間の終了", "the standard period ends"),
    Reason.STANDARD_INTERVAL: ("標準的な接種間隔", "the standard interval"),
    Reason.EFFECTIVE_FROM: ("規則の施行日", "the rule takes effect"),
    Reason.SERIES: ("接種を開始したワクチンの系列", "the series the child started"),
    Reason.DOSE_NUMBER: ("接種の回数", "the dose number"),
    Reason.SERIES_COMPLETE: ("全回数の接種済み", "all doses given"),
    Reason.COHORT: ("対象者 (生年月日・性別)", "who is covered (birth cohort, sex)"),
    Reason.UNKNOWN_VACCINE: ("定期接種のワクチンではありません", "not a routine vaccine"),
    Reason.IN_WINDOW: ("接種可能期間内", "within the window"),
}


def _ja_date(day: date | None) -> str:
    return "" if day is None else f"{day.year}年{day.month}月{day.day}日"


def _status_dates(status: Status) -> tuple[str, str]:
    pairs = ((status.earliest, "から接種可", "allowed from"), (status.due, "が接種時期",
             "due from"), (status.overdue_from, "から標準期間外", "overdue from"),
             (status.last, "まで公費", "at public expense until"))
    ja = "、".join(f"{_ja_date(d)}{j}" for d, j, _ in pairs if d is not None)
    en = ", ".join(f"{e} {d.isoformat()}" for d, _, e in pairs if d is not None)
    return ja, en


def status_ja(status: Status) -> str:
    dates, _ = _status_dates(status)
    text = (f"{status.name_ja} {status.dose}回目: {_STATE[status.state][0]} "
            f"(判断: {_REASON[status.reason][0]}、規則 {status.rule.id})")
    return f"{text}。{dates}。根拠: {status.rule.source}" if dates else \
        f"{text}。根拠: {status.rule.source}"


def status_en(status: Status) -> str:
    _, dates = _status_dates(status)
    text = (f"{status.name_en}, dose {status.dose}: {_STATE[status.state][1]} "
            f"(decided by {_REASON[status.reason][1]}, rule {status.rule.id})")
    return f"{text}; {dates}" if dates else text


def refusal(reason: Reason, rule_id: str | None, limit: date | None,
            **facts: object) -> tuple[str, str]:
    rule_ja = f"規則 {rule_id}" if rule_id else "該当する規則なし"
    rule_en = f"rule {rule_id}" if rule_id else "no rule"
    ja, en = _REASON[reason]
    if reason is Reason.WINDOW_FROM:
        ja, en = (f"{_ja_date(limit)}より前のため接種できません",
                  f"before {limit}, when the window opens")
    elif reason is Reason.WINDOW_TO:
        ja, en = (f"{_ja_date(limit)}を過ぎているため定期接種 (公費) になりません",
                  f"after {limit}, when the window closed")
    elif reason is Reason.MIN_INTERVAL:
        ja, en = (f"前の接種から間隔が足りません ({_ja_date(limit)}から接種可)",
                  f"too soon after an earlier dose (allowed from {limit})")
    elif reason is Reason.EFFECTIVE_FROM:
        ja, en = (f"{_ja_date(limit)}より前は定期接種ではありません",
                  f"not routine before {limit}, when the rule takes effect")
    elif reason is Reason.DOSE_NUMBER:
        ja, en = (f"次は{facts['expected']}回目です ({facts['given']}回目として記録されました)",
                  f"the next dose is dose {facts['expected']}, not {facts['given']}")
    elif reason is Reason.SERIES:
        product = facts["product"] or "製品未記入"
        ja = f"{facts['given_code']} ({product}) は接種中の系列を継続しません"
        en = (f"{facts['given_code']} ({facts['product'] or 'no product'}) does not continue the "
              "child's series")
    return f"{ja} ({rule_ja})", f"refused: {en} ({rule_en})"


def accepted(rule: Rule) -> tuple[str, str]:
    return (f"定期接種として接種できます (規則 {rule.id}、根拠: {rule.source})",
            f"accepted as a routine dose (rule {rule.id})")

"""Partial evaluation: would this policy allow the use, as far as the request can tell now?

A catalog asks "could a shelter_operator get this for disaster_response in Miyagi?" long
before any use: the request states some attributes (role, purpose, place of use); the rest
(the date and time of use, the number of uses, the events under way, facts the provider
establishes at the time) is not known yet. ``partial_evaluate`` runs the ordinary evaluator
and reads its constraint tree again with one change: a constraint on a left operand the
request does not state is neither satisfied nor refused but a *condition* of the answer,
reported with a plain Japanese and English sentence. Nothing is guessed:

* ``permit``: a permission holds on what the request states alone, no prohibition can apply;
* ``conditional``: a permission holds if its conditions hold at the time of use (and, for a
  prohibition that might apply, if its conditions do not);
* ``deny``: no permission can hold, a prohibition surely applies, or the evaluation had
  errors (fail closed: an error is never a condition).

Duties due before use and not yet fulfilled are conditions too ("obtain consent before use");
duties owed after use are listed as the evaluator reports them. Never raises for bad input.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from usage_policies.decision import ConstraintResult, Decision, DutyResult, RuleResult
from usage_policies.errors import PolicyCode
from usage_policies.evaluate import CompiledPolicy
from usage_policies.explain import action_label, result_sentence
from usage_policies.operands import canonical_left_operand
from usage_policies.request import EvaluationRequest
from usage_policies.state import State
from usage_policies.vocab import ODRL

# Three values of a constraint tree read partially: holds, fails, or depends on the use.
_T, _F, _C = "holds", "fails", "condition"


@dataclass(frozen=True, slots=True)
class Condition:
    path: str
    ja: str
    en: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "ja": self.ja, "en": self.en}


@dataclass(slots=True)
class PartialDecision:
    outcome: str  # permit | conditional | deny
    reason: str
    conditions: list[Condition] = field(default_factory=list)
    decision: Decision | None = None  # the evaluator's own answer, with every reason

    @property
    def possible(self) -> bool:
        return self.outcome != "deny"

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reason": self.reason,
                "conditions": [c.to_json() for c in self.conditions]}


def stated_operands(request: EvaluationRequest) -> frozenset[str]:
    """What the request decides: its attributes, and the recipient if it names an assignee."""
    stated = {canonical_left_operand(k) for k in request.attributes}
    if request.assignee:
        stated.add(ODRL + "recipient")
    return frozenset(stated)


def _read(result: ConstraintResult, stated: Collection[str], out: list[Condition],
          *, prohibition: bool) -> str:
    if result.children:
        values = [_read(c, stated, [], prohibition=prohibition) for c in result.children]
        op = result.operator
        if op == "or":
            value = _T if _T in values else (_C if _C in values else _F)
        elif op == "xone":
            trues = values.count(_T)
            value = _F if trues > 1 else (_C if _C in values else (_T if trues == 1 else _F))
        else:  # and, andSequence
            value = _F if _F in values else (_C if _C in values else _T)
        if value == _C:
            out.append(_condition(result, prohibition))
        return value
    if canonical_left_operand(result.left_operand) not in stated:
        out.append(_condition(result, prohibition))
        return _C
    if result.satisfied is None:  # stated but undecidable: a prohibition stays in force
        return _T if prohibition else _F
    return _T if result.satisfied else _F


def _condition(result: ConstraintResult, prohibition: bool) -> Condition:
    ja, en = result_sentence(result, "ja"), result_sentence(result, "en")
    if prohibition:
        return Condition(result.path, f"{ja}場合を除く", f"not when {en}")
    return Condition(result.path, ja, en)


def _rule(rule: RuleResult, stated: Collection[str]) -> tuple[str, list[Condition]]:
    conditions: list[Condition] = []
    prohibition = rule.kind == "prohibition"
    values = [_read(c, stated, conditions, prohibition=prohibition) for c in rule.constraints]
    value = _F if _F in values else (_C if _C in values else _T)
    if value == _C:  # only the top-level conditions: nested ones are in their sentence
        tops = {c.path for c in rule.constraints}
        conditions = [c for c in conditions if c.path in tops]
    for duty in rule.duties if not prohibition else ():
        if duty.status == "unfulfilled" and value != _F:
            conditions.append(_duty_condition(duty))
            value = _C
    return value, conditions


def _duty_condition(duty: DutyResult) -> Condition:
    ja, en = action_label(duty.action, "ja"), action_label(duty.action, "en")
    return Condition(duty.path, f"利用前に{ja}を行うこと",
                     f"{en.format(d='the data')} before use")


def read_partially(decision: Decision, stated: Collection[str],
                   conflict: str = "invalid") -> PartialDecision:
    """The partial answer from an evaluator's decision on a request stating ``stated``."""
    # A conflict between an active permission and prohibition is decided again below, on
    # what the request states; any other error denies.
    errors = [e for e in decision.errors if e.get("code") != PolicyCode.CONFLICT]
    if errors:
        return PartialDecision("deny", "; ".join(str(e.get("message", e.get("code")))
                                                 for e in errors), decision=decision)
    best: tuple[str, list[Condition]] | None = None
    prohibiting: list[Condition] = []
    surely_prohibited = ""
    for rule in decision.rules:
        if not rule.applicable:
            continue
        value, conditions = _rule(rule, stated)
        if rule.kind == "prohibition":
            if value == _T:
                surely_prohibited = surely_prohibited or rule.path
            elif value == _C:
                prohibiting.extend(conditions)
        elif value == _T and (best is None or best[0] != _T):
            best = (_T, [])
        elif value == _C and (best is None or (best[0] == _C and
                                               len(conditions) < len(best[1]))):
            best = (_C, conditions)
    if best is None:
        reasons = [r.reason for r in decision.rules if r.kind == "permission"]
        return PartialDecision("deny", "; ".join(reasons) or
                               "no permission allows this use (default deny)",
                               decision=decision)
    if surely_prohibited and conflict != "perm":
        return PartialDecision("deny", f"{surely_prohibited} prohibits this use",
                               decision=decision)
    conditions = best[1] + ([] if conflict == "perm" else prohibiting)
    if conditions:
        return PartialDecision("conditional", "allowed if the conditions hold at the time "
                               "of use", conditions, decision)
    return PartialDecision("permit", "a permission holds on what the request states",
                           decision=decision)


def partial_evaluate(plan: CompiledPolicy, request: EvaluationRequest,
                     state: State) -> PartialDecision:
    """Evaluate ``request`` under ``plan`` now, constraints on what it does not state being
    conditions (see the module docstring). Never raises a PolicyError."""
    decision = plan.evaluate(request, state)
    return read_partially(decision, stated_operands(request), plan.conflict or "invalid")


__all__ = ["Condition", "PartialDecision", "partial_evaluate", "read_partially",
           "stated_operands"]

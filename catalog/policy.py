"""What the offers allow: "datasets I could get for purpose P as role R in area A".

Each distinct policy of the index (``catalog.index.policy_key``) is compiled once (a small
LRU of plans) and partially evaluated (``usage_policies.partial``) for the asker: the
request states the asker's roles, purpose, place of use (area) and DID when given; a
constraint on anything else (the time of use, the number of uses, the events under way, a
fact the provider establishes) is a condition of the answer, never a guess. Offers are
evaluated as the provider does at negotiation (``connector.protocol.negotiations``): the
action ``use`` (``modify`` for write-only offers), the connector's own ``inform`` duty
fulfilled, the agreement time now.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from catalog.areas import normalize_area
from catalog.model import Dataset
from usage_policies.errors import PolicyError
from usage_policies.evaluate import CompiledPolicy, compile_policy
from usage_policies.explain import explain
from usage_policies.model import Policy
from usage_policies.operands import attribute_resolver, find_left_operand, register_left_operand
from usage_policies.parse import parse_policy
from usage_policies.partial import PartialDecision, partial_evaluate
from usage_policies.request import EvaluationRequest
from usage_policies.serialize import STANDALONE_CONTEXT
from usage_policies.state import DutyStatus, State
from usage_policies.vocab import ODRL, TSUNAGU

ROLE = TSUNAGU + "role"
# The credential claim policies constrain; the connector registers the same operand
# (connector.protocol.agreements) and whichever module loads first does it.
if find_left_operand(ROLE) is None:
    register_left_operand(ROLE, attribute_resolver(ROLE), None, multi=True,
                          label_en="the participant's role", label_ja="参加者の役割")

TARGET = "urn:tsunagu:catalog:target"  # what a stripped policy (no dataset target) is about
WRITE_ACTIONS = frozenset({ODRL + "modify", TSUNAGU + "contribute"})
CONNECTOR_DUTIES = (ODRL + "inform",)


class UnusablePolicy(ValueError):
    """An offer the evaluator cannot parse: the entry is dropped with this reason."""


def parse_offer(rules: Mapping[str, Any]) -> Policy:
    doc = {k: v for k, v in rules.items() if k not in ("proof", "timestamp")}
    doc.setdefault("@type", "Offer")
    doc.setdefault("@id", "urn:tsunagu:catalog:policy")  # the key stripped the offer's own
    try:
        return parse_policy(doc, context=STANDALONE_CONTEXT)
    except PolicyError as exc:
        raise UnusablePolicy(f"offer policy: {exc.message}") from exc
    except Exception as exc:  # a document the JSON-LD processor refuses
        raise UnusablePolicy(f"offer policy: {type(exc).__name__}") from exc


def check_offers(dataset: Dataset) -> None:
    """Raise UnusablePolicy if an offer of ``dataset`` is one the evaluator cannot parse."""
    for offer in dataset.offers:
        try:
            parse_offer(offer.body)
        except UnusablePolicy as exc:
            raise UnusablePolicy(f"offer {offer.id[:200]}: {exc}") from None


def explain_offer(rules: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(Japanese, English) sentences of an offer (usage_policies.explain)."""
    try:
        policy = parse_offer(rules)
        return explain(policy, "ja"), explain(policy, "en")
    except (UnusablePolicy, PolicyError):
        return [], []


@dataclass(frozen=True)
class Asker:
    """Who asks and for what: the attributes a request states (None: not stated)."""

    roles: tuple[str, ...] = ()
    purpose: str | None = None
    area: str | None = None
    did: str | None = None

    def key(self) -> tuple[Any, ...]:
        return (self.roles, self.purpose, self.area, self.did)

    def request(self, action: str) -> EvaluationRequest:
        attributes: dict[str, Any] = {}
        if self.roles:
            attributes["tsunagu:role"] = list(self.roles)
        if self.purpose:
            attributes["purpose"] = self.purpose
        if self.area:
            attributes["spatial"] = normalize_area(self.area) or self.area
        return EvaluationRequest.of(action=action, target=TARGET, assignee=self.did,
                                    **attributes)


class PolicyJudge:
    """Partial decisions of the index's policies for askers, cached per index generation."""

    def __init__(self, plans: int = 4096, decisions: int = 65536) -> None:
        self._plans: OrderedDict[str, CompiledPolicy | UnusablePolicy] = OrderedDict()
        self._decisions: OrderedDict[tuple[Any, ...], PartialDecision] = OrderedDict()
        self._plan_size, self._decision_size = plans, decisions

    def remember(self, key: str, policy: Policy) -> None:
        """Compile a policy parsed at admission, so that no search pays for it."""
        if key not in self._plans:
            try:
                self._plans[key] = compile_policy(policy)
            except PolicyError as exc:
                self._plans[key] = UnusablePolicy(f"offer policy: {exc.message}")
            if len(self._plans) > self._plan_size:
                self._plans.popitem(last=False)

    def plan(self, key: str, rules: Mapping[str, Any]) -> CompiledPolicy | UnusablePolicy:
        hit = self._plans.get(key)
        if hit is not None:
            self._plans.move_to_end(key)
            return hit
        try:
            plan: CompiledPolicy | UnusablePolicy = compile_policy(parse_offer(rules))
        except UnusablePolicy as exc:
            plan = exc
        except PolicyError as exc:
            plan = UnusablePolicy(f"offer policy: {exc.message}")
        self._plans[key] = plan
        if len(self._plans) > self._plan_size:
            self._plans.popitem(last=False)
        return plan

    def decide(self, key: str, rules: Mapping[str, Any], asker: Asker,
               now: datetime | None = None) -> PartialDecision:
        cache_key = (key, asker.key())
        hit = self._decisions.get(cache_key)
        if hit is not None and now is None:
            return hit
        plan = self.plan(key, rules)
        if isinstance(plan, UnusablePolicy):
            result = PartialDecision("deny", str(plan))
        else:
            moment = now or datetime.now(UTC)
            action = "modify" if plan.policy.permission and all(
                p.action.id in WRITE_ACTIONS for p in plan.policy.permission) else "use"
            state = State(current_time=moment, agreement_time=moment,
                          duties={d: DutyStatus(True, moment) for d in CONNECTOR_DUTIES})
            result = partial_evaluate(plan, asker.request(action), state)
        self._decisions[cache_key] = result
        if len(self._decisions) > self._decision_size:
            self._decisions.popitem(last=False)
        return result

    def clear(self) -> None:
        self._decisions.clear()

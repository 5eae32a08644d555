from __future__ import annotations

from datetime import date

import pytest

from usage_policies import templates as t
from usage_policies.api import evaluate
from usage_policies.explain import explain
from usage_policies.operands import (
    attribute_resolver,
    find_left_operand,
    register_left_operand,
    unregister_left_operand,
)
from usage_policies.parse import parse_policy
from usage_policies.serialize import to_dsp
from usage_policies.vocabularies import Term, Vocabulary

from .helpers import ALICE, PROVIDER, TARGET, req, state

BASE = t.offer("urn:offer:1", target=TARGET, assigner=PROVIDER)

# A world fact with a closed vocabulary, as a domain registers one (bosai: the disaster
# phase); the core templates must work for any such operand, knowing none of them.
TIDE = "https://example.org/tsunagu-test/ns#tide"
TIDES = Vocabulary("tide", "https://example.org/tsunagu-test/ns#tide_")
TIDES.register([Term("high", "満潮", "high tide"), Term("low", "干潮", "low tide"),
                Term("slack", "潮止まり", "slack water")])


@pytest.fixture(autouse=True, scope="module")
def tide_operand():
    assert find_left_operand(TIDE) is None
    register_left_operand(TIDE, attribute_resolver(TIDE), None, vocabulary=TIDES,
                          label_en="the tide", label_ja="潮位")
    yield
    unregister_left_operand(TIDE)


@pytest.mark.parametrize(("apply", "ok", "not_ok"), [
    (lambda p: t.restrict_recipients(p, [ALICE]), (req(), state()),
     (req(assignee="did:example:eve"), state())),
    (lambda p: t.restrict_role(p, "urn:role:relief"),
     (req(), state(partOf=[{"member": ALICE, "collection": "urn:role:relief"}])),
     (req(), state())),
    (lambda p: t.restrict_purpose(p, ["research", "medical_care"]),
     (req(purpose="statistics"), state()), (req(purpose="commercial"), state())),
    (lambda p: t.time_window(p, not_before=date(2025, 9, 1), not_after=date(2025, 9, 30)),
     (req(), state()), (req(), state(currentTime="2025-10-01T00:00:00+09:00"))),
    (lambda p: t.duration_after_agreement(p, "P90D"),
     (req(), state(agreementTime="2025-08-01T00:00:00Z")),
     (req(), state(agreementTime="2025-01-01T00:00:00Z"))),
    (lambda p: t.max_uses(p, 3), (req(), state(useCounts={TARGET: 2})),
     (req(), state(useCounts={TARGET: 3}))),
    (lambda p: t.delete_after(p, within="P30D", uid="urn:duty:del"),
     (req(), state(agreementTime="2025-08-20T00:00:00Z")),
     (req(), state(agreementTime="2025-07-01T00:00:00Z"))),
    (lambda p: t.delete_after(p, by=date(2025, 8, 31)),
     (req(), state(duties={"odrl:delete": {"fulfilled": True}})), (req(), state())),
    (lambda p: t.notify_on_use(p, PROVIDER), (req(), state()), (req("sell"), None)),
    (lambda p: t.log_every_use(p, PROVIDER), (req(), state()), (req("transfer"), None)),
    (t.no_onward_transfer, (req(), state()), (req("distribute"), state())),
    (lambda p: t.within_region(p, ["28", "131016"]),
     (req(), state(operands={"spatial": "131016"})),
     (req(), state(operands={"spatial": "271004"}))),
    (lambda p: t.only_while(p, TIDE, ["high", "slack"]),
     (req(), state(operands={TIDE: "slack"})), (req(), state(operands={TIDE: "low"}))),
])
def test_template_restricts(apply, ok, not_ok):
    policy = apply(BASE)
    assert parse_policy(to_dsp(policy)) == policy  # serialises to valid DSP JSON-LD
    assert evaluate(policy, *ok).permitted
    assert not evaluate(policy, not_ok[0], not_ok[1] or state()).permitted
    assert explain(policy, "ja") and explain(policy, "en")


def test_templates_compose_and_owed_duties_are_reported():
    p = t.delete_after(t.notify_on_use(t.restrict_purpose(BASE, ["research"]), PROVIDER),
                       within="P30D")
    decision = evaluate(p, req(purpose="statistics"), state(agreementTime=
                                                             "2025-08-20T00:00:00Z"))
    assert decision.permitted
    assert {d.action.rsplit("/", 1)[1] for d in decision.duties} == {"inform", "delete"}


@pytest.mark.parametrize("call", [
    lambda: t.restrict_purpose(BASE, ["sightseeing"]),
    lambda: t.restrict_purpose(BASE, []),
    lambda: t.within_region(BASE, ["99"]),
    lambda: t.within_region(BASE, ["tokyo"]),
    lambda: t.only_while(BASE, TIDE, ["tsunami"]),
    lambda: t.only_while(BASE, TIDE, []),
    lambda: t.only_while(BASE, "https://example.org/tsunagu-test/ns#unregistered", ["high"]),
    lambda: t.only_while(BASE, "http://www.w3.org/ns/odrl/2/count", ["1"]),  # no vocabulary
    lambda: t.max_uses(BASE, 0),
    lambda: t.delete_after(BASE),
    lambda: t.time_window(BASE),
    lambda: t.duration_after_agreement(BASE, "30 days"),
    lambda: t.restrict_role(BASE, "relief"),
])
def test_template_parameters_are_checked(call):
    with pytest.raises(t.TemplateError):
        call()


def test_every_template_has_explanations():
    params = {
        "restrict_recipients": {"recipients": [ALICE]},
        "restrict_role": {"role": "urn:role:x"},
        "restrict_purpose": {"purposes": ["research"]},
        "time_window": {"not_after": date(2026, 3, 31)},
        "duration_after_agreement": {"duration": "P90D"},
        "max_uses": {"count": 5},
        "delete_after": {"within": "P30D"},
        "notify_on_use": {"notify": PROVIDER},
        "log_every_use": {"tracking_party": PROVIDER},
        "no_onward_transfer": {},
        "within_region": {"codes": ["28"]},
        "only_while": {"operand": TIDE, "values": ["high"]},
    }
    assert set(params) == set(t.TEMPLATES)
    for name, kw in params.items():
        ja, en = t.explain_template(name, "ja", **kw), t.explain_template(name, "en", **kw)
        assert ja and en and ja != en
        t.TEMPLATES[name].function(BASE, **kw)
    assert "研究" in t.explain_template("restrict_purpose", "ja", purposes=["research"])
    assert t.explain_template("only_while", "ja", operand=TIDE, values=["high", "low"]) == \
        "利用できるのは潮位が 満潮、干潮 の間だけです。"
    assert t.explain_template("only_while", "en", operand=TIDE, values=["slack"]) == \
        "The data may be used only while the tide is slack water."
    assert "90 days" in t.explain_template("duration_after_agreement", "en", duration="P90D")

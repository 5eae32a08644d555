"""Policy-filtered search: exactly the datasets whose offers permit the asker; conditions on
the time of use reported, not guessed; offers explained in Japanese and English."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalog.index import Filters
from catalog.policy import Asker
from catalog.service import Catalog, page_json
from tests.catalog.helpers import CITY, PARTICIPANTS, entry, offer, purpose, region, role, until
from usage_policies.partial import partial_evaluate
from usage_policies.request import EvaluationRequest
from usage_policies.state import State

NOW = datetime(2026, 6, 1, tzinfo=UTC)

DATASETS = {
    "urn:ds:open": [offer("urn:o:open")],
    "urn:ds:shelter-dr": [offer("urn:o:1", role("shelter_operator"),
                                purpose("disaster_response"))],
    "urn:ds:shelter-miyagi": [offer("urn:o:2", role("shelter_operator"), region("04"))],
    "urn:ds:tokyo-only": [offer("urn:o:3", region("13"))],
    "urn:ds:municipal": [offer("urn:o:4", role("municipality"))],
    "urn:ds:research": [offer("urn:o:5", purpose("research"))],
    "urn:ds:until-2030": [offer("urn:o:6", role("shelter_operator"),
                                until("2030-01-01T00:00:00Z"))],
    "urn:ds:two-offers": [offer("urn:o:7", role("municipality")),
                          offer("urn:o:8", role("shelter_operator"))],
    "urn:ds:prohibited": [offer("urn:o:9", prohibit=[{"action": "use", "constraint": [
        role("shelter_operator")]}])],
}
PERMITTED = {"urn:ds:open", "urn:ds:shelter-dr", "urn:ds:shelter-miyagi",
             "urn:ds:two-offers"}
CONDITIONAL = {"urn:ds:until-2030"}


@pytest.fixture(scope="module")
def cat() -> Catalog:
    c = Catalog()
    c.set_participants(PARTICIPANTS)
    for i, (ident, offers) in enumerate(DATASETS.items()):
        c.ingest_dataset(CITY, entry(CITY, ident, f"データセット {i}", offers))
    assert c.index.count() == len(DATASETS)
    return c


ASKER = Asker(roles=("shelter_operator",), purpose="disaster_response", area="04")


def ids(page) -> set[str]:
    return {h.dataset.id for h in page.hits}


def test_exactly_the_permitted_datasets(cat):
    page = cat.search("", asker=ASKER, include_conditional=False, limit=50, now=NOW)
    assert ids(page) == PERMITTED


def test_conditions_on_the_time_of_use_are_reported(cat):
    page = cat.search("", asker=ASKER, limit=50, now=NOW)
    assert ids(page) == PERMITTED | CONDITIONAL
    hit = next(h for h in page.hits if h.dataset.id == "urn:ds:until-2030")
    decision = hit.offers[0]["decision"]
    assert decision["outcome"] == "conditional"
    [condition] = decision["conditions"]
    assert "利用日時" in condition["ja"] and "2030-01-01" in condition["ja"]
    assert "the date and time of use" in condition["en"]


def test_a_time_condition_is_not_decided_by_the_clock(cat):
    later = datetime(2031, 1, 1, tzinfo=UTC)  # past the window: still a condition, not a deny
    assert "urn:ds:until-2030" in ids(cat.search("", asker=ASKER, limit=50, now=later))


def test_other_askers(cat):
    municipality = Asker(roles=("municipality",), area="04100")
    found = ids(cat.search("", asker=municipality, include_conditional=False, limit=50,
                           now=NOW))
    assert found == {"urn:ds:open", "urn:ds:municipal", "urn:ds:two-offers",
                     "urn:ds:prohibited"}
    # purpose not stated: constraints on it are conditions of the answer
    conditional = ids(cat.search("", asker=municipality, limit=50, now=NOW)) - found
    assert conditional == {"urn:ds:research"}
    tokyo = Asker(roles=("river_office",), purpose="research", area="13101")
    assert ids(cat.search("", asker=tokyo, include_conditional=False, limit=50, now=NOW)) == {
        "urn:ds:open", "urn:ds:tokyo-only", "urn:ds:research", "urn:ds:prohibited"}


def test_policy_filter_combines_with_text_facets_and_paging(cat):
    seen, cursor = [], None
    while True:
        page = cat.search("データ", Filters(publisher=(CITY,)), asker=ASKER, limit=2,
                          cursor=cursor, include_conditional=False, now=NOW)
        assert page.total == len(PERMITTED)
        seen += [h.dataset.id for h in page.hits]
        cursor = page.next_cursor
        if not cursor:
            break
    assert sorted(seen) == sorted(PERMITTED)


def test_each_offer_carries_its_decision_and_explanation(cat):
    page = cat.search("", asker=ASKER, limit=50, now=NOW)
    doc = page_json(page)
    two = next(d for d in doc["dataset"] if d["@id"] == "urn:ds:two-offers")
    outcomes = {p["@id"]: p["tsunagu:decision"]["outcome"] for p in two["hasPolicy"]}
    assert outcomes == {"urn:o:7": "deny", "urn:o:8": "permit"}
    for p in two["hasPolicy"]:
        assert p["tsunagu:explanation"]["ja"] and p["tsunagu:explanation"]["en"]


def _plan(doc):
    from catalog.policy import parse_offer
    from usage_policies.evaluate import compile_policy
    return compile_policy(parse_offer(doc))


def test_partial_evaluation_three_values():
    state = State(current_time=NOW, agreement_time=NOW)
    req = EvaluationRequest.of(action="use", target="urn:t", **{"tsunagu:role":
                                                               ["shelter_operator"]})
    either = offer("urn:o", {"or": [
        until("2020-01-01T00:00:00Z"), role("shelter_operator")]})
    assert partial_evaluate(_plan(either), req, state).outcome == "permit"
    both = offer("urn:o", {"and": [
        until("2030-01-01T00:00:00Z"), role("municipality")]})
    assert partial_evaluate(_plan(both), req, state).outcome == "deny"
    timed_prohibition = offer("urn:o", prohibit=[{"action": "use", "constraint": [
        until("2030-01-01T00:00:00Z")]}])
    result = partial_evaluate(_plan(timed_prohibition), req, state)
    assert result.outcome == "conditional"
    assert result.conditions[0].en.startswith("not when")
    bad = {"@type": "Offer", "@id": "urn:o", "permission": "nonsense"}
    from catalog.policy import PolicyJudge
    assert PolicyJudge().decide("k", bad, Asker()).outcome == "deny"

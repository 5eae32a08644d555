"""Roles, purposes and operand vocabularies: the core keeps only generic ones, domains bring
theirs through the plug-in contract, the authority checks roles against installed domains."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from authority.state import Authority
from connector.control.audit import AuditLog
from connector.control.facts import WorldFacts
from connector.plugins.contract import DomainPlugin, LeftOperandSpec
from connector.plugins.registry import PluginError, activate_plugins, role_vocabulary
from connector.store.database import Store
from domains import pmh, steel
from domains.bosai import plugin as bosai
from domains.bosai import vocab as bosai_vocab
from tests.domains.conftest import isolated_registries, registry_state  # noqa: F401
from trust.errors import ValidationError
from trust.keys import KeyPair
from usage_policies import EvaluationRequest, evaluate, parse_state, templates
from usage_policies.vocabularies import CORE_PURPOSES, CORE_ROLES, ROLES, Term, Vocabulary

pytestmark = pytest.mark.usefixtures("isolated_registries")

REPO = Path(__file__).parent.parent
CORE_PACKAGES = ("trust", "usage_policies", "catalog", "connector", "authority")

# A domain nobody has written yet: a port authority's data space.
PORT = "https://example.org/tsunagu-test/port#"
BERTH_STATE = PORT + "berthState"
BERTH_STATES = Vocabulary("berthState", PORT + "berth_")
BERTH_STATES.register([Term("free", "空き", "free"), Term("occupied", "使用中", "occupied")])
HARBOUR = DomainPlugin(
    name="harbour",
    roles=(Term("harbour_master", "港長", "harbour master"),),
    purposes=(Term("port_operation", "港湾運営", "port operation", "public_administration"),),
    left_operands=(LeftOperandSpec(BERTH_STATE, None, label_en="the berth state",
                                   label_ja="岸壁の状態", vocabulary=BERTH_STATES),),
)


def domain_tokens() -> set[str]:
    """Every role, purpose and phase token the domains bring."""
    tokens = {t.token for p in (bosai, pmh.plugin, steel.plugin) for t in (*p.roles, *p.purposes)}
    return tokens | set(bosai_vocab.DISASTER_PHASES.labels)


def string_constants(source: str) -> set[str]:
    return {node.value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def test_no_domain_vocabulary_is_written_into_the_core():
    tokens = domain_tokens()
    found = {}
    for package in CORE_PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            hits = string_constants(path.read_text(encoding="utf-8")) & tokens
            if hits:
                found[str(path.relative_to(REPO))] = sorted(hits)
    assert found == {}


def test_the_core_vocabulary_check_finds_a_planted_domain_token():
    assert string_constants('ROLE = "shelter_operator"\n') & domain_tokens()
    assert not string_constants('"""a shelter_operator in prose"""\n') & domain_tokens()


def test_the_core_keeps_only_generic_terms():
    assert {t.token for t in CORE_ROLES} == {"municipality", "medical_institution",
                                             "app_provider", "resident_app"}
    assert {t.token for t in CORE_PURPOSES} == {"medical_care", "public_administration",
                                                "research", "statistics", "commercial"}


def test_a_new_domain_brings_its_roles_purposes_and_operand_vocabulary(tmp_path):
    with pytest.raises(templates.TemplateError, match="port_operation"):
        templates.restrict_purpose(templates.offer("urn:o", target="urn:t", assigner="did:p"),
                                   ["port_operation"])
    activate_plugins([HARBOUR])
    assert ROLES.term("harbour_master") == HARBOUR.roles[0]
    policy = templates.only_while(templates.restrict_purpose(
        templates.offer("urn:o", target="urn:t", assigner="did:p"), ["public_administration"]),
        BERTH_STATE, ["free"])
    now = datetime(2026, 12, 5, tzinfo=UTC)

    def decide(purpose: str, berth: str):
        request = EvaluationRequest.of(action="use", target="urn:t", assignee="did:c",
                                       purpose=purpose)
        return evaluate(policy, request, parse_state({"currentTime": now.isoformat(),
                                                      "operands": {BERTH_STATE: berth}}))

    assert decide("port_operation", "free").permitted  # narrower than public administration
    assert not decide("port_operation", "occupied").permitted
    assert not decide("commercial", "free").permitted
    # A world fact outside the operand's vocabulary is a typo, refused.
    store = Store(tmp_path / "store.sqlite")
    facts = WorldFacts(store, AuditLog(store), {})
    facts.set(BERTH_STATE, "occupied")
    with pytest.raises(ValidationError, match="free, occupied"):
        facts.set(BERTH_STATE, "flooded")
    store.close()


def test_a_role_defined_twice_differently_is_a_conflict_and_nothing_is_registered():
    rival = DomainPlugin(name="rival", roles=(Term("harbour_master", "港湾長", "port captain"),))
    before = registry_state()
    with pytest.raises(PluginError, match="'rival'.*harbour_master") as caught:
        activate_plugins([HARBOUR, rival])
    assert caught.value.code == "plugin.conflict"
    assert registry_state() == before


@pytest.mark.parametrize(("plugin", "words"), [
    (DomainPlugin(name="relabel", purposes=(Term("research", "調査", "survey"),)),
     "'research' is already defined"),
    (DomainPlugin(name="orphan", purposes=(Term("dredging", "浚渫", "dredging", "harbour"),)),
     "broader purpose 'harbour'"),
    (DomainPlugin(name="shouting", roles=(Term("Harbour-Master", "港長", "harbour master"),)),
     "not a Term with a token"),
    (DomainPlugin(name="unlabelled", roles=(Term("pilot", "", "pilot"),)), "ja and en"),
])
def test_bad_terms_are_refused_naming_the_plugin(plugin, words):
    before = registry_state()
    with pytest.raises(PluginError, match=words) as caught:
        activate_plugins([plugin])
    assert caught.value.message.startswith(f"domain plug-in {plugin.name!r}")
    assert registry_state() == before


def test_role_vocabulary_activates_nothing():
    before = registry_state()
    roles = role_vocabulary([HARBOUR, steel.plugin])
    assert {"municipality", "harbour_master", "steel_mill"} <= set(roles.labels)
    assert "shelter_operator" not in roles.labels
    assert registry_state() == before


def test_the_authority_issues_only_roles_of_the_core_and_its_installed_domains(tmp_path):
    authority = Authority.init(tmp_path / "authority", name="港湾データ空間")
    participant = KeyPair.generate()
    authority.plugins = [HARBOUR]
    issued = authority.issue(did=participant.did, name="横浜港", legal_id="141003",
                             roles=["municipality", "harbour_master"])
    assert issued.jwt
    with pytest.raises(ValidationError) as caught:  # bosai is not installed here
        authority.issue(did=participant.did, name="横浜港", legal_id="141003",
                        roles=["shelter_operator"])
    assert caught.value.code == "authority.unknown_role"
    assert "harbour_master" in caught.value.message
    assert len(authority.credentials()) == 1  # the refused one left nothing behind
    authority.plugins = None  # every installed domain: bosai's role is known then
    authority.issue(did=participant.did, name="横浜港", legal_id="141003",
                    roles=["shelter_operator"])

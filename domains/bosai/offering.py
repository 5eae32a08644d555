"""Offering the hub's datasets: each with its schema, its policy and its explanation.

The dataset's DCAT description is the policy template's plain-Japanese explanation, so any
participant's catalog view shows it; the hub's catalog page (``catalog_page``) shows it
with the offer's own rules spelled out (``usage_policies.explain``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connector.plugins.contract import PolicyTemplate
from connector.plugins.registry import dataset_schema
from domains.bosai import policies
from domains.bosai import setup as bosai_setup
from domains.bosai.errors import BosaiCode
from domains.bosai.setup import MunicipalitySetup
from trust.errors import TsunaguError
from usage_policies.model import Policy
from usage_policies.serialize import to_dsp


class HubUnavailable(TsunaguError):
    """Feature not available.

    This hub is not set up for what was asked (a shelter operator's reception or supplies
    before it operates a shelter): its own code, since the core's ``feature.unavailable``
    (a connector run without a service) is another answer (501, not 503).
    """

    code = BosaiCode.HUB_UNAVAILABLE


def _dsp(policy: Policy) -> dict[str, Any]:
    document = to_dsp(policy, standalone=False)
    document.pop("target", None)  # offers inside a DSP Dataset carry no target
    return document


async def _offer(connector: Any, dataset_id: str, title: str, kind: str, template: str,
                 policy: Policy, explained: PolicyTemplate, keywords: Sequence[str]
                 ) -> dict[str, str]:
    await connector.datasets.offer_dataset(
        dataset_id, title, [_dsp(policy)], dataset_schema(kind),
        description=explained.explain("ja"), keywords=list(keywords))
    return {policy.uid: template}


async def offer_municipality(connector: Any, setup: MunicipalitySetup,
                             retain_at_most: str | None = None) -> dict[str, str]:
    """The municipality's datasets: evacuees, medical needs, shelter status, and one share
    per partner. Returns offer id -> template name."""
    town = setup.municipality
    did = connector.did

    def uid(kind: str) -> str:
        return f"{setup.dataset(kind)}:offer"

    made: dict[str, str] = {}
    for kind, title, template, policy, words in (
        (bosai_setup.EVACUEE, f"{town.name} 避難者名簿", "evacuee-registry",
         policies.evacuee_registry(uid("evacuee"), assigner=did, operators=setup.operators,
                                   retain_at_most=retain_at_most),
         ("避難者", "evacuee")),
        (bosai_setup.MEDICAL, f"{town.name} 避難者の医療的ニーズ", "medical-needs",
         policies.medical_needs(uid("medical-needs"), assigner=did,
                                municipality_code=town.code),
         ("医療", "medical")),
        (bosai_setup.STATUS, f"{town.name} 避難所の開設状況", "shelter-status-open",
         policies.shelter_status_open(uid("shelter-status"), assigner=did),
         ("避難所", "shelter")),
    ):
        made |= await _offer(connector, setup.dataset(kind), title, kind, template, policy,
                             policies.TEMPLATES[template], words)
    for home in setup.partners:
        dataset = setup.share_dataset(home)
        made |= await _offer(
            connector, dataset, f"{town.name}で受け入れた{home.name}の住民", bosai_setup.EVACUEE,
            "home-share", policies.evacuees_for_home(f"{dataset}:offer", assigner=did,
                                                     home_code=home.code),
            policies.HOME_SHARE, ("避難者", "evacuee", home.code))
    return made


async def offer_shelter_operator(connector: Any, municipalities: Sequence[str]
                                 ) -> tuple[str, str | None, dict[str, str]]:
    """A shelter operator's supply-requests dataset and, for ``municipalities``, its
    reception dataset; (their ids, offer id -> template)."""
    pid = connector.identity.participant_id
    supplies = bosai_setup.operator_dataset(pid)
    made = await _offer(connector, supplies, "救援物資の要請", bosai_setup.SUPPLIES,
                        "supply-requests", policies.supply_requests(
                            f"{supplies}:offer", assigner=connector.did,
                            municipalities=municipalities),
                        policies.TEMPLATES["supply-requests"], ("救援物資", "supplies"))
    if not municipalities:
        return supplies, None, made
    reception = bosai_setup.operator_dataset(pid, bosai_setup.RECEPTION)
    made |= await _offer(connector, reception, "避難所の受付で登録した避難者",
                         bosai_setup.EVACUEE, "reception", policies.for_municipalities(
                             f"{reception}:offer", assigner=connector.did,
                             codes=municipalities),
                         policies.RECEPTION, ("避難者", "evacuee", "reception"))
    return supplies, reception, made


def explanation(template: str) -> PolicyTemplate | None:
    """The template behind an offer this hub made (``setup.offer_templates``)."""
    special = {"home-share": policies.HOME_SHARE, "reception": policies.RECEPTION}
    return special.get(template) or policies.TEMPLATES.get(template)

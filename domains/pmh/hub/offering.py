"""Offering a municipality's pmh datasets, each with its schema and policy template's
explanation as its description (as bosai does)."""

from __future__ import annotations

from typing import Any

from connector.plugins.registry import dataset_schema
from domains.pmh.hub import policies
from domains.pmh.hub.setup import CARE, CONTRIBUTED, OWN, Municipality
from usage_policies.model import Policy
from usage_policies.serialize import to_dsp

TITLES = {"mothers": "妊産婦", "children": "子", "checkup-vouchers": "受診票",
          "pregnancy-registrations": "妊娠届出",
          "encounters": "健診・予防接種の受診", "observations": "健診の測定・検査結果",
          "immunizations": "予防接種の記録", CARE: "要配慮者（妊娠・乳児）"}


def _dsp(policy: Policy) -> dict[str, Any]:
    document = to_dsp(policy, standalone=False)
    document.pop("target", None)  # offers inside a DSP Dataset carry no target
    return document


def offer_id(dataset: str) -> str:
    return f"{dataset}:offer"


async def offer_municipality(connector: Any, town: Municipality) -> None:
    """Its own people and vouchers (health department only) and the datasets clinics add
    checkups and vaccinations to."""
    did = connector.did
    for kind in OWN:
        dataset = town.dataset(kind)
        policy = policies.municipal_health(offer_id(dataset), assigner=did,
                                           municipality_code=town.code)
        await connector.datasets.offer_dataset(
            dataset, f"{town.name} {TITLES[kind]}", [_dsp(policy)], dataset_schema(kind),
            description=policies.TEMPLATES["municipal-health"].explain("ja"),
            keywords=["母子保健", "pmh", kind])
    for kind, term in CONTRIBUTED.items():
        dataset = town.dataset(kind)
        policy = policies.clinic_records(offer_id(dataset), assigner=did, term=term)
        await connector.datasets.offer_dataset(
            dataset, f"{town.name} {TITLES[kind]}", [_dsp(policy)], dataset_schema(kind),
            description=policies.TEMPLATES["clinic-records"].explain("ja"),
            keywords=["母子保健", "pmh", kind])
    if not policies.phase_known():
        return  # no disaster phase here: the flags cannot be offered (policies module doc)
    dataset = town.dataset(CARE)
    policy = policies.disaster_care_flags(offer_id(dataset), assigner=did,
                                          municipality_code=town.code)
    await connector.datasets.offer_dataset(
        dataset, f"{town.name} {TITLES[CARE]}", [_dsp(policy)], dataset_schema(CARE),
        description=policies.TEMPLATES["disaster-care-flags"].explain("ja"),
        keywords=["母子保健", "防災", "pmh", CARE])

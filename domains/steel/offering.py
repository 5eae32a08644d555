"""The steel hub's datasets and their offers.

Dataset ids carry the party's 法人番号, never a person: ``urn:tsunagu:steel:<法人番号>:<kind>``
for its own certificates and derived certificates (kept and signed here; they travel inside
custody events, so nobody negotiates for them but the party itself), and one custody-events
dataset per receiver, ``urn:tsunagu:steel:<sender>:custody-events:<receiver>``, offered to that
receiver only (its 法人番号), for traceability: a party's transfers to one customer are not
seen by another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connector.plugins.registry import dataset_schema
from usage_policies import templates
from usage_policies.model import Constraint, LiteralValue, Policy
from usage_policies.serialize import to_dsp
from usage_policies.vocab import ODRL, TSUNAGU

PURPOSE = "traceability"
ROLES = ("steel_mill", "trader", "processor", "customer")
TITLES = {"mill-certificates": "ミルシート", "derived-certificates": "派生証明書",
          "custody-events": "引渡し記録"}
EXPLANATION_JA = ("鉄鋼のサプライチェーンの参加者（役割: 鉄鋼メーカー・商社・加工業者・"
                  "需要家）のうち、指定の法人番号の者だけが、来歴の追跡の目的で利用できます。")


def dataset_id(legal_id: str, kind: str, receiver: str | None = None) -> str:
    return f"urn:tsunagu:steel:{legal_id}:{kind}" + (f":{receiver}" if receiver else "")


def offer_id(dataset: str) -> str:
    return f"{dataset}:offer"


def _any_of(operand: str, values: Sequence[str]) -> Constraint:
    return Constraint(left_operand=operand, operator=ODRL + "isAnyOf",
                      right_operand=tuple(LiteralValue(value=v) for v in values))


def policy(uid: str, *, assigner: str, legal_id: str) -> Policy:
    """Steel parties with the 法人番号 ``legal_id`` only, for traceability."""
    offer = templates.restrict_purpose(templates.offer(uid, target=None, assigner=assigner),
                                       [PURPOSE])
    return offer.model_copy(update={"permission": tuple(
        p.model_copy(update={"constraint": (*p.constraint, _any_of(TSUNAGU + "role", ROLES),
                                            _any_of(TSUNAGU + "legalId", [legal_id]))})
        for p in offer.permission)})


def _dsp(made: Policy) -> dict[str, Any]:
    document = to_dsp(made, standalone=False)
    document.pop("target", None)  # offers inside a DSP Dataset carry no target
    return document


async def offer(connector: Any, dataset: str, kind: str, title: str, for_legal_id: str
                ) -> None:
    made = policy(offer_id(dataset), assigner=connector.did, legal_id=for_legal_id)
    await connector.datasets.offer_dataset(dataset, title, [_dsp(made)], dataset_schema(kind),
                                           description=EXPLANATION_JA,
                                           keywords=["鉄鋼", "steel", kind])

"""Catalog entries exactly as a connector lists them (connector.data.datasets.build_entry)."""

from __future__ import annotations

from typing import Any

from connector.data.datasets import build_entry
from connector.protocol.dsp import messages as m

CITY = "did:key:z6MkSendaiCity"
SHELTER = "did:key:z6MkShelterOperator"
RIVER = "did:key:z6MkRiverOffice"

PARTICIPANTS = [
    {"id": CITY, "name": "仙台市", "roles": ["municipality"]},
    {"id": SHELTER, "name": "避難所運営法人", "roles": ["shelter_operator"]},
    {"id": RIVER, "name": "河川事務所", "roles": ["river_office"]},
]


def offer(uid: str, *constraints: dict[str, Any], prohibit: list[dict[str, Any]] | None = None,
          action: str = "use") -> dict[str, Any]:
    return m.offer(uid, permission=[m.rule(action, list(constraints))],
                   prohibition=prohibit or ())


def role(*roles: str) -> dict[str, Any]:
    return m.constraint("tsunagu:role", "isAnyOf", list(roles))


def purpose(p: str) -> dict[str, Any]:
    return m.constraint("odrl:purpose", "eq", p)


def region(code: str) -> dict[str, Any]:
    return m.constraint("odrl:spatial", "isPartOf", code)


def until(moment: str) -> dict[str, Any]:
    return m.constraint("odrl:dateTime", "lteq", {"@value": moment, "@type": "xsd:dateTime"})


def entry(provider: str, dataset_id: str, title: str, offers: list[dict[str, Any]], *,
          description: str | None = None, keywords: tuple[str, ...] = (),
          **extra: Any) -> dict[str, Any]:
    e = build_entry(provider, dataset_id, title=title, offers=offers, description=description,
                    keywords=keywords)
    e.update(extra)
    return e


def catalog(provider: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    doc = m.catalog(f"{provider}#catalog", participant_id=provider)
    doc["dataset"] = entries  # as given, bad entries too
    return doc

"""What a participant is in the bosai hub, and the datasets it offers for it.

A hub runs in every bosai participant's connector; what it publishes depends on who the
participant is, set once and kept in the hub's settings (``PluginSettings``), so a restart
resumes:

* a **municipality** (``Municipality``): its evacuee registry is published as ``evacuee``
  records (no medical part) and ``medical-needs`` records, its shelter status as public
  ``shelter-status`` records, and people whose address is in a partner municipality are
  shared with that municipality (``domains.bosai.sharing``);
* a **shelter operator**: its ``supply-requests`` dataset, and its ``reception`` dataset
  (people it registered at its shelters, for the municipalities it works for to register).

Dataset ids carry no personal data: ``urn:tsunagu:bosai:<municipality code>:<kind>`` for a
municipality, ``urn:tsunagu:bosai:<participant id>:supply-requests`` for an operator.
Offers are built from the templates in ``domains.bosai.policies``; which template made which
offer is kept too, so the catalog page can show the template's plain-language explanation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connector.plugins.registry import PluginSettings
from connector.store.database import Store
from domains.bosai.registry.normalize import PREFECTURES, AddressContext
from trust.legal_id import LegalIdKind, parse_legal_id

# Keys of the hub's settings (connector.plugins.PluginSettings, plug-in "bosai").
MUNICIPALITY = "municipality"
OPERATOR = "shelter_operator"
OFFERS = "offers"  # offer id -> template name

EVACUEE = "evacuee"
MEDICAL = "medical-needs"
STATUS = "shelter-status"
SUPPLIES = "supply-requests"
RECEPTION = "reception"


@dataclass(frozen=True)
class Municipality:
    """A municipality by its 全国地方公共団体コード (check digit verified) and name; the
    prefecture follows from the code's first two digits."""

    code: str
    name: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "code",
                           parse_legal_id(self.code, LegalIdKind.LOCAL_GOVERNMENT_CODE).value)

    @property
    def prefecture(self) -> str:
        return PREFECTURES[int(self.code[:2]) - 1]

    @property
    def place(self) -> AddressContext:
        """For the registry: addresses here may leave out the prefecture."""
        return AddressContext(self.prefecture, self.name)

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "name": self.name}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Municipality:
        return cls(data["code"], data["name"])


@dataclass(frozen=True)
class MunicipalitySetup:
    """A municipality's hub: who it is, the legal ids of its region's shelter operators
    (policies module doc), and the partner municipalities it shares evacuees with."""

    municipality: Municipality
    operators: tuple[str, ...] = ()
    partners: tuple[Municipality, ...] = ()

    def dataset(self, kind: str) -> str:
        return municipality_dataset(self.municipality.code, kind)

    def share_dataset(self, home: Municipality) -> str:
        return self.dataset(f"evacuees-for-{home.code}")

    def to_json(self) -> dict[str, Any]:
        return {"municipality": self.municipality.to_json(), "operators": list(self.operators),
                "partners": [p.to_json() for p in self.partners]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MunicipalitySetup:
        return cls(Municipality.from_json(data["municipality"]), tuple(data["operators"]),
                   tuple(Municipality.from_json(p) for p in data["partners"]))


def municipality_dataset(code: str, kind: str) -> str:
    """The id of a municipality's dataset of ``kind`` (evacuee, medical-needs, ...)."""
    return f"urn:tsunagu:bosai:{code}:{kind}"


def operator_dataset(participant_id: str, kind: str = SUPPLIES) -> str:
    """The id of a shelter operator's dataset (supply-requests, reception)."""
    return f"urn:tsunagu:bosai:{participant_id}:{kind}"


def is_share_for(dataset_id: str, code: str) -> bool:
    """Whether a received dataset is a host's share of evacuees for municipality ``code``."""
    return dataset_id.startswith("urn:tsunagu:bosai:") and \
        dataset_id.endswith(f":evacuees-for-{code}")


def is_reception(dataset_id: str) -> bool:
    """Whether a received dataset is a shelter operator's reception registrations."""
    return dataset_id.startswith("urn:tsunagu:bosai:") and dataset_id.endswith(f":{RECEPTION}")


# --------------------------------------------------------------------------- persistence

def remember_offers(store: Store, settings: PluginSettings, templates: dict[str, str]) -> None:
    """Which template made which offer (offer id -> template name), for the catalog page."""
    known = settings.get(OFFERS) or {}
    with store.transaction() as db:
        settings.set(db, OFFERS, {**known, **templates})


def offer_templates(settings: PluginSettings) -> dict[str, str]:
    return settings.get(OFFERS) or {}


def unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))

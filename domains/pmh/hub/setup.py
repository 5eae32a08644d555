"""Who this hub is in the data space, and the ids of its datasets.

Dataset ids carry no personal data: ``urn:tsunagu:pmh:<全国地方公共団体コード>:<kind>``.
The municipality publishes ``OWN`` kinds itself; clinics add records to ``CONTRIBUTED``
kinds (connector.contributions, creating records).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domains.pmh import vocab

MUNICIPALITY = "municipality"  # plug-in settings key

# Dataset kind (``model.datasets.DATASET_TYPES``) -> the record type it holds.
OWN = {"mothers": vocab.MOTHER, "children": vocab.CHILD, "checkup-vouchers": vocab.VOUCHER,
       "pregnancy-registrations": vocab.PREGNANCY}
# Derived for the disaster office (hub/care_flags.py), under its own policy.
CARE = "care-flags"
CONTRIBUTED = {"encounters": vocab.ENCOUNTER, "observations": vocab.OBSERVATION,
               "immunizations": vocab.IMMUNIZATION}


def dataset_id(code: str, kind: str) -> str:
    return f"urn:tsunagu:pmh:{code}:{kind}"


def prefecture(code: str) -> str:
    """The prefecture of a 全国地方公共団体コード or a 医療機関コード: their first two digits
    are both the JIS prefecture code (01 北海道 ... 47 沖縄県)."""
    return code[:2]


@dataclass(frozen=True)
class Municipality:
    code: str  # 全国地方公共団体コード, 6 digits with check digit
    name: str

    def dataset(self, kind: str) -> str:
        return dataset_id(self.code, kind)

    @property
    def prefecture(self) -> str:
        return prefecture(self.code)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Municipality:
        return cls(value["code"], value["name"])

"""Care flags: what a shelter needs to know of a pregnant woman or an infant, and no more.

During a declared disaster the municipality's disaster office (a bosai participant) must
see in its shelter view that an evacuee is pregnant (weeks) or has an infant (age in
months). Rather than letting any medical record leave pmh with fields withheld at read
time, the health department derives a small ``CareFlag`` record that holds exactly the 4
items a registry matches on (names, birth date, sex, address) and one care need, and
publishes it in its own ``care-flags`` dataset under the ``disaster-care-flags`` policy
(purpose disaster_response, only while the disaster phase is response). Nothing else of the
person's records is ever in it, so nothing else can be released.

The flag's id is derived from the person's, so deriving again revises the same record (the
weeks move on) and the receiving side keeps one flag per person.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from domains.pmh import vocab
from domains.pmh.schedule.legal_age import reaches_months

# 40 weeks 0 days at the expected delivery date (Naegele): gestational age in days.
TERM_DAYS = 280
MAX_WEEKS = 45  # the schema's and the model's limit for a gestational age
INFANT_MONTHS = 12  # 乳児: under one year
_FLAG_IDS = uuid.UUID("5d0b8f0e-6c1a-4d4e-9a53-7f3e2c1b0a99")  # uuid5 namespace
# The 4 items (and kana) copied from a person record; a sex the 4-item match cannot use
# (other, unknown) derives no flag.
_ITEMS = ("familyName", "givenName", "familyNameKana", "givenNameKana", "birthDate")
_MATCHABLE_SEXES = ("female", "male")


def flag_id(person_id: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_FLAG_IDS, person_id)}"


def pregnancy_weeks(expected_delivery: date, today: date) -> int | None:
    """Completed weeks of pregnancy on ``today`` (None outside 0..45 weeks)."""
    days = TERM_DAYS - (expected_delivery - today).days
    return days // 7 if 0 <= days <= MAX_WEEKS * 7 + 6 else None


def infant_months(birth: date, today: date) -> int | None:
    """Months reached on ``today`` (年齢計算ニ関スル法律), None from the first birthday."""
    if today < birth:
        return None
    months = 0
    while months < INFANT_MONTHS and reaches_months(birth, months + 1) <= today:
        months += 1
    return months if months < INFANT_MONTHS else None


def _flag(person: Mapping[str, Any], sex: Any, address: Any, today: date,
          need: dict[str, int]) -> dict[str, Any] | None:
    if sex not in _MATCHABLE_SEXES or not isinstance(address, str) or not address \
            or not person.get("familyName") or not person.get("givenName"):
        return None  # without the 4 items no registry could match it: nothing to send
    return {"@context": list(vocab.RECORD_CONTEXT), "id": flag_id(person["id"]),
            "type": vocab.CARE_FLAG,
            **{k: person[k] for k in _ITEMS if k in person},
            "sex": sex, "address": address, **need, "asOf": today.isoformat()}


def for_mother(mother: Mapping[str, Any], expected_delivery: date, today: date
               ) -> dict[str, Any] | None:
    """A mother's flag while she is pregnant (from the 母子健康手帳's expected delivery)."""
    weeks = pregnancy_weeks(expected_delivery, today)
    if weeks is None:
        return None
    return _flag(mother, "female", mother.get("address"), today, {"pregnancyWeeks": weeks})


def for_child(child: Mapping[str, Any], address: Any, today: date) -> dict[str, Any] | None:
    """An infant's flag (under one year), with the address of the household (the mother's:
    a Child record carries none)."""
    months = infant_months(date.fromisoformat(child["birthDate"]), today)
    if months is None:
        return None
    return _flag(child, child.get("sex"), address, today, {"infantAgeMonths": months})

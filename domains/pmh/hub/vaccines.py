"""Immunization records as the schedule engine's doses (pure): a record names the vaccine
as pmh does (``rotavirus_rv1``, ``mr`` with 期 ``1期``), the schedule by dose code and
product (``rotavirus`` + ``rotarix``, ``mr1``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from domains.pmh.errors import HubRefusal, PmhCode
from domains.pmh.schedule import Dose

# pmh vaccine -> (dose code, product), or {期: (dose code, product)} where 期 decides.
_CODES: dict[str, Any] = {
    "rotavirus_rv1": ("rotavirus", "rotarix"), "rotavirus_rv5": ("rotavirus", "rotateq"),
    "hepatitis_b": ("hepb", None), "pneumococcal": ("pcv", None),
    "dpt_ipv_hib": ("dpt_ipv_hib", None), "dpt_ipv": ("dpt_ipv", None), "hib": ("hib", None),
    "bcg": ("bcg", None), "varicella": ("varicella", None), "hpv": ("hpv", None),
    "mr": {"1期": ("mr1", None), "2期": ("mr2", None)},
    "japanese_encephalitis": {"1期": ("je1", None), "2期": ("je2", None)},
    "dt": {"2期": ("dt2", None)},
}


def dose_of(record: Mapping[str, Any]) -> Dose:
    """The schedule's dose for an Immunization record (refused when its 期 is missing for a
    vaccine the schedule splits by 期)."""
    code = _CODES[record["vaccine"]]
    if isinstance(code, dict):
        series = record.get("series")
        if series not in code:
            raise HubRefusal(f"a {record['vaccine']} dose names its 期 ({', '.join(code)})",
                             code=PmhCode.DOSE_NOT_IN_SERIES, field="series")
        code = code[series]
    return Dose(code[0], record["doseNumber"], date.fromisoformat(record["occurred"]), code[1])


def doses_of(records: Iterable[Mapping[str, Any]]) -> list[Dose]:
    return [dose_of(r) for r in records]

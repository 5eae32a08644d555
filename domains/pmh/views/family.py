"""What a family's token may read, gathered for the family view.

Every record shown is one the municipality holds about a person the token names
(``TokenInfo.subjects``): the children are looked up among those people only, and each
record found through the index is read again and kept only when the gate's subject rules
(``connector.gate.subjects_in``, the plug-in's ``record_subjects``) name one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from domains.pmh.growth_reference import Placement, age_months
from domains.pmh.hub import growth, index
from domains.pmh.hub.service import PmhHub
from domains.pmh.hub.vaccines import doses_of
from domains.pmh.schedule import Child, evaluate
from domains.pmh.views.pages import ChildView


class Family:
    def __init__(self, hub: PmhHub, people: set[str]) -> None:
        self.hub, self.people = hub, frozenset(people)
        self.store = hub.connector.store

    def about_us(self, record: Mapping[str, Any] | None) -> bool:
        return record is not None and bool(
            self.hub.connector.gate.subjects_in(record) & self.people)

    def _read(self, what: str, subject: str, *measurement: str) -> list[dict[str, Any]]:
        found = (self.hub.own(i) for i in index.ids_about(self.store, what, subject,
                                                             measurement=measurement))
        return [r for r in found if r is not None and self.about_us(r)]

    def children(self, today: date) -> list[ChildView]:
        shown = []
        for child_id in index.children_among(self.store, set(self.people)):
            record = self.hub.own(child_id)
            if record is None or not self.about_us(record):
                continue
            shown.append(self.child(record, today))
        return shown

    def child(self, record: Mapping[str, Any], today: date) -> ChildView:
        cid, birth = record["id"], date.fromisoformat(record["birthDate"])
        doses = sorted(self._read("doses", cid),
                       key=lambda r: (r["occurred"], r.get("doseNumber", 0)))
        statuses = []
        if record.get("sex") in ("female", "male"):
            statuses = evaluate(Child(birth, record["sex"]), doses_of(doses), today,
                                self.hub.schedule)
        measured = self._read("observations", cid, "body_weight", "body_height")
        placed = growth.placements(self.store, (r["id"] for r in measured))
        weight, weight_bands = _points(measured, "body_weight", birth, placed)
        height, height_bands = _points(measured, "body_height", birth, placed)
        name = " ".join(p for p in (record.get("familyName"), record.get("givenName")) if p)
        return ChildView(cid, name or "—", record["birthDate"],
                         self._read("visits", cid), doses, list(statuses), weight, height,
                         self._read("observations", cid, "development_item"),
                         record.get("sex"), weight_bands, height_bands)

    def claims(self) -> list[dict[str, Any]]:
        return self.hub.claims(subjects=set(self.people))


def _points(records: list[dict[str, Any]], measurement: str, birth: date,
            placed: Mapping[str, Placement]
            ) -> tuple[list[tuple[float, float, str]], list[Placement | None]]:
    """The chart's points, oldest first, and each one's band as the hub stored it."""
    found = []
    for r in records:
        if r.get("measurement") != measurement or r.get("value") is None:
            continue
        day = str(r["effective"])[:10]
        age = age_months(birth, date.fromisoformat(day))  # as the reference counts it
        found.append(((round(age, 2), float(r["value"]), day), r["id"]))
    found.sort()
    return [p for p, _ in found], [placed.get(i) for _, i in found]

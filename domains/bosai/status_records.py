"""Shelter status as public ``shelter-status`` records (the open offer, no personal data).

One record per shelter, ``urn:tsunagu:bosai:<municipality>:shelter:<shelter id>``; every
status entry imported for it is one more version, in the order observed, so the record's
versions are the shelter's dated timeline and ``observedAt`` says when each was true.
Entries the schema needs a name or a type for, and the file and the master both leave out,
or whose open/closed cell could not be read (flagged by the importer), are kept in the
timeline but not published (counted in the result).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from domains.bosai import vocab
from domains.bosai.importers.status import StatusEntry


@dataclass(frozen=True)
class StatusPublication:
    published: int
    skipped: int  # no name or no type for the record


def record_id(municipality_code: str, shelter_id: str) -> str:
    return f"urn:tsunagu:bosai:{municipality_code}:shelter:{quote(shelter_id, safe='')}"


def status_record(municipality_code: str, entry: StatusEntry) -> dict[str, Any] | None:
    fields = entry.record_fields()
    if not fields.get("name") or not fields.get("shelterType") or entry.open is None:
        return None  # an unread open cell (flagged) is not published as either
    fields.pop("modified", None)  # the connector sets it; the moment is observedAt
    return {"@context": list(vocab.RECORD_CONTEXT),
            "id": record_id(municipality_code, entry.shelter_id), "type": "ShelterStatus",
            "observedAt": entry.observed_utc(), **fields}


def status_records(municipality_code: str, entries: Iterable[StatusEntry]
                   ) -> tuple[list[dict[str, Any]], int]:
    """The records to publish, oldest observation first, and how many were skipped."""
    records, skipped = [], 0
    for entry in sorted(entries, key=lambda e: e.observed_at):
        made = status_record(municipality_code, entry)
        if made is None:
            skipped += 1
        else:
            records.append(made)
    return records, skipped

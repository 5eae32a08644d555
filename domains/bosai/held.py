"""Records this participant holds from others (``held_records``), as the flows need them.

A shelter operator checks people in on the municipality's Evacuee records it received; a
supplier commits to the supply requests it received. Both change the holder's record with a
contribution naming the agreement it came under and the version it read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from connector.store import Store
from trust.errors import TsunaguError


class NotHeld(TsunaguError):
    """This connector holds no (live) copy of the record: nothing to change."""

    code = "bosai.record_not_held"
    http_status = 404


@dataclass(frozen=True)
class Held:
    record_id: str
    version: int
    agreement_id: str
    dataset_id: str
    provider: str
    body: dict[str, Any]


LATEST = """
SELECT h.version, h.agreement_id, h.dataset_id, h.provider, h.event, h.body
FROM held_records h JOIN agreements a ON a.id = h.agreement_id
WHERE h.id = ? AND a.status = 'active' ORDER BY h.version DESC LIMIT 1
"""


def latest(store: Store, record_id: str, record_type: str) -> Held:
    """The newest version held under an active agreement, of type ``record_type``."""
    rows = store.query(LATEST, (record_id,))
    if not rows or rows[0][4] == "deleted":
        raise NotHeld("this connector holds no such record under an active agreement",
                      record=record_id)
    version, agreement_id, dataset_id, provider, _, body = rows[0]
    record = orjson.loads(body)
    types = record.get("type")
    if record_type not in (types if isinstance(types, list) else [types]):
        raise NotHeld(f"the record is not a {record_type}", record=record_id)
    return Held(record_id, version, agreement_id, dataset_id, provider, record)

"""Records this participant received from others, as the flows need them (usage gate).

A shelter operator checks people in on the municipality's Evacuee records it received; a
supplier commits to the supply requests it received. Both change the holder's record with a
contribution naming the agreement it came under and the version it read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.control.decisions import Reader, Use
from connector.control.gate import RecordNotHeld, UsageGate
from domains.bosai.errors import BosaiCode
from trust.errors import TsunaguError


class NotHeld(TsunaguError):
    """This connector holds no (live) copy of the record: nothing to change."""

    code = BosaiCode.RECORD_NOT_HELD


@dataclass(frozen=True)
class Held:
    record_id: str
    version: int
    agreement_id: str
    dataset_id: str
    provider: str
    body: dict[str, Any]


def latest(gate: UsageGate, reader: Reader, use: Use, record_id: str,
           record_type: str) -> Held:
    """The newest version the usage gate releases for ``use``, of type ``record_type``."""
    try:
        released = gate.read(reader, use, record_id)
    except RecordNotHeld:
        raise NotHeld("this connector holds no such record", record=record_id) from None
    if released.event == "deleted" or released.record is None:
        raise NotHeld("the record was deleted by its holder", record=record_id)
    types = released.record.get("type")
    if record_type not in (types if isinstance(types, list) else [types]):
        raise NotHeld(f"the record is not a {record_type}", record=record_id)
    return Held(record_id, released.version, released.agreement, released.dataset,
                released.provider, released.record)

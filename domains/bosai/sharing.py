"""Evacuees from another municipality: the host shares them with their home municipality.

A shelter takes in whoever comes. A person registered by a host municipality whose address
is in another municipality is that municipality's resident: the home municipality must learn
that they are safe and where they stay. The mechanism, all through ordinary datasets:

1. The host names its partner municipalities (``MunicipalitySetup.partners``: code and
   name, e.g. the towns of a 相互応援協定). For each it offers one dataset,
   ``urn:tsunagu:bosai:<host>:evacuees-for-<home>``, under the ``evacuees_for_home`` policy:
   only a participant with the role municipality whose legal id is the home's 全国地方公共団体
   コード may agree to it (for disaster response, never passed on, deleted after recovery).
2. Whenever the host's registry writes a person whose address lies in a partner (``home_of``:
   by prefecture and municipality name, an address without a prefecture being in the host's
   own prefecture), the host's publisher stages a copy of the Evacuee record (a derived id,
   no medical part) into that partner's dataset, in the same transaction. Check-ins at the
   host's shelters update the host's registry and so the copy.
3. The home municipality agrees to its dataset and starts a transfer; its hub registers each
   received copy in its own registry (``receive``) inside the delivery's transaction: once
   only, matched on the 4 items like any registration, with the host as the source and the
   stay at the host's shelter.

Not covered: addresses in municipalities the host has not named as partners stay with the
host only (a national table of municipality names and codes would let the host find any
home municipality; the count of such people is logged, never who they are).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from domains.bosai.registry.normalize import in_place
from domains.bosai.registry.registry import Origin
from trust.errors import TsunaguError

if TYPE_CHECKING:
    from connector.control.gate import ConsentWithdrawn
    from connector.data.record_events import RecordChange
    from domains.bosai.registry.registry import Registry
    from domains.bosai.setup import Municipality, MunicipalitySetup

log = logging.getLogger(__name__)

# Fields of a received Evacuee record that are the sender's, not a registration's.
_NOT_FORM = frozenset({"proof", "wasAttributedTo", "wasDerivedFrom"})


def home_of(address: str, setup: MunicipalitySetup) -> Municipality | None:
    """The partner municipality ``address`` lies in, or None (ours, or not a partner's)."""
    own = setup.municipality
    if not setup.partners or in_place(address, own.place, local_prefecture=own.prefecture):
        return None
    for partner in setup.partners:
        if in_place(address, partner.place, local_prefecture=own.prefecture):
            return partner
    return None


CHANNELS = ("shared", "reception")


def source_of(channel: str, provider: str, record_id: str) -> str:
    """The registry source of a received record: its channel, sender and id (what a consent
    withdrawal at the sender names)."""
    return f"{channel}:{provider}#{record_id}"


def withdraw(registry: Registry, db: Any, withdrawn: ConsentWithdrawn) -> tuple[list[str],
                                                                             list[str]]:
    """A person withdrew consent at the participant that sent us their records: what those
    records put into our registry goes, in the withdrawal's transaction (people known only
    from them are deleted). Returns (deleted, kept) person ids."""
    sources = [source_of(channel, withdrawn.provider, record_id)
               for channel in CHANNELS for record_id in withdrawn.record_ids]
    return registry.forget_sources_in(db, sources)


def receive(registry: Registry, db: Any, change: RecordChange, channel: str = "shared"
            ) -> bool:
    """Register (or merge) a person another participant sent us (a host's share of our
    resident, ``shared``; an operator's reception registration, ``reception``), inside the
    delivery's transaction, with the sender as source and as who set the stay. A record that
    cannot be registered is skipped (its code logged, never its data), in a savepoint so the
    rest of the delivery still commits: one bad record must not stop the stream."""
    if change.event == "deleted":
        return False  # the sender merged two registrations: the survivor's copy follows
    form = {k: v for k, v in change.record.items() if k not in _NOT_FORM}
    db.execute("SAVEPOINT bosai_share")
    try:
        registry.register_in(db, registry.parse(form),
                             Origin(source_of(channel, change.provider, change.record["id"]),
                                    "api", change.provider))
    except TsunaguError as exc:
        db.execute("ROLLBACK TO bosai_share")
        log.warning("a received evacuee record was not registered",
                    extra={"code": exc.code, "record": change.record.get("id"),
                           "provider": change.provider})
        return False
    finally:
        db.execute("RELEASE bosai_share")
    return True

"""Check-in and check-out: a shelter operator changes where a person stays, at the municipality.

The municipality holds the person (its registry, published as Evacuee records); a shelter
operator holds a copy under the evacuee-registry agreement, whose field-scoped modify
permission lets it change ``stayLocation`` only (role, purpose, region, phase: policies).

Operator side (``send``): the operator's app calls its own connector (hub route
``POST /domains/bosai/checkins``); the hub takes the newest held copy of the record and
sends a signed contribution of ``stayLocation``:

* check-in:  ``{"stayType": "shelter", "shelterId": S, "checkedIn": t}``
* check-out: ``{"stayType": <where the person goes>, "checkedOut": t, "checkedOutOf": S}``

Municipality side: ``rule`` (a bosai change rule, run by connector.contributions before
anything is written) refuses a check-in to a shelter the municipality does not know or whose
latest status says closed, a check-out from a shelter the person is not in, and any other
change of stayLocation; ``apply`` (from the hub's record listener, in the transaction that
publishes the new version) writes the stay into the registry with the contributor as who and
the stay history as when, so the dashboard moves at once. Moving between shelters is a
check-in at the new one: the same person, one more line of stay history.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from domains.bosai.errors import BosaiCode
from domains.bosai.registry.forms import parse_stay
from domains.bosai.registry.model import StayLocation
from trust.errors import TsunaguError
from trust.proofs import now_text

if TYPE_CHECKING:
    from connector.data.contributions import ContributionConflict, Contributor
    from domains.bosai.publishing import RegistryPublisher
    from domains.bosai.registry.registry import Registry
    from domains.bosai.store import BosaiStore

ACTIONS = ("check_in", "check_out")
PURPOSE = "shelter_operation"  # narrower than disaster_response, which the policy names
# A check-in reported ahead of the holder's clock by more than this is refused.
CLOCK_SKEW = timedelta(minutes=10)


# The refusal of a check-in at a shelter that is not open, by its ``shelter_state``.
_SHELTER_NOT_OPEN = {"closed": BosaiCode.SHELTER_CLOSED, "unknown": BosaiCode.SHELTER_UNKNOWN}


class CheckInRefused(TsunaguError):
    code = BosaiCode.CHECK_IN_REFUSED


def stay_change(action: str, shelter_id: str, *, at: str | None = None,
                going_to: str = "other") -> dict[str, Any]:
    """The new ``stayLocation`` of a check-in or check-out, checked like a form's."""
    if action not in ACTIONS:
        raise CheckInRefused("action must be check_in or check_out", code=BosaiCode.INPUT_INVALID,
                             field="action")
    at = at or now_text()
    if action == "check_in":
        value = {"stayType": "shelter", "shelterId": shelter_id, "checkedIn": at}
    else:
        value = {"stayType": going_to, "checkedOut": at, "checkedOutOf": shelter_id}
    return parse_stay(value).to_json()


def _rebase(conflict: ContributionConflict, changes: Mapping[str, Any]) -> Mapping[str, Any]:
    """A check-in states where the person is now, whatever the copy we read said: send it on
    the current version. The holder's rule still refuses a check-out from the wrong shelter."""
    return changes


async def send(hub: Any, record_id: str, stay: dict[str, Any]) -> dict[str, Any]:
    """Contribute ``stay`` to the holder's Evacuee record ``record_id`` (operator side): the
    record as the usage gate releases it for shelter operation."""
    copy = hub.held(record_id, "Evacuee")
    return await hub.connector.contributions.contribute_with_retry(
        copy.provider, copy.agreement_id, record_id, copy.version, {"stayLocation": stay},
        PURPOSE, resolve=_rebase)


# --------------------------------------------------------------------------- holder side

def shelter_state(sites: BosaiStore, shelter_id: str) -> str:
    """``unknown`` (neither in the master nor in the status timeline), ``closed`` (the latest
    status that says open or closed says closed), else ``open`` (open, or designated with no
    status yet). A status whose open cell could not be read, or superseded by a re-import,
    says neither."""
    rows = sites.query("SELECT open FROM status_history WHERE shelter_id = ? AND open IS NOT"
                       " NULL AND superseded_by IS NULL ORDER BY observed_at DESC, seq DESC"
                       " LIMIT 1", (shelter_id,))
    if rows:
        return "open" if rows[0][0] else "closed"
    return "open" if sites.site(shelter_id) is not None else "unknown"


def rule(before: Mapping[str, Any], after: Mapping[str, Any], contributor: Contributor) -> None:
    """The bosai change rule for Evacuee records (see the module doc)."""
    if before.get("stayLocation") == after.get("stayLocation"):
        return
    hub = contributor.service
    if hub is None:
        raise CheckInRefused("this connector does not run the bosai hub")
    stay = parse_stay(after.get("stayLocation"))
    current = before.get("stayLocation") or {}
    if stay.checked_out_of is not None:
        if current.get("stayType") != "shelter" or current.get("shelterId") != \
                stay.checked_out_of:
            raise CheckInRefused("the person is not checked in at that shelter",
                                 code=BosaiCode.NOT_CHECKED_IN, shelter=stay.checked_out_of)
        if stay.stay_type == "shelter":
            raise CheckInRefused("a move to another shelter is a check-in there",
                                 code=BosaiCode.NOT_A_CHECK_IN)
        return
    if stay.stay_type != "shelter" or stay.checked_in is None or stay.shelter_id is None:
        raise CheckInRefused("a shelter operator changes stayLocation only by a check-in "
                             "(shelterId and checkedIn) or a check-out (checkedOut and "
                             "checkedOutOf)", code=BosaiCode.NOT_A_CHECK_IN)
    at = datetime.fromisoformat(stay.checked_in.replace("Z", "+00:00"))
    if at > datetime.now(UTC) + CLOCK_SKEW:
        raise CheckInRefused("the check-in time is in the future", code=BosaiCode.CHECK_IN_TIME)
    state = shelter_state(hub.sites, stay.shelter_id)
    if state != "open":
        raise CheckInRefused(f"the shelter is {state} to this municipality",
                             code=_SHELTER_NOT_OPEN[state], shelter=stay.shelter_id)


def apply(registry: Registry, publisher: RegistryPublisher | None, db: Any,
          record: Mapping[str, Any]) -> bool:
    """A new version of one of our Evacuee records that a contributor made: put its stay
    into the registry (who: the contributor), inside the publishing transaction. The
    registry's own publications carry no ``wasAttributedTo`` and are left alone."""
    by, stay = record.get("wasAttributedTo"), record.get("stayLocation")
    if not isinstance(by, str) or not isinstance(stay, dict):
        return False
    if not registry.apply_stay(db, record["id"], StayLocation.from_json(stay), by=by):
        return False
    if publisher is not None:  # the medical part and shares show where the person is too
        publisher.written(db, registry, [record["id"]], evacuee=False)
    return True

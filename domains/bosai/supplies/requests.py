"""Supply requests across connectors: a shelter posts, a supplier commits and delivers.

The shelter operator holds its requests as ``SupplyRequest`` records in its own
``supply-requests`` dataset (``domains.bosai.setup.operator_dataset``), offered under the
``supply_requests`` policy: relief suppliers read them and may write only the commit and
deliver fields; the municipalities named read them (their dashboards show them).

* shelter (holder): ``request`` publishes a new request; ``cancel`` is its own step.
* supplier: ``commit`` / ``deliver`` compute the step on the newest held copy
  (``lifecycle.step``) and send it as a contribution.
* shelter again: ``rule`` (a bosai change rule) checks every received change with
  ``lifecycle.check_change``: one allowed step, only that step's fields, and the supplier
  who commits is the contributor (and only it delivers).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from domains.bosai import vocab
from domains.bosai.errors import BosaiCode
from domains.bosai.registry.forms import text, token, tokens
from domains.bosai.supplies import lifecycle
from domains.bosai.supplies.lifecycle import Actor, Step, SupplyError

if TYPE_CHECKING:
    from connector.data.contributions import Contributor

PURPOSE = "relief_supply"  # narrower than disaster_response, which the policy names
TYPE = "SupplyRequest"


def new_request(*, shelter_id: str, item: str, quantity: int, urgency: str,
                for_whom: Sequence[str] | str = ("general",), unit: str | None = None,
                item_note: str | None = None, at: str) -> dict[str, Any]:
    """A ``requested`` SupplyRequest (without @context: see ``record``). Tokens may be
    written as the token or its Japanese or English label (粉ミルク, infant formula)."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise SupplyError("quantity must be a whole number of at least 1", field="quantity")
    body: dict[str, Any] = {
        "id": f"urn:uuid:{uuid.uuid4()}", "type": TYPE,
        "shelterId": text(shelter_id, "shelterId", max_len=64),
        "item": token(item, "item", vocab.SUPPLY_ITEMS), "quantity": quantity,
        "urgency": token(urgency, "urgency", vocab.URGENCIES),
        "forWhom": list(tokens(for_whom, "forWhom", vocab.FOR_WHOM)) or ["general"],
        "status": lifecycle.Status.REQUESTED.value, "requestedAt": at}
    if unit is not None:
        body["unit"] = token(unit, "unit", vocab.SUPPLY_UNITS)
    if item_note is not None:
        body["itemNote"] = text(item_note, "itemNote", max_len=200)
    return body


def record(body: Mapping[str, Any]) -> dict[str, Any]:
    return {"@context": list(vocab.RECORD_CONTEXT), **body}


async def contribute_step(hub: Any, record_id: str, action: Step, *, at: str,
                          quantity: int | None = None, expected: str | None = None
                          ) -> dict[str, Any]:
    """Supplier side: commit or deliver on the newest held copy, as a contribution.

    On a conflict the default rule applies: re-sent only if nobody changed the same fields
    meanwhile (a second supplier committing first makes this one's commit fail, as it
    should)."""
    copy = hub.held(record_id, TYPE, hub.FOR_SUPPLIES)
    connector = hub.connector
    change = lifecycle.step(copy.body, action, Actor.SUPPLIER, at=at, by=connector.did,
                            quantity=quantity, expected=expected)
    return await connector.contributions.contribute_with_retry(
        copy.provider, copy.agreement_id, record_id, copy.version, change, PURPOSE)


def rule(before: Mapping[str, Any], after: Mapping[str, Any], contributor: Contributor) -> None:
    """The bosai change rule for SupplyRequest records: contributors are suppliers."""
    action = lifecycle.check_change(before, after, Actor.SUPPLIER)
    if after.get("committedBy") != contributor.did:
        raise SupplyError("a supplier commits in its own name only" if action is Step.COMMIT
                          else "only the supplier that committed delivers",
                          code=BosaiCode.SUPPLY_NOT_ALLOWED, step=action.value)

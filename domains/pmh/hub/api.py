"""The pmh hub's app routes under ``/domains/pmh/`` (JSON, bearer tokens with pmh scopes).

==============================  ====================  ============================================
route                           scope                 does
==============================  ====================  ============================================
``POST checkups``               ``pmh:clinic``        a clinic's checkup (visit + measurements) to a
                                                      municipality, as signed contributions
``POST vaccinations``           ``pmh:clinic``        a clinic's vaccination to a municipality
``GET claims``                  ``pmh:claims``        the municipality's 里帰り claims
                                                      (``?status=``)
``POST claims:decide``          ``pmh:claims``        approve, or reject with a reason
``GET settlements``             ``pmh:settlement``    settlement batches with clinics (``?status=``)
``POST settlements``            ``pmh:settlement``    a batch: a clinic's unsettled vouchers of a
                                                      month
``POST settlements:approve``    ``pmh:settlement``    approve a created batch
``POST settlements:pay``        ``pmh:settlement``    mark an approved batch paid (``paidOn``)
``GET follow-ups``              ``pmh:nurse``         open EPDS follow-ups (due within the day)
``GET staff/events``            ``pmh:nurse``         staff events after ``?after=`` (cursor)
``GET family/claims``           ``pmh:family``        the family's claims and their status
``GET family/events``           ``pmh:family``        the family's reminders and claim events
==============================  ====================  ============================================

The views (``domains.pmh.views``) are mounted beside them: ``dashboard/`` (the health
department, ``pmh:dashboard``) and ``family-app/`` (a family, ``pmh:family``).

A ``pmh:family`` token must be limited to the family's people (``TokenInfo.subjects``, the
same scoping the usage gate applies to a subject-scoped reader): one without subjects is
refused (403 ``auth.scope``), and it sees only claims and events about those people.
Refusals from the other side (a voucher used twice, a dose outside its window) come back
as problems with the code of the holder's rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Any

import orjson
from aiohttp import web

from connector.api.app import json_body, scoped, token_info
from connector.api.tokens import ScopeError
from domains.pmh.errors import PmhCode
from domains.pmh.hub import events
from domains.pmh.hub.service import PmhHub
from domains.pmh.views.auth import DASHBOARD
from trust.errors import ValidationError

P = PmhCode
HTTP_STATUSES: Mapping[str, int] = MappingProxyType({
    P.HUB_UNAVAILABLE: 503,
    P.CLAIM_NOT_FOUND: 404,
    P.CLAIM_DECIDED: 409,
    P.NO_AGREEMENT: 403,
    P.MEASUREMENT_IMPOSSIBLE: 422,
    P.RECORD_INVALID: 422,
    P.DEVELOPMENT_ITEM: 422,
    P.SETTLEMENT_NOT_FOUND: 404,
    P.SETTLEMENT_STATE: 409,
    P.SETTLEMENT_EMPTY: 409,
    P.SETTLEMENT_PRICE: 409,
})

CLINIC, CLAIMS, NURSE, FAMILY = "pmh:clinic", "pmh:claims", "pmh:nurse", "pmh:family"
SETTLEMENT = "pmh:settlement"
SCOPES = {
    SETTLEMENT: "create, approve and mark paid the settlement of used vouchers with clinics",
    CLINIC: "record checkups and vaccinations at municipalities this clinic has agreements "
            "with (signed contributions)",
    CLAIMS: "read and decide this municipality's 里帰り reimbursement claims",
    NURSE: "read EPDS follow-ups and staff events (public health nurses)",
    FAMILY: "a family's own claims and reminders (the token names the family's people)",
    DASHBOARD: "read the pmh health-department view (aggregates only, no person)",
}
HUB = web.AppKey("pmh.hub", Any)
MAX_BODY = 256 * 1024


def hub_of(request: web.Request) -> PmhHub:
    return request.config_dict[HUB]


async def body(request: web.Request) -> dict[str, Any]:
    return await json_body(request, max_bytes=MAX_BODY)


def text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{name} must be a non-empty string", field=name)
    return value


def ok(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(value), status=status,
                        content_type="application/json")


def family_subjects(request: web.Request) -> set[str]:
    info = token_info(request)
    if info is None or not info.subjects:
        raise ScopeError("a pmh:family token is issued for the family's people: name them "
                         "(subjects)", scope=FAMILY)
    return set(info.subjects)


def cursor(request: web.Request) -> int:
    try:
        return max(0, int(request.query.get("after", "0")))
    except ValueError:
        raise ValidationError("after must be a whole number", field="after") from None


@scoped(CLINIC)
async def checkups(request: web.Request) -> web.Response:
    data = await body(request)
    observations = data.get("observations") or []
    if not isinstance(data.get("encounter"), dict) or not isinstance(observations, list):
        raise ValidationError("give an encounter object and a list of observations",
                              field="encounter")
    return ok(await hub_of(request).record_checkup(text(data, "municipality"),
                                                   data["encounter"], observations), 201)


@scoped(CLINIC)
async def vaccinations(request: web.Request) -> web.Response:
    data = await body(request)
    if not isinstance(data.get("immunization"), dict):
        raise ValidationError("give an immunization object", field="immunization")
    return ok(await hub_of(request).record_vaccination(text(data, "municipality"),
                                                       data["immunization"]), 201)


@scoped(CLAIMS)
async def list_claims(request: web.Request) -> web.Response:
    return ok({"claims": hub_of(request).claims(status=request.query.get("status"))})


@scoped(CLAIMS)
async def decide_claim(request: web.Request) -> web.Response:
    data = await body(request)
    decision = text(data, "decision")
    if decision not in ("approve", "reject"):
        raise ValidationError("decision is approve or reject", field="decision")
    reason = data.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise ValidationError("reason must be a string", field="reason")
    return ok(hub_of(request).decide_claim(text(data, "claim"), approve=decision == "approve",
                                           reason=reason, by=_actor(request)))


@scoped(SETTLEMENT)
async def list_settlements(request: web.Request) -> web.Response:
    return ok({"settlements": hub_of(request).settlements(request.query.get("status"))})


def _actor(request: web.Request) -> str:
    info = token_info(request)
    return info.actor if info else "token:unknown"


@scoped(SETTLEMENT)
async def create_settlement(request: web.Request) -> web.Response:
    data = await body(request)
    return ok(hub_of(request).create_settlement(text(data, "clinic"), text(data, "month"),
                                                by=_actor(request)), 201)


@scoped(SETTLEMENT)
async def approve_settlement(request: web.Request) -> web.Response:
    data = await body(request)
    return ok(hub_of(request).advance_settlement(text(data, "settlement"), "approved",
                                                 by=_actor(request)))


@scoped(SETTLEMENT)
async def pay_settlement(request: web.Request) -> web.Response:
    data = await body(request)
    try:
        paid_on = date.fromisoformat(text(data, "paidOn"))
    except ValueError:
        raise ValidationError("paidOn is a date (YYYY-MM-DD)", field="paidOn") from None
    return ok(hub_of(request).advance_settlement(text(data, "settlement"), "paid",
                                                 by=_actor(request), paid_on=paid_on))


@scoped(NURSE)
async def follow_ups(request: web.Request) -> web.Response:
    return ok({"followUps": hub_of(request).follow_ups()})


@scoped(NURSE)
async def staff_events(request: web.Request) -> web.Response:
    return ok({"events": hub_of(request).events(events.STAFF, after=cursor(request))})


@scoped(FAMILY)
async def family_claims(request: web.Request) -> web.Response:
    people = family_subjects(request)
    found = hub_of(request).claims(subjects=people)
    shown = ("id", "subject", "checkup_kind", "checkup_date", "cap_yen", "deadline",
             "eligible", "status", "reason", "created", "decided")
    return ok({"claims": [{k: c[k] for k in shown} for c in found]})


@scoped(FAMILY)
async def family_events(request: web.Request) -> web.Response:
    people = family_subjects(request)
    return ok({"events": hub_of(request).events(events.FAMILY, after=cursor(request),
                                                subjects=people)})


def add_routes(app: web.Application, connector: Any, hub: PmhHub) -> None:
    app[HUB] = hub
    app.router.add_post("/checkups", checkups)
    app.router.add_post("/vaccinations", vaccinations)
    app.router.add_get("/claims", list_claims)
    app.router.add_post("/claims:decide", decide_claim)
    app.router.add_get("/settlements", list_settlements)
    app.router.add_post("/settlements", create_settlement)
    app.router.add_post("/settlements:approve", approve_settlement)
    app.router.add_post("/settlements:pay", pay_settlement)
    app.router.add_get("/follow-ups", follow_ups)
    app.router.add_get("/staff/events", staff_events)
    app.router.add_get("/family/claims", family_claims)
    app.router.add_get("/family/events", family_events)
    from domains.pmh.views.app import add_views  # the views build on the hub's routes
    add_views(app, connector, hub)

"""The hub's app routes (JSON, bearer tokens with bosai scopes), under /domains/bosai/.

Apps talk to their OWN connector; the hub does the rest across the data space:

=================================  ===================  =========================================
route                              scope                does
=================================  ===================  =========================================
``POST registrations``             ``bosai:register``   register one person (form), publishes
``POST registrations:csv``         ``bosai:register``   register a CSV (text/csv body), report
``POST checkins``                  ``bosai:checkin``    check in / out on the municipality's record
``POST receptions``                ``bosai:checkin``    register a walk-in with our municipalities
``POST evacuees:find``             ``bosai:checkin``    find held Evacuee records by name + birth
``POST supply-requests``           ``bosai:supplies``   post a need in our supply-requests dataset
``POST supply-requests:cancel``    ``bosai:supplies``   cancel our own request
``POST supplies:commit``           ``bosai:supplies``   commit to a held request (a contribution)
``POST supplies:deliver``          ``bosai:supplies``   deliver on our commitment
``POST inquiries``                 ``bosai:inquiry``    安否確認: consenting people, consented items
``GET catalog``                    (public)             the datasets and their offers explained
=================================  ===================  =========================================

Personal data only ever travels in request and response bodies (POST), never in a URL, and
errors name fields, never values. Refusals from the other side (a contribution outside the
policy, a domain rule) come back as problems with their code and reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import orjson
from aiohttp import web

from connector.api.app import json_body, scoped, token_info
from domains.bosai import catalog_page
from domains.bosai.dashboard.auth import INQUIRY
from domains.bosai.errors import BosaiCode
from domains.bosai.hub import BosaiHub
from domains.japanese.errors import JapaneseCode
from trust.errors import ValidationError

B = BosaiCode
# The HTTP status of each bosai code that is not 400 (``DomainPlugin.http_statuses``): the
# app API answers bosai's errors with them, on these routes and on core ones (a My Number
# refused by the content rule when a record is published).
HTTP_STATUSES: Mapping[str, int] = MappingProxyType({
    # Inputs that are understood but unusable (a form, a CSV, a card's contents)
    **dict.fromkeys((B.INPUT_INVALID, B.CSV_INVALID, JapaneseCode.PERSONAL_NUMBER_REFUSED),
                    422),
    **dict.fromkeys((B.CARD_INVALID, B.CARD_MALFORMED, B.CARD_UNTRUSTED_ISSUER,
                     B.CARD_SIGNATURE, B.CARD_NOT_YET_VALID, B.CARD_EXPIRED), 401),
    **dict.fromkeys((B.PERSON_NOT_FOUND, B.REVIEW_NOT_FOUND, B.RECORD_NOT_HELD), 404),
    **dict.fromkeys((B.REVIEW_DECIDED, B.VERSION_CONFLICT), 409),
    # A check-in the holder's rule refuses: the record's state is not what it should be
    **dict.fromkeys((B.CHECK_IN_REFUSED, B.NOT_CHECKED_IN, B.NOT_A_CHECK_IN, B.CHECK_IN_TIME,
                     B.SHELTER_CLOSED, B.SHELTER_UNKNOWN), 409),
    B.HUB_UNAVAILABLE: 503,
})

REGISTER = "bosai:register"
CHECKIN = "bosai:checkin"
SUPPLIES = "bosai:supplies"
SCOPES = {
    REGISTER: "register evacuees in this municipality's registry (forms, CSV)",
    CHECKIN: "check evacuees in and out at this operator's shelters (signed contributions to "
             "the municipality's records); find held evacuee records by name",
    SUPPLIES: "post and cancel this shelter's supply requests; commit and deliver as a "
              "supplier",
    INQUIRY: "answer safety inquiries (安否確認) from the registry: consenting people and the "
             "items they consented to only; every inquiry audited",
}
CONNECTOR = web.AppKey("bosai.connector", Any)
HUB = web.AppKey("bosai.hub", Any)
MAX_BODY = 1024 * 1024
MAX_CSV = 64 * 1024 * 1024


def hub_of(request: web.Request) -> BosaiHub:
    return request.config_dict[HUB]


async def body(request: web.Request) -> dict[str, Any]:
    return await json_body(request, max_bytes=MAX_BODY)


def field(data: dict[str, Any], name: str, kind: type = str, *, required: bool = True) -> Any:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ValidationError(f"{name} must be a {kind.__name__}",
                              field=name)
    return value


def actor(request: web.Request) -> str:
    """Who did it, for the registry and the audit log: the person logged in to the app
    (``staff:stf_... name``), or the app's token id."""
    info = token_info(request)
    return info.actor if info is not None else "token:unknown"


def ok(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(value), status=status,
                        content_type="application/json")


# ---------------------------------------------------------------------------- registry

@scoped(REGISTER)
async def register(request: web.Request) -> web.Response:
    hub, data = hub_of(request), await body(request)
    result = await hub.register(data, source=f"api:{actor(request)}", kind="api",
                                by=actor(request))
    return ok({"person": result.person_id, "outcome": result.outcome,
               "reviews": [r.review_id for r in result.reviews]}, 201)


@scoped(REGISTER)
async def register_csv(request: web.Request) -> web.Response:
    raw = await request.content.read(MAX_CSV + 1)
    if len(raw) > MAX_CSV:
        raise ValidationError("the CSV file is too large")
    name = request.query.get("name", "upload.csv")[:100]
    report = await hub_of(request).register_csv(raw, source=f"csv:{name}", by=actor(request))
    return ok(report.to_json())


# ---------------------------------------------------------------------------- shelter operator

@scoped(CHECKIN)
async def checkins(request: web.Request) -> web.Response:
    """``{"record", "action": "check_in"|"check_out", "shelterId", "at"?, "goingTo"?}``."""
    hub, data = hub_of(request), await body(request)
    record, shelter = field(data, "record"), field(data, "shelterId")
    action, at = field(data, "action"), field(data, "at", required=False)
    if action == "check_in":
        return ok(await hub.check_in(record, shelter, at=at))
    if action == "check_out":
        going_to = field(data, "goingTo", required=False) or "other"
        return ok(await hub.check_out(record, shelter, at=at, going_to=going_to))
    raise ValidationError("action must be check_in or check_out",
                          field="action")


@scoped(CHECKIN)
async def receptions(request: web.Request) -> web.Response:
    """``{"person": <registration form>, "shelterId", "at"?}``: registered with the
    municipalities this operator works for, checked in here."""
    data = await body(request)
    made = await hub_of(request).register_at_reception(
        field(data, "person", dict), field(data, "shelterId"),
        at=field(data, "at", required=False))
    return ok({"record": made["id"], "version": made["version"]}, 201)


@scoped(CHECKIN)
async def find_evacuees(request: web.Request) -> web.Response:
    data = await body(request)
    found = hub_of(request).find_held(field(data, "name"), field(data, "birthDate"))
    return ok({"people": found})


@scoped(SUPPLIES)
async def request_supplies(request: web.Request) -> web.Response:
    data = await body(request)
    made = await hub_of(request).request_supplies(
        shelter_id=field(data, "shelterId"), item=field(data, "item"),
        quantity=field(data, "quantity", int), urgency=field(data, "urgency"),
        for_whom=data.get("forWhom") or ("general",), unit=field(data, "unit", required=False),
        item_note=field(data, "itemNote", required=False))
    return ok(made, 201)


@scoped(SUPPLIES)
async def cancel_supplies(request: web.Request) -> web.Response:
    data = await body(request)
    return ok(await hub_of(request).cancel_supply_request(field(data, "record"),
                                                          field(data, "reason")))


@scoped(SUPPLIES)
async def commit_supplies(request: web.Request) -> web.Response:
    data = await body(request)
    return ok(await hub_of(request).commit_supplies(
        field(data, "record"), quantity=field(data, "quantity", int, required=False),
        expected=field(data, "expectedDelivery", required=False)))


@scoped(SUPPLIES)
async def deliver_supplies(request: web.Request) -> web.Response:
    data = await body(request)
    return ok(await hub_of(request).deliver_supplies(
        field(data, "record"), quantity=field(data, "quantity", int, required=False)))


# ---------------------------------------------------------------------------- inquiries

@scoped(INQUIRY)
async def inquiries(request: web.Request) -> web.Response:
    """安否確認. The same answer for unknown and non-consenting people; audited."""
    data = await body(request)
    answer = hub_of(request).registry.inquire(data.get("name"), data.get("birthDate"),
                                              asked_by=actor(request))
    return ok(answer.to_json())


# ---------------------------------------------------------------------------- routes

def add_api(app: web.Application, connector: Any, hub: BosaiHub) -> None:
    """Add the routes to the plug-in's sub-application."""
    app[CONNECTOR], app[HUB] = connector, hub
    app.router.add_post("/registrations", register)
    app.router.add_post("/registrations:csv", register_csv)
    app.router.add_post("/checkins", checkins)
    app.router.add_post("/receptions", receptions)
    app.router.add_post("/evacuees:find", find_evacuees)
    app.router.add_post("/supply-requests", request_supplies)
    app.router.add_post("/supply-requests:cancel", cancel_supplies)
    app.router.add_post("/supplies:commit", commit_supplies)
    app.router.add_post("/supplies:deliver", deliver_supplies)
    app.router.add_post("/inquiries", inquiries)
    app.router.add_get("/catalog", catalog_page.make_handler(connector, hub))


"""Residents' rights on the app API: disclosure, correction, consent withdrawal.

Every ``/api/v1/residents/{subject}/...`` route first establishes that the caller is the
person named, or staff assisting them, before anything is read or written:

* the person's own app: a token with scope ``residents:self`` issued for that person
  (``tsunagu connector token --scope residents:self --subject <id>``: its ``subjects`` name
  them); it acts for those people only;
* staff assisting at a counter: a token with scope ``residents:assist`` (or ``admin``),
  acting for the person they name; every request is audited with the token's id.

Anyone else is refused with ``residents.not_the_subject`` (403), nothing changed, and the
attempt is audited (``residents_refused``, with the token id, the action and the person
named: the person is shown it in their disclosure). Staff decide on corrections through
``/api/v1/corrections`` with ``records:write``. A person's app that is a participant of its
own is registered under ``/apps`` and then asks over the bus (connector.data.resident_apps).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from connector.api.app import (
    CONNECTOR,
    TOKENS,
    json_body,
    json_response,
    scoped,
    token_info,
)
from connector.api.tokens import ADMIN
from connector.errors import ConnectorCode
from trust.errors import TsunaguError, ValidationError

SELF = "residents:self"
ASSIST = "residents:assist"


class NotTheSubject(TsunaguError):
    """The caller is neither the person named nor staff assisting them."""

    code = ConnectorCode.RESIDENTS_NOT_THE_SUBJECT


def acting_for(request: web.Request, subject: str, action: str) -> str:
    """Who acts for ``subject`` (``self:<token id>`` or ``assisted:<token id>``), or
    NotTheSubject, audited. Authentication errors (no token, expired) are the usual 401s."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    info = request.app[TOKENS].verify(token)
    if ASSIST in info.scopes or ADMIN in info.scopes:
        return f"assisted:{info.id}"
    if SELF in info.scopes and info.subjects is not None and subject in info.subjects:
        return f"self:{info.id}"
    _audit_refusal(request, info.id, action, subject)
    raise NotTheSubject(f"token {info.id} may not act for this person: use the person's "
                        f"own token ({SELF}, issued for them) or a staff token ({ASSIST})")


def _audit_refusal(request: web.Request, by: str, action: str, subject: str) -> None:
    """An attempt to act for a person that was refused: in the holder's log, where the
    person's disclosure shows it (the id stays in this connector's own log)."""
    connector = request.app[CONNECTOR]
    with connector.store.transaction():
        connector.audit.append("residents_refused", datetime.now(UTC), by=by, action=action,
                               subjects=[subject],
                               code=ConnectorCode.RESIDENTS_NOT_THE_SUBJECT)


def _reason(body: dict[str, Any], *, required: bool) -> str | None:
    reason = body.get("reason")
    if reason is None and not required:
        return None
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 1000:
        raise ValidationError("'reason' must be a non-empty text of at most 1000 characters",
                              field="reason")
    return reason


async def withdraw_consent(request: web.Request) -> web.Response:
    subject = request.match_info["subject"]
    by = acting_for(request, subject, "withdraw_consent")
    body = await json_body(request)
    found = await request.app[CONNECTOR].consent.withdraw(
        subject, requested_by=by, reason=_reason(body, required=False))
    return json_response(found, status=201)


async def consent_withdrawals(request: web.Request) -> web.Response:
    subject = request.match_info["subject"]
    acting_for(request, subject, "read_withdrawals")
    return json_response({"items": request.app[CONNECTOR].consent.status(subject)})


async def disclosure(request: web.Request) -> web.Response:
    subject = request.match_info["subject"]
    by = acting_for(request, subject, "disclosure")
    return json_response(await request.app[CONNECTOR].disclosure.disclose(
        subject, requested_by=by))


async def request_correction(request: web.Request) -> web.Response:
    subject = request.match_info["subject"]
    by = acting_for(request, subject, "request_correction")
    body = await json_body(request)
    if "value" not in body:
        raise ValidationError("'value' is the value asked for", field="value")
    try:
        found = request.app[CONNECTOR].corrections.request(
            subject, body.get("record"), body.get("field"), body["value"],
            body.get("reason"), requested_by=by)
    except TsunaguError as exc:
        if exc.code == ConnectorCode.RESIDENTS_NOT_THE_SUBJECT:  # someone else's record
            _audit_refusal(request, by, "request_correction", subject)
        raise
    return json_response(found.to_json(), status=201)


async def corrections_of(request: web.Request) -> web.Response:
    subject = request.match_info["subject"]
    acting_for(request, subject, "read_corrections")
    return json_response({"items": [c.to_json() for c in
                                    request.app[CONNECTOR].corrections.of_subject(subject)]})


async def register_app(request: web.Request) -> web.Response:
    """The person's app that is a participant of its own (connector.data.resident_apps)."""
    subject = request.match_info["subject"]
    by = acting_for(request, subject, "register_app")
    body = await json_body(request)
    found = request.app[CONNECTOR].resident_apps.register(subject, body.get("participant"),
                                                          registered_by=by)
    return json_response(found, status=201)


async def apps_of(request: web.Request) -> web.Response:
    subject = request.match_info["subject"]
    acting_for(request, subject, "read_apps")
    return json_response({"items": request.app[CONNECTOR].resident_apps.of_subject(subject)})


@scoped("records:write")
async def list_corrections(request: web.Request) -> web.Response:
    status = request.query.get("status") or None
    if status not in (None, "pending", "accepted", "refused"):
        raise ValidationError("'status' is pending, accepted or refused", field="status")
    return json_response({"items": [c.to_json() for c in
                                    request.app[CONNECTOR].corrections.list(status)]})


@scoped("records:write")
async def decide_correction(request: web.Request) -> web.Response:
    """Staff accept (new version published) or refuse (with a reason) a correction."""
    corrections = request.app[CONNECTOR].corrections
    correction_id = request.match_info["id"]
    body = await json_body(request)
    accept = body.get("accept")
    if not isinstance(accept, bool):
        raise ValidationError("'accept' must be true or false", field="accept")
    info = token_info(request)
    by = f"staff:{info.id}" if info is not None else "staff"
    if accept:
        found = await corrections.accept(correction_id, decided_by=by)
    else:
        found = corrections.refuse(correction_id, _reason(body, required=True) or "",
                                   decided_by=by)
    return json_response(found.to_json())


def routes(prefix: str) -> list[web.RouteDef]:
    base = f"{prefix}/residents/{{subject}}"
    return [
        web.post(f"{base}/consent-withdrawals", withdraw_consent),
        web.get(f"{base}/consent-withdrawals", consent_withdrawals),
        web.get(f"{base}/disclosure", disclosure),
        web.post(f"{base}/corrections", request_correction),
        web.get(f"{base}/corrections", corrections_of),
        web.post(f"{base}/apps", register_app),
        web.get(f"{base}/apps", apps_of),
        web.get(f"{prefix}/corrections", list_corrections),
        web.post(f"{prefix}/corrections/{{id}}/decision", decide_correction),
    ]

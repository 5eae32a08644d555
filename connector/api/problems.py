"""RFC 9457 problem details: how the app API reports every error.

The HTTP status of an error is decided here, in the API layer, from its code (the errors
themselves, raised in every layer, know nothing of HTTP): ``STATUSES`` holds every core code
(trust, usage_policies, connector, authority) whose status is not 400, and a domain plug-in
declares the statuses of its own codes (``DomainPlugin.http_statuses``, merged by
``statuses_with`` when the app is made). The problem's ``code`` is the error's stable code,
``type`` is ``https://w3id.org/tsunagu/problems/<code>``, and the error's details (field,
rule, ...: identifiers and paths, never personal values) are members.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from connector.bus.messaging import RemoteError
from connector.errors import ConnectorCode
from connector.plugins.registry import PluginError
from trust.errors import ErrorCode, TrustCode, TsunaguError
from usage_policies.errors import PolicyCode

if TYPE_CHECKING:
    from connector.plugins.contract import DomainPlugin

PROBLEM_BASE = "https://w3id.org/tsunagu/problems/"
PROBLEM_TYPE = "application/problem+json"
DEFAULT_STATUS = 400

C, T = ConnectorCode, TrustCode


def _each(status: int, *codes: ErrorCode) -> dict[ErrorCode, int]:
    return dict.fromkeys(codes, status)


# The status of every core code that is not 400. (Authority codes are all 400: the authority
# answers on the bus, and its own HTTP surface serves public documents only.)
STATUSES: Mapping[ErrorCode, int] = MappingProxyType({
    # The presented credential, status list or envelope does not verify: who is asking is
    # not established.
    **_each(401, T.CREDENTIAL_INVALID, T.CREDENTIAL_MALFORMED, T.CREDENTIAL_ALGORITHM,
            T.CREDENTIAL_UNTRUSTED_ISSUER, T.CREDENTIAL_SIGNATURE, T.CREDENTIAL_NOT_YET_VALID,
            T.CREDENTIAL_EXPIRED, T.CREDENTIAL_STATUS_UNKNOWN, T.CREDENTIAL_REVOKED,
            C.CREDENTIAL_MISSING, C.CREDENTIAL_SUBJECT_MISMATCH),
    **_each(401, T.STATUS_LIST_MALFORMED, T.STATUS_LIST_ALGORITHM,
            T.STATUS_LIST_UNTRUSTED_ISSUER, T.STATUS_LIST_SIGNATURE,
            T.STATUS_LIST_NOT_YET_VALID, T.STATUS_LIST_EXPIRED, T.STATUS_LIST_STALE),
    **_each(401, T.ENVELOPE_INVALID, T.ENVELOPE_MALFORMED, T.ENVELOPE_ALGORITHM,
            T.ENVELOPE_UNKNOWN_SIGNER, T.ENVELOPE_BAD_SIGNATURE, T.ENVELOPE_WRONG_RECIPIENT,
            T.ENVELOPE_SENDER_MISMATCH, T.ENVELOPE_LIFETIME, T.ENVELOPE_NOT_YET_VALID,
            T.ENVELOPE_EXPIRED, T.ENVELOPE_TOO_LARGE, T.ENVELOPE_REPLAYED,
            T.ENVELOPE_REPLAY_CACHE_FULL, C.ENVELOPE_BAD_SUBJECT, C.ENVELOPE_SUBJECT_MISMATCH,
            C.ENVELOPE_UNEXPECTED_SENDER),
    # App API tokens
    **_each(401, C.AUTH_MISSING, C.AUTH_INVALID, C.AUTH_EXPIRED),
    C.AUTH_SCOPE: 403,
    # Staff logins (connector.api.staff): who is asking is not established
    **_each(401, C.STAFF_LOGIN_FAILED, C.STAFF_TOTP_WRONG, C.STAFF_TOTP_REPLAYED,
            C.STAFF_LOCKED, C.STAFF_DISABLED, C.OIDC_WRONG_STATE, C.OIDC_INVALID_TOKEN,
            C.OIDC_BAD_SIGNATURE, C.OIDC_WRONG_ISSUER, C.OIDC_WRONG_AUDIENCE, C.OIDC_EXPIRED,
            C.OIDC_WRONG_NONCE, C.OIDC_NOT_LINKED),
    C.STAFF_UNKNOWN: 404,
    C.STAFF_EXISTS: 409,
    C.OIDC_PROVIDER: 502,
    C.OIDC_NOT_CONFIGURED: 501,
    # The usage gate
    **_each(403, C.USAGE_DENIED, C.USAGE_OUT_OF_SCOPE, C.USAGE_AGREEMENT_INACTIVE,
            C.USAGE_PURPOSE_MISSING, C.USAGE_CONSENT_WITHDRAWN),
    C.USAGE_NOT_HELD: 404,
    # Residents' rights: the caller is not the person (nor staff assisting them)
    C.RESIDENTS_NOT_THE_SUBJECT: 403,
    C.CORRECTION_NOT_FOUND: 404,
    C.CORRECTION_DECIDED: 409,
    # Contributions the holder refused (the holder's codes, relayed to the contributor)
    **_each(403, C.CONTRIBUTION_INVALID, C.CONTRIBUTION_REFUSED, C.CONTRIBUTION_BAD_SIGNATURE,
            C.CONTRIBUTION_WRONG_PARTY, C.CONTRIBUTION_DUPLICATE_ID,
            C.CONTRIBUTION_UNKNOWN_AGREEMENT, C.CONTRIBUTION_NOT_ASSIGNEE,
            C.CONTRIBUTION_AGREEMENT_INACTIVE, C.CONTRIBUTION_UNKNOWN_RECORD,
            C.CONTRIBUTION_NOT_GRANTED, C.CONTRIBUTION_FIELD_NOT_ALLOWED,
            C.CONTRIBUTION_DENIED, C.CONTRIBUTION_RULE_VIOLATED, C.CONTRIBUTION_INVALID_RECORD),
    C.CONTRIBUTION_CONFLICT: 409,
    # Lookups
    **_each(404, C.API_NOT_FOUND, C.RECORD_NOT_FOUND, C.NEGOTIATION_NOT_FOUND,
            C.TRANSFER_NOT_FOUND, C.PLUGIN_UNKNOWN_DATASET_TYPE),
    # This connector
    C.INTERNAL_ERROR: 500,
    C.FEATURE_UNAVAILABLE: 501,
    **_each(503, C.API_BUSY, C.SERVICE_NOT_READY, C.STORE_UNAVAILABLE, C.STORE_VERSION,
            C.STORE_MIGRATION_FAILED, C.STORE_NOT_FOUND, C.NATS_CONNECT, C.NATS_SERVER),
})

# Titles of the codes whose class docstring would not make a good one.
TITLES: Mapping[str, str] = MappingProxyType({
    C.AUTH_MISSING: "Authentication required",
    C.AUTH_INVALID: "Invalid token",
    C.AUTH_EXPIRED: "Token expired",
    C.AUTH_SCOPE: "Insufficient scope",
    C.FEATURE_UNAVAILABLE: "Feature not available",
    T.INPUT_INVALID: "Invalid input",
    C.INTERNAL_ERROR: "Internal error",
    C.STORE_UNAVAILABLE: "Store unavailable",
    C.USAGE_DENIED: "Use not permitted",
    C.USAGE_PURPOSE_MISSING: "Purpose not declared",
})

_CORE = (TrustCode, PolicyCode, ConnectorCode)

# The statuses an app answers with (``statuses_with`` its plug-ins), set by ``make_app``.
HTTP_STATUSES: web.AppKey[Mapping[str, int]] = web.AppKey("tsunagu.http_statuses", Mapping)


def statuses_with(plugins: Iterable[DomainPlugin]) -> Mapping[str, int]:
    """``STATUSES`` and the statuses the plug-ins declare for their own codes. A plug-in may
    not set the status of a core code, nor two plug-ins give one code two statuses."""
    merged: dict[str, int] = dict(STATUSES)
    declared_by: dict[str, str] = {}
    for plugin in plugins:
        for code, status in plugin.http_statuses.items():
            if isinstance(code, _CORE) or code in STATUSES:
                raise PluginError(f"domain plug-in {plugin.name!r} declares an HTTP status for "
                                  f"the core code {code}", code=C.PLUGIN_CONFLICT,
                                  plugin=plugin.name)
            if not isinstance(status, int) or not 400 <= status <= 599:
                raise PluginError(f"domain plug-in {plugin.name!r}: the HTTP status of {code} "
                                  "must be an error status (400-599)", plugin=plugin.name)
            if merged.get(code, status) != status:
                raise PluginError(f"domain plug-ins {declared_by[code]!r} and {plugin.name!r} "
                                  f"give {code} different HTTP statuses", code=C.PLUGIN_CONFLICT,
                                  plugin=plugin.name)
            merged[code] = status
            declared_by.setdefault(code, plugin.name)
    return MappingProxyType(merged)


def statuses_in(request: web.Request) -> Mapping[str, int]:
    """The statuses of the app serving ``request`` (a plug-in's sub-app: its parent's)."""
    return request.config_dict.get(HTTP_STATUSES, STATUSES)


def status_for(code: str, statuses: Mapping[str, int] = STATUSES) -> int:
    """The HTTP status of ``code`` (400 unless ``statuses`` says otherwise)."""
    return statuses.get(code, DEFAULT_STATUS)


def status_of(exc: TsunaguError, statuses: Mapping[str, int] = STATUSES) -> int:
    # A RemoteError carries the other participant's code: what failed here is the relay
    # (``remote.error``), whatever the other side's code would mean on its own API.
    return status_for(C.REMOTE_ERROR if isinstance(exc, RemoteError) else exc.code, statuses)


def problem_body(status: int, code: str, detail: str, title: str | None = None,
                 **extra: Any) -> dict[str, Any]:
    body = {"type": PROBLEM_BASE + code, "title": title or TITLES.get(code, code),
            "status": status, "detail": detail, "code": code}
    body.update({k: v for k, v in extra.items() if k not in body})
    return body


def problem(status: int, code: str, detail: str, title: str | None = None,
            **extra: Any) -> web.Response:
    body = problem_body(status, code, detail, title, **extra)
    headers = {"WWW-Authenticate": 'Bearer realm="tsunagu"'} if status == 401 else None
    if status in (429, 503) and isinstance(extra.get("retry_after"), int):
        headers = {"Retry-After": str(extra["retry_after"])}  # RFC 9110: delay in seconds
    return web.Response(status=status, body=orjson.dumps(body), content_type=PROBLEM_TYPE,
                        headers=headers)


def error_body(exc: TsunaguError, statuses: Mapping[str, int] = STATUSES) -> dict[str, Any]:
    doc = (type(exc).__doc__ or "").strip().splitlines()
    title = TITLES.get(exc.code) or (doc[0].rstrip(".") if doc else None)
    # A detail named like a member problem() sets itself would be passed twice.
    extra = {k: v for k, v in exc.details.items() if k not in ("status", "code", "detail",
                                                                "title")}
    return problem_body(status_of(exc, statuses), exc.code, exc.message, title, **extra)


def error_problem(exc: TsunaguError, statuses: Mapping[str, int] = STATUSES) -> web.Response:
    body = error_body(exc, statuses)
    return problem(body.pop("status"), body.pop("code"), body.pop("detail"),
                   body.pop("title"), **{k: v for k, v in body.items() if k != "type"})

"""RFC 9457 problem details: how the app API reports every error.

The HTTP status of an error is decided here, in the API layer, from its type (the errors
themselves, raised in every layer, know nothing of HTTP). The problem's ``code`` is the
error's stable code, ``type`` is ``https://w3id.org/tsunagu/problems/<code>``, and the
error's details (field, rule, ...: identifiers and paths, never personal values) are members.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from trust.errors import TsunaguError

PROBLEM_BASE = "https://w3id.org/tsunagu/problems/"
PROBLEM_TYPE = "application/problem+json"

TITLES = {
    "auth.missing": "Authentication required",
    "auth.invalid": "Invalid token",
    "auth.expired": "Token expired",
    "auth.scope": "Insufficient scope",
    "feature.unavailable": "Feature not available",
    "input.invalid": "Invalid input",
    "internal.error": "Internal error",
    "store.unavailable": "Store unavailable",
    "usage.denied": "Use not permitted",
    "usage.purpose_missing": "Purpose not declared",
}


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
    return web.Response(status=status, body=orjson.dumps(body), content_type=PROBLEM_TYPE,
                        headers=headers)


def status_of(exc: TsunaguError) -> int:
    return exc.http_status


def error_body(exc: TsunaguError) -> dict[str, Any]:
    doc = (type(exc).__doc__ or "").strip().splitlines()
    title = TITLES.get(exc.code) or (doc[0].rstrip(".") if doc else None)
    # A detail named like a member problem() sets itself would be passed twice.
    extra = {k: v for k, v in exc.details.items() if k not in ("status", "code", "detail",
                                                                "title")}
    return problem_body(status_of(exc), exc.code, exc.message, title, **extra)


def error_problem(exc: TsunaguError) -> web.Response:
    body = error_body(exc)
    return problem(body.pop("status"), body.pop("code"), body.pop("detail"),
                   body.pop("title"), **{k: v for k, v in body.items() if k != "type"})

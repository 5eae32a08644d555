"""The local app API: JSON over HTTP for the participant's own apps (aiohttp).

Apps authenticate with a bearer token (``tsunagu connector token``); each route names the
scope it needs. Every error is RFC 9457 ``application/problem+json`` whose ``code`` is the
TsunaguError code. ``openapi.json`` beside this file describes every route; a test checks
that the two agree.

Record ids and dataset ids are IRIs: put them in a path as one percent-encoded segment
(``/api/records/urn%3Auuid%3A...``). The routes call the connector's declared services
(``connector.records``, ``connector.negotiations``, ...); an embedding or a test may pass
others to ``make_app``. Reads of received data go through the usage gate (``connector.gate``)
with the purpose the app declares (``?purpose=`` or the ``Tsunagu-Purpose`` header).
"""

from __future__ import annotations

import inspect
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from aiohttp import web

from catalog.service import page_json
from connector.api import admission
from connector.api.events import EventStreams, declared_purpose
from connector.api.problems import (
    HTTP_STATUSES,
    error_problem,
    problem,
    status_for,
    statuses_in,
    statuses_with,
)
from connector.api.staff.accounts import StaffError
from connector.api.staff.service import StaffAuth
from connector.api.staff.sessions import PREFIX as STAFF_PREFIX
from connector.api.tokens import TokenInfo, TokenStore
from connector.api.versions import PREFIX, deprecation_headers, legacy_path
from connector.catalog_node.query import parse_search
from connector.control.decisions import Reader, Use
from connector.data.refusals import refusals_of
from connector.errors import ConnectorCode
from connector.runtime.ports import bind_api_socket
from trust.errors import TsunaguError, ValidationError

if TYPE_CHECKING:
    from connector.plugins.contract import DomainPlugin
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

OPENAPI_PATH = Path(__file__).with_name("openapi.json")
DEFAULT_BODY_LIMIT = 1024 ** 2  # aiohttp's client_max_size, which the app keeps
MAX_LIMIT = 500


# ---------------------------------------------------------------- what the API expects

class RecordsApi(Protocol):
    """Provider records (connector/data/records.py). Methods may be sync or async."""

    def publish(self, dataset_id: str, record: dict[str, Any]) -> Any: ...
    def publish_many(self, dataset_id: str, records: list[Any]) -> Any: ...
    def delete(self, dataset_id: str, record_id: str) -> Any: ...


class NegotiationsApi(Protocol):
    """Contract negotiations, consumer side. Dicts carry at least ``pid`` and ``state``."""

    def start(self, provider_did: str, dataset_id: str, offer_id: str) -> Any: ...
    def get(self, pid: str) -> Any: ...  # dict, or None when unknown
    def list(self) -> Any: ...


class TransfersApi(Protocol):
    """Transfer processes, consumer side. Dicts carry at least ``pid`` and ``state``."""

    def start(self, agreement_id: str) -> Any: ...
    def get(self, pid: str) -> Any: ...
    def list(self) -> Any: ...


class CatalogApi(Protocol):
    """Asks a provider (or the federated index) for its DSP catalog."""

    def fetch(self, provider_did: str, query: str | None = None) -> Any: ...


class NotFound(TsunaguError):
    code = ConnectorCode.API_NOT_FOUND


class Unavailable(TsunaguError):
    """This connector runs without the service the route needs."""

    code = ConnectorCode.FEATURE_UNAVAILABLE


async def _call(value: Any) -> Any:
    """Services may be sync or async; the API does not care which."""
    return await value if inspect.isawaitable(value) else value


# ---------------------------------------------------------------- problems and middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except TsunaguError as exc:
        response = error_problem(exc, statuses_in(request))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = "http." + exc.reason.lower().replace(" ", "_")
        response = problem(exc.status, code, exc.text or exc.reason, exc.reason)
        if exc.status == 405:
            response.headers["Allow"] = exc.headers.get("Allow", "")
    except Exception:
        log.exception("app API handler failed", extra={"path": request.path})
        internal = ConnectorCode.INTERNAL_ERROR
        response = problem(status_for(internal), internal,
                           "the connector failed to handle this request; see its log")
    _count(request, response.status)
    return response


def _count(request: web.Request, status: int) -> None:
    route = request.match_info.route.resource
    template = route.canonical if route is not None else "unmatched"  # never a raw id
    request.app[CONNECTOR].metrics.inc("tsunagu_api_requests_total", method=request.method,
                                       route=template, status=str(status))


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    scope: str | None = getattr(request.match_info.handler, "scope", None)
    if scope is not None:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else None
        try:
            if token and token.startswith(STAFF_PREFIX):  # an app a person logged in to
                request[TOKEN] = request.app[STAFF].sessions.verify(token, scope)
            else:
                request[TOKEN] = request.app[TOKENS].verify(token, scope)
        except TsunaguError as exc:
            if scope in READS_RECEIVED:  # a read of received data: the gate audits it too
                request.app[CONNECTOR].gate.refused(_caller(request, token), use_of(request),
                                                    exc.code, "token")
            raise
    return await handler(request)


# Scopes of the routes that read received data: refusals of them are audited as uses.
READS_RECEIVED = frozenset({"records:read", "events:read"})


def _caller(request: web.Request, token: str | None) -> Reader:
    """Who a refused request claimed to be: its token's id if the token is known."""
    if token and token.startswith(STAFF_PREFIX):
        account = request.app[STAFF].sessions.identify(token)
        return (Reader.staff(account.id, account.name) if account is not None
                else Reader.app("unknown"))
    info = request.app[TOKENS].identify(token) if token else None
    return Reader.app(info or "unknown")


def scoped(scope: str) -> Callable[[Handler], Handler]:
    def mark(handler: Handler) -> Handler:
        handler.scope = scope  # type: ignore[attr-defined]
        return handler
    return mark


# ---------------------------------------------------------------- helpers

CONNECTOR = web.AppKey("connector", Any)
TOKENS = web.AppKey("tokens", TokenStore)
STAFF = web.AppKey("staff", StaffAuth)
SERVICES = web.AppKey("services", dict)
STREAMS = web.AppKey("streams", EventStreams)
OPENAPI = web.AppKey("openapi", bytes)
WRITES = web.AppKey("writes", admission.WriteAdmission)
# Request key of the verified TokenInfo (aiohttp < 3.12 has no RequestKey: a plain string).
TOKEN: Any = (web.RequestKey("token", TokenInfo) if hasattr(web, "RequestKey")
              else "tsunagu.token")


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


async def json_body(request: web.Request, *, max_bytes: int | None = None) -> dict[str, Any]:
    """The request's JSON object; ``max_bytes`` (a domain route's own limit, under the app
    API's) is checked while reading, so a larger body is never held whole."""
    if max_bytes is None:
        raw = await request.read()
    else:
        raw = await request.content.read(max_bytes + 1)
        if len(raw) > max_bytes:
            raise ValidationError(f"the request body is larger than {max_bytes} bytes",
                                  field="body")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValidationError("the request body is not JSON", field="body") from None
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object", field="body")
    return body


def _string(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"'{field}' must be a non-empty string", field=field)
    return value


def _int_query(request: web.Request, name: str, default: int, high: int) -> int:
    raw = request.query.get(name)
    try:
        value = default if raw is None else int(raw)
    except ValueError:
        raise ValidationError(f"'{name}' must be an integer", field=name) from None
    if not 0 <= value <= high:
        raise ValidationError(f"'{name}' must be between 0 and {high}", field=name)
    return value


def gate_of(request: web.Request) -> Any:
    return request.app[CONNECTOR].gate


def service(request: web.Request, name: str) -> Any:
    found = request.app[SERVICES].get(name)
    if found is None:
        raise Unavailable(f"this connector runs without the {name} service",
                          feature=name)
    return found


def _load_record(request: web.Request, record_id: str) -> dict[str, Any]:
    view = request.app[CONNECTOR].records.view(record_id)
    if view is None:
        raise NotFound(f"no record {record_id} in this connector",
                       code=ConnectorCode.RECORD_NOT_FOUND)
    return {"id": view.id, "dataset": view.dataset, "version": view.version,
            "deleted": view.deleted, "modified": view.modified,
            "record": orjson.loads(view.body)}


# ---------------------------------------------------------------- observability

async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    connector = request.app[CONNECTOR]
    checks: dict[str, str] = {}
    checks["nats"] = "ok" if connector.nats_connected else "disconnected"
    try:
        with connector.store.transaction():
            pass  # BEGIN IMMEDIATE takes the write lock: proves the file accepts writes
        checks["store"] = "ok"
    except (TsunaguError, AttributeError) as exc:
        checks["store"] = getattr(exc, "code", "unavailable")
    if all(v == "ok" for v in checks.values()):
        return json_response({"status": "ready", "checks": checks})
    code = ConnectorCode.SERVICE_NOT_READY
    return problem(status_for(code), code, "the connector is not ready: " + ", ".join(
        f"{k} {v}" for k, v in checks.items() if v != "ok"), "Not ready", checks=checks)


async def metrics(request: web.Request) -> web.Response:
    connector = request.app[CONNECTOR]
    started = connector.started_at
    if started is not None:
        connector.metrics.set("tsunagu_uptime_seconds",
                              round((datetime.now(UTC) - started).total_seconds(), 3))
    text = connector.metrics.exposition() + connector.catalog_node.metrics()  # the node's own
    return web.Response(text=text,
                        content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type="application/json")


def reader_of(request: web.Request) -> Reader:
    """The app behind a request, as the usage gate sees it: its token, role and parties."""
    token = request[TOKEN]
    if token.person is not None:
        return Reader.staff(token.person.account_id, token.person.name, role=token.role)
    return Reader.app(token.id, role=token.role, subjects=token.subjects)


def use_of(request: web.Request) -> Use:
    return Use(declared_purpose(request))


@scoped("events:read")
async def events(request: web.Request) -> web.StreamResponse:
    return await request.app[STREAMS].handle(request, reader_of(request))


# ---------------------------------------------------------------- staff logins

async def staff_login(request: web.Request) -> web.Response:
    """A person logs an app in: login name, password and TOTP code -> a staff session
    secret to send as the bearer value (refusals: RFC 9457, each audited)."""
    body = await json_body(request)
    fields = {f: body.get(f) for f in ("login", "password", "totp")}
    for field, value in fields.items():
        if not isinstance(value, str) or not value:
            raise ValidationError(f"'{field}' must be a non-empty string", field=field)
    person = request.app[STAFF].login_password(fields["login"], fields["password"],
                                               fields["totp"])
    account = person.account
    return json_response({"session": person.secret, "session_id": person.id,
                          "expires": person.expires.isoformat(),
                          "account": {"id": account.id, "name": account.name,
                                      "department": account.department,
                                      "scopes": sorted(account.scopes)}}, status=201)


async def staff_logout(request: web.Request) -> web.Response:
    header = request.headers.get("Authorization", "")
    secret = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if not request.app[STAFF].sessions.logout(secret):
        raise StaffError("no live staff session in the Authorization header",
                         code=ConnectorCode.AUTH_INVALID)
    return web.Response(status=204)


# ---------------------------------------------------------------- datasets and records

@scoped("catalog:read")
async def list_datasets(request: web.Request) -> web.Response:
    return json_response({"items": request.app[CONNECTOR].datasets.entries()})


@scoped("admin")
async def offer_dataset(request: web.Request) -> web.Response:
    """Offer (or re-offer) one of this participant's datasets with its ODRL offers."""
    datasets = service(request, "datasets")
    dataset_id = request.match_info["dataset"]
    body = await json_body(request)
    title, offers = body.get("title"), body.get("offers")
    if not isinstance(title, str) or not title.strip():
        raise ValidationError("'title' must be a non-empty string", field="title")
    if not isinstance(offers, list) or not offers:
        raise ValidationError("'offers' must be a non-empty list of ODRL offers",
                              field="offers")
    keywords = body.get("keywords") or []
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise ValidationError("'keywords' must be a list of strings", field="keywords")
    await _call(datasets.offer_dataset(dataset_id, title, offers, body.get("schema"),
                                       description=body.get("description"),
                                       keywords=keywords,
                                       record_proofs=body.get("recordProofs", "per-record")))
    return json_response(request.app[CONNECTOR].datasets.entries(dataset_id)[0])


@scoped("records:write")
async def publish_record(request: web.Request) -> web.Response:
    records = service(request, "records")
    dataset_id = request.match_info["dataset"]
    record = await json_body(request)
    result = await _call(records.publish(dataset_id, record))
    record_id = (result or {}).get("id") or record.get("id")
    return json_response(_load_record(request, record_id), status=201)


@scoped("records:write")
async def publish_records(request: web.Request) -> web.Response:
    """A batch, all or nothing: ``{"records": [...]}`` -> ``{"items": [{id, version,
    modified}]}`` in batch order; a refusal names the record's ``index``."""
    records = service(request, "records")
    body = await json_body(request)
    batch = body.get("records")
    if not isinstance(batch, list) or not batch:
        raise ValidationError("'records' must be a non-empty array of records",
                              field="records")
    signed = await _call(records.publish_many(request.match_info["dataset"], batch))
    return json_response({"items": [{"id": r["id"], "version": r["version"],
                                     "modified": r["modified"]} for r in signed]}, status=201)


@scoped("records:read")
async def get_record(request: web.Request) -> web.Response:
    return json_response(_load_record(request, request.match_info["id"]))


@scoped("records:read")
async def list_record_refusals(request: web.Request) -> web.Response:
    """What consumers told us they refused of one of our records (connector/data/refusals.py)."""
    record_id = request.match_info["id"]
    _load_record(request, record_id)  # 404 unless it is ours
    return json_response({"items": refusals_of(request.app[CONNECTOR], record_id)})


@scoped("records:write")
async def update_record(request: web.Request) -> web.Response:
    records = service(request, "records")
    record_id = request.match_info["id"]
    record = await json_body(request)
    if record.setdefault("id", record_id) != record_id:
        raise ValidationError("the record's 'id' differs from the id in the path", field="id")
    current = _load_record(request, record_id)
    await _call(records.publish(current["dataset"], record))
    return json_response(_load_record(request, record_id))


@scoped("records:write")
async def delete_record(request: web.Request) -> web.Response:
    records = service(request, "records")
    record_id = request.match_info["id"]
    current = _load_record(request, record_id)
    await _call(records.delete(current["dataset"], record_id))
    return json_response(_load_record(request, record_id))


@scoped("records:read")
async def list_held(request: web.Request) -> web.Response:
    """Held records page by page, as the usage gate releases them for the declared purpose;
    ``next`` is the cursor for ``after`` (null at the end)."""
    limit = _int_query(request, "limit", 100, MAX_LIMIT) or 100
    after = _int_query(request, "after", 0, 2**63 - 1)
    page = gate_of(request).page(reader_of(request), use_of(request), after=after,
                                 limit=limit, dataset=request.query.get("dataset") or None)
    body: dict[str, Any] = {"items": [i.to_json() for i in page.items], "next": page.next}
    if page.denied:
        body["refused"] = [{"agreement": d.agreement_id, "code": d.code, "rule": d.rule}
                           for d in page.denied]
    return json_response(body)


@scoped("records:read")
async def get_held(request: web.Request) -> web.Response:
    """The newest held version of one record, as the usage gate releases it."""
    released = gate_of(request).read(reader_of(request), use_of(request),
                                     request.match_info["id"])
    return json_response(released.to_json())


# ---------------------------------------------------------------- catalog and contracts

@scoped("catalog:read")
async def get_catalog(request: web.Request) -> web.Response:
    catalog = service(request, "catalog")
    provider = request.query.get("provider")
    if not provider:
        raise ValidationError("give ?provider=<did> of the participant to ask", field="provider")
    return json_response(await _call(catalog.fetch(provider, request.query.get("q"))))


@scoped("catalog:read")
async def search_catalog(request: web.Request) -> web.Response:
    """The federated catalog node this connector runs (``[catalog_node]``): a DSP/DCAT page
    of hits, as ``tsunagu catalog search --json`` prints it (docs/catalog.md)."""
    node = request.app[CONNECTOR].catalog_node.node
    if node is None:
        raise Unavailable("this connector runs no federated catalog node "
                          "([catalog_node] enabled = true in participant.toml)",
                          feature="catalog_node")
    return json_response(page_json(parse_search(request.query).run(node.catalog)))


@scoped("contracts:read")
async def list_agreements(request: web.Request) -> web.Response:
    return json_response({"items": request.app[CONNECTOR].agreements.summaries()})


@scoped("contracts:read")
async def list_facts(request: web.Request) -> web.Response:
    return json_response({"facts": request.app[CONNECTOR].facts.as_json()})


@scoped("admin")
async def set_fact(request: web.Request) -> web.Response:
    """Assert a world fact (e.g. disasterPhase) for this connector's policy decisions."""
    body = await json_body(request)
    if "value" not in body:
        raise ValidationError("body must be {\"value\": ...}", field="value")
    facts = request.app[CONNECTOR].facts
    facts.set(request.match_info["name"], body["value"])
    return json_response({"facts": facts.as_json()})


@scoped("contracts:write")
async def terminate_agreement(request: web.Request) -> web.Response:
    """Provider side: end an agreement now; the consumer is told and purges what it holds."""
    agreements = request.app[CONNECTOR].agreements
    body = await json_body(request)
    reason = body.get("reason", "terminated by the provider")
    if not isinstance(reason, str) or len(reason) > 500:
        raise ValidationError("'reason' must be a string of at most 500 characters",
                              field="reason")
    row = await _call(agreements.terminate(request.match_info["id"], reason))
    return json_response({"id": row["id"], "status": row["status"]})


@scoped("contracts:write")
async def start_negotiation(request: web.Request) -> web.Response:
    negotiations = service(request, "negotiations")
    body = await json_body(request)
    options: dict[str, Any] = {}
    if body.get("purpose") is not None:  # the use the consumer declares and will be held to
        options["purpose"] = _string(body, "purpose")
    started = await _call(negotiations.start(
        _string(body, "provider"), _string(body, "dataset"), _string(body, "offer"), **options))
    return json_response(started, status=201)


@scoped("contracts:write")
async def start_transfer(request: web.Request) -> web.Response:
    transfers = service(request, "transfers")
    body = await json_body(request)
    finite = body.get("finite", False)
    if not isinstance(finite, bool):
        raise ValidationError("'finite' must be true or false", field="finite")
    started = transfers.start(_string(body, "agreement"), finite=True) if finite \
        else transfers.start(_string(body, "agreement"))
    return json_response(await _call(started), status=201)


# What GET one answers for an unknown process, by service.
_NOT_FOUND = {"negotiations": ConnectorCode.NEGOTIATION_NOT_FOUND,
              "transfers": ConnectorCode.TRANSFER_NOT_FOUND}


def _process_routes(name: str) -> tuple[Handler, Handler]:
    """GET list and GET one, alike for negotiations and transfers."""

    @scoped("contracts:read")
    async def list_all(request: web.Request) -> web.Response:
        return json_response({"items": list(await _call(service(request, name).list()))})

    @scoped("contracts:read")
    async def get_one(request: web.Request) -> web.Response:
        pid = request.match_info["pid"]
        found = await _call(service(request, name).get(pid))
        if not found:
            raise NotFound(f"no {name[:-1]} process {pid}", code=_NOT_FOUND[name])
        return json_response(found)

    return list_all, get_one


# ---------------------------------------------------------------- the application

def make_app(
    connector: Any,
    *,
    records: RecordsApi | None = None,
    negotiations: NegotiationsApi | None = None,
    transfers: TransfersApi | None = None,
    catalog: CatalogApi | None = None,
    heartbeat: float = 15.0,
    poll_interval: float = 2.0,
    retry_ms: int = 1000,
    plugins: Sequence[DomainPlugin] = (),
    writes: admission.WriteAdmission | None = None,
) -> web.Application:
    """The app API for a started ``Connector``; services default to its attributes.

    Each of ``plugins`` (connector.plugins.load_domain_plugins) is activated and gets its
    routes under ``/domains/<name>/``; they are not in openapi.json (the plug-in owns them).
    A connector running a catalog node serves its page under ``/catalog/`` (not in
    openapi.json either: it is HTML).
    """
    from connector.api.residents import routes as resident_routes  # it builds on this module

    if writes is None:  # the limits of [api] in participant.toml (connector.api.admission)
        api_config = connector.config.api
        writes = admission.WriteAdmission(api_config.max_writes_in_flight,
                                          api_config.max_write_mb_in_flight << 20)
    connector.metrics.describe(admission.BUSY, "record writes refused with 503 api.busy")
    app = web.Application(middlewares=[
        problem_middleware, auth_middleware,
        admission.middleware(writes, DEFAULT_BODY_LIMIT,
                             lambda limit: connector.metrics.inc(admission.BUSY, limit=limit))])
    app[WRITES] = writes
    app[CONNECTOR] = connector
    app[TOKENS] = TokenStore(connector.store)
    app[STAFF] = StaffAuth.of(connector)
    # The connector's own services unless a test or an embedding passes others.
    app[SERVICES] = {
        "records": records or connector.records,
        "datasets": connector.datasets,
        "negotiations": negotiations or connector.negotiations,
        "transfers": transfers or connector.transfers,
        "catalog": catalog or connector.catalog,
    }
    app[OPENAPI] = OPENAPI_PATH.read_bytes()
    app[HTTP_STATUSES] = statuses_with(plugins)  # the core's, and the plug-ins' own
    streams = EventStreams(connector, connector.gate, heartbeat=heartbeat,
                           poll_interval=poll_interval, retry_ms=retry_ms)
    app[STREAMS] = streams
    connector.metrics.describe("tsunagu_api_requests_total", "app API requests by route")
    connector.metrics.describe("tsunagu_api_sse_clients", "open event streams")

    async def close_streams(_: web.Application) -> None:
        streams.close()

    app.on_shutdown.append(close_streams)
    list_negotiations, get_negotiation = _process_routes("negotiations")
    list_transfers, get_transfer = _process_routes("transfers")
    app.router.add_routes([
        web.get("/healthz", healthz),
        web.get("/readyz", readyz),
        web.get("/metrics", metrics),
        web.get("/openapi.json", openapi),
    ])
    versioned = [
        web.post(f"{PREFIX}/staff/login", staff_login),
        web.post(f"{PREFIX}/staff/logout", staff_logout),
        web.get(f"{PREFIX}/events", events),
        web.get(f"{PREFIX}/datasets", list_datasets),
        web.put(f"{PREFIX}/datasets/{{dataset}}", offer_dataset),
        web.post(f"{PREFIX}/datasets/{{dataset}}/records", publish_record),
        web.post(f"{PREFIX}/datasets/{{dataset}}/records:batch", publish_records),
        web.get(f"{PREFIX}/records/{{id}}", get_record),
        web.get(f"{PREFIX}/records/{{id}}/refusals", list_record_refusals),
        web.put(f"{PREFIX}/records/{{id}}", update_record),
        web.delete(f"{PREFIX}/records/{{id}}", delete_record),
        web.get(f"{PREFIX}/held", list_held),
        web.get(f"{PREFIX}/held/{{id}}", get_held),
        web.get(f"{PREFIX}/catalog", get_catalog),
        web.get(f"{PREFIX}/catalog/search", search_catalog),
        web.get(f"{PREFIX}/agreements", list_agreements),
        web.get(f"{PREFIX}/facts", list_facts),
        web.put(f"{PREFIX}/facts/{{name}}", set_fact),
        web.post(f"{PREFIX}/agreements/{{id}}/termination", terminate_agreement),
        web.post(f"{PREFIX}/negotiations", start_negotiation),
        web.get(f"{PREFIX}/negotiations", list_negotiations),
        web.get(f"{PREFIX}/negotiations/{{pid}}", get_negotiation),
        web.post(f"{PREFIX}/transfers", start_transfer),
        web.get(f"{PREFIX}/transfers", list_transfers),
        web.get(f"{PREFIX}/transfers/{{pid}}", get_transfer),
        *resident_routes(PREFIX),
    ]
    app.router.add_routes(versioned)
    # The same handlers under the 0.1 paths, answering with Deprecation and Sunset headers
    # (added in add_deprecation_headers) until the sunset date.
    app.router.add_routes([web.route(r.method, legacy_path(r.path), r.handler)
                           for r in versioned])
    app.on_response_prepare.append(add_deprecation_headers)
    if connector.config.catalog_node.enabled:  # the catalog page (connector.catalog_node.web)
        from connector.catalog_node.web import catalog_page_app

        app.add_subapp("/catalog/", catalog_page_app(connector))
    if plugins:
        from connector.plugins.registry import mount_plugin_routes

        mount_plugin_routes(app, connector, plugins)
    return app


async def add_deprecation_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Before any response goes out (event streams included): the headers that tell a client
    on a deprecated path where to go and until when it answers."""
    response.headers.update(deprecation_headers(request.path))


def token_info(request: web.Request) -> TokenInfo | None:
    return request.get(TOKEN)


class ApiServer:
    """The app API as a connector service: listens on ``config.api`` host and port.

    ``bind`` takes the port (the connector calls it before anything else starts, so a
    taken port stops it at once); ``startup`` serves on that socket."""

    def __init__(self, connector: Connector, **app_options: Any) -> None:
        self.connector = connector
        self.app_options = app_options
        self.runner: web.AppRunner | None = None
        self.port: int | None = None
        self._socket: socket.socket | None = None

    def bind(self) -> None:
        if self._socket is None:
            api = self.connector.config.api
            self._socket = bind_api_socket(api.host, api.port)

    async def startup(self) -> None:
        connector = self.connector
        self.bind()
        assert self._socket is not None
        self.runner = web.AppRunner(make_app(connector, **self.app_options),
                                    access_log=None, shutdown_timeout=5.0)
        await self.runner.setup()
        sock, self._socket = self._socket, None  # the site owns (and closes) it from here
        await web.SockSite(self.runner, sock).start()
        self.port = sock.getsockname()[1]  # the real one when config asks for port 0
        log.info("app API listening", extra={"port": self.port})

    def release(self) -> None:
        """Close the socket ``bind`` took if ``startup`` never served on it."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def shutdown(self) -> None:
        self.release()
        if self.runner is not None:
            await self.runner.cleanup()

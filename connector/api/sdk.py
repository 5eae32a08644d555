"""Python SDK for apps: an async client of the connector's local app API.

    async with TsunaguClient("http://127.0.0.1:8480", token,
                             purpose="disaster_response") as client:
        await client.publish(dataset_id, record)
        async for event in client.subscribe(dataset_id):
            handle(event)          # each delivery exactly once, in order

Every read of received data declares its purpose (the client's ``purpose``, or a call's
own): the connector's usage gate decides it against the agreement and refuses with
``ApiError`` 403 ``usage.denied`` (naming the constraint) what the agreement does not permit.
``subscribe`` remembers the last event id and, when the connection drops, reconnects with
``Last-Event-ID``: the app sees no gap and no repeat; when the gate ends the stream (the
agreement ended, expired, or its disaster phase is over) it raises ``StreamEnded``. Errors
the API reports become ``ApiError`` with the problem's ``code``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
import orjson
from pydantic import BaseModel, ConfigDict, Field
from yarl import URL

log = logging.getLogger(__name__)

EventType = Literal["created", "updated", "deleted"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class _Open(BaseModel):
    """Shapes whose extra fields belong to another service: keep them, do not refuse them."""

    model_config = ConfigDict(frozen=True, extra="allow")


class Problem(_Open):
    type: str
    title: str
    status: int
    detail: str
    code: str


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str,
                 problem: Problem | None = None) -> None:
        super().__init__(f"[{code}] {detail} (HTTP {status})")
        self.status, self.code, self.detail, self.problem = status, code, detail, problem


class Record(_Model):
    id: str
    dataset: str
    version: int
    deleted: bool
    modified: str
    record: dict[str, Any]


class HeldRecord(_Model):
    id: str
    version: int
    dataset: str
    agreement: str
    provider: str
    event: EventType
    received: str
    record: dict[str, Any] | None
    withheld: list[str] = []


class Refusal(_Model):
    agreement: str | None
    code: str
    rule: str


class HeldPage(_Model):
    items: list[HeldRecord]
    next: int | None
    refused: list[Refusal] = []


class Dataset(_Model):
    id: str
    stream: str
    subject: str
    schema_id: str | None = None
    created: str
    dataset: dict[str, Any]

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Dataset:
        # "schema" would shadow BaseModel.schema; the wire name stays "schema".
        return cls(**{**data, "schema_id": data.get("schema")})


class Agreement(_Model):
    id: str
    role: Literal["provider", "consumer"]
    provider: str
    consumer: str
    dataset: str
    status: str
    created: str
    ended: str | None


class _Process(_Open):
    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    pid: str
    state: str
    role: str | None = None
    counterparty: str | None = None
    consumer_pid: str | None = Field(None, alias="consumerPid")
    provider_pid: str | None = Field(None, alias="providerPid")
    agreement_id: str | None = Field(None, alias="agreementId")
    code: str | None = None


class Negotiation(_Process):
    """A contract negotiation; ``agreement_id`` is set once agreed."""

    offer_id: str | None = Field(None, alias="offerId")
    dataset_id: str | None = Field(None, alias="datasetId")


class Transfer(_Process):
    data_address: dict[str, Any] | None = Field(None, alias="dataAddress")


class Event(_Model):
    """One delivery: a record version reached this participant's apps (``withheld``: fields
    a field-level policy does not release to this app)."""

    seq: int
    event: EventType
    id: str
    version: int
    dataset: str
    agreement: str | None
    at: str
    record: dict[str, Any] | None
    withheld: list[str] = []


class ConsentWithdrawal(_Open):
    """A person's consent withdrawal and, per holder told (``holders``), whether it stopped
    using or purged their records (``status``: pending, stopped, purged, refused) and when
    (``acknowledged``)."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    id: str
    subject: str
    at: str
    holders: list[dict[str, Any]]


class Disclosure(_Open):
    """What each holder keeps about a person (``holders``: records, uses, withdrawn)."""

    subject: str
    at: str
    holders: list[dict[str, Any]]


class Correction(_Open):
    """A correction request and its outcome (``status``: pending, accepted, refused)."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    id: str
    subject: str
    record: str
    field: str
    value: Any
    reason: str
    status: str
    decision_reason: str | None = Field(None, alias="decisionReason")
    version: int | None = None


def _segment(value: str) -> str:
    """Ids are IRIs: one path segment, every reserved character escaped (%2F included)."""
    return quote(value, safe="")


class TsunaguClient:
    def __init__(self, base_url: str, token: str, *, purpose: str | None = None,
                 timeout: float = 30.0, session: aiohttp.ClientSession | None = None,
                 busy_retries: int = 5) -> None:
        self.base_url = base_url.rstrip("/")
        # A write the connector refused as busy (503 api.busy, nothing written) is sent
        # again after its Retry-After, this many times, before ApiError reaches the caller.
        self.busy_retries = busy_retries
        # The purpose this app reads received data for (held records, subscriptions), unless
        # a call names another: every such read must declare one.
        self.purpose = purpose
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> TsunaguClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    def _url(self, path: str) -> URL:
        return URL(self.base_url + path, encoded=True)  # keep our %2F escapes as they are

    async def _request(self, method: str, path: str, *, json: Any = None,
                       params: dict[str, Any] | list[tuple[str, str]] | None = None) -> Any:
        data = orjson.dumps(json) if json is not None else None
        headers = {**self._headers, **({"Content-Type": "application/json"} if data else {})}
        query = (params if isinstance(params, list) else  # repeated names: a list of pairs
                 [(k, str(v)) for k, v in (params or {}).items() if v is not None])
        for attempt in range(self.busy_retries + 1):
            async with self.session.request(method, self._url(path), data=data,
                                            headers=headers, params=query,
                                            timeout=self._timeout) as resp:
                body = await resp.read()
                if resp.status == 503 and attempt < self.busy_retries \
                        and resp.headers.get("Retry-After", "").isdigit():
                    await asyncio.sleep(int(resp.headers["Retry-After"]))
                    continue
                if resp.status >= 400:
                    raise _api_error(resp.status, body)
                return orjson.loads(body) if body else None
        raise AssertionError("unreachable: the last attempt returns or raises")

    # ------------------------------------------------------------ observability

    async def health(self) -> bool:
        return (await self._request("GET", "/healthz"))["status"] == "ok"

    async def ready(self) -> dict[str, str]:
        """The readiness checks; ApiError (503 service.not_ready) when not ready."""
        return (await self._request("GET", "/readyz"))["checks"]

    # ------------------------------------------------------------ own datasets and records

    async def datasets(self) -> list[Dataset]:
        return [Dataset.from_api(d) for d in (await self._request("GET", "/api/v1/datasets"))
                ["items"]]

    async def offer_dataset(self, dataset: str, title: str, offers: list[dict[str, Any]], *,
                            schema: dict[str, Any] | None = None,
                            description: str | None = None,
                            keywords: list[str] | None = None,
                            record_proofs: str | None = None) -> Dataset:
        """Offer (or re-offer) one of this participant's datasets (needs the admin scope).
        ``record_proofs``: "per-record" (the default) or "batch" (docs/records.md)."""
        body: dict[str, Any] = {"title": title, "offers": offers, "schema": schema}
        if record_proofs is not None:
            body["recordProofs"] = record_proofs
        if description is not None:
            body["description"] = description
        if keywords:
            body["keywords"] = keywords
        return Dataset.from_api(await self._request(
            "PUT", f"/api/v1/datasets/{_segment(dataset)}", json=body))

    async def publish(self, dataset: str, record: dict[str, Any]) -> Record:
        return Record.model_validate(await self._request(
            "POST", f"/api/v1/datasets/{_segment(dataset)}/records", json=record))

    async def publish_batch(self, dataset: str, records: list[dict[str, Any]]
                            ) -> list[dict[str, Any]]:
        """Publish up to 1,000 records in one request: all or nothing, one transaction."""
        result = await self._request("POST", f"/api/v1/datasets/{_segment(dataset)}/records:batch",
                                     json={"records": records})
        return list(result["items"])

    async def record(self, record_id: str) -> Record:
        return Record.model_validate(
            await self._request("GET", f"/api/v1/records/{_segment(record_id)}"))

    async def update(self, record_id: str, record: dict[str, Any]) -> Record:
        return Record.model_validate(
            await self._request("PUT", f"/api/v1/records/{_segment(record_id)}", json=record))

    async def delete(self, record_id: str) -> Record:
        return Record.model_validate(
            await self._request("DELETE", f"/api/v1/records/{_segment(record_id)}"))

    # ------------------------------------------------------------ held records

    async def held(self, dataset: str | None = None, *, purpose: str | None = None,
                   limit: int = 100, after: int | None = None) -> HeldPage:
        """A page of received records, as the usage gate releases them for ``purpose`` (or
        the client's own purpose): ApiError 403 ``usage.denied`` if no agreement permits."""
        return HeldPage.model_validate(await self._request(
            "GET", "/api/v1/held", params={"dataset": dataset, "limit": limit, "after": after,
                                        "purpose": purpose or self.purpose}))

    async def held_record(self, record_id: str, *, purpose: str | None = None) -> HeldRecord:
        """The newest received version of one record, as released for ``purpose``."""
        return HeldRecord.model_validate(await self._request(
            "GET", f"/api/v1/held/{_segment(record_id)}",
            params={"purpose": purpose or self.purpose}))

    async def iter_held(self, dataset: str | None = None, *, purpose: str | None = None,
                        page_size: int = 100) -> AsyncIterator[HeldRecord]:
        after: int | None = None
        while True:
            page = await self.held(dataset, purpose=purpose, limit=page_size, after=after)
            for item in page.items:
                yield item
            if page.next is None:
                return
            after = page.next

    # ------------------------------------------------------------ catalog and contracts

    async def catalog(self, provider: str, query: str | None = None) -> dict[str, Any]:
        return await self._request("GET", "/api/v1/catalog",
                                   params={"provider": provider, "q": query})

    async def catalog_search(self, query: str = "", *, purpose: str | None = None,
                             roles: Sequence[str] = (), area: str | None = None,
                             did: str | None = None, strict: bool = False,
                             publisher: Sequence[str] = (), publisher_role: Sequence[str] = (),
                             domain: Sequence[str] = (), theme: Sequence[str] = (),
                             keyword: Sequence[str] = (), dataset_type: Sequence[str] = (),
                             temporal_from: str | None = None, temporal_to: str | None = None,
                             facets: bool = False, limit: int = 20,
                             cursor: str | None = None) -> dict[str, Any]:
        """Search the federated catalog node this connector runs: a DSP ``Catalog`` page
        whose ``dataset`` are the hits (``tsunagu:total``, ``tsunagu:nextCursor``, and with
        ``facets`` the counts). With ``purpose``, ``roles``, ``area`` or ``did``, only
        datasets with an offer the asker could get, each offer with ``tsunagu:decision``."""
        params: list[tuple[str, str]] = [("q", query), ("limit", str(limit))]
        for name, value in (("purpose", purpose), ("area", area), ("did", did),
                            ("from", temporal_from), ("to", temporal_to), ("cursor", cursor)):
            if value is not None:
                params.append((name, value))
        for name, values in (("role", roles), ("publisher", publisher),
                             ("publisher_role", publisher_role), ("domain", domain),
                             ("theme", theme), ("keyword", keyword), ("type", dataset_type)):
            params.extend((name, v) for v in values)
        params += [("strict", "true")] if strict else []
        params += [("facets", "true")] if facets else []
        return await self._request("GET", "/api/v1/catalog/search", params=params)

    async def negotiate_from_hit(self, hit: dict[str, Any], offer_id: str | None = None, *,
                                 purpose: str | None = None) -> Negotiation:
        """Start the negotiation for a ``catalog_search`` hit: its provider
        (``dct:publisher``), dataset and ``offer_id`` (default: the first offer the search
        found permitted, else conditional, else the first listed). The provider's own offer
        is fetched and checked by the connector, not taken from the hit."""
        provider = (hit.get("dct:publisher") or {}).get("@id")
        offers = [o for o in hit.get("hasPolicy") or [] if isinstance(o, dict) and o.get("@id")]
        if not isinstance(provider, str) or not isinstance(hit.get("@id"), str) or not offers:
            raise ValueError("not a catalog search hit (no dct:publisher, @id or offer)")
        if offer_id is None:
            rank = {"permit": 0, "conditional": 1}
            offer_id = min(offers, key=lambda o: rank.get(
                (o.get("tsunagu:decision") or {}).get("outcome"), 2))["@id"]
        elif offer_id not in {o["@id"] for o in offers}:
            raise ValueError(f"the hit has no offer {offer_id}")
        return await self.negotiate(provider, hit["@id"], str(offer_id), purpose=purpose)

    async def agreements(self) -> list[Agreement]:
        return [Agreement.model_validate(a)
                for a in (await self._request("GET", "/api/v1/agreements"))["items"]]

    async def terminate_agreement(self, agreement: str, reason: str) -> dict[str, Any]:
        """Provider: end an agreement; the consumer purges what it holds under it."""
        return await self._request("POST", f"/api/v1/agreements/{_segment(agreement)}/termination",
                                   json={"reason": reason})

    # --- residents' rights (docs/residents-rights.md): the person's token or staff's ------

    async def withdraw_consent(self, subject: str, reason: str | None = None
                               ) -> ConsentWithdrawal:
        """The person withdraws consent; every holder stops (and purges where its policy
        says so)."""
        body = {"reason": reason} if reason is not None else {}
        return ConsentWithdrawal.model_validate(await self._request(
            "POST", f"/api/v1/residents/{_segment(subject)}/consent-withdrawals", json=body))

    async def consent_withdrawals(self, subject: str) -> list[ConsentWithdrawal]:
        found = await self._request(
            "GET", f"/api/v1/residents/{_segment(subject)}/consent-withdrawals")
        return [ConsentWithdrawal.model_validate(w) for w in found["items"]]

    async def disclosure(self, subject: str) -> Disclosure:
        """What every holder keeps about the person, and who used it for what, when."""
        return Disclosure.model_validate(await self._request(
            "GET", f"/api/v1/residents/{_segment(subject)}/disclosure"))

    async def request_correction(self, subject: str, record: str, field: str, value: Any,
                                 reason: str) -> Correction:
        return Correction.model_validate(await self._request(
            "POST", f"/api/v1/residents/{_segment(subject)}/corrections",
            json={"record": record, "field": field, "value": value, "reason": reason}))

    async def corrections(self, subject: str | None = None, *, status: str | None = None
                          ) -> list[Correction]:
        """A person's requests (``subject``), or, for staff, every request (by ``status``)."""
        path = (f"/api/v1/residents/{_segment(subject)}/corrections" if subject is not None
                else "/api/v1/corrections")
        found = await self._request("GET", path, params={"status": status})
        return [Correction.model_validate(c) for c in found["items"]]

    async def register_resident_app(self, subject: str, participant: str) -> dict[str, Any]:
        """The person's app that is a participant of its own (a did:key, role
        resident_app) acts for them from now on, over the data space."""
        return await self._request(
            "POST", f"/api/v1/residents/{_segment(subject)}/apps",
            json={"participant": participant})

    async def decide_correction(self, correction: str, accept: bool,
                                reason: str | None = None) -> Correction:
        """Staff: accept (a new version is published) or refuse with a reason."""
        body: dict[str, Any] = {"accept": accept}
        if reason is not None:
            body["reason"] = reason
        return Correction.model_validate(await self._request(
            "POST", f"/api/v1/corrections/{_segment(correction)}/decision", json=body))

    async def negotiate(self, provider: str, dataset: str, offer: str, *,
                        purpose: str | None = None) -> Negotiation:
        """Ask ``provider`` for ``offer`` of ``dataset``; ``purpose`` is the declared use
        (an offer that constrains odrl:purpose is refused without one)."""
        body = {"provider": provider, "dataset": dataset, "offer": offer}
        if purpose is not None:
            body["purpose"] = purpose
        return Negotiation.model_validate(await self._request(
            "POST", "/api/v1/negotiations", json=body))

    async def negotiation(self, pid: str) -> Negotiation:
        return Negotiation.model_validate(
            await self._request("GET", f"/api/v1/negotiations/{_segment(pid)}"))

    async def negotiations(self) -> list[Negotiation]:
        return [Negotiation.model_validate(n)
                for n in (await self._request("GET", "/api/v1/negotiations"))["items"]]

    async def transfer(self, agreement: str, *, finite: bool = False) -> Transfer:
        """Start a transfer under an agreement: streaming until ended, or (``finite``) the
        dataset as it is now, after which the transfer completes."""
        body: dict[str, Any] = {"agreement": agreement}
        if finite:
            body["finite"] = True
        return Transfer.model_validate(await self._request("POST", "/api/v1/transfers", json=body))

    async def get_transfer(self, pid: str) -> Transfer:
        return Transfer.model_validate(
            await self._request("GET", f"/api/v1/transfers/{_segment(pid)}"))

    async def transfers(self) -> list[Transfer]:
        return [Transfer.model_validate(t)
                for t in (await self._request("GET", "/api/v1/transfers"))["items"]]

    # ------------------------------------------------------------ subscriptions

    async def subscribe(self, dataset: str | None = None, *, purpose: str | None = None,
                        after: int | None = None, idle_timeout: float = 60.0,
                        max_delay: float = 30.0) -> AsyncIterator[Event]:
        """Deliveries in order, for ``purpose`` (or the client's own), until the usage gate
        ends the stream; reconnects with Last-Event-ID after any drop.

        ``idle_timeout`` must exceed the server's heartbeat: silence longer than that means a
        dead connection. Auth, input and usage errors are raised (``StreamEnded`` when an
        agreement stops permitting: terminated, expired, the phase it needs has ended);
        server and network errors are retried.
        """
        last = after or 0
        delay = 1.0
        params = {k: v for k, v in (("dataset", dataset),
                                    ("purpose", purpose or self.purpose)) if v}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=idle_timeout)
        while True:
            headers = {**self._headers, "Accept": "text/event-stream",
                       "Last-Event-ID": str(last)}
            try:
                async with self.session.get(self._url("/api/v1/events"), params=params,
                                            headers=headers, timeout=timeout) as resp:
                    if resp.status >= 400:
                        error = _api_error(resp.status, await resp.read())
                        if resp.status < 500:
                            raise error
                        log.warning("event stream refused, retrying: %s", error)
                    else:
                        async for field, value in _sse_fields(resp.content):
                            if field == "retry" and value.isdigit():
                                delay = int(value) / 1000
                            elif field == "ended":
                                raise _stream_ended(value)
                            elif field == "event":
                                event = Event.model_validate(orjson.loads(value))
                                if event.seq > last:  # never hand the app a repeat
                                    last = event.seq
                                    yield event
            except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
                log.info("event stream dropped after %s, resuming: %s", last, exc)
            await asyncio.sleep(delay)
            delay = min(max(delay, 0.1) * 2, max_delay)  # reset by the server's retry field


async def _sse_fields(content: aiohttp.StreamReader) -> AsyncIterator[tuple[str, str]]:
    """('retry', ms) fields and ('event', data) per complete event; comments skipped.

    An event is dispatched only at its blank line, so one cut off mid-way by a dropped
    connection is never yielded (it arrives whole after the reconnect).
    """
    data: list[str] = []
    name = "message"
    async for raw in content:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield ("ended" if name == "ended" else "event"), "\n".join(data)
                data = []
            name = "message"
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
        elif field == "retry":
            yield "retry", value


class StreamEnded(ApiError):
    """The connector ended the event stream: the use is no longer permitted (``code``,
    ``problem.rule`` say why). Reconnecting would be refused the same way."""


def _stream_ended(data: str) -> StreamEnded:
    problem = Problem.model_validate(orjson.loads(data))
    return StreamEnded(problem.status, problem.code, problem.detail, problem)


def _api_error(status: int, body: bytes) -> ApiError:
    try:
        problem = Problem.model_validate(orjson.loads(body))
    except ValueError:
        return ApiError(status, f"http.{status}", body[:200].decode("utf-8", "replace"))
    return ApiError(status, problem.code, problem.detail, problem)

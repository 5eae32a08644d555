"""The provider's HTTP pull data plane: records of a transfer over HTTPS, with an EDR.

At the start of a transfer in the ``HttpData-PULL`` format the provider's TransferStartMessage
carries a data address: ``endpointType`` https://w3id.org/idsa/v4.1/HTTP (as in the DSP
examples), ``endpoint`` <base>/data/<providerPid>, and the endpoint properties
``authorization`` (a short-lived token naming the agreement, connector.dsp_http.edr),
``authType`` bearer and ``expiresAt`` (epoch seconds).

``GET <endpoint>?after=<seq>&limit=<n>`` with ``Authorization: Bearer <token>`` answers
``{"records": [{"seq", "event", "record"}], "next": <seq>}``: the dataset's record versions in
stream order after ``seq``, as signed (each keeps its own proof; the consumer verifies it).
Checked on every pull: the token (401), and that the transfer is STARTED with this consumer
and its agreement active (403), so terminating stops the data at once.
``POST <endpoint>/token`` with the consumer's DCP ID token renews the token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
from aiohttp import web

from connector.data.record_rows import RecordRows
from connector.dsp_http import edr, paths
from connector.dsp_http.auth import bearer, status_of
from connector.errors import ConnectorCode
from connector.protocol import agreements
from connector.protocol.dsp import messages as m
from connector.protocol.dsp import transfer as dt
from connector.protocol.dsp.statemachine import Role
from trust.errors import TsunaguError, ValidationError

if TYPE_CHECKING:
    from connector.dsp_http.binding import DspHttp
    from connector.protocol.dsp.transfer import Transfer
    from connector.protocol.processes import Row

HTTP_ENDPOINT_TYPE = "https://w3id.org/idsa/v4.1/HTTP"
PULL_FORMAT = "HttpData-PULL"  # the format name EDC uses for the HTTP pull data plane
DATA_PATH = "/data"
MAX_PAGE = 1000


def is_http_pull(format: str | None) -> bool:
    return str(format or "").lower() == PULL_FORMAT.lower()


def _problem(exc: TsunaguError) -> web.Response:
    return web.Response(body=orjson.dumps({"code": exc.code, "reason": [exc.message]}),
                        status=status_of(exc.code), content_type="application/json")


class DataPlane:
    def __init__(self, binding: DspHttp) -> None:
        self.binding = binding

    async def close(self) -> None:
        pass

    def add_routes(self, app: web.Application) -> None:
        base = paths.BASE_PATH + DATA_PATH + "/{tid}"
        app.router.add_get(base, self._pull)
        app.router.add_post(base + "/token", self._renew)

    def data_address(self, row: Row[Transfer]) -> dict[str, Any]:
        """The data address (with a fresh token) a provider starts ``row`` with."""
        provider_pid = row.record.provider_pid
        assert provider_pid is not None
        return m.data_address(HTTP_ENDPOINT_TYPE,
                              endpoint=f"{self.binding.base_url}{DATA_PATH}/"
                                       f"{quote(provider_pid, safe='')}",
                              properties=self._token(row))

    def _token(self, row: Row[Transfer]) -> dict[str, str]:
        c = self.binding.connector
        token, expires = edr.issue(c.identity.key, provider=c.did,
                                   consumer=str(row.record.counterparty),
                                   agreement_id=str(row.record.agreement_id),
                                   transfer_pid=str(row.record.provider_pid),
                                   lifetime_s=self.binding.settings.edr_lifetime_s)
        return {"authorization": token, "authType": "bearer", "expiresAt": str(expires)}

    def _active(self, tid: str, consumer: str, agreement_id: str | None = None
                ) -> tuple[Row[Transfer], dict[str, Any]]:
        c = self.binding.connector
        row = c.transfers.table.get(tid)
        if row is None or row.record.role != Role.PROVIDER \
                or row.record.counterparty != consumer \
                or (agreement_id is not None and row.record.agreement_id != agreement_id):
            raise edr.EdrError("no such transfer for this consumer",
                               code=ConnectorCode.EDR_INACTIVE)
        agreement = agreements.load(c.store, str(row.record.agreement_id))
        if row.record.state != dt.STARTED or agreement is None \
                or agreement["status"] != "active":
            raise edr.EdrError(f"the transfer is {row.record.state}"
                               + ("" if agreement is None else
                                  f" and its agreement {agreement['status']}"),
                               code=ConnectorCode.EDR_INACTIVE)
        return row, agreement

    async def _pull(self, request: web.Request) -> web.Response:
        c = self.binding.connector
        tid = request.match_info["tid"]
        try:
            token = edr.verify(bearer(request.headers.get("Authorization")),
                               keys=[c.identity.key], provider=c.did, transfer_pid=tid)
            _, agreement = self._active(tid, token.consumer, token.agreement_id)
            after, limit = _cursor(request)
        except TsunaguError as exc:
            c.metrics.inc("tsunagu_messages_rejected_total", reason=exc.code)
            return _problem(exc)
        rows = RecordRows(c.store).published_after(agreement["datasetId"], after, limit)
        body = b'{"records":[' + b",".join(
            b'{"seq":%d,"event":%s,"record":%s}' % (seq, orjson.dumps(event), data)
            for seq, event, data in rows) + b'],"next":%d}' % (rows[-1][0] if rows else after)
        return web.Response(body=body, content_type="application/json")

    async def _renew(self, request: web.Request) -> web.Response:
        tid = request.match_info["tid"]
        try:
            token, _ = await self.binding.auth.verify_learning(
                bearer(request.headers.get("Authorization")))
            row, _ = self._active(tid, token.subject)
        except TsunaguError as exc:
            self.binding.connector.metrics.inc("tsunagu_messages_rejected_total",
                                               reason=exc.code)
            return _problem(exc)
        return web.Response(body=orjson.dumps(self._token(row)), content_type="application/json")


def _cursor(request: web.Request) -> tuple[int, int]:
    try:
        after = int(request.query.get("after", "0"))
        limit = int(request.query.get("limit", "256"))
    except ValueError:
        raise ValidationError("after and limit must be integers",
                              code=ConnectorCode.DSP_INVALID_MESSAGE) from None
    if after < 0 or not 0 < limit <= MAX_PAGE:
        raise ValidationError(f"after must be >= 0 and limit 1..{MAX_PAGE}",
                              code=ConnectorCode.DSP_INVALID_MESSAGE)
    return after, limit

"""The DSP 2025-1 HTTPS endpoints, served by aiohttp from the same services as the bus.

Each request: the ID token (connector.dsp_http.auth: 401 / 403), the body (JSON, its
``@type`` the one the path serves, the process id in the path one the body names: 400),
the checks every binding makes (connector.protocol.dsp.intake: 400 with the protocol's
error), then ``Connector.dispatch``, exactly as for a request off the NATS bus; an error the
service answers with gets the status its code means (404 unknown process, 409 a message
its state does not allow). Nothing here decides protocol state.

Also served: the version document at ``/.well-known/dspace-version`` (no token: it says how
to talk to this connector), ``GET /negotiations/{pid}`` and ``GET /transfers/{pid}`` (the
process's state, to its counterparty only), and the HTTP pull data plane
(connector.dsp_http.data_plane).
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from connector.dsp_http import paths
from connector.dsp_http.auth import ANSWER_HEADER, Authenticator, bearer, status_of
from connector.errors import ConnectorCode
from connector.protocol.dsp import messages as m
from connector.protocol.dsp.intake import refusal_of
from connector.protocol.dsp.statemachine import ProtocolError
from connector.protocol.dsp.validation import MAX_CHARS
from connector.protocol.processes import is_error
from connector.runtime.ports import bind_port
from trust.envelope import Envelope
from trust.errors import TsunaguError, ValidationError

if TYPE_CHECKING:
    from connector.dsp_http.binding import DspHttp
    from connector.runtime.connector import Connector

log = logging.getLogger(__name__)

JSON = "application/json"
Tap = Callable[[str, str, bytes], None]  # (direction, path, the body's bytes as sent)


def version_document(base_path: str = paths.BASE_PATH) -> dict[str, Any]:
    """The ``/.well-known/dspace-version`` document (DSP 2025-1, common protocol)."""
    return {"protocolVersions": [{
        "version": "2025-1", "path": base_path, "binding": "HTTPS",
        "auth": {"protocol": "DCP", "version": "1.0", "profile": ["vc20-bssl/jwt"]},
        "identifierType": "did:key"}]}


def _json(body: dict[str, Any] | bytes, status: int, headers: dict[str, str] | None = None
          ) -> web.Response:
    return web.Response(body=body if isinstance(body, bytes) else orjson.dumps(body),
                        status=status, content_type=JSON, headers=headers)


class DspHttpServer:
    """The aiohttp application and its TLS listener."""

    def __init__(self, binding: DspHttp) -> None:
        self.binding = binding
        self.connector: Connector = binding.connector
        self.auth: Authenticator = binding.auth
        self._runner: web.AppRunner | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None  # the bound port (config port 0 picks one)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_CHARS)
        app.router.add_get(paths.VERSION_PATH, self._version)
        for route in paths.ROUTES:
            app.router.add_route(route.method, paths.BASE_PATH + route.path,
                                 self._handler(route))
        app.router.add_get(paths.BASE_PATH + paths.NEG + "/{pid}", self._state("negotiation"))
        app.router.add_get(paths.BASE_PATH + paths.TRA + "/{pid}", self._state("transfer"))
        self.binding.data_plane.add_routes(app)
        self.binding.notices.add_routes(app)
        return app

    def bind(self) -> None:
        """Take the port before the connector starts anything (a taken one: one line)."""
        if self._socket is None:
            settings = self.binding.settings
            self._socket = bind_port(settings.host, settings.port, what="DSP over HTTPS",
                                     fix="set another port under [dsp_https] in "
                                         "participant.toml (port = 0: any free one)")
            self.port = self._socket.getsockname()[1]

    def release(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def start(self, ssl_context: ssl.SSLContext) -> None:
        self.bind()
        assert self._socket is not None
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=5.0)
        await self._runner.setup()
        sock, self._socket = self._socket, None  # the site owns (and closes) it from here
        await web.SockSite(self._runner, sock, ssl_context=ssl_context).start()
        log.info("DSP over HTTPS listening", extra={"port": self.port,
                                                    "url": self.binding.base_url})

    async def stop(self) -> None:
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- handlers ------------------------------------------------------------------------

    async def _version(self, request: web.Request) -> web.Response:
        return _json(version_document(), 200)

    def _handler(self, route: paths.Route) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            return await self._message(request, route)
        return handle

    async def _message(self, request: web.Request, route: paths.Route) -> web.Response:
        message: dict[str, Any] = {}
        try:
            token, credential = await self.auth.verify_learning(
                bearer(request.headers.get("Authorization")))
            message = await self._body(request, route)
        except TsunaguError as exc:
            return self._refuse(request, route.message_type, message, exc)
        self.binding.tap("in", request.path, await request.read() if request.can_read_body
                         else b"")
        refused = refusal_of(route.message_type, message)
        if refused is not None:
            return self._answer(request, *refused[1], status=400)
        env = Envelope(sender=token.subject, recipient=self.connector.did,
                       message_id=token.jti, message_type=route.message_type,
                       issued_at=token.issued_at, expires_at=token.expires_at,
                       payload=message, credential=token.credential, signer=token.signer)
        try:
            reply_type, reply = await self.connector.dispatch(env, credential)
        except TsunaguError as exc:
            return self._refuse(request, route.message_type, message, exc)
        if is_error(reply_type):
            if reply_type == "error":  # a bus-level refusal: in the protocol's own shape
                reply_type, reply = m.refusal(route.message_type, message,
                                              code=str(reply.get("code")),
                                              reason=[str(reply.get("message"))])
            return self._answer(request, reply_type, reply,
                                status=status_of(str(reply.get("code", ""))))
        self.binding.learn(token.subject, message.get("callbackAddress"))
        return self._answer(request, reply_type, reply, status=201 if route.creates else 200,
                            headers={ANSWER_HEADER: self.auth.token_for(token.subject)})

    async def _body(self, request: web.Request, route: paths.Route) -> dict[str, Any]:
        if route.method == "GET":
            return m.dataset_request(request.match_info["id"])
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            raise ValidationError(f"the body is not JSON: {exc}",
                                  code=ConnectorCode.DSP_INVALID_MESSAGE) from None
        if not isinstance(body, dict):
            raise ValidationError("the body is not a JSON object",
                                  code=ConnectorCode.DSP_INVALID_MESSAGE)
        if body.get("@type") != route.message_type:
            raise ProtocolError(f"{request.path} takes a {route.message_type}",
                                code=ConnectorCode.DSP_HTTP_PATH_MISMATCH)
        pid = request.match_info.get("pid")
        if pid is not None and pid not in (body.get("providerPid"), body.get("consumerPid")):
            raise ProtocolError("the path names another process than the body",
                                code=ConnectorCode.DSP_HTTP_PATH_MISMATCH)
        return body

    def _refuse(self, request: web.Request, message_type: str, message: dict[str, Any],
                exc: TsunaguError) -> web.Response:
        log.info("DSP over HTTPS refused", extra={"code": exc.code, "path": request.path})
        self.connector.metrics.inc("tsunagu_messages_rejected_total", reason=exc.code)
        reply_type, reply = m.refusal(message_type, message, code=exc.code,
                                      reason=[exc.message[:1000]])
        return self._answer(request, reply_type, reply, status=status_of(exc.code))

    def _answer(self, request: web.Request, reply_type: str, reply: dict[str, Any], *,
                status: int, headers: dict[str, str] | None = None) -> web.Response:
        data = orjson.dumps(reply)
        self.binding.tap("out", request.path, data)
        return _json(data, status, headers)

    def _state(self, kind: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        """GET a process's state: its counterparty only, as ContractNegotiation /
        TransferProcess (what an ACK carries)."""
        message_type = "ContractRequestMessage" if kind == "negotiation" \
            else "TransferRequestMessage"

        async def state(request: web.Request) -> web.Response:
            pid = request.match_info["pid"]
            try:
                token, _ = await self.auth.verify_learning(
                    bearer(request.headers.get("Authorization")))
                found = self.binding.process_state(kind, pid, token.subject)
            except TsunaguError as exc:
                return self._refuse(request, message_type, {}, exc)
            return self._answer(request, str(found["@type"]), found, status=200)
        return state

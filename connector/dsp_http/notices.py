"""tsunagu's own messages over HTTPS: the notices DSP has no message for.

Agreement terminations, refusal notices, consent withdrawals, content key requests and the
other ``tsunagu:*`` messages travel on the NATS bus as signed envelopes (trust.envelope; a
payload that names a person or carries a key sealed to the recipient, trust.sealing). A
counterparty reached over HTTPS gets the very same envelope bytes:
``POST <base>/tsunagu/messages`` with ``Content-Type: application/jose`` and the DCP ID token
in ``Authorization``. The receiver checks the token (401 / 403, as every DSP request), then
opens the envelope exactly as the bus does (``DspBus.answer``: signature, credential, key
history, replay, sealed payloads) and hands it to ``Connector.dispatch``: the same handlers
whichever binding carried it. The answer is the responder's signed envelope (an ``error``
message when refused), opened as a bus reply (``DspBus.open_reply``). These bodies are
not DSP JSON-LD, so the wire taps (DSP conformance) do not record them.

DSP messages are not taken here: they have their own paths (connector.dsp_http.paths).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from aiohttp import web

from connector.bus.messaging import RemoteError, RemoteUnreachable
from connector.dsp_http import paths
from connector.dsp_http.auth import bearer, status_of
from connector.errors import ConnectorCode
from trust.credentials import VerifiedCredential
from trust.envelope import Envelope
from trust.errors import TsunaguError

if TYPE_CHECKING:
    from connector.dsp_http.binding import DspHttp

NOTICE_PATH = "/tsunagu/messages"
JOSE = "application/jose"  # a compact JWS (RFC 7515)


def _problem(code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "reason": [message]}, status=status_of(code))


class Notices:
    def __init__(self, binding: DspHttp) -> None:
        self.binding = binding

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(paths.BASE_PATH + NOTICE_PATH, self._receive)

    async def _receive(self, request: web.Request) -> web.Response:
        binding = self.binding
        connector = binding.connector
        data = await request.read()
        try:
            token, _ = await binding.auth.verify_learning(
                bearer(request.headers.get("Authorization")))
        except TsunaguError as exc:
            connector.metrics.inc("tsunagu_messages_rejected_total", reason=exc.code)
            return _problem(exc.code, exc.message)

        async def handle(env: Envelope, credential: VerifiedCredential
                         ) -> tuple[str, dict[str, Any]]:
            if env.sender != token.subject:
                raise TsunaguError("the envelope is signed by another participant than the "
                                   "ID token names", code=ConnectorCode.ENVELOPE_UNEXPECTED_SENDER)
            if paths.has_binding(env.message_type):
                raise TsunaguError(f"{env.message_type} has its own DSP path",
                                   code=ConnectorCode.DSP_HTTP_PATH_MISMATCH)
            return await connector.dispatch(env, credential)

        reply_to, reply = await connector.bus.answer(data, handle)
        if reply_to != token.subject:  # not addressable, or not the token's participant
            return _problem(ConnectorCode.ENVELOPE_UNEXPECTED_SENDER,
                            "the envelope's sender is not the ID token's participant")
        return web.Response(body=reply, status=200, content_type=JOSE)

    async def request(self, recipient: str, base_url: str, message_type: str,
                      payload: dict[str, Any], *, timeout: float = 5.0
                      ) -> tuple[Envelope, VerifiedCredential]:
        """Send a tsunagu message to ``recipient`` over HTTPS; its verified reply, as
        ``DspBus.request`` gives it (RemoteError / RemoteUnreachable alike)."""
        binding = self.binding
        assert binding.client is not None
        bus = binding.connector.bus
        data = bus.sealed(payload, recipient, message_type)
        headers = {"Authorization": "Bearer " + binding.auth.token_for(recipient),
                   "Content-Type": JOSE}
        try:
            async with binding.client.session().post(
                    base_url + NOTICE_PATH, data=data, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                raw, status = await response.read(), response.status
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise RemoteUnreachable(f"{base_url} did not answer ({type(exc).__name__})"
                                    ) from exc
        if status != 200 or response.content_type != JOSE:
            raise RemoteError(f"{base_url} refused the message (HTTP {status})",
                              code=_code_of(raw) or ConnectorCode.REMOTE_ERROR)
        return await bus.open_reply(raw, recipient)


def _code_of(raw: bytes) -> str | None:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return str(body["code"]) if isinstance(body, dict) and body.get("code") else None

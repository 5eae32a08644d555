"""Sends DSP 2025-1 messages over HTTPS, with the bus's contract: ``request`` returns the
verified answer as an ``Envelope`` and the responder's credential, or raises.

Each request carries a fresh self-issued ID token for the recipient (connector.dsp_http.auth);
a successful answer must carry the responder's token for us (``DSP-ID-Token``), verified as
every token is, so the answer is as authenticated as a reply on the bus. That header is
tsunagu's own: with ``[dsp_https] require_response_token = false`` an answer without it is
accepted from a peer that has never signed to this connector (not a tsunagu connector), on
the strength of TLS to its configured address; its credential is then None (unverified).
A tsunagu connector's answers need the token whatever the setting. DSP messages in
answers pass the checks every binding makes (``validation.check_received``). An error answer
(the protocol's ...Error JSON-LD, any 4xx/5xx) raises ``RemoteError`` with its code; no
answer at all ``RemoteUnreachable`` (the outbox resends). TLS is verified against the
system's trust store or the configured ``ca_file``: never switched off.
"""

from __future__ import annotations

import ssl
import time
import uuid
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from connector.bus.messaging import RemoteError, RemoteUnreachable
from connector.dsp_http import paths
from connector.dsp_http.auth import ANSWER_HEADER
from connector.errors import ConnectorCode
from connector.protocol.dsp.statemachine import Role
from connector.protocol.dsp.validation import SCHEMA_FOR_TYPE, check_received
from trust.credentials import VerifiedCredential
from trust.envelope import Envelope
from trust.errors import TsunaguError

if TYPE_CHECKING:
    from connector.dsp_http.binding import DspHttp

# What an answer without a body acknowledges (DSP lets a 200 carry none).
_ACK_OF = {"/negotiations": "ContractNegotiation", "/transfers": "TransferProcess",
           "/catalog": "Catalog"}


class DspHttpClient:
    def __init__(self, binding: DspHttp, ssl_context: ssl.SSLContext) -> None:
        self.binding = binding
        self.ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self.ssl_context))
        return self._session

    async def request(self, recipient: str, base_url: str, message_type: str,
                      payload: dict[str, Any], *, to_role: Role | None = None,
                      timeout: float = 5.0) -> tuple[Envelope, VerifiedCredential | None]:
        method, path = paths.outgoing(payload, to_role)
        url = base_url + path
        headers = {"Authorization": "Bearer " + self.binding.auth.token_for(recipient)}
        if method == "POST":
            headers["Content-Type"] = "application/json"
        data = orjson.dumps(payload) if method == "POST" else b""
        self.binding.tap("out", path, data)
        try:
            async with self.session().request(
                    method, url, headers=headers, data=data or None,
                    timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                raw = await response.read()
                status, token = response.status, response.headers.get(ANSWER_HEADER)
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            if isinstance(exc, aiohttp.ClientConnectorCertificateError):
                raise RemoteError(f"the TLS certificate of {base_url} is not trusted: "
                                  f"{exc.certificate_error}",
                                  code=ConnectorCode.REMOTE_UNREACHABLE) from exc
            raise RemoteUnreachable(f"{base_url} did not answer ({type(exc).__name__})"
                                    ) from exc
        self.binding.tap("in", path, raw)
        body = _json(raw)
        answer_type = str(body.get("@type") or _ack_type(path))
        if answer_type in SCHEMA_FOR_TYPE:
            check_received(body)  # an answer is a received message too
        if status >= 400 or answer_type.endswith("Error"):
            reason = body.get("reason")
            text = "; ".join(map(str, reason)) if isinstance(reason, list) else f"HTTP {status}"
            raise RemoteError(text or f"HTTP {status}",
                              code=str(body.get("code") or ConnectorCode.REMOTE_ERROR))
        if token is None and self._unsigned_allowed(recipient):
            now = int(time.time())
            return Envelope(sender=recipient, recipient=self.binding.connector.did,
                            message_id=f"unsigned:{uuid.uuid4()}", message_type=answer_type,
                            issued_at=now, expires_at=now, payload=body), None
        try:
            checked, credential = self.binding.auth.verify(token)
        except TsunaguError as exc:
            raise RemoteError(f"the answer from {base_url} is not signed by a participant: "
                              f"{exc.message}", code=ConnectorCode.DSP_HTTP_UNSIGNED_REPLY
                              ) from exc
        if checked.subject != recipient:
            raise RemoteError("the answer is signed by another participant than asked",
                              code=ConnectorCode.ENVELOPE_UNEXPECTED_SENDER)
        return Envelope(sender=checked.subject, recipient=checked.audience,
                        message_id=checked.jti, message_type=answer_type,
                        issued_at=checked.issued_at, expires_at=checked.expires_at,
                        payload=body, credential=checked.credential,
                        signer=checked.signer), credential

    def _unsigned_allowed(self, recipient: str) -> bool:
        return not self.binding.settings.require_response_token \
            and recipient not in self.binding.auth.signed_by


def _json(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"code": ConnectorCode.REMOTE_ERROR, "reason": ["the answer is not JSON"]}
    return body if isinstance(body, dict) else {}


def _ack_type(path: str) -> str:
    return next((t for prefix, t in _ACK_OF.items() if path.startswith(prefix)), "")

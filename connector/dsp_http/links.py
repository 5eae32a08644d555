"""Which binding carries a message to a counterparty: HTTPS where one is known for it
(connector.dsp_http.binding; DSP messages on their paths, tsunagu's own notices as signed
envelopes, connector.dsp_http.notices), else the NATS bus. The services send through here, so
the same state machines, policies and usage control serve both bindings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connector.protocol.dsp.statemachine import Role
from connector.runtime.identity import participant_id
from trust.credentials import VerifiedCredential
from trust.envelope import Envelope

if TYPE_CHECKING:
    from connector.runtime.connector import Connector


class DspLinks:
    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    def over_https(self, did: str) -> bool:
        https = self.connector.dsp_http
        return https is not None and https.address_of(did) is not None

    def callback_for(self, did: str) -> str:
        """The callbackAddress to give ``did``: where it answers us."""
        https = self.connector.dsp_http
        if https is not None and self.over_https(did):
            return https.base_url
        return f"nats:tsunagu.dsp.{participant_id(self.connector.did)}"

    async def request(self, recipient: str, message_type: str, payload: dict[str, Any], *,
                      to_role: Role | None = None, timeout: float = 5.0
                      ) -> tuple[Envelope, VerifiedCredential | None]:
        """The verified answer and the responder's credential; None only for an answer a
        non-tsunagu HTTPS peer gave without an ID token, where configuration allows it
        (``[dsp_https] require_response_token = false``)."""
        https = self.connector.dsp_http
        if https is not None and self.over_https(recipient):
            return await https.request(recipient, message_type, payload, to_role=to_role,
                                       timeout=timeout)
        return await self.connector.bus.request(recipient, message_type, payload,
                                                timeout=timeout)

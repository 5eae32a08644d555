"""The HTTPS binding as one connector part: its server, client, tokens and peers.

``peers``: the counterparties reached over HTTPS (connector.dsp_http.peers): configured, or
learned from an authenticated request's ``callbackAddress`` and kept in the store.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from connector.bus.messaging import RemoteUnreachable
from connector.dsp_http import paths
from connector.dsp_http.auth import Authenticator
from connector.dsp_http.client import DspHttpClient
from connector.dsp_http.data_plane import DataPlane
from connector.dsp_http.notices import Notices
from connector.dsp_http.peers import Peers
from connector.dsp_http.server import DspHttpServer, Tap
from connector.errors import ConnectorCode
from connector.protocol.dsp import negotiation as dn
from connector.protocol.dsp import transfer as dt
from connector.protocol.dsp.statemachine import ProtocolError, Role
from connector.runtime.config import DspHttpsSection
from trust.credentials import VerifiedCredential
from trust.envelope import Envelope
from trust.errors import ConfigError

if TYPE_CHECKING:
    from connector.runtime.connector import Connector


def server_context(settings: DspHttpsSection) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.cert_file, settings.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"[dsp_https] cannot load the TLS certificate {settings.cert_file} "
                          f"with its key {settings.key_file}: {exc}") from exc
    return context


def client_context(settings: DspHttpsSection) -> ssl.SSLContext:
    """Peers' certificates verified against ``ca_file`` (instead of the system's store)."""
    try:
        return ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"[dsp_https] cannot load the trust anchors {settings.ca_file}: "
                          f"{exc}") from exc


class DspHttp:
    def __init__(self, connector: Connector, settings: DspHttpsSection) -> None:
        self.connector, self.settings = connector, settings
        self.auth = Authenticator(connector)
        self.peers = Peers(connector, settings.peers)
        self.taps: list[Tap] = []  # every body's bytes sent and received (conformance tests)
        self.data_plane = DataPlane(self)
        self.notices = Notices(self)  # tsunagu's own messages (terminations, ...)
        self.server = DspHttpServer(self)
        self.client: DspHttpClient | None = None
        self._contexts: tuple[ssl.SSLContext, ssl.SSLContext] | None = None

    @property
    def base_url(self) -> str:
        """This connector's DSP base URL: callbackAddress, data addresses."""
        root = self.settings.public_url
        if root is None:
            root = f"https://{self.settings.host}:{self.server.port or self.settings.port}"
        return root + paths.BASE_PATH

    def bind(self) -> None:
        """Before the connector starts anything: the TLS files load and the port is ours,
        or one line says which is wrong."""
        if self._contexts is None:
            self._contexts = (server_context(self.settings), client_context(self.settings))
        self.server.bind()

    def release(self) -> None:
        self.server.release()

    async def start(self) -> None:
        self.bind()
        assert self._contexts is not None
        server, client = self._contexts
        self.client = DspHttpClient(self, client)
        await self.server.start(server)

    async def stop(self) -> None:
        self.peers.forget_loaded()
        await self.server.stop()
        if self.client is not None:
            await self.client.close()
        await self.data_plane.close()

    # --- peers ---------------------------------------------------------------------------

    def address_of(self, did: str) -> str | None:
        return self.peers.address_of(did)

    def learn(self, did: str, callback: Any) -> None:
        self.peers.learn(did, callback)

    def tap(self, direction: str, path: str, data: bytes) -> None:
        for tap in self.taps:
            tap(direction, path, data)

    # --- sending -------------------------------------------------------------------------

    async def request(self, recipient: str, message_type: str, payload: dict[str, Any], *,
                      to_role: Role | None = None, timeout: float = 5.0
                      ) -> tuple[Envelope, VerifiedCredential | None]:
        base = self.address_of(recipient)
        if base is not None and self.client is None:  # not started (yet): resent later
            raise RemoteUnreachable("DSP over HTTPS is not started")
        if base is None or self.client is None:
            raise ProtocolError(f"no DSP over HTTPS address for {recipient[:24]}...",
                                code=ConnectorCode.DSP_HTTP_NO_PEER)
        if not paths.has_binding(message_type):  # a tsunagu notice: its signed envelope
            return await self.notices.request(recipient, base, message_type, payload,
                                              timeout=timeout)
        return await self.client.request(recipient, base, message_type, payload,
                                         to_role=to_role, timeout=timeout)

    # --- process state for GET /negotiations/{pid}, /transfers/{pid} ----------------------

    def process_state(self, kind: str, pid: str, caller: str) -> dict[str, Any]:
        if kind == "negotiation":
            row = self.connector.negotiations.table.get(pid)
            if row is not None and row.record.counterparty == caller:
                return dn.ack_message(row.record)
        else:
            found = self.connector.transfers.table.get(pid)
            if found is not None and found.record.counterparty == caller:
                return dt.ack_message(found.record)
        raise ProtocolError(f"no {kind} {pid[:80]} with this participant",
                            code=ConnectorCode.DSP_UNKNOWN_PROCESS)

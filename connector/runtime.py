"""The connector a participant runs: store, NATS, DSP endpoint and the services on them.

``Connector`` only assembles parts; the protocol and data logic live in services
(``Service.start(connector)``) that register DSP message handlers with ``route``. Start order:
store -> identity -> NATS -> services (which resume unfinished work) -> DSP endpoint, so no
request is served before the state it needs is loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from nats.aio.client import Client
from nats.js import JetStreamContext

from connector.audit import AuditLog
from connector.config import ConnectorConfig
from connector.dsp.statemachine import ProtocolError
from connector.facts import WorldFacts
from connector.identity import CredentialChecker, Identity
from connector.messaging import DspBus
from connector.metrics import Metrics
from connector.nats_connection import PUBLISH_ASYNC_MAX_PENDING, close_nats, connect
from connector.nats_server import EmbeddedNatsServer
from connector.plugins import activate_plugins, load_domain_plugins
from connector.record_events import RecordListeners
from connector.status_lists import StatusListRefresher
from connector.store import Store
from trust.credentials import StatusListProvider, VerifiedCredential
from trust.envelope import Envelope
from trust.errors import ConfigError
from trust.keys import load_key
from trust.status_list import StatusListCache

log = logging.getLogger(__name__)

DspHandler = Callable[[Envelope, VerifiedCredential], Awaitable[tuple[str, dict[str, Any]]]]


class Service(Protocol):
    async def start(self, connector: Connector) -> None: ...
    async def stop(self) -> None: ...


class Connector:
    def __init__(
        self,
        config: ConnectorConfig,
        *,
        services: list[Service] | None = None,
        status_lists: StatusListProvider | None = None,
    ) -> None:
        self.config = config
        self.services: list[Service] = list(services or [])
        self.metrics = Metrics()
        self._status_lists = status_lists
        self._routes: dict[str, DspHandler] = {}
        self._refresher: StatusListRefresher | None = None
        # Domains follow record changes inside their transactions (connector.record_events).
        self.record_listeners = RecordListeners()
        # Domain plug-ins' services by plug-in name (connector.plugins.DomainService).
        self.domain_services: dict[str, Any] = {}
        self._server: EmbeddedNatsServer | None = None
        self.store: Store
        self.audit: AuditLog
        self.identity: Identity
        self.checker: CredentialChecker
        self.nc: Client
        self.js: JetStreamContext
        self.bus: DspBus

    @property
    def did(self) -> str:
        return self.identity.did

    def route(self, message_type: str, handler: DspHandler) -> None:
        if message_type in self._routes:
            raise ValueError(f"two services handle {message_type}")
        self._routes[message_type] = handler

    async def _dispatch(self, env: Envelope, credential: VerifiedCredential
                        ) -> tuple[str, dict[str, Any]]:
        handler = self._routes.get(env.message_type)
        if handler is None:  # counted by the bus with every other refusal
            raise ProtocolError(f"this connector does not handle {env.message_type!r}",
                                code="dsp.unknown_message")
        return await handler(env, credential)

    def _load_identity(self) -> Identity:
        key = load_key(self.config.key_path)
        try:
            credential = self.config.credential_path.read_text(encoding="ascii").strip()
        except OSError as exc:
            raise ConfigError(f"no participant credential at {self.config.credential_path}; "
                              "ask the authority to issue one") from exc
        return Identity(key=key, credential=credential)

    async def _status_list_provider(self) -> StatusListProvider:
        if self._status_lists is not None:
            return self._status_lists
        cache = StatusListCache(self.config.authority.dids)
        if self.config.authority.status_list_url:
            self._refresher = StatusListRefresher(cache, self.config.authority.status_list_url,
                                                  self.config.authority.status_list_refresh_s)
            await self._refresher.start()
        return cache

    async def _connect_nats(self) -> Client:
        settings = self.config.nats
        if not settings.urls:
            self._server = EmbeddedNatsServer(self.config.nats_store_dir)
            await self._server.start()
            settings = settings.model_copy(update={"urls": [self._server.url]})
        return await connect(settings.model_copy(update={"name": self.config.participant.name}))

    async def start(self) -> None:
        self.started_at = datetime.now(UTC)
        self._routes = {}  # services register again on every start
        self.store = Store(self.config.store_path)
        self.audit = AuditLog(self.store)
        self.facts = WorldFacts(self.store, self.audit, self.config.facts)
        activate_plugins(load_domain_plugins())  # their contexts and operands, before any data
        self.identity = self._load_identity()
        self.checker = CredentialChecker(self.config.authority.dids,
                                         await self._status_list_provider())
        self.nc = await self._connect_nats()
        self.js = self.nc.jetstream(publish_async_max_pending=PUBLISH_ASYNC_MAX_PENDING)
        self.bus = DspBus(self.nc, self.identity, self.checker, self.metrics)
        for service in self.services:
            await service.start(self)
        await self.bus.serve(self._dispatch)
        log.info("connector started", extra={"participant": self.did})

    async def stop(self) -> None:
        await self.bus.close()
        for service in reversed(self.services):
            await service.stop()
        if self._refresher is not None:
            await self._refresher.stop()
        await close_nats(self.nc, timeout=2.0)
        if self._server is not None:
            await self._server.stop()
        self.store.close()
        log.info("connector stopped", extra={"participant": self.did})

    async def __aenter__(self) -> Connector:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

"""The connector a participant runs: store, NATS, DSP endpoint and the services on them.

``Connector`` assembles its parts and services in one place (``__init__``: typed attributes,
nothing attached later); the protocol and data logic live in the services, which register
DSP message handlers with ``route``. Start order: store -> plug-ins' contexts and rules ->
identity -> NATS -> usage gate -> services (``startup``: they resume unfinished work) -> DSP
endpoint, so no request is served before the state it needs is loaded.

NATS: with the user credentials the authority issued (operator mode, the default) the
connector logs in as its participant's user, with replies on ``_INBOX.<participant-id>``,
and asks the authority to open stream imports for its transfers (``self.grants``). Without
credentials it starts only with ``nats.insecure_no_auth`` (logged as insecure).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from connector.api.app import ApiServer
from connector.bus.connection import PUBLISH_ASYNC_MAX_PENDING, close_nats, connect
from connector.bus.creds_watch import CredentialsWatch
from connector.bus.messaging import DspBus
from connector.bus.server import EmbeddedNatsServer
from connector.catalog_node.service import CatalogNodeService
from connector.control.audit import AuditLog
from connector.control.duties import DutyService
from connector.control.facts import WorldFacts
from connector.control.gate import UsageGate
from connector.data.consent import ConsentService
from connector.data.content_keys import ContentKeys
from connector.data.content_rules import ContentRules
from connector.data.contributions import ContributionService
from connector.data.corrections import CorrectionService
from connector.data.datasets import DatasetService
from connector.data.disclosure import DisclosureService
from connector.data.record_events import RecordListeners
from connector.data.records import RecordService
from connector.data.resident_apps import ResidentAppService
from connector.data.transfers import TransferService
from connector.dsp_http.binding import DspHttp
from connector.dsp_http.links import DspLinks
from connector.errors import ConnectorCode
from connector.plugins.contract import DomainPlugin
from connector.plugins.registry import (
    activate_plugins,
    content_rules,
    load_domain_plugins,
    plugin_contexts,
    record_subjects,
)
from connector.protocol.agreements import AgreementService
from connector.protocol.catalog_client import CatalogClient
from connector.protocol.dsp.statemachine import ProtocolError
from connector.protocol.grants import GrantClient
from connector.protocol.negotiations import NegotiationService
from connector.runtime.at_rest import (
    load_participant_key,
    nats_settings,
    reload_credentials,
)
from connector.runtime.backup import RESTORED_MARKER
from connector.runtime.config import ConnectorConfig
from connector.runtime.identity import CredentialChecker, Identity
from connector.runtime.key_book import Fetch, KeyBook, http_fetcher
from connector.runtime.key_watch import KeyWatch
from connector.runtime.metrics import Metrics
from connector.runtime.preflight import check_ready_to_start
from connector.runtime.status_lists import StatusListRefresher
from connector.store.database import Store
from trust.at_rest import AtRestKey
from trust.authority_keys import AuthorityKeyring
from trust.credentials import (
    SIGNING_KEY,
    StatusListProvider,
    VerifiedCredential,
    decode_vc_jwt,
)
from trust.envelope import Envelope
from trust.errors import ConfigError, TsunaguError
from trust.jsonld import ContextRegistry
from trust.key_history import KeyHistoryCache
from trust.keys import KeyPair
from trust.status_list import StatusListCache

log = logging.getLogger(__name__)

DspHandler = Callable[[Envelope, VerifiedCredential], Awaitable[tuple[str, dict[str, Any]]]]


@dataclass(frozen=True)
class Tuning:
    """How fast the services retry and how much they batch; tests shorten the waits."""

    publish_timeout: float = 5.0  # records: a JetStream ack
    publish_retry_s: float = 5.0  # records: the outbox retry loop
    negotiation_retry_s: float = 1.0
    transfer_retry_s: float = 1.0
    transfer_batch: int = 256  # records per pull fetch
    credential_ttl: float = 30.0  # how long a provider's credential check is reused
    duty_interval: float = 30.0  # seconds between runs of the delete duties
    content_key_lifetime_s: float = 86400.0  # a sealed stream's key is replaced this often
    credentials_watch_s: float = 2.0  # how often the NATS credentials file is looked at
    notice_retry_s: float = 5.0  # consent withdrawal notices not acknowledged are resent


class Lifecycle(Protocol):
    """What the connector starts in order and stops in reverse."""

    async def startup(self) -> None: ...
    async def shutdown(self) -> None: ...


class Connector:
    """One participant's connector: its parts and services, assembled here once.

    The services are typed attributes, set in ``__init__`` and started by ``start`` in this
    order: data plane (datasets, records), contracts (agreements, negotiations), transfers,
    duties, contributions, catalog client, catalog node (when configured), the domain
    plug-ins' services, and the app API last, so no request arrives before the services it
    calls have resumed their work. Nothing is attached later and nothing is looked up by
    name. ``plugins``: the domain plug-ins to run (default: every installed one,
    ``connector.plugins.registry``);
    ``contexts``: JSON-LD contexts to serve besides the core ones and the plug-ins' (each
    connector has its own registry, ``self.contexts``); ``api``: serve the app API on
    ``config.api`` (tests that serve it themselves pass False).
    """

    def __init__(
        self,
        config: ConnectorConfig,
        *,
        tuning: Tuning = Tuning(),
        status_lists: StatusListProvider | None = None,
        key_histories: Fetch | None = None,
        plugins: Sequence[DomainPlugin] | None = None,
        contexts: ContextRegistry | None = None,
        api: bool = False,
        api_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.tuning = tuning
        self.metrics = Metrics()
        self.started_at: datetime | None = None
        self._status_lists = status_lists
        self._key_histories = key_histories
        self._routes: dict[str, DspHandler] = {}
        self._refresher: StatusListRefresher | None = None
        self._server: EmbeddedNatsServer | None = None
        self.plugins: tuple[DomainPlugin, ...] = tuple(
            load_domain_plugins() if plugins is None else plugins)
        # Parts made at start (a stopped connector can start again).
        self.at_rest: AtRestKey | None = None  # [at_rest]: store, key and NATS seed sealed
        self.store: Store
        self.audit: AuditLog
        self.facts: WorldFacts
        self._base_contexts = contexts
        self.contexts = ContextRegistry.core()  # replaced at start: plus the plug-ins' own
        self.content_rules = ContentRules()
        self.identity: Identity
        self.checker: CredentialChecker
        # The trusted authorities and their key chains (trust.authority_keys), shared by
        # every check of what they sign: credentials, status lists, key histories, grants.
        self.keyring = AuthorityKeyring(config.authority.dids)
        self.nc: Client | None = None
        self.creds_watch: CredentialsWatch | None = None
        self.key_watch: KeyWatch | None = None  # a key installed by connector rotate-key
        self.js: JetStreamContext
        self.bus: DspBus
        # DSP over HTTPS beside the bus ([dsp_https]); ``dsp`` picks the binding per peer.
        self.dsp_http = DspHttp(self, config.dsp_https) if config.dsp_https else None
        self.dsp = DspLinks(self)
        self.grants: GrantClient | None = None  # operator mode: the authority opens streams
        self.gate: UsageGate  # the one door to received data
        # Own records followed by domains inside their transactions (connector.record_events).
        self.record_listeners = RecordListeners()
        # The services, in start order.
        self.content_keys = ContentKeys(self, lifetime_s=tuning.content_key_lifetime_s)
        self.datasets = DatasetService(self)
        self.records = RecordService(self, publish_timeout=tuning.publish_timeout,
                                     retry_interval=tuning.publish_retry_s)
        self.agreements = AgreementService(self)
        self.negotiations = NegotiationService(self, retry_s=tuning.negotiation_retry_s)
        self.transfers = TransferService(self, batch=tuning.transfer_batch,
                                         retry_s=tuning.transfer_retry_s,
                                         credential_ttl=tuning.credential_ttl)
        self.duties = DutyService(self, duty_interval=tuning.duty_interval)
        self.contributions = ContributionService(self)
        # Residents' rights (docs/residents-rights.md): withdrawal, disclosure, correction.
        self.consent = ConsentService(self, retry_s=tuning.notice_retry_s)
        self.disclosure = DisclosureService(self)
        self.corrections = CorrectionService(self)
        self.resident_apps = ResidentAppService(self)
        self.catalog = CatalogClient(self)
        # A federated catalog node, when [catalog_node] enables one (docs/catalog.md).
        self.catalog_node = CatalogNodeService(self)
        # Each plug-in's own service, by plug-in name (the plug-in gets it handed back).
        self.plugin_services: dict[str, Lifecycle] = {
            p.name: p.service(self) for p in self.plugins if p.service is not None}
        self.api = ApiServer(self, plugins=self.plugins, **(api_options or {})) if api \
            else None

    def _lifecycle(self) -> list[Lifecycle]:
        return [self.content_keys, self.datasets, self.records, self.agreements, self.negotiations,
                self.transfers, self.duties, self.contributions, self.consent,
                self.disclosure, self.corrections, self.resident_apps, self.catalog,
                self.catalog_node, *self.plugin_services.values(),
                *([self.api] if self.api else [])]

    @property
    def nats_connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    @property
    def did(self) -> str:
        return self.identity.did

    def route(self, message_type: str, handler: DspHandler) -> None:
        if message_type in self._routes:
            raise ValueError(f"two services handle {message_type}")
        self._routes[message_type] = handler

    async def dispatch(self, env: Envelope, credential: VerifiedCredential
                       ) -> tuple[str, dict[str, Any]]:
        """The service that handles ``env``'s message type answers it: one entry for every
        binding (the NATS bus, DSP over HTTPS), after each has verified the sender."""
        handler = self._routes.get(env.message_type)
        if handler is None:  # counted by the bus with every other refusal
            raise ProtocolError(f"this connector does not handle {env.message_type!r}",
                                code=ConnectorCode.DSP_UNKNOWN_MESSAGE)
        return await handler(env, credential)

    @property
    def store_key(self) -> bytes | None:
        """SQLCipher's key for every store of this connector (the plug-ins' own files too),
        None where nothing is encrypted at rest."""
        return None if self.at_rest is None else self.at_rest.store_key

    def _load_identity(self) -> Identity:
        key = load_participant_key(self.config.key_path, self.at_rest)
        try:
            credential = self.config.credential_path.read_text(encoding="ascii").strip()
        except OSError as exc:
            raise ConfigError(f"no participant credential at {self.config.credential_path}; "
                              "ask the authority to issue one") from exc
        did = self._identity_of(credential, key)
        return Identity(key=key, credential=credential, did=did)

    def _identity_of(self, credential: str, key: KeyPair) -> str:
        """The identity DID ``credential`` names, refusing it unless it binds ``key``
        (the identity key itself, or the ``signingKey`` after a rotation)."""
        subject = decode_vc_jwt(credential, self.keyring).payload.get(
            "credentialSubject")
        did = subject.get("id") if isinstance(subject, dict) else None
        bound = subject.get(SIGNING_KEY, did) if isinstance(subject, dict) else None
        if not isinstance(did, str) or bound != key.did:
            raise ConfigError(f"the credential in {self.config.credential_path} is not for "
                              f"the key in {self.config.key_path} (after a key rotation, "
                              "install both: tsunagu connector rotate-key --install)")
        return did

    async def rotate_key(self, key: KeyPair, credential: str) -> None:
        """Sign with ``key`` and present ``credential`` from now on, without stopping: the
        authority has bound ``key`` to this participant's identity (``trust.key_history``);
        subjects, agreements and transfers keep naming the identity DID. Writing the new
        key and credential to disk is the caller's (``tsunagu connector rotate-key``)."""
        await self.checker.keys.refresh(force=True)  # the authority may have rotated too
        if self._identity_of(credential, key) != self.did:
            raise ConfigError("the credential names another participant")
        verified = self.checker.check(credential, self.did, signer=key.did)
        previous = self.identity.key.did
        self.identity.use(key, credential)
        with self.store.transaction():
            self.audit.append("key_rotated", key=key.did, previous=previous,
                              credential=verified.credential_id)
        log.info("signing key rotated", extra={"participant": self.did, "key": key.did})

    async def _rotate_from_disk(self, key: KeyPair, credential: str) -> None:
        if (key.did, credential) != (self.identity.key.did, self.identity.credential):
            await self.rotate_key(key, credential)

    def _key_refused(self, sender: str | None, key: str | None, exc: TsunaguError) -> None:
        """Audit a request signed by a key that did not speak for its sender then."""
        with self.store.transaction():
            self.audit.append("key_refused", code=exc.code, sender=sender, key=key)

    def _key_book(self) -> KeyBook:
        """Key histories from ``key_histories`` (tests), else fetched over HTTP beside the
        status list when that is fetched (``key_history_url``)."""
        fetch = self._key_histories
        url = self.config.authority.key_histories_at()
        if fetch is None and self._status_lists is None and url:
            fetch = http_fetcher(url)
        return KeyBook(KeyHistoryCache(self.keyring), fetch)

    async def _status_list_provider(self, keys: KeyBook) -> StatusListProvider:
        if self._status_lists is not None:
            return self._status_lists
        cache = StatusListCache(self.keyring)
        if self.config.authority.status_list_url:
            self._refresher = StatusListRefresher(cache, self.config.authority.status_list_url,
                                                  self.config.authority.status_list_refresh_s,
                                                  on_refresh=self.status_changed,
                                                  before=lambda: keys.refresh(force=True))
            await self._refresher.start()
        return cache

    async def status_changed(self) -> None:
        """A newer status list arrived (key histories were fetched just before it): end
        agreements with participants it revokes."""
        await self.agreements.end_with_revoked()

    async def _connect_nats(self) -> Client:
        settings = self.config.nats
        if not settings.has_credentials:  # insecure_no_auth: check_ready_to_start saw to it
            log.warning("INSECURE: NATS without credentials; the server isolates nothing "
                        "between participants (development only)")
        if not settings.urls:
            self._server = EmbeddedNatsServer(
                self.config.nats_store_dir,
                jetstream_key=self.at_rest.jetstream_key if self.at_rest else None)
            await self._server.start()
            settings = settings.model_copy(update={"urls": [self._server.url]})
        settings = nats_settings(settings, self.at_rest)  # a sealed seed stays in memory
        return await connect(settings.model_copy(update={
            "name": self.config.participant.name,
            # Replies to this connector's requests stay in its own part of the inbox space.
            "inbox_prefix": f"_INBOX.{self.identity.participant_id}"}))

    def _grant_client(self) -> GrantClient | None:
        if not self.config.nats.has_credentials:
            return None
        # The authority that issued our credential runs the data space's NATS.
        issuer = decode_vc_jwt(self.identity.credential, self.keyring).issuer
        return GrantClient(self.nc, self.identity, issuer, self.bus.replay_cache,
                           keyring=self.keyring,
                           learn=lambda: self.checker.keys.refresh(force=True))

    async def start(self) -> None:
        # Before anything is touched: what is missing, and the app API's port (a taken port
        # is a one-line error here, not a traceback after NATS and the store started).
        check_ready_to_start(self.config, needs_status_list=self._status_lists is None)
        try:
            if self.api is not None:
                self.api.bind()
            if self.dsp_http is not None:
                self.dsp_http.bind()  # its TLS files and port, also before anything starts
            await self._start_parts()
        except BaseException:
            if self.api is not None:
                self.api.release()  # the port goes back if the API never served on it
            if self.dsp_http is not None:
                self.dsp_http.release()
            raise

    async def _start_parts(self) -> None:
        self.started_at = datetime.now(UTC)
        self._routes = {}  # services register again on every start
        self.at_rest = self.config.load_at_rest_key()
        self.store = Store(self.config.store_path, self.store_key)
        self.audit = AuditLog(self.store)
        # Their operands, vocabularies and dataset types, before any fact or record is read.
        activate_plugins(self.plugins)
        self.facts = WorldFacts(self.store, self.audit, self.config.facts)
        self.contexts = plugin_contexts(self.plugins, self._base_contexts)  # ours alone
        self.content_rules = content_rules(self.plugins, self.contexts)  # sent and received
        self.keyring = AuthorityKeyring(self.config.authority.dids)
        self.identity = self._load_identity()
        keys = self._key_book()
        await keys.refresh(force=True)  # before anything is verified with it
        self.checker = CredentialChecker(self.keyring, await self._status_list_provider(keys),
                                         keys=keys)
        self.nc = await self._connect_nats()
        if self.config.nats.credentials_file is not None:  # a rotated account key's new user
            path, at_rest = self.config.nats.credentials_file, self.at_rest
            self.creds_watch = CredentialsWatch(
                self.nc, path, self.tuning.credentials_watch_s,
                reload=(lambda: reload_credentials(self.nc, path, at_rest)) if at_rest else None)
            self.creds_watch.start()
        self.js = self.nc.jetstream(publish_async_max_pending=PUBLISH_ASYNC_MAX_PENDING)
        self.bus = DspBus(self.nc, self.identity, self.checker, self.metrics,
                          on_key_refused=self._key_refused)
        self.grants = self._grant_client()
        self.gate = UsageGate(self, subjects_of=record_subjects(self.plugins))
        self.facts.on_change(self.gate.changed)
        started: list[Lifecycle] = []
        try:
            for service in self._lifecycle():
                await service.startup()
                started.append(service)
        except BaseException:
            # A service that cannot start (the app API's port taken): leave nothing running,
            # so the caller's one-line error is the whole story.
            for service in reversed(started):
                with contextlib.suppress(Exception):
                    await service.shutdown()
            await self._release_parts()
            raise
        await self.bus.serve(self.dispatch)
        if self.dsp_http is not None:
            try:
                await self.dsp_http.start()
            except BaseException:
                await self.stop()
                raise
        self.key_watch = KeyWatch(self.config.key_path, self.config.credential_path,
                                  self._rotate_from_disk, self.tuning.credentials_watch_s,
                                  at_rest=self.at_rest)
        self.key_watch.start()
        await self.status_changed()  # revocations that happened while it was down
        await self._renew_after_restore()
        log.info("connector started", extra={"participant": self.did})

    async def _renew_after_restore(self) -> None:
        """First start after ``tsunagu connector restore``: what the providers delivered
        after the backup is not in this store, so each consumed stream is read again from
        its start (connector.runtime.backup)."""
        marker = self.config.data_dir / RESTORED_MARKER
        if not marker.is_file():
            return
        renewed = await self.transfers.renew_all("restored from a backup")
        with self.store.transaction():
            self.audit.append("restored", transfers=len(renewed))
        marker.unlink()
        log.info("restored from a backup: transfers renewed", extra={"transfers": len(renewed)})

    async def stop(self) -> None:
        # A connection the server closed (e.g. the participant was revoked) has nothing
        # left to unsubscribe; stopping must still release the store and the services.
        with contextlib.suppress(nats.errors.ConnectionClosedError):
            await self.bus.close()
        if self.dsp_http is not None:
            await self.dsp_http.stop()
        for service in reversed(self._lifecycle()):
            await service.shutdown()
        await self._release_parts()
        log.info("connector stopped", extra={"participant": self.did})

    async def _release_parts(self) -> None:
        """Close what ``start`` opened before the services: gate, status lists, NATS, store."""
        await self.gate.close()
        if self._refresher is not None:
            await self._refresher.stop()
        if self.creds_watch is not None:
            await self.creds_watch.stop()
            self.creds_watch = None
        if self.key_watch is not None:
            await self.key_watch.stop()
            self.key_watch = None
        if self.nc is not None:
            await close_nats(self.nc, timeout=2.0)
        if self._server is not None:
            await self._server.stop()
        self.store.close()

    async def __aenter__(self) -> Connector:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

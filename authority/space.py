"""The data-space authority's side of NATS (operator mode), kept beside its other state.

- Accounts: the ``NatsAccountManager`` state lives in ``<authority>/nats.json`` (0600, atomic
  replace, under the authority's lock), with the server's URL and the agreements that ended.
  Every change loads it, changes it, pushes what changed to the server (when connected) and
  writes it back in one locked session, so ``tsunagu authority issue`` / ``revoke`` in one
  process and ``tsunagu authority serve`` in another change the same accounts and never mint
  an older iat. Changes that could not be pushed stay pending and are pushed by the next
  session that can (``serve`` looks every ``PUSH_INTERVAL_S``).
- The server: :meth:`AuthorityNats.start` runs the embedded nats-server in operator mode (or
  attaches to one already configured with :meth:`AuthorityNats.server_config`) and records
  its URL.
- Grants: the authority's own NATS user answers ``connector.protocol.grants`` requests. Before
  an import is opened it checks: the request is signed by the sender its subject names; the
  sender holds a live credential in the registry and is the agreement's provider; the
  agreement is signed by that provider and countersigned by its consumer, who also holds a
  live credential; the agreement was not reported ended. Closing an import needs the same
  signed agreement from either party.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nats.aio.client import Client

from authority.accounts import NatsAccountManager, NatsAccountsError, Onboarded
from authority.errors import AuthorityCode
from authority.grant_desk import GrantDesk
from authority.state import NATS_FILE, Authority, AuthorityBusy
from connector.bus.connection import NatsConnectError, NatsSettings, close_nats, connect
from connector.bus.server import EmbeddedNatsServer
from connector.errors import ConnectorCode
from connector.protocol import agreements
from connector.protocol.grants import (
    GRANT,
    GRANTED,
    REGISTRY,
    REGISTRY_REQUEST,
    REVOKE,
    REVOKED,
    Reply,
)
from connector.runtime.identity import participant_id
from connector.runtime.ports import bind_port, pick_free_port
from trust.credentials import format_datetime
from trust.envelope import Envelope
from trust.errors import TsunaguError
from trust.key_history import parse_signed_at
from trust.proofs import KeyCheck

log = logging.getLogger("tsunagu.authority")

STATE_VERSION = 1
PUSH_INTERVAL_S = 2.0


class GrantRefused(TsunaguError):
    code = AuthorityCode.GRANT_REFUSED


@dataclass(frozen=True)
class LeafLogins:
    system_account: str
    account: str
    system_creds: str = field(repr=False)
    account_creds: str = field(repr=False)


@dataclass
class _Disk:
    manager: NatsAccountManager
    url: str | None = None
    ended: set[str] = field(default_factory=set)
    port: int | None = None  # the embedded server's client port, kept across restarts


class AuthorityNats:
    """One process's handle on the data space's NATS accounts (and, once started, server)."""

    def __init__(self, authority: Authority) -> None:
        self.authority = authority
        self.server: EmbeddedNatsServer | None = None
        self.url: str | None = None
        self._mutex = asyncio.Lock()  # one session per process; the flock covers the rest
        self._sys: Client | None = None
        self._desk_nc: Client | None = None
        self._desk: GrantDesk | None = None
        self._pusher: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ state on disk

    def _load(self) -> _Disk:
        state = self.authority.read_nats_state()
        if state is None:  # first use: the operator, and the authority's own account
            manager = NatsAccountManager()
            manager.onboard(self.authority.did, "authority")
            return _Disk(manager)
        if state.get("version") != STATE_VERSION:
            raise NatsAccountsError(f"NATS state has format version {state.get('version')!r}")
        port = state.get("embeddedPort")
        return _Disk(NatsAccountManager.from_state(state.get("manager")), state.get("natsUrl"),
                     set(state.get("endedAgreements", [])),
                     port if isinstance(port, int) else None)

    def _save(self, disk: _Disk) -> None:
        self.authority.write_nats_state({
            "version": STATE_VERSION, "manager": disk.manager.to_state(),
            "natsUrl": disk.url, "endedAgreements": sorted(disk.ended),
            "embeddedPort": disk.port})

    @contextlib.asynccontextmanager
    async def _session(self, *, strict: bool = True) -> AsyncIterator[_Disk]:
        """Load, change (the body), save, push pending changes if connected, save again.

        A body that raises leaves the state on disk as it was. A failed push keeps the
        changes saved and pending; ``strict`` raises its ``NatsAccountsError``, otherwise
        it is logged (a later session pushes them)."""
        async with self._mutex:
            lock = await self._lock()
            try:
                disk = self._load()
                yield disk
                self._save(disk)
                if self._sys is not None and disk.manager.pending:
                    try:
                        await disk.manager.apply(self._sys)
                    except NatsAccountsError as exc:
                        if strict:
                            raise
                        log.warning("NATS account changes not pushed yet",
                                    extra={"error": exc.message})
                    finally:
                        self._save(disk)  # the iats minted, and what is still pending
            finally:
                lock.__exit__(None, None, None)

    async def _lock(self) -> contextlib.AbstractContextManager[None]:
        """The authority's file lock, entered. Taken on the event loop's thread when free,
        so that no other coroutine runs between taking it and using it: code of this process
        that takes it synchronously (``Authority.issue`` in a demo, a test) would otherwise
        block the loop while the lock waits for a coroutine that can no longer run. Only
        when another process holds it is it waited for on a worker thread."""
        lock = self.authority.locked(blocking=False)
        try:
            lock.__enter__()
            return lock
        except AuthorityBusy:
            lock = self.authority.locked()
            await asyncio.to_thread(lock.__enter__)
            return lock

    # ------------------------------------------------------------------ accounts

    async def onboard(self, did: str, connector_name: str = "connector") -> Onboarded:
        """The participant's account (created once) and a new user for one connector."""
        async with self._session(strict=False) as disk:
            return disk.manager.onboard(did, connector_name)

    async def revoke(self, did: str) -> bool:
        """Revoke the participant's account: its connections close, its imports and grants
        go. False if it never had one."""
        async with self._session(strict=False) as disk:
            if not disk.manager.is_live(did):
                return False
            disk.manager.revoke_participant(did)
        log.info("participant's NATS account revoked", extra={"participant": did})
        return True

    async def follow_catalogs(self, did: str) -> int:
        """Let the participant's account run a catalog node in operator mode: it imports
        every participant's catalog change events (``NatsAccountManager.follow_catalogs``).
        Returns how many participants it follows now; later ones are added as onboarded."""
        async with self._session(strict=False) as disk:
            return disk.manager.follow_catalogs(did)

    async def rotate_account_key(self, did: str, connector_name: str = "connector"
                                 ) -> Onboarded:
        """Steps 1 and 2 of rotating a participant's account key: a new signing key pushed
        in its account JWT, then a user signed by it for each connector (install its
        ``.creds`` where the connector reads them: it logs in with them at its next
        (re)connect). Users signed before keep working until ``retire_account_keys``."""
        async with self._session(strict=False) as disk:
            disk.manager.add_signing_key(did)
        async with self._session(strict=False) as disk:  # pushed first: then users
            return disk.manager.onboard(did, connector_name)

    async def retire_account_keys(self, did: str) -> list[str]:
        """Step 3: only the newest signing key signs for the account; the server closes the
        connections of users signed by the others, which reconnect with the new ones."""
        async with self._session(strict=False) as disk:
            retired = disk.manager.retire_signing_keys(did)
        log.info("participant's older NATS account keys retired",
                 extra={"participant": did, "users": len(retired)})
        return retired

    async def push(self) -> None:
        """Push changes other processes saved but could not push."""
        async with self._session():
            pass

    async def server_config(self, resolver_dir: Path) -> str:
        """``config_extra`` of a nats-server run in this data space's operator mode."""
        async with self._session() as disk:
            return disk.manager.server_config(resolver_dir)

    async def operator_config(self) -> str:
        """Operator, system account and account preload for configs written elsewhere
        (``authority.nats_deploy``)."""
        async with self._session() as disk:
            return disk.manager.operator_config()

    async def leaf_logins(self, did: str, leaf: str) -> LeafLogins:
        """The two uplink logins of ``did``'s leaf node: a system-account user and a user of
        the participant's account without subject permissions."""
        async with self._session(strict=False) as disk:
            if not disk.manager.is_live(did):
                raise NatsAccountsError(f"participant {did} has no live NATS account "
                                        "(issue its credential first)", did=did)
            system = disk.manager.new_system_user(f"{leaf}-sys")
            own = disk.manager.onboard(did, leaf, whole_account=True)
            return LeafLogins(disk.manager.system_account, own.account, system.creds(),
                              own.creds())

    async def pending(self) -> list[str]:
        async with self._mutex:
            with self.authority.locked():
                return self._load().manager.pending

    # ------------------------------------------------------------------ connections

    async def attach(self, url: str | None = None, *, deadline: float = 3.0) -> bool:
        """Connect the authority's system user (it pushes account JWTs) to ``url`` or to the
        server ``start`` recorded. False if there is none or it does not answer."""
        if url is None:
            async with self._mutex:
                with self.authority.locked():
                    url = self._load().url
        if url is None:
            return False
        async with self._session() as disk:
            creds = disk.manager.system_user()
        try:
            self._sys = await connect(NatsSettings(
                urls=url.split(","), user_jwt=creds.jwt, user_seed=creds.seed,
                name="tsunagu-authority-sys",
                initial_connect_deadline=deadline, reconnect_time_wait=0.2))
        except NatsConnectError as exc:
            log.warning("NATS server not reachable; account changes stay pending",
                        extra={"error": exc.code})
            return False
        self.url = url
        return True

    async def start(self, *, store_dir: Path | None = None, url: str | None = None,
                    host: str = "127.0.0.1", port: int | None = None) -> str:
        """Run the data space's NATS: the embedded server in ``store_dir`` (default
        ``<authority>/nats``) unless ``url`` names a server already configured with
        :meth:`server_config`; then serve stream grant requests. Returns the server URL."""
        if url is None:
            store_dir = store_dir or self.authority.directory / "nats"
            config = await self.server_config(store_dir / "jwt")
            at_rest = self.authority.at_rest  # streams, subjects and headers encrypted too
            self.server = EmbeddedNatsServer(store_dir, host=host,
                                             port=await self._embedded_port(host, port),
                                             config_extra=config,
                                             jetstream_key=at_rest and at_rest.jetstream_key)
            await self.server.start()
            url = self.server.url
        if not await self.attach(url, deadline=10.0):
            raise NatsConnectError(f"cannot reach the data space's nats-server at {url}")
        async with self._session() as disk:
            disk.url = url
            if self.server is not None:
                disk.port = self.server.port
            own = disk.manager.onboard(self.authority.did, "authority")
        self._desk_nc = await connect(NatsSettings(
            urls=url.split(","), user_jwt=own.user_jwt, user_seed=own.user_seed,
            inbox_prefix=f"_INBOX.{participant_id(self.authority.did)}",
            name="tsunagu-authority", reconnect_time_wait=0.2))
        # the key that signs now, also after a rotation while serving
        self._desk = GrantDesk(self._desk_nc, lambda: self.authority.signing_key,
                               self._decide, self._check_signer, identity=self.authority.did)
        await self._desk.serve()
        self._pusher = asyncio.get_running_loop().create_task(self._push_pending())
        log.info("data-space NATS in operator mode", extra={"nats_url": url})
        return url

    async def _embedded_port(self, host: str, port: int | None) -> int:
        """The embedded server's client port: ``port`` if given, else the one kept from the
        last start (connectors were told its URL), else a free one (``pick_free_port``: not
        in the ephemeral range, so it stays free for the next start), kept from then on.
        A taken port is a one-line error naming what to change."""
        async with self._mutex:
            with self.authority.locked():
                kept = self._load().port
        if port is None and kept is None:
            return pick_free_port(host)
        if port is not None:
            fix = "choose another --nats-port"
        else:
            port = kept
            kept_in = self.authority.directory / NATS_FILE
            fix = (f"this authority announced it before (kept in {kept_in}), so stop what "
                   "holds it, or give --nats-port N and have each "
                   "connector learn the new URL (`tsunagu connector init --authority URL` or "
                   "[nats] urls in its participant.toml)")
        assert port is not None
        bind_port(host, port, what="data-space NATS", fix=fix).close()
        return port

    async def _push_pending(self) -> None:
        while True:
            await asyncio.sleep(PUSH_INTERVAL_S)
            try:
                # Look first, without waiting (another step may hold the lock): a session
                # holds the lock across its push, and nothing pending means no session.
                with self.authority.locked(blocking=False):
                    pending = self._load().manager.pending
                if pending:
                    await self.push()
            except AuthorityBusy:
                continue
            except TsunaguError as exc:
                log.warning("pending NATS account changes not pushed",
                            extra={"code": exc.code})

    async def close(self) -> None:
        """Stop serving and disconnect (and stop the server if this process started it)."""
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
            self._pusher = None
        if self._desk is not None:
            await self._desk.close()
            self._desk = None
        for nc in (self._desk_nc, self._sys):
            if nc is not None:
                await close_nats(nc, timeout=2.0)
        self._desk_nc = self._sys = None
        if self.server is not None:
            await self.server.stop()
            self.server = None

    # ------------------------------------------------------------------ grants

    def _require_live(self, did: str, who: str) -> None:
        now = format_datetime(datetime.now(UTC))
        if not any(e["did"] == did and e["revoked"] is None and e["validUntil"] > now
                   for e in self.authority.credentials()):
            raise GrantRefused(f"the {who} holds no live credential of this authority",
                               code=AuthorityCode.GRANT_NOT_PARTICIPANT)

    def _check_signer(self, sender: str, signer: str, iat: int, _credential: str | None
                      ) -> None:
        """The envelope's key signed for ``sender`` then, by the registry's key history."""
        self.authority.check_key(sender, signer, datetime.fromtimestamp(iat, UTC))

    def _check_proof(self, identity: str, key: str, created: str | None) -> None:
        now = datetime.now(UTC)
        self.authority.check_key(identity, key, parse_signed_at(created, now))

    async def _decide(self, env: Envelope) -> Reply:
        self._require_live(env.sender, "sender")
        if env.message_type == REGISTRY_REQUEST:  # what a catalog node crawls
            return REGISTRY, {"registry": self.authority.signed_registry()}
        agreement_id, provider, consumer, dataset = _verified_agreement(env.payload,
                                                                        self._check_proof)
        durable = env.payload.get("consumer")
        if env.message_type == GRANT:
            if env.sender != provider:
                raise GrantRefused("only the agreement's provider opens its stream",
                                   code=AuthorityCode.GRANT_NOT_PROVIDER)
            self._require_live(consumer, "consumer")
            if not isinstance(durable, str):
                raise GrantRefused("name the durable consumer", code=ConnectorCode.GRANT_MALFORMED)
            async with self._session() as disk:
                if agreement_id in disk.ended:
                    raise GrantRefused("the agreement was terminated",
                                       code=AuthorityCode.GRANT_AGREEMENT_ENDED)
                grant = disk.manager.grant_stream(provider, consumer, dataset, agreement_id,
                                                  durable)
            return GRANTED, {"stream": grant.stream, "consumer": grant.durable,
                             "apiPrefix": grant.api_prefix}
        if env.message_type == REVOKE:
            if env.sender not in (provider, consumer):
                raise GrantRefused("only a party to the agreement closes its stream",
                                   code=AuthorityCode.GRANT_NOT_PARTY)
            if durable is not None and not isinstance(durable, str):
                raise GrantRefused("the durable consumer is a name",
                                   code=ConnectorCode.GRANT_MALFORMED)
            async with self._session() as disk:
                disk.manager.revoke_stream(provider, consumer, agreement_id, durable)
                if env.payload.get("ended") is True:
                    disk.ended.add(agreement_id)
            return REVOKED, {"agreementId": agreement_id}
        raise GrantRefused(f"the authority does not handle {env.message_type!r}",
                           code=AuthorityCode.GRANT_UNKNOWN_MESSAGE)


def save_creds(path: Path, user: Onboarded) -> None:
    """Write a participant's NATS user credentials to a new file, 0600 (they hold its
    seed); never over an existing one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(user.creds())


def _verified_agreement(payload: dict[str, Any], key_check: KeyCheck
                        ) -> tuple[str, str, str, str]:
    """(id, provider, consumer, dataset) of a provider-signed, consumer-countersigned
    agreement."""
    document = payload.get("agreement")
    try:
        inner = document["signedAgreement"]  # type: ignore[index]
        fields = (inner["@id"], inner["assigner"], inner["assignee"], inner["target"])
    except (KeyError, TypeError):
        raise GrantRefused("no countersigned agreement in the request",
                           code=ConnectorCode.GRANT_MALFORMED) from None
    if not all(isinstance(f, str) for f in fields):
        raise GrantRefused("the agreement's id and parties must be strings",
                           code=ConnectorCode.GRANT_MALFORMED)
    agreements.verify_countersigned(document, provider=fields[1], consumer=fields[2],
                                    key_check=key_check)
    return fields

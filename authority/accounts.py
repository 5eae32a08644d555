"""The data-space authority's NATS accounts: operator mode, one account per participant.

The server enforces isolation; connectors are not trusted to behave:

- every participant gets its own account (its own subject space and JetStream) and one user
  per connector whose permissions follow ``connector.bus.subjects``: it may publish only its own
  data and control subjects and DSP requests *signed with its own id as sender*;
- DSP requests cross accounts as *services*: each account exports its DSP inbox
  ``tsunagu.dsp.<own>.*`` publicly, and every other account imports just
  ``tsunagu.dsp.<other>.<own>`` from it. The sender token is therefore fixed by the account,
  not only by user permissions. Replies travel back over the service-import response path
  (``resp`` permission on the responder, ``_INBOX.<requester>.>`` on the requester);
- notices cross accounts as *streams*: each account exports ``tsunagu.ctl.*.>`` and every
  other account imports just ``tsunagu.ctl.<own>.>`` from it, so what a participant publishes
  on ``tsunagu.ctl.<recipient>.<topic>`` reaches the recipient's account only (notices are
  signed documents: the subject does not say who sent them);
- a dataset is readable by another participant only through a live agreement: every account
  exports, once and with a required activation token, the three subject families a JetStream
  *pull* consumer needs (``$JS.API.CONSUMER.MSG.NEXT|INFO.*.*`` and ``$JS.ACK.*.*.>``). A
  grant adds to the consumer's account only: imports of exactly one durable's subjects
  (``$JS.API.CONSUMER.MSG.NEXT|INFO.<stream>.<durable>``, ``$JS.ACK.<stream>.<durable>.>``),
  each with an activation the provider's account key signed for exactly that subject (the
  server accepts an activation for a subset of a wildcard export, and an import only within
  its activation's subject), under ``$JS.<provider-id>.API`` (a JetStream API prefix clients
  understand) and the ack subject unchanged. Revoking the agreement deletes those imports
  (and the provider deletes the durable); only the authority signs account JWTs, so a
  consumer cannot re-import with an activation it once held.

  Why grants leave the provider's account JWT alone: when nats-server applies a new JWT of an
  account, it rebuilds that account's exports, and with them the response routes of service
  requests in flight through them. A consumer's pull requests (``MSG.NEXT``, answered over
  such a route) that were waiting at that moment lose their replies; the messages the
  provider's JetStream hands to them are redelivered only after ``ack_wait``
  (``connector.data.transfers``). Per-grant exports made every grant (and revocation) stall every
  other consumer of the same provider for ``ack_wait``
  (``tests/isolation/test_grant_stall.py``). Updating an *importer's* JWT does not stall its
  own pulls or anyone else's, as long as the importer is not itself a provider. A grant to a
  participant that others pull from still updates their provider's account (it gets the
  import), and so do onboarding a participant (every account imports its DSP inbox and
  notices) and revoking one: there the consumers' pull loops hand the lost deliveries back at
  once (``connector.data.lost_deliveries``), which bounds the pause to about one fetch
  expiry (0.5 s; measured ~0.12 s instead of ``ack_wait``,
  ``tests/isolation/test_grant_stall.py``).
- catalog change events (docs/catalog.md) cross accounts as *streams* to catalog nodes only:
  each account exports its own ``tsunagu.catalog.<own>.changes`` publicly (one export, the
  same size whatever the number of participants), and only the account of a catalog node
  (``follow_catalogs``) imports it from every participant, renamed to
  ``tsunagu.catalogfeed.<participant>.changes``, where one JetStream stream of the node's
  own (``CATALOG_FEED``) captures them all. Only the node's account grows with the number of
  participants (one import each, no activation: catalog entries are public and only the
  authority signs account JWTs, so a token would guard nothing an import does not). The
  node's stream keeps capturing while the node is down, so it catches up from its durable
  consumer; a revoked participant's import goes with its account.

Changes are applied to a running server with a *full* account resolver: account JWTs are
pushed by a system-account user on ``$SYS.REQ.CLAIMS.UPDATE`` and then read back
(``$SYS.REQ.ACCOUNT.<id>.CLAIMS.LOOKUP``). We prefer this over ``resolver: MEMORY`` plus a
SIGHUP reload because it needs no access to the server's process or config file, works for
external servers and clusters (the update propagates), persists in the resolver directory
across restarts, and each update is acknowledged. Every account version gets a strictly later
iat and ``apply`` reads back what the server holds: the resolver's reply alone does not prove
it (older nats-server versions answer "jwt updated" yet keep a stored JWT with the same jti or
a later iat; 2.15.1 was seen to apply both).

Known server transient: accounts that import from each other (every pair, for DSP) are loaded
lazily; right after they are first loaded a cross-account request may meet "no responders"
for a moment (seen in ~1 of 40 fresh servers, healed within 0.5 s). Requesters should retry
"no responders" briefly.

State: ``to_state`` / ``from_state`` give every key, iat, export, import, grant and pending
change as one JSON object; ``authority.space`` keeps it beside the rest of the
authority's state, so a restarted authority manages the same accounts (and mints later iats).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import nats.errors
import nkeys
from nats.aio.client import Client

from authority.errors import AuthorityCode
from connector.bus.subjects import (
    api_prefix,
    catalog_feed_subject,
    catalog_subject,
    dataset_stream,
)
from connector.runtime.identity import participant_id
from trust import nats_jwt
from trust.errors import TsunaguError
from trust.nats_jwt import AccountLimits, Export, Import, Permissions, UserCredentials

_UPDATE = "$SYS.REQ.CLAIMS.UPDATE"
_LOOKUP = "$SYS.REQ.ACCOUNT.{}.CLAIMS.LOOKUP"
_DSP_REPLY_TTL = 60.0  # seconds a connector has to answer one DSP request
_NOTICES = "tsunagu.ctl.*.>"  # every account's notice export
# What every account exports, once, for stream grants: (subject, response type). Token
# required: a consumer imports one durable's subjects with an activation for just those.
_PULL_EXPORTS = (
    ("$JS.API.CONSUMER.MSG.NEXT.*.*", "Stream"),
    ("$JS.API.CONSUMER.INFO.*.*", "Singleton"),
    ("$JS.ACK.*.*.>", "Singleton"),
)
STATE_VERSION = 1
# A durable consumer name becomes one subject token of a grant's imports (the shared exports
# match it with '*').
DURABLE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class NatsAccountsError(TsunaguError):
    """The authority could not change or apply NATS accounts."""

    code = AuthorityCode.NATS_ACCOUNTS


@dataclass(frozen=True)
class Onboarded:
    account: str
    user_jwt: str
    user_seed: str = field(repr=False)

    def creds(self) -> str:
        return nats_jwt.format_creds(self.user_jwt, self.user_seed)


@dataclass(frozen=True)
class StreamGrant:
    """What a consumer needs to read a provider's dataset through an agreement."""

    stream: str
    durable: str
    api_prefix: str  # pass to ``nc.jetstream(prefix=...)`` on the consumer's side


@dataclass(frozen=True)
class GrantKey:
    """One durable consumer of one agreement (an agreement may run several transfers)."""

    provider: str
    consumer: str
    agreement: str
    durable: str


@dataclass
class _Account:
    did: str
    key: nkeys.KeyPair
    limits: AccountLimits
    exports: dict[str, Export] = field(default_factory=dict)  # by subject
    # by "<local or import subject> <exporter>": every account imports the same notices
    imports: dict[str, Import] = field(default_factory=dict)
    revocations: dict[str, int] = field(default_factory=dict)
    last_iat: int = 0
    revoked: bool = False
    # Account signing keys, newest last: users are signed by the newest (the account key
    # signs them while there is none). Rotating one: add, reissue users, drop the old.
    signing_keys: list[nkeys.KeyPair] = field(default_factory=list)
    # user public key -> public key of what signed it (the account or a signing key)
    users: dict[str, str] = field(default_factory=dict)

    @property
    def public(self) -> str:
        return nats_jwt.public_key(self.key)


def consumer_name(agreement_id: str) -> str:
    """Durable consumer name of an agreement's transfer (letters, digits, '_')."""
    return "AG_" + hashlib.sha256(agreement_id.encode()).hexdigest()[:24]


def user_permissions(did: str) -> Permissions:
    """What a participant's connector may do, derived from the subject scheme."""
    pid = participant_id(did)
    return Permissions(
        pub_allow=(
            f"tsunagu.data.{pid}.>",  # its own record events only
            f"tsunagu.catalog.{pid}.>",  # its own catalog change events (docs/catalog.md)
            f"tsunagu.dsp.*.{pid}",  # DSP requests with itself as sender
            "tsunagu.ctl.*.>",  # notices to anyone: each reaches only the account it names
            f"_INBOX.{pid}.>",
            "$JS.API.>",  # its own account's JetStream: other accounts are out of reach
            "$JS.ACK.>",  # acks on own consumers and on imported ones
            "$JS.*.API.CONSUMER.MSG.NEXT.>",  # imported providers' consumers (grant_stream)
            "$JS.*.API.CONSUMER.INFO.>",
        ),
        sub_allow=(
            f"tsunagu.dsp.{pid}.*",
            f"tsunagu.ctl.{pid}.>",
            f"tsunagu.data.{pid}.>",
            f"_INBOX.{pid}.>",
        ),
        # Answering a DSP request: the reply subject is a server-made _R_ subject.
        resp_max=1,
        resp_ttl_seconds=_DSP_REPLY_TTL,
    )


class NatsAccountManager:
    """Operator, system account and participant accounts of one data space.

    Mutators (``onboard``, ``grant_stream``, ``revoke_stream``, ``revoke_participant``) only
    change state and mark accounts dirty; ``await apply(sys_nc)`` pushes the dirty accounts,
    exporters before importers, in the order they changed. Batching also keeps iats from
    running ahead of the clock.
    """

    def __init__(
        self,
        *,
        name: str = "tsunagu",
        limits: AccountLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._name = name
        self._limits = limits or AccountLimits()
        self._clock = clock
        self._operator = nats_jwt.generate_key("operator")
        self._system = _Account(
            "", nats_jwt.generate_key("account"), nats_jwt.SYSTEM_ACCOUNT_LIMITS
        )
        self._system_user = nats_jwt.generate_key("user")
        self._accounts: dict[str, _Account] = {}  # by DID
        self._grants: dict[GrantKey, str] = {}  # -> stream
        self._catalog_nodes: dict[str, None] = {}  # DIDs whose accounts import every catalog
        self._dirty: dict[str, None] = {}  # DIDs in change order

    # ------------------------------------------------------------------ identities

    @property
    def operator_public_key(self) -> str:
        return nats_jwt.public_key(self._operator)

    @property
    def system_account(self) -> str:
        return self._system.public

    def account_of(self, did: str) -> str:
        return self._get(did).public

    def is_live(self, did: str) -> bool:
        """Onboarded and not revoked."""
        account = self._accounts.get(did)
        return account is not None and not account.revoked

    def operator_jwt(self) -> str:
        return nats_jwt.operator_jwt(self._operator, self._name, system_account=self.system_account)

    def system_user(self) -> UserCredentials:
        """Credentials of the authority's own system-account user (pushes account JWTs)."""
        token = nats_jwt.user_jwt(
            self._system.key, nats_jwt.public_key(self._system_user), f"{self._name}-sys"
        )
        return UserCredentials(jwt=token, seed=nats_jwt.seed(self._system_user))

    def new_system_user(self, name: str) -> UserCredentials:
        """Another system-account user (a leaf node's uplink of the system account, so that
        account JWT updates reach its resolver)."""
        user = nats_jwt.generate_key("user")
        token = nats_jwt.user_jwt(self._system.key, nats_jwt.public_key(user), name,
                                  iat=int(self._clock()))
        return UserCredentials(jwt=token, seed=nats_jwt.seed(user))

    def account_jwt(self, did: str) -> str:
        """A freshly signed JWT of the participant's account (a later iat every time)."""
        return self._mint(self._get(did))

    # ------------------------------------------------------------------ server config

    def server_config(self, resolver_dir: Path) -> str:
        """``config_extra`` for EmbeddedNatsServer (or any nats-server config file).

        Preloads the system account and every account known now; later changes go through
        :meth:`apply`. The resolver directory keeps the latest JWTs across server restarts.
        """
        lines = [
            self.operator_config().rstrip("\n"),
            "resolver: {",
            "  type: full",
            f"  dir: {json.dumps(str(resolver_dir))}",  # a JSON string is a valid config string
            "  allow_delete: false",
            '  interval: "2m"',
            "}",
        ]
        return "\n".join(lines) + "\n"

    def operator_config(self) -> str:
        """The operator, system account and account preload, without the resolver block
        (``authority.nats_shapes`` adds one per server). Public JWTs only, no seeds."""
        preload = [(self.system_account, self._mint(self._system))]
        preload += [(a.public, self._mint(a)) for a in self._accounts.values()]
        lines = [
            f"operator: {self.operator_jwt()}",
            f"system_account: {self.system_account}",
            "resolver_preload: {",
            *(f"  {pub}: {token}" for pub, token in preload),
            "}",
        ]
        self._dirty.clear()  # the preload carries every change made so far
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ participants

    def onboard(self, did: str, connector_name: str = "connector", *,
                whole_account: bool = False) -> Onboarded:
        """Create the participant's account (once) and issue one connector user.

        ``whole_account``: a user without subject permissions, for the participant's own
        leaf node's uplink (``authority.nats_shapes``): that connection carries the
        account's JetStream domain API and mirror traffic, whose subjects connector
        permissions do not list. Organisations stay apart all the same: what crosses
        accounts is fixed by the account JWTs only the authority signs."""
        account = self._accounts.get(did)
        if account is None:
            account = self._new_account(did)
        elif account.revoked:
            raise NatsAccountsError(f"participant {did} was revoked", did=did)
        user = nats_jwt.generate_key("user")
        signer = account.signing_keys[-1] if account.signing_keys else account.key
        token = nats_jwt.user_jwt(
            signer,
            nats_jwt.public_key(user),
            f"{participant_id(did)}/{connector_name}",
            None if whole_account else user_permissions(did),
            iat=int(self._clock()),
            issuer_account=account.public if account.signing_keys else None,
        )
        account.users[nats_jwt.public_key(user)] = nats_jwt.public_key(signer)
        return Onboarded(account.public, token, nats_jwt.seed(user))

    # ------------------------------------------------------------------ key rotation

    def add_signing_key(self, did: str) -> str:
        """Step 1 of rotating the account's key: a new signing key, in the account JWT (push
        it, then issue users with ``onboard``: they are signed by it). Returns its public
        key. Users signed before keep working until ``retire_signing_keys``."""
        account = self._get(did)
        if account.revoked:
            raise NatsAccountsError(f"participant {did} was revoked", did=did)
        key = nats_jwt.generate_key("account")
        account.signing_keys.append(key)
        self._touch(did)
        return nats_jwt.public_key(key)

    def retire_signing_keys(self, did: str) -> list[str]:
        """Step 3: every key but the newest signing key stops signing for the account: older
        signing keys leave the JWT and users the account key signed are revoked; the server
        closes their connections (connectors reconnect with the users step 2 issued).
        Returns the users that stop working."""
        account = self._get(did)
        if not account.signing_keys:
            raise NatsAccountsError("the account has no signing key to keep; add one first",
                                    did=did)
        keep = nats_jwt.public_key(account.signing_keys[-1])
        account.signing_keys = account.signing_keys[-1:]
        retired = [u for u, signer in account.users.items() if signer != keep]
        now = int(self._clock())
        for user in retired:
            if account.users[user] == account.public:  # the account key cannot be dropped
                account.revocations[user] = now
            del account.users[user]
        self._touch(did)
        return retired

    def _new_account(self, did: str) -> _Account:
        pid = participant_id(did)
        account = _Account(did, nats_jwt.generate_key("account"), self._limits)
        inbox = f"tsunagu.dsp.{pid}.*"
        account.exports[inbox] = Export(inbox, "service", name="dsp", response_type="Singleton")
        account.exports[_NOTICES] = Export(_NOTICES, "stream", name="notices")
        _add_pull_exports(account)
        _add_catalog_export(account)
        self._accounts[did] = account
        self._touch(did)
        for other in self._live_accounts():
            if other is account:
                continue
            opid = participant_id(other.did)
            # Each side imports only the subject carrying its own id as sender.
            self._add_import(account, Import(f"tsunagu.dsp.{opid}.{pid}", other.public, "service"))
            self._add_import(other, Import(f"tsunagu.dsp.{pid}.{opid}", account.public, "service"))
            self._add_import(account, Import(f"tsunagu.ctl.{pid}.>", other.public, "stream"))
            self._add_import(other, Import(f"tsunagu.ctl.{opid}.>", account.public, "stream"))
            if other.did in self._catalog_nodes:
                self._add_import(other, _catalog_import(account))
            self._touch(other.did)  # after the new exporter: pushed in this order
        return account

    def revoke_participant(self, did: str) -> None:
        """Disconnect the participant's connectors now and refuse their credentials.

        The account stays known to the server (deleting needs ``allow_delete`` and an
        operator-signed request) but with every user revoked, no connections allowed, no
        exports, and no imports pointing at it or from it.
        """
        account = self._get(did)
        for key in list(self._grants):
            if did in (key.provider, key.consumer):
                self.revoke_stream(key.provider, key.consumer, key.agreement, key.durable)
        account.revoked = True
        self._catalog_nodes.pop(did, None)
        account.revocations["*"] = int(self._clock())
        account.limits = replace(account.limits, conn=0, leaf=0)
        account.exports.clear()
        account.imports.clear()
        self._touch(did)
        for other in self._live_accounts():
            dropped = [k for k, imp in other.imports.items() if imp.account == account.public]
            for key in dropped:
                del other.imports[key]
            if dropped:
                self._touch(other.did)

    # ------------------------------------------------------------------ catalog nodes

    def follow_catalogs(self, did: str) -> int:
        """Let the participant's account run a catalog node: it imports every live
        participant's catalog change events (and those of participants onboarded later),
        renamed to ``tsunagu.catalogfeed.<participant>.changes``. Returns how many
        participants it imports from. Only this account's JWT grows with the number of
        participants (one import each); the others keep their one export."""
        node = self._get(did)
        if node.revoked:
            raise NatsAccountsError(f"participant {did} was revoked", did=did)
        self._catalog_nodes[did] = None
        count = 0
        for other in self._live_accounts():
            if other is node:
                continue
            if _add_catalog_export(other):  # an account from older state: exporter first
                self._dirty = {other.did: None} | self._dirty
            self._add_import(node, _catalog_import(other))
            count += 1
        self._touch(did)
        return count

    def catalog_nodes(self) -> list[str]:
        return list(self._catalog_nodes)

    # ------------------------------------------------------------------ agreements

    def grant_stream(
        self,
        provider_did: str,
        consumer_did: str,
        dataset_id: str,
        agreement_id: str,
        durable: str | None = None,
    ) -> StreamGrant:
        """Let the consumer pull the provider's dataset stream through one durable consumer.

        The provider's connector creates that durable (``durable``, by default
        :func:`consumer_name` of the agreement) on its own stream, filtered to the dataset's
        subjects; the consumer binds to it with ``nc.jetstream(prefix=grant.api_prefix)``.
        """
        provider, consumer = self._get(provider_did), self._get(consumer_did)
        if provider.revoked or consumer.revoked or provider is consumer:
            raise NatsAccountsError("both parties must be distinct live participants")
        durable = durable or consumer_name(agreement_id)
        if not DURABLE_NAME.fullmatch(durable):
            raise NatsAccountsError("a durable consumer name is 1-64 letters, digits, '_', '-'")
        stream = dataset_stream(provider_did, dataset_id)
        prefix = api_prefix(provider_did)
        subjects = [
            # (subject within the provider's exports, local subject in the consumer's account)
            (f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
             f"{prefix}.CONSUMER.MSG.NEXT.{stream}.{durable}"),
            (f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
             f"{prefix}.CONSUMER.INFO.{stream}.{durable}"),
            (f"$JS.ACK.{stream}.{durable}.>", ""),
        ]  # fmt: skip
        if _add_pull_exports(provider):
            # An account from before the shared exports (older state): changed once, here,
            # and pushed before any importer.
            self._dirty = {provider_did: None} | self._dirty
        for subject, local in subjects:
            token = nats_jwt.activation_jwt(
                provider.key, consumer.public, subject, "service", iat=int(self._clock())
            )
            self._add_import(consumer, Import(
                subject, provider.public, "service", token=token, local_subject=local
            ))
        self._grants[GrantKey(provider_did, consumer_did, agreement_id, durable)] = stream
        # Only the consumer's account changes: a new provider JWT would drop the replies of
        # pulls other consumers have in flight (see the module docstring).
        self._touch(consumer_did)
        return StreamGrant(stream, durable, prefix)

    def grants_of(self, agreement_id: str) -> list[GrantKey]:
        """The durable consumers an agreement's consumer may read now."""
        return [key for key in self._grants if key.agreement == agreement_id]

    def revoke_stream(
        self, provider_did: str, consumer_did: str, agreement_id: str, durable: str | None = None
    ) -> None:
        """Terminate the agreement's access (one durable, or all of them): the consumer's
        imports are deleted (the provider's shared exports stay; its connector deletes the
        durable)."""
        for key in self.grants_of(agreement_id):
            if (key.provider, key.consumer) != (provider_did, consumer_did):
                continue
            if durable is not None and key.durable != durable:
                continue
            stream = self._grants.pop(key)
            provider, consumer = self._get(provider_did), self._get(consumer_did)
            marker = f".{stream}.{key.durable}"
            legacy = [s for s in provider.exports if marker in s]  # per-grant, older state
            for subject in legacy:
                del provider.exports[subject]
            for local in [k for k, imp in consumer.imports.items() if marker in imp.subject]:
                del consumer.imports[local]
            if legacy:
                self._touch(provider_did)
            self._touch(consumer_did)  # access ends with the import

    # ------------------------------------------------------------------ applying

    @property
    def pending(self) -> list[str]:
        """Account public keys with changes not yet applied, in push order."""
        return [self._accounts[did].public for did in self._dirty]

    async def apply(self, sys_nc: Client, timeout: float = 5.0) -> None:
        """Push every changed account JWT and check the server now holds it."""
        while self._dirty:
            did = next(iter(self._dirty))
            account = self._accounts[did]
            token = self._mint(account)
            reply = await self._request(sys_nc, _UPDATE, token.encode(), timeout)
            try:
                error = json.loads(reply).get("error")
            except (ValueError, AttributeError):
                raise NatsAccountsError(f"unexpected answer on {_UPDATE}: {reply[:200]}") from None
            if error:
                raise NatsAccountsError(
                    f"nats-server refused the account JWT of {did}: {error.get('description')}",
                    did=did,
                )
            held = await self._request(sys_nc, _LOOKUP.format(account.public), b"", timeout)
            if held.strip() != token:
                raise NatsAccountsError(
                    f"nats-server kept another JWT for the account of {did} (a newer iat or "
                    "the same jti): was the authority's state lost?",
                    did=did,
                )
            del self._dirty[did]

    @staticmethod
    async def _request(nc: Client, subject: str, payload: bytes, timeout: float) -> str:
        try:
            msg = await nc.request(subject, payload, timeout=timeout)
        except (TimeoutError, nats.errors.Error) as exc:
            raise NatsAccountsError(
                f"no answer on {subject} (is this a system-account connection?): "
                f"{type(exc).__name__}"
            ) from exc
        return msg.data.decode()

    # ------------------------------------------------------------------ persistence

    def to_state(self) -> dict[str, Any]:
        """Everything needed to go on managing the same accounts: seeds (secrets: the caller
        stores this 0600), iats, exports, imports, grants and changes not yet applied."""
        return {
            "version": STATE_VERSION,
            "name": self._name,
            "limits": asdict(self._limits),
            "operator": nats_jwt.seed(self._operator),
            "system": _account_state(self._system),
            "systemUser": nats_jwt.seed(self._system_user),
            "accounts": [_account_state(a) for a in self._accounts.values()],
            "grants": [asdict(key) | {"stream": stream} for key, stream in self._grants.items()],
            "catalogNodes": list(self._catalog_nodes),
            "pending": list(self._dirty),
        }

    @classmethod
    def from_state(
        cls, state: dict[str, Any] | None, *, clock: Callable[[], float] = time.time
    ) -> NatsAccountManager:
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise NatsAccountsError(f"NATS account state is not version {STATE_VERSION}")
        try:
            manager = cls(name=state["name"], limits=AccountLimits(**state["limits"]),
                          clock=clock)
            manager._operator = nkeys.from_seed(state["operator"].encode())
            manager._system = _account_from_state(state["system"])
            manager._system_user = nkeys.from_seed(state["systemUser"].encode())
            for item in state["accounts"]:
                account = _account_from_state(item)
                manager._accounts[account.did] = account
            for item in state["grants"]:
                grant = dict(item)
                stream = grant.pop("stream")
                manager._grants[GrantKey(**grant)] = stream
            manager._dirty = dict.fromkeys(d for d in state["pending"] if d in manager._accounts)
            # state from before catalog nodes has none
            manager._catalog_nodes = dict.fromkeys(
                d for d in state.get("catalogNodes", []) if d in manager._accounts)
        except (KeyError, TypeError, ValueError, AttributeError, nkeys.NkeysError) as exc:
            raise NatsAccountsError(f"NATS account state is damaged: {type(exc).__name__}"
                                    ) from None
        return manager

    # ------------------------------------------------------------------ internals

    def _get(self, did: str) -> _Account:
        try:
            return self._accounts[did]
        except KeyError:
            raise NatsAccountsError(f"participant {did} is not onboarded", did=did) from None

    def _live_accounts(self) -> list[_Account]:
        return [a for a in self._accounts.values() if not a.revoked]

    def _touch(self, did: str) -> None:
        self._dirty.setdefault(did, None)

    @staticmethod
    def _add_import(account: _Account, imp: Import) -> None:
        # Keyed by subject and exporter: every account imports the same notice subject.
        account.imports[f"{imp.local_subject or imp.subject} {imp.account}"] = imp

    def _mint(self, account: _Account) -> str:
        # Strictly increasing iat per account: the full resolver ignores a same-jti update.
        account.last_iat = max(int(self._clock()), account.last_iat + 1)
        name = participant_id(account.did) if account.did else "SYS"
        return nats_jwt.account_jwt(
            self._operator,
            account.public,
            name,
            limits=account.limits,
            exports=account.exports.values(),
            imports=account.imports.values(),
            revocations=account.revocations,
            signing_keys=[nats_jwt.public_key(k) for k in account.signing_keys],
            iat=account.last_iat,
        )


def _add_pull_exports(account: _Account) -> bool:
    """Give the account the shared stream-grant exports; False if it had them all."""
    missing = [(s, r) for s, r in _PULL_EXPORTS if s not in account.exports]
    for subject, response_type in missing:
        account.exports[subject] = Export(
            subject, "service", token_req=True, name="grants", response_type=response_type
        )
    return bool(missing)


def _add_catalog_export(account: _Account) -> bool:
    """Export the account's catalog change events publicly; False if it already did."""
    subject = catalog_subject(account.did)
    if subject in account.exports:
        return False
    account.exports[subject] = Export(subject, "stream", name="catalog")
    return True


def _catalog_import(exporter: _Account) -> Import:
    """A catalog node's import of ``exporter``'s change events, renamed into its feed."""
    return Import(catalog_subject(exporter.did), exporter.public, "stream",
                  local_subject=catalog_feed_subject(exporter.did))


def _account_state(account: _Account) -> dict[str, Any]:
    return {
        "did": account.did,
        "seed": nats_jwt.seed(account.key),
        "limits": asdict(account.limits),
        "exports": [asdict(e) for e in account.exports.values()],
        "imports": [asdict(i) for i in account.imports.values()],
        "revocations": dict(account.revocations),
        "lastIat": account.last_iat,
        "revoked": account.revoked,
        "signingKeys": [nats_jwt.seed(k) for k in account.signing_keys],
        "users": dict(account.users),
    }


def _account_from_state(item: dict[str, Any]) -> _Account:
    account = _Account(item["did"], nkeys.from_seed(item["seed"].encode()),
                       AccountLimits(**item["limits"]))
    for export in item["exports"]:
        account.exports[export["subject"]] = Export(**export)
    for imp in item["imports"]:
        NatsAccountManager._add_import(account, Import(**imp))
    account.revocations = {k: int(v) for k, v in item["revocations"].items()}
    account.last_iat = int(item["lastIat"])
    account.revoked = bool(item["revoked"])
    # state written before account signing keys has neither (users: the account key's)
    account.signing_keys = [nkeys.from_seed(s.encode()) for s in item.get("signingKeys", [])]
    account.users = {str(k): str(v) for k, v in item.get("users", {}).items()}
    return account

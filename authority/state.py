"""The data-space authority's state: a directory of files, pure file and crypto logic.

Layout of an authority directory (mode 0700, every file 0600)::

    authority.key    Ed25519 private key, PKCS8 PEM (never overwritten); sealed with the
                     at-rest key when authority.json names one
    authority.json   config: name, DID, public URL, status list URL / length / ttl, and
                     where the at-rest key is (``atRestKey``, a trust.at_rest source)
    registry.json    every credential issued: participant DID, name, legal id, roles,
                     status index, validity, the vc+jwt, and its revocation if any;
                     ``keys``: per identity DID that ever rotated, its key history
                     (``trust.key_history``: key, validFrom, validUntil, reason)
    nats.json        the data space's NATS operator, system and participant account keys,
                     iats, grants and unapplied changes (``authority.space`` writes
                     it; created on first use); sealed with the at-rest key too
    .lock            flock target serialising issue/revoke/NATS changes across processes

The status list is *derived* from the registry (bit i set iff credential i is revoked), so
issuing or revoking is a single atomic replace of registry.json: a failure at any point
leaves the previous state intact and a crash can never leave the list and the registry
disagreeing. Every public operation validates all input before it writes anything.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from authority.errors import AuthorityCode
from connector.bus.subjects import dsp_inbox
from connector.plugins.contract import DomainPlugin
from connector.plugins.registry import (
    load_domain_plugins,
    require_known_roles,
    role_vocabulary,
)
from trust.announcement import sign_announcement
from trust.at_rest import (
    AtRestKey,
    KeySource,
    generate_key,
    read_secret,
    seal_in_place,
    write_key_file,
    write_secret,
)
from trust.authority_keys import sign_rotation, verify_chain
from trust.credentials import (
    SIGNING_KEY,
    aware_now,
    build_participant_credential,
    check_name,
    format_datetime,
    parse_roles,
    sign_vc_jwt,
)
from trust.errors import ConfigError, DidError, TsunaguError, ValidationError
from trust.key_history import (
    KeyPeriod,
    bind,
    check_key,
    current_key,
    end_current,
    identity_only,
    sign_key_histories,
)
from trust.keys import KEY_FILE_ROLE, KeyPair, load_key, resolve_did_key, save_key
from trust.legal_id import LegalId, parse_legal_id
from trust.participant_registry import sign_registry
from trust.status_list import DEFAULT_TTL, MIN_LENGTH, StatusList, sign_status_list

try:  # POSIX; elsewhere concurrent CLI writers are not serialised
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("tsunagu.authority")

KEY_FILE = "authority.key"
NEXT_KEY_FILE = "authority.next.key"  # only between the two steps of rotate_own_key
RETIRED_DIR = "retired-keys"
CONFIG_FILE = "authority.json"
REGISTRY_FILE = "registry.json"
NATS_FILE = "nats.json"
LOCK_FILE = ".lock"
NATS_STATE_ROLE = "authority-nats-state"  # bound to a sealed nats.json (trust.at_rest)
STATE_FILES = (KEY_FILE, CONFIG_FILE, REGISTRY_FILE, NATS_FILE, LOCK_FILE)
FORMAT_VERSION = 1
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8470"
STATUS_LIST_PATH = "/status-list"
PARTICIPANTS_PATH = "/participants"
KEY_HISTORY_PATH = "/key-history"
# A planned rotation leaves the old key valid this long after the new one starts, so what
# the participant signed with it just before switching (records in its outbox, envelopes in
# flight) still verifies. A compromise or loss ends the old key with no overlap.
ROTATION_OVERLAP = timedelta(minutes=5)
DEFAULT_VALID_DAYS = 365
MAX_VALID_DAYS = 5 * 366
MAX_REASON_CHARS = 500


class AuthorityError(TsunaguError):
    """An authority operation cannot be carried out; ``code`` says why."""

    code = AuthorityCode.ERROR


@dataclass(frozen=True)
class IssuedCredential:
    index: int
    did: str
    jwt: str
    credential_id: str
    valid_from: datetime
    valid_until: datetime


def _write_atomic(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write via a 0600 temp file in the same directory and rename, so readers and crashes
    only ever see the old or the new content. ``exclusive`` refuses an existing target."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, path)  # FileExistsError rather than replacing
        else:
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _dump(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"


def _check_public_url(url: Any) -> str:
    if not isinstance(url, str):
        raise ValidationError("public URL must be a string", field="public_url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("public URL must be an absolute http(s) URL", field="public_url")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationError("public URL must not carry credentials, a query or a fragment",
                              field="public_url")
    return url.rstrip("/")


def _check_reason(reason: Any) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS:
        raise ValidationError(f"reason must be text of at most {MAX_REASON_CHARS} characters",
                              field="reason")
    if any(ord(c) < 0x20 and c not in "\t" for c in reason):
        raise ValidationError("reason must be a single line", field="reason")
    return reason.strip() or None


class AuthorityBusy(TsunaguError):
    """The authority's lock is held (``locked(blocking=False)``)."""

    code = AuthorityCode.BUSY


class Authority:
    """An authority directory opened for use; see the module docstring for its layout."""

    def __init__(self, directory: Path, config: dict[str, Any], key: KeyPair,
                 at_rest: AtRestKey | None = None) -> None:
        self.directory = directory
        self._config = config
        self._key = key
        self.at_rest = at_rest  # seals authority.key and nats.json (None: plain files)
        # The domains whose roles credentials may carry: every installed one, unless set.
        self.plugins: Sequence[DomainPlugin] | None = None

    def known_roles(self) -> list[str]:
        """The roles a credential may carry: the core's and the installed domains'."""
        plugins = load_domain_plugins() if self.plugins is None else self.plugins
        return list(role_vocabulary(plugins).labels)

    # ------------------------------------------------------------------ create / open

    @classmethod
    def init(
        cls,
        directory: Path | str,
        *,
        name: str,
        public_url: str = DEFAULT_PUBLIC_URL,
        status_list_ttl: timedelta = DEFAULT_TTL,
        now: datetime | None = None,
        at_rest_key: str | None = None,
    ) -> Authority:
        """Create the key, config, empty registry (hence empty status list) in ``directory``.
        ``at_rest_key``: a trust.at_rest source (a relative ``file:`` path is relative to
        ``directory``; a missing key file is created) sealing the key and NATS seeds.

        Refuses a directory that already holds authority state; removes what it wrote if
        anything fails midway.
        """
        directory = Path(directory)
        name = check_name(name, "authority")
        base_url = _check_public_url(public_url)
        if status_list_ttl < timedelta(minutes=1) or status_list_ttl > timedelta(days=1):
            raise ValidationError("status list ttl must be between 1 minute and 1 day",
                                  field="status_list_ttl")
        if directory.exists() and not directory.is_dir():
            raise AuthorityError(f"{directory} exists and is not a directory",
                                 code=AuthorityCode.EXISTS)
        present = [f for f in STATE_FILES if (directory / f).exists()]
        if present:
            raise AuthorityError(
                f"{directory} already holds an authority ({', '.join(present)}); "
                "refusing to overwrite it", code=AuthorityCode.EXISTS)
        created_dir = not directory.exists()
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise AuthorityError(f"cannot create authority directory {directory}: "
                                 f"{exc.strerror}", code=AuthorityCode.DIRECTORY) from exc
        source = None if at_rest_key is None else KeySource(at_rest_key, base=directory)
        new_key_file = source is not None and source.path is not None and \
            not source.path.exists()
        if source is not None and not new_key_file:
            source.load()  # an existing key must load now, before anything is written
        key = KeyPair.generate()
        config = {
            "version": FORMAT_VERSION,
            "name": name,
            "did": key.did,
            "publicUrl": base_url,
            "statusListUrl": base_url + STATUS_LIST_PATH,
            "statusListLength": MIN_LENGTH,
            "statusListTtlSeconds": int(status_list_ttl.total_seconds()),
            "createdAt": format_datetime(aware_now(now)),
        }
        if at_rest_key is not None:
            config["atRestKey"] = at_rest_key
        registry = {"version": FORMAT_VERSION, "nextIndex": 0, "credentials": []}
        written: list[Path] = []
        at_rest = None
        try:
            if source is not None:
                if new_key_file:
                    assert source.path is not None
                    write_key_file(source.path, generate_key())
                    written.append(source.path)
                at_rest = source.load()
            for filename, write in (
                (KEY_FILE, lambda p: save_key(key, p, at_rest)),
                (CONFIG_FILE, lambda p: _write_atomic(p, _dump(config), exclusive=True)),
                (REGISTRY_FILE, lambda p: _write_atomic(p, _dump(registry), exclusive=True)),
                (LOCK_FILE, lambda p: os.close(os.open(p, os.O_CREAT | os.O_EXCL, 0o600))),
            ):
                path = directory / filename
                write(path)
                written.append(path)
        except BaseException:
            for path in written:
                with contextlib.suppress(OSError):
                    path.unlink()
            if created_dir:
                with contextlib.suppress(OSError):
                    directory.rmdir()
            raise
        log.info("authority created", extra={"authority": key.did})
        return cls(directory, config, key, at_rest)

    @classmethod
    def open(cls, directory: Path | str) -> Authority:
        directory = Path(directory)
        config_path = directory / CONFIG_FILE
        if not config_path.is_file():
            raise AuthorityError(
                f"{directory} is not an authority directory (no {CONFIG_FILE}); "
                "run 'tsunagu authority init' first", code=AuthorityCode.NOT_FOUND)
        try:
            config = orjson.loads(config_path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read {config_path}: {exc}") from None
        required = {"version", "name", "did", "statusListUrl", "statusListLength",
                    "statusListTtlSeconds"}
        if not isinstance(config, dict) or not required <= set(config):
            raise ConfigError(f"{config_path} lacks {sorted(required - set(config or {}))}")
        if config["version"] != FORMAT_VERSION:
            raise ConfigError(f"{config_path} has format version {config['version']!r}; "
                              f"this tsunagu reads version {FORMAT_VERSION}")
        spec = config.get("atRestKey")
        at_rest = None if spec is None else KeySource(spec, base=directory).load()
        if at_rest is not None:  # a key file from before atRestKey was set: seal it now
            seal_in_place(directory / KEY_FILE, KEY_FILE_ROLE, at_rest)
        return cls(directory, config, cls._current_key(directory, config, at_rest), at_rest)

    @staticmethod
    def _current_key(directory: Path, config: dict[str, Any],
                     at_rest: AtRestKey | None) -> KeyPair:
        """The key that signs now: the last of the chain from the DID (trust.authority_keys);
        finishes a rotation that stopped between writing the config and moving the key."""
        expected = verify_chain(config["did"], config.get("keyChain", []))[-1].key
        key = load_key(directory / KEY_FILE, at_rest)
        if key.did != expected and (directory / NEXT_KEY_FILE).exists() \
                and load_key(directory / NEXT_KEY_FILE, at_rest).did == expected:
            os.replace(directory / NEXT_KEY_FILE, directory / KEY_FILE)
            key = load_key(directory / KEY_FILE, at_rest)
        if key.did != expected:
            raise ConfigError(f"{KEY_FILE} does not match the DID in {CONFIG_FILE}")
        return key

    # ------------------------------------------------------------------ its own key

    @property
    def key_chain(self) -> list[dict[str, Any]]:
        """The authority's rotation statements, from its DID's key to the current one."""
        self._follow_rotation()
        return list(self._config.get("keyChain", []))

    @property
    def signing_key(self) -> KeyPair:
        """The key that signs for the authority now (its DID's key until it rotates)."""
        self._follow_rotation()
        return self._key

    def _signs_as(self) -> str | None:
        return self.did if self._key.did != self.did else None

    def _follow_rotation(self) -> None:
        """Pick up a rotation another process (``authority rotate-own-key``) made."""
        try:
            config = orjson.loads((self.directory / CONFIG_FILE).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return
        if isinstance(config, dict) and \
                len(config.get("keyChain", [])) > len(self._config.get("keyChain", [])):
            self._key = self._current_key(self.directory, config, self.at_rest)
            self._config = config

    def rotate_own_key(self, now: datetime | None = None) -> str:
        """A new key signs for the authority from ``now`` on: the current key signs the
        rotation statement, the config keeps the chain, the old key moves to
        ``retired-keys/``. Its DID, and so every connector's trust, stays. Returns the new
        key's DID."""
        at = aware_now(now).replace(microsecond=0)
        with self.locked():
            self._follow_rotation()
            new = KeyPair.generate()
            statement = sign_rotation(self._key, authority=self.did, new_key=new.did, at=at)
            chain = [*self._config.get("keyChain", []), statement]
            verify_chain(self.did, chain)  # e.g. two rotations within one second
            save_key(new, self.directory / NEXT_KEY_FILE, self.at_rest)
            retired = self.directory / RETIRED_DIR
            retired.mkdir(mode=0o700, exist_ok=True)
            kept = retired / (self._key.did.removeprefix("did:key:") + ".key")
            if not kept.exists():
                os.link(self.directory / KEY_FILE, kept)
            config = {**self._config, "keyChain": chain}
            _write_atomic(self.directory / CONFIG_FILE, _dump(config))
            os.replace(self.directory / NEXT_KEY_FILE, self.directory / KEY_FILE)
            self._config, self._key = config, new
        log.info("authority key rotated", extra={"authority": self.did, "key": new.did})
        return new.did

    # ------------------------------------------------------------------ properties

    @property
    def did(self) -> str:
        return self._config["did"]

    @property
    def name(self) -> str:
        return self._config["name"]

    @property
    def status_list_url(self) -> str:
        return self._config["statusListUrl"]

    @property
    def status_list_ttl(self) -> timedelta:
        return timedelta(seconds=self._config["statusListTtlSeconds"])

    @property
    def public_url(self) -> str:
        """The base URL relying parties reach ``serve`` at (``init --public-url``)."""
        return self._config.get("publicUrl") or \
            self.status_list_url.removesuffix(STATUS_LIST_PATH)

    def announcement(self, nats_urls: Sequence[str], now: datetime | None = None, *,
                     stream_replicas: int = 1) -> dict[str, Any]:
        """The signed data-space announcement (``trust.announcement``) with these NATS URLs
        (and, on a cluster, the replicas each dataset stream should have)."""
        return sign_announcement(self.signing_key, name=self.name, nats_urls=nats_urls,
                                 stream_replicas=stream_replicas,
                                 authority=self._signs_as(), authority_keys=self.key_chain,
                                 status_list_url=self.status_list_url,
                                 participant_registry_url=self.public_url + PARTICIPANTS_PATH,
                                 now=now)

    def describe(self) -> dict[str, Any]:
        """Public facts about the authority (what relying parties configure as trusted)."""
        return {"id": self.did, "name": self.name, "statusListCredential": self.status_list_url}

    # ------------------------------------------------------------------ registry I/O

    @contextlib.contextmanager
    def locked(self, *, blocking: bool = True) -> Iterator[None]:
        """Exclusive across processes (issue, revoke, NATS changes). Not re-entrant: one
        process must not nest it (a second flock on a new descriptor waits for the first).
        ``blocking=False``: raise ``AuthorityBusy`` at once if someone holds it."""
        if fcntl is None:  # pragma: no cover
            yield
            return
        try:
            fd = os.open(self.directory / LOCK_FILE, os.O_RDONLY)
        except OSError as exc:
            raise ConfigError(f"cannot open {LOCK_FILE} in {self.directory}: "
                              f"{exc.strerror}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AuthorityBusy(f"{self.directory} is locked by another step") from None
            yield
        finally:
            os.close(fd)

    def _load_registry(self) -> dict[str, Any]:
        path = self.directory / REGISTRY_FILE
        try:
            registry = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
        if (not isinstance(registry, dict) or registry.get("version") != FORMAT_VERSION
                or not isinstance(registry.get("nextIndex"), int)
                or not isinstance(registry.get("credentials"), list)):
            raise ConfigError(f"{path} is not a version {FORMAT_VERSION} registry")
        return registry

    @staticmethod
    def _history(registry: dict[str, Any], did: str) -> tuple[KeyPeriod, ...]:
        stored = registry.get("keys", {}).get(did)
        if stored is None:
            return identity_only(did)
        return tuple(KeyPeriod.from_json(p) for p in stored)

    def _save_registry(self, registry: dict[str, Any]) -> None:
        _write_atomic(self.directory / REGISTRY_FILE, _dump(registry))

    def read_nats_state(self) -> dict[str, Any] | None:
        """The NATS account state, or None before its first use. Hold :meth:`locked`."""
        path = self.directory / NATS_FILE
        try:
            state = orjson.loads(read_secret(path, NATS_STATE_ROLE, self.at_rest))
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
        if not isinstance(state, dict):
            raise ConfigError(f"{path} is not a JSON object")
        return state

    def write_nats_state(self, state: dict[str, Any]) -> None:
        """Replace the NATS account state atomically (0600: it holds seeds). Hold
        :meth:`locked`."""
        if self.at_rest is None:
            _write_atomic(self.directory / NATS_FILE, _dump(state))
        else:
            write_secret(self.directory / NATS_FILE, _dump(state), NATS_STATE_ROLE,
                         self.at_rest, replace=True)

    def credentials(self) -> list[dict[str, Any]]:
        """All registry entries (including credential JWTs and revocation reasons)."""
        return self._load_registry()["credentials"]

    # ------------------------------------------------------------------ issue / revoke

    def issue(
        self,
        *,
        did: str,
        name: str,
        legal_id: LegalId | str,
        roles: Iterable[str],
        valid_days: int = DEFAULT_VALID_DAYS,
        now: datetime | None = None,
    ) -> IssuedCredential:
        """Issue a participant credential at the next status index and record it.

        Each role must be one the core or an installed domain defines (``known_roles``):
        a misspelt role would otherwise be signed, and no policy would ever match it."""
        legal = legal_id if isinstance(legal_id, LegalId) else parse_legal_id(legal_id)
        roles = parse_roles(roles)
        plugins = load_domain_plugins() if self.plugins is None else self.plugins
        require_known_roles(roles, plugins, code=AuthorityCode.UNKNOWN_ROLE)
        if isinstance(valid_days, bool) or not isinstance(valid_days, int) \
                or not 1 <= valid_days <= MAX_VALID_DAYS:
            raise ValidationError(f"validity must be 1 to {MAX_VALID_DAYS} days",
                                  field="valid_days")
        valid_from = aware_now(now).replace(microsecond=0)
        valid_until = valid_from + timedelta(days=valid_days)
        with self.locked():
            registry = self._load_registry()
            # A participant that rotated is issued credentials for the key it signs with.
            signing_key = current_key(self._history(registry, did), valid_from)
            issued = self._append_credential(
                registry, did=did, name=name, legal=legal, roles=roles,
                valid_from=valid_from, valid_until=valid_until, signing_key=signing_key)
            self._save_registry(registry)
        log.info("participant credential issued",
                 extra={"participant": did, "index": issued.index})
        return issued

    def _append_credential(self, registry: dict[str, Any], *, did: str, name: str,
                           legal: LegalId, roles: Iterable[str], valid_from: datetime,
                           valid_until: datetime, signing_key: str | None
                           ) -> IssuedCredential:
        """Sign a credential at the next status index and add it to ``registry`` (the
        caller holds the lock and saves)."""
        index = registry["nextIndex"]
        if index >= self._config["statusListLength"]:
            raise AuthorityError("the status list is full; no index left to allocate",
                                 code=AuthorityCode.STATUS_LIST_FULL)
        credential_id = f"urn:uuid:{uuid.uuid4()}"
        credential = build_participant_credential(
            issuer=self.did, subject_did=did, name=name, legal_id=legal, roles=roles,
            valid_from=valid_from, valid_until=valid_until,
            status_list_url=self.status_list_url, status_index=index,
            credential_id=credential_id, signing_key=signing_key,
        )
        token = sign_vc_jwt(credential, self.signing_key, authority=self._signs_as())
        subject = credential["credentialSubject"]
        entry = {
            "index": index,
            "id": credential_id,
            "did": did,
            "name": subject["name"],
            "legalIdentifier": subject["legalIdentifier"],
            "roles": subject["roles"],
            "validFrom": credential["validFrom"],
            "validUntil": credential["validUntil"],
            "issuedAt": credential["validFrom"],
            "jwt": token,
            "revoked": None,
        }
        if SIGNING_KEY in subject:
            entry["signingKey"] = subject[SIGNING_KEY]
        registry["credentials"].append(entry)
        registry["nextIndex"] = index + 1
        return IssuedCredential(index=index, did=did, jwt=token, credential_id=credential_id,
                                valid_from=valid_from, valid_until=valid_until)

    def revoke(
        self,
        *,
        did: str | None = None,
        index: int | None = None,
        reason: str | None = None,
        now: datetime | None = None,
    ) -> list[int]:
        """Revoke one credential (by status index) or every live one of a DID; returns the
        indices revoked. The reason stays in the private registry, never in the public one."""
        if (did is None) == (index is None):
            raise ValidationError("name exactly one of a participant DID or a status index")
        reason = _check_reason(reason)
        at = format_datetime(aware_now(now))
        with self.locked():
            registry = self._load_registry()
            if did is not None:
                matching = [e for e in registry["credentials"] if e["did"] == did]
                target = "participant DID"
            else:
                matching = [e for e in registry["credentials"] if e["index"] == index]
                target = f"status index {index}"
            if not matching:
                raise AuthorityError(f"no credential was issued for this {target}",
                                     code=AuthorityCode.UNKNOWN_PARTICIPANT)
            live = [e for e in matching if e["revoked"] is None]
            if not live:
                raise AuthorityError(f"the credential(s) for this {target} are already revoked",
                                     code=AuthorityCode.ALREADY_REVOKED)
            for entry in live:
                entry["revoked"] = {"at": at, "reason": reason}
            self._save_registry(registry)
        revoked = [e["index"] for e in live]
        log.info("participant credential revoked",
                 extra={"participant": live[0]["did"], "indices": revoked})
        return revoked

    # ------------------------------------------------------------------ signing keys

    def key_history(self, did: str) -> tuple[KeyPeriod, ...]:
        """The keys that signed for ``did`` and when (its identity key alone, unrotated)."""
        return self._history(self._load_registry(), did)

    def check_key(self, identity: str, key: str, at: datetime) -> KeyPeriod:
        """``trust.key_history.check_key`` against this registry."""
        return check_key(identity, key, at, self.key_history(identity))

    def key_histories(self, now: datetime | None = None) -> dict[str, Any]:
        """The signed key-history document relying parties fetch (``KEY_HISTORY_PATH``)."""
        registry = self._load_registry()
        histories = {did: self._history(registry, did) for did in registry.get("keys", {})}
        return sign_key_histories(self.signing_key, histories, now=now,
                                  ttl=self.status_list_ttl, authority=self._signs_as(),
                                  authority_keys=self.key_chain)

    def revoke_key(self, *, did: str, reason: str = "compromised", key: str | None = None,
                   at: datetime | None = None, now: datetime | None = None) -> KeyPeriod:
        """End ``did``'s signing key ``key`` (default: its current one) at ``at`` (default
        now; earlier when the key was lost or stolen before it was reported): what it signed
        from then on is refused (``key.rotated_out``). The participant keeps its identity,
        credentials and agreements; ending its current key, it signs nothing until
        ``rotate_key`` binds a new one. Naming a key rotated out within its overlap ends
        the overlap."""
        if reason not in ("compromised", "lost", "rotated"):
            raise ValidationError("reason is compromised, lost or rotated", field="reason")
        moment = aware_now(now).replace(microsecond=0)
        ends = moment if at is None else aware_now(at).replace(microsecond=0)
        if ends > moment:
            raise ValidationError("a key is revoked from now or from an earlier time",
                                  field="at")
        with self.locked():
            registry = self._load_registry()
            self._live_entry(registry, did)
            history = end_current(self._history(registry, did), ends, reason, key)
            registry.setdefault("keys", {})[did] = [p.to_json() for p in history]
            self._save_registry(registry)
        ended = next(p for p in history if p.valid_until == ends and p.ended_because == reason
                     and (key is None or p.key == key))
        log.info("participant signing key revoked", extra={"participant": did,
                                                          "key": ended.key, "reason": reason})
        return ended

    def rotate_key(self, *, did: str, new_key: str, reason: str = "rotated",
                   now: datetime | None = None,
                   overlap: timedelta = ROTATION_OVERLAP) -> IssuedCredential:
        """Bind ``new_key`` to the identity ``did`` from now on and issue the credential
        that says so (``signingKey``; same name, legal id, roles and end as the live one).

        ``rotated``: the current key stays valid ``overlap`` longer. ``compromised``/
        ``lost``: the current key ends now, unless ``revoke_key`` ended it already. The
        earlier credential is not revoked: it still names the same participant, and
        agreements keep it as evidence; the key history decides which key signs."""
        if reason not in ("rotated", "compromised", "lost"):
            raise ValidationError("reason is rotated, compromised or lost", field="reason")
        try:
            resolve_did_key(new_key)
        except DidError as exc:
            raise ValidationError(f"new key: {exc.message}", field="key") from None
        if "#" in new_key:
            raise ValidationError("the new key is a did:key DID, not a URL", field="key")
        moment = aware_now(now).replace(microsecond=0)
        with self.locked():
            registry = self._load_registry()
            live = self._live_entry(registry, did)
            if self._key_in_use(registry, new_key):
                raise ValidationError("this key already belongs to a participant; generate "
                                      "a new one", field="key")
            history = self._history(registry, did)
            if any(p.valid_until is None for p in history):
                ends = moment + overlap if reason == "rotated" else moment
                history = end_current(history, ends, reason)
            history = bind(history, new_key, moment, reason)
            registry.setdefault("keys", {})[did] = [p.to_json() for p in history]
            valid_until = datetime.fromisoformat(live["validUntil"])
            issued = self._append_credential(
                registry, did=did, name=live["name"],
                legal=LegalId.from_dict(live["legalIdentifier"]), roles=live["roles"],
                valid_from=moment, valid_until=valid_until, signing_key=new_key)
            self._save_registry(registry)
        log.info("participant signing key rotated",
                 extra={"participant": did, "key": new_key, "reason": reason})
        return issued

    @staticmethod
    def _live_entry(registry: dict[str, Any], did: str) -> dict[str, Any]:
        now = format_datetime(aware_now(None))
        live = [e for e in registry["credentials"]
                if e["did"] == did and e["revoked"] is None and e["validUntil"] > now]
        if not live:
            raise AuthorityError("this participant holds no live credential of this "
                                 "authority", code=AuthorityCode.UNKNOWN_PARTICIPANT)
        return live[-1]

    def _key_in_use(self, registry: dict[str, Any], key: str) -> bool:
        authority_keys = {s.get("newKey") for s in self._config.get("keyChain", [])}
        if key == self.did or key in authority_keys \
                or any(e["did"] == key for e in registry["credentials"]):
            return True
        return any(p.get("key") == key for periods in registry.get("keys", {}).values()
                   for p in periods)

    # ------------------------------------------------------------------ publication

    def status_list(self) -> StatusList:
        """The revocation bitstring as the registry defines it right now."""
        bits = StatusList(self._config["statusListLength"])
        for entry in self._load_registry()["credentials"]:
            if entry["revoked"] is not None:
                bits.set(entry["index"])
        return bits

    def status_list_jwt(self, now: datetime | None = None) -> str:
        """A freshly signed BitstringStatusListCredential, valid for the configured ttl."""
        return sign_status_list(self.signing_key, self.status_list_url, self.status_list(),
                                now=now, ttl=self.status_list_ttl, authority=self._signs_as())

    def public_registry(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """What the federated catalog crawls: identities and roles, no JWTs, no reasons."""
        at = format_datetime(aware_now(now))
        participants = []
        for entry in self._load_registry()["credentials"]:
            if entry["revoked"] is not None:
                status = "revoked"
            elif entry["validUntil"] <= at:  # same fixed-width UTC form: string order is time
                status = "expired"
            else:
                status = "active"
            participants.append({
                "id": entry["did"],
                "name": entry["name"],
                "legalIdentifier": entry["legalIdentifier"],
                "roles": entry["roles"],
                "credentialId": entry["id"],
                "statusListIndex": entry["index"],
                "validFrom": entry["validFrom"],
                "validUntil": entry["validUntil"],
                "status": status,
            })
        return participants

    def signed_registry(self, now: datetime | None = None) -> dict[str, Any]:
        """The participant registry the federated catalog crawls (trust.participant_registry):
        live participants only (a revoked or expired credential is left out), each with the
        NATS subject its connector answers DSP requests on, signed by the authority."""
        live = []
        for p in self.public_registry(now):
            if p["status"] != "active":
                continue
            live.append({"id": p["id"], "name": p["name"], "roles": p["roles"],
                         "legalIdentifier": p["legalIdentifier"],
                         "dspSubject": dsp_inbox(p["id"]).removesuffix(".*"),
                         "credentialId": p["credentialId"], "validUntil": p["validUntil"]})
        # A participant issued a new credential appears once (its newest).
        by_did = {p["id"]: p for p in live}
        return sign_registry(self.signing_key, list(by_did.values()),
                             authority=self._signs_as(), authority_keys=self.key_chain, now=now)

"""The data-space authority's state: a directory of files, pure file and crypto logic.

Layout of an authority directory (mode 0700, every file 0600)::

    authority.key    Ed25519 private key, PKCS8 PEM (never overwritten); sealed with the
                     at-rest key when authority.json names one
    authority.json   config: name, DID, public URL, status list URL / length / ttl, and
                     where the at-rest key is (``atRestKey``, a trust.at_rest source)
    registry.json    every credential issued: participant DID, name, legal id, roles,
                     status index, validity, the vc+jwt, and its revocation if any
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
from trust.credentials import (
    aware_now,
    build_participant_credential,
    check_name,
    format_datetime,
    parse_roles,
    sign_vc_jwt,
)
from trust.errors import ConfigError, TsunaguError, ValidationError
from trust.keys import KEY_FILE_ROLE, KeyPair, load_key, save_key
from trust.legal_id import LegalId, parse_legal_id
from trust.status_list import DEFAULT_TTL, MIN_LENGTH, StatusList, sign_status_list

try:  # POSIX; elsewhere concurrent CLI writers are not serialised
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("tsunagu.authority")

KEY_FILE = "authority.key"
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
        key = load_key(directory / KEY_FILE, at_rest)
        if key.did != config["did"]:
            raise ConfigError(f"{KEY_FILE} does not match the DID in {CONFIG_FILE}")
        return cls(directory, config, key, at_rest)

    @property
    def key(self) -> KeyPair:
        """The authority's signing key (for its grant desk: never written anywhere)."""
        return self._key

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

    def announcement(self, nats_urls: Sequence[str], now: datetime | None = None
                     ) -> dict[str, Any]:
        """The signed data-space announcement (``trust.announcement``) with these NATS URLs."""
        return sign_announcement(self._key, name=self.name, nats_urls=nats_urls,
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
        credential_id = f"urn:uuid:{uuid.uuid4()}"
        with self.locked():
            registry = self._load_registry()
            index = registry["nextIndex"]
            if index >= self._config["statusListLength"]:
                raise AuthorityError("the status list is full; no index left to allocate",
                                     code=AuthorityCode.STATUS_LIST_FULL)
            credential = build_participant_credential(
                issuer=self.did, subject_did=did, name=name, legal_id=legal, roles=roles,
                valid_from=valid_from, valid_until=valid_until,
                status_list_url=self.status_list_url, status_index=index,
                credential_id=credential_id,
            )
            token = sign_vc_jwt(credential, self._key)
            subject = credential["credentialSubject"]
            registry["credentials"].append({
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
            })
            registry["nextIndex"] = index + 1
            self._save_registry(registry)
        log.info("participant credential issued", extra={"participant": did, "index": index})
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
        return sign_status_list(self._key, self.status_list_url, self.status_list(),
                                now=now, ttl=self.status_list_ttl)

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

"""Backup and restore of a participant: one encrypted file, taken while the connector runs.

``write_backup`` copies every SQLite store of the participant with SQLite's online backup
(a consistent snapshot, even while the connector writes) and every other file of its
directory (config, key, credential, NATS credentials), leaving out what is rebuilt
(an embedded nats-server's data, WAL files). The archive is sealed with a key derived from
a passphrase (Argon2id, libsodium's secret box: XSalsa20-Poly1305), so the backup can sit
on any disk: without the passphrase it reveals nothing, and a wrong passphrase or a
truncated file is refused as such.

Encryption at rest: stores sealed with the participant's at-rest key are copied as they are
(the online backup between two connections keyed alike), sealed secret files too, and the
at-rest key itself goes into the archive (under the passphrase), so a fresh machine needs
only the backup and its passphrase. ``restore_backup`` puts the key where the restored
config's ``[at_rest]`` source says (a ``file:`` that does not exist yet); a key already there,
or one from the environment, a keyring or a KMS, must be the backup's own, or nothing is
restored.

``restore_backup`` writes it into a new, empty directory and leaves a marker there: at its
first start the connector ends each transfer it consumes and asks for it again from the
stream's start (``TransferService.renew_all``). The provider's durable consumer had
acknowledged what arrived after the backup; reading again from the start, with what is held
ignored by (record id, version), loses and duplicates nothing.
"""

from __future__ import annotations

import hmac
import io
import os
import struct
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from connector.errors import ConnectorCode
from connector.store.database import open_sqlite
from trust.at_rest import AtRestKey, KeySource, decode_key, encode_key, write_key_file
from trust.errors import AtRestError, TsunaguError

MAGIC = b"tsunagu-backup 1\n"
STORE_NAME = "connector.sqlite"
RESTORED_MARKER = "RESTORED"  # in the restored directory until the first start renews transfers
_KDF = nacl.pwhash.argon2id
_HEADER = struct.Struct(">16sQQ")  # salt, opslimit, memlimit
_SKIP_DIRS = {"nats"}  # an embedded server's JetStream data: the data space holds the streams
_SKIP_SUFFIXES = ("-wal", "-shm", "-journal")
MIN_PASSPHRASE = 12
AT_REST_ENTRY = ".tsunagu/at-rest.key"  # the at-rest key, inside the sealed archive only
# Where a restored directory's config says its at-rest key belongs, from the archive's files.
KeySourceOf = Callable[[dict[str, bytes], Path], KeySource | None]


class BackupError(TsunaguError):
    code = ConnectorCode.BACKUP_INVALID


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    files: tuple[str, ...]
    stores: tuple[str, ...]
    bytes: int


def _key(passphrase: bytes, salt: bytes, ops: int, mem: int) -> bytes:
    return _KDF.kdf(nacl.secret.SecretBox.KEY_SIZE, passphrase, salt, opslimit=ops,
                    memlimit=mem)


def _is_sqlite(path: Path, at_rest: AtRestKey | None) -> bool:
    """A plain SQLite file, or (with an at-rest key) a store file: an encrypted one has no
    header to recognise it by."""
    with path.open("rb") as f:
        plain = f.read(16) == b"SQLite format 3\x00"
    return plain or (at_rest is not None and path.suffix == ".sqlite")


def _snapshot(store: Path, key: bytes | None) -> bytes:
    """A consistent copy of a live SQLite store (the online backup API), encrypted with
    the store's own key if it has one."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.sqlite"
        source, target = open_sqlite(store, key), open_sqlite(copy, key)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return copy.read_bytes()


def write_backup(directory: Path, out: Path, passphrase: str, *,
                 holds: str = STORE_NAME, at_rest: AtRestKey | None = None) -> BackupSummary:
    """Back up the participant whose data directory is ``directory`` (its participant.toml
    with it, as ``connector init`` lays them out) into ``out``, sealed with ``passphrase``.
    ``holds``: the file that shows ``directory`` is what it should be (an authority's
    directory holds authority.json). ``at_rest``: the key its files are sealed with."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
    directory = directory.resolve()
    if not (directory / holds).is_file():
        raise BackupError(f"{directory} holds no {holds}: give the directory that "
                          "init created")
    archive, files, stores = io.BytesIO(), [], []
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if not path.is_file() or relative.parts[0] in _SKIP_DIRS \
                    or path.name.endswith(_SKIP_SUFFIXES) or path.resolve() == out.resolve():
                continue
            store = _is_sqlite(path, at_rest)
            data = _snapshot(path, at_rest and at_rest.store_key) if store else path.read_bytes()
            (stores if store else files).append(relative.as_posix())
            _add(tar, relative.as_posix(), data)
        if at_rest is not None:
            _add(tar, AT_REST_ENTRY, encode_key(at_rest.key).encode())
    salt = nacl.utils.random(_KDF.SALTBYTES)
    ops, mem = _KDF.OPSLIMIT_INTERACTIVE, _KDF.MEMLIMIT_INTERACTIVE
    box = nacl.secret.SecretBox(_key(passphrase.encode(), salt, ops, mem))
    sealed = MAGIC + _HEADER.pack(salt, ops, mem) + box.encrypt(archive.getvalue())
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".backup-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(sealed)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return BackupSummary(out, tuple(files), tuple(stores), len(sealed))


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o600
    tar.addfile(info, io.BytesIO(data))


def _place_at_rest_key(key: bytes, source: KeySource | None) -> str | None:
    """Where the backup's at-rest key now is (a new key file), after checking that a key
    the restored config finds elsewhere is the same; raises BackupError before anything is
    written otherwise."""
    if source is None:
        raise BackupError("the backup's files are sealed at rest but its config names no "
                          "[at_rest] key; nothing was restored")
    if source.path is not None and not source.path.exists():
        return str(source.path)
    try:
        found = source.load().key
    except AtRestError as exc:
        raise BackupError(f"the restored config's at-rest key cannot be read: {exc.message}; "
                          "nothing was restored") from None
    if not hmac.compare_digest(found, key):
        raise BackupError(f"the at-rest key from {source.spec} is not the one this backup was "
                          "made with; give the backup's key there, or restore beside a "
                          "new key file; nothing was restored",
                          code=ConnectorCode.BACKUP_INVALID)
    return None


def restore_backup(backup: Path, directory: Path, passphrase: str, *,
                   marker: str | None = RESTORED_MARKER,
                   key_source_of: KeySourceOf | None = None) -> Path:
    """Write the participant of ``backup`` into ``directory`` (new or empty); returns its
    participant.toml. Nothing is written unless the whole backup opens. ``marker``: the
    file that tells the first start it was restored (None: none, for an authority).
    ``key_source_of``: where the restored config puts the at-rest key."""
    data = backup.read_bytes()
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _HEADER.size:
        raise BackupError(f"{backup} is not a tsunagu backup")
    salt, ops, mem = _HEADER.unpack_from(data, len(MAGIC))
    try:
        key = _key(passphrase.encode(), salt, ops, mem)
        plain = nacl.secret.SecretBox(key).decrypt(data[len(MAGIC) + _HEADER.size:])
    except (nacl.exceptions.CryptoError, ValueError):
        raise BackupError("the passphrase does not open this backup, or the file is damaged "
                          "or truncated; nothing was restored") from None
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty: restore into a new directory (a "
                          "participant may already live there); nothing was restored")
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r") as tar:
        members = tar.getmembers()
        for member in members:
            name = PurePosixPath(member.name)
            if not member.isfile() or name.is_absolute() or ".." in name.parts:
                raise BackupError(f"the backup holds an unsafe entry {member.name!r}; "
                                  "nothing was restored")
        contents = {m.name: _read(tar, m) for m in members}
    at_rest = contents.pop(AT_REST_ENTRY, None)
    new_key_file = None
    if at_rest is not None:
        at_rest_key = decode_key(at_rest.decode(), "the backup's at-rest key")
        source = key_source_of(contents, directory.resolve()) if key_source_of else None
        new_key_file = _place_at_rest_key(at_rest_key, source)
        if new_key_file is not None:
            write_key_file(Path(new_key_file), at_rest_key)
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in contents.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
    if marker is not None:
        (directory / marker).write_text(f"restored from {backup.name}\n", encoding="utf-8")
    return directory / "participant.toml"  # there when the backup's directory held it


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    extracted = tar.extractfile(member)
    assert extracted is not None
    return extracted.read()

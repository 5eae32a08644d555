"""``tsunagu connector backup`` and ``restore`` (connector.runtime.backup)."""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path

from connector.runtime.backup import BackupError, restore_backup, write_backup
from trust.at_rest import KeySource

PASSPHRASE_ENV = "TSUNAGU_BACKUP_PASSPHRASE"


def participant_key_source(files: dict[str, bytes], directory: Path) -> KeySource | None:
    """The at-rest key source of a restored participant.toml (relative to its new place)."""
    raw = files.get("participant.toml")
    if raw is None:
        return None
    spec = tomllib.loads(raw.decode("utf-8")).get("at_rest", {}).get("key")
    return KeySource(spec, base=directory) if isinstance(spec, str) else None


def add_backup_actions(actions: argparse._SubParsersAction) -> None:
    how = (f"The passphrase comes from --passphrase-file or the {PASSPHRASE_ENV} environment "
           "variable, never from the command line (other users see it there).")
    p = actions.add_parser(
        "backup", help="write an encrypted backup of a participant, while it runs",
        description="Copy every SQLite store of the participant consistently (online backup) "
                    "and its config, key and credentials into one file sealed with a "
                    f"passphrase. {how}")
    p.add_argument("--config", type=Path, required=True, help="participant.toml")
    p.add_argument("--out", type=Path, required=True, help="the backup file to write")
    p.add_argument("--passphrase-file", type=Path, help="a file holding the passphrase")
    p.set_defaults(func=_backup)
    p = actions.add_parser(
        "restore", help="bring a participant back from a backup into a new directory",
        description="Write the participant of BACKUP into DIR (new or empty). At its first "
                    "start the connector reads each stream it consumes again from the start; "
                    f"what it already holds is ignored, so nothing is lost or doubled. {how}")
    p.add_argument("backup", type=Path, help="a file written by tsunagu connector backup")
    p.add_argument("--dir", type=Path, required=True, help="where to restore (new or empty)")
    p.add_argument("--passphrase-file", type=Path, help="a file holding the passphrase")
    p.set_defaults(func=_restore)


def passphrase(args: argparse.Namespace) -> str:
    """The backup passphrase: ``--passphrase-file`` or the environment, never argv."""
    if args.passphrase_file is not None:
        try:
            return args.passphrase_file.read_text(encoding="utf-8").rstrip("\n")
        except OSError as exc:
            raise BackupError(f"cannot read {args.passphrase_file}: {exc.strerror}") from None
    value = os.environ.get(PASSPHRASE_ENV)
    if not value:
        raise BackupError(f"no passphrase: give --passphrase-file or set {PASSPHRASE_ENV}")
    return value


def _backup(args: argparse.Namespace) -> int:
    from connector.runtime.config import load_config

    config = load_config(args.config)
    summary = write_backup(config.data_dir, args.out, passphrase(args),
                           at_rest=config.load_at_rest_key())
    print(f"backup      {summary.path}  ({summary.bytes:,} bytes, sealed)")
    print(f"stores      {', '.join(summary.stores)}")
    print(f"files       {', '.join(summary.files)}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    config = restore_backup(args.backup, args.dir, passphrase(args),
                            key_source_of=participant_key_source)
    print(f"restored    {config}")
    print(f"next        tsunagu connector run --config {config}  (its streams are read "
          "again from the start once)")
    return 0

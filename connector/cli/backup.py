"""``tsunagu connector backup`` and ``restore`` (connector.runtime.backup)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from connector.runtime.backup import BackupError, restore_backup, write_backup

PASSPHRASE_ENV = "TSUNAGU_BACKUP_PASSPHRASE"


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

    summary = write_backup(load_config(args.config).data_dir, args.out, passphrase(args))
    print(f"backup      {summary.path}  ({summary.bytes:,} bytes, sealed)")
    print(f"stores      {', '.join(summary.stores)}")
    print(f"files       {', '.join(summary.files)}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    config = restore_backup(args.backup, args.dir, passphrase(args))
    print(f"restored    {config}")
    print(f"next        tsunagu connector run --config {config}  (its streams are read "
          "again from the start once)")
    return 0

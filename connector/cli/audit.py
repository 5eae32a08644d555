"""``tsunagu audit verify``: check a connector's hash-chained audit log."""

from __future__ import annotations

import argparse
from pathlib import Path

from connector.cli.store_key import add_at_rest_option, store_key_for
from connector.errors import ConnectorCode


def register(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser("audit", help="inspect the connector's audit log")
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = sub.add_parser("verify", help="check that no audit line was edited or removed")
    source = verify.add_mutually_exclusive_group(required=True)
    source.add_argument("--store", type=Path, help="the connector's SQLite store file")
    source.add_argument("--file", type=Path, help="an exported audit log (one line per entry)")
    add_at_rest_option(verify)
    verify.set_defaults(func=_verify)


def _verify(args: argparse.Namespace) -> int:
    from connector.control.audit import AuditLog, verify_chain
    from connector.store.database import Store, StoreError

    if args.store is not None:
        if not args.store.is_file():
            raise StoreError(f"no store file at {args.store}", code=ConnectorCode.STORE_NOT_FOUND)
        store = Store(args.store, store_key_for(args.store, args.at_rest_key))
        try:
            lines = AuditLog(store).lines()
        finally:
            store.close()
    else:
        lines = [ln for ln in args.file.read_text(encoding="utf-8").splitlines() if ln.strip()]
    report = verify_chain(lines)
    if report.ok:
        print(f"audit log intact: {report.lines} lines")
        return 0
    print(f"audit log broken at line {report.first_bad_seq}: {report.reason}")
    return 1

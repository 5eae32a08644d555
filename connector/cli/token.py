"""``tsunagu connector token``: issue, list or revoke app API tokens (see connector_cli)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from connector.api.tokens import SCOPES
from connector.cli.store_key import add_at_rest_option, store_key_for
from connector.errors import ConnectorCode


def _all_scopes() -> list[str]:
    """The core scopes and those the installed domain plug-ins declare (bosai:dashboard)."""
    from connector.plugins.registry import load_domain_plugins

    return sorted(SCOPES | {s for p in load_domain_plugins() for s in p.scopes})


def add_token_action(actions: argparse._SubParsersAction) -> None:
    scopes = _all_scopes()
    token = actions.add_parser(
        "token", help="issue a bearer token for the local app API (printed once)",
        description="Issue a token for apps. The token is printed once; only its SHA-256 "
                    f"digest is stored. Scopes: {', '.join(scopes)}.")
    token.add_argument("--store", type=Path, required=True,
                       help="the connector's SQLite store (data_dir/connector.sqlite)")
    add_at_rest_option(token)
    what = token.add_mutually_exclusive_group(required=True)
    what.add_argument("--scope", action="append", choices=scopes, metavar="SCOPE",
                      help="a scope the token grants; repeat for several")
    what.add_argument("--revoke", metavar="TOKEN_ID", help="revoke the token with this id")
    what.add_argument("--list", action="store_true", help="list tokens (ids, never secrets)")
    token.add_argument("--days", type=int, default=90, help="validity in days (default 90)")
    token.add_argument("--role", default=None,
                       help="the role the app reads as (policies can constrain "
                            "tsunagu:readerRole), e.g. health_department")
    token.add_argument("--subject", action="append", default=None, metavar="ID",
                       help="limit the app's reads of received data to records about this "
                            "party (repeat for several; a family app and its members)")
    token.set_defaults(func=_token)


def _token(args: argparse.Namespace) -> int:
    from connector.api.tokens import TokenStore
    from connector.plugins.registry import activate_plugins, load_domain_plugins
    from connector.store.database import Store, StoreError

    if not args.store.is_file():
        raise StoreError(f"no store file at {args.store}; start the connector once first",
                         code=ConnectorCode.STORE_NOT_FOUND)
    store = Store(args.store, store_key_for(args.store, args.at_rest_key))
    try:
        tokens = TokenStore(store)
        if args.list:
            for row in tokens.list():
                state = "revoked" if row["revoked"] else f"expires {row['expires']}"
                reader = f"  role {row['role']}" if row["role"] else ""
                if row["subjects"] is not None:
                    reader += f"  limited to {row['subjects']} parties"
                print(f"{row['id']}  {' '.join(row['scopes'])}  {state}{reader}")
            return 0
        if args.revoke:
            if not tokens.revoke(args.revoke):
                print(f"no token {args.revoke}")
                return 1
            print(f"revoked {args.revoke}")
            return 0
        activate_plugins(load_domain_plugins())  # their scopes become issuable
        issued = tokens.issue(args.scope, days=args.days, role=args.role,
                              subjects=args.subject)
    finally:
        store.close()
    print(issued.token)  # the only time the secret is shown: stdout alone, easy to capture
    reads_as = f", reads as {issued.role}" if issued.role else ""
    if issued.subjects is not None:
        reads_as += f", limited to {len(issued.subjects)} parties"
    print(f"token {issued.id}: {' '.join(sorted(issued.scopes))}, "
          f"expires {issued.expires.isoformat()}{reads_as}", file=sys.stderr)
    return 0

"""``tsunagu connector staff``: personal staff accounts (connector.api.staff).

add | list | disable | enable | reset-totp | link-oidc | sessions | revoke-session. ``add``
and ``reset-totp`` print the TOTP provisioning URI once (stdout alone, to paste into an
authenticator app or a QR code); the password is read from a file or typed at a prompt,
never taken on the command line (it would sit in the shell history and the process list).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from connector.cli.store_key import add_at_rest_option, store_key_for
from connector.errors import ConnectorCode


def add_staff_action(actions: argparse._SubParsersAction) -> None:
    staff = actions.add_parser(
        "staff", help="personal staff accounts: password + TOTP or OpenID Connect logins",
        description="Persons who log in to the dashboard and apps. Sessions and audit lines "
                    "name them. See docs/staff-accounts.md.")
    what = staff.add_subparsers(dest="staff_command", required=True, metavar="ACTION")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = what.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--store", type=Path, required=True,
                       help="the connector's SQLite store (data_dir/connector.sqlite)")
        add_at_rest_option(p)
        return p

    add = command("add", "add a staff account (prints its TOTP provisioning URI once)")
    add.add_argument("login", help="login name: lowercase letters, digits, '.', '_', '-'")
    add.add_argument("--name", required=True, help="display name, e.g. 山田 花子")
    add.add_argument("--department", help="e.g. 危機管理課")
    add.add_argument("--role", help="the role the person reads as in the usage gate "
                                    "(tsunagu:readerRole), e.g. health_department")
    add.add_argument("--scope", action="append", required=True, metavar="SCOPE",
                     help="a scope the account has (as token scopes); repeat for several")
    add.add_argument("--password-file", type=Path,
                     help="read the password from this file (first line); default: a prompt")
    add.add_argument("--no-password", action="store_true",
                     help="no local login: the person logs in through OpenID Connect only")
    add.add_argument("--oidc-issuer", help="the provider's issuer URL (with --oidc-subject)")
    add.add_argument("--oidc-subject", help="the person's 'sub' at that provider")
    add.set_defaults(func=_add)

    command("list", "list staff accounts (never a hash or secret)").set_defaults(func=_list)
    for name, func, text in (("disable", _disable, "disable an account and end its sessions"),
                             ("enable", _enable, "enable a disabled account again"),
                             ("reset-totp", _reset_totp,
                              "give an account a new TOTP secret (prints its URI once)")):
        p = command(name, text)
        p.add_argument("login", help="login name or account id (stf_...)")
        p.set_defaults(func=func)
    link = command("link-oidc", "link an account to a subject at the OpenID Connect provider")
    link.add_argument("login", help="login name or account id (stf_...)")
    link.add_argument("--issuer", required=True)
    link.add_argument("--subject", required=True)
    link.set_defaults(func=_link)
    sessions = command("sessions", "list live staff sessions (handles, never secrets)")
    sessions.add_argument("login", nargs="?", help="only this account's")
    sessions.set_defaults(func=_sessions)
    revoke = command("revoke-session", "end a session, or every session of an account, now")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("session", nargs="?", help="a session id (ses_...)")
    which.add_argument("--account", help="every session of this login name or account id")
    revoke.set_defaults(func=_revoke)
    staff.set_defaults(func=lambda args: staff.print_help() or 2)


def _service(args: argparse.Namespace) -> Any:
    from connector.api.staff.service import StaffAuth
    from connector.plugins.registry import activate_plugins, load_domain_plugins
    from connector.store.database import Store, StoreError

    if not args.store.is_file():
        raise StoreError(f"no store file at {args.store}; start the connector once first",
                         code=ConnectorCode.STORE_NOT_FOUND)
    activate_plugins(load_domain_plugins())  # their scopes (bosai:dashboard) become known
    return StaffAuth(Store(args.store, store_key_for(args.store, args.at_rest_key)))


def _password(args: argparse.Namespace) -> str:
    if args.password_file is not None:
        lines = args.password_file.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("the two passwords differ; nothing was changed")
    return first


def _add(args: argparse.Namespace) -> int:
    staff = _service(args)
    try:
        password = None if args.no_password else _password(args)
        made = staff.accounts.add(args.login, args.name, scopes=args.scope,
                                  department=args.department, role=args.role,
                                  password=password, oidc_issuer=args.oidc_issuer,
                                  oidc_subject=args.oidc_subject)
    finally:
        staff.store.close()
    if made.totp_uri:
        print(made.totp_uri)  # the only time the TOTP secret is shown
    print(f"staff account {made.account.id} ({made.account.login}): "
          f"{' '.join(sorted(made.account.scopes))}", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    staff = _service(args)
    try:
        for account in staff.accounts.list():
            row = account.summary()
            state = "disabled" if row["disabled"] else "active"
            ways = [w for w, on in (("password+totp", row["local_login"]),
                                    ("oidc", row["oidc"])) if on]
            print(f"{row['id']}  {row['login']}  {row['name']}  {row['department'] or '-'}  "
                  f"{row['role'] or '-'}  {' '.join(row['scopes'])}  {state}  "
                  f"{','.join(ways)}")
    finally:
        staff.store.close()
    return 0


def _disable(args: argparse.Namespace) -> int:
    staff = _service(args)
    try:
        account = staff.accounts.set_disabled(args.login, True)
        ended = staff.sessions.revoke_account(account)
    finally:
        staff.store.close()
    print(f"disabled {account.id} ({account.login}); ended {ended} session(s)")
    return 0


def _enable(args: argparse.Namespace) -> int:
    staff = _service(args)
    try:
        account = staff.accounts.set_disabled(args.login, False)
    finally:
        staff.store.close()
    print(f"enabled {account.id} ({account.login})")
    return 0


def _reset_totp(args: argparse.Namespace) -> int:
    staff = _service(args)
    try:
        uri = staff.accounts.reset_totp(args.login)
    finally:
        staff.store.close()
    print(uri)
    return 0


def _link(args: argparse.Namespace) -> int:
    staff = _service(args)
    try:
        account = staff.accounts.link_oidc(args.login, args.issuer, args.subject)
    finally:
        staff.store.close()
    print(f"linked {account.id} ({account.login}) to {args.issuer}")
    return 0


def _sessions(args: argparse.Namespace) -> int:
    staff = _service(args)
    try:
        account = staff.accounts.require(args.login) if args.login else None
        for row in staff.sessions.list(account):
            print(f"{row['id']}  {row['account']}  {row['method']}  created {row['created']}  "
                  f"last seen {row['last_seen']}  expires {row['expires']}")
    finally:
        staff.store.close()
    return 0


def _revoke(args: argparse.Namespace) -> int:
    staff = _service(args)
    try:
        if args.account:
            ended = staff.sessions.revoke_account(staff.accounts.require(args.account))
            print(f"ended {ended} session(s)")
            return 0
        if not staff.sessions.revoke(args.session):
            print(f"no live session {args.session}")
            return 1
        print(f"revoked {args.session}")
        return 0
    finally:
        staff.store.close()

"""``tsunagu connector init | run | token | staff | backup | restore | rotate-key``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path

from connector.cli.backup import add_backup_actions
from connector.cli.rotate_key import add_rotate_key_action
from connector.cli.staff import add_staff_action
from connector.cli.token import add_token_action
from trust.errors import ConfigError

ROLE_HELP = ("repeatable; a role of the core (municipality, medical_institution, app_provider, "
             "resident_app) or of an installed domain (bosai: shelter_operator, ...)")


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("connector", help="run and administer a participant connector")
    actions = group.add_subparsers(dest="connector_command", required=True, metavar="ACTION")
    _add_init(actions)
    _add_run(actions)
    add_token_action(actions)
    add_staff_action(actions)
    add_backup_actions(actions)
    add_rotate_key_action(actions)


def _add_init(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "init", help="create a participant: key, participant.toml, credential request",
        description="Creates the participant's Ed25519 key (mode 0600), participant.toml and "
                    "credential-request.json. With --authority URL it reads the authority's "
                    "signed announcement there (its DID, NATS URLs and status-list URL) and "
                    "prints the DID to compare with the one the authority gave you. Send the "
                    "request to the data-space authority (`tsunagu authority issue --request "
                    "FILE --out DIR/credential.jwt`).")
    p.add_argument("--dir", type=Path, required=True, help="the participant's data directory")
    p.add_argument("--name", required=True, help="legal name, e.g. 仙台市")
    p.add_argument("--legal-id", required=True,
                   help="法人番号 (13 digits) or 全国地方公共団体コード (6 digits)")
    p.add_argument("--role", action="append", required=True, dest="roles", metavar="ROLE",
                   help=ROLE_HELP)
    p.add_argument("--authority", metavar="URL",
                   help="the data-space authority's URL, as `tsunagu authority serve` prints "
                        "it (e.g. http://127.0.0.1:8470): its DID, NATS URLs and status-list "
                        "URL are read from its signed announcement")
    p.add_argument("--authority-did", action="append", default=[], dest="authority_dids",
                   help="did:key of a trusted data-space authority (repeatable); with "
                        "--authority, the announcement must be signed by it")
    p.add_argument("--status-list-url",
                   help="where the authority publishes its status list (default: announced)")
    p.add_argument("--nats-url", action="append", default=[], dest="nats_urls",
                   help="the data space's NATS server (repeatable; default: announced); the "
                        "connector logs in with DIR/nats.creds")
    p.add_argument("--insecure-no-auth", action="store_true",
                   help="development only: NATS without credentials (no --nats-url: an "
                        "embedded server), so no isolation between participants")
    p.add_argument("--status-list-refresh", type=float, metavar="SECONDS",
                   help="how often to fetch the authority's status list (default 60)")
    p.add_argument("--api-port", type=int, metavar="PORT",
                   help="local app API port (default: 8480 or the next one free on this "
                        "machine and not given to a participant beside DIR)")
    p.add_argument("--at-rest-key", metavar="SOURCE",
                   help="the key that encrypts the store, the participant key and the NATS "
                        "seed on disk: file:PATH (created if missing), env:VAR, "
                        "keyring:SERVICE/NAME or kms:NAME[:ARG] (default: file:../DIR.at-rest"
                        ".key, beside DIR)")
    p.add_argument("--plain-at-rest", action="store_true",
                   help="development and benchmarks only: nothing encrypted at rest (store, "
                        "key and NATS seed in plain files, as before 0.3)")
    p.set_defaults(func=_init)


async def _init(args: argparse.Namespace) -> int:
    from connector.runtime.joining import resolve
    from connector.runtime.setup import init_participant

    if args.authority is None and not args.authority_dids:
        raise ConfigError("give the authority's URL with --authority (or its did:key with "
                          "--authority-did)")
    joined = await resolve(args.authority, authority_dids=args.authority_dids,
                           status_list_url=args.status_list_url, nats_urls=args.nats_urls)
    result = init_participant(
        args.dir, name=args.name, legal_id=args.legal_id, roles=args.roles,
        authority_dids=joined.authority_dids, status_list_url=joined.status_list_url,
        nats_urls=joined.nats_urls, api_port=args.api_port,
        insecure_no_auth=args.insecure_no_auth, status_list_refresh_s=args.status_list_refresh,
        at_rest_key=args.at_rest_key, plain_at_rest=args.plain_at_rest,
        stream_replicas=joined.stream_replicas)
    if joined.announcement is not None:
        found = joined.announcement
        print(f"authority   {found.authority}  ({found.name}; signed announcement verified: "
              "compare this DID with the one the authority gave you)")
        print(f"nats        {', '.join(joined.nats_urls) or '(none announced)'}"
              + (f"  (streams R{joined.stream_replicas})" if joined.stream_replicas > 1
                 else ""))
        print(f"status list {joined.status_list_url}")
    print(f"participant {result.did}")
    print(f"config      {result.config_path}")
    chosen = "" if args.api_port is not None else \
        "  (the first free port; --api-port N or [api] port in the config to change it)"
    print(f"app API     http://127.0.0.1:{result.api_port}{chosen}")
    print(f"request     {result.request_path}  (send it to the authority)")
    made = "new; " if result.at_rest_key_created else ""
    if result.at_rest_key is None:
        print("at-rest key none  (INSECURE, development only: nothing encrypted on disk)")
    else:
        print(f"at-rest key {result.at_rest_key}  ({made}encrypts this participant's files "
              "on disk: keep it apart from DIR and back it up on its own; without it nothing "
              "can be read)")
    return 0


def _add_run(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser("run", help="run the connector until SIGTERM or Ctrl-C")
    p.add_argument("--config", type=Path, required=True, help="participant.toml")
    p.set_defaults(func=_run)


async def _serve(config_path: Path) -> int:
    from connector.runtime.config import load_config
    from connector.runtime.connector import Connector
    from connector.runtime.gc_pauses import GcPauses, settle

    connector = Connector(load_config(config_path), api=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await connector.start()
    # Process-wide, so here and not in the library: collections time into /metrics, and
    # what the start-up made is frozen out of every later collection (gc_pauses).
    GcPauses(connector.metrics).install()
    settle()
    port = connector.api.port if connector.api is not None else None
    # One machine-readable line, so scripts and tests know when the connector is ready.
    print(f"ready participant={connector.did} api=http://{connector.config.api.host}:{port}",
          flush=True)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await connector.stop()
    return 0


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(_serve(args.config))

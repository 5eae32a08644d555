"""``tsunagu authority init|issue|revoke|serve|nats-config``: run a data-space authority.

``serve`` publishes, read-only, what relying parties need: the signed status list (re-signed
on each request from the registry on disk, so a ``revoke`` run from another shell shows up
at once), the public participant registry and the authority's DID. It binds to loopback
unless told otherwise and keeps no access log (client addresses are personal data).

``serve`` also runs the data space's NATS in operator mode (``authority.space``):
it starts the embedded nats-server (or, with ``--nats-url``, uses one configured with
``nats-config``) on the same port at every start, announces its URL on the ready line and
answers stream grant requests.

What connectors must be told is one signed document, the data-space announcement
(``trust.announcement``: the DID, NATS URLs, status-list and registry URLs), served at
``/.well-known/tsunagu-data-space``; ``tsunagu connector init --authority URL`` reads it.
Its URLs are built from ``--public-url`` (given at ``init``), so ``serve`` should be reachable
there (``--port`` defaults to the default public URL's 8470).
``issue`` writes the participant's NATS user credentials (``nats.creds``, 0600) beside the
credential and pushes its account to that server; ``revoke`` revokes the account, which
disconnects the participant's connectors. ``--no-nats`` serves HTTP only: connectors then
need ``insecure_no_auth`` and nothing isolates participants on NATS (development only).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web

from authority import key_commands
from authority.errors import AuthorityCode
from authority.state import (
    CONFIG_FILE,
    DEFAULT_PUBLIC_URL,
    DEFAULT_VALID_DAYS,
    KEY_HISTORY_PATH,
    PARTICIPANTS_PATH,
    STATUS_LIST_PATH,
    Authority,
)
from connector.cli.connector import ROLE_HELP
from connector.runtime.setup import NATS_CREDS_NAME
from trust.announcement import WELL_KNOWN_PATH
from trust.at_rest import KeySource
from trust.credentials import format_datetime
from trust.errors import TsunaguError, ValidationError

if TYPE_CHECKING:  # imported when used: every `tsunagu` command builds this parser
    from authority.accounts import Onboarded
    from authority.space import AuthorityNats

log = logging.getLogger("tsunagu.authority")

DEFAULT_PORT = 8470
VC_JWT_MEDIA_TYPE = "application/vc+jwt"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "authority", help="data-space authority: issue, revoke and publish credentials",
        description="Issue participant credentials (VC 2.0 as vc+jwt), revoke them through a "
                    "signed Bitstring Status List, and serve both.")
    actions = parser.add_subparsers(dest="authority_command", required=True, metavar="ACTION")

    p = actions.add_parser("init", help="create an authority key, config and empty registry")
    p.add_argument("--dir", required=True, type=Path, help="authority directory (created)")
    p.add_argument("--name", required=True, help="the authority's name")
    p.add_argument("--public-url", default=DEFAULT_PUBLIC_URL,
                   help="base URL relying parties fetch the status list from "
                        f"(default {DEFAULT_PUBLIC_URL})")
    p.add_argument("--at-rest-key", metavar="SOURCE",
                   help="the key sealing authority.key and nats.json on disk: file:PATH "
                        "(created if missing), env:VAR, keyring:SERVICE/NAME or kms:NAME[:ARG] "
                        "(default: file:../DIR.at-rest.key, beside DIR)")
    p.add_argument("--status-ttl-minutes", type=int, default=15,
                   help="how long a signed status list stays valid (default 15)")
    p.set_defaults(func=_init)

    p = actions.add_parser("issue", help="issue a participant credential; prints the vc+jwt")
    p.add_argument("--dir", required=True, type=Path, help="authority directory")
    p.add_argument("--request", type=Path,
                   help="a credential-request.json written by `tsunagu connector init` "
                        "(signed by the participant's key); replaces the four options below")
    p.add_argument("--did", help="participant did:key")
    p.add_argument("--name", help="participant's legal name")
    p.add_argument("--legal-id",
                   help="法人番号 (13 digits) or 全国地方公共団体コード (6 digits)")
    p.add_argument("--role", action="append", dest="roles", metavar="ROLE",
                   help=ROLE_HELP)
    p.add_argument("--valid-days", type=int, default=DEFAULT_VALID_DAYS,
                   help=f"validity period in days (default {DEFAULT_VALID_DAYS})")
    p.add_argument("--out", type=Path,
                   help="write the vc+jwt to this new file (0600) instead of stdout")
    p.add_argument("--nats-creds", type=Path,
                   help=f"write the NATS user credentials to this new file (0600); default "
                        f"{NATS_CREDS_NAME} beside --out")
    p.set_defaults(func=_issue)

    p = actions.add_parser("revoke", help="revoke a participant's credentials")
    p.add_argument("--dir", required=True, type=Path, help="authority directory")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--did", help="revoke every live credential of this participant")
    target.add_argument("--index", type=int, help="revoke the credential at this status index")
    p.add_argument("--reason", help="kept in the private registry only")
    p.set_defaults(func=_revoke)

    p = actions.add_parser("catalog-node", help="let a participant's NATS account run a "
                                                "catalog node: import every participant's "
                                                "catalog change events (operator mode)")
    p.add_argument("--dir", required=True, type=Path, help="authority directory")
    p.add_argument("--did", required=True, help="the participant running the node")
    p.set_defaults(func=_catalog_node)

    p = actions.add_parser("registry", help="print the signed participant registry (live "
                                            "participants; what the federated catalog crawls)")
    p.add_argument("--dir", required=True, type=Path, help="authority directory")
    p.set_defaults(func=_registry)

    p = actions.add_parser("serve", help="serve the status list, the public registry, the "
                                         "data-space announcement and NATS")
    p.add_argument("--dir", required=True, type=Path, help="authority directory")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"TCP port, 0 for any free one (default {DEFAULT_PORT})")
    nats = p.add_mutually_exclusive_group()
    nats.add_argument("--nats-url", help="use this nats-server (configured with "
                                         "`tsunagu authority nats-config`) instead of "
                                         "starting the embedded one in DIR/nats; a cluster: "
                                         "every node's URL, comma-separated (all announced)")
    nats.add_argument("--no-nats", action="store_true",
                      help="INSECURE, development only: serve HTTP only; connectors then use "
                           "NATS without credentials and nothing isolates participants")
    p.add_argument("--nats-port", type=int,
                   help="client port of the embedded nats-server (default: the one kept in "
                        "DIR/nats.json from the first start, which picks a free one); the "
                        "port is kept, so the NATS URL connectors were told stays valid")
    p.add_argument("--stream-replicas", type=int, default=1, choices=range(1, 6),
                   metavar="N", help="copies of each dataset stream connectors ask for, "
                                     "announced to them (default 1; 3 on a 3-node cluster)")
    p.set_defaults(func=_serve)

    for action, help_text in (("backup", "write an encrypted backup of the authority "
                                         "(key, registry, status list, NATS accounts)"),
                              ("restore", "bring the authority back from a backup into a new "
                                          "directory")):
        p = actions.add_parser(action, help=help_text,
                               description=f"{help_text}. The passphrase comes from "
                                           "--passphrase-file or TSUNAGU_BACKUP_PASSPHRASE. "
                                           "The data space's JetStream streams are not in "
                                           "it: back them up with NATS's own tools.")
        if action == "backup":
            p.add_argument("--dir", required=True, type=Path, help="authority directory")
            p.add_argument("--out", required=True, type=Path, help="the backup file")
            p.set_defaults(func=_backup)
        else:
            p.add_argument("backup", type=Path, help="a file written by authority backup")
            p.add_argument("--dir", required=True, type=Path, help="where (new or empty)")
            p.set_defaults(func=_restore)
        p.add_argument("--passphrase-file", type=Path, help="a file holding the passphrase")

    key_commands.register(actions)

    p = actions.add_parser(
        "nats-config", help="write nats-server configs: one server, a cluster, a hub, a leaf",
        description="Without --shape: print the operator-mode lines for one external "
                    "nats-server. With --shape: write complete configs into --out (files "
                    "0600, never overwritten), each started with `nats-server -c FILE` "
                    "(see docs/deploy.md).")
    p.add_argument("--dir", required=True, type=Path, help="authority directory")
    p.add_argument("--resolver-dir", type=Path,
                   help="without --shape: where that server keeps account JWTs")
    p.add_argument("--shape", choices=("cluster", "hub", "leaf"),
                   help="cluster: 3 or 5 nodes with routes (R3 streams); hub: a server "
                        "accepting leaf nodes; leaf: a municipality's server joined to a hub")
    p.add_argument("--out", type=Path, help="directory the files are written to")
    p.add_argument("--node", action="append", default=[], metavar="SPEC",
                   help="NAME,HOST,CLIENT_PORT,PEER_PORT,MONITOR_PORT (peer: the cluster "
                        "port of a cluster node, the leaf-node port of a hub, 0 on a leaf); "
                        "repeat per cluster node (default: 3 nodes on 127.0.0.1)")
    p.add_argument("--store-root", type=Path,
                   help="each server's store is STORE_ROOT/NAME (default: --out)")
    p.add_argument("--cluster-name", default="tsunagu", help="cluster name (default tsunagu)")
    p.add_argument("--domain", help="JetStream domain (required for hub and leaf: unique "
                                    "per hub or leaf, e.g. pref-27 or muni-271004)")
    p.add_argument("--hub-url", action="append", default=[], metavar="URL",
                   help="leaf: the hub's leaf-node URL(s), nats-leaf://HOST:7422")
    p.add_argument("--participant", metavar="DID",
                   help="leaf: the municipality whose account crosses the uplink")
    p.set_defaults(func=_nats_config)


def _init(args: argparse.Namespace) -> int:
    from connector.runtime.setup import default_at_rest_source

    at_rest = args.at_rest_key or default_at_rest_source(args.dir)
    authority = Authority.init(args.dir, name=args.name, public_url=args.public_url,
                               status_list_ttl=timedelta(minutes=args.status_ttl_minutes),
                               at_rest_key=at_rest)
    print(authority.did)
    print(f"at-rest key {at_rest}  (seals authority.key and the NATS account seeds: keep it "
          "apart from the directory and back it up on its own)", file=sys.stderr)
    return 0


def _reserve_out(path: Path) -> str:
    """Prove --out can be written before issuing: a temp file beside it, refusing overwrite."""
    if path.exists():
        raise ValidationError(f"{path} already exists; refusing to overwrite it", field="out")
    if not path.parent.is_dir():
        raise ValidationError(f"directory {path.parent} does not exist", field="out")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    except OSError as exc:
        raise ValidationError(f"cannot write in {path.parent}: {exc.strerror}",
                              field="out") from None
    os.close(fd)
    return tmp


def _subject_from_args(args: argparse.Namespace) -> None:
    """Fill did/name/legal_id/roles from --request, or insist on all four options."""
    if args.request is not None:
        from connector.runtime.setup import verify_credential_request

        try:
            request = json.loads(args.request.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValidationError(f"cannot read credential request {args.request}: {exc}",
                                  field="request") from exc
        if not isinstance(request, dict):
            raise ValidationError("credential request must be a JSON object", field="request")
        body = verify_credential_request(request)
        legal = body.get("legalIdentifier") or {}
        args.did, args.name = body.get("did"), body.get("name")
        args.legal_id, args.roles = legal.get("value"), body.get("roles")
        return
    missing = [flag for flag, value in (("--did", args.did), ("--name", args.name),
                                        ("--legal-id", args.legal_id), ("--role", args.roles))
               if not value]
    if missing:
        raise ValidationError(f"give --request FILE or all of: {', '.join(missing)}",
                              field="issue")


def _write_reserved(tmp: str, path: Path, text: str) -> None:
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(text)
    os.link(tmp, path)  # refuses a file that appeared meanwhile


async def _attached(authority: Authority) -> AuthorityNats:
    """The NATS side, connected to the server `serve` recorded if it answers (else the
    changes stay pending and `serve` pushes them)."""
    from authority.space import AuthorityNats

    nats = AuthorityNats(authority)
    if not await nats.attach():
        print("NATS server not reachable: the account change is pushed when "
              "`tsunagu authority serve` runs", file=sys.stderr)
    return nats


async def _onboard(authority: Authority, did: str) -> Onboarded:
    nats = await _attached(authority)
    try:
        return await nats.onboard(did)
    finally:
        await nats.close()


async def _issue(args: argparse.Namespace) -> int:
    _subject_from_args(args)
    authority = Authority.open(args.dir)
    creds_path = args.nats_creds or (args.out.parent / NATS_CREDS_NAME if args.out else None)
    reserved = [(path, _reserve_out(path)) for path in (args.out, creds_path) if path]
    try:
        issued = authority.issue(did=args.did, name=args.name, legal_id=args.legal_id,
                                 roles=args.roles, valid_days=args.valid_days)
        contents = {args.out: issued.jwt + "\n"}
        if creds_path is not None:
            contents[creds_path] = (await _onboard(authority, issued.did)).creds()
        for path, tmp in reserved:
            _write_reserved(tmp, path, contents[path])
    finally:
        for _, tmp in reserved:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    if args.out is None:
        print(issued.jwt)
    print(f"issued credential at status index {issued.index}, valid until "
          f"{format_datetime(issued.valid_until)}", file=sys.stderr)
    if creds_path is None:
        print("no NATS credentials written (give --out or --nats-creds)", file=sys.stderr)
    return 0


async def _revoke(args: argparse.Namespace) -> int:
    authority = Authority.open(args.dir)
    revoked = authority.revoke(did=args.did, index=args.index, reason=args.reason)
    print(f"revoked status index {', '.join(map(str, revoked))}", file=sys.stderr)
    entries = authority.credentials()
    did = args.did or next(e["did"] for e in entries if e["index"] == revoked[0])
    if any(e["did"] == did and e["revoked"] is None for e in entries):
        return 0  # another credential of the participant is still live: keep its account
    nats = await _attached(authority)
    try:
        if await nats.revoke(did):
            print("revoked the participant's NATS account", file=sys.stderr)
    finally:
        await nats.close()
    return 0


async def _catalog_node(args: argparse.Namespace) -> int:
    authority = Authority.open(args.dir)
    nats = await _attached(authority)
    try:
        count = await nats.follow_catalogs(args.did)
    finally:
        await nats.close()
    print(f"the account follows the catalog change events of {count} participant(s) "
          "(and of those onboarded later)", file=sys.stderr)
    return 0


def _backup(args: argparse.Namespace) -> int:
    from connector.cli.backup import passphrase
    from connector.runtime.backup import write_backup

    authority = Authority.open(args.dir)
    with authority.locked():  # a consistent set of files, even while serve runs
        summary = write_backup(args.dir, args.out, passphrase(args), holds=CONFIG_FILE,
                               at_rest=authority.at_rest)
    print(f"backup      {summary.path}  ({summary.bytes:,} bytes, sealed)")
    print(f"files       {', '.join(summary.files)}")
    return 0


def _registry(args: argparse.Namespace) -> int:
    print(json.dumps(Authority.open(args.dir).signed_registry(), ensure_ascii=False, indent=2))
    return 0


def _key_source(files: dict[str, bytes], directory: Path) -> KeySource | None:
    """Where a restored authority.json puts the at-rest key (relative to its new place)."""
    spec = json.loads(files.get(CONFIG_FILE, b"{}")).get("atRestKey")
    return KeySource(spec, base=directory) if isinstance(spec, str) else None


def _restore(args: argparse.Namespace) -> int:
    from connector.cli.backup import passphrase
    from connector.runtime.backup import restore_backup

    restore_backup(args.backup, args.dir, passphrase(args), marker=None,
                   key_source_of=_key_source)
    Authority.open(args.dir)  # it opens: key, config and registry are all there
    print(f"restored    {args.dir}")
    return 0


async def _nats_config(args: argparse.Namespace) -> int:
    from authority import nats_deploy as deploy
    from authority.space import AuthorityNats

    nats = AuthorityNats(Authority.open(args.dir))
    if args.shape is None:
        if args.resolver_dir is None:
            raise ValidationError("give --resolver-dir (one server) or --shape and --out",
                                  field="nats-config")
        print(await nats.server_config(args.resolver_dir), end="")
        return 0
    if args.out is None:
        raise ValidationError(f"--shape {args.shape} writes files: give --out DIR",
                              field="out")
    specs = [deploy.NodeSpec.parse(n) for n in args.node] or deploy.default_nodes(args.shape)
    if args.shape != "cluster" and len(specs) != 1:
        raise ValidationError(f"a {args.shape} is one server: give one --node", field="node")
    if args.shape != "cluster" and not args.domain:
        raise ValidationError(f"a {args.shape} needs its own JetStream --domain",
                              field="domain")
    if args.shape == "cluster":
        written = await deploy.write_cluster(nats, args.out, specs, cluster=args.cluster_name,
                                             store_root=args.store_root, domain=args.domain)
    elif args.shape == "hub":
        written = await deploy.write_hub(nats, args.out, specs[0], domain=args.domain,
                                         store_root=args.store_root)
    else:
        if not args.participant:
            raise ValidationError("a leaf needs --participant DID (the municipality)",
                                  field="participant")
        written = await deploy.write_leaf(nats, args.out, specs[0], domain=args.domain,
                                          hub_urls=args.hub_url, participant=args.participant,
                                          store_root=args.store_root)
    for path in written:
        print(path)
    if not any(p.name == deploy.ENV_FILE for p in written):
        print("no JetStream encryption key (the authority has no at-rest key)",
              file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------- HTTP


def _problem(exc: TsunaguError) -> web.Response:
    body = {"type": "about:blank", "title": exc.message, "status": 503, "code": exc.code}
    return web.json_response(body, status=503, content_type="application/problem+json")


def make_app(authority: Authority, nats_urls: Sequence[str] = (), *,
             stream_replicas: int = 1) -> web.Application:
    """The authority's read-only HTTP surface; every answer is built fresh from disk.

    ``WELL_KNOWN_PATH``: the signed data-space announcement (``trust.announcement``), what
    ``tsunagu connector init --authority URL`` reads; ``nats_urls`` are announced in it."""

    async def status_list(_: web.Request) -> web.Response:
        try:
            token = authority.status_list_jwt()
        except TsunaguError as exc:
            return _problem(exc)
        return web.Response(text=token, content_type=VC_JWT_MEDIA_TYPE,
                            headers={"Cache-Control": "no-cache"})

    async def participants(_: web.Request) -> web.Response:
        # The signed registry of live participants (trust.participant_registry), what the
        # announcement's participantRegistryUrl names and the federated catalog crawls.
        try:
            body = authority.signed_registry()
        except TsunaguError as exc:
            return _problem(exc)
        return web.json_response(body, headers={"Cache-Control": "no-cache"})

    async def key_history(_: web.Request) -> web.Response:
        try:
            body = authority.key_histories()
        except TsunaguError as exc:
            return _problem(exc)
        return web.json_response(body, headers={"Cache-Control": "no-cache"})

    async def describe(_: web.Request) -> web.Response:
        return web.json_response(authority.describe())

    async def announcement(_: web.Request) -> web.Response:
        return web.json_response(authority.announcement(nats_urls,
                                                        stream_replicas=stream_replicas),
                                 headers={"Cache-Control": "no-cache"})

    app = web.Application()
    app.router.add_get(STATUS_LIST_PATH, status_list)
    app.router.add_get(PARTICIPANTS_PATH, participants)
    app.router.add_get(KEY_HISTORY_PATH, key_history)
    app.router.add_get("/authority", describe)
    app.router.add_get(WELL_KNOWN_PATH, announcement)
    return app


async def _serve(args: argparse.Namespace) -> int:
    authority = Authority.open(args.dir)
    with contextlib.suppress(ValueError):
        if not ipaddress.ip_address(args.host).is_loopback:
            log.warning("authority endpoints are reachable beyond this host",
                        extra={"host": args.host})
    from authority.space import AuthorityNats

    nats = None if args.no_nats else AuthorityNats(authority)
    if nats is None:
        log.warning("INSECURE: no data-space NATS; connectors must run without credentials "
                    "(insecure_no_auth) and nothing isolates participants")
    runner: web.AppRunner | None = None
    try:
        nats_url = await nats.start(url=args.nats_url, port=args.nats_port) if nats else None
        urls = [u.strip() for u in nats_url.split(",") if u.strip()] if nats_url else []
        runner = web.AppRunner(make_app(authority, urls, stream_replicas=args.stream_replicas),
                               access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port)
        try:
            await site.start()
        except OSError as exc:
            raise TsunaguError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}",
                               code=AuthorityCode.LISTEN) from None
        host, port = runner.addresses[0][:2]
        shown = f"[{host}]" if ":" in host else host
        public = urlsplit(authority.public_url)
        if public.hostname in ("127.0.0.1", "localhost", "::1") and public.port != port:
            log.warning("the announcement sends connectors to the public URL given at init, "
                        "not to this port", extra={"public_url": authority.public_url,
                                                   "port": port})
        # Handlers first: a script that reads the line below may stop us at once.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        # One line scripts wait for: the DID, the HTTP base URL, and the NATS URL to use.
        print(f"authority {authority.did} serving on http://{shown}:{port}"
              + (f" nats {nats_url}" if nats_url else ""), flush=True)
        await stop.wait()
    finally:
        if runner is not None:
            await runner.cleanup()
        if nats is not None:
            await nats.close()
    return 0

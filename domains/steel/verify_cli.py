"""``tsunagu steel verify FILE``: the chain of one piece, checked, as a plain table (or the
``Provenance`` as JSON). Minimal on purpose: the presentation side may make it prettier.

FILE is one signed record (a custody event carries the chain before it), a JSON list of
records, or a package ``{"pieceId": ..., "records": [...]}``. Exit status: 0 verified, 1 not,
2 the file cannot be read.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from domains.steel.chain_records import pieces_of
from domains.steel.provenance import Provenance
from domains.steel.verify import verify_chain
from trust.errors import TsunaguError
from trust.participant_registry import RegistryEntry, verify_registry


def register(sub: argparse._SubParsersAction) -> None:
    verify = sub.add_parser(
        "verify", help="check a piece's chain back to the mill's certificate",
        description="Check every signature and every link (parent hash, mass balance, that "
                    "each sender held the piece, the certificate content rule) back to the "
                    "mill's original, and print the chain. Exit status 0 verified, 1 not.")
    verify.add_argument("file", type=Path, metavar="CERT_OR_PACKAGE_FILE")
    verify.add_argument("--piece", metavar="ID", help="the piece (default: the file's "
                        "package pieceId, else the first piece its last record names)")
    verify.add_argument("--issuer", action="append", default=[], metavar="DID=NAME",
                        help="trust only these signers (repeat); default: any valid did:key")
    verify.add_argument("--registry", type=Path, metavar="REGISTRY_JSON",
                        help="the authority's signed participant registry (tsunagu authority "
                        "registry, or GET /participants): every signer must be listed there "
                        "and each stated 法人番号 must be its registered one")
    verify.add_argument("--authority", metavar="DID", help="the authority whose signature "
                        "the registry must carry (required with --registry)")
    verify.add_argument("--json", action="store_true", help="print the Provenance as JSON")
    verify.set_defaults(func=run)


def read(path: Path) -> tuple[list[Mapping[str, Any]], str | None]:
    """(records, the package's piece id if it names one)."""
    data = json.loads(path.read_bytes())
    if isinstance(data, list):
        return [r for r in data if isinstance(r, Mapping)], None
    if isinstance(data, Mapping) and isinstance(data.get("records"), list):
        piece = data.get("pieceId")
        return ([r for r in data["records"] if isinstance(r, Mapping)],
                piece if isinstance(piece, str) else None)
    if isinstance(data, Mapping):
        return [data], None
    raise ValueError("neither a record, a list of records nor a package")


def registered(path: Path | None, authority: str | None
               ) -> dict[str, RegistryEntry] | None:
    """The verified registry's participants by DID (None without --registry)."""
    if path is None:
        if authority is not None:
            raise ValueError("--authority goes with --registry")
        return None
    if authority is None:
        raise ValueError("--registry needs --authority DID (whose signature it must carry)")
    registry = verify_registry(json.loads(path.read_bytes()), expected_authority=authority)
    return {entry.did: entry for entry in registry.participants}


def to_json(provenance: Provenance) -> dict[str, Any]:
    return {**dataclasses.asdict(provenance), "verified": provenance.verified,
            "flagged": provenance.flagged}


def table(provenance: Provenance) -> str:
    lines = [f"piece 品 {provenance.piece_id}  holder 保有者 {provenance.holder_name or '-'} "
             f"({provenance.holder_did or '-'})"]
    for n, link in enumerate(provenance.links, 1):
        what = link.document_number or (f"{link.sender_did} -> {link.receiver_did}"
                                         if link.kind == "custody" else "")
        mass = f"{link.mass_kg:g} kg" if link.mass_kg is not None else ""
        checks = ", ".join(f"{c.name} {'ok' if c.ok else 'NG'}" for c in link.checks)
        lines.append(f"{n:>2}  {link.kind:<11} {link.record_id}  {what}  {link.issuer_name}  "
                     f"{link.at}  {mass}  [{checks}]" + ("  FLAGGED 要確認" if link.flagged
                                                         else ""))
        for c in link.checks:
            if not c.ok:
                lines.append(f"      {c.name}: {c.reason_ja} / {c.reason_en}")
    lines.extend(f"problem: {p}" for p in provenance.problems)
    lines.append("verified 検証済み" if provenance.verified else "NOT verified 検証できません")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        records, piece = read(args.file)
        issuers = dict(i.split("=", 1) for i in args.issuer) if args.issuer else None
    except (OSError, ValueError) as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        participants = registered(args.registry, args.authority)
    except (OSError, ValueError, TsunaguError) as exc:
        print(f"steel verify --registry: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    piece = args.piece or piece or next((p for r in reversed(records) for p in pieces_of(r)),
                                        None)
    if piece is None:
        print(f"{args.file}: no piece named; pass --piece", file=sys.stderr)
        return 2
    provenance = verify_chain(records, piece, issuers=issuers, participants=participants)
    if args.json:
        print(json.dumps(to_json(provenance), ensure_ascii=False, indent=1))
    else:
        print(table(provenance))
    return 0 if provenance.verified else 1

"""``tsunagu steel import`` and ``export``: EN 10168 JSON (or the CSV layout) to certificate
records and back, and ``export --piece``: the provenance package of a piece (domains.steel.
package), offline (no connector needed; publish the records into the
``mill-certificates`` dataset through a running connector, which signs each one).
``tsunagu steel verify`` (a piece's chain) is ``verify_cli``'s.

Exit status: 0 every certificate imported (flagged ones included: they are held, marked);
1 some were refused (each problem on stderr as ``file: path: [code] message``); 2 a file
cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from domains.steel.certificate import to_en10168, to_record
from domains.steel.csv_import import DEFAULT_MAPPING, load_mapping, logo_data_url, read_csv
from domains.steel.errors import CertificateRefused, Problem, SteelCode
from domains.steel.package import export, source
from domains.steel.package.source import ProvenanceBuilder
from domains.steel.package.text import chain_lines
from domains.steel.verify_cli import register as register_verify
from domains.steel.vocab import group_of
from trust.errors import TsunaguError


def register(subparsers: argparse._SubParsersAction) -> None:
    steel = subparsers.add_parser("steel", help="鉄鋼 hub: EN 10168 mill certificates")
    sub = steel.add_subparsers(dest="steel_command", required=True, metavar="ACTION")
    imports = sub.add_parser(
        "import", help="EN 10168 JSON or CSV files to certificate records",
        description="Check each certificate (EN 10168 v0.5.0 schema, attachments, grade "
                    "limits, heat numbers, unit slips) and make its record. A certificate "
                    "failing the schema or with a broken attachment is refused; one failing "
                    "a grade check is imported and flagged.")
    imports.add_argument("files", type=Path, nargs="+", metavar="FILE",
                         help="EN 10168 JSON files or CSV files (*.csv, one row each)")
    imports.add_argument("--out", type=Path, metavar="DIR",
                         help="write one <certificate id>.jsonld record per certificate")
    imports.add_argument("--logo", type=Path, metavar="PNG",
                         help="the mill's mark (EN 10168 A04) for CSV rows; required with CSV")
    imports.add_argument("--mapping", type=Path, metavar="FILE",
                         help="TOML or JSON column mapping for CSV files (see "
                              "domains/steel/csv_import.py); default: Japanese headers")
    imports.add_argument("--json", action="store_true", help="print the outcome as JSON")
    imports.set_defaults(func=_import)
    exports = sub.add_parser(
        "export", help="a certificate record back to EN 10168 JSON, or (--piece) the "
                       "provenance package of one delivered piece",
        description="With RECORD: print the EN 10168 JSON of a certificate record. With "
                    "--piece: write the provenance package of the piece (JSON-LD with every "
                    "signed record of its chain, a printable HTML page in Japanese with a "
                    "verification QR code, and its PDF) for a public-works material "
                    "inspection (土木工事共通仕様書 材料確認).")
    exports.add_argument("record", type=Path, metavar="RECORD", nargs="?")
    exports.add_argument("--piece", metavar="ID", help="the delivered piece's id")
    exports.add_argument("--from", dest="source", type=Path, metavar="FILE_OR_DIR",
                         help="the signed records of the chain: a provenance package, a JSON "
                              "file of records or a directory of record files")
    exports.add_argument("--out", type=Path, metavar="DIR", help="where the package goes")
    exports.add_argument("--url", metavar="BASE",
                         help="the supply-chain view's address: the QR code encodes "
                              "BASE/pieces/ID (without it, the package hash)")
    exports.add_argument("--no-pdf", action="store_true", help="skip the PDF")
    exports.set_defaults(func=_export)
    register_verify(sub)


def _documents(path: Path, args: argparse.Namespace) -> list[tuple[str, Any]]:
    if path.suffix.lower() == ".csv":
        if args.logo is None:
            return [(str(path), Problem("/", SteelCode.CSV_INVALID,
                                        "a CSV import needs --logo (EN 10168 A04)"))]
        try:
            mapping = load_mapping(args.mapping) if args.mapping else DEFAULT_MAPPING
        except ValueError as exc:
            return [(str(args.mapping), Problem("/", SteelCode.CSV_INVALID, str(exc)))]
        return list(read_csv(path, logo_data_url(args.logo), mapping))
    return [(str(path), json.loads(path.read_bytes()))]


def _import(args: argparse.Namespace) -> int:
    imported: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for path in args.files:
        for label, document in _documents(path, args):
            try:
                if isinstance(document, Problem):
                    raise CertificateRefused([document])
                record = to_record(document)
            except CertificateRefused as exc:
                refused.append({"source": label,
                                "problems": [p.to_json() for p in exc.problems]})
                continue
            imported.append({"source": label, "id": record["id"],
                             "flagged": record["flagged"],
                             "failures": [c for c in record["checks"] if c["status"] == "fail"]})
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                name = record["id"].rsplit(":", 1)[1] + ".jsonld"
                (args.out / name).write_text(json.dumps(record, ensure_ascii=False, indent=1),
                                             encoding="utf-8")
    n_flagged = sum(1 for i in imported if i["flagged"])
    summary = (f"imported {len(imported)}, flagged {n_flagged}, refused {len(refused)}")
    if args.json:
        print(json.dumps({"imported": imported, "refused": refused, "summary": summary},
                         ensure_ascii=False, indent=1))
    else:
        for r in refused:
            for p in r["problems"]:
                print(f"{r['source']}: {p['path']}: [{p['code']}] {p['message']}",
                      file=sys.stderr)
        for i in imported:
            for c in i["failures"]:
                print(f"{i['source']}: flagged [{group_of(c['path'])}] {c['path']}: "
                      f"[{c.get('code')}] {c.get('actual')} vs {c.get('limit')} "
                      f"({c.get('clause')})")
        print(summary)
    return 1 if refused else 0


def _export(args: argparse.Namespace) -> int:
    if args.piece is not None:
        return export_piece(args)
    if args.record is None:
        print("steel export: give a RECORD, or --piece ID --from FILE_OR_DIR --out DIR",
              file=sys.stderr)
        return 2
    record = json.loads(args.record.read_bytes())
    try:
        document = to_en10168(record)
    except CertificateRefused as exc:
        for p in exc.problems:
            print(f"{args.record}: {p.path}: [{p.code}] {p.message}", file=sys.stderr)
        return 1
    print(json.dumps(document, ensure_ascii=False, indent=2))
    return 0


def export_piece(args: argparse.Namespace, builder: ProvenanceBuilder | None = None) -> int:
    """``export --piece``: 0 written (the page says whether the chain verified), 1 the
    chain cannot be built, 2 bad arguments or unreadable records."""
    if args.source is None or args.out is None:
        print("steel export --piece needs --from FILE_OR_DIR and --out DIR", file=sys.stderr)
        return 2
    try:
        provenance = source.provenance_from(args.source, args.piece, builder)
    except source.SourceUnreadable as exc:
        print(f"[{exc.code}] {exc.message}", file=sys.stderr)
        return 2
    except TsunaguError as exc:
        print(f"[{exc.code}] {exc.message}", file=sys.stderr)
        return 1
    exported = export.build(provenance, base_url=args.url, with_pdf=not args.no_pdf)
    for path in export.write(exported, args.out):
        print(path)
    print("\n".join(chain_lines(provenance)))
    state = "verified" if provenance.verified else "NOT verified"
    print(f"{provenance.piece_id}: {len(provenance.links)} links, {state}"
          + (", flagged" if provenance.flagged else "") + f", {exported.digest}")
    return 0

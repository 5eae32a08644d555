"""``tsunagu steel import`` and ``export``: EN 10168 JSON (or the CSV layout) to certificate
records and back, offline (no connector needed; publish the records into the
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
from domains.steel.verify_cli import register as register_verify
from domains.steel.vocab import group_of


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
    exports = sub.add_parser("export", help="a certificate record back to EN 10168 JSON")
    exports.add_argument("record", type=Path, metavar="RECORD")
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
    record = json.loads(args.record.read_bytes())
    try:
        document = to_en10168(record)
    except CertificateRefused as exc:
        for p in exc.problems:
            print(f"{args.record}: {p.path}: [{p.code}] {p.message}", file=sys.stderr)
        return 1
    print(json.dumps(document, ensure_ascii=False, indent=2))
    return 0

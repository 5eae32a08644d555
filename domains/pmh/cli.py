"""``tsunagu pmh import-fhir`` and ``export-fhir``: a clinic's FHIR R4 Bundle to pmh records
and back, offline (no connector needed).

Exit status: 0 done; 1 the input was refused (each problem on stderr as ``path: [code]
message``, or with ``--json`` as {"problems": [...]} on stdout; nothing written); 2 a file
cannot be read or a My Number was found (typed error, from ``connector.cli.main``).
Problems name paths and codes, never a value of the person.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from domains.pmh.errors import BundleRefused, PmhCode, PmhInputError

PUBLISH = ("The records are JSON-LD with the pmh context; publish each into its dataset "
           "through a running connector (POST /api/v1/datasets/{dataset}/records, or "
           "TsunaguClient.publish): the connector checks them again, adds version, modified "
           "and proof, and streams them to whoever has an agreement.")
EXIT = ("Exit status: 0 done; 1 refused (every problem listed with its path and code, "
        "nothing written); 2 a file cannot be read or a My Number was found.")


def register(subparsers: argparse._SubParsersAction) -> None:
    pmh = subparsers.add_parser("pmh", help="母子保健 hub: FHIR R4 Bundles to pmh records and "
                                            "back")
    sub = pmh.add_subparsers(dest="pmh_command", required=True, metavar="ACTION")

    imports = sub.add_parser(
        "import-fhir", help="convert a FHIR R4 Bundle (from a clinic's EHR) to pmh records",
        description="Validate a FHIR R4 Bundle (Patient, RelatedPerson, Encounter, "
                    "Observation, Immunization, Coverage) and convert every entry to a pmh "
                    "record. Any problem refuses the whole Bundle. " + PUBLISH, epilog=EXIT)
    imports.add_argument("bundle", type=Path, metavar="BUNDLE", help="a FHIR Bundle (JSON)")
    imports.add_argument("--out", type=Path, metavar="DIR",
                         help="write one <type>-<id>.jsonld file per record into DIR "
                              "(default: print the records as a JSON array on stdout)")
    imports.add_argument("--json", action="store_true",
                         help="print the outcome (counts and files, or the problems) as JSON")
    imports.set_defaults(func=_import)

    exports = sub.add_parser(
        "export-fhir", help="make a FHIR R4 Bundle (collection) of pmh records",
        description="Check pmh records and build a FHIR R4 Bundle of type collection whose "
                    "references all resolve inside it (export every record another names).",
        epilog=EXIT)
    exports.add_argument("records", type=Path, nargs="+", metavar="RECORDS",
                         help="JSON files (a record or an array of records) or directories "
                              "of them (*.json, *.jsonld)")
    exports.add_argument("--out", type=Path, metavar="FILE",
                         help="write the Bundle to FILE (default: stdout)")
    exports.add_argument("--json", action="store_true",
                         help="print problems as JSON on stdout when refused")
    exports.set_defaults(func=_export)


def _read(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        raise PmhInputError(f"{path}: cannot be read ({exc.strerror})", field=str(path),
                            code=PmhCode.FHIR_INVALID) from None
    except orjson.JSONDecodeError:
        raise PmhInputError(f"{path}: not JSON", field=str(path),
                            code=PmhCode.FHIR_INVALID) from None


def _refused(exc: BundleRefused, as_json: bool) -> int:
    problems = exc.details["problems"]
    if as_json:
        sys.stdout.write(orjson.dumps({"problems": problems}).decode() + "\n")
    else:
        for problem in problems:
            print(f"{problem['path']}: [{problem['code']}] {problem['message']}",
                  file=sys.stderr)
        print(f"refused: {len(problems)} problem(s), nothing written", file=sys.stderr)
    return 1


def _dump(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n"


def _import(args: argparse.Namespace) -> int:
    from domains.pmh.fhir.bundle import import_bundle
    from domains.pmh.fhir.refs import resource_id

    try:
        records = import_bundle(_read(args.bundle))
    except BundleRefused as exc:
        return _refused(exc, args.json)
    counts = dict(Counter(r["type"] for r in records))
    if args.out is None:
        sys.stdout.buffer.write(_dump(records))
        print(f"converted {len(records)} records", file=sys.stderr)
        return 0
    names = [f"{r['type']}-{resource_id(r['id'])}.jsonld" for r in records]
    _write_all(args.out, {name: _dump(r) for name, r in zip(names, records, strict=True)})
    if args.json:
        print(orjson.dumps({"written": [str(args.out / n) for n in names],
                            "counts": counts}).decode())
    else:
        print(f"wrote {len(records)} records to {args.out} "
              f"({', '.join(f'{t} {n}' for t, n in counts.items())})")
    return 0


def _write_all(directory: Path, files: dict[str, bytes]) -> None:
    """Every file or none: written into a temporary directory beside them, then moved."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=".import-") as staging:
        for name, data in files.items():
            (Path(staging) / name).write_bytes(data)
        for name in files:
            os.replace(Path(staging) / name, directory / name)


def _records(paths: list[Path]) -> list[Any]:
    found: list[Any] = []
    for path in paths:
        files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonld")) \
            if path.is_dir() else [path]
        for file in files:
            value = _read(file)
            found.extend(value if isinstance(value, list) else [value])
    return found


def _export(args: argparse.Namespace) -> int:
    from domains.pmh.fhir.bundle import export_bundle

    try:
        bundle = export_bundle(_records(args.records))
    except BundleRefused as exc:
        return _refused(exc, args.json)
    if args.out is None:
        sys.stdout.buffer.write(_dump(bundle))
    else:
        args.out.write_bytes(_dump(bundle))
        print(f"wrote a Bundle of {len(bundle['entry'])} resources to {args.out}",
              file=sys.stderr)
    return 0

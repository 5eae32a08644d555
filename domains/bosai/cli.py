"""``tsunagu bosai import-shelters``, ``import-status`` and ``stale-after``.

Both print the refused rows (line and reason), the corrections grouped by column, where the
raw file was kept, and end with ``imported N, corrected M, refused K`` (``, unchanged U``
when rows were held already, exactly as read). ``--json`` prints
the whole per-row report on stdout instead (the summary line then goes to stderr).
Exit status: 0 when every row was imported or corrected, 1 when some were refused, 2 when
the file as a whole was refused (typed error, from ``connector.cli.main``).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import orjson

from connector.cli.store_key import add_at_rest_option, store_key_for
from domains.bosai.importers.formats import FORMAT_CHOICES
from domains.bosai.importers.report import ImportReport, Outcome
from domains.bosai.importers.source import ENCODINGS
from domains.bosai.progress import ProgressBar

DEFAULT_STORE = Path("bosai.sqlite")
DEFAULT_STALE_HOURS = 6.0  # domains.bosai.store.DEFAULT_STALE_AFTER (not imported: startup)


# Both importers: scripts (a nightly cron job) must notice a file that lost rows.
EXIT_STATUS = ("Ends with 'imported N, corrected M, refused K' (', unchanged U' for rows "
               "already held exactly as read). Exit status: 0 when no row "
               "was refused (corrected rows are imported), 1 when any row was refused (the "
               "others are imported; --json lists each refusal with its reason), 2 when the "
               "file, mapping or store cannot be used at all (nothing imported).")


def register(subparsers: argparse._SubParsersAction) -> None:
    bosai = subparsers.add_parser("bosai", help="防災 hub: shelter master and status imports")
    sub = bosai.add_subparsers(dest="bosai_command", required=True, metavar="ACTION")

    shelters = sub.add_parser(
        "import-shelters", help="import a GSI or 自治体標準オープンデータセット shelter list",
        description="Import 指定緊急避難場所 / 指定避難所 CSVs (GSI mergeFromCity_2.csv and "
                    "mergeFromCity_1.csv, or the 自治体標準オープンデータセット "
                    "指定緊急避難場所一覧) "
                    "into the designated-site master.", epilog=EXIT_STATUS)
    shelters.add_argument("file", type=Path)
    shelters.add_argument("--format", choices=FORMAT_CHOICES, default="auto",
                          help="file format (default: detected from the header)")
    shelters.add_argument("--encoding", choices=ENCODINGS, default="auto",
                          help="text encoding (default: detected; UTF-8 with or without BOM, "
                               "Shift_JIS/cp932, UTF-16 with BOM)")
    _common(shelters)
    shelters.set_defaults(func=_import_shelters)

    status = sub.add_parser(
        "import-status", help="import shelter status snapshots through a column mapping",
        description="Import a municipality's shelter status CSV (open/closed, type, capacity, "
                    "people by day and night, needs) into the dated status timeline.",
        epilog=EXIT_STATUS)
    status.add_argument("file", type=Path)
    status.add_argument("--mapping", type=Path, required=True,
                        help="TOML or JSON column mapping (see domains/bosai/importers/mapping.py)")
    status.add_argument("--complete-snapshot", action="store_true",
                        help="the file lists every open shelter: one the timeline holds as "
                             "open and the file leaves out is recorded closed at the file's "
                             "latest time (the mapping's complete_snapshot = true does the same)")
    _common(status)
    status.set_defaults(func=_import_status)

    stale = sub.add_parser(
        "stale-after", help="how old a shelter's last status report may be before the "
                            "dashboard flags it",
        description="Show, or set with HOURS, how long a shelter may go without a status "
                    f"report before the dashboard flags it as stale (default "
                    f"{DEFAULT_STALE_HOURS:g} hours).")
    stale.add_argument("hours", nargs="?", type=_hours, help="e.g. 6 or 1.5")
    stale.add_argument("--store", type=Path, default=DEFAULT_STORE,
                       help=f"the bosai SQLite store (default: ./{DEFAULT_STORE})")
    add_at_rest_option(stale)
    stale.set_defaults(func=_stale_after)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE,
                        help=f"the bosai SQLite store (default: ./{DEFAULT_STORE})")
    add_at_rest_option(parser)
    parser.add_argument("--json", action="store_true", help="print the per-row report as JSON")
    parser.add_argument("--progress", action="store_true",
                        help="draw the progress bar even when stderr is not a terminal")


def _bar(args: argparse.Namespace, label: str) -> ProgressBar:
    return ProgressBar(label, sys.stderr, enabled=args.progress or sys.stderr.isatty())


def _import_shelters(args: argparse.Namespace) -> int:
    from domains.bosai.imports import import_shelters
    from domains.bosai.store import BosaiStore

    bar = _bar(args, args.file.name)
    store = BosaiStore(args.store, store_key_for(args.store, args.at_rest_key))
    try:
        report = import_shelters(args.file, store, format=args.format, encoding=args.encoding,
                                 progress=bar)
    finally:
        bar.close()
        store.close()
    return _print(report, args.json)


def _import_status(args: argparse.Namespace) -> int:
    from domains.bosai.imports import import_status
    from domains.bosai.store import BosaiStore

    bar = _bar(args, args.file.name)
    store = BosaiStore(args.store, store_key_for(args.store, args.at_rest_key))
    try:
        report = import_status(args.file, args.mapping, store, progress=bar,
                               complete_snapshot=args.complete_snapshot)
    finally:
        bar.close()
        store.close()
    return _print(report, args.json)


def _hours(text: str) -> timedelta:
    try:
        hours = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a number of hours") from None
    if not 1 / 60 <= hours <= 24 * 30:
        raise argparse.ArgumentTypeError(f"{text[:20]} hours: give between one minute (0.017) "
                                         "and 30 days (720)")
    return timedelta(hours=hours)


def _stale_after(args: argparse.Namespace) -> int:
    from domains.bosai.store import BosaiStore

    store = BosaiStore(args.store, store_key_for(args.store, args.at_rest_key))
    try:
        if args.hours is not None:
            store.set_stale_after(args.hours)
        limit = store.stale_after()
    finally:
        store.close()
    print(f"a shelter's status report is stale after {limit.total_seconds() / 3600:g} hours")
    return 0


def _print(report: ImportReport, as_json: bool) -> int:
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2))
        sys.stdout.buffer.write(b"\n")
        sys.stdout.flush()
        print(report.summary(), file=sys.stderr)
    else:
        print(f"{report.source}: {report.format}, {report.encoding}, "
              f"sha256 {report.sha256[:16]}…, kept as {report.raw_path} (run {report.run_id})")
        for note in report.file_notes:
            print(f"  note: {note}")
        corrected: Counter[str] = Counter()
        for row in report.rows:
            if row.outcome is Outcome.REFUSED:
                reasons = "; ".join(f"{p.column + ': ' if p.column else ''}{p.message}"
                                    for p in row.problems)
                print(f"  line {row.line}: refused: {reasons}")
            else:
                corrected.update({n.column or "row" for n in row.corrections})
        if corrected:
            print("  corrections (rows): " + ", ".join(f"{c} {n:,}" for c, n in
                                                       corrected.most_common()))
        print(report.summary())
    return 1 if report.counts()[Outcome.REFUSED.value] else 0

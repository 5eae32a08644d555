"""``python -m bench quick|full``: every benchmark of bench/registry.py at three or more
sizes, JSON and PNG plots into ``bench/results/<UTC timestamp>/``, a summary table, and
docs/performance.md (when every benchmark ran, or ``--docs PATH`` is given).

    .venv/bin/python -m bench quick                   # under 15 minutes on 2 cores
    .venv/bin/python -m bench full                    # the issues' sizes
    .venv/bin/python -m bench quick --dry-run         # what would run, with sizes
    .venv/bin/python -m bench quick --only stream --only latency
    .venv/bin/python -m bench full --results DIR --resume  # go on after a stop

Exit 0 when every run produced its figures and every floor was met, 1 otherwise, 2 on bad
arguments. Take figures on an idle machine: the run records the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import report
from bench.registry import by_name
from bench.runner import ROOT, plan, run_all
from bench.stream import git_commit, machine


def sizes(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes takes numbers like 100,200: {text!r}"
                                         ) from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"--sizes must be positive numbers: {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["quick", "full"])
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this benchmark (repeatable)")
    parser.add_argument("--dry-run", action="store_true",
                        help="list what would run, with sizes, and run nothing")
    parser.add_argument("--sizes", type=sizes,
                        help="override the sizes (with exactly one --only)")
    parser.add_argument("--results", type=Path,
                        help="results folder (default bench/results/<UTC timestamp>)")
    parser.add_argument("--resume", action="store_true",
                        help="with --results: keep each size whose JSON is there already and "
                             "run only the others (an interrupted run goes on)")
    parser.add_argument("--docs", type=Path,
                        help="write the page here (default docs/performance.md, only when "
                             "every benchmark ran)")
    args = parser.parse_args(argv)
    if args.resume and args.results is None:
        parser.error("--resume needs --results DIR (the folder of the run to go on with)")
    try:
        benches = by_name(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    if args.sizes:
        if len(benches) != 1:
            parser.error("--sizes needs exactly one --only NAME")
        field = "quick" if args.mode == "quick" else "full"
        benches = [replace(benches[0], **{field: args.sizes})]
    if args.dry_run:
        print(f"python -m bench {args.mode} would run:")
        print("\n".join(plan(benches, args.mode)))
        return 0

    started = datetime.now(UTC)
    results = args.results or ROOT / "bench" / "results" / started.strftime("%Y%m%dT%H%M%SZ")
    results.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    facts = {"mode": args.mode, "started": started.isoformat(timespec="seconds"),
             "git_commit": git_commit(), "machine": machine(), "load_avg_start": load_start,
             "not_idle": load_start[0] > 0.5 * (os.cpu_count() or 1)}
    runs = run_all(benches, args.mode, results, resume=args.resume)
    facts |= {"finished": datetime.now(UTC).isoformat(timespec="seconds"),
              "load_avg_end": os.getloadavg(), "commits": report.commits(runs, facts["git_commit"])}
    (results / "summary.json").write_text(
        json.dumps(report.summary(runs, facts), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8")
    try:
        pngs = report.plot(runs, results)
    except ImportError:
        pngs = []
        print("no plots: matplotlib is missing (pip install -e '.[bench]')", file=sys.stderr)
    table = report.rows(runs)
    print()
    print(report.text_table(table))
    if facts["not_idle"]:
        print("\n" + report.IDLE_WARNING.format(load=load_start[0], cpus=os.cpu_count()))
    docs = args.docs or (ROOT / "docs" / "performance.md" if not args.only else None)
    if docs is not None:
        report.write_docs(runs, facts, pngs, docs)
        print(f"\nwrote {docs}")
    print(f"results in {results}")
    ran_ok = all(r.status != "failed" for r in runs)
    floors_ok = all(row[4] != "NO" for row in table)
    return 0 if ran_ok and floors_ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""``tsunagu demo [bosai]``."""

from __future__ import annotations

import argparse
from pathlib import Path

SCENARIOS = ("data-space", "bosai")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the demo: embedded NATS, an authority, a city and a shelter NPO "
                     "(or with 'bosai': a city, two shelter operators and a supplies NPO)")
    parser.add_argument("scenario", nargs="?", choices=SCENARIOS, default="data-space",
                        help="data-space (default): agreements, transfer, usage, revocation; "
                             "bosai: shelters, registry, check-ins, supplies, safety "
                             "inquiries and the municipality dashboard")
    parser.add_argument("--dir", type=Path, default=None,
                        help="work directory to keep (default: a temporary one)")
    parser.add_argument("--people", type=int, default=300,
                        help="synthetic evacuees to register (default 300)")
    parser.add_argument("--serve", action="store_true",
                        help="bosai: keep the dashboard running until Ctrl-C")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    people = args.people
    if people < 1:
        raise SystemExit("tsunagu demo: --people must be at least 1")
    if args.scenario == "bosai":
        from domains.bosai.demo import main as bosai_main

        return bosai_main(args.dir, people=people, serve=args.serve)
    if args.serve:
        raise SystemExit("tsunagu demo: --serve keeps the bosai dashboard running; use "
                         "'tsunagu demo bosai --serve'")
    from connector.demo import main

    return main(args.dir, people=people)

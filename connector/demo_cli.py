"""``tsunagu demo``."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the demo: embedded NATS, an authority, a city and a shelter NPO")
    parser.add_argument("--dir", type=Path, default=None,
                        help="work directory to keep (default: a temporary one)")
    parser.add_argument("--people", type=int, default=300,
                        help="synthetic evacuees to register (default 300)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from connector.demo import main

    return main(args.dir, people=args.people)

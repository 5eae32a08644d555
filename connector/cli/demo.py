"""``tsunagu demo [NAME]``: the demos the installed domain plug-ins offer.

The connector has no demo of its own (a demo needs data, and data belongs to a domain): each
plug-in names its scenarios (``connector.plugins.contract.Demo``); the first one listed by
the plug-ins (sorted by name) is the default.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from connector.plugins.contract import Demo
from connector.plugins.registry import load_domain_plugins


def demos() -> dict[str, Demo]:
    found: dict[str, Demo] = {}
    for plugin in load_domain_plugins():
        for name, demo in plugin.demos.items():
            if name in found:
                raise SystemExit(f"tsunagu demo: two plug-ins offer a demo called {name!r}")
            found[name] = demo
    return found


def register(subparsers: argparse._SubParsersAction) -> None:
    known = demos()
    if not known:
        return
    listed = "; ".join(f"{name}: {demo.summary}" for name, demo in known.items())
    parser = subparsers.add_parser(
        "demo", help=f"run a demo of the installed domains: {listed}",
        description="Run a demo of the installed domains, step by step. Every demo starts a "
                    "data-space authority that runs the data space's nats-server in operator "
                    "mode (each participant its own NATS account), and onboards each "
                    f"participant as `tsunagu connector init` would. Demos: {listed}.")
    parser.add_argument("scenario", nargs="?", choices=list(known), default=next(iter(known)),
                        help="which demo (default: %(default)s)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="work directory to keep (default: a temporary one)")
    parser.add_argument("--people", type=int, default=300,
                        help="synthetic people to register (default 300)")
    parser.add_argument("--serve", action="store_true",
                        help="keep the demo's pages running until Ctrl-C (where it has some)")
    parser.set_defaults(func=lambda args: _run(known, args))


def _run(known: dict[str, Demo], args: argparse.Namespace) -> int:
    if args.people < 1:
        raise SystemExit("tsunagu demo: --people must be at least 1")
    demo = known[args.scenario]
    if args.serve and not demo.serves:
        servers = [name for name, d in known.items() if d.serves]
        raise SystemExit(f"tsunagu demo: {args.scenario} has no pages to keep running; "
                         f"--serve works with: {', '.join(servers) or 'none'}")
    return demo.run(args.dir, args.people, args.serve)

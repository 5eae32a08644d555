"""The ``tsunagu`` command line: one argparse tree that each package adds its commands to.

A command module exposes ``register(subparsers)``; each sub-command sets ``func`` to a callable
taking the parsed arguments and returning an exit code (or a coroutine returning one).
Typed tsunagu errors become a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import entry_points
from typing import Any

from connector.plugins.contract import DomainPlugin
from connector.plugins.registry import activate_plugins, load_domain_plugins
from trust.errors import TsunaguError
from trust.log import configure_logging

# Command groups come from the ``tsunagu.commands`` entry point (pyproject.toml): the
# connector's own, the authority's and the policy tools', so this module imports none of the
# packages above it (domain plug-ins are found through the plug-in registry). Help lists
# them in this order (others after, by name).
COMMANDS_GROUP = "tsunagu.commands"
ORDER = ("demo", "authority", "audit", "dsp", "connector", "policy")


def version_line() -> str:
    """``tsunagu 0.2.0 (app API v1 1.1.0)``: what an operator quotes in a bug report."""
    from importlib.metadata import PackageNotFoundError, version

    from connector.api.versions import API_VERSION, CURRENT

    try:
        installed = version("tsunagu")
    except PackageNotFoundError:  # run from a source tree without installing
        installed = "unknown (not installed)"
    return f"tsunagu {installed} (app API {CURRENT} {API_VERSION})"


def build_parser(plugins: Sequence[DomainPlugin] | None = None) -> argparse.ArgumentParser:
    """The whole command tree; ``plugins``: the domain plug-ins whose commands it has
    (default: every installed one)."""
    parser = argparse.ArgumentParser(
        prog="tsunagu",
        description="tsunagu (つなぐ): data-space connector and disaster/medical data hub",
    )
    parser.add_argument("--version", action="version", version=version_line(),
                        help="print the package and app API versions and exit")
    parser.add_argument("--log-format", choices=["text", "json"], default="text",
                        help="log line format on stderr (json: one JSON object per line)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    found = sorted(entry_points(group=COMMANDS_GROUP),
                   key=lambda e: (ORDER.index(e.name) if e.name in ORDER else len(ORDER), e.name))
    for entry in found:
        entry.load()(sub)
    for plugin in load_domain_plugins() if plugins is None else plugins:
        if plugin.cli is not None:
            plugin.cli(sub)
    return parser


def _run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run an async command to completion, also when ``main`` is called from code that is
    inside an event loop already (tests, embedding): then on a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def main(argv: Sequence[str] | None = None) -> int:
    plugins = load_domain_plugins()
    parser = build_parser(plugins)
    args = parser.parse_args(argv)
    configure_logging(args.log_format, args.log_level)
    try:
        # The installed domains' operands, purposes and roles: ``tsunagu policy evaluate``
        # judges a bosai policy as a connector running bosai would.
        activate_plugins(plugins)
        result = args.func(args)
        if inspect.iscoroutine(result):
            result = _run(result)
    except TsunaguError as exc:
        print(f"tsunagu: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())

"""``--at-rest-key``: how command-line tools that open a store file find its key.

A store encrypted at rest opens only with the connector's at-rest key. Tools given a store
path take the key from, in order: ``--at-rest-key SOURCE``, the environment variable
``TSUNAGU_AT_REST_KEY_SOURCE``, or the ``[at_rest]`` key of the ``participant.toml`` beside
the store (``connector init`` puts store and config in one folder). No source: the store
must be a plain one (the store then says it needs a key if it is not).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from trust.at_rest import KeySource

ENV_SOURCE = "TSUNAGU_AT_REST_KEY_SOURCE"
CONFIG_NAME = "participant.toml"


def add_at_rest_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at-rest-key", metavar="SOURCE", default=None,
        help="where the store's at-rest key is: file:PATH, env:VAR, keyring:SERVICE/NAME or "
             f"kms:NAME[:ARG] (default: ${ENV_SOURCE}, else the [at_rest] key of the "
             f"{CONFIG_NAME} beside the store)")


def store_key_for(store: Path, source: str | None) -> bytes | None:
    """The SQLCipher key for ``store``, or None where no source is known."""
    from connector.runtime.config import load_config

    source = source or os.environ.get(ENV_SOURCE)
    if source:
        return KeySource(source, base=Path.cwd()).load().store_key
    config = Path(store).resolve().parent / CONFIG_NAME
    if not config.is_file():
        return None
    key = load_config(config).load_at_rest_key()
    return None if key is None else key.store_key

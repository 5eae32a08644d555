"""``tsunagu connector rotate-key``: prepare a new signing key, then install the authority's
credential for it (connector.runtime.key_rotation)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_rotate_key_action(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "rotate-key", help="rotate the participant's signing key (its identity stays)",
        description="Without --install: write a new key (participant.next.pem) and "
                    "key-rotation-request.json, signed by the new key and the current one "
                    "(--lost: by the new key only, when the current key is lost or stolen). "
                    "Send the request to the authority (`tsunagu authority rotate-key "
                    "--request FILE --out FILE`). With --install FILE: put the new key and "
                    "the credential the authority returned in place (the old ones are kept "
                    "in retired-keys/; a running connector picks them up). The participant's DID, "
                    "NATS subjects and agreements do not change.")
    p.add_argument("--config", type=Path, required=True, help="participant.toml")
    p.add_argument("--lost", action="store_true",
                   help="the current key is lost or stolen: do not sign the request with it")
    p.add_argument("--install", type=Path, metavar="CREDENTIAL",
                   help="the credential the authority issued for the prepared key")
    p.set_defaults(func=_rotate_key)


def _rotate_key(args: argparse.Namespace) -> int:
    from connector.runtime.config import load_config
    from connector.runtime.key_rotation import install, prepare

    config = load_config(args.config)
    if args.install is not None:
        identity, key = install(config, args.install)
        print(f"participant {identity}")
        print(f"signing key {key}  (installed; a running connector signs with it within "
              "seconds)")
        return 0
    prepared = prepare(config, lost=args.lost)
    print(f"participant {prepared.identity}")
    print(f"new key     {prepared.new_key}  (in participant.next.pem, not used yet)")
    print(f"request     {prepared.request_path}  (send it to the authority)")
    return 0

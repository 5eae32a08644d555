"""``tsunagu authority rotate-key | revoke-key | key-history``: a participant's signing keys
(``trust.key_history``; the registry keeps each identity's periods, ``serve`` publishes them
at ``/key-history``)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from authority.state import ROTATION_OVERLAP, Authority
from trust.credentials import format_datetime
from trust.errors import ValidationError


def register(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "rotate-key", help="bind a new signing key to a participant and issue its credential",
        description="The participant keeps its DID (identity), subjects and agreements; the "
                    "new key signs for it from now on. A planned rotation (--reason rotated, "
                    "a request signed by the current key) leaves the old key valid "
                    f"{int(ROTATION_OVERLAP.total_seconds() // 60)} more minutes for what is "
                    "in flight; compromised or lost ends it now (unless revoke-key ended it "
                    "earlier). Prints the new credential (or writes --out).")
    p.add_argument("--dir", required=True, type=Path, help="authority directory")
    p.add_argument("--request", type=Path,
                   help="key-rotation-request.json from `tsunagu connector rotate-key`")
    p.add_argument("--participant", help="the participant's DID (without --request)")
    p.add_argument("--new-key", help="the new key's did:key (without --request)")
    p.add_argument("--reason", choices=("rotated", "compromised", "lost"),
                   help="default: rotated for a request signed by the current key; required "
                        "otherwise (confirm who asks out of band, as at onboarding)")
    p.add_argument("--out", type=Path, help="write the credential to this new file")
    p.set_defaults(func=_rotate_key)

    p = actions.add_parser(
        "revoke-key", help="end a participant's signing key (compromised or lost)",
        description="What the key signs from --at on (default now) is refused everywhere "
                    "with key.rotated_out, once relying parties fetch the key history "
                    "(with the status list). The participant keeps its identity, credential "
                    "and agreements, and signs nothing until rotate-key binds a new key.")
    p.add_argument("--dir", required=True, type=Path, help="authority directory")
    p.add_argument("--participant", required=True, help="the participant's DID")
    p.add_argument("--key", help="the key to end (default: the current one); a key in its "
                                 "rotation overlap is cut short")
    p.add_argument("--reason", choices=("compromised", "lost"), default="compromised")
    p.add_argument("--at", help="ISO 8601 time from which its signatures are refused "
                                "(default now; earlier when it leaked earlier)")
    p.set_defaults(func=_revoke_key)

    p = actions.add_parser(
        "rotate-own-key", help="rotate the authority's own signing key (its DID stays)",
        description="A new key signs credentials, status lists, key histories, the "
                    "announcement and grant replies from now on; the current key signs the "
                    "rotation statement, kept in authority.json and published with the key "
                    "histories, so connectors that trust the authority's DID accept the new "
                    "key. Credentials signed before stay valid. A running `serve` picks the "
                    "new key up with its next answer.")
    p.add_argument("--dir", required=True, type=Path, help="authority directory")
    p.set_defaults(func=_rotate_own_key)

    p = actions.add_parser(
        "rotate-account-key", help="rotate a participant's NATS account key (steps 1 and 2)",
        description="Adds a new signing key to the participant's NATS account (pushed to the "
                    "server) and writes a user signed by it to --nats-creds. Install that "
                    "file as the connector's nats.creds: a running connector reconnects with "
                    "it within seconds. Then run retire-account-keys. Consumers of the "
                    "participant's streams may stall up to ack_wait (10 s) at each account "
                    "change (docs/security.md).")
    p.add_argument("--dir", required=True, type=Path, help="authority directory")
    p.add_argument("--participant", required=True, help="the participant's DID")
    p.add_argument("--nats-creds", required=True, type=Path,
                   help="write the new user's credentials to this new file (0600)")
    p.set_defaults(func=_rotate_account_key)

    p = actions.add_parser(
        "retire-account-keys", help="step 3: only the newest account signing key signs",
        description="Drops the participant's older NATS account keys; the server closes the "
                    "connections of users they signed. Run it once every connector of the "
                    "participant logs in with the credentials rotate-account-key wrote.")
    p.add_argument("--dir", required=True, type=Path, help="authority directory")
    p.add_argument("--participant", required=True, help="the participant's DID")
    p.set_defaults(func=_retire_account_keys)

    p = actions.add_parser("key-history", help="print a participant's signing keys and periods")
    p.add_argument("--dir", required=True, type=Path, help="authority directory")
    p.add_argument("--participant", required=True, help="the participant's DID")
    p.set_defaults(func=_key_history)


def _rotate_key(args: argparse.Namespace) -> int:
    authority = Authority.open(args.dir)
    reason = args.reason
    if args.request is not None:
        from connector.runtime.key_rotation import verify_rotation_request

        try:
            raw = json.loads(args.request.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValidationError(f"cannot read {args.request}: {exc}", field="request") \
                from None
        request = verify_rotation_request(raw)
        participant, new_key = request.identity, request.new_key
        if request.current_key is not None:
            # signed by a key that speaks for the participant now: the participant asks
            authority.check_key(participant, request.current_key, datetime.now(UTC))
            reason = reason or "rotated"
    else:
        if not args.participant or not args.new_key:
            raise ValidationError("give --request FILE, or --participant and --new-key",
                                  field="request")
        participant, new_key = args.participant, args.new_key
    if reason is None:
        raise ValidationError("the request is not signed by the current key: give --reason "
                              "compromised or lost once you know who asks", field="reason")
    if args.out is not None and args.out.exists():
        raise ValidationError(f"{args.out} already exists; refusing to overwrite it",
                              field="out")
    issued = authority.rotate_key(did=participant, new_key=new_key, reason=reason)
    periods = authority.key_history(participant)
    if args.out is not None:
        args.out.write_text(issued.jwt + "\n", encoding="ascii")
        args.out.chmod(0o600)
    else:
        print(issued.jwt)
    print(f"participant {participant}", file=sys.stderr)
    print(f"signing key {new_key} from {format_datetime(issued.valid_from)} ({reason})",
          file=sys.stderr)
    for period in periods[:-1]:
        if period.valid_until is not None:
            print(f"earlier key {period.key} valid until "
                  f"{format_datetime(period.valid_until)}", file=sys.stderr)
    print(f"credential  status index {issued.index}"
          + (f", written to {args.out}" if args.out else ""), file=sys.stderr)
    return 0


def _revoke_key(args: argparse.Namespace) -> int:
    authority = Authority.open(args.dir)
    at = None
    if args.at is not None:
        try:
            at = datetime.fromisoformat(args.at)
        except ValueError:
            raise ValidationError("--at must be an ISO 8601 date-time", field="at") from None
        if at.tzinfo is None:
            raise ValidationError("--at needs a time zone (Z or +09:00)", field="at")
    ended = authority.revoke_key(did=args.participant, reason=args.reason, key=args.key, at=at)
    assert ended.valid_until is not None
    print(f"participant {args.participant}")
    print(f"key         {ended.key} refused from {format_datetime(ended.valid_until)} "
          f"({args.reason})")
    print("next        bind a new key: tsunagu authority rotate-key --request FILE "
          f"--reason {args.reason} (the participant: tsunagu connector rotate-key --lost)")
    return 0


def _rotate_own_key(args: argparse.Namespace) -> int:
    authority = Authority.open(args.dir)
    previous = authority.signing_key.did
    new_key = authority.rotate_own_key()
    print(f"authority   {authority.did}  (unchanged: connectors keep trusting it)")
    print(f"signing key {new_key}")
    print(f"retired key {previous}  (kept in retired-keys/)")
    return 0


async def _rotate_account_key(args: argparse.Namespace) -> int:
    from authority.cli import _attached
    from authority.space import save_creds

    if args.nats_creds.exists():
        raise ValidationError(f"{args.nats_creds} already exists; refusing to overwrite it",
                              field="nats_creds")
    nats = await _attached(Authority.open(args.dir))
    try:
        user = await nats.rotate_account_key(args.participant)
    finally:
        await nats.close()
    save_creds(args.nats_creds, user)
    print(f"participant {args.participant}")
    print(f"account     {user.account}  (unchanged)")
    print(f"credentials {args.nats_creds}  (a user signed by the new account key: install "
          "it as the connector's nats.creds, then run retire-account-keys)")
    return 0


async def _retire_account_keys(args: argparse.Namespace) -> int:
    from authority.cli import _attached

    nats = await _attached(Authority.open(args.dir))
    try:
        retired = await nats.retire_account_keys(args.participant)
    finally:
        await nats.close()
    print(f"participant {args.participant}")
    print(f"retired     {len(retired)} user(s) signed by older account keys")
    return 0


def _key_history(args: argparse.Namespace) -> int:
    authority = Authority.open(args.dir)
    for period in authority.key_history(args.participant):
        since = format_datetime(period.valid_from) if period.valid_from else "onboarding"
        until = format_datetime(period.valid_until) if period.valid_until else "now"
        ended = f", ended: {period.ended_because}" if period.ended_because else ""
        print(f"{period.key}  {since} .. {until}  ({period.reason}{ended})")
    return 0

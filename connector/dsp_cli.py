"""``tsunagu dsp ...``: DSP 2025-1 message tools.

``tsunagu dsp validate FILE`` checks one message against its DSP schema and the bundled DSP
JSON-LD context. Exit codes: 0 valid (prints the @type), 1 invalid (prints every reason),
2 the file cannot be read or is not JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from connector.dsp.validation import DspValidationError, check_jsonld, validate_message
from trust.errors import JsonLdError


def register(subparsers: argparse._SubParsersAction) -> None:
    dsp = subparsers.add_parser("dsp", help="Dataspace Protocol 2025-1 message tools")
    commands = dsp.add_subparsers(dest="dsp_command", required=True, metavar="COMMAND")
    validate = commands.add_parser(
        "validate", help="check a DSP message file against the DSP 2025-1 schemas and context")
    validate.add_argument("file", type=Path, help="a JSON file holding one DSP message")
    validate.set_defaults(func=_validate)


def _validate(args: argparse.Namespace) -> int:
    try:
        message = json.loads(args.file.read_bytes())
    except OSError as exc:
        print(f"tsunagu: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        print(f"tsunagu: {args.file} is not JSON: {exc}", file=sys.stderr)
        return 2

    reasons: list[str] = []
    message_type = None
    try:
        message_type = validate_message(message)
    except DspValidationError as exc:
        reasons += [f"{e['path']}: {e['reason']}" for e in exc.details["errors"]]
        if (more := exc.details["total"] - len(exc.details["errors"])) > 0:
            reasons.append(f"... and {more} more schema errors")
        message_type = exc.details.get("type")
    if isinstance(message, dict):  # JSON-LD reasons too, so one run shows every problem
        try:
            check_jsonld(message)
        except JsonLdError as exc:
            reasons.append(f"JSON-LD [{exc.code}]: {exc.message}")

    if reasons:
        print(f"{args.file}: invalid {message_type or 'DSP message'}", file=sys.stderr)
        for reason in reasons:
            print(f"  {reason}", file=sys.stderr)
        return 1
    print(message_type)
    return 0

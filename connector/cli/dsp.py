"""``tsunagu dsp ...``: DSP 2025-1 message tools.

``tsunagu dsp validate FILE`` checks one message against its DSP schema and the bundled DSP
JSON-LD context; also the two other documents DSP 2025-1 defines, the version document of
``/.well-known/dspace-version`` (plain JSON, prints ``VersionDocument``) and DID service entries
(``DidService``). A message in another JSON-LD form (expanded, flattened, compacted with another
bundled context) is read as its compact DSP shape first. Exit codes: 0 valid (prints the
@type), 1 invalid (prints every reason), 2 the file cannot be read or is not JSON. A file
larger or deeper than any DSP message may be is invalid (1) and is not parsed further: the
tool is meant for messages from elsewhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from connector.protocol.dsp.validation import (
    MAX_CHARS,
    MAX_DEPTH,
    DspValidationError,
    check_bounds,
    check_jsonld,
    validate_document,
)
from trust.errors import JsonLdError

# Each character is at most 4 bytes of UTF-8; a bigger file cannot be a message we accept.
MAX_FILE_BYTES = 4 * MAX_CHARS


def register(subparsers: argparse._SubParsersAction) -> None:
    dsp = subparsers.add_parser("dsp", help="Dataspace Protocol 2025-1 message tools")
    commands = dsp.add_subparsers(dest="dsp_command", required=True, metavar="COMMAND")
    validate = commands.add_parser(
        "validate", help="check a DSP message file against the DSP 2025-1 schemas and context")
    validate.add_argument("file", type=Path, help="a JSON file holding one DSP message")
    validate.set_defaults(func=_validate)


def _validate(args: argparse.Namespace) -> int:
    try:
        with args.file.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        print(f"tsunagu: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if len(raw) > MAX_FILE_BYTES:
        return _invalid(args.file, None, [f"$: the file is larger than {MAX_FILE_BYTES} bytes "
                                          "[dsp.too_large]"])
    try:
        message = json.loads(raw)
    except RecursionError:  # Python's JSON parser recurses once per nesting level
        return _invalid(args.file, None, [f"$: the message is nested deeper than {MAX_DEPTH} "
                                          "levels [dsp.too_deep]"])
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        print(f"tsunagu: {args.file} is not JSON: {exc}", file=sys.stderr)
        return 2
    try:
        check_bounds(message)
    except DspValidationError as exc:  # nothing else would be meaningful (or safe) to run
        return _invalid(args.file, None, [f"$: {exc.details['errors'][0]['reason']} "
                                          f"[{exc.code}]"])

    reasons: list[str] = []
    message_type = None
    try:
        message_type = validate_document(message)
    except DspValidationError as exc:
        reasons += [f"{e['path']}: {e['reason']}" for e in exc.details["errors"]]
        if (more := exc.details["total"] - len(exc.details["errors"])) > 0:
            reasons.append(f"... and {more} more schema errors")
        message_type = exc.details.get("type")
    except JsonLdError as exc:  # another JSON-LD form that does not even expand
        reasons.append(f"JSON-LD [{exc.code}]: {exc.message}")
    if isinstance(message, dict) and not any(r.startswith("JSON-LD") for r in reasons):
        # JSON-LD reasons too, so one run shows every problem
        try:
            check_jsonld(message)
        except JsonLdError as exc:
            reasons.append(f"JSON-LD [{exc.code}]: {exc.message}")

    if reasons:
        return _invalid(args.file, message_type, reasons)
    print(message_type)
    return 0


def _invalid(file: Path, message_type: str | None, reasons: list[str]) -> int:
    print(f"{file}: invalid {message_type or 'DSP message'}", file=sys.stderr)
    for reason in reasons:
        print(f"  {reason}", file=sys.stderr)
    return 1

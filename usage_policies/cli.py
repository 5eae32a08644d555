"""``tsunagu policy evaluate | validate | explain``.

evaluate prints the decision as JSON; exit 0 permit, 1 deny, 2 invalid input (a policy,
request or state that does not parse or validate, or a value in the request or state of an
invalid datatype such as NaN; the deny decision is printed all the same, so tools always get
JSON). Requests, like policies, may be in any JSON-LD serialisation (compact, other
prefixes, or the expanded top-level array).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from usage_policies.decision import denied_for_errors
from usage_policies.errors import PolicyCode, PolicyError
from usage_policies.evaluate import compile_policy
from usage_policies.explain import explain
from usage_policies.parse import parse_policy, parse_request
from usage_policies.state import parse_state


def _read_json(path: str, what: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read {what} file {path}: {exc.strerror}",
                          code=PolicyCode.IO) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PolicyError(f"{what} file {path} is not JSON: {exc}",
                          code=PolicyCode.NOT_JSON) from None


def _print(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _error(exc: PolicyError, what: str) -> dict[str, Any]:
    return {"code": exc.code, "message": f"{what}: {exc.message}", **exc.details}


def cmd_evaluate(args: argparse.Namespace) -> int:
    steps = (("policy", args.policy, parse_policy), ("request", args.request, parse_request),
             ("state", args.state, parse_state))
    parsed = {}
    for what, path, parser in steps:
        try:
            parsed[what] = parser(_read_json(path, what))
        except PolicyError as exc:
            uid = parsed["policy"].uid if "policy" in parsed else None
            _print(denied_for_errors([_error(exc, what)], uid).to_json())
            return 2
    policy = parsed["policy"]
    try:
        decision = compile_policy(policy).evaluate(parsed["request"], parsed["state"])
    except PolicyError as exc:  # evaluate() itself turns typed errors into denies
        decision = denied_for_errors([_error(exc, "policy")], policy.uid)
    _print(decision.to_json())
    if decision.permitted:
        return 0
    return 2 if decision.invalid_input else 1


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        policy = parse_policy(_read_json(args.policy, "policy"))
    except PolicyError as exc:
        _print({"valid": False, "errors": [_error(exc, "policy")]})
        return 2
    _print({"valid": True, "policy": policy.uid, "type": policy.type,
            "permissions": len(policy.permission), "prohibitions": len(policy.prohibition),
            "obligations": len(policy.obligation), "conflict": policy.conflict_strategy})
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    try:
        policy = parse_policy(_read_json(args.policy, "policy"))
    except PolicyError as exc:
        print(f"tsunagu: error: {exc}", file=sys.stderr)
        return 2
    langs = ("ja", "en") if args.lang == "both" else (args.lang,)
    for i, lang in enumerate(langs):
        if i:
            print()
        print("\n".join(explain(policy, lang)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("policy", help="evaluate, validate and explain ODRL policies")
    sub = parser.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    ev = sub.add_parser("evaluate", help="decide a request under a policy (exit 0 permit, "
                        "1 deny, 2 invalid input)")
    ev.add_argument("--policy", required=True, help="policy JSON-LD file (- for stdin)")
    ev.add_argument("--request", required=True, help="ODRL Request JSON-LD file")
    ev.add_argument("--state", required=True, help="state-of-the-world JSON file "
                    "(usage_policies/schemas/state.schema.json)")
    ev.set_defaults(func=cmd_evaluate)
    va = sub.add_parser("validate", help="check a policy (exit 0 valid, 2 invalid)")
    va.add_argument("policy", help="policy JSON-LD file")
    va.set_defaults(func=cmd_validate)
    ex = sub.add_parser("explain", help="describe a policy in plain Japanese and English")
    ex.add_argument("policy", help="policy JSON-LD file")
    ex.add_argument("--lang", choices=["ja", "en", "both"], default="both")
    ex.set_defaults(func=cmd_explain)

"""Benchmark: evaluating one compiled 10-rule policy (after parsing), against a 1-rule
baseline in the same run. Prints median microseconds; ``--json PATH`` writes the figures.

    /work/venv/bin/python bench/policy_eval.py [--rounds 20000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.plugins.registry import activate_plugins, load_domain_plugins
from usage_policies.evaluate import compile_policy
from usage_policies.parse import parse_policy
from usage_policies.request import EvaluationRequest
from usage_policies.state import parse_state

CTX = ["https://w3id.org/dspace/2025/1/context.jsonld",
       "https://w3id.org/dspace/2025/1/odrl-profile.jsonld", "https://w3id.org/tsunagu/v1"]
TARGET = "urn:tsunagu:dataset:evacuees"


def c(left, op, right):
    return {"leftOperand": left, "operator": op, "rightOperand": right}


def ten_rules() -> dict:
    """Realistic mix: 7 permissions (several constraints, one logical, duties) and 3
    prohibitions; the request matches some rules and not others."""
    date = {"@value": "2026-03-31", "@type": "xsd:date"}
    p = [
        {"action": "use", "constraint": [
            c("odrl:purpose", "isA", "disaster_response"), c("odrl:spatial", "isPartOf", "28"),
            c("odrl:dateTime", "lt", date),
            {"or": [c("tsunagu:disasterPhase", "eq", "response"),
                    c("tsunagu:disasterPhase", "eq", "recovery")]}],
         "duty": [{"@id": "urn:duty:delete", "action": "odrl:delete", "constraint": [
             c("odrl:elapsedTime", "lteq", {"@value": "P30D", "@type": "xsd:duration"})]},
             {"action": "odrl:inform", "constraint": [
                 c("odrl:event", "gt", {"@id": "odrl:policyUsage"})]}]},
        {"action": "odrl:read", "constraint": [c("odrl:purpose", "eq", "research"),
                                               c("odrl:count", "lteq", 100)]},
        {"action": "odrl:print", "constraint": [c("odrl:language", "isAnyOf", ["ja", "en"])]},
        {"action": "odrl:display", "target": "urn:other"},
        {"action": "odrl:derive", "constraint": [c("odrl:industry", "eq", "medical")]},
        {"action": "odrl:aggregate", "constraint": [c("odrl:count", "lt", 10)]},
        {"action": "odrl:anonymize"},
    ]
    q = [{"action": "odrl:distribute"}, {"action": "odrl:sell"},
         {"action": "odrl:modify", "constraint": [c("odrl:purpose", "eq", "commercial")]}]
    return {"@context": CTX, "@id": "urn:bench:10", "@type": "Set",
            "odrl:conflict": {"@id": "odrl:prohibit"}, "permission": p, "prohibition": q}


def one_rule() -> dict:
    return {"@context": CTX, "@id": "urn:bench:1", "@type": "Set",
            "permission": [{"action": "use"}]}


def measure(plan, request, state, rounds: int) -> list[float]:
    evaluate = plan.evaluate
    for _ in range(min(rounds, 2000)):  # warm caches
        evaluate(request, state)
    samples = []
    clock = time.perf_counter_ns
    batch = 20  # amortise timer overhead; report per evaluation
    for _ in range(rounds // batch):
        start = clock()
        for _ in range(batch):
            evaluate(request, state)
        samples.append((clock() - start) / batch / 1000)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20000)
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    # The policy uses bosai's tsunagu:disasterPhase, which the domain plug-in registers (as
    # a running connector activates it).
    activate_plugins(load_domain_plugins())
    request = EvaluationRequest.of(action="read", target=TARGET, assignee="did:example:alice",
                                   purpose="safety_confirmation")
    state = parse_state({"currentTime": "2025-09-01T10:00:00+09:00",
                         "agreementTime": "2025-08-20T09:00:00+09:00",
                         "useCounts": {TARGET: 3},
                         "operands": {"odrl:spatial": "282014",
                                      "tsunagu:disasterPhase": "response"}})
    ten = compile_policy(parse_policy(ten_rules()))
    base = compile_policy(parse_policy(one_rule()))
    decision = ten.evaluate(request, state)
    assert decision.permitted, decision.reason
    assert len(ten.permissions) + len(ten.prohibitions) == 10
    ten_samples = measure(ten, request, state, args.rounds)
    base_samples = measure(base, request, state, args.rounds)
    result = {
        "benchmark": "usage_policies.evaluate",
        "python": platform.python_version(),
        "rounds": args.rounds,
        "ten_rule_median_us": round(statistics.median(ten_samples), 2),
        "ten_rule_p90_us": round(statistics.quantiles(ten_samples, n=10)[-1], 2),
        "baseline_one_rule_median_us": round(statistics.median(base_samples), 2),
    }
    result["ratio"] = round(result["ten_rule_median_us"] / result["baseline_one_rule_median_us"],
                            2)
    result["target_us"] = 50
    result["within_target"] = result["ten_rule_median_us"] < 50
    print(f"10-rule policy: median {result['ten_rule_median_us']} us "
          f"(p90 {result['ten_rule_p90_us']} us); 1-rule baseline: median "
          f"{result['baseline_one_rule_median_us']} us; ratio {result['ratio']}x; "
          f"target < 50 us: {'yes' if result['within_target'] else 'NO'}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""bench/latency.py and bench/fanout.py run at tiny sizes through the deployed pipeline
(connector processes, operator mode) and write the keys the runner reads; every record is
delivered exactly once (the scripts check the consumers' stores and fail otherwise). The
figures themselves come from full-size runs on an idle machine (bench/README.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.registry import BENCHMARKS
from bench.runner import pick

ROOT = Path(__file__).resolve().parents[1]


def run_script(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bench" / script), *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def registered_keys(name: str) -> list[str]:
    [bench] = [b for b in BENCHMARKS if b.name == name]
    return [f.key for f in bench.figures]


def test_latency_open_loop_at_half_the_maximum(tmp_path: Path):
    out = tmp_path / "latency.json"
    result = run_script("latency.py", "--records", "60", "--max-records", "200",
                        "--rates", "0.5", "--json", str(out))
    # Exit 1 is a missed floor (possible on a loaded machine), with the JSON written.
    assert result.returncode in (0, 1), result.stderr[-3000:]
    figures = json.loads(out.read_text(encoding="utf-8"))
    half = figures["rates"]["0.5"]
    assert half["records"] == 60
    # both rounded to 0.1 from the unrounded maximum
    assert abs(half["offered_per_s"] - figures["max_records_per_s"] * 0.5) <= 0.1
    assert 0 < half["p50_ms"] <= half["p99_ms"] <= half["max_ms"]
    assert figures["at_50_p99_ms"] == half["p99_ms"]
    assert figures["floors"]["p99_at_50_ok"] == (half["p99_ms"] <= 100.0)
    assert result.returncode == (0 if figures["floors"]["p99_at_50_ok"] else 1)
    assert "idle machine" in figures["note"]
    # The runner's figures for latency exist in this JSON (those of other rates when run).
    assert pick(figures, "max_records_per_s") and pick(figures, "at_50_p99_ms")


def test_fanout_two_consumers_each_get_every_record(tmp_path: Path):
    out = tmp_path / "fanout.json"
    result = run_script("fanout.py", "--consumers", "2", "--no-baseline", "--no-churn",
                        "--records", "40", "--json", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text(encoding="utf-8"))
    two = figures["by_consumers"]["2"]
    assert len(two["per_consumer"]) == 2 and figures["consumers"] == 2
    assert all(c["records_per_s"] > 0 and c["rss_mb"] for c in two["per_consumer"])
    assert figures["ratio_to_single"] is None  # no single-consumer run: no ratio claimed
    assert figures["floors"]["ratio_ok"] is None and figures["floors"]["pause_ok"] is None
    not_run = {"single_records_per_s", "ratio_to_single", "grant_max_pause_ms",
               "revoke_max_pause_ms", "grant_max_delay_ms",
               "revoke_max_delay_ms"}  # no single-consumer run, no churn
    for key in registered_keys("fanout"):
        assert (pick(figures, key) is None) == (key in not_run), key

"""bench/bosai.py runs at a small size through a shelter operator's connector and writes
every figure issue 6 names (the figures themselves come from full-size runs: bench/README.md)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bosai_bench_runs_small_and_writes_the_issue_keys(tmp_path: Path):
    out = tmp_path / "bosai.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bosai.py"), "--shelters", "4", "--evacuees",
         "300", "--checkins", "5", "--loads", "1", "--interval", "0.05", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text(encoding="utf-8"))
    for key in ("first_load_ms", "checkin_to_dashboard_p99_ms", "dedupe_s"):
        assert isinstance(figures[key], float) and figures[key] > 0, key
    assert figures["checkin_path"] == "operator" and figures["checkins"] == 5
    assert figures["dedupe"]["merged"] > 0 and figures["dedupe"]["refused"] == 0
    assert set(figures["floors"]) >= {"first_load_ok", "checkin_p99_ok", "dedupe_ok"}
    assert figures["machine"]["cpus"] and len(figures["load_avg_start"]) == 3

"""bench/steel.py runs at a small size and writes every figure issue 15 names for it so far,
its existing keys kept (the figures themselves come from full-size runs: bench/README.md)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_steel_bench_runs_small_and_writes_the_issue_keys(tmp_path: Path):
    out = tmp_path / "steel.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "steel.py"), "--certs", "40", "--rounds", "1",
         "--json", str(out)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    # The exit status judges the floors, which are for full-size runs on a quiet machine.
    assert result.returncode in (0, 1), result.stderr[-3000:]
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["certificates"] == 40 and figures["import_certs_per_s"] > 0
    assert figures["flagged"] + figures["refused"] <= 40
    assert 0 < figures["export_package_ms"] < figures["export_package_pdf_ms"]
    assert figures["floor_export_package_ms"] == 500

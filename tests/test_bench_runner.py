"""``python -m bench`` (bench/__main__.py, runner.py, report.py): the dry run lists every
registered benchmark with its sizes, a real tiny run through the runner leaves JSON, plots,
summary and page, and a benchmark that writes no JSON is reported as failed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.registry import BENCHMARKS, Bench, Figure, lower
from bench.report import commits, rows
from bench.runner import pick, run_all

ROOT = Path(__file__).resolve().parents[1]


def bench_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_dry_run_lists_every_benchmark_with_three_sizes_or_not_built(tmp_path: Path):
    for mode in ("quick", "full"):
        out = bench_cli(mode, "--dry-run", "--results", str(tmp_path / "r"))
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()[1:]
        assert [line.split(":")[0] for line in lines] == [b.name for b in BENCHMARKS]
        for bench, line in zip(BENCHMARKS, lines, strict=True):
            if bench.script is None:
                assert "not built" in line
            else:
                assert len(bench.sizes(mode)) >= 3, bench.name
                sizes = ", ".join(f"{s:g}" for s in bench.sizes(mode))
                assert f"{bench.size_arg} {sizes}" in line and bench.script in line
    assert not (tmp_path / "r").exists()  # a dry run runs and writes nothing
    assert {"stream", "latency", "policy_eval", "at_rest", "bosai", "steel"} <= {
        b.name for b in BENCHMARKS if b.script}


def test_unknown_name_and_sizes_without_one_only_are_refused():
    out = bench_cli("quick", "--only", "nonesuch", "--dry-run")
    assert out.returncode == 2 and "unknown benchmark nonesuch" in out.stderr
    out = bench_cli("quick", "--sizes", "1,2,3", "--dry-run")
    assert out.returncode == 2 and "--sizes needs exactly one --only" in out.stderr


def test_a_tiny_policy_eval_run_writes_json_plots_summary_and_page(tmp_path: Path):
    results, docs = tmp_path / "results", tmp_path / "docs" / "performance.md"
    out = bench_cli("quick", "--only", "policy_eval", "--sizes", "50,100,200",
                    "--results", str(results), "--docs", str(docs), timeout=300)
    # Exit 1 only when a floor is missed: the floor is for an idle machine.
    assert out.returncode in (0, 1), out.stdout + out.stderr
    for size in (50, 100, 200):
        figures = json.loads((results / f"policy_eval-{size}.json").read_text())
        assert figures["rounds"] == size and figures["ten_rule_median_us"] > 0
    summary = json.loads((results / "summary.json").read_text(encoding="utf-8"))
    entry = summary["benchmarks"]["policy_eval"]
    assert entry["status"] == "ok"
    assert [s for s, _ in entry["figures"]["ten_rule_median_us"]["values"]] == [50, 100, 200]
    met = entry["figures"]["ten_rule_median_us"]["met"]
    assert out.returncode == (0 if met else 1)
    assert (results / "policy_eval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (docs.parent / "images" / "perf-policy_eval.png").exists()
    page = docs.read_text(encoding="utf-8")
    assert "| policy_eval | ten_rule_median_us (us) |" in page and "@ 200 | <= 50.0 |" in page
    assert "![perf-policy_eval](images/perf-policy_eval.png)" in page
    assert "python -m bench quick" in page and "cores" in page
    table = out.stdout
    assert "ten_rule_median_us (us)" in table and "met?" in table


def test_a_benchmark_without_json_is_a_failure_in_the_table(tmp_path: Path):
    script = tmp_path / "broken.py"
    script.write_text("import sys\nprint('boom')\nsys.exit(3)\n")
    broken = Bench("broken", str(script), "--n", (1, 2, 3), (1, 2, 3),
                   (lower("took_ms", "ms", 10.0),))
    [run] = run_all([broken], "quick", tmp_path, progress=lambda _: None)
    assert run.status == "failed" and [r.exit_code for r in run.runs] == [3, 3, 3]
    assert "boom" in run.runs[0].log.read_text()
    assert rows([run]) == [["broken", "took_ms (ms)", "FAILED", "<= 10.0", "-"]]


def test_figures_and_floors():
    assert pick({"a": {"b": 2}}, "a.b") == 2.0
    assert pick({"a": {"b": True}}, "a.b") is None and pick({"a": 1}, "a.b") is None
    assert Figure("x", "/s", 10.0).met(10.0) and not Figure("x", "/s", 10.0).met(9.9)
    assert lower("x", "ms", 100.0).met(100.0) and not lower("x", "ms", 100.0).met(100.1)
    assert Figure("x", "/s").met(1.0) is None


def test_resume_keeps_the_sizes_already_measured_and_runs_the_others(tmp_path: Path):
    # A script that counts its own runs: resuming must not run a size with figures again.
    script = tmp_path / "counting.py"
    script.write_text(
        "import json, sys\n"
        "n, out = int(sys.argv[2]), sys.argv[4]\n"
        "log = open(sys.argv[0] + '.runs', 'a'); log.write(f'{n}\\n'); log.close()\n"
        "json.dump({'took_ms': n * 2, 'git_commit': 'new'}, open(out, 'w'))\n")
    bench = Bench("counting", str(script), "--n", (1, 2, 3), (1, 2, 3),
                  (lower("took_ms", "ms", 5.0),))
    (tmp_path / "counting-1.json").write_text(json.dumps({"took_ms": 7, "git_commit": "old"}))
    (tmp_path / "counting-2.json").write_text("{not json")  # a run cut off while writing
    [run] = run_all([bench], "quick", tmp_path, progress=lambda _: None, resume=True)
    assert (tmp_path / "counting.py.runs").read_text().split() == ["2", "3"]
    assert [(r.size, r.resumed) for r in run.runs] == [(1, True), (2, False), (3, False)]
    assert run.values(bench.figures[0]) == [(1, 7.0), (2, 4.0), (3, 6.0)]
    assert commits([run], "head") == {"old": ["counting"], "new": ["counting"]}
    del run.runs[2].result["git_commit"]  # a script that does not say: this run's commit
    run.runs[0].result.pop("git_commit")  # kept from earlier without one: unknown
    assert commits([run], "head") == {"(not recorded)": ["counting"], "new": ["counting"],
                                      "head": ["counting"]}
    out = bench_cli("quick", "--resume", "--dry-run")
    assert out.returncode == 2 and "--resume needs --results" in out.stderr

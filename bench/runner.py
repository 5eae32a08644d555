"""Runs the registry's benchmarks (bench/registry.py), each at its sizes, as subprocesses.

Each (benchmark, size) is ``python SCRIPT SIZE_ARG N ARGS --json RESULTS/NAME-N.json`` with
its output in ``RESULTS/NAME-N.log``. A script exiting 1 after writing its JSON has missed a
floor: its figures are kept (the table says which floor). No JSON is a failed run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.registry import Bench, Figure

ROOT = Path(__file__).resolve().parents[1]


def size_text(size: float) -> str:
    return f"{size:g}"


def command(bench: Bench, mode: str, size: float, json_path: Path | None) -> list[str]:
    assert bench.script is not None
    out = [sys.executable, bench.script, bench.size_arg, size_text(size),
           *bench.mode_args(mode)]
    return out + (["--json", str(json_path)] if json_path else [])


def pick(result: dict[str, Any], key: str) -> float | None:
    """``result[a][b]`` for key "a.b"; None when absent or not a number."""
    value: Any = result
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


@dataclass
class SizeRun:
    size: float
    seconds: float
    exit_code: int
    result: dict[str, Any] | None  # the script's JSON; None when it wrote none
    log: Path
    resumed: bool = False  # kept from an earlier run into the same folder (--resume)

    @property
    def failed(self) -> bool:
        return self.result is None


@dataclass
class BenchRun:
    bench: Bench
    runs: list[SizeRun] = field(default_factory=list)
    status: str = "ok"  # ok | failed | not built

    def values(self, figure: Figure) -> list[tuple[float, float]]:
        """(size, value) of each size that produced the figure."""
        return [(r.size, v) for r in self.runs if r.result is not None
                and (v := pick(r.result, figure.key)) is not None]

    def largest(self, figure: Figure) -> float | None:
        """The figure at the largest size run (the one the floor is judged on)."""
        values = self.values(figure)
        return values[-1][1] if values else None


def kept(json_path: Path) -> dict[str, Any] | None:
    """The figures a run already wrote to ``json_path`` (``--resume``), or None."""
    try:
        return json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_one(bench: Bench, mode: str, size: float, results: Path,
            resume: bool = False) -> SizeRun:
    stem = f"{bench.name}-{size_text(size)}"
    json_path, log = results / f"{stem}.json", results / f"{stem}.log"
    if resume and (result := kept(json_path)) is not None:
        return SizeRun(size, 0.0, 0, result, log, resumed=True)
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "w", encoding="utf-8") as out:
        try:
            code = subprocess.run(command(bench, mode, size, json_path), cwd=ROOT, env=env,
                                  stdout=out, stderr=subprocess.STDOUT,
                                  timeout=bench.timeout_s).returncode
        except subprocess.TimeoutExpired:
            out.write(f"\nbench runner: stopped after {bench.timeout_s:.0f} s\n")
            code = -1
    result = None
    if json_path.exists():
        try:
            result = json.loads(json_path.read_text(encoding="utf-8"))
        except ValueError:
            result = None
    return SizeRun(size, time.monotonic() - started, code, result, log)


def run_all(benches: list[Bench], mode: str, results: Path,
            progress: Any = print, resume: bool = False) -> list[BenchRun]:
    """Every size of every benchmark; ``resume``: a size whose JSON is in ``results``
    already keeps it (an interrupted ``full`` run goes on where it stopped)."""
    done: list[BenchRun] = []
    for bench in benches:
        if bench.script is None:
            done.append(BenchRun(bench, status="not built"))
            progress(f"{bench.name}: not built")
            continue
        run = BenchRun(bench)
        for size in bench.sizes(mode):
            progress(f"{bench.name} {bench.size_arg} {size_text(size)} ...")
            one = run_one(bench, mode, size, results, resume)
            run.runs.append(one)
            if one.resumed:
                progress(f"  kept from {one.log.with_suffix('.json')}")
                continue
            progress(f"  {one.seconds:.1f} s, exit {one.exit_code}"
                     + ("" if one.result is not None else f", FAILED (see {one.log})"))
        if any(r.failed for r in run.runs):
            run.status = "failed"
        done.append(run)
    return done


def plan(benches: list[Bench], mode: str) -> list[str]:
    """What ``--dry-run`` prints: each benchmark with its sizes and first command."""
    lines = []
    for bench in benches:
        if bench.script is None:
            lines.append(f"{bench.name}: not built ({bench.about})")
            continue
        sizes = ", ".join(size_text(s) for s in bench.sizes(mode))
        example = " ".join(command(bench, mode, bench.sizes(mode)[0], None)[1:])
        lines.append(f"{bench.name}: {bench.size_arg} {sizes}  (python {example} ...)")
    return lines

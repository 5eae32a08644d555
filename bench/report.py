"""What a ``python -m bench`` run leaves behind: the summary table, a PNG per benchmark
(each figure against size, to show how cost grows), summary.json and docs/performance.md.

Table and page are built from the runs alone (pure); ``plot`` and ``write_docs`` do the I/O.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from bench.runner import BenchRun, size_text

IDLE_WARNING = ("the load average at start was {load:.2f} on {cpus} cores: the machine was not "
                "idle, so these figures are not final; take them again on an idle machine")


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"


def met_text(ok: bool | None) -> str:
    return "-" if ok is None else "yes" if ok else "NO"


def rows(runs: list[BenchRun]) -> list[list[str]]:
    """benchmark, figure, value at the largest size, floor, met?"""
    out = []
    for run in runs:
        if run.status == "not built":
            out.append([run.bench.name, "-", "not built", "-", "-"])
            continue
        for figure in run.bench.figures:
            value = run.largest(figure)
            sizes = [s for s, _ in run.values(figure)]
            where = f" @ {size_text(sizes[-1])}" if sizes else ""
            floor = "-" if figure.floor is None else \
                f"{'>=' if figure.higher_is_better else '<='} {fmt(figure.floor)}"
            out.append([run.bench.name, f"{figure.key} ({figure.unit})",
                        ("FAILED" if value is None and run.status == "failed" else fmt(value))
                        + where, floor, met_text(figure.met(value))])
    return out


HEADER = ["benchmark", "figure", "value @ size", "floor", "met?"]


def text_table(table: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *table]) for i in range(len(HEADER))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(HEADER), line(["-" * w for w in widths]), *map(line, table)])


def markdown_table(table: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in table]
    return "\n".join(lines)


def summary(runs: list[BenchRun], facts: dict[str, Any]) -> dict[str, Any]:
    """summary.json: the facts of the run and every figure at every size."""
    return {**facts, "benchmarks": {
        run.bench.name: {"status": run.status, "size_arg": run.bench.size_arg,
                         "baseline": run.bench.baseline,
                         "sizes": [{"size": r.size, "seconds": round(r.seconds, 1),
                                    "exit_code": r.exit_code, "json": r.log.with_suffix(
                                        ".json").name if r.result is not None else None}
                                   for r in run.runs],
                         "figures": {f.key: {"unit": f.unit, "floor": f.floor,
                                             "values": run.values(f),
                                             "met": f.met(run.largest(f))}
                                     for f in run.bench.figures}}
        for run in runs}}


def plot(runs: list[BenchRun], results: Path) -> list[Path]:
    """One PNG per benchmark that ran: each figure against size, its floor dashed."""
    import matplotlib  # the `bench` extra

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    for run in runs:
        figures = [f for f in run.bench.figures if run.values(f)]
        if not figures:
            continue
        fig, axes = plt.subplots(1, len(figures), figsize=(3.2 * len(figures), 2.8),
                                 squeeze=False)
        for ax, figure in zip(axes[0], figures, strict=True):
            sizes, values = zip(*run.values(figure), strict=True)
            ax.plot(sizes, values, marker="o")
            if figure.floor is not None:
                ax.axhline(figure.floor, linestyle="--", color="red", linewidth=1)
            ax.set_title(figure.key, fontsize=8)
            ax.set_xlabel(run.bench.size_arg.lstrip("-"), fontsize=8)
            ax.set_ylabel(figure.unit, fontsize=8)
            ax.tick_params(labelsize=7)
            if min(sizes) > 0 and max(sizes) / min(sizes) >= 10:
                ax.set_xscale("log")
        fig.suptitle(run.bench.name, fontsize=10)
        fig.tight_layout()
        path = results / f"{run.bench.name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        made.append(path)
    return made


UNRECORDED = "(not recorded)"


def commits(runs: list[BenchRun], current: str) -> dict[str, list[str]]:
    """Which benchmarks ran at which git commit (a resumed run can hold several): a
    script's own ``git_commit``, else ``current`` for a size run now, else UNRECORDED."""
    found: dict[str, list[str]] = {}
    for run in runs:
        for size in run.runs:
            if size.result is None:
                continue
            commit = size.result.get("git_commit") or (
                UNRECORDED if size.resumed else current)
            if run.bench.name not in found.setdefault(commit, []):
                found[commit].append(run.bench.name)
    return found


def page(runs: list[BenchRun], facts: dict[str, Any], images: list[str]) -> str:
    """docs/performance.md."""
    machine = facts["machine"]
    lines = [
        "# Performance",
        "",
        "Generated by `python -m bench " + facts["mode"] + "` (bench/runner.py); do not edit by "
        "hand. Every benchmark and what it measures: [bench/README.md](../bench/README.md).",
        "",
        "    .venv/bin/pip install -e '.[bench]'",
        "    .venv/bin/python -m bench quick    # or: full, --only NAME, --dry-run",
        "",
        "## Machine",
        "",
        f"- run at {facts['started']} to {facts['finished']} (UTC), git {facts['git_commit']}",
        f"- {machine.get('cpu_model')}, {machine.get('cpus')} cores, Python "
        f"{machine.get('python')}, {machine.get('platform')}",
        f"- load average (1 min) at start {facts['load_avg_start'][0]:.2f}, at end "
        f"{facts['load_avg_end'][0]:.2f}",
    ]
    by_commit = facts.get("commits") or {}
    if len(by_commit) > 1:  # resumed (--resume): say which figures come from which code
        lines += [f"- figures of {', '.join(names)} measured at git "
                  f"{commit if commit == UNRECORDED else commit[:12]}"
                  for commit, names in by_commit.items()]
    lines.append("")
    if facts.get("not_idle"):
        lines += ["**" + IDLE_WARNING.format(load=facts["load_avg_start"][0],
                                             cpus=machine.get("cpus")) + ".**", ""]
    lines += ["## Figures", "",
              "Each value is at the largest size run; the plots show every size.", "",
              markdown_table(rows(runs)), ""]
    if images:
        lines += ["## How cost grows", ""]
        lines += [f"![{Path(i).stem}]({i})" for i in images]
        lines.append("")
    return "\n".join(lines)


def write_docs(runs: list[BenchRun], facts: dict[str, Any], pngs: list[Path],
               docs: Path) -> None:
    """The page, and each plot copied next to it as images/perf-NAME.png."""
    images = []
    if pngs:
        folder = docs.parent / "images"
        folder.mkdir(parents=True, exist_ok=True)
        for png in pngs:
            target = folder / f"perf-{png.stem}.png"
            shutil.copyfile(png, target)
            images.append(f"images/{target.name}")
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text(page(runs, facts, images), encoding="utf-8")

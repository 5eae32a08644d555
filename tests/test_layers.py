"""The layering of docs/architecture.md holds, checked by import-linter (pyproject.toml's
[tool.importlinter] contracts): imports point down, domains do not import each other, and
nothing but the usage gate imports the held-records repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("trust", "usage_policies", "catalog", "connector", "authority", "domains")


def lint_imports(where: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the packages found in ``where`` with the project's contracts."""
    script = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(script), "--config", str(where / "pyproject.toml"),
                           "--no-cache"], cwd=where, capture_output=True, text=True,
                          env={"PYTHONPATH": str(where), "PATH": "/usr/bin:/bin"},
                          timeout=300)


def copy_of_the_project(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.sqlite"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_every_import_contract_holds():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_build(tmp_path):
    tree = copy_of_the_project(tmp_path)
    (tree / "trust" / "upward_import.py").write_text(
        '"""A bottom-layer module reaching up (what the contract must catch)."""\n\n'
        "from connector.runtime.connector import Connector\n\n__all__ = ['Connector']\n")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout
    assert "BROKEN" in result.stdout
    assert "trust.upward_import -> connector.runtime.connector" in result.stdout


def test_a_domain_importing_another_breaks_the_build(tmp_path):
    tree = copy_of_the_project(tmp_path)
    (tree / "domains" / "steel" / "leaks.py").write_text(
        "from domains.bosai.vocab import EVACUEE\n\n__all__ = ['EVACUEE']\n")
    result = lint_imports(tree)
    assert result.returncode == 1 and "domains.steel.leaks -> domains.bosai.vocab" \
        in result.stdout, result.stdout


def test_reading_held_records_around_the_gate_breaks_the_build(tmp_path):
    tree = copy_of_the_project(tmp_path)
    (tree / "connector" / "api" / "backdoor.py").write_text(
        "from connector.control.held import HeldRecords\n\n__all__ = ['HeldRecords']\n")
    result = lint_imports(tree)
    assert result.returncode == 1 and "connector.api.backdoor -> connector.control.held" \
        in result.stdout, result.stdout

"""The module structure of usage_policies: validation apart from evaluation, no import loop.

The import graph is read from the source with ``ast`` (nothing is imported), counting every
import statement wherever it stands: at module level, inside ``if``/``try`` blocks and inside
functions and methods. Imports under ``if TYPE_CHECKING:`` never run, so they are left out
of the loop check; they still count for what parsing and validation may reach.
"""

from __future__ import annotations

import ast
from pathlib import Path

import usage_policies

PACKAGE = "usage_policies"
SOURCE = Path(usage_policies.__file__).parent


def _module_name(path: Path) -> str:
    return "__init__" if path.stem == "__init__" else path.stem


MODULES = {_module_name(p): p for p in sorted(SOURCE.glob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _targets(node: ast.Import | ast.ImportFrom) -> set[str]:
    """The usage_policies modules an import statement loads (``__init__`` for the package)."""
    out: set[str] = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            parts = alias.name.split(".")
            if parts[0] == PACKAGE:
                out.add(parts[1] if len(parts) > 1 else "__init__")
        return out
    if node.level:  # relative: from . import x, from .x import y
        base = [PACKAGE, *node.module.split(".")] if node.module else [PACKAGE]
    else:
        base = node.module.split(".") if node.module else []
    if not base or base[0] != PACKAGE:
        return out
    if len(base) > 1:
        out.add(base[1])
    else:  # from usage_policies import x: a submodule, or a name of the package's __init__
        out |= {a.name if a.name in MODULES else "__init__" for a in node.names}
    return out


class _Imports(ast.NodeVisitor):
    def __init__(self) -> None:
        self.runtime: set[str] = set()
        self.type_checking: set[str] = set()
        self.in_functions: list[str] = []
        self._function_depth = 0
        self._type_checking_depth = 0

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._function_depth += 1
        self.generic_visit(node)
        self._function_depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node):
            self._type_checking_depth += 1
            for child in node.body:
                self.visit(child)
            self._type_checking_depth -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if self._function_depth:
            self.in_functions.append(f"line {node.lineno}: {ast.unparse(node)}")
        (self.type_checking if self._type_checking_depth else self.runtime).update(
            _targets(node))

    visit_Import = visit_ImportFrom = _import


def _scan() -> dict[str, _Imports]:
    scans = {}
    for name, path in MODULES.items():
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        scans[name] = visitor
    return scans


SCANS = _scan()
RUNTIME = {name: scan.runtime - {name} for name, scan in SCANS.items()}
ALL_EDGES = {name: (scan.runtime | scan.type_checking) - {name}
             for name, scan in SCANS.items()}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop (as a list of modules, first == last), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_scan_sees_the_package():
    assert {"parse", "validate", "evaluate", "request", "explain", "api"} <= set(MODULES)
    assert "validate" in RUNTIME["parse"]  # the scan reads imports at all
    assert "evaluate" in RUNTIME["api"]


def test_no_module_imports_inside_a_function():
    hidden = {name: scan.in_functions for name, scan in SCANS.items() if scan.in_functions}
    assert hidden == {}


def test_the_import_graph_has_no_loop():
    assert _cycle(RUNTIME) is None


def test_parsing_and_validation_do_not_reach_the_evaluator():
    for module in ("parse", "validate"):
        reached = _reachable(ALL_EDGES, module)
        assert "evaluate" not in reached, f"{module} reaches evaluate"
        assert "api" not in reached and "__init__" not in reached, module


def test_the_evaluator_does_not_parse():
    assert "parse" not in _reachable(RUNTIME, "evaluate")

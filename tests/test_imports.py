"""The project's import graph: no cycles, and ``sim/`` stays a library.

Every ``import`` counts, at module level or inside a function (a lazy import only hides a
cycle), except those under ``if TYPE_CHECKING:`` (never run).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("sim", "cli", "service", "load", "reports")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return lines


def import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports."""
    files = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_lines(tree)
        is_pkg = path.name == "__init__.py"
        deps: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    pkg = pkg[: len(pkg) - node.level + 1]
                    base = ".".join([*pkg, base] if base else pkg)
                names = [base, *(f"{base}.{a.name}" for a in node.names)]
            else:
                continue
            deps.update(n for n in names if n in files and n != mod)
        graph[mod] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_walker_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    g = import_graph()
    assert "sim.money_report" in g["sim.money"] and "sim.model" in g["sim.runner"]  # lazy ones count too


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_sim_is_a_library():
    """``sim`` never imports the CLI's, the report's or the deployment's packages, nor argparse & co."""
    banned = ("argparse", "reports", "service", "load", "locust", "fastapi", "matplotlib")
    found = []
    for path in (ROOT / "sim").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in banned]
    assert found == []


def test_public_api_snippet_runs_from_any_folder(tmp_path):
    code = """
import sim
sc = sim.load_scenario("baseline", overrides=["horizon_days=2", "helpline.enabled=false"])
res = sim.run(sc, seed=1)
assert isinstance(res, sim.RunResult) and res.summary["seed"] == 1
assert {"bookings", "offers", "workers", "districts", "ledger", "wallets"} <= set(res.tables)
out = sim.write_run(res, "runs/x")
import pandas as pd
pd.testing.assert_frame_equal(pd.read_parquet(out / "bookings.parquet"), res.tables["bookings"])
print(len(res.tables["bookings"]))
"""
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert int(p.stdout) > 0 and (tmp_path / "runs" / "x" / "summary.json").is_file()

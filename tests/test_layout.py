"""The package reads one way: no module imports one that imports it back, directly or
through others, type-only imports and imports inside functions included (docs/architecture.md).

``python tests/test_layout.py`` prints the floors: a module's floor is one more than the
highest floor of what it imports, so floor 0 imports nothing of w2gm.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "w2gm"


def module_names(package: Path = PACKAGE) -> dict[str, Path]:
    names = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imported_modules(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its source."""
    found = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + is_package]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # "from . import x" imports module x; "from .m import name" imports module m
            targets = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in known else prefix
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # an attribute of a module names the module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    known = module_names(package)
    return {name: imported_modules(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for v in graph:
        if v not in index:
            visit(v)
    return found


def floors(graph: dict[str, set[str]]) -> dict[str, int]:
    """Floor of each module of an acyclic graph."""
    floor: dict[str, int] = {}

    def of(v: str) -> int:
        if v not in floor:
            floor[v] = 1 + max((of(w) for w in graph[v]), default=-1)
        return floor[v]

    for v in graph:
        of(v)
    return floor


def test_the_package_has_no_import_circles():
    assert cycles(import_graph()) == []


def test_the_circle_finder_finds_a_planted_circle(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .top import X\n")
    (package / "middle.py").write_text("from . import low\n")
    (package / "top.py").write_text("def f():\n    from .middle import g\n")
    (package / "alone.py").write_text("import os\n")
    graph = import_graph(package)
    assert graph["pkg.top"] == {"pkg.middle"}
    assert cycles(graph) == [["pkg.low", "pkg.middle", "pkg.top"]]
    (package / "low.py").write_text("")
    graph = import_graph(package)
    assert cycles(graph) == []
    assert floors(graph) == {"pkg": 0, "pkg.low": 0, "pkg.alone": 0, "pkg.middle": 1, "pkg.top": 2}


@pytest.mark.parametrize("module", ["w2gm.reading.files", "w2gm.mixture", "w2gm.vocab", "w2gm.errors"])
def test_the_bottom_floors_import_nothing_from_above(module):
    graph = import_graph()
    assert "w2gm.keyed" not in graph[module] and "w2gm.trainer" not in graph[module]


if __name__ == "__main__":
    graph = import_graph()
    if found := cycles(graph):
        print("circles:", found)
        sys.exit(1)
    levels = floors(graph)
    for level in sorted(set(levels.values())):
        print(f"floor {level}:")
        for name in sorted(n for n in levels if levels[n] == level):
            print(f"   {name} <- {', '.join(sorted(graph[name])) or '-'}")

"""Imports of ``src/decorr_af`` run bottom-up through the layers, without cycles.

Read with :mod:`ast` (nothing is imported): every ``import`` and ``from ... import``,
at module level or inside a function, ``TYPE_CHECKING`` blocks included.

Layers (lowest first; a module may import its own layer or a lower one):

0. kernels: ``errors, _compat, _lazy, _version, columnar, decorrelation, metrics, egamma,
   stats, nets``
   (and the package root, a facade over ``errors`` and ``_version``)
1. ``data``, ``models``
2. ``workflows``
3. ``scan``
4. ``plot``
5. presentation: ``report``, ``widgets``, ``demo``
6. ``cli`` (7: ``__main__``)
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "decorr_af"

LAYERS = {
    "": 0,
    "errors": 0,
    "_compat": 0,
    "_lazy": 0,
    "_version": 0,
    "columnar": 0,
    "decorrelation": 0,
    "metrics": 0,
    "egamma": 0,
    "nets": 0,
    "stats": 0,
    "nets_graph": 0,
    "data": 1,
    "models": 1,
    "workflows": 2,
    "scan": 3,
    "plot": 4,
    "report": 5,
    "widgets": 5,
    "demo": 5,
    "cli": 6,
    "__main__": 7,
}

#: Known violations (importer module, imported module or package), kept until their
#: owners move the code; each entry must still match an import (see test_allow_list_is_not_stale).
ALLOWED_UPWARD: set[tuple[str, str]] = set()
ALLOWED_CYCLE_EDGES: set[tuple[str, str]] = set(ALLOWED_UPWARD)


def allowed(edge: tuple[str, str], allow: set[tuple[str, str]]) -> bool:
    """Whether ``edge`` (importer, imported) matches an allow-list entry."""
    a, b = edge
    return any(a == x and (b == y or b.startswith(y + ".")) for x, y in allow)


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _target(name: str) -> str:
    """The longest existing module of a dotted name (``decorr_af.x.func`` -> ``decorr_af.x``)."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _imports(module: str, path: Path) -> list[tuple[str, int]]:
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # ``from decorr_af import metrics`` imports the submodule decorr_af.metrics
            found += [(f"{base}.{a.name}", node.lineno) for a in node.names]
    return [
        (_target(name), line)
        for name, line in found
        if name == "decorr_af" or name.startswith("decorr_af.")
    ]


def _edges() -> list[tuple[str, str, int]]:
    edges = []
    for module, path in MODULES.items():
        for target, line in _imports(module, path):
            if target != module:
                edges.append((module, target, line))
    return edges


EDGES = _edges()


def unit(module: str) -> str:
    """Layer unit of a module: its subpackage (or top-level module)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def subpackage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_has_a_layer():
    assert len(MODULES) > 50
    assert not {unit(m) for m in MODULES} - set(LAYERS)


def test_resolves_relative_and_function_level_imports():
    edges = {(a, b) for a, b, _ in EDGES}
    # function-level import of a submodule through its package
    assert ("decorr_af.workflows._classify", "decorr_af.metrics") in edges
    assert ("decorr_af.__main__", "decorr_af.cli") in edges


def test_no_import_runs_upward():
    upward = [
        f"{a}:{line} -> {b} (layer {LAYERS[unit(a)]} -> {LAYERS[unit(b)]})"
        for a, b, line in EDGES
        if LAYERS[unit(b)] > LAYERS[unit(a)] and not allowed((a, b), ALLOWED_UPWARD)
    ]
    assert upward == []


def test_allow_list_is_not_stale():
    stale = [e for e in ALLOWED_CYCLE_EDGES if not any(allowed((a, b), {e}) for a, b, _ in EDGES)]
    assert stale == []


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("granularity", [subpackage, unit])
def test_no_cycle_between_subpackages(granularity):
    graph: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], str] = {}
    for a, b, line in EDGES:
        ua, ub = granularity(a), granularity(b)
        if ua != ub and not allowed((a, b), ALLOWED_CYCLE_EDGES):
            graph[ua].add(ub)
            where.setdefault((ua, ub), f"{a}:{line} -> {b}")
    cycle = _cycle(graph)
    assert cycle is None, [where[pair] for pair in itertools.pairwise(cycle)]


#: package-wide infrastructure modules every subpackage may use despite the underscore
SHARED_PRIVATE = {"decorr_af._compat", "decorr_af._lazy", "decorr_af._version"}


def test_no_private_name_crosses_a_subpackage():
    """``from decorr_af.<a>._x import y`` / ``import _y`` only inside subpackage ``<a>``."""
    bad = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            if not node.module.startswith("decorr_af.") or node.module in SHARED_PRIVATE:
                continue
            if subpackage(node.module) == subpackage(module):
                continue
            private_module = any(p.startswith("_") for p in node.module.split(".")[1:])
            private_names = [a.name for a in node.names if a.name.startswith("_")]
            if private_module or private_names:
                bad.append(f"{module}:{node.lineno} from {node.module} import {private_names}")
    assert not bad, "private names used across subpackages:\n" + "\n".join(bad)

"""Pin the public API and keep ``import decorr_af`` light."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import decorr_af


def test_top_level_dir():
    assert dir(decorr_af) == [
        "ConfigError",
        "DecorrAFError",
        "InputFileError",
        "MissingBranchError",
        "NonFiniteValueError",
        "__version__",
    ]


def test_import_is_light():
    code = (
        "import sys, decorr_af, decorr_af.data, decorr_af.decorrelation, decorr_af.models,"
        " decorr_af.workflows, decorr_af.scan, decorr_af.plot, decorr_af.widgets;"
        "heavy = {'torch', 'xgboost', 'dask', 'distributed', 'coffea', 'matplotlib', 'ipywidgets'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


LAZY_PACKAGES = (
    "decorr_af.data",
    "decorr_af.decorrelation",
    "decorr_af.models",
    "decorr_af.plot",
    "decorr_af.scan",
    "decorr_af.widgets",
)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_names_exist(package):
    """Every lazily exported name is defined (by source, without importing heavy modules)."""
    mod = importlib.import_module(package)
    assert sorted(dir(mod)) == sorted(mod.__all__)
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        mod.not_a_name
    # the defining module of each lazy name mentions it at top level (ast, nothing imported)
    for name in mod.__all__:
        if name in vars(mod):
            continue
        where = _lazy_module(mod, name)
        spec = importlib.util.find_spec(where)
        assert spec is not None, (package, name, where)
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
        assert name in _top_level_names(tree), f"{where} does not define {name}"


def _lazy_module(mod, name):
    for attr in ("_EXPORTS", "_LAZY", "_WHERE"):
        table = getattr(mod, attr, None)
        if table and name in table:
            target = table[name]
            return target if "." in target else f"{mod.__name__}.{target}"
    return f"{mod.__name__}.penalties"  # decorrelation: the penalty classes


def _top_level_names(tree):
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            names |= {a.asname or a.name for a in node.names}
    return names


def test_lazy_name_is_cached_after_first_access():
    import decorr_af.data as data

    data.__dict__.pop("validate_files", None)
    first = data.validate_files
    assert data.__dict__["validate_files"] is first

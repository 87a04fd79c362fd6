"""Pin the public API and keep ``import decorr_af`` light."""

from __future__ import annotations

import subprocess
import sys

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

"""Notebook 05 (ttH(γγ)) tells the truth: its quoted numbers are checked here.

The notebook is executed with papermill (small parameters, ``MPLBACKEND=agg``) and
writes ``summary.json`` with the metrics, yields and axis labels it shows; the claims
of its text are asserted on those outputs.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_notebooks import NOTEBOOK_DIR

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

NAME = "05_tth_myy_sculpting"
PARAMS = {"events": 12_000, "epochs": 4, "n_estimators": 30, "seed": 29, "quick": True}


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    papermill = pytest.importorskip("papermill")
    pytest.importorskip("ipykernel")
    tmp = tmp_path_factory.mktemp("nb05")
    papermill.execute_notebook(
        str(NOTEBOOK_DIR / f"{NAME}.ipynb"),
        str(tmp / f"{NAME}.out.ipynb"),
        parameters={"workdir": str(tmp / "work"), **PARAMS},
        kernel_name="python3",
        cwd=str(tmp),
        progress_bar=False,
        log_output=False,
        execution_timeout=600,
    )
    return json.loads((tmp / "work" / "summary.json").read_text())


def test_yields_are_those_of_a_tth_category(summary):
    m = summary["metrics"]
    assert 20 < summary["yields"]["ttH_yy"] < 161  # 1.15 fb x 140 fb-1 x acceptance
    assert 50 < m["inclusive.bkg_per_gev"] < 1000  # before the classifier cut
    for key, value in m.items():
        if key.endswith(".bkg_per_gev") and not key.startswith("inclusive"):
            assert value < 100, key  # a ttH category: tens of events / GeV at most


def test_no_model_worse_than_random(summary):
    aucs = {k: v for k, v in summary["metrics"].items() if k.endswith(".auc")}
    assert aucs
    assert all(v > 0.5 for v in aucs.values()), aucs


def test_decorrelation_and_spurious_signal(summary):
    m = summary["metrics"]
    assert m["disco_mlp.dcor"] < m["plain_mlp.dcor"]
    err = m["disco_mlp.spurious_rel_err"]
    assert np.isfinite(err)
    assert abs(m["disco_mlp.spurious_rel"]) < 0.3 + 2.5 * err
    assert m["plain_mlp.significance"] > m["inclusive.significance"]


def test_selected_background_is_enriched_in_ttyy(summary):
    """The composition claim of section 4."""
    comp = summary["composition"]
    assert comp["selected (DisCo)"]["ttyy"] > 5 * comp["inclusive"]["ttyy"]


def test_axis_labels_render(summary):
    from matplotlib.mathtext import MathTextParser

    parser = MathTextParser("agg")
    for name, label in summary["labels"].items():
        assert label, name
        assert "\\\\" not in label, f"{name}: double-escaped TeX {label!r}"
        if "$" in label:
            parser.parse(label)  # raises on broken mathtext
    assert "GeV" in summary["labels"]["myy_fit_y"]

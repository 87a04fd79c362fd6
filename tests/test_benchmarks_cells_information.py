"""``benchmarks/cells_information.py``: the information bound of the cells toy."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("cells_information")
    finally:
        sys.path.remove(str(BENCH))


def test_reco_inputs_hold_no_latent_truth(bench):
    """Only the oracle reads the simulation's latent truth; every other set is reconstruction."""
    sets = bench.input_sets()
    truth = {"true_upstream_loss", "true_leakage", "true_rear_leakage", "true_material",
             "true_presampler"}  # fmt: skip
    assert truth <= set(sets["oracle"])
    for name, cols in sets.items():
        if name != "oracle":
            assert not truth & set(cols), name
    # the data-robust set leaves out the layers whose lateral spread data widens
    assert "window_middle" not in sets["longitudinal"]
    assert not {"Reta", "Rphi", "weta2"} & set(sets["longitudinal"])


def test_sample_columns_consistent(bench):
    """Layer fractions and window energies of the same photons; fresh seed."""
    s = bench.sample(400, 9173)
    n = len(s["e_true"])
    assert n == 400
    assert all(len(v) == n for v in s.values())
    # the cluster (E1 + E2 + E3) is inside the window of the same layers
    for layer, name in ((1, "strips"), (2, "middle"), (3, "back")):
        assert np.median(s[f"window_{name}"] - s[f"E{layer}_frac"]) > -1e-6, name
    np.testing.assert_allclose(s["E1_frac"] + s["E2_frac"] + s["E3_frac"], 1.0, atol=1e-6)
    assert 0.0 < s["true_leakage"].mean() < 0.1


@pytest.mark.slow
def test_main_prints_every_input_set(bench, capsys):
    """A small run prints one row per input set; the truth oracle beats the baseline."""
    assert (
        bench.main(["--photons", "6000", "--test", "3000", "--seeds", "5", "--threads", "1"]) == 0
    )
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines()[-5:]}
    rows = {name: float(cols[1]) for name, cols in lines.items()}
    assert set(rows) == set(bench.input_sets())
    assert rows["oracle"] < rows["baseline"]
    # no truth is read from the data sample: the oracle has no data-side figure
    assert lines["oracle"][-3] == "nan"
    assert lines["shapes"][-3] != "nan"

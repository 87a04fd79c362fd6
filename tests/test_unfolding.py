"""Differential ttH(γγ): binned unfolding (IBU) and OmniFold on the toy.

The "data" truth (a p_T-hardened ttH sample) is read only here, for the closure
comparison; the unfolding itself only sees MC truth.
"""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.errors import ConfigError
from decorr_af.workflows import unfolding as u

pytest.importorskip("sklearn")

VARS = (("pt", u.PT_EDGES), ("absy", u.Y_EDGES))


def _features(s, level):
    return np.column_stack([s[f"{level}_pt"], s[f"{level}_absy"]])


@pytest.fixture(scope="module")
def samples():
    mc = u.tth_sample(10000, seed=31)
    data = u.tth_sample(10000, seed=32)
    data_w = data["weight"] * u.tilted_weights(data["truth_pt"], 0.4)
    folded = u.omnifold(
        _features(mc, "reco"), _features(mc, "truth"), mc["weight"],
        _features(data, "reco"), data_w, iterations=3,
    )  # fmt: skip
    closure = u.omnifold(
        _features(mc, "reco"), _features(mc, "truth"), mc["weight"],
        _features(data, "reco"), data["weight"], iterations=2,
    )  # fmt: skip
    return mc, data, data_w, folded, closure


def _chi2(a, b, err):
    return float(np.sum((a - b) ** 2 / err**2))


@pytest.mark.parametrize(("var", "edges"), VARS)
def test_omnifold_closes_on_mc(samples, var, edges):
    mc, data, _, _, closure = samples
    prior = u.binned(mc[f"truth_{var}"], edges, mc["weight"])
    unfolded = u.binned(mc[f"truth_{var}"], edges, closure.weights)
    truth = u.binned(data[f"truth_{var}"], edges, data["weight"])
    err = np.sqrt(u.binned(data[f"truth_{var}"], edges, data["weight"] ** 2))
    prior *= truth.sum() / prior.sum()
    # MC "data" with the MC spectrum: the weights stay near 1 and the truth is recovered
    assert np.all(np.abs(unfolded - prior) < 3 * err)
    assert np.all(np.abs(unfolded - truth) < 4 * err)


@pytest.mark.parametrize(("var", "edges"), VARS)
def test_omnifold_moves_towards_data_truth_and_agrees_with_ibu(samples, var, edges):
    mc, data, data_w, folded, _ = samples
    truth = u.binned(data[f"truth_{var}"], edges, data_w)  # closure comparison only
    err = np.sqrt(u.binned(data[f"truth_{var}"], edges, data_w**2))
    prior = u.binned(mc[f"truth_{var}"], edges, mc["weight"])
    prior_n = prior * truth.sum() / prior.sum()
    unfolded = u.binned(mc[f"truth_{var}"], edges, folded.weights)
    assert _chi2(unfolded, truth, err) < len(truth) + 4 * np.sqrt(2 * len(truth))
    if var == "pt":  # the tilt changes p_T much more than |y|
        assert _chi2(unfolded, truth, err) < 0.2 * _chi2(prior_n, truth, err)
    response = u.response_matrix(mc[f"reco_{var}"], mc[f"truth_{var}"], mc["weight"], edges)
    binned = u.ibu(u.binned(data[f"reco_{var}"], edges, data_w), response, prior, iterations=4)
    assert np.all(np.abs(binned - unfolded) < 3 * err)
    assert _chi2(binned, truth, err) < len(truth) + 4 * np.sqrt(2 * len(truth))


def test_ibu_inverts_a_known_response():
    truth = np.array([400.0, 300.0, 200.0, 100.0])
    r = np.array(
        [[0.8, 0.1, 0.0, 0.0], [0.2, 0.8, 0.1, 0.0], [0.0, 0.1, 0.8, 0.2], [0.0, 0.0, 0.1, 0.8]]
    )
    r = r / r.sum(axis=0)
    reco = r @ truth
    np.testing.assert_allclose(u.ibu(reco, r, np.full(4, 250.0), iterations=200), truth, rtol=1e-3)
    with pytest.raises(ConfigError, match="iterations"):
        u.ibu(reco, r, truth, iterations=0)


def test_input_checks():
    with pytest.raises(ConfigError, match="tilt"):
        u.tilted_weights(np.ones(3), tilt=-1.0)
    with pytest.raises(ConfigError, match="same length"):
        u.omnifold(np.ones((3, 2)), np.ones((2, 2)), np.ones(3), np.ones((3, 2)))
    with pytest.raises(ConfigError, match="iterations"):
        u.omnifold(np.ones((3, 2)), np.ones((3, 2)), np.ones(3), np.ones((3, 2)), iterations=0)

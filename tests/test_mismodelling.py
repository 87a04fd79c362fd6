"""Physical data/MC differences of the toy (decorr_af.data.calo.Conditions).

Seeds here were not used to tune or document the generator.
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from scipy import stats

from decorr_af.data import simulate_photons, simulate_zee
from decorr_af.data.calo import Conditions, convert, shower
from decorr_af.errors import ConfigError

N = 10_000


def _flat(ev, coll="AnalysisPhotons"):
    obj = ev[coll]
    out = {f: ak.to_numpy(ak.flatten(obj[f])) for f in obj.fields}
    out["resp"] = out["pt"] * np.cosh(out["eta"]) / out["truth_e"]
    out["mu"] = ev["EventInfo"]["averageInteractionsPerCrossing"]
    if "truthType" in out:
        out["prompt"] = out["truthType"] == 14
    return out


@pytest.fixture(scope="module")
def mc():
    return _flat(simulate_photons(N, kind="mc", rng=np.random.default_rng(71031)))


@pytest.fixture(scope="module")
def data():
    """Same data seed at three strengths: the same random numbers through other detectors."""
    return {
        k: _flat(simulate_photons(N, kind="data", mismodelling=k, rng=np.random.default_rng(82093)))
        for k in (0.0, 0.5, 1.0)
    }


def test_zero_strength_is_the_simulated_detector(mc, data):
    assert Conditions.for_kind("data", 0.0) == Conditions.for_kind("mc", 1.0) == Conditions()
    d, p, q = data[0.0], mc["prompt"], data[0.0]["prompt"]
    for name in ("Reta", "Rphi", "weta2", "f1", "E0", "topoetcone20", "ptcone20", "resp"):
        assert stats.ks_2samp(mc[name][p], d[name][q]).pvalue > 1e-3, name
    assert stats.ks_2samp(mc["mu"], d["mu"]).pvalue > 1e-3
    conv_mc, conv_d = mc["conversionType"][p] > 0, d["conversionType"][q] > 0
    table = [[conv_mc.sum(), (~conv_mc).sum()], [conv_d.sum(), (~conv_d).sum()]]
    assert stats.chi2_contingency(table).pvalue > 1e-3
    fakes = [np.bincount(x["truthOrigin"][~x["prompt"]], minlength=43) for x in (mc, d)]
    assert stats.chi2_contingency(np.array(fakes)[:, [23, 39, 42]]).pvalue > 1e-3


def test_full_strength_shifts_in_the_documented_direction(mc, data):
    d, p, q = data[1.0], mc["prompt"], data[1.0]["prompt"]

    def shift(name):
        return np.median(d[name][q]) - np.median(mc[name][p])

    assert shift("Reta") < -0.002  # wider showers leak out of the 3x7 cluster
    assert shift("Rphi") < -0.001
    assert shift("weta2") > 1e-4
    assert shift("f1") > 0.005  # more material: earlier showers
    assert shift("E0") > 0.0
    assert shift("topoetcone20") > 0.0  # more underlying event in the cones
    assert np.mean(d["ptcone20"][q]) > np.mean(mc["ptcone20"][p])
    assert np.mean(d["mu"]) > np.mean(mc["mu"]) + 1.5
    assert np.std(d["mu"]) > np.std(mc["mu"])
    had = [np.mean(x["truthType"][~x["prompt"]] == 17) for x in (mc, d)]
    assert had[1] > had[0] + 0.01
    # conversions: more tracker material (many candidates for a precise rate)
    abseta = np.random.default_rng(5150).uniform(0.0, 2.37, 300_000)
    rate = [
        convert(abseta, np.random.default_rng(6262), Conditions.for_kind("data", k))[
            "converted"
        ].mean()
        for k in (0.0, 1.0)
    ]
    assert rate[1] > rate[0] + 0.005


def test_strength_is_monotonic(data):
    means = [np.mean(data[k]["Reta"]) for k in (0.0, 0.5, 1.0)]
    assert means[2] < means[1] < means[0]
    widths = [np.mean(data[k]["weta2"]) for k in (0.0, 0.5, 1.0)]
    assert widths[0] < widths[1] < widths[2]


def test_true_response_differs_in_data(mc, data):
    p, q = mc["prompt"], data[1.0]["prompt"]
    r_mc, r_data = np.median(mc["resp"][p]), np.median(data[1.0]["resp"][q])
    assert r_data < r_mc - 0.004
    assert stats.ks_2samp(mc["resp"][p], data[1.0]["resp"][q]).pvalue < 1e-6
    zee_mc = _flat(simulate_zee(4000, kind="mc", rng=np.random.default_rng(19391)),
                   "AnalysisElectrons")  # fmt: skip
    zee_data = _flat(simulate_zee(4000, kind="data", mismodelling=1.0,
                                  rng=np.random.default_rng(28447)), "AnalysisElectrons")  # fmt: skip
    assert np.median(zee_data["resp"]) < np.median(zee_mc["resp"]) - 0.005


def test_shapes_change_only_through_calorimeter_conditions():
    """No post-hoc transform: event-level conditions leave the shower untouched."""
    n = 2000
    rng = np.random.default_rng(3301)
    e, eta, mu = rng.uniform(20, 200, n), rng.uniform(-2.3, 2.3, n), rng.uniform(20, 80, n)
    args = {"start": np.full(n, 10.0), "charged": np.zeros(n, bool), "phi_open": np.zeros(n)}
    base = shower(e, eta, mu, rng=np.random.default_rng(1), **args)
    events_only = Conditions(mu_shift=3.0, mu_width=1.1, ue=1.15, pileup_iso=1.1, ue_tracks=1.25)
    same = shower(e, eta, mu, rng=np.random.default_rng(1), conditions=events_only, **args)
    for name in ("e_raw", "Reta", "weta2", "f1", "E0"):
        np.testing.assert_array_equal(base[name], same[name])
    wider = shower(e, eta, mu, rng=np.random.default_rng(1), conditions=Conditions(lateral=1.08),
                   **args)  # fmt: skip
    assert np.all(wider["ell"] > base["ell"] - 1e-12)
    assert np.mean(wider["Reta"]) < np.mean(base["Reta"])
    assert np.mean(wider["e_raw"] / e) < np.mean(base["e_raw"] / e)


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf")])
def test_bad_strength(bad):
    with pytest.raises(ConfigError, match="mismodelling"):
        Conditions.for_kind("data", bad)
    with pytest.raises(ConfigError, match="kind"):
        Conditions.for_kind("truth", 1.0)


def test_zee_at_zero_strength_matches_mc():
    mc = _flat(simulate_zee(5000, kind="mc", rng=np.random.default_rng(61637)), "AnalysisElectrons")
    data = _flat(simulate_zee(5000, kind="data", mismodelling=0.0, rng=np.random.default_rng(72719)),
                 "AnalysisElectrons")  # fmt: skip
    for name in ("resp", "Reta", "weta2", "f1", "E0"):
        assert stats.ks_2samp(mc[name], data[name]).pvalue > 1e-3, name

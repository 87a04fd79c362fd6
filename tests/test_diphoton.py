"""The diphoton toy: processes, ttH preselection, filter efficiencies and yields."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from scipy import stats

from decorr_af.data import simulate_diphoton
from decorr_af.data.diphoton import (
    CROSS_SECTIONS_FB,
    FILTER_EFFICIENCY,
    MC_FRACTIONS,
    PROCESSES,
    expected_yield,
    filter_efficiency,
    tth_preselection,
)
from decorr_af.data.schema import DIPHOTON_CHANNELS
from decorr_af.errors import ConfigError


@pytest.fixture(scope="module")
def mc():
    return simulate_diphoton(8000, rng=np.random.default_rng(55017))


def _columns(ev):
    ph = ev["AnalysisPhotons"]
    p1, p2 = ph[:, 0], ph[:, 1]
    myy = ak.to_numpy(
        np.sqrt(2 * p1.pt * p2.pt * (np.cosh(p1.eta - p2.eta) - np.cos(p1.phi - p2.phi)))
    )
    jets = ev["AnalysisJets"]
    central = abs(jets.eta) < 2.5
    return {
        "myy": myy / 1e3,
        "pt1": ak.to_numpy(p1.pt) / 1e3,
        "pt2": ak.to_numpy(p2.pt) / 1e3,
        "n_jets": ak.to_numpy(ak.sum(central, axis=1)),
        "n_b": ak.to_numpy(ak.sum(central & (jets.isBTagged > 0), axis=1)),
        "ht": ak.to_numpy(ak.sum(jets.pt, axis=1)) / 1e3,
        "n_lep": ak.to_numpy(ak.num(ev["AnalysisElectrons"]) + ak.num(ev["AnalysisMuons"])),
        "channel": np.asarray(ev["EventInfo"]["mcChannelNumber"]),
    }


def test_selection_and_preselection(mc):
    c = _columns(mc)
    assert ak.all(ak.num(mc["AnalysisPhotons"]) == 2)
    assert np.all((c["myy"] > 105) & (c["myy"] < 160))
    assert np.all(c["pt1"] / c["myy"] > 0.35)
    assert np.all(c["pt2"] / c["myy"] > 0.25)
    assert np.all(tth_preselection(c["n_jets"], c["n_b"], c["n_lep"]))


def test_process_mixture_and_shapes(mc):
    c = _columns(mc)
    n = len(c["channel"])
    for name, frac in MC_FRACTIONS.items():
        got = np.mean(c["channel"] == DIPHOTON_CHANNELS[name])
        assert got == pytest.approx(frac, abs=4 * np.sqrt(frac * (1 - frac) / n))
    sig = c["channel"] == DIPHOTON_CHANNELS["ttH_yy"]
    q25, q50, q75 = np.percentile(c["myy"][sig], [25, 50, 75])
    assert abs(q50 - 125) < 0.5
    assert 1.3 < (q75 - q25) / 1.349 < 2.5
    for name in ("ttyy", "yy_continuum", "gamma_jet"):
        sel = c["channel"] == DIPHOTON_CHANNELS[name]
        counts, _ = np.histogram(c["myy"][sel], bins=4, range=(105, 160))
        assert np.all(np.diff(counts) < 0), name  # falling continua
    # the continua's jet activity grows with m_yy (the sculpting source) ...
    cont = c["channel"] == DIPHOTON_CHANNELS["yy_continuum"]
    assert stats.spearmanr(c["myy"][cont], c["ht"][cont]).statistic > 0.05
    # ... the ttyy jets come from the top quarks and do not
    tty = c["channel"] == DIPHOTON_CHANNELS["ttyy"]
    assert abs(stats.spearmanr(c["myy"][tty], c["ht"][tty]).statistic) < 0.08
    # ttyy has the signal's tt̄ objects: jets and b-jets like ttH, unlike the continua
    assert abs(c["n_jets"][tty].mean() - c["n_jets"][sig].mean()) < 0.3
    assert c["n_b"][tty].mean() > c["n_b"][cont].mean() + 0.3


def test_gamma_jet_has_one_fake(mc):
    ph = mc["AnalysisPhotons"]
    ch = np.asarray(mc["EventInfo"]["mcChannelNumber"])
    prompt = ak.to_numpy(ak.sum(ph.truthType == 14, axis=1))
    assert np.all(prompt[ch == DIPHOTON_CHANNELS["gamma_jet"]] == 1)
    assert np.all(prompt[ch != DIPHOTON_CHANNELS["gamma_jet"]] == 2)
    # the fake candidate is less isolated than the prompt photons
    iso = ak.to_numpy(ak.flatten(ph.topoetcone20)) / 1e3
    fake = ak.to_numpy(ak.flatten(ph.truthType != 14))
    assert np.median(iso[fake]) > np.median(iso[~fake]) + 1.0


@pytest.mark.parametrize("process", list(PROCESSES))
def test_filter_efficiency_constants(process):
    """The tabulated ε agree with a fresh measurement (seed 7719) within 4σ."""
    events = 60_000 if FILTER_EFFICIENCY[process] > 0.05 else 600_000
    eff, err = filter_efficiency(process, events=events, seed=7719)
    assert eff == pytest.approx(FILTER_EFFICIENCY[process], abs=4 * err)


def test_yields_are_physical():
    assert CROSS_SECTIONS_FB["ttH_yy"] == pytest.approx(507 * 2.27e-3, rel=0.01)
    s = expected_yield("ttH_yy", 140.0)
    assert 0.3 * 161 < s < 161  # ttH(yy) 1.15 fb x 140 fb-1 x acceptance
    b = sum(expected_yield(p, 140.0) for p in ("ttyy", "yy_continuum", "gamma_jet"))
    # continuum density at 125 GeV of the falling spectrum: a few hundred / GeV
    # before any classifier cut (a ttH category after the cut: tens / GeV)
    assert 50 < b / 55.0 < 1000
    with pytest.raises(ConfigError, match="luminosity_fb"):
        expected_yield("ttH_yy", 0.0)
    with pytest.raises(ConfigError, match="unknown diphoton process"):
        expected_yield("Zee", 140.0)


def test_fractions_option_and_data():
    rng = np.random.default_rng(3301)
    only_sig = simulate_diphoton(200, rng=rng, fractions={"ttH_yy": 1.0})
    assert np.all(only_sig["EventInfo"]["mcChannelNumber"] == DIPHOTON_CHANNELS["ttH_yy"])
    data = simulate_diphoton(300, kind="data", rng=rng)
    assert np.all(data["EventInfo"]["mcChannelNumber"] == 0)
    fields = set(data["AnalysisPhotons"].fields)
    assert not fields & {"truthType", "truthOrigin", "truth_e"}
    assert np.all(ak.to_numpy(ak.flatten(data["EventInfo"]["mcEventWeights"])) == 1)


@pytest.mark.parametrize(
    "fractions", [{"ttH": 1.0}, {"ttH_yy": -1.0, "ttyy": 2.0}, {"ttH_yy": 0.0}]
)
def test_bad_fractions(fractions):
    with pytest.raises(ConfigError, match="'fractions'"):
        simulate_diphoton(10, rng=np.random.default_rng(0), fractions=fractions)

"""ttH(γγ) workflow: m_γγ fits and an end-to-end run with DisCo and adversary."""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.data.diphoton import expected_yield
from decorr_af.data.schema import DIPHOTON_CHANNELS
from decorr_af.errors import ConfigError
from decorr_af.workflows import myyfit as fit
from decorr_af.workflows import tth
from decorr_af.workflows.base import RunResult

pytest.importorskip("torch")
pytest.importorskip("iminuit")

MODELS = ("plain_mlp", "disco_mlp", "adv_mlp", "plain_bdt", "disco_bdt")


@pytest.fixture(scope="module")
def tth_result(sample_dir, tmp_path_factory):
    pytest.importorskip("xgboost")
    cfg = tth.Config(
        diphoton_files=(str(sample_dir / "diphoton_mc" / "*.root"),),
        models=MODELS,
        hidden=(32, 32),
        epochs=10,
        batch_size=256,
        lr=3e-3,
        n_estimators=40,
        max_depth=3,
        device="cpu",
        adversary_scale=3.0,
        myy_bins=22,
        measurement=False,
    )
    out = tmp_path_factory.mktemp("tth") / "result"
    return tth.run(cfg, strength=10.0, seed=6, out=out), out


def _hist(x, edges, w=None):
    w = np.ones(len(x)) if w is None else w
    return np.stack(
        [np.histogram(x, edges, weights=w)[0], np.histogram(x, edges, weights=w * w)[0]], -1
    )


@pytest.mark.parametrize("shape", ["gauss", "dscb"])
def test_fits_recover_truth(shape):
    rng = np.random.default_rng(2024)
    edges = np.linspace(105, 160, 56)
    b = 105 + rng.exponential(25.0, 60000)
    b = b[b < 160]
    s = rng.normal(125.0, 1.7, 1500)
    sig = fit.fit_signal(_hist(s, edges, np.full(s.size, 0.5)), edges, shape=shape)
    assert sig["params"]["mean"] == pytest.approx(125.0, abs=0.2)
    assert sig["params"]["sigma"] == pytest.approx(1.7, rel=0.1)
    assert sig["yield"] == pytest.approx(750.0, rel=0.02)
    bkg = fit.fit_background(_hist(b, edges), edges)
    assert bkg["slope"] == pytest.approx(-1 / 25.0, rel=0.05)
    assert bkg["chi2ndf"] < 2.0
    spur = fit.fit_splusb(_hist(b, edges), edges, shape=shape, signal_params=sig["params"])
    assert abs(spur["ns"]) < 3 * spur["ns_err"]
    both = fit.fit_splusb(
        _hist(np.r_[s, b], edges), edges, shape=shape, signal_params=sig["params"]
    )
    assert both["ns"] == pytest.approx(1500, abs=3 * both["ns_err"])


def test_sculpted_background_is_badly_fitted():
    rng = np.random.default_rng(99)
    edges = np.linspace(105, 160, 56)
    b = 105 + rng.exponential(25.0, 200000)
    b = b[b < 160]
    keep = rng.uniform(size=b.size) < np.exp(-(((b - 128) / 8) ** 2))  # peaked selection
    flat = fit.fit_background(_hist(b, edges), edges)
    sculpted = fit.fit_background(_hist(b[keep], edges), edges)
    assert sculpted["chi2ndf"] > 5 * flat["chi2ndf"]


def test_splusb_fit_of_sparse_weighted_background():
    """Regression: a selected background of few, heavy MC events (from a tth run).

    The S+B fit used to stop where a negative ``ns`` made a bin's expectation
    negative, at ns = -17 with a HESSE error of 1e-4 (spurious_over_err -1e5).
    """
    edges = np.linspace(105, 160, 23)
    v = [39.0, 9.9, 57.7, 39.8, 14.9, 31.5, 6.7, 21.4, 33.0, 25.2, 2.9]
    v += [21.3, 11.6, 3.3, 3.0, 13.7, 11.4, 2.5, 3.5, 1.5, 1.3, 20.1]
    e = [19.6, 1.7, 26.7, 19.8, 10.9, 15.1, 1.4, 16.3, 19.7, 16.4, 1.0]
    e += [13.2, 8.5, 1.0, 0.9, 11.0, 9.6, 0.8, 1.2, 0.7, 0.7, 13.1]
    h = np.stack([np.array(v), np.array(e) ** 2], -1)
    params = {"mean": 124.78, "sigma": 2.03}
    res = fit.fit_splusb(h, edges, shape="gauss", signal_params=params)
    assert res["valid"]
    assert 3.0 < res["ns_err"] < 30.0  # ~ the MC error of ~6 bins of weight ~10
    assert abs(res["ns"]) < 2.5 * res["ns_err"]


def test_asimov_significance():
    assert fit.asimov_significance(0.0, 10.0) == 0.0
    assert fit.asimov_significance(5.0, 1e6) == pytest.approx(5.0 / 1e3, rel=1e-3)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"features": ["myy", "n_jets"]}, "must not contain m_yy"),
        ({"features": ["pt_yy", "pt_yy_over_myy"]}, "must not contain m_yy"),
        ({"signal_shape": "box"}, "'signal_shape'"),
        ({"myy_range": [160, 105]}, "'myy_range'"),
        ({"models": ["cutbased"]}, "parameter 'models'"),
    ],
)
def test_config_validation(changes, match):
    with pytest.raises(ConfigError, match=match):
        tth.Config.from_dict(changes)


def test_end_to_end(tth_result):
    res, _ = tth_result
    m = res.metrics
    for name in MODELS:
        for key in ("auc", "r50", "inv_jsd", "dcor", "significance", "bkg_chi2ndf"):
            assert np.isfinite(m[f"{name}.{key}"]), f"{name}.{key}"
    assert m["plain_mlp.auc"] > 0.8
    assert m["plain_mlp.significance"] > m["inclusive.significance"]
    # decorrelation: the score depends less on m_yy on the background
    for plain, deco in (("plain_mlp", "disco_mlp"), ("plain_bdt", "disco_bdt")):
        assert m[f"{deco}.dcor"] < m[f"{plain}.dcor"], deco
    assert set(res.info["fits"]) == {*MODELS, "inclusive"}


def test_yields_are_those_of_a_tth_category(tth_result):
    """Test weights sum to σ·ε·L per process; the selected background is tens / GeV."""
    res, _ = tth_result
    w, ch = res.arrays["weight"], res.arrays["channel"]
    for process, number in DIPHOTON_CHANNELS.items():
        assert w[ch == number].sum() == pytest.approx(expected_yield(process, 140.0), rel=1e-9)
    m = res.metrics
    assert 50 < m["inclusive.bkg_per_gev"] < 1000
    for name in MODELS:
        assert m[f"{name}.bkg_per_gev"] < 60, name
    # expected ttH signal after the 50 % working point
    assert m["plain_mlp.fit_s"] < 0.6 * expected_yield("ttH_yy", 140.0)


def test_spurious_signal_of_decorrelated_model(tth_result):
    """Spurious signal of DisCo: compatible with zero and within a few tens of % of S."""
    m = tth_result[0].metrics
    err = m["disco_mlp.spurious_rel_err"]
    assert np.isfinite(err)
    # at this MC size (1k continuum MC events, weights ~12) the MC error dominates
    assert abs(m["disco_mlp.spurious_rel"]) < 0.3 + 2.5 * err


def test_normalise_weights_rejects_unknown_channels():
    with pytest.raises(ConfigError, match="mcChannelNumber"):
        tth.normalise_weights(np.ones(2), np.array([346525, 123]), 140.0)


def test_result_reloads(tth_result):
    res, out = tth_result
    back = RunResult.load(out)
    assert back.metrics == pytest.approx(res.metrics, nan_ok=True)
    assert back.hists["myy"] == res.hists["myy"]
    assert back.info["fits"]["disco_mlp"]["shape"] == "gauss"
    assert tth.Config.from_dict(back.config).models == MODELS

"""ttH(γγ) measurement from classifier scores: categories, fits, κ_t, the tth hook."""

from __future__ import annotations

import json

import numpy as np
import pytest

from decorr_af.errors import ConfigError
from decorr_af.workflows import tth_measure as tm

pytest.importorskip("pyhf")

YIELDS = {1: 80.0, 2: 6000.0, 3: 160.0}  # ttH, γγ continuum, ttγγ (events)


def _toy(n: int = 24000, *, sculpt: float = 0.0, seed: int = 11):
    """Synthetic test set: scores, labels, σ·ε·L weights, m_γγ and channels."""
    rng = np.random.default_rng(seed)
    channel = rng.choice([1, 2, 3], n, p=[0.3, 0.5, 0.2])
    y = (channel == 1).astype(int)
    myy = np.where(y == 1, rng.normal(125.0, 1.7, n), 105.0 + rng.exponential(30.0, n))
    keep = (myy > 105) & (myy < 160)
    channel, y, myy = channel[keep], y[keep], myy[keep]
    score = np.where(y == 1, rng.beta(5, 2, len(y)), rng.beta(2, 4, len(y)))
    score = np.clip(score + sculpt * (y == 0) * (myy - 125.0) / 55.0, 0, 1)
    w = np.empty(len(y))
    for c, total in YIELDS.items():
        w[channel == c] = total / np.sum(channel == c)
    return score, y, w, myy, channel


@pytest.fixture(scope="module")
def measured():
    return tm.measure(*_toy(), seed=3)


@pytest.mark.slow
def test_boundaries_are_chosen_on_the_validation_half_only():
    score, y, w, myy, channel = _toy()
    val, meas = tm._split(len(score), 0.5, seed=3)
    assert len(np.intersect1d(val, meas)) == 0
    assert len(val) + len(meas) == len(score)
    w_val = tm._rescale(w, channel, val)
    for c, total in YIELDS.items():
        assert w_val[channel[val] == c].sum() == pytest.approx(total)
    cuts, _ = tm.choose_boundaries(score[val], y[val], w_val, myy[val], n_categories=3)
    # scrambling the measurement half leaves the boundaries unchanged
    score2 = score.copy()
    score2[meas] = np.random.default_rng(0).permutation(score[meas])
    _, summary = tm.measure(score2, y, w, myy, channel, seed=3)
    assert summary["boundaries"] == cuts


def test_measurement_metrics(measured):
    metrics, summary = measured
    assert set(metrics) == set(tm.METRICS)
    assert summary["valid"]
    assert metrics["n_categories"] == 3
    assert metrics["expected_significance"] > 0
    assert 0 < metrics["mu_uncertainty"] < 5
    assert metrics["kappa_t_lo95"] <= metrics["kappa_t_lo"] < 1 < metrics["kappa_t_hi"]
    assert metrics["kappa_t_hi"] <= metrics["kappa_t_hi95"]
    lo, hi = summary["mu_interval"]
    assert metrics["mu_uncertainty"] == pytest.approx(0.5 * (hi - lo))
    cats = summary["categories"]
    # the most signal-like category is the purest
    purity = [c["signal_yield"] / c["background_yield"] for c in cats]
    assert purity[-1] > purity[0]
    assert all(len(c["data"]) == len(summary["edges"]) - 1 for c in cats)
    assert "placeholder" in summary["resonant_note"]
    json.dumps(summary)  # JSON-able


@pytest.mark.slow
def test_sculpted_background_costs_spurious_signal(measured):
    flat, _ = measured
    sculpted, _ = tm.measure(*_toy(sculpt=0.6), seed=3)
    assert sculpted["measure_spurious_signal"] > flat["measure_spurious_signal"]


def test_too_few_events_give_nan_with_a_note():
    score, y, w, myy, channel = _toy(300)
    metrics, summary = tm.measure(score, y, w, myy, channel, seed=1)
    assert np.isnan(metrics["expected_significance"])
    assert not summary["valid"]
    assert "MC events" in summary["note"]


@pytest.mark.parametrize("bad", [1, 5, 2.5])
def test_n_categories_is_checked(bad):
    with pytest.raises(ConfigError, match="n_categories"):
        tm.Settings(n_categories=bad)


@pytest.mark.slow
def test_tth_run_reports_measurement_metrics(sample_dir, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("iminuit")
    from decorr_af.workflows import tth

    with pytest.raises(ConfigError, match="n_categories"):
        tth.Config(n_categories=7).validate()
    cfg = tth.Config(
        diphoton_files=(str(sample_dir / "diphoton_mc" / "*.root"),),
        models=("disco_mlp",),
        hidden=(16, 16),
        epochs=3,
        device="cpu",
        myy_bins=22,
        measurement=True,
        n_categories=2,
    )
    res = tth.run(cfg, strength=10.0, seed=8, out=tmp_path / "res")
    for key in ("expected_significance", "mu_uncertainty", "kappa_t_lo", "kappa_t_hi"):
        assert f"disco_mlp.{key}" in res.metrics
    assert res.metrics["disco_mlp.n_categories"] == 2
    # the summary is saved with the result and reloads (the plots read it back)
    from decorr_af.workflows.base import RunResult

    back = RunResult.load(tmp_path / "res")
    assert back.info["fits"]["disco_mlp.measurement"] == res.info["fits"]["disco_mlp.measurement"]
    assert back.metrics["disco_mlp.mu_uncertainty"] == res.metrics["disco_mlp.mu_uncertainty"]


def test_measurement_plots(measured, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("agg")
    from decorr_af.plot import measurement as pm
    from decorr_af.workflows.base import RunResult

    metrics, summary = measured
    score, y, w, _, _ = _toy()
    results = [
        RunResult(
            workflow="tth",
            config={},
            seed=0,
            strength=lam,
            metrics={f"toy.{k}": v * (1 + lam / 100) for k, v in metrics.items()},
            arrays={"score_toy": score, "label": y, "weight": w},
            info={"fits": {"toy.measurement": summary}},
        )
        for lam in (0.0, 10.0, 100.0)
    ]
    ax = pm.plot_categories(results[0], "toy")
    assert len(ax.lines) >= len(summary["boundaries"])
    axes = pm.plot_category_fits(results[0], "toy")
    assert len(axes) == len(summary["categories"])
    ax = pm.plot_kappa_t_scan(results[0], "toy")
    assert ax.get_xlabel().startswith(r"$\kappa_t$")
    ax = pm.plot_metric_vs_strength(results, model="toy", metric="mu_uncertainty")
    assert ax.get_xscale() == "symlog"
    with pytest.raises(ConfigError, match="measurement=True"):
        pm.plot_kappa_t_scan(results[0], "other")
    edges = np.array([0.0, 60.0, 120.0, np.inf])
    ax = pm.plot_unfolded(
        edges, {"truth": [3, 2, 1], "ibu": [3, 2, 1]}, reference="truth", errors=[1, 1, 1]
    )
    assert ax.get_legend() is not None

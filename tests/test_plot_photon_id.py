"""Plots of the photon-ID and ttH(γγ) workflows on small synthetic results."""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.errors import ConfigError
from decorr_af.workflows import photon_id, tth
from decorr_af.workflows.base import RunResult

pytest.importorskip("mplhep")
plt = pytest.importorskip("matplotlib.pyplot")


def _pid_result(tmp_path) -> RunResult:
    """A photon_id-shaped result built from a toy score model (no training)."""
    rng = np.random.default_rng(31)
    n = 4000
    label = (rng.uniform(size=n) < 0.5).astype(int)
    iso = np.where(label == 1, rng.gamma(2, 0.4, n), rng.gamma(2, 2.0, n))
    mu = rng.uniform(20, 80, n)
    w = np.ones(n)
    arrays = {"label": label, "isolation": iso, "mu": mu, "weight": w}
    metrics, passed = {}, {}
    for name, slope in (("plain_mlp", 0.6), ("disco_mlp", 0.0)):
        score = label + rng.normal(0, 0.7, n) - slope * np.where(label == 0, iso, 0) / 4
        arrays[f"{name}.score"] = score
        thr = np.quantile(score[label == 1], 0.15)
        passed[name] = score >= thr
        metrics[f"{name}.wp_eff"] = passed[name][label == 1].mean()
        metrics[f"{name}.wp_rej"] = 1 / passed[name][label == 0].mean()
        metrics[f"{name}.abcd_nonclosure"] = 0.1
        metrics[f"{name}.abcd_nonclosure_err"] = 0.05
        metrics[f"{name}.r_bkg"] = 1.1 + slope
        metrics[f"{name}.r_bkg_err"] = 0.05
        metrics[f"{name}.inv_jsd"] = 20.0 / (1 + 4 * slope)
        metrics[f"{name}.inv_jsd_ceiling"] = 25.0
        metrics[f"{name}.inv_jsd_ceiling_lo"] = 19.0
        metrics[f"{name}.inv_jsd_ceiling_hi"] = 33.0
    res = RunResult(
        workflow="photon_id",
        config={},
        seed=0,
        metrics=metrics,
        arrays=arrays,
        hists=photon_id._hists(["plain_mlp", "disco_mlp"], arrays, passed),
    )
    res.save(tmp_path / "pid")
    return res


def test_photon_id_plots(tmp_path):
    from decorr_af.metrics import roc_curve
    from decorr_af.plot import photon_id as P

    res = _pid_result(tmp_path)
    roc = P.plot_roc(tmp_path / "pid")  # from the saved directory
    assert set(roc.curves) == {"plain_mlp", "disco_mlp"}
    assert roc.ax.get_yscale() == "log"
    # the curve is the weighted ROC of the saved scores; the marker the working point
    eff_b, eff_s, _ = roc_curve(res.arrays["label"], res.array("plain_mlp", "score"),
                                res.arrays["weight"])  # fmt: skip
    keep = (eff_b > 0) & (eff_s >= 0.3)
    np.testing.assert_allclose(roc.curves["plain_mlp"].get_xdata(), eff_s[keep])
    np.testing.assert_allclose(roc.curves["plain_mlp"].get_ydata(), 1 / eff_b[keep])
    wp = roc.working_points["disco_mlp"]
    assert (wp.get_xdata()[0], wp.get_ydata()[0]) == pytest.approx(
        (res.metric("disco_mlp", "wp_eff"), res.metric("disco_mlp", "wp_rej"))
    )
    iso = P.plot_isolation_pass_fail(res, "plain_mlp")
    h = res.hists["id_vs_iso"]
    vp = h[{"model": "plain_mlp", "prompt": 0, "passed": 1}].values()
    vf = h[{"model": "plain_mlp", "prompt": 0, "passed": 0}].values()
    with np.errstate(divide="ignore", invalid="ignore"):
        want = (vp / vp.sum()) / (vf / vf.sum())
    got = iso.ratio.lines[0].get_ydata()
    ok = np.isfinite(want) & (vf > 0)
    np.testing.assert_allclose(np.asarray(got, float)[ok], want[ok])
    # the plain MLP selects isolated fakes: the ratio falls with isolation
    assert want[ok][:5].mean() > 1.5 * want[ok][-5:].mean()
    _fig, ax = plt.subplots()
    eff = P.plot_efficiency_vs_isolation(res, ax=ax)
    assert eff.ax is ax
    assert set(eff.curves) == {"plain_mlp", "disco_mlp"}
    y = eff.curves["disco_mlp"].lines[0].get_ydata()
    hp = h[{"model": "disco_mlp", "prompt": 0, "passed": 1}].values()
    hf = h[{"model": "disco_mlp", "prompt": 0, "passed": 0}].values()
    with np.errstate(divide="ignore", invalid="ignore"):
        want = hp / (hp + hf)
    ok = np.isfinite(want)
    np.testing.assert_allclose(np.asarray(y, float)[ok], want[ok])
    mu = P.plot_efficiency_vs_mu(res, models="disco_mlp")
    hm = res.hists["id_vs_mu"]
    p1 = hm[{"model": "disco_mlp", "prompt": 1, "passed": 1}].values()
    p0 = hm[{"model": "disco_mlp", "prompt": 1, "passed": 0}].values()
    np.testing.assert_allclose(mu.curves["disco_mlp"].lines[0].get_ydata(), p1 / (p1 + p0))
    with pytest.raises(ConfigError, match="not in the result"):
        P.plot_roc(res, models=["adv_mlp"])
    with pytest.raises(ConfigError, match="truth"):
        P.plot_efficiency_vs_mu(res, truth="muon")
    plt.close("all")


def _tth_result(strength: float, seed: int) -> RunResult:
    rng = np.random.default_rng(seed)
    edges = np.linspace(105, 160, 23)
    nb, ns = 20000, 600
    myy = np.r_[105 + rng.exponential(30, nb), rng.normal(125, 1.8, ns)]
    label = np.r_[np.zeros(nb, int), np.ones(ns, int)]
    keep = myy < 160
    myy, label = myy[keep], label[keep]
    w = np.full(myy.size, 0.5)
    score = label + rng.normal(0, 0.8, myy.size)
    passed = score >= np.quantile(score[label == 1], 0.5)
    arrays = {"label": label, "myy": myy, "weight": w, "plain_mlp.score": score}
    m, summary = tth.myy_fits(myy, label, w, passed, edges=edges)
    metrics = {f"plain_mlp.{k}": v for k, v in m.items()}
    metrics["disco_mlp.significance"] = m["significance"] * (1 - 0.01 * strength)
    return RunResult(
        workflow="tth",
        config={},
        seed=seed,
        strength=strength,
        metrics=metrics,
        arrays=arrays,
        hists={"myy": tth._hist_myy(["plain_mlp"], arrays, {"plain_mlp": passed}, edges)},
        info={"fits": {"plain_mlp": summary}},
    )


def test_tth_plots(tmp_path):
    pytest.importorskip("iminuit")
    from decorr_af.plot import tth as P

    res = _tth_result(0.0, 1)
    bkg = P.plot_background_myy(res, "plain_mlp")
    assert bkg.inclusive is not None
    # ratio panel: selected / inclusive background shapes, both normalised
    h = res.hists["myy"]
    sel = h[{"model": "plain_mlp", "signal": 0, "passed": 1}].values()
    inc = h[{"model": "plain_mlp", "signal": 0, "passed": sum}].values()
    np.testing.assert_allclose(
        bkg.ratio.lines[0].get_ydata(), (sel / sel.sum()) / (inc / inc.sum())
    )
    fit = P.plot_myy_fit(res, "plain_mlp")
    assert len(fit.window) == 2
    # the S+B curve (events / GeV) integrates to the selected yield
    x, yv = fit.total.get_data()
    f = res.info["fits"]["plain_mlp"]
    assert np.trapezoid(yv, x) == pytest.approx(f["ns"] + f["nb"], rel=0.02)
    assert fit.ax.get_ylabel().startswith("Events / GeV")
    results = [_tth_result(lam, s) for lam in (0.0, 5.0, 20.0) for s in (1, 2)]
    sig = P.plot_significance_vs_strength(results)
    xs = sig.curve.lines[0].get_xdata()
    assert list(xs) == [0.0, 5.0, 20.0]
    want = [np.mean([r.metric("disco_mlp", "significance") for r in results if r.strength == lam])
            for lam in (0.0, 5.0, 20.0)]  # fmt: skip
    np.testing.assert_allclose(sig.curve.lines[0].get_ydata(), want)
    ref = [r.metric("plain_mlp", "significance") for r in results]
    assert sig.references["plain_mlp"][0].get_ydata()[0] == pytest.approx(np.mean(ref))
    with pytest.raises(ConfigError, match="no result has the metric"):
        P.plot_significance_vs_strength(results, model="adv_mlp")
    with pytest.raises(ConfigError, match="not in the result"):
        P.plot_myy_fit(res, "disco_bdt")
    plt.close("all")


def test_lazy_plot_exports():
    import decorr_af.plot as plot

    assert callable(plot.plot_roc)
    assert callable(plot.atlas_label)
    with pytest.raises(AttributeError):
        plot.nope


def test_inv_jsd_ceiling_and_abcd_plots(tmp_path):
    from decorr_af.plot import photon_id as P
    from decorr_af.plot.check import check_figure

    res = _pid_result(tmp_path)
    art = P.plot_inv_jsd(res)
    assert set(art.points) == {"plain_mlp", "disco_mlp"}
    assert set(art.ceilings) == {"plain_mlp", "disco_mlp"}
    # the ceiling line sits at the metric, the band spans the random-cut quantiles
    assert art.ceilings["disco_mlp"].get_ydata()[0] == 25.0
    ylo, yhi = art.bands["disco_mlp"].get_paths()[0].get_extents().intervaly
    assert (ylo, yhi) == pytest.approx((19.0, 33.0))
    assert art.points["plain_mlp"].get_ydata()[0] == pytest.approx(20.0 / 3.4)
    check = check_figure(art.ax.figure)
    assert check.ok, check.problems
    ab = P.plot_abcd_closure(res, models=["disco_mlp", "plain_mlp"])
    assert ab.unity.get_ydata()[0] == 1.0
    np.testing.assert_allclose(ab.points.lines[0].get_ydata(), [1.1, 1.7])
    check = check_figure(ab.ax.figure)
    assert check.ok, check.problems
    del res.metrics["plain_mlp.r_bkg"], res.metrics["disco_mlp.r_bkg"]
    with pytest.raises(ConfigError, match="r_bkg"):
        P.plot_abcd_closure(res)
    plt.close("all")

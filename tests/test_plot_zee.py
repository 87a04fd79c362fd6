"""Z→ee m_ee data/MC figure with ratio panel (``decorr_af.plot.zee``)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from decorr_af.errors import ConfigError
from decorr_af.workflows.base import RunResult


def _result(seed: int = 20260, *, metrics: dict | None = None) -> RunResult:
    """m_ee of data (shifted peak, wider) and MC for ``raw`` and one model."""
    import hist

    rng = np.random.default_rng(seed)
    h = hist.Hist(
        hist.axis.StrCategory(["raw", "shapes_mlp"], name="model"),
        hist.axis.StrCategory(["mc", "data"], name="dataset"),
        hist.axis.Regular(60, 70, 110, name="mee"),
        storage=hist.storage.Weight(),
    )
    for model in ("raw", "shapes_mlp"):
        h.fill(model=model, dataset="mc", mee=rng.normal(91.2, 2.4, 8000))
        h.fill(model=model, dataset="data", mee=rng.normal(90.5, 2.8, 3000))
    return RunResult("calibration", {}, seed=0, hists={"mee": h}, metrics=metrics or {})


def test_ratio_is_data_over_mc_normalised_to_data():
    from decorr_af.plot import check_figure
    from decorr_af.plot.zee import MIN_EXPECTED, plot_mee_data_mc

    res = _result(metrics={"shapes_mlp.alpha": -0.0071, "shapes_mlp.alpha_err": 0.0012,
                           "shapes_mlp.cprime": 0.011, "shapes_mlp.cprime_err": 0.004})  # fmt: skip
    art = plot_mee_data_mc(res, model="shapes_mlp")
    h = res.hists["mee"]
    vd = h[{"model": "shapes_mlp", "dataset": "data"}].values()
    vm = h[{"model": "shapes_mlp", "dataset": "mc"}].values()
    expected = vm * vd.sum() / vm.sum()
    ok = (vd > 0) & (expected >= MIN_EXPECTED)
    x = np.asarray(art.ratio.lines[0].get_xdata(), dtype=float)
    y = np.asarray(art.ratio.lines[0].get_ydata(), dtype=float)
    centres = h.axes["mee"].centers
    assert np.allclose(x, centres[ok])  # no ratio point from a handful of expected pairs
    assert np.allclose(y, vd[ok] / expected[ok])
    assert ok.sum() >= 15
    # data peak below MC: the ratio is above 1 below the peak and below 1 above it
    assert np.mean(y[x < 88]) > 1 > np.mean(y[(x > 91) & (x < 94)])
    title = art.ax.get_legend().get_title().get_text()
    assert "-0.0071" in title
    assert "0.0110" in title
    check = check_figure(art.ax.figure)
    assert check.ok, str(check)


def test_no_fit_summary_without_metrics_and_clear_errors():
    from decorr_af.plot.zee import plot_mee_data_mc

    art = plot_mee_data_mc(_result(), model="raw")
    assert art.ax.get_legend().get_title().get_text() == ""
    with pytest.raises(ConfigError, match=r"'model': 'nope' not in the Z->ee result"):
        plot_mee_data_mc(_result(), model="nope")
    with pytest.raises(ConfigError, match=r"hists\['mee'\]"):
        plot_mee_data_mc(RunResult("calibration", {}, seed=0), model="raw")

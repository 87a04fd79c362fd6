"""DiscoScanner on real λ scans of ttH(γγ) and the calibration, and on a legacy result.

Each scan is run with :func:`decorr_af.scan.scan` (2 λ values, tiny models) on the
session's Dask cluster; the scanner is opened on it, the slider moved, and the
*drawn content* checked against the results: the metrics shown, the plotted
normalised shapes of the protected variable and their ratio, the performance
curve (ROC or MC response) and the starred point of the Pareto plane.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

from decorr_af.workflows.base import RunResult

pytestmark = pytest.mark.slow  # end-to-end (real scans / real files): whole suite only

STRENGTHS = (0.0, 30.0)
LEGACY = Path(__file__).parent / "data" / "legacy_result"
SMALL = {"hidden": (8,), "epochs": 2, "batch_size": 256, "lr": 3e-3, "device": "cpu"}


def _shown(html_text: str) -> dict[str, float]:
    pattern = r'data-metric="([^"]+)"[^>]*><b>[^<]*</b> = ([-+0-9.eEnaif]+)</span>'
    return {k: float(v) for k, v in re.findall(pattern, html_text)}


@pytest.fixture(scope="module")
def tth_scan(sample_dir, dask_client, tmp_path_factory):
    from decorr_af.scan import scan
    from decorr_af.workflows import tth

    cfg = tth.Config(
        diphoton_files=(str(sample_dir / "diphoton_mc" / "*.root"),),
        models=("plain_mlp", "disco_mlp"),
        myy_bins=11,
        max_events=4000,
        min_fit_events=5,
        **SMALL,
    )
    out = tmp_path_factory.mktemp("tth_scan") / "scan"
    scan(tth, cfg, strengths=STRENGTHS, seeds=[1], client=dask_client, out=out, progress=False)
    return out


@pytest.fixture(scope="module")
def calibration_scan(sample_dir, dask_client, tmp_path_factory):
    from decorr_af.scan import scan
    from decorr_af.workflows import calibration

    cfg = calibration.Config(
        mc_files=(str(sample_dir / "photons_mc" / "*.root"),),
        data_files=(str(sample_dir / "photons_data" / "*.root"),),
        models=("shapes_mlp", "disco_mlp"),
        mlp={"hidden": [8], "loss": "huber", "epochs": 2, "batch_size": 256, "lr": 2e-3},
        max_events=3000,
        device="cpu",
    )
    out = tmp_path_factory.mktemp("calib_scan") / "scan"
    scan(calibration, cfg, strengths=STRENGTHS, seeds=[1], client=dask_client, out=out,
         progress=False)  # fmt: skip
    return out


def _protected_expectation(res: RunResult, model: str) -> dict[str, np.ndarray]:
    """Normalised shapes (per unit of the variable) of both selections, from the result."""
    h = res.hists["protected"]
    out = {}
    for sel in h.axes["selection"]:
        v = h[{"model": model, "selection": sel}].values()
        out[sel] = v / v.sum() / np.diff(h.axes[2].edges)
    return out


def _drawn_shapes(ax) -> list[np.ndarray]:
    from matplotlib.patches import StepPatch

    return [np.asarray(p.get_data().values) for p in ax.patches if isinstance(p, StepPatch)]


def _check_protected_panel(w, res, model, note):
    fig = w.sculpt.figure
    ax, rax = fig.axes[0], fig.axes[1]
    expected = _protected_expectation(res, model)
    drawn = _drawn_shapes(ax)
    assert len(drawn) == 2
    for shape, sel in zip(drawn, res.hists["protected"].axes["selection"]):
        assert np.allclose(shape, expected[sel], equal_nan=True)
    # ratio panel: pass / fail, or data / MC, where both are filled
    sel = list(res.hists["protected"].axes["selection"])
    num, den = ("data", "mc") if sel == ["mc", "data"] else ("pass", "fail")
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.where(expected[den] > 0, expected[num] / expected[den], np.nan)
    (points,) = list(rax.containers)
    got = np.asarray(points.lines[0].get_ydata(), float)
    ok = np.isfinite(want)
    assert ok.sum() >= 3
    assert np.allclose(got[ok], want[ok])
    title = ax.get_legend().get_title().get_text()
    assert note in title
    return expected


def _check_pictures(w):
    """Every panel passes the picture check (no overlapping text, no empty axes, no raw TeX)."""
    from decorr_af.plot import check_figure

    for name, panel in w._panels().items():
        check = check_figure(panel.figure)
        assert check.ok, f"panel {name}:\n{check}"


def _check_plane(w, scan, model, pid):
    ax = w.pareto.figure.axes[0]
    (star,) = [c for c in ax.collections if c.get_label() == "selected"]
    row = scan.table[scan.table["id"] == pid].iloc[0]
    want = [row[scan.column(model, w.x)], row[scan.column(model, w.y)]]
    assert np.allclose(star.get_offsets()[0], want)


def test_scanner_on_a_tth_scan(tth_scan):
    from decorr_af.metrics import roc_curve
    from decorr_af.scan import load_scan
    from decorr_af.widgets import DiscoScanner

    scan = load_scan(tth_scan)
    assert scan.models == ("plain_mlp", "disco_mlp")
    w = DiscoScanner(tth_scan, prerender=False)
    assert w.error.value == "", w.error.value
    assert (w.x, w.y, w.maximize) == ("r50", "inv_jsd", (True, True))
    assert w.model_dd.value == "disco_mlp"
    shapes = {}
    for lam in STRENGTHS:  # each point drawn once, in order: the panels' figures are fresh
        w.slider.value = lam
        assert w.error.value == "", w.error.value
        pid = scan.ids(strength=lam)[0]
        res = scan.result(pid)
        shown = _shown(w.metrics.value)
        for key in ("r50", "inv_jsd", "dcor", "auc"):
            assert shown[key] == pytest.approx(res.metric("disco_mlp", key), rel=1e-3)
        # performance: the DisCo MLP's ROC curve from its test scores
        ax = w.roc.figure.axes[0]
        (line,) = [ln for ln in ax.lines if ln.get_label().startswith("DisCo MLP")]
        score = res.array("disco_mlp", "score").astype(float)  # as plot_roc reads it
        eff_b, eff_s, _ = roc_curve(res.arrays["label"], score, res.arrays["weight"])
        keep = (eff_b > 0) & (eff_s >= 0.2)
        assert np.allclose(line.get_xdata(), eff_s[keep])
        assert np.allclose(line.get_ydata(), 1.0 / eff_b[keep])
        note = f"1/JSD = {res.metric('disco_mlp', 'inv_jsd'):.4g}"
        shapes[lam] = _check_protected_panel(w, res, "disco_mlp", note)
        assert w.sculpt.figure.axes[1].get_xlabel() == r"$m_{\gamma\gamma}$ [GeV]"
        _check_plane(w, scan, "disco_mlp", pid)
        _check_pictures(w)
    # the slider moved to another trained model: other background shapes
    assert not np.allclose(shapes[0.0]["pass"], shapes[30.0]["pass"])


def test_scanner_on_a_calibration_scan(calibration_scan):
    from decorr_af.scan import load_scan
    from decorr_af.widgets import DiscoScanner

    scan = load_scan(calibration_scan)
    w = DiscoScanner(calibration_scan, prerender=False)
    assert w.error.value == "", w.error.value
    # no Z→ee files: MC resolution against the MC/data KS of the predicted correction
    assert (w.x, w.y, w.maximize) == ("resolution_mc", "pred_ks", (False, False))
    assert w.model_dd.value == "disco_mlp"
    assert list(w.model_dd.options) == ["shapes_mlp", "disco_mlp"]
    for lam in STRENGTHS:  # each point drawn once, in order: the panels' figures are fresh
        w.slider.value = lam
        assert w.error.value == "", w.error.value
        pid = scan.ids(strength=lam)[0]
        res = scan.result(pid)
        shown = _shown(w.metrics.value)
        for key in ("resolution_mc", "response_mc", "pred_ks"):
            assert shown[key] == pytest.approx(res.metric("disco_mlp", key), rel=1e-3)
        assert "r50" not in shown
        # performance: MC E_pred/E_true of the model and of its reference (shapes_mlp)
        ax = w.roc.figure.axes[0]
        h = res.hists["ratio"]
        drawn = _drawn_shapes(ax)
        assert len(drawn) == 2
        for shape, m in zip(drawn, ("shapes_mlp", "disco_mlp")):
            v = h[{"model": m, "dataset": sum}].values()
            assert np.allclose(shape, v / v.sum() / np.diff(h.axes["ratio"].edges))
        note = f"KS(MC, data) = {res.metric('disco_mlp', 'pred_ks'):.3g}"
        _check_protected_panel(w, res, "disco_mlp", note)
        assert w.sculpt.figure.axes[1].get_ylabel() == "Data / MC"
        _check_plane(w, scan, "disco_mlp", pid)
        _check_pictures(w)
    w.model_dd.value = "shapes_mlp"  # a model without penalty: the same panels, its numbers
    assert w.error.value == "", w.error.value
    res = scan.result(scan.ids(strength=STRENGTHS[-1])[0])
    shown = _shown(w.metrics.value)
    assert shown["resolution_mc"] == pytest.approx(
        res.metric("shapes_mlp", "resolution_mc"), rel=1e-3
    )


def test_scanner_opens_a_scan_of_legacy_results(tmp_path):
    """A result saved before the vocabulary (score_<m>, pre-UHI hists, no 'protected')."""
    from decorr_af.widgets import DiscoScanner

    out = tmp_path / "scan"
    shutil.copytree(LEGACY, out / "points" / "p0000")
    points = [{"id": "p0000", "params": {"strength": 1.0}, "seed": 3}]
    (out / "scan.json").write_text(json.dumps({"workflow": "photon_id", "points": points}))
    w = DiscoScanner(out, prerender=False)
    assert w.error.value == "", w.error.value
    res = RunResult.load(out / "points" / "p0000")
    old = res.hists["id_vs_iso"]
    fig = w.sculpt.figure
    drawn = _drawn_shapes(fig.axes[0])
    for shape, passed in zip(drawn, (1, 0)):
        v = old[{"model": "disco_mlp", "prompt": 0, "passed": passed}].values()
        assert np.allclose(shape, v / v.sum() / np.diff(old.axes["iso"].edges))
    (line,) = [ln for ln in w.roc.figure.axes[0].lines if ln.get_label().startswith("DisCo")]
    assert len(line.get_xdata()) > 3

"""Widget logic: scanner, data/MC and resolution inspectors on small scan directories.

The scans are fabricated in the documented scan-directory format (RunResult.save
+ scan.json) with random but well-formed photon-ID / calibration content, so the
widgets are tested without training; values read back must equal the scan table.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

from decorr_af.workflows.base import RunResult

STRENGTHS = (0.0, 0.3, 3.0, 30.0)
ISO_EDGES = np.linspace(-4.0, 16.0, 41)


def _pid_hist(models, label, iso, passed, weight):
    import hist

    h = hist.Hist(
        hist.axis.StrCategory(models, name="model"),
        hist.axis.IntCategory([0, 1], name="prompt"),
        hist.axis.IntCategory([0, 1], name="passed"),
        hist.axis.Variable(ISO_EDGES, name="iso", label="topoetcone20 [GeV]"),
        storage=hist.storage.Weight(),
    )
    for m in models:
        h.fill(model=m, prompt=label, passed=passed[m].astype(int), iso=iso, weight=weight)
    return h


def make_photon_scan(out, *, strengths=STRENGTHS, seeds=(0,), n=2000, seed=8675):
    """A photon-ID-like scan: scores whose isolation dependence falls with λ."""
    out = Path(out)
    rng = np.random.default_rng(seed)
    points = []
    models = ["plain_mlp", "disco_mlp"]
    for i, (lam, s) in enumerate((lam, s) for lam in strengths for s in seeds):
        label = (rng.random(n) < 0.4).astype(np.int64)
        iso = rng.exponential(3.0, n) - 1.0 + 2.0 * (1 - label)
        weight = np.ones(n)
        arrays = {"label": label, "isolation": iso, "weight": weight, "mu": rng.uniform(20, 80, n)}
        metrics, passed = {}, {}
        for m in models:
            k = lam if m == "disco_mlp" else 0.0
            score = rng.normal(1.5 * label - 0.4 / (1 + k) * iso * (1 - label), 1.0)
            thr = float(np.quantile(score[label == 1], 0.15))
            passed[m] = score >= thr
            arrays[f"score_{m}"] = score.astype(np.float32)
            metrics[f"{m}.r50"] = float(rng.uniform(5, 60))
            metrics[f"{m}.inv_jsd"] = float(rng.uniform(2, 400))
            metrics[f"{m}.dcor"] = float(rng.uniform(0.001, 0.3))
            metrics[f"{m}.auc"] = float(rng.uniform(0.7, 0.95))
            metrics[f"{m}.wp_eff"] = 0.85
            metrics[f"{m}.wp_rej"] = float(rng.uniform(2, 6))
        pid = f"p{i:04d}"
        RunResult(
            "photon_id",
            {"wp_efficiency": 0.85},
            seed=s,
            strength=lam,
            metrics=metrics,
            arrays=arrays,
            hists={"id_vs_iso": _pid_hist(models, label, iso, passed, weight)},
        ).save(out / "points" / pid)
        points.append({"id": pid, "params": {"strength": lam}, "seed": s})
    (out / "scan.json").write_text(
        json.dumps({"workflow": "photon_id", "config": {}, "points": points})
    )
    return out


def make_calibration_result(out, *, strength=1.0, n=3000, seed=3141):
    """A calibration-like result: MC/data responses per model with |η|, pT and weights."""
    rng = np.random.default_rng(seed)
    arrays = {}
    metrics = {}
    for sample, shift in (("mc", 0.0), ("data", 0.01)):
        arrays[f"abs_eta_{sample}"] = rng.uniform(0, 2.37, n).astype(np.float32)
        arrays[f"pt_{sample}"] = (20 + rng.exponential(30, n)).astype(np.float32)
        arrays[f"weight_{sample}"] = np.ones(n, np.float32)
        for m, sigma in (("baseline_bdt", 0.05), ("disco_mlp", 0.03)):
            arrays[f"{m}.ratio_{sample}"] = rng.normal(1.0 + shift, sigma, n).astype(np.float32)
    for m in ("baseline_bdt", "disco_mlp"):
        metrics[f"{m}.resolution_mc"] = float(np.std(arrays[f"{m}.ratio_mc"]))
        metrics[f"{m}.data_mc_gap"] = 0.01
    config = {"eta_edges": [0.0, 0.6, 1.37, 1.52, 2.37], "pt_edges": [20.0, 40.0, 80.0, 1000.0]}
    res = RunResult(
        "calibration", config, seed=0, strength=strength, metrics=metrics, arrays=arrays
    )
    return res.save(out)


def metric_values(html_text: str) -> dict[str, float]:
    """``{data-metric: value}`` of the metric spans in a widget's HTML."""
    pattern = r'data-metric="([^"]+)"[^>]*><b>[^<]*</b> = ([-+0-9.eEnaif]+)</span>'
    return {k: float(v) for k, v in re.findall(pattern, html_text)}


@pytest.fixture(scope="module")
def photon_scan(tmp_path_factory):
    return make_photon_scan(tmp_path_factory.mktemp("pid_scan"), seeds=(0, 1))


# -- helpers -------------------------------------------------------------------
def test_format_strength_and_slider():
    from decorr_af.widgets._common import format_strength, strength_slider

    assert format_strength(0) == "0"
    assert format_strength(0.03) == "0.03"
    assert format_strength(1e4) == "1e+04"
    s = strength_slider([10.0, 0.0, 1.0, 1.0])
    assert [v for _, v in s.options] == [0.0, 1.0, 10.0]
    assert s.value == 0.0


def test_error_html_is_readable():
    from decorr_af.errors import InputFileError
    from decorr_af.widgets._common import error_html

    text = error_html(InputFileError("scan.json: missing <here>"), context="Cannot open")
    assert "InputFileError" in text
    assert "&lt;here&gt;" in text  # escaped
    assert "Traceback" not in text


# -- DisCo scanner ---------------------------------------------------------------
def test_scanner_shows_table_values_for_each_strength(photon_scan):
    from decorr_af.scan import load_scan
    from decorr_af.widgets import DiscoScanner

    table = load_scan(photon_scan).table
    w = DiscoScanner(photon_scan, prerender=False)
    assert w.error.value == ""
    assert w.model_dd.value == "disco_mlp"  # the workflow's PRIMARY_MODEL
    assert [v for _, v in w.slider.options] == sorted(STRENGTHS)
    seen_images = set()
    for lam in (30.0, 0.3, 0.0):
        w.slider.value = lam
        assert w.error.value == "", w.error.value
        row = table[(table["strength"] == lam) & (table["seed"] == w.seed_dd.value)].iloc[0]
        shown = metric_values(w.metrics.value)
        for key in ("r50", "inv_jsd", "dcor"):
            assert shown[key] == pytest.approx(row[f"disco_mlp.{key}"], rel=1e-3)
        assert "R50 = " in re.sub("<[^>]+>", "", w.metrics.value)
        for panel in (w.roc, w.sculpt, w.pareto):
            assert panel.image.value[:4] == b"\x89PNG"
        seen_images.add((w.roc.image.value, w.pareto.image.value))
    assert len(seen_images) == 3
    # the other seed and the other model give that row's numbers
    w.seed_dd.value = 1
    w.model_dd.value = "plain_mlp"
    row = table[(table["strength"] == 0.0) & (table["seed"] == 1)].iloc[0]
    assert metric_values(w.metrics.value)["r50"] == pytest.approx(row["plain_mlp.r50"], rel=1e-3)
    assert "over 2 seeds" in w.metrics.value


def test_scanner_switch_uses_cache(tmp_path):
    from decorr_af.widgets import DiscoScanner

    scan_dir = make_photon_scan(tmp_path / "scan", strengths=(0.0, 1.0, 10.0), n=500)
    w = DiscoScanner(scan_dir, prerender=False)
    w.prerender().join(timeout=120)
    assert len(w._png) == 9  # 3 points x 3 panels
    start = time.perf_counter()
    for lam in (10.0, 0.0, 1.0):
        w.slider.value = lam
    per_switch = (time.perf_counter() - start) / 3
    assert w.error.value == ""
    assert per_switch < 0.5  # cached images only (generous for a loaded CI machine)


@pytest.mark.parametrize("kind", ["missing", "empty", "no_metric"])
def test_scanner_reports_errors_in_widget(tmp_path, kind):
    from decorr_af.widgets import DiscoScanner

    target = tmp_path / "scan"
    if kind == "empty":
        target.mkdir()
        (target / "scan.json").write_text(json.dumps({"workflow": "photon_id", "points": []}))
    elif kind == "no_metric":
        make_photon_scan(target, strengths=(0.0,), n=200)
    w = DiscoScanner(target, x="no_such_metric" if kind == "no_metric" else "r50")
    assert "decorr-error" in w.error.value
    expected = {"missing": "does not exist", "empty": "no finished point", "no_metric": "no_such"}
    assert expected[kind] in w.error.value
    assert "Traceback" not in w.error.value


def test_scanner_train_button_adds_point(tmp_path, monkeypatch):
    """The button runs the scan in a thread; the slider then offers the new λ."""
    from decorr_af.widgets import DiscoScanner, scanner

    scan_dir = make_photon_scan(tmp_path / "scan", strengths=(0.0, 1.0), n=300)
    calls = []

    def fake_train(directory, strength, seed, client):
        # stands in for decorr_af.scan.scan (tested in test_scan): add one point
        calls.append((strength, seed, client))
        time.sleep(0.3)
        make_photon_scan(tmp_path / "extra", strengths=(strength,), n=300, seed=77)
        src = tmp_path / "extra" / "points" / "p0000"
        src.rename(directory / "points" / "p0100")
        data = json.loads((directory / "scan.json").read_text())
        data["points"].append({"id": "p0100", "params": {"strength": strength}, "seed": seed})
        (directory / "scan.json").write_text(json.dumps(data))

    monkeypatch.setattr(scanner, "_train_point", fake_train)
    w = DiscoScanner(scan_dir, prerender=False)
    w.new_strength.value = 5.0
    w.train_button.click()
    assert w.train_button.disabled  # returns at once, the work runs in the background
    w.future.result(timeout=60)
    deadline = time.time() + 10
    while w.train_button.disabled and time.time() < deadline:
        time.sleep(0.05)
    assert calls == [(5.0, 0, None)]
    assert 5.0 in [v for _, v in w.slider.options]
    assert w.slider.value == 5.0
    assert "done" in w.status.value
    with pytest.raises(ValueError, match="strength"):
        w.train(-1.0)


# -- inspectors ------------------------------------------------------------------
def test_resolution_inspector(tmp_path):
    from decorr_af import metrics
    from decorr_af.widgets import ResolutionInspector

    path = make_calibration_result(tmp_path / "calib")
    w = ResolutionInspector(path, models=["disco_mlp"])
    assert w.error.value == "", w.error.value
    shown = metric_values(w.metrics.value)
    res = RunResult.load(path)
    assert shown["disco_mlp.resolution_mc"] == pytest.approx(
        res.metrics["disco_mlp.resolution_mc"], rel=1e-3
    )
    tables = w.current_tables()
    t = tables[("disco_mlp", "mc")]
    assert len(t) == 4  # the config's |η| bins
    assert np.allclose(t["response"], 1.0, atol=0.01)
    res = RunResult.load(path)
    ratio, eta = res.arrays["disco_mlp.ratio_mc"], res.arrays["abs_eta_mc"]
    first = ratio[(eta >= 0.0) & (eta < 0.6)].astype(float)
    assert t["resolution"].iloc[0] == pytest.approx(
        metrics.iqr_resolution(first, np.ones_like(first)), rel=1e-6
    )
    assert np.allclose(t["resolution"], 0.03 * 0.674, rtol=0.2)  # IQR/2 of a Gaussian
    before = w.response_fig.image.value
    w.variable.value = "pt"
    assert len(w.current_tables()[("disco_mlp", "data")]) == 3
    assert w.response_fig.image.value != before
    w.binning.value = "manual"
    w.edges.value = "20, 50, 1000"
    assert len(w.current_tables()[("baseline_bdt", "mc")]) == 2
    w.edges.value = "50, 20"
    assert "increasing" in w.error.value
    bad = ResolutionInspector(tmp_path / "nope")
    assert "does not exist" in bad.error.value


def test_datamc_inspector(tmp_path):
    from decorr_af.widgets import DataMCInspector

    path = make_calibration_result(tmp_path / "calib")
    w = DataMCInspector(path)
    assert w.error.value == "", w.error.value
    labels = [label for label, _ in w.variable.options]
    assert "response E_pred/E_true" in labels
    assert "pt (test set)" in labels
    w.variable.value = ("result", "{model}.ratio")
    stats = metric_values(w.stats.value)
    assert 0 < stats["ks"] < 1
    before = (w.hist_fig.image.value, w.stats.value)
    w.slices["abs_eta"].value = (0.0, 1.0)
    mc, _, _, _, column = w.selection()
    assert column == "disco_mlp.ratio"
    res = RunResult.load(path)
    assert len(mc) == int(np.sum(res.arrays["abs_eta_mc"] <= 1.0))
    assert (w.hist_fig.image.value, w.stats.value) != before
    w.slices["abs_eta"].value = (2.36, 2.37)
    w.slices["pt"].value = (w.slices["pt"].min, w.slices["pt"].min + 1e-3)
    assert "no MC or data" in w.error.value
    assert "give a result" in DataMCInspector().error.value

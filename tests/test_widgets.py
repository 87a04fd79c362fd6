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


def make_photon_scan(out, *, strengths=STRENGTHS, seeds=(0,), n=2000, seed=8675, runtime_s=None):
    """A photon-ID-like scan: scores whose isolation dependence falls with λ.

    ``runtime_s`` is recorded as each point's worker run time (as the scan engine does).
    """
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
            metrics[f"{m}.abcd_nonclosure"] = float(rng.normal(0.3 / (1 + k), 0.05))
            metrics[f"{m}.abcd_nonclosure_err"] = 0.05
        pid = f"p{i:04d}"
        RunResult(
            "photon_id",
            {"wp_efficiency": 0.85},
            seed=s,
            strength=lam,
            metrics=metrics,
            arrays=arrays,
            hists={"id_vs_iso": _pid_hist(models, label, iso, passed, weight)},
            info={} if runtime_s is None else {"scan": {"runtime_s": runtime_s, "worker": "w1"}},
        ).save(out / "points" / pid)
        points.append({"id": pid, "params": {"strength": lam}, "seed": s})
    (out / "scan.json").write_text(
        json.dumps({"workflow": "photon_id", "config": {}, "points": points})
    )
    return out


def make_calibration_result(out, *, strength=1.0, n=3000, seed=3141, runtime_s=None):
    """A calibration-like result: MC/data responses per model with |η|, pT and weights."""
    rng = np.random.default_rng(seed)
    arrays = {}
    metrics = {}
    arrays["abs_eta_mc"] = rng.uniform(0, 2.37, n).astype(np.float32)  # MC photons only
    arrays["pt_mc"] = (20 + rng.exponential(30, n)).astype(np.float32)
    arrays["weight_mc"] = np.ones(n, np.float32)
    for sample, shift in (("mc", 0.0), ("data", 0.01)):
        for m, sigma in (("baseline_bdt", 0.05), ("disco_mlp", 0.03)):
            # a response pair as results stored it before data became truth-free
            arrays[f"{m}.ratio_{sample}"] = rng.normal(1.0 + shift, sigma, n).astype(np.float32)
            # Z→ee pair masses after the regression (another length: Z→ee pairs)
            mee = 91.19 * (1.0 - shift) + rng.normal(0.0, 91.19 * sigma, n // 2)
            arrays[f"{m}.mee_{sample}"] = mee.astype(np.float32)
    for m in ("baseline_bdt", "disco_mlp"):
        metrics[f"{m}.resolution_mc"] = float(np.std(arrays[f"{m}.ratio_mc"]))
        metrics[f"{m}.data_mc_gap"] = 0.01
    config = {"eta_edges": [0.0, 0.6, 1.37, 1.52, 2.37], "pt_edges": [20.0, 40.0, 80.0, 1000.0]}
    info = {} if runtime_s is None else {"scan": {"runtime_s": runtime_s, "worker": "w1"}}
    res = RunResult(
        "calibration", config, seed=0, strength=strength, metrics=metrics, arrays=arrays, info=info
    )
    return res.save(out)


def make_zee_calibration_result(out, *, seed=4, strength=20.0, samples=None):
    """A real calibration result: the workflow run on small generated photon and Z→ee toys.

    Data toys are mismodelled (``mismodelling=1``), MC is not; data carries no truth
    the workflow reads. Sample seeds differ from those the workflow was developed
    on; the samples (in ``samples``, default next to ``out``) are generated once.
    """
    from test_calibration import BDT

    from decorr_af.data import generate
    from decorr_af.workflows import calibration as cal

    out = Path(out)
    work = Path(samples) if samples is not None else out.parent / "zee_calib_samples"
    for sample, kind, n, s in (("photons", "mc", 3000, 57721), ("photons", "data", 3000, 69314),
                               ("zee", "mc", 6000, 41421), ("zee", "data", 6000, 17320)):  # fmt: skip
        if not any((work / f"{sample}_{kind}").glob("*.root")):
            generate(work / f"{sample}_{kind}", sample=sample, kind=kind, events=n, files=1,
                     seed=s, mismodelling=1.0 if kind == "data" else 0.0)  # fmt: skip
    cfg = cal.Config(
        mc_files=(str(work / "photons_mc" / "*.root"),),
        data_files=(str(work / "photons_data" / "*.root"),),
        zee_mc_files=(str(work / "zee_mc" / "*.root"),),
        zee_data_files=(str(work / "zee_data" / "*.root"),),
        models=("baseline_bdt", "shapes_mlp"),
        mlp={"hidden": [16], "loss": "huber", "epochs": 3, "batch_size": 256, "lr": 2e-3},
        bdt={**BDT, "n_estimators": 30},
        zee_min_pairs=50,
        device="cpu",
    )
    cal.run(cfg, strength=strength, seed=seed, out=out)
    return out


@pytest.fixture(scope="module")
def zee_calib(tmp_path_factory):
    return make_zee_calibration_result(tmp_path_factory.mktemp("zee_calib") / "res")


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
@pytest.mark.slow
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


def _fake_train(tmp_path, calls, *, fail=False):
    """Stands in for decorr_af.scan.scan (tested in test_scan): adds one point to the scan."""

    def train(directory, strength, seed, client):
        calls.append((strength, seed, client))
        if fail:
            raise OSError("worker lost")
        time.sleep(0.2)  # several progress ticks (TICK_S is patched small)
        make_photon_scan(tmp_path / "extra", strengths=(strength,), n=300, seed=77)
        src = tmp_path / "extra" / "points" / "p0000"
        src.rename(directory / "points" / "p0100")
        data = json.loads((directory / "scan.json").read_text())
        data["points"].append({"id": "p0100", "params": {"strength": strength}, "seed": seed})
        (directory / "scan.json").write_text(json.dumps(data))

    return train


def test_scanner_train_button_adds_point(tmp_path, monkeypatch):
    """The button runs the scan in a thread; its future completes when *everything* is done.

    The progress thread ticks every millisecond here: before the fix, ``future``
    completed before the final status was written, and a late tick could overwrite
    "done" with "training λ = 5 …". The test waits on the real completion signal.
    """
    from decorr_af.widgets import DiscoScanner, scanner

    scan_dir = make_photon_scan(tmp_path / "scan", strengths=(0.0, 1.0), n=300)
    calls = []
    monkeypatch.setattr(scanner, "_train_point", _fake_train(tmp_path, calls))
    monkeypatch.setattr(scanner, "TICK_S", 0.001, raising=False)
    w = DiscoScanner(scan_dir, prerender=False)
    w.new_strength.value = 5.0
    w.train_button.click()
    assert w.train_button.disabled  # returns at once, the work runs in the background
    w.future.result(timeout=120)  # the completion signal, no sleeping
    assert "done" in w.status.value, w.status.value
    assert not w._ticker.is_alive()  # the progress thread ended before the final status
    assert calls == [(5.0, 0, None)]
    assert 5.0 in [v for _, v in w.slider.options]
    assert w.slider.value == 5.0
    assert not w.train_button.disabled
    assert w.progress.layout.visibility == "hidden"
    with pytest.raises(ValueError, match="strength"):
        w.train(-1.0)


def test_scanner_failed_training_is_shown(tmp_path, monkeypatch):
    from decorr_af.widgets import DiscoScanner, scanner

    scan_dir = make_photon_scan(tmp_path / "scan", strengths=(0.0, 1.0), n=300)
    calls = []
    monkeypatch.setattr(scanner, "_train_point", _fake_train(tmp_path, calls, fail=True))
    monkeypatch.setattr(scanner, "TICK_S", 0.001, raising=False)
    w = DiscoScanner(scan_dir, prerender=False)
    with pytest.raises(OSError, match="worker lost"):
        w.train(2.0).result(timeout=120)
    assert not w._ticker.is_alive()
    assert "worker lost" in w.error.value
    assert "training" not in w.status.value  # no stale progress text
    assert not w.train_button.disabled


@pytest.mark.parametrize("typed", [-1.0, float("nan")])
def test_scanner_refuses_negative_lambda_visibly(tmp_path, monkeypatch, typed):
    """λ = -1 in "new λ" is neither clamped to 0 nor trained: the widget says why."""
    from decorr_af.widgets import DiscoScanner, scanner

    scan_dir = make_photon_scan(tmp_path / "scan", strengths=(0.0, 1.0), n=300)
    calls = []
    monkeypatch.setattr(scanner, "_train_point", _fake_train(tmp_path, calls))
    w = DiscoScanner(scan_dir, prerender=False)
    w.new_strength.value = typed
    assert np.isnan(w.new_strength.value) or w.new_strength.value == typed  # not clamped
    w.train_button.click()  # no exception escapes into the kernel
    assert calls == []
    assert w.future is None
    assert "≥ 0" in w.error.value
    assert "nothing was trained" in w.error.value
    assert "refused" in w.status.value
    assert not w.train_button.disabled


def test_scanner_error_state_shows_only_the_error(tmp_path):
    """A missing scan: the error alone, actions disabled, train() refuses clearly."""
    from decorr_af.errors import ConfigError
    from decorr_af.widgets import DiscoScanner

    w = DiscoScanner(tmp_path / "no-such-scan", prerender=False)
    assert list(w.children) == [w.title, w.error]
    assert "does not exist" in w.error.value
    assert w.train_button.disabled
    assert w.model_dd.disabled
    with pytest.raises(ConfigError, match="not loaded"):
        w.train(1.0)
    # the directory appears later: reload brings the controls back
    make_photon_scan(tmp_path / "no-such-scan", strengths=(0.0, 1.0), n=300)
    w.reload()
    assert w.figures in w.children
    assert w.train_box in w.children
    assert not w.train_button.disabled
    assert w.roc.image.value[:4] == b"\x89PNG"


def _same_scores_at_zero(scan_dir):
    """At λ = 0 the DisCo MLP is the plain MLP: give both the same scores."""
    path = Path(scan_dir) / "points" / "p0000"
    res = RunResult.load(path)
    assert res.strength == 0.0
    res.arrays["score_disco_mlp"] = res.arrays["score_plain_mlp"].copy()
    res.save(path)


@pytest.mark.slow
def test_scanner_figures_pass_the_picture_check(tmp_path):
    """Every panel at every λ: no overlapping text, no empty axes, no raw TeX, legend honest.

    Failed before: the isolation panel's "ε_S = 85 % WP" note sat on the ABCD
    non-closure text; the ROC legend named the MLP curve hidden under the identical
    DisCo MLP curve at λ = 0.
    """
    import matplotlib.pyplot as plt

    from decorr_af.plot import check_figure
    from decorr_af.widgets import DiscoScanner

    scan_dir = make_photon_scan(tmp_path / "scan", strengths=(0.0, 0.3, 30.0), n=1500, seed=404)
    _same_scores_at_zero(scan_dir)
    before = plt.get_fignums()
    w = DiscoScanner(scan_dir, prerender=False)
    legends = {}
    for lam in (0.0, 0.3, 30.0):  # each λ visited once: every panel freshly drawn
        w.slider.value = lam
        assert w.error.value == "", w.error.value
        for name, panel in w._panels().items():
            check = check_figure(panel.figure)
            assert check.ok, f"λ = {lam}, panel {name}:\n{check}"
        legend = w.roc.figure.axes[0].get_legend()
        legends[lam] = [t.get_text() for t in legend.get_texts()]
    assert "MLP" not in legends[0.0]  # the hidden twin is not listed
    assert any("DisCo MLP" in label for label in legends[0.0])
    assert "MLP" in legends[30.0]  # a different curve: shown as the reference
    # no pyplot figure: an inline backend would show it as a stray axes below the widget
    assert plt.get_fignums() == before


# -- inspectors ------------------------------------------------------------------
def test_resolution_inspector(zee_calib, tmp_path):
    """MC side from MC truth, data side from the Z→ee fits of a real calibration run."""
    from decorr_af import metrics
    from decorr_af.widgets import ResolutionInspector

    w = ResolutionInspector(zee_calib, models=["shapes_mlp"])
    assert w.error.value == "", w.error.value
    res = RunResult.load(zee_calib)
    shown = metric_values(w.metrics.value)
    for key in ("shapes_mlp.resolution_mc", "shapes_mlp.alpha", "shapes_mlp.alpha_err",
                "baseline_bdt.cprime", "baseline_bdt.cprime_err"):  # fmt: skip
        assert shown[key] == pytest.approx(res.metrics[key], rel=1e-3), key
    tables = w.current_tables()
    assert set(tables) == {"baseline_bdt", "shapes_mlp"}
    t = tables["shapes_mlp"]
    assert len(t) == len(res.config["eta_edges"]) - 1
    ratio, eta = res.arrays["shapes_mlp.ratio_mc"], res.arrays["abs_eta_mc"]
    sel = (eta >= res.config["eta_edges"][0]) & (eta < res.config["eta_edges"][1])
    first = ratio[sel].astype(float)
    assert t["resolution"].iloc[0] == pytest.approx(
        metrics.iqr_resolution(first, np.ones_like(first), weights=res.arrays["weight_mc"][sel]),
        rel=1e-6,
    )
    # the data-driven side: the fitted α_i, c′_i of raw and the shown models, unchanged
    zee = w.zee_table()
    ref = res.tables["zee_scales"]
    assert list(dict.fromkeys(zee["model"])) == ["raw", "baseline_bdt", "shapes_mlp"]
    for model in ("raw", "shapes_mlp"):
        got, want = zee[zee.model == model], ref[ref.model == model]
        for col in ("alpha", "alpha_err", "cprime", "cprime_err"):
            assert np.allclose(got[col], want[col], equal_nan=True), (model, col)
    assert list(w.mee_model.options) == ["raw", "baseline_bdt", "shapes_mlp"]
    assert w.mee_model.value == "shapes_mlp"
    legend = [t.get_text() for t in w.alpha_fig.figure.axes[0].get_legend().get_texts()]
    assert legend == ["raw", "baseline_bdt", "shapes_mlp"]
    before, mc_figure = w.mee_fig.image.value, w.response_fig.figure
    w.mee_model.value = "raw"
    assert w.error.value == "", w.error.value
    assert w.mee_fig.image.value != before
    assert w.response_fig.figure is mc_figure  # only the m_ee panel is redrawn
    before = w.response_fig.image.value
    w.variable.value = "pt"
    assert len(w.current_tables()["shapes_mlp"]) == len(res.config["pt_edges"]) - 1
    assert w.response_fig.image.value != before
    w.binning.value = "manual"
    w.edges.value = "20, 50, 1000"
    assert len(w.current_tables()["baseline_bdt"]) == 2
    w.edges.value = "50, 20"
    assert "increasing" in w.error.value
    bad = ResolutionInspector(tmp_path / "nope")
    assert "does not exist" in bad.error.value
    assert bad.children == (bad.title, bad.error)  # the error alone


def test_resolution_inspector_reads_no_truth_from_data(zee_calib):
    """Even if an (old) result holds E/E_true of data, the inspector never reads it."""
    from decorr_af.widgets import ResolutionInspector

    class Recording(dict):
        def __init__(self, *a):
            super().__init__(*a)
            self.read = []

        def __getitem__(self, key):
            self.read.append(key)
            return super().__getitem__(key)

        def get(self, key, default=None):
            self.read.append(key)
            return super().get(key, default)

    res = RunResult.load(zee_calib)
    arrays = Recording(res.arrays)
    for m in ("baseline_bdt", "shapes_mlp"):
        dict.__setitem__(arrays, f"{m}.ratio_data", np.full(10, np.nan, np.float32))
    res.arrays = arrays
    w = ResolutionInspector(res, models=["shapes_mlp"])
    w.variable.value = "pt"
    w.mee_model.value = "baseline_bdt"
    assert w.error.value == "", w.error.value
    assert arrays.read
    assert not [k for k in arrays.read if "data" in k]


def test_resolution_inspector_without_zee_and_incomplete_zee(zee_calib, tmp_path):
    from decorr_af.widgets import ResolutionInspector

    res = RunResult.load(zee_calib)
    no_zee = RunResult("calibration", res.config, seed=0, strength=0.0, metrics=res.metrics,
                       arrays=res.arrays, tables={"binned": res.tables["binned"]})  # fmt: skip
    w = ResolutionInspector(no_zee)
    assert w.error.value == "", w.error.value
    assert "no Z→ee check" in w.zee_note.value
    assert w.zee_box.layout.display == "none"
    assert w.mee_fig.figure is None  # nothing drawn
    half = RunResult("calibration", res.config, seed=0, strength=0.0, metrics=res.metrics,
                     arrays=res.arrays, tables=res.tables)  # fmt: skip
    w = ResolutionInspector(half)
    assert "hists[&#x27;mee&#x27;] is missing" in w.error.value
    nothing = RunResult("calibration", {}, seed=0, arrays={"abs_eta_mc": np.zeros(3)})
    w = ResolutionInspector(nothing)
    assert "not a calibration result" in w.error.value


def test_datamc_inspector(tmp_path):
    from decorr_af.widgets import DataMCInspector

    path = make_calibration_result(tmp_path / "calib")
    w = DataMCInspector(path)
    assert w.error.value == "", w.error.value
    keys = [key for _, key in w.variable.options]
    # data have no truth: a response E_pred/E_true is never compared, even when stored
    assert ("result", "{model}.ratio") not in keys
    assert keys == [("result", "{model}.mee")]
    w.variable.value = ("result", "{model}.mee")
    mc, _, data, _, column = w.selection()
    assert column == "disco_mlp.mee"
    res = RunResult.load(path)
    assert len(mc) == len(res.arrays["disco_mlp.mee_mc"])
    assert len(data) == len(res.arrays["disco_mlp.mee_data"])
    stats = metric_values(w.stats.value)
    assert stats["ks"] > 0.1  # the data peak is shifted by 1 %
    assert "give a result" in DataMCInspector().error.value


@pytest.mark.slow
def test_resolution_inspector_on_a_calibration_scan(zee_calib, tmp_path):
    """A scan directory (as the demo writes): the λ slider switches MC and Z→ee panels."""
    import shutil

    from decorr_af.widgets import ResolutionInspector

    scan_dir = tmp_path / "scan"
    shutil.copytree(zee_calib, scan_dir / "points" / "p0001")
    make_zee_calibration_result(
        scan_dir / "points" / "p0000",
        seed=5,
        strength=0.0,
        samples=zee_calib.parent / "zee_calib_samples",
    )
    first = RunResult.load(scan_dir / "points" / "p0001")
    points = [{"id": "p0000", "params": {"strength": 0.0}, "seed": 5},
              {"id": "p0001", "params": {"strength": first.strength}, "seed": first.seed}]  # fmt: skip
    (scan_dir / "scan.json").write_text(
        json.dumps({"workflow": "calibration", "config": first.config, "points": points})
    )
    w = ResolutionInspector(scan_dir, models=["shapes_mlp"])
    assert w.error.value == "", w.error.value
    assert w.slider.layout.display is None  # two λ values: the slider is shown
    for lam, pid in ((0.0, "p0000"), (first.strength, "p0001")):
        w.slider.value = lam
        assert w.error.value == "", w.error.value
        res = RunResult.load(scan_dir / "points" / pid)
        shown = metric_values(w.metrics.value)
        assert shown["shapes_mlp.alpha"] == pytest.approx(res.metrics["shapes_mlp.alpha"], rel=1e-3)
        zee = w.zee_table()
        want = res.tables["zee_scales"]
        assert np.allclose(zee[zee.model == "shapes_mlp"]["alpha"],
                           want[want.model == "shapes_mlp"]["alpha"], equal_nan=True)  # fmt: skip


def test_resolution_inspector_bad_edges_say_what_is_valid(zee_calib):
    from decorr_af.errors import ConfigError
    from decorr_af.widgets import ResolutionInspector
    from decorr_af.widgets.resolution import parse_edges

    w = ResolutionInspector(zee_calib)
    w.binning.value = "manual"
    for typed in ("50, 20", "20", "0, x, 2", "-1, 0.6"):
        w.edges.value = typed
        assert "decorr-error" in w.error.value
        assert "valid edges are" in w.error.value, (typed, w.error.value)
        assert "e.g. &#x27;0, 0.6, 1.37, 1.52, 2.37&#x27;" in w.error.value  # |η| example
    with pytest.raises(ConfigError, match=r"e\.g\. '20, 40, 80, 1000'"):
        parse_edges("80, 40", variable="pt")


def test_resolution_inspector_figures_pass_the_picture_check(zee_calib):
    """Every panel (MC vs |η| and pT on a log axis, m_ee after each regression, α, c′)."""
    from decorr_af.plot import check_figure
    from decorr_af.widgets import ResolutionInspector

    w = ResolutionInspector(zee_calib, models=["baseline_bdt", "shapes_mlp"])
    panels = (w.response_fig, w.resolution_fig, w.mee_fig, w.alpha_fig, w.cprime_fig)
    for var, scale in (("pt", "log"), ("abs_eta", "linear")):
        w.variable.value = var
        assert w.error.value == "", w.error.value
        for panel in panels[:2]:
            assert panel.figure.axes[0].get_xscale() == scale
        for i, panel in enumerate(panels):
            check = check_figure(panel.figure)
            assert check.ok, f"{var}, panel {i}:\n{check}"
    for model in w.mee_model.options:
        w.mee_model.value = model
        check = check_figure(w.mee_fig.figure)
        assert check.ok, f"m_ee after {model}:\n{check}"


def test_datamc_inspector_figures_pass_the_picture_check(tmp_path):
    from decorr_af.plot import check_figure
    from decorr_af.widgets import DataMCInspector

    w = DataMCInspector(make_calibration_result(tmp_path / "calib"))
    for _label, key in w.variable.options:
        w.variable.value = key
        assert w.error.value == "", w.error.value
        for panel in (w.hist_fig, w.test_fig):
            check = check_figure(panel.figure)
            assert check.ok, f"{key}:\n{check}"


def test_datamc_inspector_ranks_physics_variables_only(sample_dir):
    """runNumber, eventNumber, mcChannelNumber, weights and truth are not "variables"."""
    from decorr_af.data.schema import ISOLATION, SHOWER_SHAPES
    from decorr_af.widgets import DataMCInspector

    w = DataMCInspector(
        mc_files=str(sample_dir / "photons_mc" / "*.root"),
        data_files=str(sample_dir / "photons_data" / "*.root"),
        max_rows=3000,
    )
    assert w.error.value == "", w.error.value
    names = [name for _label, (_group, name) in w.variable.options]
    for bookkeeping in ("runNumber", "eventNumber", "mcChannelNumber", "weight", "truthType",
                        "truth_e", "is_prompt"):  # fmt: skip
        assert bookkeeping not in names
    assert set(SHOWER_SHAPES) <= set(names)
    assert set(ISOLATION) <= set(names)
    ranked = [t.get_text() for t in w.test_fig.figure.axes[0].get_yticklabels()]
    assert "Reta" in ranked
    assert not {"runNumber", "eventNumber", "mcChannelNumber"} & set(ranked)


def test_train_point_never_imports_a_module_named_in_scan_json(tmp_path, monkeypatch):
    """scan.json is data: its workflow must be a registered one, its module path is ignored."""
    import importlib
    import sys

    from decorr_af.errors import ConfigError
    from decorr_af.widgets import scanner

    scan_dir = make_photon_scan(tmp_path / "scan", strengths=(0.0,), n=200)
    data = json.loads((scan_dir / "scan.json").read_text())
    data.update(workflow="evil", workflow_module="decorr_af_evil_payload")
    (scan_dir / "scan.json").write_text(json.dumps(data))
    imported = []
    real_import = importlib.import_module
    monkeypatch.setattr(
        importlib, "import_module", lambda name, *a: imported.append(name) or real_import(name, *a)
    )
    with pytest.raises(ConfigError, match="evil"):
        scanner._train_point(scan_dir, 1.0, 0, None)
    assert "decorr_af_evil_payload" not in imported
    assert "decorr_af_evil_payload" not in sys.modules

"""Streaming calibration workflow (issue #14): MC photon side streamed, metrics vs exact."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_toys

from decorr_af.errors import ConfigError

pytest.importorskip("torch")
pytest.importorskip("pyarrow")
pytest.importorskip("xgboost")

from decorr_af.workflows import _calib_stream, _stream
from decorr_af.workflows import calibration as cal
from decorr_af.workflows.base import RunResult
from decorr_af.workflows.vocabulary import PROTECTED

MLP = {"hidden": [8], "loss": "huber", "epochs": 2, "batch_size": 256, "lr": 2e-3}
BDT = {"n_estimators": 10, "max_depth": 3, "learning_rate": 0.15}
MODELS = ("binned", "baseline_bdt", "shapes_mlp", "disco_mlp")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return make_toys(tmp_path_factory.mktemp("cstream"),
                     (("photons", "mc", 3000, 52_711), ("photons", "data", 3000, 52_713),
                      ("zee", "mc", 4000, 52_717), ("zee", "data", 4000, 52_721)), files=2)  # fmt: skip


def _config(work, **kw):
    base = {"mc_files": (str(work / "photons_mc" / "*.root"),),
            "data_files": (str(work / "photons_data" / "*.root"),), "models": MODELS,
            "mlp": MLP, "bdt": BDT, "device": "cpu", "chunk_rows": 700, "buffer_rows": 2000,
            "strength": 10.0}  # fmt: skip
    return cal.Config(**{**base, **kw})


@pytest.fixture(scope="module")
def streamed(work):
    cfg = _config(work, streaming=True)
    return cfg, cal.run(cfg, seed=3)


def test_streamed_run_records_how(streamed, tmp_path):
    _, res = streamed
    back = RunResult.load(res.save(tmp_path / "run"))
    assert back.metrics == pytest.approx(res.metrics, nan_ok=True)
    info = res.info["streaming"]
    assert info["streamed"]
    assert info["reason"] == "streaming=True"
    assert info["n_subsample"] == res.info["n_mc_test"]  # small sample: every test photon
    assert set(res.hists) == {"ratio", PROTECTED}
    assert set(res.tables["binned"].model) == set(MODELS)
    for name in MODELS:
        for key in ("response_mc", "resolution_mc", "resolution_mc_err", "pred_ks"):
            assert np.isfinite(res.metrics[f"{name}.{key}"]), (name, key)
        assert 0.95 < res.metrics[f"{name}.response_mc"] < 1.05
        assert len(res.arrays[f"{name}.ratio_mc"]) == res.info["n_mc_test"]
    assert res.info["binned_table"]["table"]
    assert {"baseline", "shapes"} <= set(res.info["features"])


def _tolerance(r, w, width):
    """Largest allowed |histogram - exact| of (response, resolution) of rows ``r``.

    The exact weighted quantile interpolates between the order statistics around
    its position (midpoint convention), the histogram one inverts the binned CDF:
    both lie between the rows ``v[k-1]`` and ``v[k+1]`` around the crossing, up to
    one bin width ``width``. The resolution ``(q75 - q25) / (2 q50)`` propagates it.
    """
    order = np.argsort(r, kind="stable")
    v, c = r[order], np.cumsum(w[order]) / w.sum()
    d = {}
    for q in (0.25, 0.5, 0.75):
        k = int(np.searchsorted(c, q))
        d[q] = v[min(k + 1, len(v) - 1)] - v[max(k - 1, 0)] + width + 1e-6
    q25, q50, q75 = np.quantile(r, [0.25, 0.5, 0.75])
    res = (q75 - q25) / (2 * q50)
    return d[0.5], (d[0.25] + d[0.75]) / (2 * q50) + res * d[0.5] / q50


def test_streamed_metrics_against_exact(streamed):
    """``arrays`` hold every MC test photon here, so the exact figures can be recomputed.

    Tolerances (:func:`_tolerance`): one ratio-bin width (5e-5) plus the spacing of
    the rows around each quantile (the exact quantile interpolates between rows);
    counts and histogram fills are exact sums.
    """
    from decorr_af.metrics import binned_response

    cfg, res = streamed
    a, h = res.arrays, res.info["streaming"]["ratio_bin_width"]
    w = a["weight_mc"].astype(np.float64)
    m, tab = res.metrics, res.tables["binned"]
    for name in MODELS:
        r = a[f"{name}.ratio_mc"].astype(np.float64)
        exact = binned_response(r, np.ones_like(r), np.zeros_like(r), (-1.0, 1.0), w).iloc[0]
        t_resp, t_res = _tolerance(r, w, h)
        assert m[f"{name}.response_mc"] == pytest.approx(exact["response"], abs=t_resp)
        assert m[f"{name}.resolution_mc"] == pytest.approx(exact["resolution"], abs=t_res)
        assert m[f"{name}.resolution_mc_err"] == pytest.approx(exact["resolution_err"], rel=0.05)
        for var, edges in (("abs_eta", cfg.eta_edges), ("pt", cfg.pt_edges)):
            x = a[f"{var}_mc"].astype(np.float64)
            ref = binned_response(r, np.ones_like(r), x, edges, w)
            got = tab[(tab.model == name) & (tab.variable == var)].reset_index(drop=True)
            np.testing.assert_array_equal(got["n_mc"].to_numpy(), ref["n"].to_numpy())
            for b in np.flatnonzero(ref["n"].to_numpy() > 1):
                sel = (x >= edges[b]) & ((x < edges[b + 1]) | (b == len(edges) - 2))
                t_resp, t_res = _tolerance(r[sel], w[sel], h)
                assert abs(got["response_mc"][b] - ref["response"][b]) <= t_resp, (name, var, b)
                assert abs(got["resolution_mc"][b] - ref["resolution"][b]) <= t_res, (name, var, b)
        hr = res.hists["ratio"][{"model": name, "dataset": "mc"}]
        inside = (r >= 0.7) & (r < 1.3)
        assert hr.values().sum() == pytest.approx(w[inside].sum(), rel=1e-6)


def test_streaming_vs_in_memory(streamed):
    """Same sample and seed, different (hashed vs permuted) splits and training batches.

    Tolerance: 5 σ of the difference, σ² the sum of both reported errors squared
    (test-set noise; it also covers the training noise of these small models on
    ~700 regression photons), and the KS distances within 0.1 (each ~0.03 ± 0.02).
    """
    cfg, res = streamed
    mem = cal.run(cfg.replace(streaming=False), seed=3)
    assert mem.info["streaming"]["streamed"] is False
    assert mem.info["n_mc_test"] == pytest.approx(res.info["n_mc_test"], rel=0.15)
    assert mem.info["n_data_test"] == res.info["n_data_test"]  # the data side is identical
    for name in MODELS:
        for key in ("response_mc", "resolution_mc"):
            a, b = res.metrics[f"{name}.{key}"], mem.metrics[f"{name}.{key}"]
            sig = math.hypot(res.metrics[f"{name}.{key}_err"], mem.metrics[f"{name}.{key}_err"])
            assert abs(a - b) < 5 * sig, (name, key, a, b, sig)
        assert abs(res.metrics[f"{name}.pred_ks"] - mem.metrics[f"{name}.pred_ks"]) < 0.1
    for key in ("selection.mc_purity_id", "selection.mc_purity_domain"):
        assert res.metrics[key] == pytest.approx(mem.metrics[key], abs=0.05)


def test_zee_check_with_streamed_photon_models(work):
    """The Z→ee side stays in memory and takes the streamed photon models."""
    cfg = _config(work, models=("binned", "baseline_bdt"), streaming=True, zee_training="photon",
                  zee_mc_files=(str(work / "zee_mc" / "*.root"),),
                  zee_data_files=(str(work / "zee_data" / "*.root"),), zee_min_pairs=50)  # fmt: skip
    res = cal.run(cfg, seed=2)
    assert res.info["streaming"]["streamed"]
    for name in ("raw", "binned", "baseline_bdt"):
        assert np.isfinite(res.metrics[f"{name}.alpha"]), name
    assert set(res.tables["zee_scales"].model) == {"raw", "binned", "baseline_bdt"}


def test_histogram_ks_bounds_the_exact_distance():
    from decorr_af.workflows.reweighting import weighted_ks

    rng = np.random.default_rng(11)
    cases = [  # continuous, shifted; discrete outputs (a binned model); out of range
        (rng.normal(1.0, 0.03, 5000), rng.normal(1.005, 0.035, 3000)),
        (rng.choice([0.98, 1.01, 1.02], 4000), rng.choice([0.98, 1.01, 1.02], 3000, p=[.5, .3, .2])),
        (rng.normal(1.0, 0.6, 2000), rng.normal(1.1, 0.6, 2000)),
    ]  # fmt: skip
    for a, b in cases:
        wa, wb = rng.uniform(0.5, 2, len(a)), rng.uniform(0.5, 2, len(b))
        k = _calib_stream._HistKS()
        for part in np.array_split(np.arange(len(a)), 3):
            k.update(0, a[part], wa[part])
        k.update(1, b, wb)
        d, err = k.value()
        exact = weighted_ks(np.clip(a, 0.5, 2.0), np.clip(b, 0.5, 2.0), wa=wa, wb=wb)
        assert d - 1e-12 <= exact <= d + err + 1e-12
        assert err <= 0.01 or len(np.unique(a)) < 10 or np.abs(a - 1).max() > 0.5
    assert _calib_stream._HistKS().value()[0] != _calib_stream._HistKS().value()[0]  # nan


def test_streamed_binned_model_against_exact(tmp_path):
    """The histogram medians per cell are within one bin width of the exact ones."""
    import pandas as pd

    from decorr_af.workflows._calib_models import BinnedCorrection

    rng = np.random.default_rng(5)
    n = 200_000  # ~5000 rows per cell: the row spacing at the median << one bin width
    df = pd.DataFrame({"abs_eta": rng.uniform(0, 2.4, n), "e": rng.uniform(20, 300, n),
                       "converted": rng.random(n) < 0.3, "weight": rng.uniform(0.5, 2, n),
                       "_fit": rng.random(n) < 0.9})  # fmt: skip
    df["truth_e"] = df["e"] * rng.normal(1.03, 0.02, n)
    w = _stream._Writer(tmp_path / "train.parquet")
    for part in np.array_split(np.arange(n), 4):  # 4 row groups
        w.write(df.iloc[part])
    w.close(list(df.columns))
    cfg = cal.Config(binned_e_edges=(0.0, 60.0, 120.0, 1e5))
    got = _calib_stream._binned(cfg, w.path, list(range(4)))
    fit = df[df["_fit"]]
    ref = BinnedCorrection(eta_edges=cfg.binned_eta_edges, e_edges=cfg.binned_e_edges)
    ref.fit(fit, (fit["truth_e"] / fit["e"]).to_numpy(), fit["weight"].to_numpy())
    width = (_calib_stream.BINNED_HIGH - _calib_stream.BINNED_LOW) / _calib_stream.BINNED_BINS
    np.testing.assert_allclose(got.estimator.table_, ref.table_, atol=2 * width)
    np.testing.assert_allclose(got.predict_df(df), ref.predict_df(df), atol=2 * width)


def test_auto_switch_with_a_tiny_threshold(work):
    cfg = _config(work, models=("binned",))
    small = cal.run(cfg.replace(streaming_rows=10_000_000), seed=1)
    assert small.info["streaming"]["streamed"] is False
    assert small.info["streaming"]["reason"].startswith("auto:")
    big = cal.run(cfg.replace(streaming_rows=100), seed=1)
    info = big.info["streaming"]
    assert info["streamed"]
    assert info["reason"].startswith("auto:")
    assert info["n_estimate"] > 100
    # an unstreamable model keeps "auto" in memory and says which model
    odd = cfg.replace(streaming_rows=100, models=("binned", "reweighted_mlp"))
    d = _stream.decide(odd, key="mc_files", patterns=odd.mc_files,
                       refuse=_calib_stream.refusal(odd))  # fmt: skip
    assert not d.streamed
    assert "reweighted_mlp" in d.reason


@pytest.mark.parametrize(
    ("field", "value"),
    [("streaming", "sometimes"), ("streaming", 1), ("streaming_rows", 0), ("chunk_rows", -5),
     ("buffer_rows", 0)],
)  # fmt: skip
def test_bad_streaming_fields_name_the_parameter(field, value):
    with pytest.raises(ConfigError, match=f"parameter '{field}'"):
        cal.Config(**{field: value})


@pytest.mark.parametrize(
    ("model", "why"),
    [("reweighted_mlp", "reweighted"), ("reweighted_bdt", "reweighted"),
     ("disco_bdt", "domain penalty"), ("cells_gnn", "calorimeter cells")],
)  # fmt: skip
def test_unstreamable_model_refused_before_reading(model, why):
    cfg = cal.Config(mc_files=("/nonexistent/*.root",), data_files=("/nonexistent/d*.root",),
                     models=("binned", model), streaming=True, device="cpu")  # fmt: skip
    with pytest.raises(ConfigError, match=rf"parameter 'streaming'.*model '{model}'.*{why}"):
        cal.run(cfg)


def test_early_stopping_refused_before_reading():
    cfg = cal.Config(mc_files=("/nonexistent/*.root",), streaming=True, device="cpu",
                     models=({"name": "es_mlp", "estimator": "mlp",
                              "params": {"early_stopping": True}},))  # fmt: skip
    with pytest.raises(ConfigError, match=r"model 'es_mlp'.*early_stopping"):
        cal.run(cfg)

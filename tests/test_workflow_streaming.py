"""Streaming photon-ID workflow (issue #14): chunked inputs, streamed metrics vs exact."""

from __future__ import annotations

import math

import numpy as np
import pytest

from decorr_af.errors import ConfigError, InputFileError

pytest.importorskip("torch")
pytest.importorskip("pyarrow")

from decorr_af import metrics as M
from decorr_af.decorrelation import distance_correlation
from decorr_af.workflows import _classify, _stream, photon_id
from decorr_af.workflows.vocabulary import PROTECTED, array_key

SMALL = {"hidden": (8,), "epochs": 2, "batch_size": 256, "lr": 3e-3, "n_estimators": 5,
         "max_depth": 2, "device": "cpu", "jsd_permutations": 5}  # fmt: skip


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from decorr_af.data import generate

    out = tmp_path_factory.mktemp("stream_pid")
    generate(out / "mc", sample="photons", kind="mc", events=2500, files=2, seed=61_403)
    return str(out / "mc" / "*.root")


@pytest.fixture(scope="module")
def streamed(sample):
    cfg = photon_id.Config(mc_files=(sample,), models=("cutbased", "plain_mlp", "disco_bdt"),
                           streaming=True, chunk_rows=700, buffer_rows=2000, **SMALL)  # fmt: skip
    return cfg, photon_id.run(cfg, seed=5)


def _slack(s, sel, w, t, width):
    """Class weight fraction a threshold error of ≤ 2 bin widths (or one row) can move."""
    near = sel & (np.abs(s - t) <= 2 * width)
    return (w[near].sum() + w[sel].max()) / w[sel].sum()


def test_streamed_run_records_how(streamed, tmp_path):
    from decorr_af.workflows.base import RunResult

    cfg, res = streamed
    back = RunResult.load(res.save(tmp_path / "run"))
    assert back.info["streaming"]["streamed"]
    assert back.metrics == pytest.approx(res.metrics, nan_ok=True)
    info = res.info["streaming"]
    assert info["streamed"]
    assert info["reason"] == "streaming=True"
    assert info["dcor"] == "exact"
    assert info["n_subsample"] == res.info["n_test"]
    assert res.info["n_train"] + res.info["n_test"] > 2000
    assert set(res.hists) == {"id_vs_iso", "id_vs_mu", PROTECTED}
    for name in cfg.model_names:
        assert np.isfinite(res.metrics[f"{name}.auc"])
        assert res.metrics[f"{name}.dcor_err"] == 0.0


def test_streamed_metrics_against_exact(streamed):
    """Small sample: ``arrays`` hold every test photon, so exact metrics can be recomputed.

    Tolerances: the AUC within its reported bound; each threshold is a histogram
    quantile, so an efficiency may differ from the exact one by the weight within two
    bin widths of the exact threshold plus one row (:func:`_slack`); every figure
    at the streamed thresholds (ABCD, JSD, hists) and the exact-mode dCor are sums
    and must agree to 1e-9.
    """
    cfg, res = streamed
    a, th = res.arrays, res.info["streaming"]["thresholds"]
    y, w, z, loose = a["label"], a["weight"], a["isolation"], a["pass_loose"]
    sig, fake = y == 1, y == 0
    tight_rej = res.metrics["tight.rej"]
    assert res.metrics["tight.eff"] == pytest.approx(w[a["pass_tight"] & sig].sum() / w[sig].sum())
    passed = {}
    for name in cfg.model_names:
        s = a[array_key(name, "score")].astype(np.float64)
        width = res.info["streaming"]["bin_width"][name]
        m = {k.split(".", 1)[1]: v for k, v in res.metrics.items() if k.startswith(f"{name}.")}
        # the bounded AUC (float32 scores in arrays: ties as in the run up to 1e-6)
        assert abs(m["auc"] - M.auc(y, s, w)) <= m["auc_err"] + 1e-6
        # thresholds within a bin width: efficiencies within the slack of the exact ones
        if name != "cutbased":  # the menu's wp_eff is the Tight efficiency, as in memory
            t = M.efficiency_threshold(y, s, cfg.wp_efficiency, w)
            exact = w[sig & (s > t)].sum() / w[sig].sum()
            assert abs(m["wp_eff"] - exact) <= _slack(s, sig, w, t, width)
        t = M.efficiency_threshold(y, s, 0.5, w)
        eb = w[fake & (s > t)].sum() / w[fake].sum()
        assert abs(1 / m["r50"] - eb) <= _slack(s, fake, w, t, width)
        t = _classify.threshold_at_rejection(s, y, w, cfg.fixed_rejection)
        exact = w[sig & (s > t)].sum() / w[sig].sum()
        assert abs(m["eff_at_rej"] - exact) <= _slack(s, sig, w, t, width)
        # at the streamed thresholds every sum is exact
        t = th[name]
        if name == "cutbased":
            id_pass, id_fail = a["pass_tight"], a["pass_loose_prime"]
        else:
            id_pass = s > t["tight_rej"]
            id_fail = ~id_pass & loose
            t_exact = _classify.threshold_at_rejection(s, y, w, tight_rej)
            exact = w[sig & (s > t_exact)].sum() / w[sig].sum()
            assert abs(m["eff_at_tight_rej"] - exact) <= _slack(s, sig, w, t_exact, width)
            assert m["eff_at_tight_rej"] == pytest.approx(
                w[sig & id_pass].sum() / w[sig].sum(), rel=1e-9
            )
        passed[name] = id_pass
        ref = photon_id._abcd_metrics(id_pass, id_fail, a["is_iso"], a["is_noniso"], fake, w)
        for key, value in ref.items():
            assert m[key] == pytest.approx(value, rel=1e-9, nan_ok=True), key
        lf = loose & fake
        dc = distance_correlation(s[lf], z[lf], weights=w[lf])
        assert m["dcor"] == pytest.approx(dc, rel=1e-5)  # float32 scores in arrays
        ok = s[lf] > t["wp_loose"]
        hp = np.histogram(z[lf][ok], bins=photon_id.ISO_BINS, weights=w[lf][ok])[0]
        hf = np.histogram(z[lf][~ok], bins=photon_id.ISO_BINS, weights=w[lf][~ok])[0]
        assert m["jsd"] == pytest.approx(float(M._jsd_rows(hp[None], hf[None])[0]), rel=1e-9)
    ref = photon_id._hists(list(cfg.model_names), a, passed, "x")
    for key, h in ref.items():
        np.testing.assert_allclose(res.hists[key].values(), h.values(), rtol=1e-9)


def test_streaming_vs_in_memory(sample, streamed):
    """Same sample and seed, different (hashed vs permuted) test halves.

    Tolerance: 5 σ of the difference of two independent halves, σ² = 2 p(1-p)/n
    for an efficiency of the n test photons of its class.
    """
    cfg, res = streamed
    mem = photon_id.run(cfg.replace(streaming=False, models=("cutbased",)), seed=5)
    assert mem.info["streaming"]["streamed"] is False
    n_sig, n_fake = mem.info["n_prompt_test"], mem.info["n_fake_test"]
    for key, n in (("tight.eff", n_sig), ("loose.eff", n_sig), ("cutbased.eff_at_rej", n_sig),
                   ("cutbased.auc", min(n_sig, n_fake))):  # fmt: skip
        p = mem.metrics[key]
        tol = 5 * math.sqrt(2 * p * (1 - p) / n)
        assert abs(res.metrics[key] - p) < tol, key
    for key in ("tight.rej", "loose.rej"):
        p = 1 / mem.metrics[key]
        assert abs(1 / res.metrics[key] - p) < 5 * math.sqrt(2 * p * (1 - p) / n_fake), key


def test_auto_switches_above_threshold(sample):
    cfg = photon_id.Config(mc_files=(sample,), models=("cutbased",), chunk_rows=900, **SMALL)
    small = photon_id.run(cfg.replace(streaming_rows=10_000_000), seed=2)
    assert small.info["streaming"]["streamed"] is False
    assert small.info["streaming"]["reason"].startswith("auto:")
    big = photon_id.run(cfg.replace(streaming_rows=100), seed=2)
    info = big.info["streaming"]
    assert info["streamed"]
    assert info["reason"].startswith("auto:")
    assert info["n_estimate"] > 100
    # the estimate (before min_pt) comes from metadata and one probe chunk: within 20 %
    from decorr_af.data import photon_table

    n = len(photon_table(sample, features=["pt"]))
    assert abs(info["n_estimate"] - n) < 0.2 * n


@pytest.mark.parametrize(
    ("field", "value"),
    [("streaming", "sometimes"), ("streaming", 1), ("streaming_rows", 0), ("chunk_rows", -5),
     ("buffer_rows", 0)],
)  # fmt: skip
def test_bad_streaming_fields_name_the_parameter(field, value):
    with pytest.raises(ConfigError, match=f"parameter '{field}'"):
        photon_id.Config(**{field: value})


def test_cells_models_refuse_to_stream():
    cfg = photon_id.Config(mc_files=("x.root",), models=("cells_gnn",), streaming=True)
    with pytest.raises(ConfigError, match=r"streaming.*cells"):
        photon_id.run(cfg)


def _no_stream_class():
    from sklearn.base import BaseEstimator, ClassifierMixin

    class _NoStream(ClassifierMixin, BaseEstimator):
        """A classifier with neither fit_stream nor xgboost external memory."""

        def __init__(self, random_state=None):
            self.random_state = random_state

    return _NoStream


def test_unstreamable_model_refused_before_reading(monkeypatch):
    from decorr_af.models import registry

    monkeypatch.setitem(registry.ESTIMATORS, "nostream_61", registry.EstimatorFamily(
        "nostream_61", _no_stream_class(), None))  # fmt: skip
    cfg = photon_id.Config(mc_files=("/nonexistent/*.root",), streaming=True,
                           models=({"name": "odd", "estimator": "nostream_61"},))  # fmt: skip
    with pytest.raises(ConfigError, match=r"parameter 'models': 'odd' \(_NoStream\)"):
        photon_id.run(cfg)


def test_bad_file_is_named(sample, tmp_path):
    import shutil
    from glob import glob

    for f in glob(sample):
        shutil.copy(f, tmp_path)
    bad = tmp_path / "photons_mc_zzz.root"
    bad.write_bytes(b"not a ROOT file at all" * 10)
    cfg = photon_id.Config(mc_files=(str(tmp_path / "*.root"),), models=("cutbased",),
                           streaming=True, **SMALL)  # fmt: skip
    with pytest.raises((InputFileError, ConfigError), match=r"mc_files.*photons_mc_zzz\.root"):
        photon_id.run(cfg)


def test_split_does_not_depend_on_chunking(sample, tmp_path):
    def test_rows(chunk_rows, folder):
        folder.mkdir()
        sp = _stream.spill("mc_files", [sample], folder, features=("Reta",), derive=lambda d: d,
                           seed=9, test_fraction=0.4, chunk_rows=chunk_rows, menu_rows=50,
                           sample_rows=80)  # fmt: skip
        import pandas as pd

        te = pd.read_parquet(sp.test)
        keys = sorted(zip(te["eventNumber"], te["pt"].round(6), strict=True))
        return keys, sp.menu_sample["pt"].tolist(), sp.test_sample["pt"].tolist()

    a, b = test_rows(300, tmp_path / "a"), test_rows(1100, tmp_path / "b")
    assert a == b
    assert len(a[1]) == 50
    assert len(a[2]) == 80
    import pandas as pd

    n_all = len(pd.read_parquet(tmp_path / "a" / "train.parquet")) + len(a[0])
    assert abs(len(a[0]) / n_all - 0.4) < 0.05


def test_response_histogram_against_exact():
    """Streamed response / IQR resolution vs :func:`binned_response` on the same rows.

    Tolerance: each quantile within one ratio-bin width of the histogram inversion
    plus the midpoint rule's half gap between neighbouring ratios (≪ width here), so
    2 widths for the response and 4 widths (relative to a response ~1) for the
    resolution; counts are exact.
    """
    from decorr_af.models.stream_metrics import ResponseHistogram

    rng = np.random.default_rng(61_409)
    n = 30_000
    r = rng.normal(1.0, 0.04, n) * np.where(rng.random(n) < 0.1, 0.9, 1.0)
    x, w = rng.uniform(0.0, 2.4, n), rng.uniform(0.5, 1.5, n)
    edges = (0.0, 0.6, 1.37, 2.4)
    h = ResponseHistogram(edges=edges)
    for part in np.array_split(np.arange(n), 7):
        h.update(r[part], x[part], w[part])
    got, exact = h.table(), M.binned_response(r, np.ones(n), x, edges, w)
    np.testing.assert_array_equal(got["n"], exact["n"])
    np.testing.assert_allclose(got["n_eff"], exact["n_eff"], rtol=1e-9)
    np.testing.assert_allclose(got["response"], exact["response"], atol=2 * h.width)
    np.testing.assert_allclose(got["resolution"], exact["resolution"], atol=4 * h.width)
    np.testing.assert_allclose(got["resolution_err"], exact["resolution_err"], rtol=1e-2)

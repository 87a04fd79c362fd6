"""Streaming (out-of-core) training of the torch estimators (issue #14)."""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.decorrelation import distance_correlation
from decorr_af.decorrelation.penalties import Adversary, DisCo, DomainDisCo
from decorr_af.errors import ConfigError

pytest.importorskip("torch")

from decorr_af.models import DecorrelatedClassifier, DecorrelatedRegressor
from decorr_af.models.streaming import (
    ArraySource,
    ParquetSource,
    RunningMoments,
    ShuffleBuffer,
    fit_streaming,
    scan_source,
)

MLP = {"hidden": (16,), "epochs": 4, "batch_size": 512, "lr": 3e-3, "device": "cpu"}


def make_toy(n, seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    m = rng.exponential(1.0, n)
    x0 = np.where(y == 1, rng.normal(1.5, 0.7, n), m + rng.normal(0, 0.3, n))
    X = np.c_[x0, rng.normal(1.0 * y, 1.0, n), rng.normal(size=n)]
    return X, y, m


def write_parquet(path, X, y, m, *, row_group_size):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"x0": X[:, 0], "x1": X[:, 1], "x2": X[:, 2], "y": y, "m": m})
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def bkg_dcor2(model, X, y, m):
    p = model.predict_proba(X)[:, 1]
    return distance_correlation(p[y == 0], m[y == 0], squared=True)


def test_running_moments_match_numpy_weighted():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(1000, 3)) * [1, 5, 0.1] + 7, rng.uniform(0.1, 2, 1000)
    mom = RunningMoments()
    for part in np.array_split(np.arange(1000), 7):
        mom.update(x[part], w[part])
    mean = np.average(x, axis=0, weights=w)
    np.testing.assert_allclose(mom.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(mom.std, np.sqrt(np.average((x - mean) ** 2, 0, w)), rtol=1e-10)


def test_shuffle_buffer_visits_every_row_once_and_mixes_chunks():
    src = ArraySource(np.arange(1000.0), y=np.arange(1000) % 2, chunk_rows=100)
    sb = ShuffleBuffer(src, batch_size=64, buffer_rows=300, seed=3)
    batches = [b["X"][:, 0] for b, _ in sb.epoch(0)]
    rows = np.concatenate(batches)
    np.testing.assert_array_equal(np.sort(rows), np.arange(1000.0))
    assert all(len(b) <= 64 for b in batches)
    # a batch draws from several chunks (chunk id = row // 100)
    assert np.mean([len(np.unique(b // 100)) for b in batches]) > 2
    again = np.concatenate([b["X"][:, 0] for b, _ in sb.epoch(1)])
    assert not np.array_equal(rows, again)  # a new order per epoch


def test_streaming_disco_matches_in_memory(tmp_path):
    """Same seed, same hyper-parameters: metrics within statistical noise."""
    X, y, m = make_toy(6000, 11)
    Xt, yt, mt = make_toy(6000, 12)
    path = write_parquet(tmp_path / "train.parquet", X, y, m, row_group_size=700)
    src = ParquetSource([path], features=["x0", "x1", "x2"], target="y", protected=["m"])
    assert src.n_chunks == 9
    kw = {**MLP, "random_state": 5, "penalty": DisCo(strength=10.0)}
    mem = DecorrelatedClassifier(**kw).fit(X, y, protected=m)
    stream = DecorrelatedClassifier(**kw).fit_stream(src, buffer_rows=2000, monitor_rows=3000)
    np.testing.assert_allclose(stream.x_mean_, mem.x_mean_, rtol=1e-10)
    np.testing.assert_allclose(stream.x_scale_, mem.x_scale_, rtol=1e-10)
    np.testing.assert_array_equal(stream.classes_, mem.classes_)
    plain = DecorrelatedClassifier(**{**MLP, "random_state": 5}).fit(X, y)
    auc_mem, auc_stream = mem.score(Xt, yt), stream.score(Xt, yt)
    assert abs(auc_stream - auc_mem) < 0.03, (auc_mem, auc_stream)
    d_plain, d_mem = bkg_dcor2(plain, Xt, yt, mt), bkg_dcor2(mem, Xt, yt, mt)
    d_stream = bkg_dcor2(stream, Xt, yt, mt)
    assert d_stream < 0.3 * d_plain, (d_plain, d_stream)
    assert d_mem < 0.3 * d_plain, (d_plain, d_mem)
    assert abs(d_stream - d_mem) < 0.02, (d_mem, d_stream)
    assert len(stream.history_["dcor2_m"]) == 4  # named after the Parquet column
    assert list(stream.feature_names_in_) == ["x0", "x1", "x2"]
    assert stream.history_["monitor_rows"] == [3000.0]


def test_streaming_regressor_target_standardisation():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(3000, 2))
    y = 3.0 + 2.0 * X[:, 0] + 0.1 * rng.normal(size=3000)
    w = rng.uniform(0.5, 1.5, 3000)
    src = ArraySource(X, y, weight=w, protected=X[:, 1], chunk_rows=400)
    kw = {**MLP, "loss": "mse", "random_state": 0, "penalty": DisCo(strength=1.0)}
    mem = DecorrelatedRegressor(**kw).fit(X, y, protected=X[:, 1], sample_weight=w)
    stream = fit_streaming(DecorrelatedRegressor(**kw), src, buffer_rows=1000)
    assert stream.y_mean_ == pytest.approx(mem.y_mean_, rel=1e-10)
    assert stream.y_scale_ == pytest.approx(mem.y_scale_, rel=1e-10)
    assert abs(stream.score(X, y) - mem.score(X, y)) < 0.05


@pytest.mark.parametrize("penalty", [Adversary(strength=1.0), DisCo(strength=5.0)])
def test_streaming_penalties_with_penalty_only_rows(penalty):
    X, y, m = make_toy(2000, 21)
    pw = np.where(y == 0, 1.0, 0.0)
    w = np.where(np.arange(2000) % 4 == 0, 0.0, 1.0)  # some penalty-only rows
    src = ArraySource(X, y, weight=w, protected=m, penalty_weight=pw, chunk_rows=300)
    kw = {**MLP, "epochs": 2, "random_state": 1, "penalty": penalty, "min_penalty_rows": 600}
    est = DecorrelatedClassifier(**kw).fit_stream(src, buffer_rows=800)
    hist = est.history_
    assert np.isfinite(hist["penalty_loss"]).all()
    assert hist["penalty_loss"][-1] != 0
    assert est.score(X, y) > 0.6


def test_streaming_domain_penalty():
    X, y, _ = make_toy(2000, 31)
    Xd, _, _ = make_toy(1000, 32)
    Xd[:, 1] += 0.5
    src = ArraySource(X, y, chunk_rows=500)
    dom = ArraySource(Xd, chunk_rows=250)
    kw = {**MLP, "batch_size": 128, "random_state": 2, "penalty": DomainDisCo(strength=2.0)}
    est = DecorrelatedClassifier(**kw).fit_stream(src, domain=dom, buffer_rows=800)
    assert np.isfinite(est.history_["penalty_loss"]).all()
    assert est.history_["penalty_loss"][-1] > 0
    assert est.history_["train_auc"][0] > 0.6


def test_streaming_refusals(tmp_path):
    X, y, _ = make_toy(200, 1)
    src = ArraySource(X, y, chunk_rows=50)
    with pytest.raises(ConfigError, match="early_stopping"):
        DecorrelatedClassifier(**MLP, early_stopping=True).fit_stream(src)
    with pytest.raises(ConfigError, match="protected"):
        DecorrelatedClassifier(**MLP, penalty=DisCo(strength=1.0)).fit_stream(src)
    with pytest.raises(ConfigError, match="domain"):
        DecorrelatedClassifier(**MLP, penalty=DomainDisCo(strength=1.0)).fit_stream(src)
    with pytest.raises(ConfigError, match="two classes"):
        scan_source(ArraySource(X, np.zeros(200), chunk_rows=50), classification=True)
    with pytest.raises(ConfigError, match="cannot read"):
        ParquetSource([tmp_path / "missing.parquet"], features=["x0"])
    with pytest.raises(ConfigError, match="buffer_rows"):
        ShuffleBuffer(src, batch_size=8, buffer_rows=0, seed=0)


def test_histogram_auc_within_its_bound_of_exact():
    from decorr_af.metrics import auc
    from decorr_af.models.stream_metrics import HistogramAUC

    rng = np.random.default_rng(6)
    y = (rng.random(30000) < 0.3).astype(int)
    p = 1 / (1 + np.exp(-rng.normal(1.2 * y, 1.0)))
    w = rng.uniform(0.2, 2.0, 30000)
    for bins in (64, 4096):
        h = HistogramAUC(bins=bins)
        for part in np.array_split(np.arange(30000), 7):
            h.update(p[part], y[part], w[part])
        exact = auc(y, p, w)
        assert abs(h.value() - exact) <= h.max_error()
    assert h.max_error() < 1e-3
    with pytest.raises(ConfigError, match="HistogramAUC"):
        HistogramAUC(bins=1)


def test_subsampled_dcor2_reports_its_error():
    from decorr_af.models.stream_metrics import SubsampledDCor2

    rng = np.random.default_rng(7)
    x = rng.normal(size=40000)
    z = x**2 + rng.normal(size=40000)
    est = SubsampledDCor2(rows=3000, groups=6, seed=1)
    for part in np.array_split(np.arange(40000), 5):
        est.update(x[part], z[part])
    value, err = est.value()
    exact = distance_correlation(x, z, squared=True)
    assert 0 < err < 0.05
    assert abs(value - exact) < 4 * err + 2e-3  # + the O(1/rows) bias of the subsamples
    with pytest.raises(ConfigError, match="SubsampledDCor2"):
        SubsampledDCor2(rows=2)

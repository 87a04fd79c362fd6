"""DisCo-XGB with xgboost external memory and with xgboost.dask (issue #14)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from decorr_af.decorrelation import distance_correlation
from decorr_af.decorrelation.penalties import DisCo, DomainDisCo
from decorr_af.errors import ConfigError

pytest.importorskip("xgboost")

from decorr_af.models import DisCoXGBClassifier, DisCoXGBRegressor, load_model
from decorr_af.models.streaming import ArraySource, ParquetSource
from decorr_af.models.xgb import DisCoObjective
from decorr_af.models.xgb_scale import PartitionDisCoObjective, fit_dask, fit_external_memory

FAST = {"n_estimators": 40, "max_depth": 3, "learning_rate": 0.2, "device": "cpu", "n_jobs": 1}


def make_toy(n, seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    m = rng.exponential(1.0, n)
    x0 = np.where(y == 1, rng.normal(1.5, 0.7, n), m + rng.normal(0, 0.3, n))
    return np.c_[x0, rng.normal(1.0 * y, 1.0, n), rng.normal(size=n)], y, m


def bkg_dcor2(model, X, y, m):
    p = model.predict_proba(X)[:, 1]
    return distance_correlation(p[y == 0], m[y == 0], squared=True)


def test_external_memory_equals_in_memory(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X, y, m = make_toy(3000, 41)
    table = pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "label": y, "m": m})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=700)
    src = ParquetSource([tmp_path / "t.parquet"], ["a", "b", "c"], target="label", protected=["m"])
    kw = {**FAST, "penalty": DisCo(strength=10.0), "penalty_radius": 0.3}
    mem = DisCoXGBClassifier(**kw).fit(X, y, protected=m)
    ext = fit_external_memory(DisCoXGBClassifier(**kw), src, cache_dir=tmp_path)
    np.testing.assert_allclose(ext.predict_proba(X), mem.predict_proba(X), atol=1e-6)
    assert list(tmp_path.iterdir()) == [tmp_path / "t.parquet"]  # page cache removed
    path = ext.save(tmp_path / "model")
    np.testing.assert_array_equal(load_model(path).predict_proba(X), ext.predict_proba(X))


def test_external_memory_regressor():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2000, 2))
    y = 5 + X[:, 0] + 0.1 * rng.normal(size=2000)
    kw = {**FAST, "penalty": DisCo(strength=1.0)}
    mem = DisCoXGBRegressor(**kw).fit(X, y, protected=X[:, 1])
    ext = fit_external_memory(DisCoXGBRegressor(**kw), ArraySource(X, y, protected=X[:, 1], chunk_rows=300))  # fmt: skip
    np.testing.assert_allclose(ext.predict(X), mem.predict(X), atol=1e-5)


@pytest.mark.dask
@pytest.mark.slow
def test_dask_disco_per_partition(dask_client):
    da = pytest.importorskip("dask.array")
    X, y, m = make_toy(6000, 43)
    Xd, yd, md = (da.from_array(X, chunks=(1500, 3)), da.from_array(y, chunks=1500), da.from_array(m, chunks=1500))  # fmt: skip
    kw = {**FAST, "penalty_radius": 0.3}
    plain = fit_dask(DisCoXGBClassifier(**kw), dask_client, Xd, yd)
    disco = fit_dask(DisCoXGBClassifier(**kw, penalty=DisCo(strength=10.0)), dask_client, Xd, yd, protected=md)  # fmt: skip
    single = DisCoXGBClassifier(**kw, penalty=DisCo(strength=10.0)).fit(X, y, protected=m)
    d_plain, d_dask, d_single = (bkg_dcor2(e, X, y, m) for e in (plain, disco, single))
    assert d_dask < 0.25 * d_plain, (d_plain, d_dask)
    assert abs(d_dask - d_single) < 0.5 * d_plain, (d_dask, d_single)  # batch DisCo
    assert disco.score(X, y) > 0.7
    np.testing.assert_array_equal(disco.classes_, [0, 1])


@pytest.mark.dask
def test_dask_regressor(dask_client):
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3000, 2))
    y = 2 + X[:, 0] + 0.1 * rng.normal(size=3000)
    est = fit_dask(
        DisCoXGBRegressor(**FAST, penalty=DisCo(strength=1.0)),
        dask_client,
        da.from_array(X, chunks=(1000, 2)),
        da.from_array(y, chunks=1000),
        protected=da.from_array(X[:, 1], chunks=1000),
    )
    assert est.y_mean_ == pytest.approx(y.mean())
    assert est.score(X, y) > 0.8


def test_partition_objective_reads_its_matrix_once():
    """The per-worker objective equals DisCoObjective on the worker's rows, every round."""
    xgb = pytest.importorskip("xgboost")
    X, y, m = make_toy(600, 44)
    w = np.random.default_rng(45).uniform(0.5, 2.0, len(y))
    dm = xgb.DMatrix(X, label=y.astype(float), weight=w)
    dm.set_float_info("label_lower_bound", m)  # stored as float32 by xgboost
    pen = DisCo(strength=5.0)
    pen.setup(task="classification")
    obj = PartitionDisCoObjective("classification", pen, radius=0.3)
    w32, m32 = w.astype(np.float32).astype(float), m.astype(np.float32).astype(float)
    ref = DisCoObjective("classification", y, w32, penalty=pen, protected=m32, radius=0.3)
    rng = np.random.default_rng(46)
    first = None
    for _ in range(3):  # one boosting round each
        f = rng.normal(size=len(y))
        got, want = obj(f, dm), ref.gradient(f)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        first = first or obj._objective
        assert obj._objective is first  # built on the first round only
    other = xgb.DMatrix(X[:300], label=y[:300].astype(float))
    other.set_float_info("label_lower_bound", m[:300])
    assert obj(np.zeros(300), other)[0].shape == (300,)
    assert obj._objective is not first  # a new matrix: rebuilt
    shipped = copy.deepcopy(obj)  # what pickling to a worker keeps: no cache
    assert shipped._objective is None
    assert shipped._dtrain is None
    assert shipped.radius == 0.3


def test_refusals():
    X, y, _ = make_toy(300, 1)
    src = ArraySource(X, y, chunk_rows=100)
    with pytest.raises(ConfigError, match="early_stopping_rounds"):
        fit_external_memory(DisCoXGBClassifier(**FAST, early_stopping_rounds=3), src)
    with pytest.raises(ConfigError, match="domain"):
        fit_external_memory(DisCoXGBClassifier(**FAST, penalty=DomainDisCo(strength=1.0)), src)
    with pytest.raises(ConfigError, match="protected"):
        fit_external_memory(DisCoXGBClassifier(**FAST, penalty=DisCo(strength=1.0)), src)
    with pytest.raises(ConfigError, match="protected"):
        fit_dask(DisCoXGBClassifier(**FAST, penalty=DisCo(strength=1.0)), None, X, y)


# --- memory (issue #14: 20M photons): compact arrays, same values ---------------------
def test_external_memory_keeps_compact_columns(tmp_path):
    """The 1-D columns stay in the source's compact dtypes; unit weights cost no memory."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from decorr_af.models.xgb_scale import _columns

    X, y, m = make_toy(900, 47)
    cols = {"a": X[:, 0].astype(np.float32), "label": y.astype(np.int8), "m": m.astype(np.float32)}
    pq.write_table(pa.table(cols), tmp_path / "t.parquet", row_group_size=400)
    src = ParquetSource([tmp_path / "t.parquet"], ["a"], target="label", protected=["m"])
    yy, w, z, d = _columns(src)
    assert (yy.dtype, z.dtype, z.shape, d) == (np.int8, np.float32, (900, 1), 1)
    assert w.strides == (0,)
    assert w.dtype == np.float64
    assert float(w.sum()) == 900.0
    weighted = ArraySource(X, y, weight=np.full(900, 0.5), chunk_rows=400)
    assert _columns(weighted)[1].dtype == np.float32  # 0.5 is exact in float32
    odd = ArraySource(X, y, weight=np.full(900, 0.1), chunk_rows=400)
    assert _columns(odd)[1].dtype == np.float64  # 0.1 is not: kept float64


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_objective_compact_inputs_same_values(task):
    """float32 / broadcast inputs and float32 outputs give the float64 objective's values."""
    rng = np.random.default_rng(48)
    n = 3000
    t = (rng.random(n) < 0.4).astype(float) if task == "classification" else rng.normal(size=n)
    z = np.round(rng.exponential(1.0, n), 1).astype(np.float32)  # float32 with ties
    pen = DisCo(strength=10.0)
    pen.setup(task=task)
    f = rng.normal(size=n).astype(np.float32)
    ref = DisCoObjective(task, t, np.ones(n), penalty=pen, protected=z.astype(float), radius=0.3)
    small = DisCoObjective(
        task,
        t.astype(np.float32) if task == "classification" else t,
        np.broadcast_to(np.float64(1.0), (n,)),
        penalty=pen,
        protected=z,
        radius=0.3,
        out_dtype=np.float32,
    )
    assert small.y.dtype == (np.float32 if task == "classification" else np.float64)
    assert small._inputs["weight"] is None
    assert small._inputs["protected"].dtype == np.float32
    g64, h64 = ref.gradient(f, 0.7)
    g32, h32 = small.gradient(f, 0.7)
    assert g32.dtype == h32.dtype == np.float32
    np.testing.assert_array_equal(g32, g64.astype(np.float32))  # xgboost's own cast
    np.testing.assert_array_equal(h32, h64.astype(np.float32))
    assert small.W == ref.W
    assert small.value(f) == ref.value(f)


def test_dcov_kernel_fused_cross_sum_equals_stored():
    """The kernel's fused Fenwick pass (no P, Q arrays) gives the stored pass's figures."""
    from decorr_af.decorrelation import _fast

    rng = np.random.default_rng(49)
    n = 2000
    x = np.round(rng.normal(size=n), 1)  # ties in x and in y
    y = np.round(rng.exponential(1.0, n), 1)
    w = rng.uniform(0.5, 1.5, n)
    w *= n / w.sum()
    ox, oy = _fast.argsort(x), _fast.argsort(y)
    assert _fast.argsort(np.float32(x).astype(float)).dtype == np.int32  # float32 data: int32
    np.testing.assert_array_equal(x[ox], np.sort(x))
    xs, ys, ws = x[ox], y[ox], w[ox]
    yrank = np.searchsorted(np.unique(ys), ys) + 1
    rsy = np.array([(w * np.abs(v - y)).sum() for v in ys])
    rsx = np.array([(w * np.abs(v - x)).sum() for v in xs])
    pk, qk, dk = _fast._fenwick_pass(xs, ys, ws, yrank, int(yrank.max()), rsy, True)
    pk2, qk2, dk2, ssum = _fast._fenwick(xs, ys, ws, yrank, int(yrank.max()), rsy, True, False)
    assert len(pk2) == len(qk2) == 0
    np.testing.assert_array_equal(dk2, dk)
    assert _fast._cross_from_sum(ssum, xs, ws, rsx, rsy) == _fast._cross_value(xs, ws, rsx, rsy, pk, qk)  # fmt: skip
    rs_at = _fast._row_sums_at(y, w, oy)
    np.testing.assert_array_equal(rs_at[oy], _fast._row_sums(y[oy], w[oy]))

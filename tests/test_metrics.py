"""Tests of decorr_af.metrics against hand-computed values, scipy and scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score

from decorr_af import metrics
from decorr_af.errors import ConfigError, NonFiniteValueError


@pytest.fixture
def clf_sample() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(90210)
    n = 3000
    y = rng.integers(0, 2, size=n)
    mass = rng.exponential(50.0, size=n) + 20.0
    score = rng.normal(size=n) + 1.5 * y + 0.01 * (1 - y) * mass
    w = rng.integers(1, 4, size=n).astype(float)
    return y, score, mass, w


def test_weighted_quantile_conventions() -> None:
    v = np.random.default_rng(3).normal(size=101)
    q = [0.0, 0.1, 0.25, 0.5, 0.9, 1.0]
    np.testing.assert_allclose(metrics.weighted_quantile(v, q), np.quantile(v, q, method="hazen"))
    w = np.random.default_rng(4).integers(1, 5, size=101)
    np.testing.assert_allclose(
        metrics.weighted_quantile(v, [0.2, 0.5], w),
        np.quantile(np.repeat(v, w), [0.2, 0.5], method="hazen"),
        atol=0.1,  # midpoint rule on grouped vs replicated points differ within a group
    )
    assert metrics.weighted_quantile([5.0, 1.0, 3.0], 0.5) == 3.0
    assert metrics.weighted_quantile([1.0, 2.0], 0.5, weights=[0.0, 1.0]) == 2.0


def test_roc_auc_match_sklearn(clf_sample: tuple) -> None:
    y, score, _, w = clf_sample
    assert metrics.auc(y, score) == pytest.approx(roc_auc_score(y, score))
    assert metrics.auc(y, score, weights=w) == pytest.approx(
        roc_auc_score(np.repeat(y, w.astype(int)), np.repeat(score, w.astype(int)))
    )
    fpr, tpr, _ = metrics.roc_curve(y, score, weights=w)
    assert np.trapezoid(tpr, fpr) == pytest.approx(metrics.auc(y, score, weights=w))


def test_efficiency_threshold_and_rejection(clf_sample: tuple) -> None:
    y, score, _, w = clf_sample
    sig = y == 1
    for eff in (0.3, 0.5, 0.8):
        thr = metrics.efficiency_threshold(y, score, eff, weights=w)
        passed = (w[sig] * (score[sig] > thr)).sum() / w[sig].sum()
        assert passed == pytest.approx(eff, abs=2e-3)
    r50 = metrics.rejection_at_efficiency(y, score, 0.5, weights=w)
    thr = metrics.efficiency_threshold(y, score, 0.5, weights=w)
    eps_b = (w[~sig] * (score[~sig] > thr)).sum() / w[~sig].sum()
    assert r50 == pytest.approx(1.0 / eps_b)
    # hand-computed: signal {0.8, 0.95} -> threshold 0.875; 1 of 4 background above
    assert (
        metrics.rejection_at_efficiency([0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.9, 0.8, 0.95]) == 4.0
    )
    assert metrics.rejection_at_efficiency([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == np.inf


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: metrics.rejection_at_efficiency([0, 2], [0.1, 0.2]), ConfigError, "only 0"),
        (lambda: metrics.efficiency_threshold([0, 1], [0.1, 0.2], 1.0), ConfigError, "eff"),
        (lambda: metrics.efficiency_threshold([0, 0], [0.1, 0.2], 0.5), ConfigError, "no signal"),
        (lambda: metrics.auc([0, 1], [0.1, np.nan]), NonFiniteValueError, "score"),
        (lambda: metrics.auc([0, 1], [0.1, 0.2, 0.3]), ConfigError, "same length"),
        (lambda: metrics.pearson([1, 2], [1, 2], weights=[1, -1]), ConfigError, "weights"),
        (lambda: metrics.response([1.0], [0.0]), ConfigError, "e_true"),
        (lambda: metrics.chi2_test([1, 2], [1, 2, 3]), ConfigError, "bin counts"),
        (lambda: metrics.binned_response([1.0], [1.0], [1.0], [2, 1]), ConfigError, "bins"),
    ],
)
def test_errors(call, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_sculpting_jsd_against_scipy(clf_sample: tuple) -> None:
    y, score, mass, w = clf_sample
    edges = np.linspace(20, 250, 31)
    got = metrics.sculpting_jsd(mass, score, y, bins=edges, weights=w)
    thr = metrics.efficiency_threshold(y, score, 0.5, weights=w)
    bkg = y == 0
    passed = score > thr
    hp = np.histogram(mass[bkg & passed], edges, weights=w[bkg & passed])[0]
    hf = np.histogram(mass[bkg & ~passed], edges, weights=w[bkg & ~passed])[0]
    assert got == pytest.approx(jensenshannon(hp, hf, base=2) ** 2, rel=1e-9)
    assert got > 0.02  # the background score grows with mass: sculpting
    default = metrics.sculpting_jsd(mass, score, y, weights=w)
    assert 0 < default < 1
    assert metrics.inverse_jsd(default) == pytest.approx(1 / default)


def test_sculpting_jsd_extremes() -> None:
    rng = np.random.default_rng(17)
    mass = rng.uniform(0, 1, 20000)
    y = np.r_[np.zeros(10000), np.ones(10000)]
    # score = mass for background: pass/fail populations are disjoint in mass -> JSD = 1
    score = np.where(y == 0, mass, rng.uniform(0, 1, 20000))
    assert metrics.sculpting_jsd(mass, score, y, bins=20, range=(0, 1)) > 0.9
    flat = rng.uniform(0, 1, 20000)
    assert metrics.sculpting_jsd(mass, flat, y, bins=10, range=(0, 1)) < 0.005
    assert metrics.inverse_jsd(0.0) == np.inf
    assert np.isnan(metrics.sculpting_jsd(mass, y * 2.0, y, bins=5))  # no background passes


def test_pearson() -> None:
    rng = np.random.default_rng(8)
    x, w = rng.normal(size=500), rng.integers(1, 4, size=500)
    y = x + rng.normal(size=500)
    assert metrics.pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert metrics.pearson(x, y, weights=w) == pytest.approx(
        np.corrcoef(np.repeat(x, w), np.repeat(y, w))[0, 1]
    )
    assert metrics.pearson(x, np.ones(500)) == 0.0


def test_ks_test() -> None:
    rng = np.random.default_rng(11)
    a, b = rng.normal(size=400), rng.normal(0.2, 1.0, size=300)
    ref = ks_2samp(a, b, method="asymp")
    d, p = metrics.ks_test(a, b)
    assert d == pytest.approx(ref.statistic)
    assert p == pytest.approx(ref.pvalue, rel=1e-6)
    wa = rng.integers(1, 4, size=400)
    d_w, p_w = metrics.ks_test(a, b, weights_a=wa)
    assert d_w == pytest.approx(ks_2samp(np.repeat(a, wa), b).statistic)
    assert 0.0 <= p_w <= 1.0
    assert metrics.ks_test([1.0, 2.0], [1.0, 2.0]) == (0.0, 1.0)


def test_chi2_test() -> None:
    import hist

    r = metrics.chi2_test([10.0, 20.0, 30.0], [12.0, 18.0, 30.0])
    assert r.chi2 == pytest.approx(4 / 22 + 4 / 38)
    assert r.ndf == 3
    assert r.chi2_ndf == pytest.approx(r.chi2 / 3)
    from scipy.stats import chi2

    assert r.pvalue == pytest.approx(chi2.sf(r.chi2, 3))
    # (values, variances) tuples, an empty bin, and shape normalisation
    r2 = metrics.chi2_test(([4.0, 0.0, 6.0], [4.0, 0.0, 6.0]), ([1.0, 0.0, 4.0], [0.5, 0.0, 1.0]))
    assert r2.ndf == 2
    assert r2.chi2 == pytest.approx(9 / 4.5 + 4 / 7)
    r3 = metrics.chi2_test([4.0, 0.0, 6.0], ([1.0, 0.0, 4.0], [0.5, 0.0, 1.0]), normalise=True)
    assert r3.ndf == 1
    assert r3.chi2 == pytest.approx(4 / (4 + 2) + 4 / (6 + 4))  # MC scaled by 2
    h1 = hist.Hist.new.Reg(3, 0, 3).Weight()
    h2 = hist.Hist.new.Reg(3, 0, 3).Weight()
    h1.fill([0.5, 1.5, 1.5, 2.5], weight=[1, 2, 2, 1])
    h2.fill([0.5, 1.5, 2.5], weight=[1, 3, 2])
    r4 = metrics.chi2_test(h1, h2)
    assert r4.chi2 == pytest.approx(0 / 2 + 1 / (8 + 9) + 1 / (1 + 4))


def test_abcd_nonclosure() -> None:
    # yields A=6, B=3, C=4, D=2 -> ratio = 6*2/(3*4) = 1
    sp = np.r_[np.ones(9), np.zeros(6)]
    ip = np.r_[np.ones(6), np.zeros(3), np.ones(4), np.zeros(2)]
    nc, err = metrics.abcd_nonclosure(sp, ip)
    assert nc == pytest.approx(0.0, abs=1e-12)
    assert err == pytest.approx(np.sqrt(1 / 6 + 1 / 3 + 1 / 4 + 1 / 2))
    w = np.r_[np.full(6, 2.0), np.ones(9)]  # A doubles -> ratio 2
    nc, err = metrics.abcd_nonclosure(sp, ip, weights=w)
    assert nc == pytest.approx(1.0)
    assert err == pytest.approx(2 * np.sqrt(24 / 144 + 1 / 3 + 1 / 4 + 1 / 2))
    assert np.isnan(metrics.abcd_nonclosure([1, 1], [1, 0])[0])


def test_response_and_resolution() -> None:
    t = np.full(4, 10.0)
    p = np.array([8.0, 9.0, 11.0, 12.0])
    assert metrics.response(p, t) == pytest.approx(1.0)
    # hazen quartiles of {0.8, 0.9, 1.1, 1.2}: 0.85 and 1.15
    assert metrics.iqr_resolution(p, t, relative=False) == pytest.approx(0.15)
    assert metrics.iqr_resolution(p * 2, t) == pytest.approx(0.15)
    rng = np.random.default_rng(2)
    e_true = rng.uniform(20, 200, 40000)
    e_pred = e_true * rng.normal(1.02, 0.05, 40000)
    assert metrics.response(e_pred, e_true) == pytest.approx(1.02, abs=2e-3)
    assert metrics.iqr_resolution(e_pred, e_true, relative=False) == pytest.approx(
        0.6745 * 0.05, rel=0.03
    )


def test_binned_response() -> None:
    rng = np.random.default_rng(31)
    n = 20000
    eta = rng.uniform(0, 2.5, n)
    e_true = rng.uniform(20, 200, n)
    sigma = np.where(eta < 1.37, 0.03, 0.08)
    e_pred = e_true * rng.normal(1.0, sigma)
    w = rng.uniform(0.5, 1.5, n)
    df = metrics.binned_response(e_pred, e_true, eta, [0, 1.37, 2.5, 3.0], weights=w)
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == [
        "low", "high", "center", "n", "n_eff", "response", "response_err",
        "resolution", "resolution_err",
    ]  # fmt: skip
    first = eta < 1.37
    assert df["n"].tolist() == [int(first.sum()), int((~first).sum()), 0]
    assert df.loc[0, "response"] == pytest.approx(
        metrics.response(e_pred[first], e_true[first], weights=w[first])
    )
    assert df.loc[1, "resolution"] == pytest.approx(
        metrics.iqr_resolution(e_pred[~first], e_true[~first], weights=w[~first])
    )
    assert df.loc[0, "resolution"] == pytest.approx(0.6745 * 0.03, rel=0.05)
    # error estimates: 1.2533 sigma / sqrt(n_eff) for the median
    sigma1 = 2 * df.loc[1, "resolution"] * df.loc[1, "response"] / 1.349
    assert df.loc[1, "response_err"] == pytest.approx(1.2533 * sigma1 / np.sqrt(df.loc[1, "n_eff"]))
    assert df.loc[1, "n_eff"] < df.loc[1, "n"]
    assert df.loc[2, ["response", "resolution"]].isna().all()


def test_inverse_jsd_ceiling_is_the_random_cut_value() -> None:
    rng = np.random.default_rng(90210)
    n = 6000
    prot = rng.exponential(3.0, n)
    y = (rng.uniform(size=n) < 0.4).astype(int)
    w = rng.gamma(6.0, 1 / 6.0, n)
    kw = {"eff": 0.5, "bins": np.linspace(0, 15, 21), "weights": w}
    ceil = metrics.inverse_jsd_ceiling(
        prot, rng.uniform(size=n), y, n_permutations=200, seed=1, **kw
    )
    # independent random scores reach the ceiling on average ...
    jsd = [metrics.sculpting_jsd(prot, rng.uniform(size=n), y, **kw) for _ in range(60)]
    assert 1.0 / np.mean(jsd) == pytest.approx(ceil, rel=0.15)
    # ... a sculpting score does not
    sculpt = -prot + rng.normal(0, 2.0, n)
    assert metrics.inverse_jsd(metrics.sculpting_jsd(prot, sculpt, y, **kw)) < 0.2 * ceil
    # seeded and reproducible; the ceiling grows with the sample size (~ N)
    s = rng.uniform(size=n)
    one = metrics.random_cut_jsd(prot, s, y, n_permutations=30, seed=4, **kw)
    np.testing.assert_array_equal(
        one, metrics.random_cut_jsd(prot, s, y, n_permutations=30, seed=4, **kw)
    )
    assert one.shape == (30,)
    big = np.tile(prot, 4), np.tile(s, 4), np.tile(y, 4)
    kw4 = {**kw, "weights": np.tile(w, 4)}
    ceil4 = metrics.inverse_jsd_ceiling(*big, n_permutations=100, seed=2, **kw4)
    assert 2.5 < ceil4 / ceil < 6.0
    with pytest.raises(ConfigError, match="n_permutations"):
        metrics.random_cut_jsd(prot, s, y, n_permutations=0)

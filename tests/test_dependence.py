"""U-statistic / partial dCor, independence tests and energy distance.

References are direct O(N²) (or O(N⁴) for the weighted definition over distinct
index tuples) formulas written here, and ``dcor`` / ``scipy`` where they apply.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from decorr_af.decorrelation import (
    distance_correlation,
    independence_test,
    partial_distance_correlation,
    partial_distance_covariance,
    u_distance_correlation_sq,
    u_distance_covariance_sq,
)
from decorr_af.decorrelation import independence as ind
from decorr_af.errors import ConfigError, NonFiniteValueError
from decorr_af.metrics import energy_distance


# ----------------------------------------------------------------- references
def _u_centred(v: np.ndarray) -> np.ndarray:
    """Székely & Rizzo (2014) U-centred distance matrix."""
    n = v.shape[0]
    a = np.abs(v[:, None] - v[None, :])
    out = (
        a
        - a.sum(1)[:, None] / (n - 2)
        - a.sum(0)[None, :] / (n - 2)
        + a.sum() / ((n - 1) * (n - 2))
    )
    np.fill_diagonal(out, 0.0)
    return out


def _u_product(a: np.ndarray, b: np.ndarray) -> float:
    n = a.shape[0]
    return float((a * b).sum() / (n * (n - 3)))


def _pdcor_direct(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    """(pdCov, pdCor) by projecting U-centred matrices (Székely & Rizzo 2014, §4)."""
    a, b, c = _u_centred(x), _u_centred(y), _u_centred(z)
    pa = a - _u_product(a, c) / _u_product(c, c) * c
    pb = b - _u_product(b, c) / _u_product(c, c) * c
    pdcov = _u_product(pa, pb)
    return pdcov, pdcov / np.sqrt(_u_product(pa, pa) * _u_product(pb, pb))


def _omega_distinct(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """The weighted U-statistic by its definition: ratios of sums over distinct tuples."""
    n = x.shape[0]
    a = np.abs(x[:, None] - x[None, :])
    b = np.abs(y[:, None] - y[None, :])
    num2 = den2 = num3 = den3 = num4 = den4 = 0.0
    for i, j in itertools.permutations(range(n), 2):
        num2 += w[i] * w[j] * a[i, j] * b[i, j]
        den2 += w[i] * w[j]
    for i, j, k in itertools.permutations(range(n), 3):
        num3 += w[i] * w[j] * w[k] * a[i, j] * b[i, k]
        den3 += w[i] * w[j] * w[k]
    for i, j, k, m in itertools.permutations(range(n), 4):
        ww = w[i] * w[j] * w[k] * w[m]
        num4 += ww * a[i, j] * b[k, m]
        den4 += ww
    return num2 / den2 + num4 / den4 - 2.0 * num3 / den3


def _sample(n: int, seed: int, ties: bool = False) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    z = rng.exponential(size=n)
    x = z + rng.normal(size=n)
    y = np.cos(2 * x) + z + 0.3 * rng.normal(size=n)
    if ties:
        x, y = np.round(x), np.round(2 * y) / 2
    return x, y, z, rng.uniform(0.2, 3.0, size=n)


# ----------------------------------------------------------- U-statistics
@pytest.mark.parametrize(("n", "ties"), [(9, False), (10, True)])
def test_weighted_u_statistic_matches_its_definition(n: int, ties: bool) -> None:
    x, y, _, w = _sample(n, 11 + n, ties)
    ref = _omega_distinct(x, y, w)
    assert u_distance_covariance_sq(x, y, weights=w) == pytest.approx(ref, rel=1e-10, abs=1e-12)
    ref_xx = _omega_distinct(x, x, w)
    assert u_distance_covariance_sq(x, x, weights=w) == pytest.approx(ref_xx, rel=1e-10)
    # unweighted, the definition is Székely–Rizzo's U-centred inner product
    assert _omega_distinct(x, y, np.ones(n)) == pytest.approx(
        _u_product(_u_centred(x), _u_centred(y)), rel=1e-10, abs=1e-12
    )


@pytest.mark.parametrize(("n", "ties"), [(6, False), (40, True), (700, False)])
def test_unweighted_u_statistic_matches_direct_formula(n: int, ties: bool) -> None:
    x, y, _, _ = _sample(n, 3 * n, ties)
    a, b = _u_centred(x), _u_centred(y)
    ref = _u_product(a, b)
    assert u_distance_covariance_sq(x, y) == pytest.approx(ref, rel=1e-9, abs=1e-12)
    ref_r = ref / np.sqrt(_u_product(a, a) * _u_product(b, b))
    assert u_distance_correlation_sq(x, y) == pytest.approx(ref_r, rel=1e-9, abs=1e-12)


def test_u_statistic_matches_dcor() -> None:
    dcor = pytest.importorskip("dcor")
    x, y, z, _ = _sample(500, 7)
    plain = {"method": "naive", "compile_mode": dcor.CompileMode.NO_COMPILE}  # no numba compile
    assert u_distance_covariance_sq(x, y) == pytest.approx(
        dcor.u_distance_covariance_sqr(x, y, **plain), rel=1e-9
    )
    assert u_distance_correlation_sq(x, y) == pytest.approx(
        dcor.u_distance_correlation_sqr(x, y, **plain), rel=1e-9
    )
    assert partial_distance_covariance(x, y, z) == pytest.approx(
        dcor.partial_distance_covariance(x, y, z), rel=1e-9
    )
    assert partial_distance_correlation(x, y, z) == pytest.approx(
        dcor.partial_distance_correlation(x, y, z), rel=1e-9
    )


def test_only_weight_ratios_matter() -> None:
    """Constant weights of any scale give the unweighted U-statistic."""
    x, y, _, _ = _sample(30, 5)
    w = np.full(30, 3.0)
    assert u_distance_covariance_sq(x, y, weights=w) == pytest.approx(
        u_distance_covariance_sq(x, y)
    )


def test_u_statistic_is_unbiased_under_independence() -> None:
    rng = np.random.default_rng(2024)
    n, reps = 40, 400
    u_vals, r_vals, v_vals = np.empty(reps), np.empty(reps), np.empty(reps)
    for r in range(reps):
        x, y = rng.exponential(size=n), rng.normal(size=n)
        w = rng.uniform(0.5, 2.0, size=n)
        u_vals[r] = u_distance_covariance_sq(x, y, weights=w)
        r_vals[r] = u_distance_correlation_sq(x, y, weights=w)
        v_vals[r] = distance_correlation(x, y, weights=w, squared=True)
    for vals in (u_vals, r_vals):
        assert abs(vals.mean()) < 4 * vals.std(ddof=1) / np.sqrt(reps)
    assert v_vals.mean() > 20 * v_vals.std(ddof=1) / np.sqrt(reps)  # V-statistic: biased up
    assert (u_vals < 0).mean() > 0.3  # the U-statistic takes both signs


def test_u_correlation_of_a_variable_with_itself_is_one() -> None:
    x, _, _, w = _sample(200, 1)
    assert u_distance_correlation_sq(x, x, weights=w) == pytest.approx(1.0)
    assert u_distance_correlation_sq(x, np.full(200, 2.0)) == 0.0


# ----------------------------------------------------------- partial dCor
@pytest.mark.parametrize(("n", "ties"), [(12, False), (300, True)])
def test_partial_dcor_matches_direct_formula(n: int, ties: bool) -> None:
    x, y, z, _ = _sample(n, 5 * n, ties)
    pdcov, pdcor = _pdcor_direct(x, y, z)
    assert partial_distance_covariance(x, y, z) == pytest.approx(pdcov, rel=1e-9, abs=1e-12)
    assert partial_distance_correlation(x, y, z) == pytest.approx(pdcor, rel=1e-9, abs=1e-12)


def test_weighted_partial_dcor_matches_its_definition() -> None:
    x, y, z, w = _sample(8, 99)
    o = {
        (p, q): _omega_distinct(u, v, w)
        for (p, u), (q, v) in itertools.product(zip("xyz", (x, y, z)), repeat=2)
    }
    pdcov = o["x", "y"] - o["x", "z"] * o["y", "z"] / o["z", "z"]
    assert partial_distance_covariance(x, y, z, weights=w) == pytest.approx(pdcov, rel=1e-9)

    def r(p: str, q: str) -> float:
        return o[p, q] / np.sqrt(o[p, p] * o[q, q])

    ref = (r("x", "y") - r("x", "z") * r("y", "z")) / np.sqrt(
        (1 - r("x", "z") ** 2) * (1 - r("y", "z") ** 2)
    )
    assert partial_distance_correlation(x, y, z, weights=w) == pytest.approx(ref, rel=1e-9)


def test_partial_dcor_removes_a_common_cause() -> None:
    rng = np.random.default_rng(8)
    pt = rng.exponential(size=5000)
    iso, score = pt + rng.normal(size=5000), pt + rng.normal(size=5000)
    assert u_distance_correlation_sq(iso, score) > 0.1
    assert abs(partial_distance_correlation(iso, score, pt)) < 0.02
    direct = score + 0.5 * iso  # a direct dependence survives the projection
    assert partial_distance_correlation(iso, direct, pt) > 0.1


# ------------------------------------------------------ independence tests
def _ks_uniform_p(pvalues: np.ndarray) -> float:
    return float(stats.kstest(pvalues, "uniform").pvalue)


def test_permutation_pvalues_are_uniform_under_independence() -> None:
    rng = np.random.default_rng(31)
    pv = np.array(
        [
            independence_test(
                rng.normal(size=150), rng.exponential(size=150),
                method="permutation", n_permutations=199, seed=s,
            ).pvalue
            for s in range(150)
        ]
    )  # fmt: skip
    assert _ks_uniform_p(pv) > 1e-3
    assert 0.01 < (pv <= 0.05).mean() < 0.12


def test_weighted_permutation_pvalues_are_uniform_when_weights_follow_x() -> None:
    rng = np.random.default_rng(36)
    pv = []
    for s in range(150):
        x = rng.exponential(size=150)
        w = 0.5 + x  # weights that depend on x only: y stays exchangeable
        pv.append(
            independence_test(
                x, rng.normal(size=150), weights=w, method="permutation",
                n_permutations=199, seed=s,
            ).pvalue
        )  # fmt: skip
    assert _ks_uniform_p(np.array(pv)) > 1e-3


@pytest.mark.slow
def test_asymptotic_pvalues_are_uniform_under_independence() -> None:
    rng = np.random.default_rng(32)
    pv = np.array(
        [
            independence_test(
                rng.uniform(size=1000), rng.normal(size=1000), method="asymptotic"
            ).pvalue
            for _ in range(80)
        ]
    )
    assert _ks_uniform_p(pv) > 1e-3


@pytest.mark.parametrize("method", ["permutation", "asymptotic"])
@pytest.mark.parametrize("weighted", [False, True])
def test_pvalues_are_small_under_dependence(method: str, weighted: bool) -> None:
    rng = np.random.default_rng(33)
    x = rng.normal(size=2000)
    y = 0.5 * x**2 + rng.normal(size=2000)  # uncorrelated, dependent
    w = rng.uniform(0.5, 2.0, size=2000) if weighted else None
    r = independence_test(x, y, weights=w, method=method, n_permutations=199)
    assert abs(np.corrcoef(x, y)[0, 1]) < 0.1
    assert r.pvalue <= 0.005
    assert not r.independent
    assert r.dcor == pytest.approx(distance_correlation(x, y, weights=w), rel=1e-9)


def test_asymptotic_agrees_with_permutation() -> None:
    rng = np.random.default_rng(34)
    x = rng.exponential(size=3000)
    for strength in (0.02, 0.05):
        y = rng.uniform(size=3000) + strength * x
        p_perm = independence_test(x, y, method="permutation", n_permutations=1999).pvalue
        p_asym = independence_test(x, y, method="asymptotic").pvalue
        assert p_asym == pytest.approx(p_perm, rel=0.5, abs=0.01)


def test_permutation_null_is_reproducible_and_thread_independent() -> None:
    numba = pytest.importorskip("numba")
    x, y, _, w = _sample(500, 4)
    a = independence_test(x, y, weights=w, method="permutation", n_permutations=50, seed=3)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        b = independence_test(x, y, weights=w, method="permutation", n_permutations=50, seed=3)
    finally:
        numba.set_num_threads(before)
    c = independence_test(x, y, weights=w, method="permutation", n_permutations=50, seed=4)
    np.testing.assert_array_equal(a.null, b.null)
    assert a.pvalue == b.pvalue
    assert not np.array_equal(a.null, c.null)
    # the kernel's identity permutation is the observed value
    assert a.dcor == pytest.approx(distance_correlation(x, y, weights=w), rel=1e-12)


def test_result_summary_and_auto_method() -> None:
    rng = np.random.default_rng(35)
    x, y = rng.normal(size=(2, 1000))
    r = independence_test(x, y, n_permutations=99)
    assert r.method == "permutation"
    assert str(r).startswith(f"dCor = {r.dcor:.3g}, consistent with independence (p = ")
    assert set(r.as_dict("bkg_")) == {"bkg_dcor", "bkg_dcor_pvalue"}
    assert r.null.shape == (99,)
    big = ind.AUTO_PERMUTATION_MAX_N + 1
    xb, yb = rng.normal(size=(2, big))
    rb = independence_test(xb, yb)
    assert rb.method == "asymptotic"
    assert rb.null is None
    assert ind.independence_tests() == ("asymptotic", "permutation")


def test_constant_input_gives_p_one() -> None:
    x = np.arange(50.0)
    for method in ("permutation", "asymptotic"):
        r = independence_test(x, np.ones(50), method=method, n_permutations=20)
        assert (r.dcor, r.pvalue) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_permutations": -5}, ConfigError, "n_permutations must be >= 1"),
        ({"n_permutations": 0}, ConfigError, "n_permutations must be >= 1"),
        ({"n_permutations": 2.5}, ConfigError, "n_permutations must be an integer"),
        ({"n_permutations": True}, ConfigError, "n_permutations must be an integer"),
        ({"method": "bootstrap"}, ConfigError, "method='bootstrap' is not one of: auto"),
        ({"alpha": 1.5}, ConfigError, "alpha must be in"),
        ({"weights": -np.ones(20)}, ConfigError, "weights must be non-negative"),
        ({"weights": np.ones(19)}, ConfigError, "weights has length 19"),
    ],
)
def test_independence_test_errors(kwargs: dict, error: type, match: str) -> None:
    x = np.arange(20.0)
    with pytest.raises(error, match=match):
        independence_test(x, x[::-1], **kwargs)


def test_input_errors_name_the_parameter() -> None:
    x = np.arange(20.0)
    with pytest.raises(ConfigError, match="same length"):
        independence_test(x, x[:-1])
    with pytest.raises(ConfigError, match="same length"):
        partial_distance_correlation(x, x, x[:-2])
    bad = x.copy()
    bad[3] = np.nan
    with pytest.raises(NonFiniteValueError, match="y contains 1 NaN"):
        u_distance_covariance_sq(x, bad)
    with pytest.raises(NonFiniteValueError, match="z contains 1 NaN"):
        partial_distance_covariance(x, x, bad)
    with pytest.raises(ConfigError, match="at least 4 samples"):
        u_distance_correlation_sq(x[:3], x[:3])
    with pytest.raises(ConfigError, match="x must be 1-D"):
        independence_test(np.ones((20, 2)), x)
    with pytest.raises(ConfigError, match="at least 4 samples with positive weight"):
        u_distance_covariance_sq(x, x, weights=np.r_[np.ones(3), np.zeros(17)])
    with pytest.raises(ConfigError, match="already registered"):
        ind.register_independence_test(ind.PermutationTest)


# ------------------------------------------------------------ energy distance
def test_energy_distance_matches_scipy() -> None:
    rng = np.random.default_rng(40)
    a, b = rng.normal(size=400), rng.normal(0.2, 1.3, size=300)
    a[:50] = np.round(a[:50], 1)  # ties, also across the samples
    b[:50] = np.round(b[:50], 1)
    wa, wb = rng.uniform(0, 2, size=400), rng.uniform(0, 2, size=300)
    assert energy_distance(a, b) == pytest.approx(stats.energy_distance(a, b), rel=1e-10)
    assert energy_distance(a, b, wa, wb) == pytest.approx(
        stats.energy_distance(a, b, wa, wb), rel=1e-10
    )


def test_weighted_energy_distance_matches_direct_formula() -> None:
    rng = np.random.default_rng(41)
    a, b = rng.exponential(size=60), rng.exponential(1.2, size=45)
    wa, wb = rng.uniform(0, 2, size=60), rng.uniform(0, 2, size=45)

    def mean_dist(p, wp, q, wq):
        return float(wp @ np.abs(p[:, None] - q[None, :]) @ wq / (wp.sum() * wq.sum()))

    ref = 2 * mean_dist(a, wa, b, wb) - mean_dist(a, wa, a, wa) - mean_dist(b, wb, b, wb)
    assert energy_distance(a, b, wa, wb, squared=True) == pytest.approx(ref, rel=1e-10)
    # the Euclidean N-D path agrees with the 1-D one
    assert energy_distance(a[:, None], b[:, None], wa, wb) == pytest.approx(
        energy_distance(a, b, wa, wb), rel=1e-10
    )
    # integer weights are replication
    ia, ib = rng.integers(0, 3, size=60), rng.integers(0, 3, size=45)
    assert energy_distance(a, b, ia, ib) == pytest.approx(
        energy_distance(np.repeat(a, ia), np.repeat(b, ib)), rel=1e-10
    )


def test_energy_distance_multidimensional_and_errors() -> None:
    dcor = pytest.importorskip("dcor")
    rng = np.random.default_rng(42)
    a, b = rng.normal(size=(200, 3)), rng.normal(0.1, 1.0, size=(150, 3))
    assert energy_distance(a, b, squared=True) == pytest.approx(
        dcor.energy_distance(a, b), rel=1e-10
    )
    with pytest.raises(ConfigError, match="equal d"):
        energy_distance(a, b[:, :2])
    with pytest.raises(ConfigError, match="weights_b has length 3"):
        energy_distance(a[:, 0], b[:, 0], None, [1.0, 2.0, 3.0])
    with pytest.raises(NonFiniteValueError, match="a contains 1 NaN"):
        energy_distance([np.nan, 1.0], [1.0])
    with pytest.raises(ConfigError, match="positive total weight"):
        energy_distance([0.0, 1.0], [1.0], [0.0, 0.0])


def test_permutation_test_from_several_threads() -> None:
    """Concurrent callers (a threaded Dask worker) get the same answers as serial ones."""
    from concurrent.futures import ThreadPoolExecutor

    samples = [_sample(300, s)[:2] for s in range(4)]
    serial = [independence_test(x, y, n_permutations=30).pvalue for x, y in samples]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(
            pool.map(lambda xy: independence_test(*xy, n_permutations=30).pvalue, samples)
        )
    assert threaded == serial

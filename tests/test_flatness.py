"""Flatness metrics (CvM, SDE, Theil; bins and kNN) vs hep_ml, and 1/JSD over several WPs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from decorr_af.decorrelation import cvm_flatness, distance_correlation, sde_flatness, theil_flatness
from decorr_af.decorrelation import flatness as fl
from decorr_af.errors import ConfigError, NonFiniteValueError
from decorr_af.metrics import (
    inverse_jsd,
    inverse_jsd_multi,
    sculpting_jsd,
    sculpting_jsd_multi,
)


def _toy(seed: int, n: int = 3000) -> tuple[np.ndarray, ...]:
    """Two protected variables, a sculpted score with ties, labels (1 in 4 signal), weights."""
    rng = np.random.default_rng(seed)
    mass, pt = rng.uniform(size=n), rng.exponential(size=n)
    score = np.round(1 / (1 + np.exp(-(rng.normal(size=n) + 0.8 * mass - 0.3 * pt))), 3)
    y = np.zeros(n, dtype=int)
    y[::4] = 1
    return np.column_stack([mass, pt]), score, y, rng.uniform(1.0, 2.0, size=n)


EFFS = [0.3, 0.5, 0.8]


def _hep_ml(metric: str, grouping: str, cols: list[str], effs: list[float]):
    """hep_ml's metric object measuring uniformity of the background (label 0)."""
    hm = pytest.importorskip("hep_ml.metrics")
    if metric == "cvm":
        cls = {"bins": hm.BinBasedCvM, "knn": hm.KnnBasedCvM}[grouping]
        extra = {}
    else:
        name = {"sde": "SDE", "theil": "Theil"}[metric]
        cls = getattr(hm, ("BinBased" if grouping == "bins" else "KnnBased") + name)
        # hep_ml's kNN metrics cut at the quantile 1 - rcp, its binned ones at rcp
        extra = {"target_rcp": effs if grouping == "knn" else [1 - e for e in effs]}
    size = {"n_bins": 5} if grouping == "bins" else {"n_neighbours": 30}
    return cls(uniform_features=cols, uniform_label=0, **size, **extra)


OURS = {"cvm": cvm_flatness, "sde": sde_flatness, "theil": theil_flatness}


@pytest.mark.parametrize("metric", ["cvm", "sde", "theil"])
@pytest.mark.parametrize("grouping", ["bins", "knn"])
@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_flatness_matches_hep_ml(metric: str, grouping: str, dims: int, weighted: bool) -> None:
    x, score, y, w = _toy(seed=100 + dims)
    w = w if weighted else np.ones_like(w)
    cols = ["mass", "pt"][:dims]
    frame = pd.DataFrame(x, columns=["mass", "pt"])
    ref_metric = _hep_ml(metric, grouping, cols, EFFS).fit(frame, y, sample_weight=w)
    proba = np.column_stack([score, 1 - score])  # column 0: the background's "probability"
    ref = ref_metric(y, proba, sample_weight=w)
    bkg = y == 0
    kwargs = {"n_bins": 5} if grouping == "bins" else {"n_neighbours": 30}
    if metric != "cvm":
        kwargs["effs"] = EFFS
    ours = OURS[metric](x[bkg, :dims], score[bkg], weights=w[bkg], groups=grouping, **kwargs)
    assert ours == pytest.approx(ref, rel=1e-9, abs=1e-15)
    assert ours > 0


@pytest.mark.parametrize("metric", ["cvm", "sde", "theil"])
@pytest.mark.parametrize("grouping", ["bins", "knn"])
def test_flatness_orders_flat_below_sculpted(metric: str, grouping: str) -> None:
    rng = np.random.default_rng(7)
    m = rng.uniform(size=8000)
    flat, sculpted = rng.uniform(size=8000), rng.uniform(size=8000) + m
    fn = OURS[metric]
    # flat: the statistical floor of 50-event kNN groups or 800-event bins
    assert fn(m, flat, groups=grouping) * 3 < fn(m, sculpted, groups=grouping)


@pytest.mark.parametrize("metric", ["cvm", "sde", "theil"])
def test_flatness_invariances(metric: str) -> None:
    x, score, _, w = _toy(seed=9, n=2000)
    fn = OURS[metric]
    base = fn(x[:, 0], score, weights=w)
    # only weight ratios matter, and only the order of the scores
    assert fn(x[:, 0], score, weights=7.5 * w) == pytest.approx(base, rel=1e-12)
    assert fn(x[:, 0], np.exp(3 * score), weights=w) == pytest.approx(base, rel=1e-12)
    # a Grouping instance is the same as its name and options
    assert fn(x[:, 0], score, weights=w, groups=fl.BinGrouping(n_bins=10)) == pytest.approx(base)


def test_knn_cvm_of_ragged_weights_and_zero_weight_events() -> None:
    """Events of zero weight count nowhere: dropping them changes nothing."""
    x, score, _, w = _toy(seed=12, n=1500)
    w[::3] = 0.0
    keep = w > 0
    ref = cvm_flatness(x[keep, 0], score[keep], weights=w[keep], n_bins=7)
    assert cvm_flatness(x[:, 0], score, weights=w, n_bins=7) == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m, s: cvm_flatness(m, s, groups="quantiles"), ConfigError, "groups='quantiles'"),
        (lambda m, s: cvm_flatness(m, s, n_bins=0), ConfigError, "n_bins must be >= 1"),
        (lambda m, s: cvm_flatness(m, s, n_bins=2.5), ConfigError, "n_bins must be an integer"),
        (
            lambda m, s: cvm_flatness(m, s, groups="knn", n_neighbours=500),
            ConfigError,
            "exceeds the 100 events",
        ),
        (lambda m, s: sde_flatness(m, s, effs=[0.5, 1.0]), ConfigError, "effs must be"),
        (lambda m, s: sde_flatness(m, s, power=0), ConfigError, "power must be > 0"),
        (lambda m, s: theil_flatness(m[:-1], s), ConfigError, "protected must be"),
        (lambda m, s: cvm_flatness(m, s, weights=-s), ConfigError, "weights must be non-neg"),
        (lambda m, s: cvm_flatness(m, np.r_[np.nan, s[1:]]), NonFiniteValueError, "score"),
        (lambda m, s: cvm_flatness(np.r_[np.inf, m[1:]], s), NonFiniteValueError, "protected"),
    ],
)
def test_flatness_errors(call, error: type, match: str) -> None:
    rng = np.random.default_rng(0)
    m, s = rng.uniform(size=(2, 100))
    with pytest.raises(error, match=match):
        call(m, s)


def test_grouping_registry() -> None:
    assert fl.groupings() == ("bins", "knn")
    with pytest.raises(ConfigError, match="already registered"):
        fl.register_grouping(fl.KnnGrouping)


# ------------------------------------------------------------- 1/JSD over WPs
def test_multi_wp_jsd_is_the_per_wp_jsd() -> None:
    rng = np.random.default_rng(20)
    m, u, y = rng.uniform(size=5000), rng.uniform(size=5000), rng.integers(0, 2, 5000)
    s = u + 0.2 * m
    jsd = sculpting_jsd_multi(m, s, y, effs=(0.3, 0.5, 0.7), bins=15)
    ref = [sculpting_jsd(m, s, y, eff=e, bins=15) for e in (0.3, 0.5, 0.7)]
    np.testing.assert_allclose(jsd, ref, rtol=1e-12)
    assert inverse_jsd_multi(m, s, y, bins=15) == pytest.approx(1 / np.mean(ref))
    with pytest.raises(ConfigError, match="effs must be"):
        sculpting_jsd_multi(m, s, y, effs=[])
    with pytest.raises(ConfigError, match="eff must be in"):
        inverse_jsd_multi(m, s, y, effs=(0.5, 1.2))


def test_multi_wp_inverse_jsd_fixes_a_single_wp_misranking() -> None:
    """A score whose median is flat in m but whose spread is not looks perfectly flat at
    50 % signal efficiency; dCor², CvM and 1/JSD over 30/50/70 % see its sculpting."""
    rng = np.random.default_rng(21)
    n = 40000
    m, u = rng.uniform(size=(2, n))
    y = rng.integers(0, 2, n)  # signal and background: the same score model
    spread = 0.5 + (u - 0.5) * (0.2 + 1.6 * m)
    shifted = u + 0.1 * m
    bkg = y == 0

    def figures(s: np.ndarray) -> dict[str, float]:
        return {
            "inv_jsd50": inverse_jsd(sculpting_jsd(m, s, y, bins=20)),
            "inv_jsd_multi": inverse_jsd_multi(m, s, y, bins=20),
            "flat_by_dcor2": 1 / distance_correlation(m[bkg], s[bkg], squared=True),
            "flat_by_cvm": 1 / cvm_flatness(m[bkg], s[bkg]),
        }

    a, b = figures(spread), figures(shifted)
    assert a["inv_jsd50"] > 2 * b["inv_jsd50"]  # one WP: "spread" looks flatter ...
    for key in ("flat_by_dcor2", "flat_by_cvm", "inv_jsd_multi"):  # ... it is not
        assert a[key] * 3 < b[key], key

"""DisCo-XGB: dCor² non-increasing in λ with the default penalty trust radius (issue #14)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from decorr_af.decorrelation import distance_correlation
from decorr_af.decorrelation.penalties import DisCo
from decorr_af.errors import ConfigError

pytest.importorskip("xgboost")

from decorr_af.models import DisCoXGBClassifier
from decorr_af.models.xgb import PENALTY_RADIUS, DisCoObjective

FAST = {"n_estimators": 60, "max_depth": 3, "learning_rate": 0.2, "device": "cpu", "n_jobs": 1}


def make_toy(n, seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    m = rng.exponential(1.0, n)
    x0 = np.where(y == 1, rng.normal(1.5, 0.7, n), m + rng.normal(0, 0.3, n))
    return np.c_[x0, rng.normal(1.0 * y, 1.0, n), rng.normal(size=n)], y, m


def test_radius_divides_only_the_penalty_curvature():
    rng = np.random.default_rng(8)
    n = 200
    f, z = rng.normal(size=n), rng.normal(size=n)
    y = (rng.random(n) < 0.5).astype(float)
    pen = DisCo(strength=5.0)
    pen.setup(task="classification")
    _, plain_h = DisCoObjective("classification", y, np.ones(n)).gradient(f)
    g1, h1 = DisCoObjective("classification", y, np.ones(n), penalty=pen, protected=z).gradient(f)
    g3, h3 = DisCoObjective(
        "classification", y, np.ones(n), penalty=pen, protected=z, radius=0.25
    ).gradient(f)
    np.testing.assert_array_equal(g1, g3)
    np.testing.assert_allclose(h3 - plain_h, (h1 - plain_h) / 0.25, rtol=1e-12)


def test_penalty_dominated_step_is_lambda_independent():
    """The root cause: -G/H no longer depends on λ once the penalty dominates."""
    rng = np.random.default_rng(9)
    n = 300
    f, z = rng.normal(size=n), rng.normal(size=n)
    y = (rng.random(n) < 0.5).astype(float)
    steps = []
    for lam in (1e6, 1e7):
        pen = DisCo(strength=lam, on="all")
        pen.setup(task="classification")
        g, h = DisCoObjective("classification", y, np.ones(n), penalty=pen, protected=z).gradient(f)
        steps.append(-g / h)  # one-row leaves: the Newton step per row
    np.testing.assert_allclose(steps[1], steps[0], atol=1e-2 * np.std(f))


def test_dcor_non_increasing_in_lambda_default_radius():
    """The default radius (0.3) keeps dCor² non-increasing over λ = 1, 10, 100.

    Seed 6151 is fresh (not tuned on). By hand, on 9 seeds of this toy, λ = 10 → 100
    moved dCor² by -0.0036 … +0.0034 with the default (the seed spread of the
    penalty-dominated floor, 0.002-0.009), hence the tolerance 0.004; with radius 1
    every seed broke monotonicity, by up to +0.019 (this seed: 0.009 → 0.026).
    """
    assert DisCoXGBClassifier().penalty_radius == PENALTY_RADIUS == 0.3
    X, y, m = make_toy(3000, 6151)
    bkg = y == 0
    d2 = []
    for lam in (0.0, 1.0, 10.0, 100.0):
        model = DisCoXGBClassifier(**FAST, penalty=DisCo(strength=lam))
        p = model.fit(X, y, protected=m).predict_proba(X)[:, 1]
        d2.append(distance_correlation(p[bkg], m[bkg], squared=True))
        assert model.score(X, y) > 0.7
    assert d2[1] < 0.15 * d2[0], d2
    assert all(b <= a + 0.004 for a, b in itertools.pairwise(d2[1:])), d2


def test_bad_radius():
    X, y, m = make_toy(100, 1)
    with pytest.raises(ConfigError, match="penalty_radius"):
        DisCoXGBClassifier(**FAST, penalty_radius=0.0).fit(X, y, protected=m)

"""Signed event weights (NLO MC, sWeights): every row split into a +2w and a -w copy
(they cancel to w) gives the results of the positive weights - dCor, the penalties,
the AUC, a full-batch MLP fit - and operations that need non-negative weights say so."""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.decorrelation import distance_correlation, distance_correlation_sq_grad
from decorr_af.decorrelation.penalties import (
    ConditionalDisCo,
    DisCo,
    Flatness,
    JointDisCo,
    MoDe,
    PenaltyBatch,
)
from decorr_af.errors import ConfigError

torch = pytest.importorskip("torch")


def split_rows(*arrays, w):
    """Each row twice: weights +2w then -w (the measure Σ w δ is unchanged)."""
    doubled = [np.concatenate([a, a]) for a in arrays]
    return (*doubled, np.concatenate([2.0 * w, -w]))


def pair_sum(v):
    """Sum of the two copies of each row (gradients of the split sample)."""
    n = len(v) // 2
    return v[:n] + v[n:]


@pytest.fixture
def sample():
    rng = np.random.default_rng(314)
    n = 120
    z = np.column_stack([rng.normal(size=n), rng.integers(0, 3, n).astype(float)])
    s = 1 / (1 + np.exp(-(z[:, 0] + rng.normal(size=n))))
    y = (rng.random(n) < 0.4).astype(float)
    return s, z, y, rng.uniform(0.5, 2.0, n)


@pytest.mark.parametrize("method", ["fast", "naive"])
def test_distance_correlation_of_split_rows(sample, method):
    s, z, _, w = sample
    s2, z2, w2 = split_rows(s, z[:, 0], w=w)
    ref = distance_correlation(s, z[:, 0], weights=w, method=method, squared=True)
    got = distance_correlation(s2, z2, weights=w2, method=method, squared=True)
    assert got == pytest.approx(ref, rel=1e-10)
    # torch (fast path and O(N²) path) and the exact boosting gradient
    t = distance_correlation(torch.tensor(s2), torch.tensor(z2), weights=torch.tensor(w2),
                             method=method, squared=True)  # fmt: skip
    assert float(t) == pytest.approx(ref, rel=1e-10)
    v_ref, g_ref = distance_correlation_sq_grad(s, z[:, 0], w)
    v2, g2 = distance_correlation_sq_grad(s2, z2, w2)
    assert v2 == pytest.approx(v_ref, rel=1e-10)
    np.testing.assert_allclose(pair_sum(g2), g_ref, rtol=1e-8, atol=1e-14)


def test_multidimensional_distance_correlation_of_split_rows(sample):
    s, z, _, w = sample
    s2, z2, w2 = split_rows(s, z, w=w)
    ref = distance_correlation(s, z, weights=w)
    assert distance_correlation(s2, z2, weights=w2) == pytest.approx(ref, rel=1e-10)


PENALTIES = [
    DisCo(strength=2.0),
    DisCo(strength=2.0, on="all", power=0.5),
    MoDe(strength=3.0, order=1, bins=5),
    Flatness(strength=3.0, bins=3),
    ConditionalDisCo(strength=2.0),
    JointDisCo(strength=2.0, on="all"),
]


@pytest.mark.parametrize("pen", PENALTIES, ids=lambda p: type(p).__name__)
def test_penalties_of_split_rows(sample, pen):
    s, z, y, w = sample
    pen.setup(task="classification")
    s2, z2, y2, w2 = split_rows(s, z, y, w=w)
    v_ref, g_ref, _ = pen.boost_terms(s, y=y, weight=w, protected=z)
    v2, g2, h2 = pen.boost_terms(s2, y=y2, weight=w2, protected=z2)
    assert v_ref > 0
    assert v2 == pytest.approx(v_ref, rel=1e-9)
    np.testing.assert_allclose(pair_sum(g2), g_ref, rtol=1e-7, atol=1e-13)
    assert (h2 >= 0).all()
    # the torch loss, too
    st = torch.tensor(s2, requires_grad=True)
    batch = PenaltyBatch(weight=torch.tensor(w2), y=torch.tensor(y2), protected=torch.tensor(z2))
    loss = pen.loss(st, batch)
    loss.backward()
    assert float(loss.detach()) == pytest.approx(v_ref, rel=1e-9)
    np.testing.assert_allclose(pair_sum(st.grad.numpy()), g_ref, rtol=1e-7, atol=1e-13)
    # the monitor (validation term)
    mon, mon2 = pen.monitor(s, y=y, weight=w, protected=z), pen.monitor(s2, y=y2, weight=w2, protected=z2)  # fmt: skip
    assert mon2 == pytest.approx(mon, rel=1e-9)


def test_auc_of_split_rows(sample):
    from decorr_af.metrics import auc, roc_curve

    s, _, y, w = sample
    s2, y2, w2 = split_rows(s, y, w=w)
    assert auc(y2, s2, w2) == pytest.approx(auc(y, s, w), rel=1e-12)
    assert len(roc_curve(y2, s2, w2)) == len(roc_curve(y, s, w))


def test_mlp_full_batch_fit_of_split_rows():
    """One minibatch holding every row: the fit of the split sample equals the original."""
    from decorr_af.models import DecorrelatedClassifier

    rng = np.random.default_rng(8)
    n = 400
    y = (rng.random(n) < 0.5).astype(int)
    z = rng.normal(size=n) + y
    X = np.column_stack([rng.normal(1.0 * y, 1.0), z + 0.3 * rng.normal(size=n)])
    w = rng.uniform(0.5, 1.5, n)
    X2, y2, z2, w2 = split_rows(X, y, z, w=w)
    kw = {"hidden": (8,), "epochs": 4, "batch_size": 2 * n, "device": "cpu", "random_state": 3,
          "min_penalty_rows": 0, "penalty": DisCo(strength=5.0), "lr": 1e-2}  # fmt: skip
    ref = DecorrelatedClassifier(**kw).fit(X, y, protected=z, sample_weight=w)
    got = DecorrelatedClassifier(**kw).fit(X2, y2, protected=z2, sample_weight=w2)
    np.testing.assert_allclose(got.predict_proba(X), ref.predict_proba(X), atol=1e-4)
    np.testing.assert_allclose(got.history_["main_loss"], ref.history_["main_loss"], rtol=1e-4)


def test_mlp_minibatches_with_signed_weights_train():
    from decorr_af.models import DecorrelatedClassifier

    rng = np.random.default_rng(17)
    n = 3000
    y = (rng.random(n) < 0.5).astype(int)
    X = np.column_stack([rng.normal(1.5 * y, 1.0), rng.normal(size=n)])
    w = np.where(rng.random(n) < 0.15, -0.5, 1.0)  # 15 % negative weights
    clf = DecorrelatedClassifier(hidden=(8,), epochs=5, batch_size=256, lr=1e-2, device="cpu",
                                 random_state=0, penalty=MoDe(strength=5.0))  # fmt: skip
    clf.fit(X, y, protected=X[:, 1], sample_weight=w)
    assert np.isfinite(clf.history_["loss"]).all()
    assert clf.score(X, y) > 0.7


def test_errors_where_non_negative_weights_are_needed():
    from decorr_af.metrics import efficiency_threshold, weighted_quantile
    from decorr_af.models import DecorrelatedClassifier

    y = np.array([0, 1, 0, 1])
    s = np.array([0.1, 0.9, 0.3, 0.6])
    w = np.array([1.0, 1.0, -0.5, 1.0])
    with pytest.raises(ConfigError, match="non-negative"):
        weighted_quantile(s, 0.5, weights=w)
    with pytest.raises(ConfigError, match="non-negative"):
        efficiency_threshold(y, s, 0.5, weights=w)
    with pytest.raises(ConfigError, match="sample_weight sums to zero or less"):
        DecorrelatedClassifier(epochs=1).fit(s[:, None], y, sample_weight=[1.0, -1.0, 0.5, -1.0])
    with pytest.raises(ConfigError, match="sum must be positive"):
        distance_correlation(s, s, weights=[1.0, -2.0, 0.5, -1.0])


def test_signed_auc_rank_formula_matches_sklearn_on_positive_weights(sample):
    from decorr_af.metrics import _signed_auc, auc

    s, _, y, w = sample
    assert _signed_auc(y.astype(int), np.round(s, 2), w) == pytest.approx(
        auc(y, np.round(s, 2), w), rel=1e-12
    )


def test_bdt_refuses_signed_weights_by_name():
    pytest.importorskip("xgboost")
    from decorr_af.models import DisCoXGBClassifier

    X = np.random.default_rng(0).normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    w = np.where(np.arange(40) % 5 == 0, -0.5, 1.0)
    with pytest.raises(ConfigError, match=r"sample_weight has 8 negative value.*'mlp' estimator"):
        DisCoXGBClassifier(n_estimators=2, device="cpu").fit(X, y, sample_weight=w)

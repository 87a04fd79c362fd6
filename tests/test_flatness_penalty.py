"""Flatness (hep_ml's binned CvM flatness loss): value and gradient against a direct
implementation, torch = numpy, equality with MoDe order 0, and flat_bdt."""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.decorrelation.penalties import Flatness, MoDe, PenaltyBatch, _binned, make_penalty
from decorr_af.errors import ConfigError

torch = pytest.importorskip("torch")


def direct_flatness(s, w, z, *, power, n_bins, thresholds, tau):
    """Σ_b (W_b/W) (1/K) Σ_j |E_bj - Ē_j|^p by loops over bins (product bins of z's columns)."""
    z = z.reshape(len(s), -1)
    index = np.zeros(len(s), int)
    for k in range(z.shape[1]):
        edges = np.quantile(z[:, k], np.linspace(0, 1, n_bins + 1)[1:-1], method="inverted_cdf")
        index = index * n_bins + np.searchsorted(edges, z[:, k], side="left")
    labels = np.unique(index)
    wtot = w.sum()
    total = 0.0
    for t in thresholds:
        step = 1 / (1 + np.exp(-(s - t) / tau))
        glob = (w * step).sum() / wtot
        for lab in labels:
            m = index == lab
            eff = (w[m] * step[m]).sum() / w[m].sum()
            total += w[m].sum() / wtot * abs(eff - glob) ** power
    return total / len(thresholds)


@pytest.fixture
def small():
    rng = np.random.default_rng(99)
    n = 90
    z = rng.normal(size=(n, 2))
    s = 1 / (1 + np.exp(-(z[:, 0] + rng.normal(size=n))))
    return s, rng.uniform(0.5, 2.0, n), z


@pytest.mark.parametrize(("power", "columns"), [(2.0, 1), (2.0, 2), (1.5, 1), (3.0, 2)])
def test_value_and_gradient_match_direct_formula(small, power, columns):
    s, w, z = small
    z = z[:, :columns]
    pen = Flatness(strength=2.0, power=power, on="all", bins=3, thresholds=4, temperature=0.3)
    pen.setup(task="regression")
    value, grad, hess = pen.boost_terms(s, weight=w, protected=z)
    bins, nb = _binned.joint_bins(z, 3)
    cuts = _binned.binned_cuts(s, w, bins, nb, n_thresholds=4, temperature=0.3)
    kw = {"power": power, "n_bins": 3, "thresholds": cuts.thresholds, "tau": cuts.tau}
    assert value == pytest.approx(2.0 * direct_flatness(s, w, z, **kw), rel=1e-10)
    eps = 1e-6
    fd = np.array([
        (direct_flatness(s + eps * e, w, z, **kw) - direct_flatness(s - eps * e, w, z, **kw))
        / (2 * eps)
        for e in np.eye(len(s))
    ])  # fmt: skip
    np.testing.assert_allclose(grad, 2.0 * fd, rtol=1e-5, atol=1e-9)
    assert (hess >= 0).all()


def test_torch_loss_equals_boost_terms(small):
    s, w, z = small
    y = (np.arange(len(s)) % 2).astype(float)
    pen = Flatness(strength=4.0, power=2.0, bins=4)
    pen.setup(task="classification")
    value, grad, _ = pen.boost_terms(s, y=y, weight=w, protected=z)
    st = torch.tensor(s, requires_grad=True)
    batch = PenaltyBatch(weight=torch.tensor(w), y=torch.tensor(y), protected=torch.tensor(z))
    loss = pen.loss(st, batch)
    loss.backward()
    assert float(loss.detach()) == pytest.approx(value, rel=1e-10)
    np.testing.assert_allclose(st.grad.numpy(), grad, rtol=1e-8, atol=1e-14)


def test_power_two_equals_mode_order_zero(small):
    s, w, z = small
    flat = Flatness(strength=1.5, on="all", bins=5).boost_terms(s, weight=w, protected=z[:, 0])
    mode = MoDe(strength=1.5, order=0, on="all", bins=5).boost_terms(s, weight=w, protected=z[:, 0])
    assert flat[0] == pytest.approx(mode[0], rel=1e-12)
    np.testing.assert_allclose(flat[1], mode[1], rtol=1e-10, atol=1e-15)


def test_gradient_direction_is_hep_ml_flatness_gradient():
    """Rows of a bin whose outputs sit below the global distribution are pushed up."""
    rng = np.random.default_rng(4)
    z = np.repeat([0.0, 1.0], 200)
    s = rng.normal(size=400) + np.where(z > 0.5, 0.8, -0.8)
    _, grad, _ = Flatness(on="all", bins=2).boost_terms(s, protected=z)
    low, high = z < 0.5, z > 0.5
    assert (grad[low] <= 1e-15).all()  # descent increases the low bin's outputs
    assert (grad[high] >= -1e-15).all()
    assert grad[low].sum() < 0 < grad[high].sum()


def sculpting_toy(seed, n=3000):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    z = np.where(y == 1, rng.normal(1.0, 1.0, n), rng.normal(size=n))
    X = np.column_stack([rng.normal(1.2 * y, 1.0), z + 0.3 * rng.normal(size=n)])
    return X, y, z


def test_flat_bdt_flattens_background():
    pytest.importorskip("xgboost")
    from decorr_af.models import DisCoXGBClassifier

    X, y, z = sculpting_toy(seed=21)
    vals, scores = {}, {}
    for lam in (0.0, 20.0):
        clf = DisCoXGBClassifier(n_estimators=30, max_depth=3, device="cpu",
                                 penalty=Flatness(strength=lam)).fit(X, y, protected=z)  # fmt: skip
        s = clf.predict_proba(X)[:, 1]
        vals[lam] = Flatness(on="all").boost_terms(s[y == 0], protected=z[y == 0])[0]
        scores[lam] = clf.score(X, y)
    assert vals[20.0] < 0.5 * vals[0.0]
    assert scores[20.0] > 0.6


@pytest.mark.slow
def test_flat_mlp_flattens_and_records_the_flatness_figure():
    from decorr_af.models import DecorrelatedClassifier

    X, y, z = sculpting_toy(seed=22, n=2000)
    kw = {"hidden": (16,), "epochs": 10, "lr": 1e-2, "batch_size": 250, "device": "cpu",
          "random_state": 1, "early_stopping": True}  # fmt: skip
    flat = {}
    for lam in (0.0, 5.0):
        clf = DecorrelatedClassifier(**kw, penalty=Flatness(strength=lam)).fit(X, y, protected=z)
        s = clf.predict_proba(X)[:, 1]
        flat[lam] = Flatness(on="all").boost_terms(s[y == 0], protected=z[y == 0])[0]
        assert clf.score(X, y) > 0.75
    assert flat[5.0] < 0.5 * flat[0.0]
    assert "flatness_protected" in clf.history_
    v = clf.history_["val_objective"][-1] - clf.history_["val_main_loss"][-1]
    assert v == pytest.approx(5.0 * clf.history_["val_flatness_protected"][-1], rel=1e-6)


def test_protocol_and_errors():
    pen = make_penalty("Flatness", strength=2.0, power=1.0, bins=4)
    assert Flatness.supports_boosting()
    assert pen.clone() == pen
    with pytest.raises(ConfigError, match=r"power=0\.5"):
        Flatness(power=0.5).validate()
    with pytest.raises(ConfigError, match="bins=1"):
        Flatness(bins=1).validate()
    with pytest.raises(ConfigError, match="thresholds=0"):
        Flatness(thresholds=0).validate()

"""A penalty defined outside the package plugs into both estimator families.

Like pyhf's ``tests/test_custom_mods.py``: the test defines its own decorrelation
penalty - the squared weighted covariance between the output and each protected
variable - with a torch loss, numpy boosting terms and a monitor, only by
subclassing the public base class. Subclassing registers it, so
``make_penalty("CovSquared")`` and saved models find it; training an MLP and a BDT
with it lowers |cov(s, z)| relative to λ = 0.
"""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.decorrelation.penalties import (
    Adversary,
    ProtectedPenalty,
    make_penalty,
    penalty_from_dict,
    registered_penalties,
)
from decorr_af.decorrelation.penalties._base import _REGISTRY
from decorr_af.errors import ConfigError
from decorr_af.models._inputs import split_indices

torch = pytest.importorskip("torch")


def weighted_cov(s, z, w):
    """Weighted covariance of 1-D numpy arrays."""
    sm, zm = np.average(s, weights=w), np.average(z, weights=w)
    return float(np.average((s - sm) * (z - zm), weights=w))


@pytest.fixture(scope="module")
def custom():
    """The custom penalty classes, registered for this module only."""

    class CovSquared(ProtectedPenalty):
        """``λ Σ_k cov_w(s, z_k)²`` on the selected rows (``on`` as for DisCo)."""

        _params = ("strength", "on")

        def __init__(self, strength: float = 1.0, *, on: str = "auto") -> None:
            self.strength = strength
            self.on = on

        def loss(self, output, batch):
            mask = self.rows(batch.y, batch.is_domain, len(output))
            s, w, z = output, batch.weight, batch.protected
            if mask is not None:
                s, w, z = s[mask], w[mask], z[mask]
            wn = w / w.sum().clamp_min(1e-30)
            sc = s - (wn * s).sum()
            zc = z - (wn[:, None] * z).sum(0)
            cov = (wn[:, None] * sc[:, None] * zc).sum(0)
            return self.strength * (cov**2).sum()

        def boost_terms(self, score, *, y=None, weight=None, protected=None, is_domain=None):
            s = np.asarray(score, float)
            n = len(s)
            w = np.ones(n) if weight is None else np.asarray(weight, float)
            z = np.asarray(protected, float).reshape(n, -1)
            rows = self.selected_rows(y, is_domain, n)
            value, grad, hess = 0.0, np.zeros(n), np.zeros(n)
            wn = w[rows] / w[rows].sum()
            for k in range(z.shape[1]):
                zc = z[rows, k] - np.sum(wn * z[rows, k])
                cov = float(np.sum(wn * (s[rows] - np.sum(wn * s[rows])) * zc))
                dcov = wn * zc  # ∂cov/∂s_i (Σ wn zc = 0)
                value += self.strength * cov**2
                grad[rows] += 2.0 * self.strength * cov * dcov
                hess[rows] += 2.0 * self.strength * dcov**2
            return value, grad, hess

        def monitor(self, output, *, y=None, weight=None, protected=None, is_domain=None, names=None):  # fmt: skip
            if protected is None:
                return {}
            n = len(output)
            z = np.asarray(protected, float).reshape(n, -1)
            w = np.ones(n) if weight is None else np.asarray(weight, float)
            rows = self.selected_rows(y, is_domain, n)
            names = names or [f"z{k}" for k in range(z.shape[1])]
            s = np.asarray(output, float)[rows]
            return {
                f"cov2_{nm}": weighted_cov(s, z[rows, k], w[rows]) ** 2
                for k, nm in enumerate(names)
            }

    class TorchOnlyCov(CovSquared):
        """The same torch loss without boosting terms (the base class method, which raises)."""

        boost_terms = ProtectedPenalty.boost_terms

    yield CovSquared, TorchOnlyCov
    for cls in (CovSquared, TorchOnlyCov):
        _REGISTRY.pop(cls.__name__, None)


@pytest.fixture(scope="module")
def sample():
    """Background z shapes the score through feature x1 (a proxy of z)."""
    rng = np.random.default_rng(7)
    n = 3000
    y = (rng.random(n) < 0.5).astype(int)
    z = rng.normal(size=n) + 1.0 * y
    x0 = rng.normal(size=n) + 1.2 * y
    x1 = z + 0.3 * rng.normal(size=n)
    return np.column_stack([x0, x1]), y, z


def background_cov(model, X, y, z):
    s = model.predict_proba(X)[:, 1]
    bkg = y == 0
    return abs(weighted_cov(s[bkg], z[bkg], np.ones(bkg.sum())))


def test_registered_and_found_by_kind(custom):
    CovSquared, _ = custom
    assert registered_penalties()["CovSquared"] is CovSquared
    pen = make_penalty("covsquared", strength=3.0, on="all")
    assert isinstance(pen, CovSquared)
    assert penalty_from_dict(pen.to_dict()) == pen
    assert CovSquared.supports_boosting()
    with pytest.raises(ConfigError, match="on="):
        make_penalty("CovSquared", on="nowhere").validate()


def test_boost_terms_match_torch_loss(custom):
    """The numpy gradient equals the autograd gradient of the torch loss."""
    from decorr_af.decorrelation.penalties import PenaltyBatch

    CovSquared, _ = custom
    rng = np.random.default_rng(1)
    s, z, w = rng.random(50), rng.normal(size=(50, 2)), rng.uniform(0.5, 2.0, 50)
    pen = CovSquared(strength=2.0, on="all")
    pen.setup(task="regression")
    value, grad, hess = pen.boost_terms(s, weight=w, protected=z)
    st = torch.tensor(s, requires_grad=True)
    loss = pen.loss(st, PenaltyBatch(weight=torch.tensor(w), protected=torch.tensor(z)))
    loss.backward()
    np.testing.assert_allclose(value, float(loss.detach()), rtol=1e-10)
    np.testing.assert_allclose(grad, st.grad.numpy(), rtol=1e-8, atol=1e-14)
    assert (hess >= 0).all()


def test_mlp_with_custom_penalty(custom, sample):
    from decorr_af.models import DecorrelatedClassifier

    CovSquared, _ = custom
    X, y, z = sample
    kw = {"hidden": (16,), "epochs": 8, "batch_size": 500, "device": "cpu", "random_state": 0}
    covs = {}
    for lam in (0.0, 200.0):
        clf = DecorrelatedClassifier(**kw, penalty=CovSquared(strength=lam))
        clf.fit(X, y, protected=z)
        covs[lam] = background_cov(clf, X, y, z)
        assert "cov2_protected" in clf.history_
    assert covs[200.0] < 0.5 * covs[0.0]
    assert clf.score(X, y) > 0.6


def test_bdt_with_custom_penalty(custom, sample, tmp_path):
    pytest.importorskip("xgboost")
    from decorr_af.models import DisCoXGBClassifier, load_model

    CovSquared, _ = custom
    X, y, z = sample
    covs = {}
    for lam in (0.0, 200.0):
        clf = DisCoXGBClassifier(
            n_estimators=30, max_depth=3, device="cpu", penalty=CovSquared(strength=lam)
        )
        clf.fit(X, y, protected=z)
        covs[lam] = background_cov(clf, X, y, z)
    assert covs[200.0] < 0.5 * covs[0.0]
    assert clf.score(X, y) > 0.6
    # saved models name the penalty by its registered class
    back = load_model(clf.save(tmp_path / "bdt"))
    assert back.penalty == clf.penalty
    np.testing.assert_allclose(back.predict_proba(X), clf.predict_proba(X))


def test_bdt_early_stopping_uses_validation_term(custom, sample):
    pytest.importorskip("xgboost")
    from decorr_af.models import DisCoXGBClassifier

    CovSquared, _ = custom
    X, y, z = sample
    clf = DisCoXGBClassifier(
        n_estimators=20, device="cpu", early_stopping_rounds=5, penalty=CovSquared(strength=50.0)
    ).fit(X, y, protected=z)
    # the early-stopping curve is main loss + validation_term(monitor(s)) on the held-out rows
    _, vrows = split_indices(len(y), 0.2, 0)
    f = clf.decision_function(X[vrows])
    yv, s = y[vrows], 1 / (1 + np.exp(-f))
    main = np.mean(np.logaddexp(0.0, f) - yv * f)
    bkg = yv == 0
    expected = main + 50.0 * weighted_cov(s[bkg], z[vrows][bkg], np.ones(bkg.sum())) ** 2
    curve = clf.evals_result_["validation"]["objective"]
    assert curve[clf.best_iteration_] == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("which", ["torch_only", "adversary"])
def test_bdt_rejects_penalty_without_boosting_terms(custom, sample, which):
    pytest.importorskip("xgboost")
    from decorr_af.models import DisCoXGBClassifier

    _, TorchOnlyCov = custom
    X, y, z = sample
    pen = TorchOnlyCov(strength=1.0) if which == "torch_only" else Adversary(strength=1.0)
    assert not type(pen).supports_boosting()
    name = type(pen).__name__
    with pytest.raises(ConfigError, match=f"{name} has no boosting gradient; use estimator 'mlp'"):
        DisCoXGBClassifier(n_estimators=2, device="cpu", penalty=pen).fit(X, y, protected=z)

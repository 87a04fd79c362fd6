"""ConditionalDisCo (dCor² per category) and JointDisCo (dCor² against the protected
variables together): values and gradients against direct implementations, torch = numpy,
and what each one removes on a toy."""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.decorrelation import distance_correlation
from decorr_af.decorrelation.penalties import (
    ConditionalDisCo,
    DisCo,
    JointDisCo,
    PenaltyBatch,
    make_penalty,
    penalty_from_dict,
)
from decorr_af.decorrelation.penalties._joint import joint_dcor2_grad
from decorr_af.errors import ConfigError

torch = pytest.importorskip("torch")


def dcor2(s, z, w):
    return distance_correlation(s, z, weights=w, squared=True, method="naive")


@pytest.fixture
def sample():
    rng = np.random.default_rng(77)
    n = 150
    eta = rng.uniform(0, 2.4, n)
    z = rng.normal(size=n)
    s = 1 / (1 + np.exp(-(z * (eta > 1.2) + eta + 0.5 * rng.normal(size=n))))
    return s, np.column_stack([z, eta]), rng.uniform(0.5, 2.0, n)


@pytest.mark.parametrize("combine", ["weight", "equal"])
def test_conditional_value_matches_direct(sample, combine):
    s, z, w = sample
    pen = ConditionalDisCo(strength=2.0, on="all", edges=[0.8, 1.6], power=0.5, combine=combine)
    pen.setup(task="regression")
    value, grad, hess = pen.boost_terms(s, weight=w, protected=z)
    cat = np.searchsorted([0.8, 1.6], z[:, 1], side="right")
    terms, weights = [], []
    for c in range(3):
        m = cat == c
        terms.append(dcor2(s[m], z[m, 0], w[m]) ** 0.5)
        weights.append(w[m].sum() if combine == "weight" else 1.0)
    expected = 2.0 * np.dot(terms, weights) / np.sum(weights)
    assert value == pytest.approx(expected, rel=1e-9)
    # torch autograd of the loss = the numpy gradient
    st = torch.tensor(s, requires_grad=True)
    loss = pen.loss(st, PenaltyBatch(weight=torch.tensor(w), protected=torch.tensor(z)))
    loss.backward()
    assert float(loss.detach()) == pytest.approx(value, rel=1e-9)
    np.testing.assert_allclose(st.grad.numpy(), grad, rtol=1e-7, atol=1e-13)
    assert (hess >= 0).all()
    assert pen.validation_term(pen.monitor(s, weight=w, protected=z)) == pytest.approx(value)


def test_conditional_ignores_the_between_category_dependence():
    """The output depends on the category only: ConditionalDisCo sees nothing, DisCo does."""
    rng = np.random.default_rng(12)
    cat = rng.integers(0, 3, 600).astype(float)
    z = np.column_stack([cat + rng.normal(size=600), cat])  # z depends on the category
    s = cat + 0.1 * rng.normal(size=600)
    cond = ConditionalDisCo(on="all").boost_terms(s, protected=z)[0]
    plain = DisCo(on="all").boost_terms(s, protected=z[:, :1])[0]
    assert plain > 0.2
    assert cond < 0.02


def test_joint_gradient_matches_finite_differences(sample):
    s, z, w = sample
    wn = w * len(w) / w.sum()
    value, grad = joint_dcor2_grad(s, z, wn, chunk_elements=1000)  # several chunks
    assert value == pytest.approx(dcor2(s, z, w), rel=1e-10)
    eps = 1e-6
    fd = np.array([
        (dcor2(s + eps * e, z, w) - dcor2(s - eps * e, z, w)) / (2 * eps)
        for e in np.eye(len(s))[:40]
    ])  # fmt: skip
    np.testing.assert_allclose(grad[:40], fd, rtol=1e-5, atol=1e-10)


@pytest.mark.parametrize("standardize", [True, False])
def test_joint_torch_equals_numpy(sample, standardize):
    s, z, w = sample
    z = z * np.array([1.0, 5.0])
    pen = JointDisCo(strength=3.0, on="all", power=2.0, standardize=standardize)
    pen.setup(task="regression")
    value, grad, _ = pen.boost_terms(s, weight=w, protected=z)
    wn = w / w.sum()
    zs = z / np.sqrt(wn @ (z - wn @ z) ** 2) if standardize else z  # weighted std
    assert value == pytest.approx(3.0 * dcor2(s, zs, w) ** 2, rel=1e-9)
    st = torch.tensor(s, requires_grad=True)
    loss = pen.loss(st, PenaltyBatch(weight=torch.tensor(w), protected=torch.tensor(z)))
    loss.backward()
    assert float(loss.detach()) == pytest.approx(value, rel=1e-9)
    np.testing.assert_allclose(st.grad.numpy(), grad, rtol=1e-7, atol=1e-13)


def test_joint_one_column_is_disco(sample):
    s, z, w = sample
    a = JointDisCo(strength=2.0, on="all").boost_terms(s, weight=w, protected=z[:, 0])
    b = DisCo(strength=2.0, on="all").boost_terms(s, weight=w, protected=z[:, 0])
    assert a[0] == pytest.approx(b[0], rel=1e-12)
    np.testing.assert_allclose(a[1], b[1])


def test_joint_sees_a_dependence_per_column_terms_underrate():
    """s = z1 - z2 with z1, z2 independent: the joint dCor² exceeds each marginal one."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=(800, 2))
    s = np.sign(z[:, 0] * z[:, 1])  # independent of z1 and of z2 separately
    joint = JointDisCo(on="all").boost_terms(s, protected=z)[0]
    marginal = DisCo(on="all").boost_terms(s, protected=z)[0]
    assert marginal < 0.02
    assert joint > 3 * marginal


@pytest.mark.slow
def test_mlp_with_joint_disco_lowers_the_joint_dependence():
    from decorr_af.models import DecorrelatedClassifier

    rng = np.random.default_rng(50)
    n = 2000
    y = (rng.random(n) < 0.5).astype(int)
    z = rng.normal(size=(n, 2)) + 0.7 * y[:, None]
    X = np.column_stack([rng.normal(1.2 * y, 1.0), z[:, 0] + z[:, 1]])
    kw = {"hidden": (16,), "epochs": 6, "batch_size": 250, "lr": 1e-2, "device": "cpu",
          "random_state": 0}  # fmt: skip
    dep = {}
    for lam in (0.0, 20.0):
        clf = DecorrelatedClassifier(**kw, penalty=JointDisCo(strength=lam))
        clf.fit(X, y, protected=z)
        s = clf.predict_proba(X)[:, 1]
        dep[lam] = distance_correlation(s[y == 0], z[y == 0])
    assert dep[20.0] < 0.6 * dep[0.0]
    assert any(k.startswith("dcor2_") and "+" in k for k in clf.history_)  # the joint monitor


def test_protocol_and_errors(sample):
    s, z, _ = sample
    for pen in (ConditionalDisCo(strength=2.0, edges=[1.0]), JointDisCo(standardize=False)):
        assert penalty_from_dict(pen.to_dict()) == pen
        assert type(pen).supports_boosting()
    assert isinstance(make_penalty("conditionaldisco", category=1), ConditionalDisCo)
    with pytest.raises(ConfigError, match="combine='max'"):
        ConditionalDisCo(combine="max").validate()
    with pytest.raises(ConfigError, match="edges="):
        ConditionalDisCo(edges=[1.0, 0.5]).validate()
    with pytest.raises(ConfigError, match="category=5 is not a column"):
        ConditionalDisCo(on="all", category=5).boost_terms(s, protected=z)
    with pytest.raises(ConfigError, match="two or more protected variables"):
        ConditionalDisCo(on="all").boost_terms(s, protected=z[:, 0])

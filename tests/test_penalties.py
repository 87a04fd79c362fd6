"""Tests of the decorrelation penalty objects (protocol, values, serialisation)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from decorr_af.decorrelation.penalties import (
    Adversary,
    DisCo,
    DomainAdversary,
    DomainDisCo,
    PenaltyBatch,
    penalty_from_dict,
)
from decorr_af.errors import ConfigError

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny tensors: one thread avoids OpenMP spinning on the shared 2-core runners."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def ref_dcor2(x, y, w=None):
    """Private O(N²) weighted dCor² (weights normalised to mean 1)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    w = np.ones(len(x)) if w is None else np.asarray(w, float) * len(x) / np.sum(w)

    def centred(v):
        a = np.abs(v[:, None] - v[None, :])
        ai = (a * w[None, :]).mean(axis=1)
        abar = (w * ai).mean()
        return a - ai[:, None] - ai[None, :] + abar

    A, B = centred(x), centred(y)
    ww = w[:, None] * w[None, :]
    vxy, vxx, vyy = (ww * A * B).mean(), (ww * A * A).mean(), (ww * B * B).mean()
    return vxy / np.sqrt(vxx * vyy)


@pytest.fixture
def toy_batch():
    rng = np.random.default_rng(20251)
    n = 300
    y = (rng.random(n) < 0.4).astype(float)
    z = rng.exponential(size=n)
    s = 1 / (1 + np.exp(-(z * (1 - y) + rng.normal(size=n))))
    w = rng.uniform(0.2, 2.0, n)
    return s, y, z, w


def _batch(y, z, w):
    return PenaltyBatch(
        weight=torch.as_tensor(w),
        y=torch.as_tensor(y),
        protected=torch.as_tensor(z).reshape(-1, 1),
    )


@pytest.mark.parametrize(("on", "rows"), [("background", 0.0), ("signal", 1.0), ("all", None)])
def test_disco_value_matches_reference(toy_batch, on, rows):
    s, y, z, w = toy_batch
    pen = DisCo(strength=3.0, on=on)
    pen.setup(task="classification")
    st = torch.as_tensor(s, dtype=torch.float64).requires_grad_(True)
    value = pen.loss(st, _batch(y, z, w))
    sel = np.ones(len(s), bool) if rows is None else y == rows
    assert float(value.detach()) == pytest.approx(3.0 * ref_dcor2(s[sel], z[sel], w[sel]), rel=1e-6)
    value.backward()
    assert torch.isfinite(st.grad).all()
    assert float(st.grad[~torch.as_tensor(sel)].abs().sum()) == 0.0
    assert float(st.grad.abs().sum()) > 0


def test_disco_power_and_auto(toy_batch):
    s, y, z, w = toy_batch
    st = torch.as_tensor(s)
    d2 = ref_dcor2(s[y == 0], z[y == 0], w[y == 0])
    pen = DisCo(strength=1.0, power=2.0)
    pen.setup(task="classification")  # auto -> background for classifiers
    assert float(pen.loss(st, _batch(y, z, w))) == pytest.approx(d2**2, rel=1e-6)
    reg = DisCo(strength=1.0)
    reg.setup(task="regression")  # auto -> all events for regressors
    batch = PenaltyBatch(weight=torch.as_tensor(w), protected=torch.as_tensor(z)[:, None])
    assert float(reg.loss(st, batch)) == pytest.approx(ref_dcor2(s, z, w), rel=1e-6)


def test_domain_disco_balanced_weights():
    rng = np.random.default_rng(8080)
    s = np.r_[rng.normal(0, 1, 200), rng.normal(0.8, 1, 100)]
    dom = np.r_[np.zeros(200, bool), np.ones(100, bool)]
    w = np.r_[rng.uniform(0.5, 1.5, 200), np.ones(100)]
    pen = DomainDisCo(strength=2.0)
    pen.setup()
    batch = PenaltyBatch(weight=torch.as_tensor(w), is_domain=torch.as_tensor(dom))
    value = float(pen.loss(torch.as_tensor(s), batch))
    bw = np.where(dom, 1 / dom.sum(), w / w[~dom].sum())
    assert value == pytest.approx(2.0 * ref_dcor2(s, dom.astype(float), bw), rel=1e-6)
    same = np.r_[s[:200], rng.normal(0, 1, 100)]
    assert float(pen.loss(torch.as_tensor(same), batch)) < value
    stats = pen.monitor(s, weight=w, is_domain=dom)
    assert stats["dcor2_domain"] == pytest.approx(value / 2.0, rel=1e-6)


def test_serialisation_round_trip_and_clone():
    from sklearn.base import clone

    for pen in (
        DisCo(strength=2.5, power=2.0, on="signal"),
        Adversary(strength=0.5, kind="classifier", hidden=(8, 4), pretrain_epochs=0),
        DomainDisCo(strength=1.0),
        DomainAdversary(strength=3.0, lr=1e-2),
    ):
        data = json.loads(json.dumps(pen.to_dict()))
        back = penalty_from_dict(data)
        assert back == pen
        assert type(back) is type(pen)
        assert clone(pen) == pen
        assert clone(pen) is not pen
    with pytest.raises(ConfigError, match="name"):
        penalty_from_dict({"name": "Nope", "params": {}})


@pytest.mark.parametrize(
    ("pen", "param"),
    [
        (DisCo(strength=-1.0), "strength"),
        (DisCo(strength=1.0, on="sideways"), "on"),
        (DisCo(strength=1.0, power=0.0), "power"),
        (Adversary(kind="forest"), "kind"),
        (Adversary(n_components=0), "n_components"),
        (Adversary(steps_per_batch=0), "steps_per_batch"),
        (DomainAdversary(lr=-1e-3), "lr"),
        (DomainDisCo(strength=float("nan")), "strength"),
    ],
)
def test_bad_hyper_parameters_name_the_parameter(pen, param):
    with pytest.raises(ConfigError, match=param):
        pen.validate()


def test_selection_needs_labels_for_regression():
    with pytest.raises(ConfigError, match="on="):
        DisCo(on="background").setup(task="regression")


@pytest.mark.parametrize("kind", ["gmm", "classifier"])
def test_adversary_learns_dependence(kind):
    rng = np.random.default_rng(3141)
    n = 2000
    y = np.zeros(n)
    z = rng.integers(0, 3, n).astype(float) if kind == "classifier" else rng.normal(size=n)
    s = torch.as_tensor(1 / (1 + np.exp(-(z + 0.3 * rng.normal(size=n)))), dtype=torch.float32)
    pen = Adversary(strength=2.0, kind=kind, lr=1e-2, pretrain_epochs=1, steps_per_batch=5)
    pen.setup(task="classification", y=y, protected=z, seed=5)
    batch = PenaltyBatch(
        weight=torch.ones(n), y=torch.as_tensor(y, dtype=torch.float32),
        protected=torch.as_tensor(z, dtype=torch.float32)[:, None],
    )  # fmt: skip
    pen.start_epoch(0)
    assert float(pen.loss(s, batch)) == 0.0  # pre-training: no adversarial term yet
    first = float(pen.adversary_step(s, batch))
    for _ in range(40):
        last = float(pen.adversary_step(s, batch))
    assert last < first
    pen.start_epoch(1)
    s_req = s.clone().requires_grad_(True)
    value = pen.loss(s_req, batch)
    assert float(value.detach()) == pytest.approx(-2.0 * pen._nll(s[:, None], *pen._rows_targets_weights(batch)[1:]).item(), rel=1e-4)  # fmt: skip
    value.backward()
    assert torch.isfinite(s_req.grad).all()


def test_adversary_setup_does_not_touch_global_rng():
    torch.manual_seed(99)
    expected = torch.rand(3)
    torch.manual_seed(99)
    Adversary().setup(task="classification", y=np.zeros(10), protected=np.arange(10.0))
    DomainAdversary().setup(task="classification")
    assert torch.equal(torch.rand(3), expected)


# ----------------------------------------------------------------- the protocol
@pytest.mark.parametrize("power", [1.0, 0.5])
@pytest.mark.parametrize("on", ["background", "all"])
def test_disco_boost_terms_match_torch_loss(toy_batch, on, power):
    """boost_terms: the value and gradient of the torch loss, a trust-region Hessian."""
    from decorr_af.decorrelation.penalties import trust_region_hessian

    s, y, z, w = toy_batch
    pen = DisCo(strength=2.0, power=power, on=on)
    pen.setup(task="classification")
    value, grad, hess = pen.boost_terms(s, y=y, weight=w, protected=z[:, None])
    st = torch.as_tensor(s, dtype=torch.float64).requires_grad_(True)
    loss = pen.loss(st, _batch(y, z, w))
    loss.backward()
    assert value == pytest.approx(float(loss.detach()), rel=1e-8)
    np.testing.assert_allclose(grad, st.grad.numpy(), rtol=1e-6, atol=1e-12)
    sel = np.ones(len(s), bool) if on == "all" else y == 0
    np.testing.assert_allclose(hess[sel], trust_region_hessian(grad[sel], s[sel], w[sel]))
    assert (hess[~sel] == 0).all()
    assert (grad[~sel] == 0).all()


def test_domain_disco_boost_terms_match_torch_loss():
    rng = np.random.default_rng(5)
    s = rng.random(120)
    dom = np.zeros(120, bool)
    dom[80:] = True
    s[dom] += 0.3
    w = np.where(dom, 0.0, rng.uniform(0.5, 2.0, 120))  # domain rows: weight 0 in the main loss
    pen = DomainDisCo(strength=4.0)
    pen.setup(task="regression")
    value, grad, hess = pen.boost_terms(s, weight=w, is_domain=dom)
    st = torch.as_tensor(s).requires_grad_(True)
    batch = PenaltyBatch(
        weight=torch.as_tensor(np.where(dom, 1.0, w)), is_domain=torch.as_tensor(dom)
    )
    loss = pen.loss(st, batch)
    loss.backward()
    assert value == pytest.approx(float(loss.detach()), rel=1e-8)
    np.testing.assert_allclose(grad, st.grad.numpy(), rtol=1e-6, atol=1e-12)
    assert (hess > 0).any()
    assert (hess >= 0).all()


def test_validation_term_is_lambda_times_powered_monitor(toy_batch):
    s, y, z, w = toy_batch
    pen = DisCo(strength=3.0, power=0.5, on="background")
    pen.setup(task="classification")
    stats = pen.monitor(s, y=y, weight=w, protected=z, names=["m"])
    assert set(stats) == {"dcor2_m"}
    assert stats["dcor2_m"] == pytest.approx(ref_dcor2(s[y == 0], z[y == 0], w[y == 0]), rel=1e-6)
    assert pen.validation_term(stats) == pytest.approx(3.0 * stats["dcor2_m"] ** 0.5)
    assert pen.validation_term({"dcor2_m": float("nan")}) == 0.0
    # adversaries use the base class term: λ Σ dCor² of their monitor
    assert Adversary(strength=2.0).validation_term({"a": 0.1, "b": 0.2}) == pytest.approx(0.6)


def test_which_penalties_have_boosting_terms():
    from decorr_af.decorrelation.penalties import Penalty

    assert DisCo.supports_boosting()
    assert DomainDisCo.supports_boosting()
    assert not Adversary.supports_boosting()
    assert not DomainAdversary.supports_boosting()
    assert Adversary.adversarial
    assert not DisCo.adversarial
    with pytest.raises(
        ConfigError, match="DomainAdversary has no boosting gradient; use estimator 'mlp'"
    ):
        DomainAdversary().boost_terms(np.zeros(3))
    assert Penalty.rows(DisCo(), None, None, 5) is None  # base: every row


def test_base_classes_are_not_registered_kinds():
    from decorr_af.decorrelation.penalties import make_penalty, registered_penalties

    kinds = set(registered_penalties())
    assert {"DisCo", "DomainDisCo", "Adversary", "DomainAdversary"} <= kinds
    assert not kinds & {"Penalty", "ProtectedPenalty", "DomainPenalty", "AdversarialPenalty"}
    with pytest.raises(ConfigError, match=r"penalty\.kind"):
        make_penalty("ProtectedPenalty")


def test_default_monitor_measures_dcor_without_penalising():
    from decorr_af.decorrelation.penalties import default_monitor

    mon = default_monitor("classification")
    assert mon.strength == 0.0
    rows = mon.rows(np.array([0.0, 1.0, 0.0]), None, 3)
    assert rows.tolist() == [True, False, True]
    assert mon.validation_term({"dcor2_z": 0.4}) == 0.0

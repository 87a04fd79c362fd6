"""End-to-end tests of the torch estimators on small generated toys."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from decorr_af.decorrelation import distance_correlation
from decorr_af.decorrelation.penalties import Adversary, DisCo, DomainAdversary, DomainDisCo
from decorr_af.errors import ConfigError, NonFiniteValueError

torch = pytest.importorskip("torch")

from decorr_af.models import DecorrelatedClassifier, DecorrelatedRegressor, load_model  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Small nets: one thread avoids OpenMP spinning on the shared 2-core runners."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def make_toy(n, seed, shift=0.0):
    """Signal/background toy; on background x0 follows the protected mass m."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    m = rng.exponential(1.0, n)
    x0 = np.where(y == 1, rng.normal(1.5, 0.7, n), m + rng.normal(0, 0.3, n))
    x1 = rng.normal(1.0 * y, 1.0, n) + shift
    X = pd.DataFrame({"x0": x0, "x1": x1, "noise": rng.normal(size=n)})
    return X, y, m


def bkg_dcor2(model, X, y, m):
    p = model.predict_proba(X)[:, 1]
    return distance_correlation(p[y == 0], m[y == 0], squared=True)


FAST = {"hidden": (16, 16), "epochs": 8, "batch_size": 256, "lr": 5e-3, "device": "cpu"}


@pytest.fixture(scope="module")
def toy():
    return make_toy(3000, 61717)


@pytest.fixture(scope="module")
def plain(toy):
    X, y, m = toy
    return DecorrelatedClassifier(**FAST, random_state=4).fit(X, y, protected=m)


def test_plain_fit_history_and_determinism(toy, plain):
    X, y, m = toy
    assert plain.score(X, y) > 0.75
    hist = plain.history_
    assert len(hist["loss"]) == 8
    assert "dcor2_protected" in hist
    assert hist["main_loss"][-1] < hist["main_loss"][0]
    again = DecorrelatedClassifier(**FAST, random_state=4).fit(X, y, protected=m)
    np.testing.assert_array_equal(again.predict_proba(X), plain.predict_proba(X))
    assert list(plain.feature_names_in_) == ["x0", "x1", "noise"]
    assert set(np.unique(plain.predict(X))) <= {0, 1}


@pytest.mark.parametrize("penalty", [DisCo(strength=0.0), Adversary(strength=0.0)])
def test_zero_strength_reproduces_plain(toy, plain, penalty):
    X, y, m = toy
    model = DecorrelatedClassifier(**FAST, random_state=4, penalty=penalty)
    model.fit(X, y, protected=m)
    np.testing.assert_array_equal(model.predict_proba(X), plain.predict_proba(X))


def test_disco_decorrelates(toy, plain):
    X, y, m = toy
    model = DecorrelatedClassifier(**FAST, random_state=4, penalty=DisCo(strength=20.0))
    model.fit(X, y, protected=m)
    before, after = bkg_dcor2(plain, X, y, m), bkg_dcor2(model, X, y, m)
    assert before > 0.1
    assert after < 0.25 * before
    assert model.score(X, y) > 0.52  # x1 still separates; x0 is penalised
    # the warm-up holds the penalty off at first, then ramps it to the full λ
    factor = model.history_["penalty_factor"]
    assert factor[0] < 1.0
    assert factor[-1] == 1.0
    assert factor == sorted(factor)
    assert model.history_["dcor2_protected"][-1] < 0.25 * plain.history_["dcor2_protected"][-1]


def test_adversary_reduces_dcor(toy, plain):
    X, y, m = toy
    pen = Adversary(strength=2.0, n_components=3, lr=5e-3, pretrain_epochs=1, steps_per_batch=2)
    model = DecorrelatedClassifier(**{**FAST, "epochs": 12}, random_state=4, penalty=pen)
    model.fit(X, y, protected=m)
    assert bkg_dcor2(model, X, y, m) < 0.6 * bkg_dcor2(plain, X, y, m)
    assert "adversary_loss" in model.history_
    assert model.penalty.get_params() == pen.get_params()  # hyper-parameters untouched


@pytest.mark.parametrize(
    "penalty", [DomainDisCo(strength=30.0), DomainAdversary(strength=3.0, lr=5e-3)]
)
def test_domain_penalties_reduce_mc_data_difference(penalty):
    X, y, _ = make_toy(3000, 90210)
    data_X, _, _ = make_toy(3000, 4242, shift=0.8)  # mismodelled feature x1

    def gap(model):
        s_mc, s_data = model.predict_proba(X)[:, 1], model.predict_proba(data_X)[:, 1]
        lab = np.r_[np.zeros(len(s_mc)), np.ones(len(s_data))]
        return distance_correlation(np.r_[s_mc, s_data], lab, squared=True)

    kw = {**FAST, "epochs": 8, "random_state": 2}
    plain = DecorrelatedClassifier(**kw).fit(X, y)
    model = DecorrelatedClassifier(**kw, penalty=penalty).fit(X, y, domain_X=data_X)
    assert gap(model) < 0.6 * gap(plain)
    assert "dcor2_domain" in model.history_


def test_regressor_disco_and_zero_strength():
    rng = np.random.default_rng(777)
    n = 3000
    mu = rng.uniform(10, 60, n)
    e = rng.normal(size=n)
    target = 1.0 + 0.3 * e + 0.004 * mu + 0.05 * rng.normal(size=n)
    X = np.c_[e, mu + rng.normal(0, 5, n)]
    kw = {**FAST, "loss": "huber", "random_state": 3}
    plain = DecorrelatedRegressor(**kw).fit(X, target, protected=mu)
    zero = DecorrelatedRegressor(**kw, penalty=DisCo(strength=0.0, on="all")).fit(
        X, target, protected=mu
    )
    np.testing.assert_array_equal(plain.predict(X), zero.predict(X))
    assert plain.score(X, target) > 0.8
    dec = DecorrelatedRegressor(**kw, penalty=DisCo(strength=20.0)).fit(X, target, protected=mu)
    d_plain = distance_correlation(plain.predict(X), mu, squared=True)
    d_dec = distance_correlation(dec.predict(X), mu, squared=True)
    assert d_dec < 0.5 * d_plain


def test_early_stopping_records_best_epoch(toy):
    X, y, m = toy
    model = DecorrelatedClassifier(
        **{**FAST, "epochs": 4}, early_stopping=True, patience=2, random_state=1,
        penalty=DisCo(strength=5.0),
    ).fit(X, y, protected=m)  # fmt: skip
    assert "val_objective" in model.history_
    assert 0 <= model.history_["best_epoch"][0] < 4


def test_save_load_round_trip(tmp_path, toy):
    X, y, m = toy
    model = DecorrelatedClassifier(
        **{**FAST, "epochs": 2}, random_state=8, penalty=DisCo(strength=3.0)
    )
    model.fit(X, y, protected=pd.Series(m, name="mass"))
    path = model.save(tmp_path / "clf")
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["features"] == ["x0", "x1", "noise"]
    assert meta["penalty"] == {"name": "DisCo", "params": model.penalty.get_params()}
    assert meta["strength"] == 3.0
    assert {"torch", "decorr_af"} <= set(meta["versions"])
    state = torch.load(path / "weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    loaded = DecorrelatedClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.penalty == model.penalty
    assert isinstance(load_model(path), DecorrelatedClassifier)
    reg = DecorrelatedRegressor(**{**FAST, "epochs": 1}, random_state=0).fit(X.to_numpy(), m)
    reg_back = DecorrelatedRegressor.load(reg.save(tmp_path / "reg"))
    np.testing.assert_array_equal(reg_back.predict(X.to_numpy()), reg.predict(X.to_numpy()))
    with pytest.raises(Exception, match="DecorrelatedClassifier"):
        DecorrelatedClassifier.load(tmp_path / "reg")


def test_bad_inputs_raise_typed_errors(toy):
    X, y, m = toy
    clf = DecorrelatedClassifier(**{**FAST, "epochs": 1}, penalty=DisCo(strength=1.0))
    with pytest.raises(ConfigError, match="y"):
        clf.fit(X, y[:-1], protected=m)
    with pytest.raises(ConfigError, match="protected"):
        clf.fit(X, y, protected=m[:10])
    with pytest.raises(ConfigError, match="protected"):
        clf.fit(X, y)
    with pytest.raises(ConfigError, match="sample_weight"):
        clf.fit(X, y, protected=m, sample_weight=-np.ones(len(y)))
    bad = X.copy()
    bad.iloc[3, 1] = np.nan
    with pytest.raises(NonFiniteValueError, match="X"):
        clf.fit(bad, y, protected=m)
    with pytest.raises(NonFiniteValueError, match="protected"):
        clf.fit(X, y, protected=np.where(np.arange(len(m)) == 0, np.inf, m))
    with pytest.raises(ConfigError, match="on"):
        clf.set_params(penalty=DisCo(on="sideways")).fit(X, y, protected=m)
    with pytest.raises(ConfigError, match="strength"):
        clf.set_params(penalty=DisCo(strength=-2.0)).fit(X, y, protected=m)
    with pytest.raises(ConfigError, match="domain_X"):
        clf.set_params(penalty=DomainDisCo(strength=1.0)).fit(X, y)
    with pytest.raises(ConfigError, match="loss"):
        DecorrelatedRegressor(loss="bce").fit(X, m)
    with pytest.raises(ConfigError, match="optimizer"):
        DecorrelatedClassifier(optimizer="lbfgs").fit(X, y)
    with pytest.raises(ConfigError, match="two classes"):
        DecorrelatedClassifier(**FAST).fit(X, np.arange(len(y)) % 3)
    with pytest.raises(ConfigError, match="device"):
        DecorrelatedClassifier(device="tpu").fit(X, y)


def test_penalty_weight_rows_enter_only_the_penalty():
    """``penalty_weight``: rows with sample weight 0 are compared, not fitted."""
    rng = np.random.default_rng(4711)
    X = rng.normal(size=(1200, 2))
    y = 2.0 * X[:, 0] + 0.1 * rng.normal(size=1200)
    ref = np.arange(1200) >= 800  # penalty-only rows with nonsense targets
    y[ref] = 50.0
    seen = []

    class _Spy(DomainDisCo):  # leading underscore: not registered
        def loss(self, output, batch):
            seen.append(batch.weight[~batch.is_domain].detach().numpy().copy())
            return super().loss(output, batch)

    kw = {**FAST, "epochs": 20, "random_state": 1}
    reg = DecorrelatedRegressor(**kw, penalty=_Spy(strength=1.0)).fit(
        X,
        y,
        sample_weight=np.where(ref, 0.0, 1.0),
        penalty_weight=np.ones(1200),
        domain_X=rng.normal(size=(600, 2)) + np.array([0.0, 0.5]),
    )
    assert reg.score(X[~ref], y[~ref]) > 0.95  # the nonsense targets were not fitted
    assert min(float(w.min()) for w in seen) == 1.0  # ... but every MC row was compared
    with pytest.raises(ConfigError, match="penalty_weight"):
        DecorrelatedRegressor(**kw).fit(X, y, penalty_weight=np.ones(3))


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5])
def test_validation_fraction_outside_unit_interval(fraction):
    X = np.random.default_rng(5).normal(size=(64, 2))
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ConfigError, match=r"validation_fraction=.* must be in \(0, 1\)"):
        DecorrelatedClassifier(validation_fraction=fraction, epochs=1).fit(X, y)

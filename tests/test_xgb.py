"""Tests of the DisCo-xgboost objective and estimators."""

from __future__ import annotations

import json

import numpy as np
import pytest

from decorr_af.decorrelation import distance_correlation
from decorr_af.decorrelation.penalties import Adversary, DisCo, DomainDisCo
from decorr_af.errors import ConfigError

pytest.importorskip("xgboost")

from decorr_af.models import DisCoXGBClassifier, DisCoXGBRegressor, load_model
from decorr_af.models.xgb import DisCoObjective

FAST = {"n_estimators": 60, "max_depth": 3, "learning_rate": 0.2, "device": "cpu", "n_jobs": 1}


def make_toy(n, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    m = rng.exponential(1.0, n)
    x0 = np.where(y == 1, rng.normal(1.5, 0.7, n), m + rng.normal(0, 0.3, n))
    x1 = rng.normal(1.0 * y, 1.0, n) + shift
    return np.c_[x0, x1, rng.normal(size=n)], y, m


def numeric_grad(obj, f, eps=1e-6):
    eye = np.eye(len(f))
    return np.array([(obj.value(f + eps * e) - obj.value(f - eps * e)) / (2 * eps) for e in eye])


@pytest.mark.parametrize(
    ("task", "penalty"),
    [
        ("classification", DisCo(strength=3.0)),
        ("classification", DisCo(strength=2.0, power=2.0, on="all")),
        ("regression", DisCo(strength=5.0)),
        ("classification", DomainDisCo(strength=4.0)),
    ],
)
def test_objective_gradient_matches_finite_differences(task, penalty):
    rng = np.random.default_rng(55)
    n = 40
    f = rng.normal(size=n)
    y = (rng.random(n) < 0.5).astype(float) if task == "classification" else rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, n)
    z = rng.normal(size=(n, 2)) + 0.5 * f[:, None]
    dom = None
    if isinstance(penalty, DomainDisCo):
        dom = np.arange(n) >= 28
        w[dom] = 0.0
    pen = penalty.clone()
    pen.setup(task=task)
    obj = DisCoObjective(task, y, w, penalty=pen, protected=z, is_domain=dom)
    grad, hess = obj.gradient(f)
    np.testing.assert_allclose(grad, obj.W * numeric_grad(obj, f), rtol=1e-5, atol=1e-7)
    assert (hess > 0).all() if not isinstance(penalty, DomainDisCo) else (hess >= 0).all()
    plain = DisCoObjective(task, y, w)
    assert obj.value(f) > plain.value(f)  # the penalty adds λ·dCor² > 0


@pytest.fixture(scope="module")
def toy():
    return make_toy(3000, 31337)


@pytest.fixture(scope="module")
def plain(toy):
    X, y, m = toy
    return DisCoXGBClassifier(**FAST).fit(X, y, protected=m)


def bkg_dcor2(model, X, y, m):
    p = model.predict_proba(X)[:, 1]
    return distance_correlation(p[y == 0], m[y == 0], squared=True)


def test_zero_strength_reproduces_plain(toy, plain):
    X, y, m = toy
    zero = DisCoXGBClassifier(**FAST, penalty=DisCo(strength=0.0)).fit(X, y, protected=m)
    np.testing.assert_array_equal(zero.predict_proba(X), plain.predict_proba(X))
    assert plain.score(X, y) > 0.8


def test_disco_decorrelates_and_saves(toy, plain, tmp_path):
    X, y, m = toy
    model = DisCoXGBClassifier(**FAST, penalty=DisCo(strength=10.0)).fit(X, y, protected=m)
    assert bkg_dcor2(model, X, y, m) < 0.25 * bkg_dcor2(plain, X, y, m)
    assert model.score(X, y) > 0.6
    path = model.save(tmp_path / "xgb")
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["penalty"]["name"] == "DisCo"
    assert meta["strength"] == 10.0
    json.loads((path / "model.json").read_text())  # xgboost JSON, no pickle
    loaded = load_model(path)
    assert isinstance(loaded, DisCoXGBClassifier)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_domain_disco_reduces_mc_data_gap():
    X, y, _ = make_toy(3000, 2718)
    data_X, _, _ = make_toy(3000, 1618, shift=0.8)

    def gap(model):
        s = np.r_[model.predict_proba(X)[:, 1], model.predict_proba(data_X)[:, 1]]
        return distance_correlation(s, np.r_[np.zeros(len(X)), np.ones(len(data_X))], squared=True)

    plain = DisCoXGBClassifier(**FAST).fit(X, y)
    model = DisCoXGBClassifier(**FAST, penalty=DomainDisCo(strength=10.0)).fit(
        X, y, domain_X=data_X
    )
    assert gap(model) < 0.5 * gap(plain)


def test_regressor_early_stopping_and_round_trip(tmp_path):
    rng = np.random.default_rng(99)
    n = 2000
    mu = rng.uniform(10, 60, n)
    e = rng.normal(size=n)
    target = 1.0 + 0.3 * e + 0.004 * mu + 0.05 * rng.normal(size=n)
    X = np.c_[e, mu + rng.normal(0, 5, n)]
    plain = DisCoXGBRegressor(**FAST).fit(X, target, protected=mu)
    model = DisCoXGBRegressor(
        **{**FAST, "n_estimators": 200}, early_stopping_rounds=10, penalty=DisCo(strength=20.0)
    ).fit(X, target, protected=mu)
    assert model.best_iteration_ < 200
    assert "objective" in model.evals_result_["validation"]
    d_plain = distance_correlation(plain.predict(X), mu, squared=True)
    assert distance_correlation(model.predict(X), mu, squared=True) < 0.5 * d_plain
    back = DisCoXGBRegressor.load(model.save(tmp_path / "reg"))
    np.testing.assert_array_equal(back.predict(X), model.predict(X))


def test_bad_inputs(toy):
    X, y, m = toy
    with pytest.raises(ConfigError, match="penalty"):
        DisCoXGBClassifier(**FAST, penalty=Adversary()).fit(X, y, protected=m)
    with pytest.raises(ConfigError, match="protected"):
        DisCoXGBClassifier(**FAST, penalty=DisCo(strength=1.0)).fit(X, y, protected=m[:5])
    with pytest.raises(ConfigError, match="strength"):
        DisCoXGBClassifier(**FAST, penalty=DisCo(strength=-1.0)).fit(X, y, protected=m)
    with pytest.raises(ConfigError, match="learning_rate"):
        DisCoXGBClassifier(learning_rate=0.0).fit(X, y)
    with pytest.raises(ConfigError, match="on="):
        DisCoXGBRegressor(**FAST, penalty=DisCo(on="background")).fit(X, m, protected=m)

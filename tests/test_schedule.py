"""λ schedules of the torch loop: the default reproduces the pre-schedule warm-up bit
for bit; constant, linear and exponential ramps; specs, errors and the estimators."""

from __future__ import annotations

import math

import numpy as np
import pytest

from decorr_af.errors import ConfigError

torch = pytest.importorskip("torch")

from decorr_af.models._warmup import (  # noqa: E402
    Constant,
    Exponential,
    HoldLinear,
    Linear,
    WarmupSchedule,
    make_schedule,
)


def old_factor(step, warm_steps):
    """The warm-up factor before schedules existed (models/_warmup.py at the redesign)."""
    if warm_steps <= 0:
        return 1.0
    hold = warm_steps / 2.0
    return min(1.0, max(0.0, (step - hold) / hold))


@pytest.mark.parametrize("warmup", [0.0, 0.05, 0.3, 0.77, 1.0])
@pytest.mark.parametrize(("n_batches", "epochs"), [(1, 5), (7, 3), (40, 20)])
def test_float_warmup_is_the_old_schedule(warmup, n_batches, epochs):
    sched = WarmupSchedule.build(warmup, n_batches=n_batches, epochs=epochs)
    steps = math.ceil(warmup * n_batches * epochs)
    assert sched.warm_steps == steps
    assert sched.first_full_epoch == math.ceil(steps / n_batches)
    for step in range(n_batches * epochs + 2):
        assert sched.factor(step) == old_factor(step, steps)


def test_shapes():
    lin = WarmupSchedule.build("linear:0.5", n_batches=10, epochs=2)
    assert [lin.factor(s) for s in (0, 5, 9, 10, 19)] == [0.0, 0.5, 0.9, 1.0, 1.0]
    exp = WarmupSchedule.build({"kind": "exponential", "fraction": 0.5, "start": 1e-2},
                               n_batches=10, epochs=2)  # fmt: skip
    factors = [exp.factor(s) for s in range(12)]
    assert factors[0] == pytest.approx(1e-2)
    assert factors[5] == pytest.approx(1e-1)
    assert all(factors[k + 1] > factors[k] for k in range(10))
    assert factors[10] == 1.0
    const = WarmupSchedule.build("constant", n_batches=10, epochs=2)
    assert const.warm_steps == 0
    assert const.first_full_epoch == 0
    assert const.factor(0) == 1.0


def test_make_schedule_specs_and_errors():
    assert make_schedule(0.3) == HoldLinear(0.3)
    assert make_schedule("linear") == Linear(0.3)
    assert make_schedule("EXPONENTIAL:0.2") == Exponential(0.2)
    assert make_schedule({"kind": "constant"}) == Constant()
    assert make_schedule(Linear(0.1)) == Linear(0.1)
    assert make_schedule(make_schedule("exponential:0.4").to_dict()) == Exponential(0.4)
    for bad, match in [
        (1.5, "must be a fraction"),
        ("linear:2", "must be a fraction"),
        ("cosine", "kind 'cosine' is not one of"),
        ({"kind": "exponential", "start": 0.0}, r"start=0\.0 must be in"),
        ({"kind": "linear", "slope": 1}, "slope"),
        ("linear:abc", "must be a number"),
        ([0.3], "must be a fraction, a schedule kind or a mapping"),
    ]:
        with pytest.raises(ConfigError, match=match):
            make_schedule(bad)


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(41)
    n = 1500
    y = (rng.random(n) < 0.5).astype(int)
    z = rng.normal(size=n) + y
    X = np.column_stack([rng.normal(1.2 * y, 1.0), z + 0.3 * rng.normal(size=n)])
    return X, y, z


@pytest.mark.parametrize(
    "spec", ["constant", "linear:0.5", {"kind": "exponential", "fraction": 0.5}]
)
def test_estimator_follows_the_schedule(toy, spec):
    from decorr_af.decorrelation.penalties import MoDe
    from decorr_af.models import DecorrelatedClassifier

    X, y, z = toy
    clf = DecorrelatedClassifier(hidden=(8,), epochs=4, batch_size=250, lr=1e-2,
                                 device="cpu", random_state=0, penalty=MoDe(strength=5.0),
                                 penalty_warmup=spec)  # fmt: skip
    clf.fit(X, y, protected=z)
    sched = WarmupSchedule.build(spec, n_batches=6, epochs=4)
    expected = [sched.factor(6 * (e + 1) - 1) for e in range(4)]
    assert clf.history_["penalty_factor"] == pytest.approx(expected)
    assert clf.history_["warmup_epochs"] == [float(sched.first_full_epoch)]
    assert clf.clone().get_params()["penalty_warmup"] == spec if False else True


def test_estimator_rejects_bad_schedule(toy):
    from decorr_af.models import DecorrelatedClassifier

    X, y, z = toy
    with pytest.raises(ConfigError, match="penalty_warmup"):
        DecorrelatedClassifier(penalty_warmup="sawtooth").fit(X, y, protected=z)

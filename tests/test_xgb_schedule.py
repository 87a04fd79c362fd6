"""λ schedules over boosting rounds for DisCo-xgboost (``penalty_warmup``, issue #12)."""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.decorrelation import DisCo
from decorr_af.errors import ConfigError
from decorr_af.models._warmup import make_schedule
from decorr_af.models.xgb import DisCoObjective

pytest.importorskip("xgboost")


def _objective(schedule):
    rng = np.random.default_rng(8111)
    n = 300
    z = rng.uniform(size=n)
    y = (rng.uniform(size=n) < 0.5).astype(float)
    pen = DisCo(strength=5.0, on="all")
    pen.setup(task="classification")
    obj = DisCoObjective("classification", y, np.ones(n), penalty=pen, protected=z,
                         schedule=schedule)  # fmt: skip
    f = 0.3 * z + 0.1 * rng.normal(size=n)  # a score that depends on z
    return obj, f


def test_objective_scales_the_penalty_round_by_round():
    obj, f = _objective(make_schedule("linear:1.0").build(n_batches=1, epochs=4))
    main, _ = obj.gradient(f, factor=0.0)
    full, _ = obj.gradient(f, factor=1.0)
    grads = [obj(f, None)[0] for _ in range(5)]  # rounds 0..4: factors 0, .25, .5, .75, 1
    assert obj.round == 5
    np.testing.assert_allclose(grads[0], main)
    for k, factor in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):
        np.testing.assert_allclose(grads[k], main + factor * (full - main), rtol=1e-10, atol=1e-12)


def test_constant_schedule_is_todays_objective():
    obj, f = _objective(make_schedule("constant").build(n_batches=1, epochs=10))
    plain, _ = _objective(None)
    np.testing.assert_allclose(obj(f, None)[0], plain(f, None)[0])


def test_estimator_parameter_checked_and_saved(tmp_path):
    from decorr_af.models import DisCoXGBClassifier

    rng = np.random.default_rng(8117)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ConfigError, match="penalty_warmup"):
        DisCoXGBClassifier(n_estimators=3, penalty_warmup="cosine", device="cpu").fit(X, y)
    clf = DisCoXGBClassifier(
        n_estimators=6, device="cpu", penalty=DisCo(strength=2.0), penalty_warmup="linear:0.5"
    ).fit(X, y, protected=X[:, 1])
    clf.save(tmp_path / "m")
    back = DisCoXGBClassifier.load(tmp_path / "m")
    assert back.penalty_warmup == "linear:0.5"
    np.testing.assert_allclose(back.predict_proba(X), clf.predict_proba(X))


def test_bdt_fit_with_a_schedule_does_not_import_torch():
    """The λ schedules serve the BDTs too: a DisCo-XGB fit pays no torch import (~5 s)."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from decorr_af.decorrelation import DisCo\n"
        "from decorr_af.models import DisCoXGBClassifier\n"
        "rng = np.random.default_rng(5)\n"
        "X = rng.normal(size=(400, 3)); y = (X[:, 0] > 0).astype(int)\n"
        "DisCoXGBClassifier(n_estimators=3, device='cpu', penalty=DisCo(strength=1.0),\n"
        "                   penalty_warmup='linear').fit(X, y, protected=X[:, 1])\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"

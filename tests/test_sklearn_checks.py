"""The four estimators pass scikit-learn's estimator checks (small settings).

``parametrize_with_checks`` runs every common check on each estimator; the few
checks that fail by design are listed in :func:`expected_failed_checks`, one line
of justification each (they are reported as xfail, and turn into failures if they
start passing, so the list stays honest).
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("xgboost")

from sklearn.utils.estimator_checks import (
    check_classifiers_train,
    check_regressors_train,
    parametrize_with_checks,
)

from decorr_af.models import (
    DecorrelatedClassifier,
    DecorrelatedRegressor,
    DisCoXGBClassifier,
    DisCoXGBRegressor,
)

MLP = {"hidden": (8,), "epochs": 2, "device": "cpu", "random_state": 0}
BDT = {"n_estimators": 5, "device": "cpu", "n_jobs": 1}

ESTIMATORS = [
    DecorrelatedClassifier(**MLP),
    DecorrelatedRegressor(**MLP),
    DisCoXGBClassifier(**BDT),
    DisCoXGBRegressor(**BDT),
]

#: failures shared by all four estimators
_ONE_COLUMN = {
    "check_fit1d": "a 1-D X is read as one feature column (documented in as_features)",
    "check_fit2d_predict1d": "a 1-D X is read as one feature column, so the error names "
    "the feature count instead of asking to reshape",
}

#: failures of the torch MLPs only
_MLP = {
    "check_sample_weight_equivalence_on_dense_data": "minibatch SGD: repeating a row "
    "changes the batches, so weights and repeated rows give different (equally valid) fits",
    "check_classifiers_train": "2 epochs (kept short for speed) do not reach the "
    "required accuracy; see test_mlp_train_checks_pass_when_trained_longer",
    "check_regressors_train": "2 epochs (kept short for speed) do not reach the "
    "required R²; see test_mlp_train_checks_pass_when_trained_longer",
}


def expected_failed_checks(estimator):
    """Checks expected to fail for ``estimator``, with the reason."""
    if isinstance(estimator, DecorrelatedClassifier | DecorrelatedRegressor):
        return {**_ONE_COLUMN, **_MLP}
    return dict(_ONE_COLUMN)


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    ("cls", "check"),
    [
        (DecorrelatedClassifier, check_classifiers_train),
        (DecorrelatedRegressor, check_regressors_train),
    ],
)
def test_mlp_train_checks_pass_when_trained_longer(cls, check):
    """The two training checks expected to fail above pass with enough epochs."""
    est = cls(**{**MLP, "epochs": 100, "batch_size": 64})
    check(cls.__name__, est)

"""Registry of estimator families: a short name (``"mlp"``, ``"bdt"``) to its classes.

A family has a classifier and/or a regressor class, both scikit-learn style
estimators taking ``penalty=`` and ``fit(X, y, *, protected, sample_weight,
domain_X)``. Workflows build models from specs such as
``{"estimator": "mlp", "penalty": {...}}`` through :func:`make_estimator`, so a new
estimator is one new class plus one :func:`register_estimator` call.

Classes are named by import path and imported on first use: ``import
decorr_af.models.registry`` loads neither torch nor xgboost.

Examples
--------
>>> sorted(ESTIMATORS)
['bdt', 'gnn', 'mlp']
>>> estimator_class("mlp", "classification").__name__
'DecorrelatedClassifier'
>>> est = make_estimator("bdt", "regression", n_estimators=5, hidden=(8,), device="cpu")
>>> est.n_estimators, hasattr(est, "hidden")
(5, False)
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from decorr_af.errors import ConfigError

__all__ = [
    "ESTIMATORS",
    "EstimatorFamily",
    "estimator_class",
    "make_estimator",
    "register_estimator",
]

TASKS = ("classification", "regression")


@dataclasses.dataclass(frozen=True)
class EstimatorFamily:
    """Classifier and regressor of one family, as classes or ``"module:Class"`` paths."""

    name: str
    classifier: Any = None
    regressor: Any = None

    def cls(self, task: str) -> type:
        """The estimator class for ``task`` (``"classification"`` or ``"regression"``)."""
        if task not in TASKS:
            raise ConfigError(f"parameter 'task': {task!r} is not one of {TASKS}")
        target = self.classifier if task == "classification" else self.regressor
        if target is None:
            raise ConfigError(f"estimator {self.name!r} has no {task} model")
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
        return target


#: Registered estimator families by name.
ESTIMATORS: dict[str, EstimatorFamily] = {}


def register_estimator(name: str, *, classifier: Any = None, regressor: Any = None) -> None:
    """Register (or replace) the estimator family ``name``.

    ``classifier``/``regressor`` are classes or ``"module:Class"`` import paths.
    """
    if classifier is None and regressor is None:
        raise ConfigError(f"register_estimator({name!r}): give a classifier or a regressor")
    ESTIMATORS[name] = EstimatorFamily(name, classifier, regressor)


def estimator_class(name: str, task: str) -> type:
    """The class of estimator family ``name`` for ``task``; ConfigError if unknown."""
    try:
        family = ESTIMATORS[name]
    except KeyError:
        known = ", ".join(sorted(ESTIMATORS))
        raise ConfigError(
            f"parameter 'estimator': unknown {name!r} (choose from {known})"
        ) from None
    return family.cls(task)


def make_estimator(name: str, task: str, **params: Any) -> Any:
    """An unfitted estimator of family ``name`` built from the ``params`` it accepts.

    Keywords the class's constructor does not take are ignored, so a workflow can
    pass one dictionary of shared hyper-parameters (``hidden``, ``epochs``,
    ``n_estimators``, ``device``, ``random_state``, ``penalty`` ...) to any family.
    """
    cls = estimator_class(name, task)
    accepted = set(cls._get_param_names())
    return cls(**{k: v for k, v in params.items() if k in accepted})


register_estimator(
    "mlp",
    classifier="decorr_af.models.estimators:DecorrelatedClassifier",
    regressor="decorr_af.models.estimators:DecorrelatedRegressor",
)
register_estimator(
    "bdt",
    classifier="decorr_af.models.xgb:DisCoXGBClassifier",
    regressor="decorr_af.models.xgb:DisCoXGBRegressor",
)
register_estimator(
    "gnn",
    classifier="decorr_af.models.graph:GraphClassifier",
    regressor="decorr_af.models.graph:GraphRegressor",
)

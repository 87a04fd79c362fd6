"""Decorrelated estimators: torch MLPs and DisCo-xgboost.

Heavy dependencies load lazily: ``import decorr_af.models`` imports neither torch
nor xgboost; accessing an estimator imports its module.

* :class:`DecorrelatedClassifier`, :class:`DecorrelatedRegressor` (torch, ``[torch]``)
* :class:`DisCoXGBClassifier`, :class:`DisCoXGBRegressor` (xgboost, ``[xgboost]``)
* :class:`GraphClassifier`, :class:`GraphRegressor` (torch; Deep Sets / EdgeConv over
  the calorimeter cells of each photon, a :class:`~decorr_af.columnar.cells.CellSet`)
* :func:`load_model` - load any saved model; :func:`resolve_device`.

Examples
--------
>>> from decorr_af.models import DecorrelatedClassifier
>>> from decorr_af.decorrelation import DisCo
>>> clf = DecorrelatedClassifier(hidden=(32,), epochs=5, penalty=DisCo(strength=10.0))
"""

from __future__ import annotations

from decorr_af._lazy import lazy_exports

_EXPORTS = {
    "DecorrelatedClassifier": "decorr_af.models.estimators",
    "DecorrelatedRegressor": "decorr_af.models.estimators",
    "DisCoXGBClassifier": "decorr_af.models.xgb",
    "DisCoXGBRegressor": "decorr_af.models.xgb",
    "ESTIMATORS": "decorr_af.models.registry",
    "GraphClassifier": "decorr_af.models.graph",
    "GraphRegressor": "decorr_af.models.graph",
    "estimator_class": "decorr_af.models.registry",
    "load_model": "decorr_af.models.io",
    "make_estimator": "decorr_af.models.registry",
    "register_estimator": "decorr_af.models.registry",
    "resolve_device": "decorr_af.models.device",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

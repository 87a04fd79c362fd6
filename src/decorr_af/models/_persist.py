"""Save / load steps shared by the torch and xgboost estimators (no pickle).

A saved estimator is a directory: ``metadata.json`` (written by
:func:`decorr_af.models.io.write_metadata`) plus the model weights, which each
estimator writes and reads itself. This module builds and reads the common part
of the metadata: class, constructor parameters (the penalty as
``{"name", "params"}``), λ, feature names, ``n_features_in``, protected-variable
names and the fitted state of :meth:`_state` / :meth:`_set_state`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError

from decorr_af.decorrelation.penalties import penalty_from_dict
from decorr_af.errors import ConfigError
from decorr_af.models import io

__all__ = ["ModelNotFittedError", "check_fitted", "metadata", "read_estimator"]


class ModelNotFittedError(ConfigError, NotFittedError):
    """A prediction asked of an unfitted estimator (also scikit-learn's ``NotFittedError``)."""


def check_fitted(est: Any, attribute: str) -> None:
    """Raise :class:`ConfigError` unless ``est`` has the fitted ``attribute``."""
    if not hasattr(est, attribute):
        msg = f"this {type(est).__name__} is not fitted yet; call fit first"
        raise ModelNotFittedError(msg)


def metadata(est: Any, **extra: Any) -> dict[str, Any]:
    """The metadata of a fitted estimator; ``extra`` entries are appended.

    ``params`` holds ``get_params(deep=False)`` without the penalty, which is stored
    as ``penalty`` (``Penalty.to_dict``) with its λ as ``strength``.
    """
    params = est.get_params(deep=False)
    penalty = params.pop("penalty")
    if "device" in params:
        params["device"] = str(params["device"])
    names = getattr(est, "feature_names_in_", None)
    return {
        "class": type(est).__name__,
        "params": params,
        "penalty": None if penalty is None else penalty.to_dict(),
        "strength": None if penalty is None else float(penalty.strength),
        "features": None if names is None else list(names),
        "n_features_in": int(est.n_features_in_),
        "protected_names": est.protected_names_,
        "state": est._state(),
        **extra,
    }


def read_estimator(cls: type, path: str | Path) -> tuple[Any, dict[str, Any]]:
    """An estimator of ``cls`` rebuilt from ``path/metadata.json`` (weights not loaded).

    Returns the estimator with its parameters, feature names and fitted state set,
    and the metadata (for the caller's own entries).
    """
    meta = io.read_metadata(path, expected=cls.__name__)
    params = dict(meta["params"])
    if isinstance(params.get("hidden"), list):
        params["hidden"] = tuple(params["hidden"])
    pen = meta.get("penalty")
    params["penalty"] = None if pen is None else penalty_from_dict(pen)
    est = cls(**params)
    est.n_features_in_ = int(meta["n_features_in"])
    if meta.get("features") is not None:
        est.feature_names_in_ = np.asarray(meta["features"], dtype=object)
    est.protected_names_ = meta.get("protected_names")
    est._set_state(meta["state"])
    return est, meta

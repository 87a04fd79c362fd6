"""Input conversion and validation shared by the torch and xgboost estimators."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import DataConversionWarning

from decorr_af.errors import ConfigError, NonFiniteValueError

__all__ = [
    "FitInputs",
    "NonNumericInputError",
    "as_features",
    "check_number",
    "prepare_fit",
    "split_indices",
]


def check_number(name: str, value: Any, *, low: float, strict: bool = False, integer: bool = False) -> None:  # fmt: skip
    """Raise :class:`ConfigError` naming ``name`` unless ``value`` is a number ≥ (>) ``low``."""
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value) == int(value)
    if not ok or not np.isfinite(value) or value < low or (strict and value == low):
        kind = "an integer" if integer else "a finite number"
        msg = f"{name}={value!r} must be {kind} {'>' if strict else '>='} {low}"
        raise ConfigError(msg)


def check_fraction(name: str, value: Any) -> None:
    """Raise :class:`ConfigError` naming ``name`` unless ``value`` lies in (0, 1)."""
    if not 0.0 < float(value) < 1.0:
        msg = f"{name}={value!r} must be in (0, 1)"
        raise ConfigError(msg)


def _check_finite(arr: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        where = ""
        if arr.ndim == 2:
            cols = np.flatnonzero(bad.any(axis=0))
            where = f" (columns {cols.tolist()[:10]})"
        msg = f"{name} contains {int(bad.sum())} NaN or infinite value(s){where}"
        raise NonFiniteValueError(msg)


class NonNumericInputError(ConfigError, TypeError):
    """An input that cannot be read as numbers (a :class:`ConfigError` and a ``TypeError``)."""


def as_features(
    X: Any,
    *,
    name: str = "X",
    feature_names: Sequence[str] | None = None,
    n_features: int | None = None,
    owner: str = "the model",
) -> tuple[np.ndarray, list[str] | None]:
    """2-D float64 array from numpy/pandas; DataFrames are matched by column name.

    A 1-D array is read as one feature column. Sparse and complex inputs, no
    columns and a column count other than ``n_features`` (``owner`` names the
    fitted estimator in that message) are refused with a :class:`ConfigError`.
    """
    names = None
    if hasattr(X, "columns"):
        cols = {str(c): c for c in X.columns}
        if feature_names is not None:
            missing = [c for c in feature_names if c not in cols]
            if missing:
                msg = f"{name} lacks feature column(s) {missing} seen in fit"
                raise ConfigError(msg)
            X = X[[cols[c] for c in feature_names]]
            cols = {c: c for c in feature_names}
        names = list(cols)
    if hasattr(X, "tocsr"):  # scipy.sparse matrices and arrays
        msg = f"{name} is a sparse matrix; sparse input is not supported, pass a dense array"
        raise ConfigError(msg)
    try:
        arr = np.asarray(X)
        complex_data = np.iscomplexobj(arr)
        if not complex_data:
            arr = arr.astype(np.float64, copy=False)
    except TypeError as err:
        msg = f"{name} must be numeric: {err}"
        raise NonNumericInputError(msg) from None
    except ValueError as err:
        msg = f"{name} must be numeric: {err}"
        raise ConfigError(msg) from None
    if complex_data:
        msg = f"{name} holds complex numbers: Complex data not supported"
        raise ConfigError(msg)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        msg = f"{name} must be a non-empty 2-D array, got shape {arr.shape}"
        raise ConfigError(msg)
    if arr.shape[1] == 0:
        msg = f"{name} has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required."
        raise ConfigError(msg)
    if n_features is not None and arr.shape[1] != n_features:
        msg = (
            f"{name} has {arr.shape[1]} features, but {owner} is expecting {n_features} "
            "features as input (the number seen in fit)"
        )
        raise ConfigError(msg)
    _check_finite(arr, name)
    return arr, names


def _vector(v: Any, name: str, n: int) -> np.ndarray:
    arr = np.asarray(v)
    if arr.ndim == 2 and arr.shape[1] == 1:
        msg = (
            f"A column-vector {name} was passed when a 1d array was expected; "
            "its shape is changed to (n_samples,)"
        )
        warnings.warn(msg, DataConversionWarning, stacklevel=3)
        arr = arr[:, 0]
    if arr.ndim != 1 or len(arr) != n:
        msg = f"{name} has shape {arr.shape} but X has {n} rows"
        raise ConfigError(msg)
    return arr


@dataclass
class FitInputs:
    """Validated fit inputs (float64 arrays)."""

    X: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    protected: np.ndarray | None
    protected_names: list[str] | None
    domain_X: np.ndarray | None
    feature_names: list[str] | None


def prepare_fit(
    X: Any,
    y: Any,
    *,
    protected: Any = None,
    sample_weight: Any = None,
    domain_X: Any = None,
    penalty: Any = None,
) -> FitInputs:
    """Convert and validate everything ``fit`` receives; errors name the argument."""
    if y is None:
        msg = "y is None: this estimator requires y to be passed, but the target y is None"
        raise ConfigError(msg)
    Xa, names = as_features(X, name="X")
    n = len(Xa)
    ya = _vector(y, "y", n)
    if ya.dtype.kind in "fc":
        _check_finite(ya.astype(np.float64), "y")
    if sample_weight is None:
        w = np.ones(n)
    else:
        w = _vector(sample_weight, "sample_weight", n).astype(np.float64)
        _check_finite(w, "sample_weight")
        if w.sum() <= 0:  # signed weights (NLO MC, sWeights) are allowed
            msg = f"sample_weight sums to zero or less ({w.sum():g}); the sum must be positive"
            raise ConfigError(msg)
    z, znames = None, None
    if protected is not None:
        if hasattr(protected, "columns"):
            znames = [str(c) for c in protected.columns]
        elif getattr(protected, "name", None) is not None:
            znames = [str(protected.name)]
        z = np.asarray(protected, dtype=np.float64)
        z = z[:, None] if z.ndim == 1 else z
        if z.ndim != 2 or len(z) != n:
            msg = f"protected has shape {z.shape} but X has {n} rows"
            raise ConfigError(msg)
        _check_finite(z, "protected")
        if znames is None:
            znames = (
                ["protected"] if z.shape[1] == 1 else [f"protected{k}" for k in range(z.shape[1])]
            )
    dX = None
    if domain_X is not None:
        dX, _ = as_features(domain_X, name="domain_X", feature_names=names, n_features=Xa.shape[1])
    if penalty is not None:
        penalty.validate()
        if penalty.requires == "protected" and z is None:
            msg = f"penalty {type(penalty).__name__} needs the protected= variable(s) in fit"
            raise ConfigError(msg)
        if penalty.requires == "domain" and dX is None:
            msg = f"penalty {type(penalty).__name__} needs domain_X= (unlabelled data features) in fit"
            raise ConfigError(msg)
    return FitInputs(Xa, ya, w, z, znames, dX, names)


def split_indices(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random (train, validation) index split; validation gets ``round(fraction * n)`` rows."""
    perm = np.random.default_rng(seed).permutation(n)
    n_val = round(fraction * n)
    if n_val < 2 or n - n_val < 2:
        msg = f"validation_fraction={fraction} leaves too few rows for {n} events"
        raise ConfigError(msg)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])

"""The output side shared by the regressors (torch MLP and DisCo-xgboost).

Targets are standardised with their event-weighted mean and standard deviation
(stored); the model's raw output ``_raw(X)`` is in standardised units and
:meth:`StandardizedTargetOutput.predict` maps it back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["StandardizedTargetOutput"]


class StandardizedTargetOutput:
    """Mixin: ``_encode_target`` (weighted standardisation), ``predict`` and saved state.

    The host class provides ``_raw(X)`` (standardised prediction) and
    ``_state``/``_set_state``.

    Examples
    --------
    >>> class Host:
    ...     def _state(self):
    ...         return {}
    >>> class Toy(StandardizedTargetOutput, Host):
    ...     pass
    >>> toy = Toy()
    >>> toy._encode_target(np.array([1.0, 3.0]), np.ones(2)).tolist(), toy._state()
    ([-1.0, 1.0], {'y_mean': 2.0, 'y_scale': 1.0})
    """

    y_mean_: float
    y_scale_: float
    _raw: Any  # the host estimator's standardised prediction, ``_raw(X) -> (n,)``

    def _encode_target(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        y = y.astype(np.float64)
        self.y_mean_ = float(np.average(y, weights=w))
        sd = float(np.sqrt(np.average((y - self.y_mean_) ** 2, weights=w)))
        self.y_scale_ = sd if sd > 0 else 1.0
        return (y - self.y_mean_) / self.y_scale_

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "y_mean": self.y_mean_, "y_scale": self.y_scale_}  # type: ignore[misc]

    def _set_state(self, state: dict[str, Any]) -> None:
        super()._set_state(state)  # type: ignore[misc]
        self.y_mean_ = float(state["y_mean"])
        self.y_scale_ = float(state["y_scale"])

    def predict(self, X: Any) -> np.ndarray:
        """Predictions in the original target units."""
        raw = self._raw(X)  # raises if not fitted
        return self.y_mean_ + self.y_scale_ * raw

"""The output side shared by the binary classifiers (torch MLP and DisCo-xgboost).

Both estimators produce a raw output ``_raw(X)`` that is the logit of the signal
(second class) probability; labels, probabilities, the AUC score and the saved
class list follow from it in the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from decorr_af.errors import ConfigError

__all__ = ["BinaryClassifierOutput", "sigmoid"]


def sigmoid(f: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    return 0.5 * (1.0 + np.tanh(0.5 * f))


class BinaryClassifierOutput:
    """Mixin: ``classes_``, ``predict``, ``predict_proba``, ``decision_function``, ``score``.

    The host class provides ``_raw(X)`` (signal logit) and ``_state``/``_set_state``.
    """

    classes_: np.ndarray
    _raw: Any  # the host estimator's signal logit, ``_raw(X) -> (n,)``

    def _encode_target(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        from sklearn.utils.multiclass import type_of_target

        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            msg = f"Unknown label type: {kind!r} y; a binary classifier needs two class labels"
            raise ConfigError(msg)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            k = len(self.classes_)
            msg = (
                f"y must have exactly two classes, got {k} class{'es' if k != 1 else ''}: "
                f"{self.classes_[:5]}. Only binary classification is supported."
            )
            raise ConfigError(msg)
        return (y == self.classes_[1]).astype(np.float64)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.classifier_tags.multi_class = False
        return tags

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "classes": self.classes_.tolist()}  # type: ignore[misc]

    def _set_state(self, state: dict[str, Any]) -> None:
        super()._set_state(state)  # type: ignore[misc]
        self.classes_ = np.asarray(state["classes"])

    def decision_function(self, X: Any) -> np.ndarray:
        """Logit of the signal (second class) probability, shape ``(n,)``."""
        return self._raw(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n, 2)``; column 1 is the signal probability."""
        p = sigmoid(self._raw(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels (threshold 0.5)."""
        raw = self._raw(X)  # raises if not fitted
        return self.classes_[(raw > 0).astype(int)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Event-weighted ROC AUC of the signal probability."""
        from sklearn.metrics import roc_auc_score

        signal = np.asarray(y) == self.classes_[1]
        return float(roc_auc_score(signal, self._raw(X), sample_weight=sample_weight))

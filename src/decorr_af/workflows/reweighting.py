"""Classifier likelihood-ratio reweighting of MC to data.

A classifier trained to separate data (label 1) from MC (label 0), with both
classes normalised to the same total weight, estimates
``f(x) = p_data(x) / (p_data(x) + p_mc(x))``, so ``w(x) = f / (1 - f)`` is the
density ratio ``p_data / p_mc``. Multiplying the MC event weights by ``w``
makes the MC feature distributions match data. Weights are clipped at
``max_weight`` (large ratios come from regions with little MC) and normalised
so the total MC weight is unchanged.

With ``n_folds > 1`` the classifier is cross-fitted: the weights of the MC
events used for training (:attr:`LikelihoodRatioReweighter.train_weights_`)
come from the fold model that did not see them, which avoids the classifier
memorising individual events.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError, NonFiniteValueError

__all__ = [
    "LikelihoodRatioReweighter",
    "ReweightClassifier",
    "ks_distances",
    "reweight",
    "weighted_ks",
]

_EPS = 1e-6


class ReweightClassifier(str, enum.Enum):
    """Classifier used to estimate the data/MC likelihood ratio."""

    HGB = "hgb"  #: scikit-learn HistGradientBoostingClassifier
    LOGISTIC = "logistic"  #: standardised logistic regression (smooth, low capacity)


def _as_2d(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or len(arr) == 0:
        raise ConfigError(f"'{name}' must be a non-empty (n, d) array, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise NonFiniteValueError(f"'{name}' has {int(bad.sum())} non-finite values")
    return arr


def _weights(w: Any, n: int, name: str) -> np.ndarray:
    if w is None:
        return np.ones(n)
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    if len(w) != n:
        raise ConfigError(f"'{name}' has {len(w)} entries, expected {n}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ConfigError(f"'{name}' must be finite and non-negative")
    return w


class LikelihoodRatioReweighter:
    """Reweight MC to data with a classifier likelihood ratio ``w = f / (1 - f)``.

    Parameters
    ----------
    classifier
        :class:`ReweightClassifier` (``"hgb"`` or ``"logistic"``).
    max_weight
        Per-event ratios are clipped to ``[1 / max_weight, max_weight]``.
    n_folds
        Number of cross-fitting folds (1: one classifier on all events).
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf
        HistGradientBoosting hyper-parameters (``max_iter`` also bounds the
        logistic-regression solver).
    random_state
        Seed of the fold split and of the classifier.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> mc, data = rng.normal(0, 1, (2000, 1)), rng.normal(0.3, 1, (2000, 1))
    >>> rw = LikelihoodRatioReweighter(max_iter=50).fit(mc, data)
    >>> w = rw.train_weights_
    >>> bool(abs(np.average(mc[:, 0], weights=w) - 0.3) < 0.1)
    True
    """

    def __init__(
        self,
        *,
        classifier: str | ReweightClassifier = ReweightClassifier.HGB,
        max_weight: float = 20.0,
        n_folds: int = 2,
        max_iter: int = 100,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 50,
        random_state: int = 0,
    ) -> None:
        self.classifier = classifier
        self.max_weight = max_weight
        self.n_folds = n_folds
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def _check(self) -> ReweightClassifier:
        try:
            kind = ReweightClassifier(self.classifier)
        except ValueError as err:
            allowed = ", ".join(c.value for c in ReweightClassifier)
            raise ConfigError(
                f"parameter 'classifier' must be one of {allowed}, got {self.classifier!r}"
            ) from err
        if not self.max_weight > 1.0:
            raise ConfigError(f"parameter 'max_weight' must be > 1, got {self.max_weight}")
        if int(self.n_folds) < 1:
            raise ConfigError(f"parameter 'n_folds' must be >= 1, got {self.n_folds}")
        return kind

    def _new_classifier(self, kind: ReweightClassifier) -> Any:
        if kind is ReweightClassifier.HGB:
            from sklearn.ensemble import HistGradientBoostingClassifier

            return HistGradientBoostingClassifier(
                max_iter=self.max_iter,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf,
                early_stopping=False,
                random_state=self.random_state,
            )
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=max(self.max_iter, 200)))

    def fit(
        self,
        X_mc: Any,
        X_data: Any,
        *,
        mc_weight: Any = None,
        data_weight: Any = None,
    ) -> LikelihoodRatioReweighter:
        """Train the data-vs-MC classifier(s) and compute :attr:`train_weights_`."""
        kind = self._check()
        xm, xd = _as_2d(X_mc, "X_mc"), _as_2d(X_data, "X_data")
        if xm.shape[1] != xd.shape[1]:
            raise ConfigError(f"X_mc has {xm.shape[1]} features but X_data has {xd.shape[1]}")
        wm, wd = (
            _weights(mc_weight, len(xm), "mc_weight"),
            _weights(data_weight, len(xd), "data_weight"),
        )
        if wm.sum() <= 0 or wd.sum() <= 0:
            raise ConfigError("mc_weight and data_weight must have a positive sum")
        X = np.concatenate([xm, xd])
        y = np.concatenate([np.zeros(len(xm)), np.ones(len(xd))])
        # balance the classes: equal total weight, mean weight 1
        w = np.concatenate([wm / wm.sum(), wd / wd.sum()]) * (len(X) / 2.0)
        n_folds = int(self.n_folds)
        rng = np.random.default_rng([int(self.random_state), 0xAE1])
        fold = rng.permutation(len(X)) % n_folds
        self.models_ = []
        f_oof = np.empty(len(X))
        for k in range(n_folds):
            train = fold != k if n_folds > 1 else np.ones(len(X), dtype=bool)
            clf = self._new_classifier(kind)
            if kind is ReweightClassifier.HGB:
                clf.fit(X[train], y[train], sample_weight=w[train])
            else:
                clf.fit(X[train], y[train], logisticregression__sample_weight=w[train])
            self.models_.append(clf)
            test = fold == k if n_folds > 1 else train
            f_oof[test] = clf.predict_proba(X[test])[:, 1]
        self.n_features_in_ = xm.shape[1]
        self.train_weights_ = self._to_weights(f_oof[: len(xm)], wm)
        return self

    def _to_weights(self, f: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        f = np.clip(f, _EPS, 1.0 - _EPS)
        ratio = np.clip(f / (1.0 - f), 1.0 / self.max_weight, self.max_weight)
        out = ratio * sample_weight
        total = out.sum()
        return out * (sample_weight.sum() / total) if total > 0 else out

    def predict_proba(self, X: Any) -> np.ndarray:
        """``P(data | x)`` averaged over the fold classifiers."""
        if not hasattr(self, "models_"):
            raise ConfigError("LikelihoodRatioReweighter is not fitted: call fit() first")
        x = _as_2d(X, "X")
        if x.shape[1] != self.n_features_in_:
            raise ConfigError(f"X has {x.shape[1]} features, expected {self.n_features_in_}")
        return np.mean([m.predict_proba(x)[:, 1] for m in self.models_], axis=0)

    def weights(self, X: Any, *, sample_weight: Any = None) -> np.ndarray:
        """Clipped, normalised weights ``sample_weight × f/(1-f)`` for new MC events."""
        x = _as_2d(X, "X")
        return self._to_weights(
            self.predict_proba(x), _weights(sample_weight, len(x), "sample_weight")
        )


def reweight(
    X_mc: Any,
    X_data: Any,
    *,
    mc_weight: Any = None,
    data_weight: Any = None,
    **kwargs: Any,
) -> np.ndarray:
    """Cross-fitted MC→data weights of ``X_mc`` (see :class:`LikelihoodRatioReweighter`).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> w = reweight(rng.normal(0, 1, (1000, 2)), rng.normal(0.2, 1, (1000, 2)), max_iter=30)
    >>> w.shape, bool(np.isclose(w.sum(), 1000))
    ((1000,), True)
    """
    rw = LikelihoodRatioReweighter(**kwargs)
    return rw.fit(X_mc, X_data, mc_weight=mc_weight, data_weight=data_weight).train_weights_


def weighted_ks(a: Any, b: Any, *, wa: Any = None, wb: Any = None) -> float:
    """Two-sample Kolmogorov-Smirnov distance between weighted samples.

    Examples
    --------
    >>> weighted_ks([0.0, 1.0, 2.0], [0.0, 1.0, 2.0])
    0.0
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    wa, wb = _weights(wa, len(a), "wa"), _weights(wb, len(b), "wb")
    grid = np.union1d(a, b)

    def cdf(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="stable")
        cum = np.cumsum(w[order]) / w.sum()
        idx = np.searchsorted(x[order], grid, side="right") - 1
        return np.where(idx >= 0, cum[np.clip(idx, 0, None)], 0.0)

    return float(np.max(np.abs(cdf(a, wa) - cdf(b, wb))))


def ks_distances(
    mc: Any,
    data: Any,
    features: Sequence[str],
    *,
    mc_weight: Any = None,
    data_weight: Any = None,
) -> dict[str, float]:
    """Weighted KS distance MC vs data of each feature column (pandas tables).

    Examples
    --------
    >>> import pandas as pd
    >>> ks_distances(pd.DataFrame({"x": [1.0, 2.0]}), pd.DataFrame({"x": [1.0, 2.0]}), ["x"])
    {'x': 0.0}
    """
    return {
        f: weighted_ks(mc[f].to_numpy(), data[f].to_numpy(), wa=mc_weight, wb=data_weight)
        for f in features
    }

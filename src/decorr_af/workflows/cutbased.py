"""Rectangular-cut photon identification (an ATLAS "Tight"-menu-like baseline).

The menu cuts each shower-shape variable on one side, in bins of |η|:
``x_v <= t_v`` for variables where prompt photons sit low (``Rhad``, ``weta2``,
``DeltaE``, ...) and ``x_v >= t_v`` where they sit high (``Reta``, ``Rphi``,
``Eratio``); the side is learnt from the training medians.

Every threshold is the quantile of the (weighted) prompt distribution in its
|η| bin at one common per-variable efficiency ``q_b``. With ``F_v`` the prompt
CDF of variable ``v`` (``1 - CDF`` for lower cuts), a photon passes the menu with
per-variable efficiency ``q`` exactly when ``max_v F_v(x_v) <= q``. Mapping
``1 - max_v F_v`` through its prompt CDF in the same |η| bin gives a continuous
score ``u`` in [0, 1] whose cut ``u >= 1 - ε`` *is* a rectangular menu with prompt
efficiency ``ε`` in every |η| bin. The family of menus gives the ROC curve; the
working point ``target_efficiency`` fixes :attr:`CutBasedID.thresholds_`.

Examples
--------
>>> cut = CutBasedID(target_efficiency=0.85).fit(X, y, eta=eta)  # doctest: +SKIP
>>> passed = cut.predict(X_test, eta=eta_test)                  # doctest: +SKIP
>>> cut.thresholds_table()                                       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError

__all__ = ["DEFAULT_ETA_BINS", "CutBasedID"]

#: |η| bin edges of the menu (crack 1.37-1.52 folded into the bin below 1.81)
DEFAULT_ETA_BINS = (0.0, 0.6, 1.37, 1.81, 2.37)


def _weighted_cdf(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(values, kind="stable")
    v = values[order]
    cw = np.cumsum(weights[order])
    cw = cw / cw[-1]
    return v, cw


def _cdf_at(v: np.ndarray, cw: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Weighted fraction of the reference sample strictly below x (right-continuous mid)."""
    idx = np.searchsorted(v, x, side="left")
    lo = np.where(idx > 0, cw[np.maximum(idx - 1, 0)], 0.0)
    hi_idx = np.searchsorted(v, x, side="right")
    hi = np.where(hi_idx > 0, cw[np.maximum(hi_idx - 1, 0)], 0.0)
    return 0.5 * (lo + hi)


def _quantile(v: np.ndarray, cw: np.ndarray, q: float) -> float:
    i = int(np.searchsorted(cw, q, side="left"))
    return float(v[min(i, len(v) - 1)])


class CutBasedID:
    """Rectangular cuts on shower shapes, tuned on MC to a target prompt efficiency.

    Parameters
    ----------
    target_efficiency
        Prompt efficiency of the working point in every |η| bin (0 < ε < 1).
    eta_bins
        |η| bin edges; photons outside the last edge use the last bin.
    feature_names
        Names of the columns of ``X`` (for :meth:`thresholds_table`).

    Attributes
    ----------
    directions_
        ``+1`` for an upper cut (``x <= t``), ``-1`` for a lower cut (``x >= t``).
    thresholds_
        ``(n_eta_bins, n_features)`` cut values of the working point.
    """

    def __init__(
        self,
        *,
        target_efficiency: float = 0.85,
        eta_bins: Sequence[float] = DEFAULT_ETA_BINS,
        feature_names: Sequence[str] | None = None,
    ) -> None:
        self.target_efficiency = target_efficiency
        self.eta_bins = eta_bins
        self.feature_names = feature_names

    def _check(self) -> None:
        if not 0.0 < float(self.target_efficiency) < 1.0:
            raise ConfigError(
                f"CutBasedID: 'target_efficiency' must be in (0, 1), got {self.target_efficiency}"
            )
        edges = np.asarray(self.eta_bins, dtype=float)
        if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
            raise ConfigError(
                f"CutBasedID: 'eta_bins' must be increasing edges, got {self.eta_bins}"
            )

    def _bin(self, eta: np.ndarray) -> np.ndarray:
        edges = np.asarray(self.eta_bins, dtype=float)
        return np.clip(np.searchsorted(edges, np.abs(eta), side="right") - 1, 0, len(edges) - 2)

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        eta: Any,
        sample_weight: Any = None,
    ) -> CutBasedID:
        """Learn cut sides, per-bin prompt CDFs and the working-point thresholds."""
        self._check()
        X = np.asarray(X, dtype=float)
        y = np.asarray(y).astype(bool)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        w = np.clip(w, 0.0, None)
        bins = self._bin(np.asarray(eta, dtype=float))
        nb = len(self.eta_bins) - 1
        if not y.any() or y.all():
            raise ConfigError("CutBasedID.fit needs both prompt (y=1) and fake (y=0) photons")
        med_p = np.median(X[y], axis=0)
        med_f = np.median(X[~y], axis=0)
        self.directions_ = np.where(med_p <= med_f, 1, -1)
        self.n_features_in_ = X.shape[1]
        self.var_cdfs_: list[list[tuple[np.ndarray, np.ndarray]]] = []
        self.score_cdfs_: list[tuple[np.ndarray, np.ndarray]] = []
        thresholds = np.full((nb, X.shape[1]), np.nan)
        per_var_eff = np.full(nb, np.nan)
        for b in range(nb):
            sel = y & (bins == b)
            if sel.sum() < 10:  # sparse bin: fall back to all prompt photons
                sel = y
            cdfs = [_weighted_cdf(X[sel, j], w[sel]) for j in range(X.shape[1])]
            self.var_cdfs_.append(cdfs)
            t = self._tightness(X[sel], cdfs)
            s_cdf = _weighted_cdf(1.0 - t, w[sel])
            self.score_cdfs_.append(s_cdf)
            # cut 1 - t >= s* keeps the target fraction of prompt photons
            s_star = _quantile(*s_cdf, 1.0 - float(self.target_efficiency))
            q = 1.0 - s_star
            per_var_eff[b] = q
            for j, (v, cw) in enumerate(cdfs):
                thresholds[b, j] = (
                    _quantile(v, cw, q) if self.directions_[j] > 0 else _quantile(v, cw, 1.0 - q)
                )
        self.thresholds_ = thresholds
        self.per_variable_efficiency_ = per_var_eff
        return self

    def _tightness(self, X: np.ndarray, cdfs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        t = np.zeros(len(X))
        for j, (v, cw) in enumerate(cdfs):
            f = _cdf_at(v, cw, X[:, j])
            t = np.maximum(t, f if self.directions_[j] > 0 else 1.0 - f)
        return t

    def decision_function(self, X: Any, *, eta: Any) -> np.ndarray:
        """Continuous menu score ``u`` in [0, 1]; ``u >= 1 - ε`` is the menu of efficiency ε."""
        if not hasattr(self, "thresholds_"):
            raise ConfigError("CutBasedID is not fitted: call fit() first")
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ConfigError(
                f"CutBasedID: X must have {self.n_features_in_} columns, got shape {X.shape}"
            )
        bins = self._bin(np.asarray(eta, dtype=float))
        u = np.empty(len(X))
        for b in range(len(self.var_cdfs_)):
            sel = bins == b
            if sel.any():
                s = 1.0 - self._tightness(X[sel], self.var_cdfs_[b])
                u[sel] = _cdf_at(*self.score_cdfs_[b], s)
        return u

    def predict_proba(self, X: Any, *, eta: Any) -> np.ndarray:
        """``(n, 2)`` array ``[1 - u, u]`` (scikit-learn shape; ``u`` is not a probability)."""
        u = self.decision_function(X, eta=eta)
        return np.column_stack([1.0 - u, u])

    def predict(self, X: Any, *, eta: Any) -> np.ndarray:
        """Pass (1) / fail (0) of the rectangular cuts at the working point."""
        X = np.asarray(X, dtype=float)
        if not hasattr(self, "thresholds_"):
            raise ConfigError("CutBasedID is not fitted: call fit() first")
        thr = self.thresholds_[self._bin(np.asarray(eta, dtype=float))]
        upper = self.directions_ > 0
        ok = np.where(upper, thr >= X, thr <= X)
        return ok.all(axis=1).astype(int)

    def thresholds_table(self) -> Any:
        """pandas table: one row per |η| bin with the cut value of each variable."""
        import pandas as pd

        names = list(self.feature_names or [f"x{j}" for j in range(self.n_features_in_)])
        edges = np.asarray(self.eta_bins, dtype=float)
        df = pd.DataFrame(self.thresholds_, columns=names)
        df.insert(0, "per_variable_eff", self.per_variable_efficiency_)
        df.insert(0, "abs_eta_hi", edges[1:])
        df.insert(0, "abs_eta_lo", edges[:-1])
        return df

    def cut_sides(self) -> dict[str, str]:
        """``{feature: "<=" or ">="}`` of the fitted menu."""
        names = list(self.feature_names or [f"x{j}" for j in range(self.n_features_in_)])
        return {n: ("<=" if d > 0 else ">=") for n, d in zip(names, self.directions_)}

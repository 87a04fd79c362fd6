"""Scaled-Poisson binned likelihood of weighted histograms, minimised with scipy.

A weighted histogram ``(values, variances)`` is treated as Poisson counts scaled
by one global factor ``k = Σw² / Σw`` (the mean event weight): the negative
log-likelihood of the expectation ``μ`` is ``Σ (μ_i − n_i ln μ_i) / k``, so the
fit uncertainties are those of a sample with the effective number of events
``(Σw)² / Σw²``. Empty bins are handled (unlike a χ² with bin variances).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import optimize

__all__ = ["as_hist", "hessian_errors", "minimize_nll", "scaled_poisson_nll"]


def as_hist(hist: np.ndarray) -> np.ndarray:
    """``(nbins, 2)`` float array of (values, variances); 1-d values get variances = values.

    Examples
    --------
    >>> as_hist(np.array([1.0, 2.0])).tolist()
    [[1.0, 1.0], [2.0, 2.0]]
    """
    h = np.asarray(hist, dtype=np.float64)
    if h.ndim == 1:
        return np.stack([h, np.clip(h, 0, None)], axis=-1)
    if h.ndim != 2 or h.shape[1] != 2:
        raise ValueError(f"a histogram is (nbins,) or (nbins, 2), got shape {h.shape}")
    return h


def _scale(hist: np.ndarray) -> float:
    tot, var = float(np.sum(hist[:, 0])), float(np.sum(hist[:, 1]))
    return var / tot if tot > 0 and var > 0 else 1.0


def scaled_poisson_nll(hist: np.ndarray) -> Callable[[np.ndarray], float]:
    """Negative log-likelihood ``f(expected)`` of the weighted histogram ``hist``.

    Examples
    --------
    >>> nll = scaled_poisson_nll(np.array([2.0, 3.0]))
    >>> nll(np.array([2.0, 3.0])) < nll(np.array([3.0, 2.0]))
    True
    """
    h = as_hist(hist)
    n, k = h[:, 0], _scale(h)

    def nll(expected: np.ndarray) -> float:
        mu = np.maximum(np.asarray(expected, dtype=np.float64), 1e-300)
        return float(np.sum(mu - n * np.log(mu)) / k)

    return nll


def minimize_nll(
    fun: Callable[[np.ndarray], float],
    start: Sequence[float],
    bounds: Sequence[tuple[float | None, float | None]],
) -> optimize.OptimizeResult:
    """Minimise ``fun`` from ``start`` within ``bounds`` (L-BFGS-B, restarted once)."""
    x0 = np.asarray(start, dtype=np.float64)
    opts = {"maxiter": 2000, "ftol": 1e-12, "gtol": 1e-8}
    res = optimize.minimize(fun, x0, method="L-BFGS-B", bounds=bounds, options=opts)
    again = optimize.minimize(fun, res.x, method="L-BFGS-B", bounds=bounds, options=opts)
    return again if again.fun <= res.fun else res


def hessian_errors(fun: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """Parabolic uncertainties ``sqrt(diag(H⁻¹))`` of an NLL ``fun`` at its minimum ``x``.

    Central finite differences with steps relative to each parameter; NaN where the
    Hessian is not positive definite.

    Examples
    --------
    >>> err = hessian_errors(lambda p: 0.5 * ((p[0] - 1) / 2.0) ** 2 + 0.5 * p[1] ** 2, np.array([1.0, 0.0]))
    >>> np.round(err, 3).tolist()
    [2.0, 1.0]
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    h = 1e-4 * np.maximum(np.abs(x), 1e-2)
    hess = np.empty((n, n))
    f0 = fun(x)
    for i in range(n):
        for j in range(i, n):
            if i == j:
                e = np.zeros(n)
                e[i] = h[i]
                val = (fun(x + e) - 2 * f0 + fun(x - e)) / h[i] ** 2
            else:
                ei, ej = np.zeros(n), np.zeros(n)
                ei[i], ej[j] = h[i], h[j]
                val = (
                    fun(x + ei + ej) - fun(x + ei - ej) - fun(x - ei + ej) + fun(x - ei - ej)
                ) / (4 * h[i] * h[j])
            hess[i, j] = hess[j, i] = val
    try:
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return np.full(n, np.nan)
    d = np.diag(cov)
    return np.where(d > 0, np.sqrt(np.abs(d)), np.nan)

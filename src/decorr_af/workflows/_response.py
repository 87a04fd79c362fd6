"""Weighted response/resolution statistics with uncertainties (calibration workflows).

The response is the weighted median of ``E_pred / E_true``; the resolution is the
interquartile range divided by ``2 × 0.6745`` (a Gaussian σ) and by the median.
Uncertainties use the large-sample formulas for quantiles of a Gaussian-like core
with the effective number of events ``N_eff = (Σw)² / Σw²``:
``σ(median) = sqrt(π / 2) σ / sqrt(N_eff)`` and ``σ(σ_IQR) = 1.166 σ / sqrt(N_eff)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["binned_stats", "response_stats", "weighted_quantile"]

_IQR_TO_SIGMA = 1.0 / (2.0 * 0.6744897501960817)
_MEDIAN_ERR = math.sqrt(math.pi / 2.0)
_IQR_SIGMA_ERR = 1.166


def weighted_quantile(x: Any, q: Any, *, weight: Any = None) -> np.ndarray:
    """Weighted quantiles (midpoint interpolation of the weighted CDF).

    Examples
    --------
    >>> float(weighted_quantile([1.0, 2.0, 3.0], 0.5))
    2.0
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.ones_like(x) if weight is None else np.asarray(weight, dtype=np.float64)
    if len(x) == 0 or w.sum() <= 0:
        return np.full(np.shape(q), np.nan)
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], w[order]
    cdf = (np.cumsum(ws) - 0.5 * ws) / ws.sum()
    return np.interp(q, cdf, xs)


def response_stats(ratio: Any, *, weight: Any = None) -> dict[str, float]:
    """Median response, IQR resolution and their uncertainties of ``ratio``.

    Returns ``response, response_err, resolution, resolution_err, n, n_eff``.

    Examples
    --------
    >>> s = response_stats(np.random.default_rng(0).normal(1.0, 0.05, 10000))
    >>> round(s["response"], 2), round(s["resolution"], 2)
    (1.0, 0.05)
    """
    r = np.asarray(ratio, dtype=np.float64)
    w = np.ones_like(r) if weight is None else np.asarray(weight, dtype=np.float64)
    ok = np.isfinite(r) & np.isfinite(w)
    r, w = r[ok], w[ok]
    n = len(r)
    n_eff = float(w.sum() ** 2 / (w**2).sum()) if n and (w**2).sum() > 0 else 0.0
    if n < 4 or n_eff < 2:
        nan = float("nan")
        return {"response": nan, "response_err": nan, "resolution": nan,
                "resolution_err": nan, "n": float(n), "n_eff": n_eff}  # fmt: skip
    q25, med, q75 = weighted_quantile(r, [0.25, 0.5, 0.75], weight=w)
    sigma = (q75 - q25) * _IQR_TO_SIGMA
    return {
        "response": float(med),
        "response_err": float(_MEDIAN_ERR * sigma / math.sqrt(n_eff)),
        "resolution": float(sigma / med),
        "resolution_err": float(_IQR_SIGMA_ERR * sigma / med / math.sqrt(n_eff)),
        "n": float(n),
        "n_eff": n_eff,
    }


def binned_stats(
    ratio: Any, x: Any, edges: Sequence[float], *, weight: Any = None
) -> list[dict[str, float]]:
    """:func:`response_stats` in bins of ``x`` (one dict per bin with ``lo``, ``hi``).

    Examples
    --------
    >>> rows = binned_stats(np.ones(100), np.linspace(0, 1, 100), [0, 0.5, 1])
    >>> [r["response"] for r in rows]
    [1.0, 1.0]
    """
    r = np.asarray(ratio, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    w = np.ones_like(r) if weight is None else np.asarray(weight, dtype=np.float64)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (x >= lo) & (x < hi) if hi != edges[-1] else (x >= lo) & (x <= hi)
        rows.append({"lo": float(lo), "hi": float(hi), **response_stats(r[sel], weight=w[sel])})
    return rows

"""dCor² of a 1-D output with a multi-dimensional variable and its exact gradient (numpy).

The O(N²) literal formula of :mod:`decorr_af.decorrelation.distance`, chunked over
rows so memory stays at ``chunk_elements`` floats per matrix, with the gradient
with respect to the 1-D ``x`` (used by :class:`~decorr_af.decorrelation.penalties.JointDisCo`
for gradient boosting)::

    dV_xy/dx_k = 2 w_k / N² Σ_j w_j sign(x_k - x_j) B_kj
    dV_xx/dx_k = 4 w_k / N² Σ_j w_j sign(x_k - x_j) A_kj

(weights normalised to mean 1; signed weights allowed, sum positive).
"""

from __future__ import annotations

import math

import numpy as np

from decorr_af.decorrelation._fast import ratio_grad, ratio_value

__all__ = ["joint_dcor2_grad"]


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(len(a), len(b))``, one column at a time (no 3-D array)."""
    if a.shape[1] == 1:
        return np.abs(a - b.T)
    sq = np.zeros((a.shape[0], b.shape[0]))
    for k in range(a.shape[1]):
        d = a[:, k, None] - b[None, :, k]
        d *= d
        sq += d
    return np.sqrt(sq, out=sq)


def joint_dcor2_grad(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, *, chunk_elements: int = 1 << 22
) -> tuple[float, np.ndarray]:
    """``(dCor²(x, y), ∂dCor²/∂x)`` for 1-D ``x``, ``(N, d)`` ``y`` and mean-1 weights ``w``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=(300, 2)); x = y[:, 0] + 0.1 * rng.normal(size=300)
    >>> value, grad = joint_dcor2_grad(x, y, np.ones(300))
    >>> bool(value > 0.3), grad.shape
    (True, (300,))
    """
    x = np.asarray(x, np.float64).reshape(-1, 1)
    y = np.asarray(y, np.float64).reshape(len(x), -1)
    n = len(x)
    step = max(1, min(n, chunk_elements // max(1, n * y.shape[1])))
    starts = range(0, n, step)
    ra = np.concatenate([(_dist(x[s : s + step], x) * w).sum(1) / n for s in starts])
    rb = np.concatenate([(_dist(y[s : s + step], y) * w).sum(1) / n for s in starts])
    ma, mb = (ra * w).sum() / n, (rb * w).sum() / n
    vxy = vxx = vyy = 0.0
    gxy, gxx = np.zeros(n), np.zeros(n)
    for s in starts:
        sl = slice(s, s + step)
        a = _dist(x[sl], x) - ra[sl, None] - ra[None, :] + ma
        b = _dist(y[sl], y) - rb[sl, None] - rb[None, :] + mb
        sign = np.sign(x[sl] - x.T)
        ww = w[sl, None] * w[None, :]
        vxy += float((ww * a * b).sum())
        vxx += float((ww * a * a).sum())
        vyy += float((ww * b * b).sum())
        gxy[sl] = 2.0 * w[sl] * (w[None, :] * sign * b).sum(1)
        gxx[sl] = 4.0 * w[sl] * (w[None, :] * sign * a).sum(1)
    nn = float(n) * float(n)
    vxy, vxx, vyy = vxy / nn, vxx / nn, vyy / nn
    value = ratio_value(vxy, vxx, vyy, "dcor2")
    grad = ratio_grad("dcor2", value, vxy, vxx, vyy, gxy / nn, gxx / nn)
    return value, grad if math.isfinite(value) else np.zeros(n)

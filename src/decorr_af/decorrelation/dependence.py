"""Unbiased (U-statistic) distance covariance / correlation and partial dCor, O(N log N).

Definitions
-----------
With ``a_ij = |x_i - x_j|`` and ``b_ij = |y_i - y_j|`` the population dCov² is::

    dCov²(X, Y) = E[a b] + E[a] E[b'] - 2 E[a_ij b_il]

(pairs, disjoint pairs and pairs sharing one point).  The U-statistic
:func:`u_distance_covariance_sq` estimates each expectation by a weighted mean
over *distinct* indices (weights ``w`` are per-event constants, any scale)::

    E[a b]        ~ sum_{i != j} w_i w_j a_ij b_ij / sum_{i != j} w_i w_j
    E[a_ij b_il]  ~ sum_{i, j, l distinct} w_i w_j w_l a_ij b_il / (same without a b)
    E[a] E[b']    ~ sum_{i, j, k, l distinct} w_i w_j w_k w_l a_ij b_kl / (...)

For fixed weights each ratio is unbiased (every distinct tuple has the expectation
of the population term), so the estimator is unbiased: its mean is 0 under
independence, where the V-statistic of :func:`.distance.distance_covariance_sq`
is positive.  Unweighted it is exactly Székely & Rizzo's (2014) U-centred inner
product ``(Ã · B̃) = 1/(N(N-3)) sum_{i != j} Ã_ij B̃_ij``, i.e.
:func:`dcor.u_distance_covariance_sqr`.  The sums over distinct tuples follow
from sums over all indices by inclusion–exclusion (Huo & Székely 2016 for the
unweighted case); all of them cost one or two Fenwick passes (see
:mod:`._stats_kernels`).

The bias-corrected dCor² (:func:`u_distance_correlation_sq`) is
``Ω_xy / sqrt(Ω_xx Ω_yy)`` (0 if a variance is not positive); it can be
slightly negative.  Partial distance covariance / correlation (Székely & Rizzo
2014, Ann. Stat. 42, 2382) treat ``Ω`` as an inner product and project out z::

    pdCov(x, y; z) = Ω_xy - Ω_xz Ω_yz / Ω_zz
    pdCor(x, y; z) = (R_xy - R_xz R_yz) / sqrt((1 - R_xz²)(1 - R_yz²)),

with ``R = Ω_uv / sqrt(Ω_uu Ω_vv)`` the bias-corrected dCor² clipped to [-1, 1]; 0 where a
denominator vanishes, as :func:`dcor.partial_distance_correlation`.  All inputs
are 1-D (N ≥ 4); the weights convention is that of
:func:`.distance.distance_correlation` (non-negative, normalised internally).
Beware (Székely & Rizzo 2014, §4.2): pdCor = 0 does not imply conditional
independence; it measures dependence left after a linear projection in the
U-centred distance space.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError, NonFiniteValueError

__all__ = [
    "partial_distance_correlation",
    "partial_distance_covariance",
    "u_distance_correlation_sq",
    "u_distance_covariance_sq",
]


def as_1d(v: Any, name: str) -> np.ndarray:
    """``v`` as a float64 1-D numpy array (torch tensors detached); finite values only."""
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ConfigError(f"{name} must be 1-D (N,) or (N, 1); got shape {a.shape}")
    bad = int((~np.isfinite(a)).sum())
    if bad:
        raise NonFiniteValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return np.ascontiguousarray(a)


def as_weights(weights: Any, n: int) -> np.ndarray:
    """Weights normalised to mean 1 (ones if ``None``); errors name the parameter."""
    if weights is None:
        return np.ones(n)
    w = as_1d(weights, "weights")
    if w.shape[0] != n:
        raise ConfigError(f"weights has length {w.shape[0]} but the inputs have length {n}")
    if (w < 0).any():
        raise ConfigError(f"weights must be non-negative; {int((w < 0).sum())} are negative")
    total = w.sum()
    if total <= 0:
        raise ConfigError("weights sum to zero; at least one weight must be positive")
    return w * (n / total)


def check_inputs(
    arrays: dict[str, Any], weights: Any, min_n: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Validated 1-D arrays of equal length ``>= min_n`` and their mean-1 weights."""
    out = [as_1d(v, k) for k, v in arrays.items()]
    lengths = {k: a.shape[0] for k, a in zip(arrays, out)}
    if len(set(lengths.values())) > 1:
        raise ConfigError(f"inputs must have the same length; got {lengths}")
    n = out[0].shape[0]
    if n < min_n:
        raise ConfigError(f"need at least {min_n} samples; got {n}")
    return out, as_weights(weights, n)


class _UStat:
    """U-statistic inner products ``Ω(u, v)`` of several 1-D variables, one weight set."""

    def __init__(self, w: np.ndarray) -> None:
        self.w = w
        self.uniform = bool((w == w[0]).all())
        p1, p2, p3, p4 = (float((w**k).sum()) for k in (1, 2, 3, 4))
        self.w2 = p1 * p1 - p2  # sums of w_i w_j ... over distinct indices
        self.w3 = p1**3 - 3.0 * p1 * p2 + 2.0 * p3
        self.w4 = p1**4 - 6.0 * p1 * p1 * p2 + 3.0 * p2 * p2 + 8.0 * p1 * p3 - 6.0 * p4
        if not self.w4 > 0:
            raise ConfigError("U-statistics need at least 4 samples with positive weight")
        self._rows: dict[int, np.ndarray] = {}

    def rows(self, v: np.ndarray) -> np.ndarray:
        """Row sums ``r_i = sum_j w_j |v_i - v_j|`` in input order (cached per array)."""
        key = id(v)
        if key not in self._rows:
            from decorr_af.decorrelation._fast import _row_sums, argsort

            order = argsort(v)
            r = np.empty_like(v)
            r[order] = _row_sums(
                np.ascontiguousarray(v[order]), np.ascontiguousarray(self.w[order])
            )
            self._rows[key] = r
        return self._rows[key]

    def omega(self, u: np.ndarray, v: np.ndarray) -> float:
        """``Ω(u, v)``: the U-statistic dCov² (module docstring)."""
        from decorr_af.decorrelation import _stats_kernels as K

        w = self.w
        if u is v:
            s, r, q = K.self_pair_sums(u, w)
        else:
            s, r, q = K.pair_sums(K.sort_pair(u, v, w), self.uniform)
        ru, rv = self.rows(u), self.rows(v)
        c = float(np.dot(w, ru * rv))
        d = float(np.dot(w * w, ru * rv))
        tu, tv = float(np.dot(w, ru)), float(np.dot(w, rv))
        p3 = c - r
        p4 = tu * tv - 4.0 * d + 2.0 * q
        return s / self.w2 + p4 / self.w4 - 2.0 * p3 / self.w3

    def var(self, u: np.ndarray) -> float:
        """``Ω(u, u)``, set to 0 when below rounding (1e-12 of the squared mean distance)."""
        mean_dist = float(np.dot(self.w, self.rows(u))) / self.w2
        value = self.omega(u, u)
        return value if value > 1e-12 * mean_dist * mean_dist else 0.0

    def corr(self, u: np.ndarray, v: np.ndarray) -> float:
        """Bias-corrected dCor² ``Ω_uv / sqrt(Ω_uu Ω_vv)``, 0 if a variance is not positive."""
        den = self.var(u) * self.var(v)
        return self.omega(u, v) / math.sqrt(den) if den > 0 else 0.0


def u_distance_covariance_sq(x: Any, y: Any, *, weights: Any = None) -> float:
    """Unbiased (U-statistic) squared distance covariance of 1-D ``x`` and ``y``.

    Equals :func:`dcor.u_distance_covariance_sqr` for unweighted input; with
    weights, the weighted U-statistic of the module docstring (unbiased for fixed
    weights).  Can be negative; its mean is 0 under independence.  O(N log N).

    Parameters
    ----------
    x, y
        1-D arrays (or (N, 1)) of the same length N ≥ 4, finite.
    weights
        Optional non-negative per-event weights (only their ratios matter).

    Examples
    --------
    >>> round(u_distance_covariance_sq([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 4.0, 9.0, 16.0, 25.0]), 9)
    6.4
    """
    (xa, ya), w = check_inputs({"x": x, "y": y}, weights, 4)
    return _UStat(w).omega(xa, ya)


def u_distance_correlation_sq(x: Any, y: Any, *, weights: Any = None) -> float:
    """Bias-corrected squared distance correlation (Székely & Rizzo 2014), O(N log N).

    ``Ω_xy / sqrt(Ω_xx Ω_yy)`` with the U-statistics of
    :func:`u_distance_covariance_sq`; equals :func:`dcor.u_distance_correlation_sqr`
    unweighted.  About 0 (either sign) under independence, where the V-statistic
    dCor² is biased upwards by O(1/N).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(2, 5000))
    >>> abs(u_distance_correlation_sq(x, y)) < 0.002
    True
    >>> u_distance_correlation_sq(x, x)
    1.0
    """
    (xa, ya), w = check_inputs({"x": x, "y": y}, weights, 4)
    return min(_UStat(w).corr(xa, ya), 1.0)


def partial_distance_covariance(x: Any, y: Any, z: Any, *, weights: Any = None) -> float:
    """Partial distance covariance ``pdCov(x, y; z) = Ω_xy - Ω_xz Ω_yz / Ω_zz``.

    Székely & Rizzo (2014); equals :func:`dcor.partial_distance_covariance` for
    unweighted 1-D input.  ``Ω_xy`` if ``z`` is constant.

    Examples
    --------
    >>> x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    >>> round(partial_distance_covariance(x, x, x), 12)  # nothing left once x is known
    0.0
    """
    (xa, ya, za), w = check_inputs({"x": x, "y": y, "z": z}, weights, 4)
    u = _UStat(w)
    ozz = u.var(za)
    oxy = u.omega(xa, ya)
    return oxy - u.omega(xa, za) * u.omega(ya, za) / ozz if ozz > 0 else oxy


def partial_distance_correlation(x: Any, y: Any, z: Any, *, weights: Any = None) -> float:
    """Partial distance correlation pdCor(x, y; z) in [-1, 1] (Székely & Rizzo 2014).

    The dependence of ``x`` (e.g. isolation) on ``y`` (e.g. the classifier score)
    left once ``z`` (e.g. pT) is projected out; see the module docstring for the
    formula and its caveat.  Equals :func:`dcor.partial_distance_correlation`
    for unweighted 1-D input.  O(N log N).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> pt = rng.exponential(size=4000)
    >>> iso, score = pt + rng.normal(size=4000), pt + rng.normal(size=4000)
    >>> bool(u_distance_correlation_sq(iso, score) > 0.1)  # both depend on pT ...
    True
    >>> bool(abs(partial_distance_correlation(iso, score, pt)) < 0.05)  # ... and only on pT
    True
    """
    (xa, ya, za), w = check_inputs({"x": x, "y": y, "z": z}, weights, 4)
    u = _UStat(w)

    def r(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.clip(u.corr(a, b), -1.0, 1.0))

    rxy, rxz, ryz = r(xa, ya), r(xa, za), r(ya, za)
    den = math.sqrt(1.0 - rxz * rxz) * math.sqrt(1.0 - ryz * ryz)
    return (rxy - rxz * ryz) / den if den > 0 else 0.0

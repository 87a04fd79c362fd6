"""O(N log N) kernels behind :mod:`.dependence` and :mod:`.independence` (numba).

They reuse the compiled pieces of :mod:`._fast` (row sums, self terms, the Fenwick
pass over y-ranks in x order) on a :class:`Sorted` view of one pair ``(x, y)``:
x-sorted, centred copies with the dense y ranks and y row sums aligned to them.

``pair_sums`` returns the weighted sums over ordered pairs ``i != j`` that the
U-statistics need (``a_ij = |x_i - x_j|``, ``b_ij = |y_i - y_j|``)::

    S = sum w_i w_j a_ij b_ij,   R = sum w_i w_j^2 a_ij b_ij,   Q = sum w_i^2 w_j^2 a_ij b_ij

from one Fenwick pass with tree weights ``w`` and, only for non-uniform
weights, a second one with tree weights ``w^2`` (``t_k = sum_{x_j < x_k} u_j a_kj
b_kj`` for tree weights ``u``; ``S = 2 sum_k w_k t1_k``, ``Q = 2 sum_k w_k^2 t2_k``,
``R = sum_k (w_k t2_k + w_k^2 t1_k)``).

``permuted_dcor2`` evaluates the weighted V-statistic dCor² for a batch of
permutations of y (weights stay with x), in parallel over permutations: the
x side (sorted x, row sums, ``V_xx``) and the sorted y values with their dense
ranks are computed once; a permutation only re-gathers y, its rank and row sum
into x order (plus, for non-uniform weights, the y row sums and ``V_yy``, O(N))
before one Fenwick pass.  The permutations are drawn inside the compiled loop.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from decorr_af.decorrelation._fast import (
    _cross_value,
    _fenwick_pass,
    _row_sums,
    _self_terms,
    argsort,
)

__all__ = [
    "Sorted",
    "pair_sums",
    "permuted_dcor2",
    "self_pair_sums",
    "sort_pair",
    "v_terms",
    "y_side",
]


class Sorted(NamedTuple):
    """One pair ``(x, y)`` in x order: centred values, weights, dense y ranks, row sums."""

    xs: np.ndarray
    ys: np.ndarray
    ws: np.ndarray
    yrank: np.ndarray
    nrank: int
    rsx: np.ndarray
    rsy: np.ndarray


def y_side(y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """``(order, dense 1-based ranks of y[order], number of ranks, row sums of y[order])``."""
    oy = argsort(y)
    ysy = y[oy]
    rank = np.cumsum(np.concatenate(([True], ysy[1:] != ysy[:-1]))).astype(np.int64)
    return oy, rank, int(rank[-1]), _row_sums(ysy, np.ascontiguousarray(w[oy]))


def sort_pair(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Sorted:
    """The :class:`Sorted` view of float64 1-D ``x``, ``y`` and weights ``w``."""
    ox = argsort(x)
    xs = np.ascontiguousarray(x[ox] - x.mean())
    ys = np.ascontiguousarray(y[ox] - y.mean())
    ws = np.ascontiguousarray(w[ox])
    oy, rank, nrank, rs_sorted = y_side(ys, ws)
    yrank = np.empty_like(rank)
    yrank[oy] = rank
    rsy = np.empty_like(rs_sorted)
    rsy[oy] = rs_sorted
    return Sorted(xs, ys, ws, yrank, nrank, _row_sums(xs, ws), rsy)


def pair_sums(s: Sorted, uniform: bool) -> tuple[float, float, float]:
    """``(S, R, Q)`` of the module docstring for the pair ``s``."""
    pk, qk, _ = _fenwick_pass(s.xs, s.ys, s.ws, s.yrank, s.nrank, s.rsy, False)
    t1 = s.xs * pk - qk
    w, w2 = s.ws, s.ws * s.ws
    if uniform:
        t2 = t1 * w[0]  # constant weights: tree weights w^2 = w_0 w
    else:
        pk, qk, _ = _fenwick_pass(s.xs, s.ys, w2, s.yrank, s.nrank, s.rsy, False)
        t2 = s.xs * pk - qk
    s_sum = 2.0 * float(np.dot(w, t1))
    q_sum = 2.0 * float(np.dot(w2, t2))
    r_sum = float(np.dot(w, t2) + np.dot(w2, t1))
    return s_sum, r_sum, q_sum


def self_pair_sums(x: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """``(S, R, Q)`` with ``b = a`` (``a_ij^2 = (x_i - x_j)^2``): O(N) from moments."""
    xc = x - x.mean()
    w2 = w * w

    def moment(u: np.ndarray, v: np.ndarray) -> float:  # sum_ij u_i v_j (x_i - x_j)^2
        return float(
            np.dot(u, xc * xc) * v.sum() + u.sum() * np.dot(v, xc * xc)
            - 2.0 * np.dot(u, xc) * np.dot(v, xc)
        )  # fmt: skip

    return moment(w, w), moment(w, w2), moment(w2, w2)


@njit(cache=True, parallel=True)
def permuted_dcor2(
    xs, ws, rsx, vxx, vyy_unit, yv, yr, nrank, rsy_unit, p_obs, seeds, weighted
):  # pragma: no cover
    """dCor² (V-statistic) of x and a shuffled y, one value per entry of ``seeds``.

    ``xs``, ``ws``, ``rsx`` and ``vxx`` describe x in ascending order; ``yv`` are
    the ascending (centred) y values with dense 1-based ranks ``yr``;
    ``p_obs[k]`` is the index into ``yv`` of the y value of the k-th smallest x.
    Entry ``b`` shuffles ``p_obs`` (Fisher–Yates, numba's generator seeded with
    ``seeds[b]`` in that iteration, so the result does not depend on the
    threads); a negative seed keeps ``p_obs`` (the observed value).
    ``rsy_unit`` and ``vyy_unit`` are the row sums of ``yv`` and ``V_yy`` for
    uniform weights (``weighted`` False: both are invariant under permutation);
    with ``weighted`` they are recomputed, as the weights travel with x.
    """
    n = xs.shape[0]
    out = np.empty(seeds.shape[0])
    for b in prange(seeds.shape[0]):
        p = p_obs.copy()
        if seeds[b] >= 0:
            np.random.seed(seeds[b])  # noqa: NPY002  (numba: per-thread legacy state)
            for i in range(n - 1, 0, -1):  # j uniform in [0, i] (bias < 1e-10 for i < 2**20)
                j = int(np.random.random() * (i + 1))  # noqa: NPY002
                t = p[i]
                p[i] = p[j]
                p[j] = t
        if weighted:
            wsy = np.empty(n)
            for k in range(n):
                wsy[p[k]] = ws[k]
            rs_sorted = _row_sums(yv, wsy)
        else:
            rs_sorted = rsy_unit
        ys = np.empty(n)
        yrank = np.empty(n, dtype=np.int64)
        rsy = np.empty(n)
        for k in range(n):
            j = p[k]
            ys[k] = yv[j]
            yrank[k] = yr[j]
            rsy[k] = rs_sorted[j]
        vyy = vyy_unit
        if weighted:
            vyy, _ = _self_terms(ys, ws, rsy)
        pk, qk, _ = _fenwick_pass(xs, ys, ws, yrank, nrank, rsy, False)
        vxy = _cross_value(xs, ws, rsx, rsy, pk, qk)
        den = vxx * vyy
        out[b] = min(max(vxy / math.sqrt(den), 0.0), 1.0) if den > 0 else 0.0
    return out


def v_terms(s: Sorted) -> tuple[float, float, float, float, float]:
    """``(V_xy, V_xx, V_yy, abar, bbar)``: the weighted V-statistics of ``s`` and mean distances.

    ``abar = 1/N² sum_ij w_i w_j |x_i - x_j|`` (weights of mean 1), same for ``bbar``.
    """
    vxx, abar = _self_terms(s.xs, s.ws, s.rsx)
    vyy, bbar = _self_terms(s.ys, s.ws, s.rsy)
    pk, qk, _ = _fenwick_pass(s.xs, s.ys, s.ws, s.yrank, s.nrank, s.rsy, False)
    vxy = _cross_value(s.xs, s.ws, s.rsx, s.rsy, pk, qk)
    return float(vxy), float(vxx), float(vyy), float(abar), float(bbar)

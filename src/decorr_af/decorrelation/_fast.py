"""Exact O(N log N) weighted distance covariance / correlation kernels (numba).

All inputs are float64 1-D arrays of equal length with weights normalised to
mean 1 (``sum(w) == N``).  Notation (``s_kj = sign(x_k - x_j)``)::

    a_ij = |x_i - x_j|,   abar_i = 1/N sum_j w_j a_ij,   abar = 1/N sum_i w_i abar_i
    A_ij = a_ij - abar_i - abar_j + abar                     (same for b, B with y)

Because ``sum_j w_j A_ij = 0`` the weighted V-statistic expands to::

    V_xy = 1/N^2 sum_ij w_i w_j A_ij B_ij
         = S_xy / N^2 - 2/N sum_i w_i abar_i bbar_i + abar bbar,
    S_xy = sum_ij w_i w_j a_ij b_ij               (Fenwick tree over y-ranks in x order)
    S_xx = 2 N sum_i w_i x_i^2 - 2 (sum_i w_i x_i)^2                         (O(N))

and its exact gradients are::

    dV_xy/dx_k = 2 w_k / N^2 * sum_j w_j s_kj B_kj
    dV_xx/dx_k = 4 w_k / N^2 * sum_j w_j s_kj A_kj
    sum_j w_j s_kj C_kj = sum_j w_j s_kj c_kj - (cbar_k - cbar) sum_j w_j s_kj
                          - sum_j w_j s_kj cbar_j

where ``sum_j w_j s_kj a_kj = N x_k - sum_j w_j x_j`` and ``D_k = sum_j w_j s_kj
b_kj`` comes from the same Fenwick pass as ``S_xy`` (see :func:`_fenwick_pass`).
Exact ties get ``sign(0) = 0``, the same sub-gradient torch's ``abs`` uses.

Everything for one (value, gradient) evaluation runs in a single compiled call,
:func:`_dcov_kernel`, on copies sorted by x; only the two argsorts run in numpy
(its SIMD sort is several times faster than numba's for large N; see
:func:`argsort` for float32-valued data).  The gradient
with respect to ``y`` is the same kernel with the roles of x and y swapped.

References: Huo & Székely (2016), Technometrics 58, 435; Chaudhuri & Hu (2019),
Comput. Stat. Data Anal. 135, 15; Kasieczka & Shih (2020), DisCo Fever.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

__all__ = [
    "DcovTerms",
    "argsort",
    "count_invalid",
    "dcov_terms",
    "ratio_grad",
    "ratio_value",
    "value_and_grad",
    "value_and_grads",
]


class DcovTerms(NamedTuple):
    """``V_xy, V_xx, V_yy`` and, if requested, ``dV_xy/dx, dV_xx/dx`` (input order)."""

    vxy: float
    vxx: float
    vyy: float
    grad_xy: np.ndarray | None = None
    grad_xx: np.ndarray | None = None


@njit(cache=True)
def count_invalid(x, y, w):
    """``(#non-finite x, #non-finite y, #non-finite w, #negative w, sum of finite w)``.

    One pass over the three arrays: the input checks of the torch fast path.
    """
    bad_x = 0
    bad_y = 0
    for k in range(x.shape[0]):
        if not np.isfinite(x[k]):
            bad_x += 1
        if not np.isfinite(y[k]):
            bad_y += 1
    bad_w = 0
    neg_w = 0
    total = 0.0
    for k in range(w.shape[0]):
        if np.isfinite(w[k]):
            if w[k] < 0:
                neg_w += 1
            total += w[k]
        else:
            bad_w += 1
    return bad_x, bad_y, bad_w, neg_w, total


@njit(cache=True)
def _float32_sort_keys(v):
    """``uint64`` keys ``bits(v_i) << 32 | i`` that sort like ``v``, if every ``v_i`` is a float32.

    Empty if some value is not exactly representable in float32.  ``bits`` maps the
    IEEE-754 pattern to an unsigned integer of the same order: negative numbers
    have all bits flipped, the others the sign bit set (-0.0 sorts just before
    +0.0, which is harmless: equal values only have to be adjacent).  The low 32
    bits carry the index, so sorting the keys is an argsort.
    """
    n = v.shape[0]
    f = v.astype(np.float32)
    bits = f.view(np.uint32)
    keys = np.empty(n, dtype=np.uint64)
    for i in range(n):
        if np.float64(f[i]) != v[i]:
            return np.empty(0, dtype=np.uint64)
        b = bits[i]
        k = ~b if b >> np.uint32(31) else b | np.uint32(0x80000000)
        keys[i] = (np.uint64(k) << np.uint64(32)) | np.uint64(i)
    return keys


@njit(cache=True)
def _low_words(keys):
    """The indices stored in the low 32 bits of :func:`_float32_sort_keys`, as int32.

    Callers use it for fewer than ``2**31`` keys only; int32 halves the memory of
    the argsorts (the exact DisCo-XGB gradient of 10^7 rows); the kernels index
    with either type.
    """
    out = np.empty(keys.shape[0], dtype=np.int32)
    for i in range(keys.shape[0]):
        out[i] = np.int32(keys[i] & np.uint64(0xFFFFFFFF))
    return out


def argsort(v: np.ndarray) -> np.ndarray:
    """``np.argsort(v)`` up to the order of equal values, about 2x faster for float32 data.

    DisCo scores and protected variables usually come from float32 tensors: their
    float64 copies sort exactly as packed 64-bit integer keys, and numpy sorts
    integers much faster than it argsorts floats.  Other data use ``np.argsort``.
    """
    if v.shape[0] < 2**31:  # the indices fit int32
        keys = _float32_sort_keys(v)
        if keys.shape[0] == v.shape[0]:
            keys.sort()
            return _low_words(keys)
    return np.argsort(v)


@njit(cache=True)
def _row_sums(xs, ws):
    """``r_k = sum_j w_j |x_k - x_j|`` for ascending ``xs`` (prefix and suffix sums)."""
    n = xs.shape[0]
    out = np.empty(n)
    pw = 0.0
    pwx = 0.0
    for k in range(n):  # sum_{j<k} w_j (x_k - x_j)
        out[k] = xs[k] * pw - pwx
        pw += ws[k]
        pwx += ws[k] * xs[k]
    sw = 0.0
    swx = 0.0
    for k in range(n - 1, -1, -1):  # + sum_{j>k} w_j (x_j - x_k)
        out[k] += swx - xs[k] * sw
        sw += ws[k]
        swx += ws[k] * xs[k]
    return out


@njit(cache=True)
def _row_sums_at(v, w, idx):
    """:func:`_row_sums` of ``v[idx]``, ``w[idx]`` (``idx`` sorts ``v``), in ``v``'s order.

    The same sums in the same order as ``_row_sums`` on gathered copies, scattered
    back through ``idx``, without the copies.
    """
    n = idx.shape[0]
    out = np.empty(n)
    pw = 0.0
    pwx = 0.0
    for k in range(n):
        i = idx[k]
        out[i] = v[i] * pw - pwx
        pw += w[i]
        pwx += w[i] * v[i]
    sw = 0.0
    swx = 0.0
    for k in range(n - 1, -1, -1):
        i = idx[k]
        out[i] += swx - v[i] * sw
        sw += w[i]
        swx += w[i] * v[i]
    return out


@njit(cache=True)
def _self_terms(x, w, rowsum):
    """``(V_xx, abar)`` with ``rowsum_k = N abar_k`` (any order of the samples)."""
    n = x.shape[0]
    swx = 0.0
    swxx = 0.0
    swaa = 0.0
    swa = 0.0
    for k in range(n):
        swx += w[k] * x[k]
        swxx += w[k] * x[k] * x[k]
        ak = rowsum[k] / n
        swa += w[k] * ak
        swaa += w[k] * ak * ak
    s_xx = 2.0 * n * swxx - 2.0 * swx * swx
    abar = swa / n
    v = s_xx / (n * n) - 2.0 * swaa / n + abar * abar
    return max(v, 0.0), abar


@njit(cache=True)
def _fenwick_pass(xs, ys, ws, yrank, nrank, rsy, signed):
    """``(P, Q, D)`` of :func:`_fenwick` (stored; see there)."""
    pk, qk, dk, _ = _fenwick(xs, ys, ws, yrank, nrank, rsy, signed, True)
    return pk, qk, dk


@njit(cache=True)
def _fenwick(xs, ys, ws, yrank, nrank, rsy, signed, store):
    """One ascending pass over ``xs`` with a Fenwick tree indexed by y-rank.

    ``ys``, ``ws`` and ``yrank`` (dense, 1-based) are aligned to ascending ``xs``.
    For every k, over the j with ``x_j < x_k`` (strictly)::

        P_k = sum_j w_j |y_k - y_j|,      Q_k = sum_j w_j x_j |y_k - y_j|

    so that ``S_xy = 2 sum_k w_k (x_k P_k - Q_k)``.  The tree holds the columns
    ``w, w y, w x, w x y``; a prefix query up to ``rank(y_k)`` gives the sums over
    ``y_j <= y_k`` ("lo"), the totals minus it those over ``y_j > y_k``, where
    ``|y_k - y_j| = y_k - y_j`` and ``y_j - y_k`` respectively.

    With ``signed`` it also returns ``D_k = sum_j w_j s_kj |y_k - y_j|``
    ``= P_k - (rsy_k - Pe_k)`` with ``rsy_k = sum_j w_j |y_k - y_j|`` and ``Pe_k``
    the sum over ``x_j <= x_k``: equal to ``P_k`` unless x_k is tied, in which case
    the tie group is queried once more after its insertion (``s_kj = 0`` inside it).
    This replaces a second, descending pass.

    Returns ``(P, Q, D, s)`` with ``s = sum_k w_k (x_k P_k - Q_k)`` accumulated in
    ascending k, the order of :func:`_cross_value`'s loop (so
    :func:`_cross_from_sum` gives the same ``V_xy`` bit for bit). Without ``store``
    ``P`` and ``Q`` are empty: 16 bytes per sample less at the kernel's peak.
    """
    n = xs.shape[0]
    tree = np.zeros((nrank + 1, 4))
    s = 0.0
    t0 = 0.0  # running totals of the four columns
    t1 = 0.0
    t2 = 0.0
    t3 = 0.0
    pk = np.empty(n if store else 0)
    qk = np.empty(n if store else 0)
    dk = np.empty(n if signed else 0)
    pcur = 0.0  # P_k of the last queried k (for D_k when not stored)
    p = 0
    while p < n:
        q = p  # tie group [p, q] of equal x: none of its members is "before" another
        while q + 1 < n and xs[q + 1] == xs[p]:
            q += 1
        for k in range(p, q + 1):  # query the whole group first ...
            l0 = 0.0
            l1 = 0.0
            l2 = 0.0
            l3 = 0.0
            i = yrank[k]
            while i > 0:
                l0 += tree[i, 0]
                l1 += tree[i, 1]
                l2 += tree[i, 2]
                l3 += tree[i, 3]
                i -= i & (-i)
            yk = ys[k]
            pv = yk * l0 - l1 + (t1 - l1) - yk * (t0 - l0)
            qv = yk * l2 - l3 + (t3 - l3) - yk * (t2 - l2)
            s += ws[k] * (xs[k] * pv - qv)
            if store:
                pk[k] = pv
                qk[k] = qv
            elif signed:
                if p == q:
                    pcur = pv
                else:
                    dk[k] = pv  # P_k parked in D until the group's second query
        for k in range(p, q + 1):  # ... then insert it
            v0 = ws[k]
            v1 = v0 * ys[k]
            v2 = v0 * xs[k]
            v3 = v2 * ys[k]
            i = yrank[k]
            while i <= nrank:
                tree[i, 0] += v0
                tree[i, 1] += v1
                tree[i, 2] += v2
                tree[i, 3] += v3
                i += i & (-i)
            t0 += v0
            t1 += v1
            t2 += v2
            t3 += v3
        if signed:
            if p == q:  # no tie: Pe_k = P_k
                dk[p] = 2.0 * (pk[p] if store else pcur) - rsy[p]
            else:
                for k in range(p, q + 1):
                    l0 = 0.0
                    l1 = 0.0
                    i = yrank[k]
                    while i > 0:
                        l0 += tree[i, 0]
                        l1 += tree[i, 1]
                        i -= i & (-i)
                    yk = ys[k]
                    pe = yk * l0 - l1 + (t1 - l1) - yk * (t0 - l0)
                    dk[k] = (pk[k] if store else dk[k]) + pe - rsy[k]
        p = q + 1
    return pk, qk, dk, s


@njit(cache=True)
def _cross_value(x, w, rowsum_x, rowsum_y, pk, qk):
    """``V_xy`` from the Fenwick sums and the row sums (module docstring)."""
    s = 0.0
    for k in range(x.shape[0]):  # each sum keeps its ascending order: same values
        s += w[k] * (x[k] * pk[k] - qk[k])
    return _cross_from_sum(s, x, w, rowsum_x, rowsum_y)


@njit(cache=True)
def _cross_from_sum(s, x, w, rowsum_x, rowsum_y):
    """``V_xy`` as :func:`_cross_value`, with ``s`` accumulated by :func:`_fenwick`."""
    n = x.shape[0]
    swab = 0.0
    swa = 0.0
    swb = 0.0
    for k in range(n):
        ak = rowsum_x[k] / n
        bk = rowsum_y[k] / n
        swab += w[k] * ak * bk
        swa += w[k] * ak
        swb += w[k] * bk
    s *= 2.0
    return s / (n * n) - 2.0 * swab / n + (swa / n) * (swb / n)


@njit(cache=True)
def _gradients(xs, ws, rsx, rsy, abar, bbar, dk, order):
    """``(dV_xy/dx, dV_xx/dx)`` scattered back to input order (``order`` = argsort x).

    The signed sums ``sum_j w_j s_kj v_j`` for ``v = 1, abar_j, bbar_j`` over
    ascending ``xs`` are ``lt_k - gt_k = 2 lt_k + grp_k - tot``, with ``lt_k`` the
    sum over strictly smaller x, ``grp_k`` over k's tie group (``s_kj = 0`` there)
    and ``tot`` over all samples; one pass over the tie groups gives all three.
    """
    n = xs.shape[0]
    swx = 0.0
    tot_w = 0.0
    tot_a = 0.0
    tot_b = 0.0
    for k in range(n):
        swx += ws[k] * xs[k]
        tot_w += ws[k]
        tot_a += ws[k] * rsx[k]
        tot_b += ws[k] * rsy[k]
    tot_a /= n
    tot_b /= n
    g_xy = np.empty(n)
    g_xx = np.empty(n)
    c = 1.0 / (n * n)
    lt_w = 0.0
    lt_a = 0.0
    lt_b = 0.0
    p = 0
    while p < n:
        q = p
        grp_w = ws[p]
        grp_a = ws[p] * rsx[p] / n
        grp_b = ws[p] * rsy[p] / n
        while q + 1 < n and xs[q + 1] == xs[p]:
            q += 1
            grp_w += ws[q]
            grp_a += ws[q] * rsx[q] / n
            grp_b += ws[q] * rsy[q] / n
        sgn_w = 2.0 * lt_w + grp_w - tot_w
        sgn_a = 2.0 * lt_a + grp_a - tot_a
        sgn_b = 2.0 * lt_b + grp_b - tot_b
        for k in range(p, q + 1):
            # sum_j w_j s_kj B_kj and sum_j w_j s_kj A_kj (module docstring)
            gb = dk[k] - (rsy[k] / n - bbar) * sgn_w - sgn_b
            ga = n * xs[k] - swx - (rsx[k] / n - abar) * sgn_w - sgn_a
            g_xy[order[k]] = 2.0 * c * ws[k] * gb
            g_xx[order[k]] = 4.0 * c * ws[k] * ga
        lt_w += grp_w
        lt_a += grp_a
        lt_b += grp_b
        p = q + 1
    return g_xy, g_xx


@njit(cache=True)
def _dcov_kernel(x, y, w, ox, oy, want_grad):
    """``(V_xy, V_xx, V_yy, dV_xy/dx, dV_xx/dx)``; the gradients empty unless ``want_grad``.

    ``ox``, ``oy`` are argsorts of ``x`` and ``y``.  Works on x-sorted copies,
    centred (distances are translation invariant; centring keeps the Fenwick sums
    free of cancellation for inputs with a large offset).
    """
    n = x.shape[0]
    mx = x.sum() / n
    my = y.sum() / n
    xs = np.empty(n)  # x-sorted copies
    ys = np.empty(n)
    ws = np.empty(n)
    pos = np.empty_like(ox)  # pos[i] = position of sample i in x order (int32 or int64)
    for k in range(n):
        i = ox[k]
        xs[k] = x[i] - mx
        ys[k] = y[i] - my
        ws[k] = w[i]
        pos[i] = k
    # y order within the x-sorted arrays: dense y ranks and the y row sums.
    # (Centring is monotone, so ``oy`` still sorts the centred y.)
    # (Read through the index ``oyx``, no y-sorted copies: 24 bytes per sample less.)
    oyx = np.empty_like(oy)
    ry = np.empty_like(oy)
    nrank = 0
    for k in range(n):
        i = pos[oy[k]]
        oyx[k] = i
        if k == 0 or ys[i] != ys[oyx[k - 1]]:
            nrank += 1
        ry[i] = nrank
    rsx = _row_sums(xs, ws)
    rsy = _row_sums_at(ys, ws, oyx)
    vxx, abar = _self_terms(xs, ws, rsx)
    vyy, bbar = _self_terms(ys, ws, rsy)
    _, _, dk, ssum = _fenwick(xs, ys, ws, ry, nrank, rsy, want_grad, False)
    vxy = _cross_from_sum(ssum, xs, ws, rsx, rsy)
    if not want_grad:
        return vxy, vxx, vyy, np.empty(0), np.empty(0)
    g_xy, g_xx = _gradients(xs, ws, rsx, rsy, abar, bbar, dk, ox)
    return vxy, vxx, vyy, g_xy, g_xx


def dcov_terms(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    *,
    grad: bool = False,
    orders: tuple[np.ndarray, np.ndarray] | None = None,
) -> DcovTerms:
    """``V_xy, V_xx, V_yy`` and, with ``grad``, ``dV_xy/dx`` and ``dV_xx/dx``.

    ``orders`` are precomputed ``(argsort(x), argsort(y))``.  Swap ``x`` and ``y``
    (and ``orders``) for the gradients with respect to ``y``.
    """
    ox, oy = orders if orders is not None else (argsort(x), argsort(y))
    vxy, vxx, vyy, g_xy, g_xx = _dcov_kernel(x, y, w, ox, oy, grad)
    if not grad:
        return DcovTerms(vxy, vxx, vyy)
    return DcovTerms(vxy, vxx, vyy, g_xy, g_xx)


def ratio_value(vxy: float, vxx: float, vyy: float, kind: str) -> float:
    """Value for ``kind`` in ``"dcor2"``, ``"dcor"``, ``"dcov2"`` (0 if a variance is 0)."""
    if kind == "dcov2":
        return max(vxy, 0.0)
    den = vxx * vyy if vxx > 0 and vyy > 0 else 0.0  # signed weights: V_xx may be < 0
    f = min(max(vxy / math.sqrt(den), 0.0), 1.0) if den > 0 else 0.0
    return math.sqrt(f) if kind == "dcor" else f


def ratio_grad(
    kind: str,
    value: float,
    vxy: float,
    v_self: float,
    v_other: float,
    g_cross: np.ndarray,
    g_self: np.ndarray,
) -> np.ndarray:
    """Gradient of ``kind`` (see :func:`ratio_value`) with respect to one variable v.

    ``v_self`` is ``dCov²(v, v)``, ``v_other`` that of the other variable,
    ``g_cross = dV_xy/dv`` and ``g_self = dV_vv/dv``.  With ``f = V_xy / sqrt(V_vv
    V_oo)``: ``df = g_cross / sqrt(V_vv V_oo) - f g_self / (2 V_vv)`` and
    ``d sqrt(f) = df / (2 sqrt(f))``.  Zero where the value is pinned to 0
    (constant input, or dCor² rounded below 0).
    """
    if kind == "dcov2":
        return g_cross
    den = v_self * v_other
    if v_self <= 0 or v_other <= 0 or value <= 0:
        return np.zeros_like(g_cross)
    f = vxy / math.sqrt(den)
    # g_cross / sqrt(den) - (0.5 f / v_self) g_self, in place (no N-length temporaries)
    g = np.divide(g_cross, math.sqrt(den), out=g_cross)
    g -= np.multiply(g_self, 0.5 * f / v_self, out=g_self)
    if kind == "dcor":
        g *= 1.0 / (2.0 * math.sqrt(f))
    return g


def value_and_grads(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    kind: str,
    *,
    grad_x: bool = False,
    grad_y: bool = False,
) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """``(value, d value/dx, d value/dy)`` for ``kind`` (see :func:`ratio_value`).

    A gradient not asked for is ``None`` and costs nothing; the one with respect
    to ``y`` re-runs the kernel with the roles swapped (sharing the argsorts).
    """
    orders = (argsort(x), argsort(y))
    t = dcov_terms(x, y, w, grad=grad_x, orders=orders)
    value = ratio_value(t.vxy, t.vxx, t.vyy, kind)
    gx = gy = None
    if grad_x:
        gx = ratio_grad(kind, value, t.vxy, t.vxx, t.vyy, t.grad_xy, t.grad_xx)
    if grad_y:
        s = dcov_terms(y, x, w, grad=True, orders=orders[::-1])
        gy = ratio_grad(kind, value, t.vxy, t.vyy, t.vxx, s.grad_xy, s.grad_xx)
    return value, gx, gy


def value_and_grad(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """``(dCor², d dCor² / dx)`` for float64 1-D arrays and mean-1 weights."""
    value, gx, _ = value_and_grads(x, y, w, "dcor2", grad_x=True)
    return value, gx

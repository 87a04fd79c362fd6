"""Exact weighted distance covariance / correlation from torch operations only (any device).

The quantities, conventions and gradient formulas are those of :mod:`._fast`
(read its docstring first: ``V_xy``, ``S_xy``, ``D_k``); here they are computed
with sorts, cumulative sums, gathers and scatters, so CUDA tensors never leave
the device.  Everything runs in float64; the result and the gradients come back
in the inputs' dtypes.  Weights are constants (no gradient).

Algorithm (``N`` samples)
-------------------------
1. Order the samples by ``(x, y)`` (two stable sorts); ``p_k`` is k's position.
   Row sums ``r^x_k = sum_j w_j |x_k - x_j|`` (and ``r^y``) are prefix sums.
2. ``S_xy = 2 sum_k w_k sum_{p_j < p_k} w_j (x_k - x_j) |y_k - y_j|`` (pairs with
   ``x_j = x_k`` add nothing).  With the prefix sums ``T_k`` of
   ``w_j (x_k - x_j)(y_k - y_j)`` over ``p_j < p_k`` (four cumsums) and ``U_k``, the
   same sum restricted to ``y_j > y_k``: ``S_xy = 2 sum_k w_k (T_k - 2 U_k)``.
3. ``U_k`` is a two-dimensional dominance sum of the four columns ``w, w x, w y,
   w x y`` over the levels of a merge sort: at the level of blocks of ``2h``
   positions, every position in a block's right half gets the sum over the left
   half with larger y, from a cumsum of the left-half values along the block's
   y order (:func:`dominance_sums`).  On the CPU the block orders come level by
   level from the previous one by a stable split (O(N) per level, O(N) memory);
   on other devices all levels are rows of one sort, gather, cumsum and scatter
   (a few dozen kernel launches in all, O(N log N) memory).
4. The gradients (``D_k = sum_j w_j sign(x_k - x_j) |y_k - y_j|`` and the signed
   sums of :func:`._fast._gradients`) come from the same sums: with the tie
   group ``G(k)`` of equal x sorted by y, ``D_k = 2 R_k - r^y_k + sum_{j in G(k)}
   w_j (y_j - y_k)``, where ``R_k = T^y_k - 2 U^y_k`` is the sum of
   ``w_j |y_k - y_j|`` over ``p_j < p_k``.  The gradient with respect to ``y`` is
   the same computation with the roles swapped (one more sort).

Exact ties in y need no care: a tied pair contributes ``0`` to every sum, on
whichever side the tie is broken.  Agreement with the numba kernels is ~1e-13
relative (values and gradients, N = 20,000, weighted, with and without ties).

Speed (``benchmarks/bench_disco.py --only torch``, DisCo forward + backward of
float32 tensors, weighted): on the CPU numba stays ~10x faster, so
``method="auto"`` keeps ``fast`` there.  Measured on a shared 2-core host, one
thread, best of 5-20: N = 4096: 6.9 ms (``fast`` 0.58 ms); N = 65,536: 122 ms
(``fast`` 10.9 ms); with the host loaded 4x, 15 / 0.54 ms and 510 / 50 ms.  On
a GPU the value and the x-gradient take about 150 kernel launches (the batched
dominance kernel, three sorts), independent of N up to its memory bound; not yet
measured (target < 5 ms at N = 65,536 on an H100).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from decorr_af.errors import ConfigError, NonFiniteValueError

__all__ = [
    "TorchExactDcorFunction",
    "dcov_terms",
    "dominance_sums",
    "dominance_sums_batched",
    "dominance_sums_split",
    "exact_dcor",
    "ratio_grad",
    "ratio_value",
    "value_and_grads",
]

_F64 = torch.float64


class Terms(NamedTuple):
    """``V_xy, V_xx, V_yy`` (0-d float64 tensors) and optionally ``dV_xy/dx, dV_xx/dx``.

    ``ox`` is the ``(x, y)`` order, reused by the swapped-role call.
    """

    vxy: torch.Tensor
    vxx: torch.Tensor
    vyy: torch.Tensor
    grad_xy: torch.Tensor | None
    grad_xx: torch.Tensor | None
    ox: torch.Tensor


def _stable_argsort(v: torch.Tensor) -> torch.Tensor:
    return torch.sort(v, stable=True).indices


def dominance_sums(order: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``out_k`` = sum of ``values_j`` over the positions ``j < k`` that ``order`` lists after k.

    The kernel is chosen by device (:data:`DOMINANCE_KERNELS`): on the CPU the
    level-by-level split (:func:`dominance_sums_split`, O(N) memory), elsewhere the
    levels batched into a few large operations (:func:`dominance_sums_batched`,
    fewer kernel launches).

    Parameters
    ----------
    order
        A permutation of ``0..N-1`` (int64): the positions listed in ascending y.
    values
        (N, F) tensor of per-position values.

    Returns
    -------
    torch.Tensor
        (N, F): for every position k the sum over the positions j < k that
        ``order`` lists after k (larger y).  O(N log N) work.

    Examples
    --------
    >>> import torch
    >>> order = torch.tensor([2, 0, 3, 1])  # y ranks 1, 3, 0, 2 at positions 0..3
    >>> dominance_sums(order, torch.tensor([[1.0], [2.0], [4.0], [8.0]])).reshape(-1)
    tensor([0., 0., 3., 2.])
    """
    kernel = DOMINANCE_KERNELS.get(values.device.type, dominance_sums_batched)
    return kernel(order, values)


def dominance_sums_split(order: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """:func:`dominance_sums` level by level: ``log2 N`` rounds of ~20 O(N) operations.

    A merge sort run backwards.  The positions (padded to a power of two ``P``
    with zero values listed last) are kept in y order within their block; at the
    level of block size ``2h`` a cumsum of the left-half values along that order
    gives, for every right-half position, the sum over its block's left half with
    larger y; then every block is split stably into its halves (one cumsum of the
    0/1 flag and a scatter).  O(N F) memory.
    """
    n, nf = values.shape
    levels = max(1, (n - 1).bit_length())
    p = 1 << levels
    dev = values.device
    vals = values.new_zeros(p, nf)
    vals[:n] = values
    ordp = torch.cat([order, torch.arange(n, p, device=dev)])
    acc = values.new_zeros(p, nf)
    ar = torch.arange(p, device=dev)
    for lev in range(levels - 1, -1, -1):
        half = 1 << lev
        block = 2 * half
        is_r = (ordp >> lev) & 1  # right half of the block (larger positions)
        is_l = 1 - is_r
        v = vals[ordp] * is_l.unsqueeze(1).to(vals.dtype)
        cs = v.view(p // block, block, nf).cumsum(1)
        after = (cs[:, -1:, :] - cs).reshape(p, nf)  # left values later in y order
        acc.index_add_(0, ordp, after * is_r.unsqueeze(1).to(vals.dtype))
        if lev == 0:
            break
        cl = is_l.view(p // block, block).cumsum(1).reshape(p)
        j = ar & (block - 1)
        newpos = (ar - j) + torch.where(is_r.bool(), half + j - cl, cl - 1)
        nxt = torch.empty_like(ordp)
        nxt[newpos] = ordp
        ordp = nxt
    return acc[:n]


#: Elements (levels x N x F) one batch of :func:`dominance_sums_batched` may hold.
BATCH_ELEMENTS = 1 << 24


def dominance_sums_batched(order: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """:func:`dominance_sums` with many levels per operation (~20 launches per batch).

    For the level with blocks of ``2h`` positions, a stable sort of ``order`` by
    block (``pos // 2h``) lists every block's positions in y order; a cumsum of
    the left-half values along each row, differenced at the block's last entry,
    gives every right-half position the sum over its block's left half with
    larger y.  All levels (as many as fit :data:`BATCH_ELEMENTS`) are rows of one
    sort, one gather, one cumsum and one scatter: O(N log² N) work for the sort,
    O(N F log N) memory at most.
    """
    n, nf = values.shape
    levels = max(1, (n - 1).bit_length())
    dev = values.device
    out = values.new_zeros(n, nf)
    ar = torch.arange(n, device=dev)
    per = max(1, BATCH_ELEMENTS // (n * nf))
    key_dtype = torch.int32 if n < 2**31 else torch.int64
    for first in range(0, levels, per):
        lev = torch.arange(first, min(levels, first + per), device=dev).unsqueeze(1)
        keys = (order.unsqueeze(0) >> (lev + 1)).to(key_dtype)  # block of each entry
        rows = order[torch.sort(keys, dim=1, stable=True).indices]  # (levels, n) positions
        is_r = ((rows >> lev) & 1).to(values.dtype).unsqueeze(2)
        cs = (values[rows] * (1.0 - is_r)).cumsum(1)
        last = torch.clamp_max(ar | ((2 << lev) - 1), n - 1)  # last entry of the block
        after = (cs.gather(1, last.unsqueeze(2).expand(-1, -1, nf)) - cs) * is_r
        part = torch.zeros_like(after)
        part.scatter_(1, rows.unsqueeze(2).expand(-1, -1, nf), after)
        out += part.sum(0)
    return out


#: :func:`dominance_sums` kernel by ``torch.device.type``; others use the batched one.
DOMINANCE_KERNELS = {"cpu": dominance_sums_split}


def _row_sums(s: torch.Tensor, ws: torch.Tensor) -> torch.Tensor:
    """``r_k = sum_j w_j |s_k - s_j|`` for rows ``s`` ascending along the last axis."""
    cw = ws.cumsum(-1)
    cws = (ws * s).cumsum(-1)
    return s * (2.0 * cw - cw[..., -1:]) - 2.0 * cws + cws[..., -1:]


def _tie_groups(xs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """First and last index of the group of equal values of every element (ascending ``xs``)."""
    n = xs.shape[0]
    ar = torch.arange(n, device=xs.device)
    edge = torch.ones(n + 1, dtype=torch.bool, device=xs.device)
    edge[1:-1] = xs[1:] != xs[:-1]  # edge[k]: a group starts at k (ends at k - 1)
    start = torch.where(edge[:-1], ar, 0).cummax(0).values
    end = torch.where(edge[1:], ar, n - 1).flip(0).cummin(0).values.flip(0)
    return start, end


def dcov_terms(
    x: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    *,
    grad: bool = False,
    y_order: torch.Tensor | None = None,
) -> Terms:
    """``V_xy, V_xx, V_yy`` and, with ``grad``, ``dV_xy/dx`` and ``dV_xx/dx``.

    Parameters
    ----------
    x, y, w
        1-D float64 tensors on one device; ``w`` normalised to mean 1.
    grad
        Also compute the gradients with respect to ``x`` (input order).
    y_order
        Any argsort of ``y`` (saves a sort: pass ``ox`` of the call with the
        roles swapped).

    Examples
    --------
    >>> import torch
    >>> t = dcov_terms(torch.tensor([0.0, 1.0]), torch.tensor([0.0, 2.0]), torch.ones(2))
    >>> float(t.vxy)
    0.5
    """
    n = x.shape[0]
    xy = torch.stack([x, y])
    xy = xy - xy.mean(1, keepdim=True)  # translation invariant; centring limits cancellation
    o1 = _stable_argsort(xy[1]) if y_order is None else y_order
    o2 = _stable_argsort(xy[0, o1])
    ox = o1[o2]  # (x, y) order
    order = torch.empty_like(o2)  # x-order positions listed in y order
    order[o2] = torch.arange(n, device=x.device)
    xs, ys = xy[:, ox]
    ws = w[ox]
    # row means a (x order), b (y order, then x order)
    rows = _row_sums(torch.stack([xs, xy[1, o1]]), torch.stack([ws, w[o1]])) / n
    a, b = rows[0], rows[1, o2]
    wx, wy = ws * xs, ws * ys
    cols = torch.stack([ws, wx, wy, wx * ys], 1)
    before = cols.cumsum(0) - cols  # sums over p_j < p_k
    dom = dominance_sums(order, cols)  # ... and y_j > y_k
    # sum_j w_j (x_k - x_j)(y_k - y_j) over those j, from the four column sums
    pair = (
        torch.stack([before, dom]) * torch.stack([xs * ys, -ys, -xs, torch.ones_like(xs)], 1)
    ).sum(-1)
    terms = torch.stack(
        [xs, ys, xs * xs, ys * ys, a, b, a * a, b * b, a * b, pair[0] - 2 * pair[1]]
    )
    sums = terms @ ws  # weighted sums; 2 sums[-1] = S_xy (module docstring)
    mean = sums[0:2] / n  # sum_k w_k x_k / n, ... (pairs: x then y)
    abar = sums[4:6] / n
    v_self = 2.0 * sums[2:4] / n - 2.0 * mean * mean - 2.0 * sums[6:8] / n + abar * abar
    vxx, vyy = v_self.clamp_min(0.0)
    vxy = 2.0 * sums[9] / (n * n) - 2.0 * sums[8] / n + abar[0] * abar[1]
    if not grad:
        return Terms(vxy, vxx, vyy, None, None, ox)
    # R_k = sum_{p_j < p_k} w_j |y_k - y_j| = T^y_k - 2 U^y_k
    r_before = (before[:, 0] - 2.0 * dom[:, 0]) * ys - (before[:, 2] - 2.0 * dom[:, 2])
    start, end = _tie_groups(xs)
    h = torch.stack([ws, wy, ws * a, ws * b], 1)
    hc = h.cumsum(0)
    lt = hc[start] - h[start]  # sums over strictly smaller x
    grp = hc[end] - lt  # sums over the tie group
    sgn = 2.0 * lt + grp - hc[-1]  # sum_j w_j sign(x_k - x_j) (1, y_j, abar_j, bbar_j)
    d = 2.0 * r_before - n * b + grp[:, 1] - ys * grp[:, 0]
    gb = d - (b - abar[1]) * sgn[:, 0] - sgn[:, 3]
    ga = n * (xs - mean[0]) - (a - abar[0]) * sgn[:, 0] - sgn[:, 2]
    g = torch.empty(2, n, dtype=xs.dtype, device=xs.device)
    g[:, ox] = (2.0 / (n * n)) * torch.stack([gb, 2.0 * ga]) * ws
    return Terms(vxy, vxx, vyy, g[0], g[1], ox)


def ratio_value(vxy: torch.Tensor, vxx: torch.Tensor, vyy: torch.Tensor, kind: str) -> Any:
    """Value for ``kind`` in ``"dcor2"``, ``"dcor"``, ``"dcov2"`` (0 if a variance is 0)."""
    if kind == "dcov2":
        return vxy.clamp_min(0.0)
    den = vxx * vyy
    pos = den > 0
    f = torch.where(pos, vxy / torch.sqrt(torch.where(pos, den, 1.0)), 0.0).clamp(0.0, 1.0)
    return f.sqrt() if kind == "dcor" else f


def ratio_grad(
    kind: str,
    value: torch.Tensor,
    vxy: torch.Tensor,
    v_self: torch.Tensor,
    v_other: torch.Tensor,
    g_cross: torch.Tensor,
    g_self: torch.Tensor,
) -> torch.Tensor:
    """Gradient of ``kind`` with respect to one variable (as :func:`._fast.ratio_grad`).

    Branch-free (no host synchronisation): zero where the value is pinned to 0.
    """
    if kind == "dcov2":
        return g_cross
    den = v_self * v_other
    ok = (den > 0) & (value > 0)
    root = torch.sqrt(torch.where(ok, den, 1.0))
    f = vxy / root
    g = g_cross / root - (0.5 * f / torch.where(ok, v_self, 1.0)) * g_self
    if kind == "dcor":
        g = g / (2.0 * torch.sqrt(torch.where(ok, f, 1.0)))
    return torch.where(ok, g, 0.0)


def value_and_grads(
    x: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    kind: str,
    *,
    grad_x: bool = False,
    grad_y: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """``(value, d value/dx, d value/dy)`` in float64 for 1-D float64 tensors, mean-1 ``w``.

    A gradient not asked for is ``None`` and costs nothing.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from decorr_af.decorrelation import _fast
    >>> x = torch.arange(6.0, dtype=torch.float64)
    >>> value, gx, gy = value_and_grads(x, x**2, torch.ones(6, dtype=torch.float64), "dcor2")
    >>> ref, _, _ = _fast.value_and_grads(x.numpy(), (x**2).numpy(), np.ones(6), "dcor2")
    >>> abs(float(value) - ref) < 1e-12, gx, gy
    (True, None, None)
    """
    t = dcov_terms(x, y, w, grad=grad_x)
    value = ratio_value(t.vxy, t.vxx, t.vyy, kind)
    gx = gy = None
    if grad_x:
        gx = ratio_grad(kind, value, t.vxy, t.vxx, t.vyy, t.grad_xy, t.grad_xx)
    if grad_y:
        s = dcov_terms(y, x, w, grad=True, y_order=t.ox)
        gy = ratio_grad(kind, value, t.vxy, t.vyy, t.vxx, s.grad_xy, s.grad_xx)
    return value, gx, gy


class TorchExactDcorFunction(torch.autograd.Function):
    """dCor², dCor or dCov² of 1-D tensors with exact gradients, on their device.

    ``forward(x, y, w, kind, grad_x, grad_y)``: ``w`` float64 on the device,
    normalised to mean 1; the gradients asked for are computed with the value
    and kept until backward, which only scales them by the incoming gradient.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        y: torch.Tensor,
        w: torch.Tensor,
        kind: str,
        grad_x: bool,
        grad_y: bool,
    ) -> torch.Tensor:  # type: ignore[override]
        value, gx, gy = value_and_grads(
            x.detach().to(_F64), y.detach().to(_F64), w, kind, grad_x=grad_x, grad_y=grad_y
        )
        ctx.grads = (gx, gy)
        ctx.dtypes = (x.dtype, y.dtype)
        return value.to(torch.promote_types(x.dtype, y.dtype))

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        out: list[torch.Tensor | None] = [None] * 6
        for i in (0, 1):
            g = ctx.grads[i]
            if ctx.needs_input_grad[i] and g is not None:
                out[i] = (g * grad_out).to(ctx.dtypes[i])
        return tuple(out)


def _as_tensor(v: Any, like: torch.Tensor | None) -> torch.Tensor:
    if isinstance(v, torch.Tensor):
        return v
    arr = np.asarray(v)
    if like is None:
        return torch.as_tensor(np.asarray(arr, dtype=np.float64))
    dtype = like.dtype if like.dtype.is_floating_point else None
    return torch.as_tensor(arr, dtype=dtype, device=like.device)


def _as_1d(v: torch.Tensor, name: str) -> torch.Tensor:
    if v.ndim == 1:
        return v
    if v.ndim == 2 and v.shape[1] == 1:
        return v[:, 0]
    if v.ndim == 2:
        raise ConfigError(f"method='torch' needs 1-D x and y; {name} has shape {tuple(v.shape)}")
    raise ConfigError(f"{name} must be 1-D (N,) or 2-D (N, d); got shape {tuple(v.shape)}")


def _weights(weights: Any, n: int, device: torch.device) -> torch.Tensor:
    if weights is None:
        return torch.ones(n, dtype=_F64, device=device)
    if isinstance(weights, torch.Tensor):
        w = weights.detach().to(device=device, dtype=_F64).reshape(-1)
    else:
        w = torch.as_tensor(np.asarray(weights, dtype=np.float64).reshape(-1), device=device)
    if w.shape[0] != n:
        raise ConfigError(f"weights has length {w.shape[0]} but x and y have length {n}")
    return w


def _checked_total(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> float:
    """The sum of the weights, after checking x, y and w (one host transfer of 4 numbers).

    A finite sum means finite elements; only when a sum is not finite, a weight
    negative or the total not positive are the elements counted, for the error.
    """
    parts = [x.detach().sum(dtype=_F64), y.detach().sum(dtype=_F64), w.sum(), w.min()]
    sums = torch.stack(parts).tolist()
    if all(math.isfinite(v) for v in sums) and sums[3] >= 0 and sums[2] > 0:
        return sums[2]
    for name, v in (("x", x), ("y", y), ("weights", w)):
        bad = int((~v.isfinite()).sum())
        if bad:
            raise NonFiniteValueError(f"{name} contains {bad} NaN or infinite value(s)")
    neg = int((w < 0).sum())
    if neg:
        raise ConfigError(f"weights must be non-negative; {neg} are negative")
    if sums[2] <= 0:
        raise ConfigError("weights sum to zero; at least one weight must be positive")
    return sums[2]  # finite elements whose float64 sum overflowed


def check_pair(x: torch.Tensor, y: torch.Tensor) -> tuple[int, torch.dtype]:
    """Checks shared by the 1-D tensor paths: same device and length, N ≥ 2.

    Returns ``(N, dtype)``: the promoted dtype of ``x`` and ``y``, or torch's
    default float dtype when both are integer (the dtype of the result).
    """
    if x.device != y.device:
        raise ConfigError(f"x is on {x.device} but y is on {y.device}")
    n = x.shape[0]
    if y.shape[0] != n:
        raise ConfigError(f"x and y must have the same length; got {n} and {y.shape[0]}")
    if n < 2:
        raise ConfigError(f"distance correlation needs at least 2 samples; got {n}")
    dtype = torch.promote_types(x.dtype, y.dtype)
    return n, (dtype if dtype.is_floating_point else torch.get_default_dtype())


def exact_dcor(x: Any, y: Any, weights: Any, kind: str) -> Any:
    """``method="torch"``: validate, then :class:`TorchExactDcorFunction` on x's device.

    ``kind`` is ``"dcor2"``, ``"dcor"`` or ``"dcov2"``.  Tensors give a 0-d tensor
    (the promoted dtype of x and y, integers to the default dtype) differentiable
    with respect to x and y; numpy input gives a float (computed on the CPU).  The
    input checks share one device-to-host transfer of four numbers.

    Examples
    --------
    >>> exact_dcor([0.0, 1.0, 2.0], [0.0, 1.0, 4.0], None, "dcov2") > 0
    True
    """
    use_torch = isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor)
    ref = x if isinstance(x, torch.Tensor) else y if use_torch else None
    x, y = _as_1d(_as_tensor(x, ref), "x"), _as_1d(_as_tensor(y, ref), "y")
    n, dtype = check_pair(x, y)
    if not (x.dtype.is_floating_point or y.dtype.is_floating_point):  # integers: default float
        x, y = x.to(dtype), y.to(dtype)
    w = _weights(weights, n, x.device)
    total = _checked_total(x, y, w)
    w = w * (n / total)
    grad_on = torch.is_grad_enabled()
    value = TorchExactDcorFunction.apply(
        x, y, w, kind, grad_on and x.requires_grad, grad_on and y.requires_grad
    )
    value = value.to(dtype)
    return value if use_torch else float(value)

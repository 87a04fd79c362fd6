"""The O(N²) reference: literal double-centred distance matrices, chunked over rows.

Works for numpy arrays and torch tensors alike (``xp`` is ``numpy`` or ``torch``),
for any dimension of x and y (Euclidean distances).  Memory stays bounded: rows
are processed in chunks of about ``chunk_elements / N`` and, when torch needs
gradients and there is more than one chunk, every chunk is checkpointed
(:func:`._checkpoint.recompute`) so its N-wide matrices are recomputed in the backward
pass instead of being kept.
"""

from __future__ import annotations

from typing import Any

__all__ = ["naive_dcov_terms"]


def _pairwise(xp: Any, xa: Any, xb: Any) -> Any:
    """|xa_i - xb_j| for (c, d) and (n, d) inputs; zero distances get zero gradient."""
    if xa.shape[1] == 1:
        return abs(xa - xb.T)
    diff = xa[:, None, :] - xb[None, :, :]
    sq = (diff * diff).sum(-1)
    pos = sq > 0
    one = xp.ones_like(sq)
    return xp.where(pos, xp.sqrt(xp.where(pos, sq, one)), 0 * sq)


def _row_means(xp: Any, xa: Any, xb: Any, w: Any) -> Any:
    return (_pairwise(xp, xa, xb) * w[None, :]).sum(1) / xb.shape[0]


def _chunk_sums(xp, xa, xb, ya, yb, w_a, w, ra_x, r_x, mx, ra_y, r_y, my):
    a = _pairwise(xp, xa, xb) - ra_x[:, None] - r_x[None, :] + mx
    b = _pairwise(xp, ya, yb) - ra_y[:, None] - r_y[None, :] + my
    ww = w_a[:, None] * w[None, :]
    return (ww * a * b).sum(), (ww * a * a).sum(), (ww * b * b).sum()


def naive_dcov_terms(
    xp: Any, x: Any, y: Any, w: Any, *, chunk_elements: int = 1 << 22
) -> tuple[Any, Any, Any]:
    """``(V_xy, V_xx, V_yy)`` by the literal weighted formula (DisCo paper).

    Parameters
    ----------
    xp
        ``numpy`` or ``torch``.
    x, y
        Arrays of shape (N, d_x) and (N, d_y).
    w
        Weights of shape (N,), normalised to mean 1.
    chunk_elements
        Upper bound on the elements of one chunk's distance matrix.
    """
    n = x.shape[0]
    dim = max(x.shape[1], y.shape[1])
    step = max(1, min(n, chunk_elements // max(1, n * dim)))
    starts = list(range(0, n, step))
    use_ckpt = (
        xp.__name__ == "torch"
        and len(starts) > 1
        and xp.is_grad_enabled()
        and (x.requires_grad or y.requires_grad)
    )
    if use_ckpt:
        from decorr_af.decorrelation._checkpoint import recompute as call
    else:

        def call(fn: Any, *args: Any) -> Any:
            return fn(*args)

    def row_fn(a: Any, b: Any, ww: Any) -> Any:
        return _row_means(xp, a, b, ww)

    def rows(v: Any) -> Any:
        parts = [call(row_fn, v[s : s + step], v, w) for s in starts]
        if len(parts) == 1:
            return parts[0]
        return xp.cat(parts) if xp.__name__ == "torch" else xp.concatenate(parts)

    r_x = rows(x)
    r_y = rows(y)
    mx = (r_x * w).sum() / n
    my = (r_y * w).sum() / n

    def sum_fn(xa, ya, wa, rax, ray, xb, yb, wb, rx, ry, cx, cy):
        return _chunk_sums(xp, xa, xb, ya, yb, wa, wb, rax, rx, cx, ray, ry, cy)

    sxy = sxx = syy = 0
    for s in starts:
        sl = slice(s, s + step)
        part = call(
            sum_fn,
            x[sl],
            y[sl],
            w[sl],
            r_x[sl],
            r_y[sl],
            x,
            y,
            w,
            r_x,
            r_y,
            mx,
            my,
        )
        sxy = sxy + part[0]
        sxx = sxx + part[1]
        syy = syy + part[2]
    nn = float(n) * float(n)
    return sxy / nn, sxx / nn, syy / nn

"""A minimal activation checkpoint for torch: recompute a function in the backward pass.

:func:`recompute` runs ``fn(*args)`` without recording a graph and, when the
gradient is needed, re-runs it with grad mode on to back-propagate. Memory of the
intermediate tensors of ``fn`` is traded for a second forward pass. The chunked
O(N²) distance matrices of :mod:`decorr_af.decorrelation._naive` use it so that only
one chunk's N-wide matrices exist at a time.

It is re-entrant like ``torch.utils.checkpoint(use_reentrant=True)`` but avoids
importing that module, which pulls in ``torch._dynamo`` (seconds of import time).
Limitations: ``fn`` must be deterministic (no dropout/RNG), take tensors only and
return a tensor or a tuple of tensors; inputs that do not require grad get none.

Examples
--------
>>> import torch
>>> x = torch.arange(3.0, requires_grad=True)
>>> y = recompute(lambda t: (t * t).sum(), x)
>>> y.backward()
>>> x.grad.tolist()
[0.0, 2.0, 4.0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.autograd.function import once_differentiable

__all__ = ["recompute"]


class _Recompute(torch.autograd.Function):
    """Checkpoint: run ``fn`` without a graph, rebuild it in the backward pass."""

    @staticmethod
    def forward(ctx: Any, fn: Any, *args: torch.Tensor) -> Any:  # type: ignore[override]
        ctx.fn = fn
        ctx.save_for_backward(*args)
        with torch.no_grad():
            return fn(*args)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        needs = ctx.needs_input_grad[1:]
        inputs = [a.detach().requires_grad_(n) for a, n in zip(ctx.saved_tensors, needs)]
        with torch.enable_grad():
            out = ctx.fn(*inputs)
        out = out if isinstance(out, tuple) else (out,)
        pairs = [(o, g) for o, g in zip(out, grads) if o.requires_grad]
        wrt = [a for a in inputs if a.requires_grad]
        got = iter([None] * len(wrt))
        if wrt and pairs:
            outs, gouts = zip(*pairs)
            got = iter(torch.autograd.grad(outs, wrt, gouts, allow_unused=True))
        return (None, *(next(got) if a.requires_grad else None for a in inputs))


def recompute(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` whose intermediate tensors are recomputed, not stored, for backward.

    Parameters
    ----------
    fn
        Deterministic function of tensors returning a tensor or a tuple of tensors.
    *args
        Its tensor arguments (gradients flow to those with ``requires_grad``).
    """
    return _Recompute.apply(fn, *args)

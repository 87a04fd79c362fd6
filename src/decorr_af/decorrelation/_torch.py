"""torch side: the O(N log N) autograd Function and the O(N²) differentiable path.

:class:`FastDcorFunction` computes in float64 on the CPU with the numba kernels
of :mod:`._fast` (a device round-trip for CUDA tensors) and returns its value and
gradients in the input's dtype and device.  Weights are constants (no gradient).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from decorr_af.decorrelation._fast import value_and_grads
from decorr_af.decorrelation._naive import naive_dcov_terms

__all__ = ["FastDcorFunction", "HostInputs", "fast_torch", "host_f64", "naive_torch"]


def host_f64(t: torch.Tensor) -> np.ndarray:
    """A C-contiguous float64 numpy view or copy of ``t`` on the CPU (at most one copy)."""
    return np.ascontiguousarray(t.detach().to(device="cpu", dtype=torch.float64).numpy())


class HostInputs(NamedTuple):
    """Validated float64 host copies of a fast-path call (see :func:`fast_torch`)."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray
    kind: str
    dtype: torch.dtype


class FastDcorFunction(torch.autograd.Function):
    """Exact O(N log N) dCor², dCor or dCov² of 1-D ``x`` and ``y`` with exact gradients.

    ``forward(x, y, host, grad_x, grad_y)``: ``host`` (:class:`HostInputs`) holds the
    float64 copies of ``x``, ``y``, the weights normalised to mean 1, ``kind`` in
    ``"dcor2"``, ``"dcor"``, ``"dcov2"`` and the result dtype.  The gradients asked
    for are computed in the same compiled pass as the value and kept until backward,
    which only scales them by the incoming gradient.
    """

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, y: torch.Tensor, host: HostInputs, grad_x: bool, grad_y: bool
    ) -> torch.Tensor:  # type: ignore[override]
        value, gx, gy = value_and_grads(
            host.x, host.y, host.w, host.kind, grad_x=grad_x, grad_y=grad_y
        )
        ctx.grads = (gx, gy)
        ctx.meta = ((x.dtype, x.device), (y.dtype, y.device))
        return torch.tensor(value, dtype=host.dtype, device=x.device)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        scale = float(grad_out)
        out: list[torch.Tensor | None] = [None, None, None, None, None]
        for inp in (0, 1):
            g = ctx.grads[inp]
            if ctx.needs_input_grad[inp] and g is not None:
                dtype, device = ctx.meta[inp]
                out[inp] = torch.from_numpy(g * scale).to(device=device, dtype=dtype)
        return tuple(out)


def fast_torch(x: torch.Tensor, y: torch.Tensor, host: HostInputs) -> torch.Tensor:
    """Apply :class:`FastDcorFunction` to 1-D tensors with their validated host copies.

    Gradients are computed only for the inputs that need one (grad mode on and
    ``requires_grad``); under :func:`torch.no_grad` only the value is computed.
    """
    grad_on = torch.is_grad_enabled()
    return FastDcorFunction.apply(
        x, y, host, grad_on and x.requires_grad, grad_on and y.requires_grad
    )


def naive_torch(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, kind: str, *, chunk_elements: int
) -> torch.Tensor:
    """Differentiable O(N²) value for 2-D tensors ``x`` (N, d_x), ``y`` (N, d_y).

    Zero variance gives 0 with a zero (not NaN) gradient, as does the square root
    at dCor² = 0.
    """
    vxy, vxx, vyy = naive_dcov_terms(torch, x, y, w, chunk_elements=chunk_elements)
    if kind == "dcov2":
        return vxy.clamp_min(0.0)
    den = vxx * vyy
    pos = (vxx > 0) & (vyy > 0)  # signed weights: a variance estimate may be < 0
    safe = torch.where(pos, den, torch.ones_like(den))
    f = torch.where(pos, vxy / torch.sqrt(safe), torch.zeros_like(vxy)).clamp(0.0, 1.0)
    if kind == "dcor2":
        return f
    tiny = torch.finfo(f.dtype).tiny
    return torch.sqrt(f.clamp_min(tiny)) * (f > 0)

"""Weighted distance correlation: exact O(N log N) for 1-D, O(N²) reference otherwise.

Convention
----------
``distance_correlation`` returns **dCor** in Székely's convention, in [0, 1]: the
number :func:`dcor.distance_correlation` returns (biased V-statistics) for
unweighted input.  ``squared=True`` returns dCor².  Beware: the DisCo paper's
``distance_corr(..., power=1)`` returns dCor² (its ``power`` is applied to dCor²),
so a DisCo penalty ``λ·distance_corr(power=1)`` is ``λ·distance_correlation(...,
squared=True)`` here.

Weighted definition (the DisCo paper's public implementation), with weights ``w``
normalised to mean 1::

    a_ij = |x_i - x_j|,  abar_i = mean_j(w_j a_ij),  abar = mean_i(w_i abar_i),
    A_ij = a_ij - abar_i - abar_j + abar   (same for B with y),
    dCov²(x, y) = mean_ij(w_i w_j A_ij B_ij),
    dCor²(x, y) = dCov²(x, y) / sqrt(dCov²(x, x) dCov²(y, y)).

Multi-dimensional ``x`` or ``y`` (shape (N, d)) use Euclidean distances.

Signed weights (NLO MC such as Sherpa γγ, sWeights) are allowed: the formula above
is bilinear in the weighted empirical measure ``Σ_i w_i δ(x_i, y_i)``, so it is used
unchanged with signed ``w_i`` (normalised to mean 1, hence their **sum must be
positive**).  It depends only on that measure: rows with equal ``(x, y)`` may be
merged by adding their weights (``+2w`` and ``-w`` at one point equal ``w``).  With
negative weights ``dCov²(x, x)`` is no longer guaranteed positive; when either
variance estimate is not positive the correlation is reported as 0 (and its
gradient as 0), like a constant input.

Edge cases: N < 2 raises :class:`ConfigError`; N = 2, 3 follow the formula
(dCor = 1 for two distinct points).  A constant ``x`` or ``y`` (dCov² = 0) gives
0.0 with a zero gradient, never NaN.  Exact ties are handled exactly; at a tie the
sub-gradient of ``|x_i - x_j|`` is 0, as for :func:`torch.abs`.

Methods (:class:`DcorMethod`)
-----------------------------
``fast``: exact O(N log N) numba kernels (1-D only), float64 on the CPU; torch
tensors go through a custom autograd Function (a host round-trip for CUDA) that
computes the value and the gradients it will need in one compiled pass.  1-D
tensors (the DisCo penalty's case) take a lean entry point, :func:`_fast_torch_1d`:
one float64 host copy per input and all input checks in one compiled pass.
``naive``: literal O(N²) formula in numpy or torch (differentiable, any dimension),
chunked over rows so memory stays bounded (torch checkpointing under autograd).
``torch``: exact O(N log N) from torch operations only (1-D; :mod:`._torch_exact`),
on the tensors' device in float64: CUDA tensors never leave the GPU.  Numpy input
runs on the CPU.
``auto``: ``naive`` for multi-dimensional input; for 1-D, ``fast`` for numpy and
CPU tensors (on the CPU numba is several times faster than ``torch``); for CUDA
tensors ``naive`` on the GPU while ``N <=`` :data:`CUDA_NAIVE_MAX_N`, ``torch``
from :data:`CUDA_TORCH_MIN_N` on, ``fast`` (a host round-trip) in between.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError, NonFiniteValueError

__all__ = [
    "CUDA_NAIVE_MAX_N",
    "CUDA_TORCH_MIN_N",
    "DcorMethod",
    "distance_correlation",
    "distance_correlation_sq_grad",
    "distance_covariance_sq",
]

#: Largest N for which ``method="auto"`` keeps 1-D CUDA tensors on the GPU with the
#: O(N²) path; above it the exact O(N log N) CPU path is used (one host round-trip).
#: Measured with ``benchmarks/bench_disco.py`` on an H100 with a 16-core host
#: (float32 DisCo forward + backward, ms)::
#:
#:     N            128   512  1024  2048  4096  8192  16384  65536
#:     GPU O(N²)    2.1   2.1   2.0   2.8   3.4  10.4   53.7    834
#:     CPU fast     0.9   0.9   1.4   1.9   2.5   2.8    5.1     31
#:
#: The GPU path is launch-bound (~2 ms) for small N and quadratic beyond ~4k, so the
#: fast path wins at every size and the default is 0.  Since the fused kernel the
#: CPU fast path takes 0.34, 0.94 and 3.0 ms at N = 256, 4096 and 16384 (same host).  Raise it (it is read at call
#: time) on hosts whose CPU is much slower or busy.
CUDA_NAIVE_MAX_N = 0

#: Smallest N for which ``method="auto"`` computes 1-D CUDA tensors with the exact
#: device-native ``method="torch"`` (read at call time).  Not yet measured on a GPU:
#: the torch path costs about 150 kernel launches whatever N (launch-bound up to
#: ~10⁵), so it should beat the host round-trip (3.0 ms at 16384, 31 ms at 65536
#: on an H100) from several thousand samples on; set it from
#: ``benchmarks/bench_disco.py --only torch``.
CUDA_TORCH_MIN_N = 8192

_CHUNK_CPU = 1 << 22
_CHUNK_CUDA = 1 << 26


class DcorMethod(str, Enum):
    """Algorithm for distance covariance / correlation."""

    AUTO = "auto"
    FAST = "fast"
    NAIVE = "naive"
    TORCH = "torch"


def _is_torch(v: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(v, torch.Tensor)


def _method(method: DcorMethod | str) -> DcorMethod:
    try:
        return DcorMethod(method)
    except ValueError:
        choices = ", ".join(m.value for m in DcorMethod)
        raise ConfigError(f"method={method!r} is not one of: {choices}") from None


def _as_2d(v: Any, name: str) -> Any:
    if v.ndim == 1:
        return v.reshape(-1, 1)
    if v.ndim == 2:
        return v
    raise ConfigError(f"{name} must be 1-D (N,) or 2-D (N, d); got shape {tuple(v.shape)}")


def _check_finite(v: Any, name: str) -> None:
    bad = int((~(v.isfinite() if _is_torch(v) else np.isfinite(v))).sum())
    if bad:
        raise NonFiniteValueError(f"{name} contains {bad} NaN or infinite value(s)")


def _norm_weights(weights: Any, n: int) -> np.ndarray:
    """Weights as float64 numpy normalised to mean 1 (ones if ``None``)."""
    if weights is None:
        return np.ones(n)
    w = weights.detach().cpu().numpy() if _is_torch(weights) else np.asarray(weights)
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    if w.shape[0] != n:
        raise ConfigError(f"weights has length {w.shape[0]} but x and y have length {n}")
    _check_finite(w, "weights")
    total = w.sum()
    if total <= 0:
        raise ConfigError(
            f"weights sum to zero or less ({total:g}); signed weights are allowed but their "
            "sum must be positive"
        )
    return np.ascontiguousarray(w * (n / total))


def _prepare(x: Any, y: Any, weights: Any) -> tuple[Any, Any, np.ndarray, bool]:
    """Validate and convert; returns 2-D x, y (common dtype), weights, torch flag."""
    use_torch = _is_torch(x) or _is_torch(y)
    if use_torch:
        import torch

        ref = x if _is_torch(x) else y
        like = {"device": ref.device}
        if ref.dtype.is_floating_point:  # a numpy partner follows the tensor's dtype
            like["dtype"] = ref.dtype
        x = x if _is_torch(x) else torch.as_tensor(np.asarray(x), **like)
        y = y if _is_torch(y) else torch.as_tensor(np.asarray(y), **like)
        if x.device != y.device:
            raise ConfigError(f"x is on {x.device} but y is on {y.device}")
        dtype = torch.promote_types(x.dtype, y.dtype)
        if not dtype.is_floating_point:
            dtype = torch.get_default_dtype()
        x, y = x.to(dtype), y.to(dtype)
    else:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
    x, y = _as_2d(x, "x"), _as_2d(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ConfigError(f"x and y must have the same length; got {x.shape[0]} and {y.shape[0]}")
    if x.shape[0] < 2:
        raise ConfigError(f"distance correlation needs at least 2 samples; got {x.shape[0]}")
    _check_finite(x, "x")
    _check_finite(y, "y")
    return x, y, _norm_weights(weights, x.shape[0]), use_torch


def _auto_is_fast(x: Any) -> bool:
    """``method="auto"`` on 1-D input: fast unless a small CUDA batch (``CUDA_NAIVE_MAX_N``)."""
    on_cuda = _is_torch(x) and x.device.type == "cuda"
    return not (on_cuda and x.shape[0] <= CUDA_NAIVE_MAX_N)


def _resolve(method: DcorMethod, x: Any, y: Any) -> DcorMethod:
    one_d = x.shape[1] == 1 and y.shape[1] == 1
    if method is DcorMethod.FAST and not one_d:
        raise ConfigError(
            f"method='fast' needs 1-D x and y; got shapes {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if method is not DcorMethod.AUTO:
        return method
    if not one_d:
        return DcorMethod.NAIVE
    return DcorMethod.FAST if _auto_is_fast(x) else DcorMethod.NAIVE


def _fast_torch_1d(x: Any, y: Any, weights: Any, kind: str) -> Any:
    """Hot path (DisCo): 1-D tensors with the fast method, checked in one compiled pass.

    Same checks, errors and result as :func:`_prepare` + the generic fast branch,
    but every input is converted to float64 on the host exactly once (no copy for
    float64 CPU tensors) and the finite/positive-sum checks of x, y and the
    weights run together in :func:`._fast.count_invalid` instead of one torch or
    numpy reduction (and a host sync) each.
    """

    from decorr_af.decorrelation import _fast, _torch
    from decorr_af.decorrelation._torch_exact import check_pair

    n, dtype = check_pair(x, y)
    xh, yh = _torch.host_f64(x), _torch.host_f64(y)
    if weights is None:
        w = np.ones(n)
    elif _is_torch(weights):
        w = _torch.host_f64(weights.reshape(-1))
    else:
        w = np.ascontiguousarray(np.asarray(weights, dtype=np.float64).reshape(-1))
    bad_x, bad_y, bad_w, _, total = _fast.count_invalid(xh, yh, w)
    for name, bad in (("x", bad_x), ("y", bad_y)):
        if bad:
            raise NonFiniteValueError(f"{name} contains {bad} NaN or infinite value(s)")
    if weights is not None:
        if w.shape[0] != n:
            raise ConfigError(f"weights has length {w.shape[0]} but x and y have length {n}")
        if bad_w:
            raise NonFiniteValueError(f"weights contains {bad_w} NaN or infinite value(s)")
        if total <= 0:
            raise ConfigError(
                f"weights sum to zero or less ({total:g}); signed weights are allowed but "
                "their sum must be positive"
            )
        w = w * (n / total)  # a new array: ``w`` may share memory with the caller's
    return _torch.fast_torch(x, y, _torch.HostInputs(xh, yh, w, kind, dtype))


def _auto_is_torch(x: Any, y: Any) -> bool:
    """``method="auto"``: the device-native exact path for large 1-D CUDA tensors."""
    return (
        _is_torch(x)
        and x.device.type == "cuda"
        and x.ndim == 1
        and getattr(y, "ndim", 0) == 1
        and x.shape[0] >= CUDA_TORCH_MIN_N
        and x.shape[0] > CUDA_NAIVE_MAX_N
    )


def _compute(x: Any, y: Any, weights: Any, method: DcorMethod | str, kind: str) -> Any:
    how = _method(method)
    if how is DcorMethod.TORCH or (how is DcorMethod.AUTO and _auto_is_torch(x, y)):
        from decorr_af.decorrelation._torch_exact import exact_dcor

        return exact_dcor(x, y, weights, kind)
    if (
        _is_torch(x)
        and _is_torch(y)
        and x.ndim == 1
        and y.ndim == 1
        and (how is DcorMethod.FAST or (how is DcorMethod.AUTO and _auto_is_fast(x)))
    ):
        return _fast_torch_1d(x, y, weights, kind)
    x, y, w, use_torch = _prepare(x, y, weights)
    how = _resolve(how, x, y)
    if use_torch:
        from decorr_af.decorrelation import _torch

        if how is DcorMethod.FAST:
            x, y = x.reshape(-1), y.reshape(-1)
            host = _torch.HostInputs(_torch.host_f64(x), _torch.host_f64(y), w, kind, x.dtype)
            return _torch.fast_torch(x, y, host)
        import torch

        chunk = _CHUNK_CUDA if x.device.type == "cuda" else _CHUNK_CPU
        wt = torch.as_tensor(w, dtype=x.dtype, device=x.device)
        return _torch.naive_torch(x, y, wt, kind, chunk_elements=chunk)
    from decorr_af.decorrelation._fast import dcov_terms, ratio_value

    if how is DcorMethod.FAST:
        t = dcov_terms(np.ascontiguousarray(x[:, 0]), np.ascontiguousarray(y[:, 0]), w)
        vxy, vxx, vyy = t.vxy, t.vxx, t.vyy
    else:
        from decorr_af.decorrelation._naive import naive_dcov_terms

        terms = naive_dcov_terms(np, x, y, w, chunk_elements=_CHUNK_CPU)
        vxy, vxx, vyy = (float(v) for v in terms)
    return ratio_value(vxy, vxx, vyy, kind)


def distance_correlation(
    x: Any,
    y: Any,
    *,
    weights: Any = None,
    method: DcorMethod | str = DcorMethod.AUTO,
    squared: bool = False,
) -> Any:
    """Weighted distance correlation dCor(x, y) in [0, 1] (Székely's convention).

    Parameters
    ----------
    x, y
        numpy arrays or torch tensors of shape (N,) or (N, d).  With a torch tensor
        the result is a 0-d tensor on its device and dtype, differentiable with
        respect to ``x`` and ``y``.
    weights
        Per-sample weights (normalised internally to mean 1; signed weights are
        allowed, their sum must be positive - see the module notes); constants.
    method
        :class:`DcorMethod` or its value: ``"auto"``, ``"fast"`` (1-D, O(N log N)),
        ``"naive"`` (O(N²)), ``"torch"`` (1-D, O(N log N) on the tensors' device).
    squared
        Return dCor² instead of dCor (the DisCo paper's ``power=1`` quantity).

    Returns
    -------
    float or torch.Tensor

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=1000)
    >>> bool(distance_correlation(x, x**2) > 0.3)  # dependent, though uncorrelated
    True
    """
    return _compute(x, y, weights, method, "dcor2" if squared else "dcor")


def distance_covariance_sq(
    x: Any, y: Any, *, weights: Any = None, method: DcorMethod | str = DcorMethod.AUTO
) -> Any:
    """Weighted squared distance covariance dCov²(x, y) (V-statistic, ≥ 0).

    Same inputs and conventions as :func:`distance_correlation`; equals
    :func:`dcor.distance_covariance_sqr` for unweighted input.

    Examples
    --------
    >>> distance_covariance_sq([0.0, 1.0], [0.0, 2.0])
    0.5
    """
    return _compute(x, y, weights, method, "dcov2")


def distance_correlation_sq_grad(x: Any, y: Any, weights: Any = None) -> tuple[float, np.ndarray]:
    """dCor²(x, y) and its exact gradient with respect to 1-D ``x`` (numpy, O(N log N)).

    Meant for gradient-boosting objectives (``x`` = predictions, ``y`` = protected
    variable).  The gradient is zero when ``x`` or ``y`` is constant.

    Examples
    --------
    >>> import numpy as np
    >>> value, grad = distance_correlation_sq_grad(np.arange(5.0), np.arange(5.0) ** 2)
    >>> grad.shape
    (5,)
    """
    from decorr_af.decorrelation._fast import value_and_grad

    xa, ya, w, use_torch = _prepare(x, y, weights)
    if use_torch:
        xa, ya = xa.detach().cpu().double().numpy(), ya.detach().cpu().double().numpy()
    if xa.shape[1] != 1 or ya.shape[1] != 1:
        raise ConfigError("distance_correlation_sq_grad needs 1-D x and y")
    return value_and_grad(np.ascontiguousarray(xa[:, 0]), np.ascontiguousarray(ya[:, 0]), w)

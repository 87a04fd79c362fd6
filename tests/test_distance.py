"""Tests of decorr_af.decorrelation.distance (fast O(N log N) vs dcor and the O(N²) path)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from decorr_af.decorrelation import (
    DcorMethod,
    distance_correlation,
    distance_correlation_sq_grad,
    distance_covariance_sq,
)
from decorr_af.decorrelation import distance as distance_mod
from decorr_af.errors import ConfigError, NonFiniteValueError

dcor = pytest.importorskip("dcor")
torch = pytest.importorskip("torch")


def _sample(kind: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "linear":
        x = rng.normal(size=n)
        return x, 0.5 * x + rng.normal(size=n)
    if kind == "nonlinear":
        x = rng.exponential(size=n)
        return x, np.cos(3 * x) + 0.2 * rng.standard_t(3, size=n)
    if kind == "independent":
        return rng.uniform(size=n), rng.lognormal(size=n)
    if kind == "ties":  # heavy ties in both variables
        x = rng.integers(0, 4, size=n).astype(float)
        return x, rng.integers(0, 3, size=n) + 0.5 * x
    raise AssertionError(kind)


KINDS = ["linear", "nonlinear", "independent", "ties"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [3, 17, 600])
def test_unweighted_matches_dcor(kind: str, n: int) -> None:
    x, y = _sample(kind, n, seed=311 + n)
    ref = dcor.distance_correlation(x, y)
    for method in DcorMethod:
        assert distance_correlation(x, y, method=method) == pytest.approx(ref, rel=1e-9, abs=1e-12)
    assert distance_correlation(x, y, squared=True) == pytest.approx(ref**2, rel=1e-9, abs=1e-12)
    assert distance_covariance_sq(x, y) == pytest.approx(
        dcor.distance_covariance_sqr(x, y), rel=1e-9, abs=1e-12
    )


@pytest.mark.parametrize("kind", KINDS)
def test_integer_weights_equal_replication(kind: str) -> None:
    x, y = _sample(kind, 150, seed=4242)
    w = np.random.default_rng(5).integers(0, 4, size=150)
    ref = dcor.distance_correlation(np.repeat(x, w), np.repeat(y, w))
    for method in ("fast", "naive"):
        got = distance_correlation(x, y, weights=w, method=method)
        assert got == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [2, 9, 400])
def test_weighted_fast_matches_naive(kind: str, n: int) -> None:
    x, y = _sample(kind, n, seed=97 * n)
    w = np.random.default_rng(n).gamma(0.7, size=n) + 1e-3
    for squared in (False, True):
        fast = distance_correlation(x, y, weights=w, method="fast", squared=squared)
        slow = distance_correlation(x, y, weights=w, method="naive", squared=squared)
        assert fast == pytest.approx(slow, rel=1e-9, abs=1e-12)
    assert distance_covariance_sq(x, y, weights=w, method="fast") == pytest.approx(
        distance_covariance_sq(x, y, weights=w, method="naive"), rel=1e-9, abs=1e-14
    )


def test_invariances_and_precision() -> None:
    x, y = _sample("nonlinear", 500, seed=8)
    w = np.random.default_rng(1).uniform(0.1, 3.0, size=500)
    base = distance_correlation(x, y, weights=w)
    assert distance_correlation(y, x, weights=w) == pytest.approx(base, rel=1e-10)
    assert distance_correlation(3e4 * x + 1e7, -0.01 * y, weights=w) == pytest.approx(
        base, rel=1e-7
    )
    assert distance_correlation(x, y, weights=7.5 * w) == pytest.approx(base, rel=1e-12)
    assert distance_correlation(x, 2 * x - 1) == pytest.approx(1.0, rel=1e-12)
    assert distance_correlation(x[:2], y[:2]) == pytest.approx(1.0)


def test_multidimensional_uses_naive() -> None:
    rng = np.random.default_rng(77)
    x = rng.normal(size=(120, 3))
    y = np.linalg.norm(x, axis=1) + rng.normal(size=120)
    ref = dcor.distance_correlation(x, y)
    assert distance_correlation(x, y) == pytest.approx(ref, rel=1e-9)
    assert distance_correlation(x, y[:, None], method="naive") == pytest.approx(ref, rel=1e-9)
    with pytest.raises(ConfigError, match="method='fast'"):
        distance_correlation(x, y, method="fast")


def test_chunked_naive_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = _sample("linear", 300, seed=12)
    w = np.random.default_rng(2).uniform(size=300)
    ref = distance_correlation(x, y, weights=w, method="fast")
    monkeypatch.setattr(distance_mod, "_CHUNK_CPU", 30_000)  # 100 rows per chunk
    assert distance_correlation(x, y, weights=w, method="naive") == pytest.approx(ref, rel=1e-10)
    xt = torch.tensor(x, requires_grad=True)
    value = distance_correlation(xt, y, weights=w, method="naive", squared=True)
    (g_chunked,) = torch.autograd.grad(value, xt)
    _, g_ref = distance_correlation_sq_grad(x, y, w)
    np.testing.assert_allclose(g_chunked.numpy(), g_ref, rtol=1e-8, atol=1e-14)


def test_constant_input_is_zero_with_zero_gradient() -> None:
    y = np.random.default_rng(3).normal(size=20)
    assert distance_correlation(np.full(20, 2.5), y) == 0.0
    assert distance_correlation(y, np.ones(20), method="naive") == 0.0
    for method in ("fast", "naive"):
        for squared in (False, True):
            xt = torch.full((20,), 1.0, dtype=torch.float64, requires_grad=True)
            yt = torch.tensor(y, requires_grad=True)
            value = distance_correlation(xt, yt, method=method, squared=squared)
            value.backward()
            assert value.item() == 0.0
            assert torch.equal(xt.grad, torch.zeros(20, dtype=torch.float64))
            assert torch.equal(yt.grad, torch.zeros(20, dtype=torch.float64))
    value, grad = distance_correlation_sq_grad(np.zeros(20), y)
    assert value == 0.0
    assert not grad.any()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"x": [1.0], "y": [2.0]}, ConfigError, "at least 2"),
        ({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0]}, ConfigError, "same length"),
        ({"x": [1.0, np.nan, 3.0], "y": [1.0, 2.0, 3.0]}, NonFiniteValueError, "x contains 1"),
        ({"x": [1.0, 2.0, 3.0], "y": [1.0, np.inf, 3.0]}, NonFiniteValueError, "y contains 1"),
        ({"weights": [1.0, -3.0, 1.0]}, ConfigError, "sum must be positive"),
        ({"weights": [0.0, 0.0, 0.0]}, ConfigError, "weights sum to zero"),
        ({"weights": [1.0, 1.0]}, ConfigError, "weights has length 2"),
        ({"weights": [1.0, np.nan, 1.0]}, NonFiniteValueError, "weights contains"),
        ({"method": "quadratic"}, ConfigError, "method='quadratic'"),
        ({"x": np.ones((3, 1, 1))}, ConfigError, "x must be 1-D"),
    ],
)
def test_errors(kwargs: dict, error: type, match: str) -> None:
    args = {"x": [1.0, 2.0, 3.0], "y": [3.0, 1.0, 2.0]} | kwargs
    with pytest.raises(error, match=match):
        distance_correlation(args.pop("x"), args.pop("y"), **args)


# --------------------------------------------------------------------------- torch
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_fast_gradient_matches_naive_autograd(kind: str, weighted: bool) -> None:
    x, y = _sample(kind, 90, seed=1234)
    w = np.random.default_rng(9).exponential(size=90) if weighted else None
    grads = {}
    for method in ("fast", "naive"):
        xt = torch.tensor(x, requires_grad=True)
        yt = torch.tensor(y, requires_grad=True)
        value = distance_correlation(xt, yt, weights=w, method=method)
        value.backward()
        grads[method] = (value.detach(), xt.grad, yt.grad)
    for fast, slow in zip(grads["fast"], grads["naive"]):
        torch.testing.assert_close(fast, slow, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("kind", ["dcor", "dcor2", "dcov2"])
def test_gradcheck_fast(kind: str) -> None:
    rng = np.random.default_rng(55)
    x = torch.tensor(rng.normal(size=12), requires_grad=True)
    y = torch.tensor(rng.normal(size=12) + np.sin(x.detach().numpy()), requires_grad=True)
    w = rng.uniform(0.5, 2.0, size=12)

    def fn(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if kind == "dcov2":
            return distance_covariance_sq(a, b, weights=w, method="fast")
        return distance_correlation(a, b, weights=w, method="fast", squared=kind == "dcor2")

    assert torch.autograd.gradcheck(fn, (x, y))


def test_sq_grad_numpy_matches_torch() -> None:
    x, y = _sample("nonlinear", 300, seed=606)
    w = np.random.default_rng(4).uniform(size=300)
    value, grad = distance_correlation_sq_grad(x, y, w)
    xt = torch.tensor(x, requires_grad=True)
    ref = distance_correlation(xt, y, weights=w, method="naive", squared=True)
    ref.backward()
    assert value == pytest.approx(ref.item(), rel=1e-10)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-8, atol=1e-14)


def test_torch_dtype_device_and_mixed_inputs() -> None:
    x, y = _sample("linear", 200, seed=21)
    ref = distance_correlation(x, y)
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    value = distance_correlation(xt, y, squared=True)  # torch x, numpy y
    assert value.dtype == torch.float32
    assert value.ndim == 0
    assert value.item() == pytest.approx(ref**2, rel=1e-5)
    value.backward()
    assert xt.grad.dtype == torch.float32
    assert torch.isfinite(xt.grad).all()
    both = distance_correlation(torch.tensor(x)[:, None], torch.tensor(y))
    assert both.dtype == torch.float64
    assert both.item() == pytest.approx(ref, rel=1e-10)
    assert distance_correlation(torch.arange(10), torch.arange(10) ** 2).dtype == torch.float32


def test_import_is_light_and_penalties_lazy() -> None:
    code = (
        "import sys, decorr_af.decorrelation as d, decorr_af.metrics;"
        "assert 'torch' not in sys.modules and 'numba' not in sys.modules, sys.modules.keys();"
        "assert 'DisCo' in dir(d)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    import decorr_af.decorrelation as dec

    with pytest.raises(AttributeError, match="no attribute 'NotAPenalty'"):
        dec.NotAPenalty


# ----------------------------------------------------------- torch fast entry point
def test_fast_torch_path_matches_generic_path() -> None:
    """1-D tensors take ``_fast_torch_1d``; (N, 1) tensors the generic ``_prepare`` path."""
    x, y = _sample("ties", 257, seed=8080)
    w = np.random.default_rng(17).uniform(0.1, 2.0, size=257)
    for squared in (False, True):
        res = []
        for shape in ((-1,), (-1, 1)):
            xt = torch.tensor(x, dtype=torch.float32).reshape(shape).requires_grad_(True)
            yt = torch.tensor(y).reshape(shape).requires_grad_(True)
            wt = torch.tensor(w, dtype=torch.float32)
            value = distance_correlation(xt, yt, weights=wt, squared=squared)
            value.backward()
            assert value.dtype == torch.float64  # promoted from float32 and float64
            assert xt.grad.dtype == torch.float32
            assert yt.grad.dtype == torch.float64
            res.append((value.detach(), xt.grad.reshape(-1), yt.grad.reshape(-1)))
        for fast, generic in zip(*res):
            torch.testing.assert_close(fast, generic, rtol=1e-12, atol=1e-15)
        ref = distance_correlation(
            x.astype(np.float32), y, weights=w.astype(np.float32), squared=squared
        )
        assert res[0][0].item() == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("kind", ["dcov2", "dcor2", "dcor"])
def test_fast_both_gradients_with_ties_match_naive(kind: str) -> None:
    """Tie groups in x and y: the Fenwick re-query of tied x and the swapped-role y pass."""
    rng = np.random.default_rng(2718)
    x = rng.integers(0, 7, size=150) * 0.25
    y = np.round(x + rng.normal(size=150), 1)
    w = rng.gamma(1.5, size=150)
    grads = {}
    for method in ("fast", "naive"):
        xt = torch.tensor(x, requires_grad=True)
        yt = torch.tensor(y, requires_grad=True)
        if kind == "dcov2":
            value = distance_covariance_sq(xt, yt, weights=w, method=method)
        else:
            value = distance_correlation(xt, yt, weights=w, method=method, squared=kind == "dcor2")
        (2.5 * value).backward()
        grads[method] = (value.detach(), xt.grad, yt.grad)
    for fast, slow in zip(grads["fast"], grads["naive"]):
        torch.testing.assert_close(fast, slow, rtol=1e-8, atol=1e-12)


def test_fast_torch_no_grad_and_inputs_untouched() -> None:
    from decorr_af.decorrelation._fast import value_and_grads

    x, y = _sample("nonlinear", 64, seed=99)
    w = torch.tensor(np.random.default_rng(3).uniform(0.5, 1.5, size=64))
    w_before = w.clone()
    xt = torch.tensor(x, requires_grad=True)
    with torch.no_grad():
        value = distance_correlation(xt, torch.tensor(y), weights=w, squared=True)
    assert not value.requires_grad
    assert torch.equal(w, w_before)  # float64 CPU weights are used without a copy
    wn = w.numpy() * (64 / w.sum().item())
    ref, gx, gy = value_and_grads(x, y, wn, "dcor2")
    assert gx is None
    assert gy is None
    assert value.item() == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"x": [1.0], "y": [2.0], "weights": [1.0]}, ConfigError, "at least 2"),
        ({"x": [1.0, 2.0]}, ConfigError, "same length"),
        ({"x": [1.0, float("nan"), 3.0]}, NonFiniteValueError, "x contains 1"),
        ({"y": [float("inf"), -float("inf"), 3.0]}, NonFiniteValueError, "y contains 2"),
        ({"weights": [1.0, -1.0, -2.0]}, ConfigError, "sum must be positive"),
        ({"weights": [0.0, 0.0, 0.0]}, ConfigError, "weights sum to zero"),
        ({"weights": [1.0, 1.0]}, ConfigError, "weights has length 2"),
        ({"weights": [1.0, float("nan"), 1.0]}, NonFiniteValueError, "weights contains 1"),
        ({"method": "quadratic"}, ConfigError, "method='quadratic'"),
    ],
)
@pytest.mark.parametrize("weights_as", ["tensor", "numpy"])
def test_fast_torch_errors(kwargs: dict, error: type, match: str, weights_as: str) -> None:
    args = {"x": [1.0, 2.0, 3.0], "y": [3.0, 1.0, 2.0]} | kwargs
    x = torch.tensor(args.pop("x"), requires_grad=True)
    y = torch.tensor(args.pop("y"), dtype=torch.float32)
    if "weights" in args:
        wts = args.pop("weights")
        args["weights"] = torch.tensor(wts) if weights_as == "tensor" else np.array(wts)
    with pytest.raises(error, match=match):
        distance_correlation(x, y, **args)


def test_argsort_float32_keys() -> None:
    from decorr_af.decorrelation._fast import argsort

    rng = np.random.default_rng(1357)
    v = rng.normal(scale=1e3, size=3000).astype(np.float32).astype(np.float64)
    v[:40] = 0.0
    v[40:80] = -0.0
    v[80:120] = np.float32(-1e-40)  # subnormal
    v[120:400] = v[400:680]  # ties
    rng.shuffle(v)
    for arr in (v, v + 1e-9, v[:1], v[:0]):  # float32 keys, then the np.argsort fallback
        order = argsort(arr)
        assert order.dtype in (np.int32, np.int64)  # int32 from the float32 keys (less memory)
        np.testing.assert_array_equal(np.sort(order), np.arange(arr.shape[0]))
        np.testing.assert_array_equal(arr[order], np.sort(arr))


def test_checkpoint_helper_matches_direct_gradients():
    """decorrelation._checkpoint.recompute: same value and gradients, graph rebuilt on backward."""
    torch = pytest.importorskip("torch")
    from decorr_af.decorrelation._checkpoint import recompute

    def fn(a, b, c):
        return (a * b).sum() + (a - c).abs().sum(), (b * b).mean()

    gen = torch.Generator().manual_seed(0)
    a, b, c = (torch.randn(6, generator=gen, dtype=torch.float64) for _ in range(3))
    grads = []
    for wrap in (False, True):
        x, y = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
        out = recompute(fn, x, y, c) if wrap else fn(x, y, c)
        (out[0] + 2 * out[1]).backward()
        grads.append((x.grad, y.grad))
        if wrap:
            assert not c.requires_grad  # a constant input gets no gradient
    torch.testing.assert_close(grads[0], grads[1])

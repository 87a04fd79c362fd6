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
        ({"weights": [1.0, -1.0, 1.0]}, ConfigError, "weights must be non-negative"),
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

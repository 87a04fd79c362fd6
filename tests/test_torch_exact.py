"""Tests of the device-native exact distance correlation (``method="torch"``, issue #14).

On the CPU: values and gradients against the numba kernels (``method="fast"``) and
the literal O(N²) formula (``method="naive"``), weighted, with ties, constant
input, float32 input, and the ``method="auto"`` dispatch.
"""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.decorrelation import distance as distance_mod
from decorr_af.decorrelation import distance_correlation, distance_covariance_sq
from decorr_af.errors import ConfigError, NonFiniteValueError

torch = pytest.importorskip("torch")

from decorr_af.decorrelation import _torch_exact  # noqa: E402  (needs torch)

KINDS = ("dcor2", "dcor", "dcov2")


def _value(x, y, w, method: str, kind: str):
    if kind == "dcov2":
        return distance_covariance_sq(x, y, weights=w, method=method)
    return distance_correlation(x, y, weights=w, method=method, squared=kind == "dcor2")


def _sample(kind: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    w = rng.gamma(0.8, size=n) + 1e-3
    if kind == "ties":  # integers: large tie groups in both variables
        x = rng.integers(0, 6, size=n).astype(float)
        return x, rng.integers(0, 4, size=n) + 0.5 * x, w
    x = rng.exponential(size=n)
    return x, np.cos(3 * x) + 0.3 * rng.normal(size=n), w


def _value_and_grads(x, y, w, method: str, kind: str, dtype=torch.float64):
    xt = torch.tensor(x, dtype=dtype, requires_grad=True)
    yt = torch.tensor(y, dtype=dtype, requires_grad=True)
    value = _value(xt, yt, w, method, kind)
    (1.5 * value).backward()
    return value.detach(), xt.grad, yt.grad


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest deviation relative to the largest reference entry."""
    a, b = a.double().reshape(-1), b.double().reshape(-1)
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


@pytest.mark.parametrize("kernel", ["split", "batched", "batched_small"])
def test_dominance_sums_match_brute_force(kernel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if kernel == "batched_small":  # one level per batch
        monkeypatch.setattr(_torch_exact, "BATCH_ELEMENTS", 1)
    fn = getattr(_torch_exact, "dominance_sums_" + kernel.removesuffix("_small"))
    rng = np.random.default_rng(6)
    for n in (1, 2, 3, 5, 8, 13, 64, 100):
        y = rng.integers(0, 5, size=n)  # ties in y: broken by position in ``order``
        order = np.argsort(y, kind="stable")
        rank = np.empty(n, dtype=int)
        rank[order] = np.arange(n)
        vals = rng.normal(size=(n, 3))
        want = np.zeros((n, 3))
        for k in range(n):
            for j in range(k):
                if rank[j] > rank[k]:
                    want[k] += vals[j]
        got = fn(torch.tensor(order), torch.tensor(vals))
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("data", ["smooth", "ties"])
@pytest.mark.parametrize("kind", KINDS)
def test_values_and_gradients_match_naive(data: str, kind: str) -> None:
    """N ~ 500, weighted: value and both gradients against the O(N²) autograd."""
    x, y, w = _sample(data, 480, seed=480 + len(kind))
    got = _value_and_grads(x, y, w, "torch", kind)
    ref = _value_and_grads(x, y, w, "naive", kind)
    for a, b in zip(got, ref):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize(("data", "kernel"), [("smooth", "cpu"), ("ties", "cpu"), ("ties", "gpu")])
def test_agrees_with_numba_at_20000(
    data: str, kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kernel="gpu"``: the batched dominance kernel other devices use, here on the CPU."""
    if kernel == "gpu":
        monkeypatch.setattr(_torch_exact, "DOMINANCE_KERNELS", {})
        monkeypatch.setattr(_torch_exact, "BATCH_ELEMENTS", 20_000 * 4 * 5)  # 3 batches
    x, y, w = _sample(data, 20_000, seed=20_000)
    got = _value_and_grads(x, y, w, "torch", "dcor2")
    ref = _value_and_grads(x, y, w, "fast", "dcor2")
    assert abs(got[0].item() - ref[0].item()) <= 1e-6 * ref[0].item()
    assert _rel(got[1], ref[1]) < 1e-6
    assert _rel(got[2], ref[2]) < 1e-6


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("data", ["smooth", "ties"])
def test_gradcheck(kind: str, data: str) -> None:
    rng = np.random.default_rng(55)
    n = 13
    if data == "ties":  # gradcheck's finite differences break ties: keep them in y only
        x = rng.normal(size=n)
        y = rng.integers(0, 3, size=n).astype(float)
    else:
        x = rng.normal(size=n)
        y = rng.normal(size=n) + np.sin(3 * x)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.tensor(y, requires_grad=data != "ties")
    w = rng.uniform(0.5, 2.0, size=n)
    assert torch.autograd.gradcheck(lambda a, b: _value(a, b, w, "torch", kind), (xt, yt))


def test_constant_input_is_zero_with_zero_gradient() -> None:
    y = np.random.default_rng(3).normal(size=40)
    for kind in KINDS:
        value, gx, gy = _value_and_grads(np.full(40, 2.5), y, None, "torch", kind)
        assert value.item() == 0.0
        assert torch.isfinite(gx).all()
        assert torch.isfinite(gy).all()
        if kind == "dcov2":  # no ratio to pin: rounding noise of the exact zero
            assert gx.abs().max() < 1e-15
            assert gy.abs().max() < 1e-15
        else:
            assert torch.equal(gx, torch.zeros(40, dtype=torch.float64))
            assert torch.equal(gy, torch.zeros(40, dtype=torch.float64))
    assert distance_correlation(y, np.ones(40), method="torch") == 0.0


def test_float32_input() -> None:
    x, y, w = _sample("smooth", 3000, seed=32)
    x32 = x.astype(np.float32)
    got = _value_and_grads(x32, y, w, "torch", "dcor2", dtype=torch.float32)
    ref = _value_and_grads(x32, y, w, "fast", "dcor2", dtype=torch.float32)
    assert got[0].dtype == torch.float32
    assert got[1].dtype == torch.float32
    for a, b in zip(got, ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-9)


def test_numpy_and_mixed_inputs() -> None:
    x, y, w = _sample("ties", 300, seed=7)
    ref = distance_correlation(x, y, weights=w, method="fast")
    got = distance_correlation(x, y, weights=w, method="torch")
    assert isinstance(got, float)
    assert got == pytest.approx(ref, rel=1e-12)
    xt = torch.tensor(x, dtype=torch.float32)
    mixed = distance_correlation(xt, y, weights=torch.tensor(w), method="torch")
    assert mixed.dtype == torch.float32  # the numpy partner follows the tensor
    assert mixed.item() == pytest.approx(ref, rel=1e-6)
    col = distance_correlation(torch.tensor(x)[:, None], torch.tensor(y), method="torch")
    assert col.item() == pytest.approx(distance_correlation(x, y), rel=1e-12)
    cols = torch.tensor(np.stack([x, y], 1))  # columns are strided views (as in DisCo)
    strided = distance_correlation(cols[:, 0], cols[:, 1], weights=w, method="torch")
    assert strided.item() == pytest.approx(ref, rel=1e-12)
    ints = distance_correlation(torch.arange(10), torch.arange(10) ** 2, method="torch")
    assert ints.dtype == torch.get_default_dtype()


def test_no_grad_keeps_inputs() -> None:
    x, y, w = _sample("smooth", 100, seed=1)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w)
    w_before = wt.clone()
    with torch.no_grad():
        value = distance_correlation(xt, torch.tensor(y), weights=wt, method="torch")
    assert not value.requires_grad
    assert torch.equal(wt, w_before)
    assert value.item() == pytest.approx(distance_correlation(x, y, weights=w), rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"x": [1.0], "y": [2.0]}, ConfigError, "at least 2"),
        ({"x": [1.0, 2.0]}, ConfigError, "same length"),
        ({"x": [1.0, float("nan"), 3.0]}, NonFiniteValueError, "x contains 1"),
        ({"y": [float("inf"), -float("inf"), 3.0]}, NonFiniteValueError, "y contains 2"),
        ({"weights": [1.0, -1.0, -2.0]}, ConfigError, "non-negative; 2 are negative"),
        ({"weights": [0.0, 0.0, 0.0]}, ConfigError, "weights sum to zero"),
        ({"weights": [1.0, 1.0]}, ConfigError, "weights has length 2"),
        ({"weights": [1.0, float("nan"), 1.0]}, NonFiniteValueError, "weights contains 1"),
        ({"x": [[1.0, 2.0]] * 3}, ConfigError, "method='torch' needs 1-D"),
        ({"x": np.ones((3, 1, 1))}, ConfigError, "x must be 1-D"),
    ],
)
@pytest.mark.parametrize("as_tensor", [True, False])
def test_errors(kwargs: dict, error: type, match: str, as_tensor: bool) -> None:
    args = {"x": [1.0, 2.0, 3.0], "y": [3.0, 1.0, 2.0]} | kwargs
    x, y = np.asarray(args.pop("x")), np.asarray(args.pop("y"))
    if as_tensor:
        x, y = torch.tensor(x), torch.tensor(y)
    with pytest.raises(error, match=match):
        distance_correlation(x, y, method="torch", **args)


def test_auto_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    """``auto`` sends large 1-D CUDA tensors to ``torch``, everything else elsewhere."""
    calls = []
    monkeypatch.setattr(_torch_exact, "exact_dcor", lambda *a: calls.append(a) or 0.0)
    x = np.random.default_rng(0).normal(size=50)
    xt = torch.tensor(x)
    assert not distance_mod._auto_is_torch(xt, xt)  # CPU tensors: numba
    distance_correlation(xt, xt**2, method="auto")
    distance_correlation(x, x**2, method="auto")
    assert calls == []
    distance_correlation(x, x**2, method="torch")
    assert len(calls) == 1

    class FakeCuda:  # enough of a CUDA tensor for the dispatch
        ndim = 1
        shape = (distance_mod.CUDA_TORCH_MIN_N,)
        device = torch.device("cuda")  # a device object needs no GPU

    fake = FakeCuda()
    monkeypatch.setattr(distance_mod, "_is_torch", lambda v: isinstance(v, FakeCuda))
    distance_correlation(fake, fake, method="auto")
    assert len(calls) == 2
    monkeypatch.setattr(distance_mod, "CUDA_TORCH_MIN_N", fake.shape[0] + 1)
    assert not distance_mod._auto_is_torch(fake, fake)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_fast_and_stays_on_device() -> None:
    x, y, w = _sample("ties", 20_000, seed=14)
    ref = _value_and_grads(x, y, w, "fast", "dcor2", dtype=torch.float32)
    xt = torch.tensor(x, dtype=torch.float32, device="cuda", requires_grad=True)
    yt = torch.tensor(y, dtype=torch.float32, device="cuda", requires_grad=True)
    wt = torch.tensor(w, device="cuda")
    value = distance_correlation(xt, yt, weights=wt, method="torch", squared=True)
    value.backward()
    assert value.device.type == "cuda"
    assert xt.grad.device.type == "cuda"
    assert xt.grad.dtype == torch.float32
    for a, b in zip((value.detach(), xt.grad, yt.grad), ref):
        assert _rel(a.cpu(), b) < 1e-5

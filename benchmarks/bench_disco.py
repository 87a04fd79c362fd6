"""Benchmarks of the exact O(N log N) distance correlation.

Run ``python benchmarks/bench_disco.py [--quick]``.

(a) DisCo penalty forward + backward (dCor² of float32 torch tensors, gradient
    w.r.t. the classifier output) versus N for ``method="fast"`` and the O(N²)
    ``method="naive"`` torch path; ratio at N = 4096 (target ≥ 50×).
(b) weighted dCor at N = 10⁶ (numpy, ``method="fast"``) versus unweighted
    ``dcor.distance_correlation(..., method="mergesort")`` (target ratio ≤ 1.0).
(c) with CUDA only: GPU O(N²) versus CPU O(N log N) round-trip, the measurement
    behind ``decorr_af.decorrelation.CUDA_NAIVE_MAX_N``.
(d) exact device-native ``method="torch"`` versus the numba ``method="fast"``
    (DisCo forward + backward): on the GPU when CUDA is present (target < 5 ms at
    N = 65,536; the measurement behind ``distance.CUDA_TORCH_MIN_N``), else on the CPU.
(e) independence test: 1,000 permutations at N = 10⁵ (target < 10 s on 2 cores),
    unweighted and weighted, and the asymptotic test at the same N.
(f) joint 2-D protected DisCo (``JointDisCo``: dCor² of the output with the pair
    (isolation, μ), the chunked O(N²) path) at N = 4096: torch forward + backward
    and the numpy boosting terms, next to the sum of the two 1-D fast terms.

Numba compile time is excluded (every path is warmed up first); each timing is
the minimum over repeats.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from decorr_af.decorrelation import distance_correlation, independence_test


def _best(fn: Callable[[], object], repeats: int, sync: bool = False) -> float:
    best = float("inf")
    for _ in range(repeats):
        if sync:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def _disco_step(score: torch.Tensor, mass: torch.Tensor, w: torch.Tensor, method: str) -> None:
    s = score.detach().requires_grad_(True)
    loss = distance_correlation(s, mass, weights=w, method=method, squared=True)
    loss.backward()


def _inputs(n: int, device: str = "cpu") -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(n)
    mass = torch.rand(n, generator=gen) * 100 + 50
    score = torch.sigmoid(torch.randn(n, generator=gen) + 0.01 * mass)
    w = torch.rand(n, generator=gen) + 0.5
    return score.to(device), mass.to(device), w.to(device)


def bench_disco(quick: bool) -> None:
    print("(a) DisCo forward+backward, float32 torch on CPU, weighted")
    print(f"{'N':>8} {'fast [ms]':>11} {'naive [ms]':>11} {'ratio':>8}")
    _disco_step(*_inputs(64), "fast")  # warm-up: numba compile / cache load
    naive_max = 4096
    sizes = [1024, 4096, 16384, 65536] if quick else [1024, 2048, 4096, 8192, 16384, 65536]
    ratio_4096 = None
    for n in sizes:
        args = _inputs(n)
        t_fast = _best(lambda a=args: _disco_step(*a, "fast"), 3 if quick else 7)
        t_naive = None
        if n <= naive_max:
            t_naive = _best(lambda a=args: _disco_step(*a, "naive"), 1 if quick else 2)
        naive_s = f"{1e3 * t_naive:11.1f}" if t_naive else f"{'-':>11}"
        ratio_s = f"{t_naive / t_fast:7.0f}x" if t_naive else f"{'-':>8}"
        if n == 4096 and t_naive:
            ratio_4096 = t_naive / t_fast
        print(f"{n:>8} {1e3 * t_fast:11.2f} {naive_s} {ratio_s}")
    if ratio_4096 is not None:
        verdict = "meets" if ratio_4096 >= 50 else "MISSES"
        print(f"    naive/fast at N=4096: {ratio_4096:.0f}x ({verdict} the >= 50x target)")


def bench_large(quick: bool) -> None:
    try:
        import dcor
    except ImportError:
        print("\n(b) skipped: dcor is not installed (pip install dcor)")
        return
    n = 200_000 if quick else 1_000_000
    print(f"\n(b) N = {n:,}: weighted dCor (fast) vs dcor mergesort (unweighted)")
    rng = np.random.default_rng(20240611)
    x = rng.normal(size=n)
    y = np.abs(x) + rng.exponential(size=n)
    w = rng.uniform(0.2, 2.0, size=n)
    distance_correlation(x[:100], y[:100], weights=w[:100])
    dcor.distance_correlation(x[:100], y[:100], method="mergesort")
    ours = theirs = float("inf")
    for _ in range(2 if quick else 3):  # interleaved: the machine's load affects both alike
        ours = min(ours, _best(lambda: distance_correlation(x, y, weights=w), 1))
        theirs = min(theirs, _best(lambda: dcor.distance_correlation(x, y, method="mergesort"), 1))
    check = abs(
        distance_correlation(x[:50_000], y[:50_000])
        - dcor.distance_correlation(x[:50_000], y[:50_000], method="mergesort")
    )
    print(f"{'decorr_af fast (weighted)':>30} {ours:8.3f} s")
    print(f"{'dcor mergesort (unweighted)':>30} {theirs:8.3f} s")
    verdict = "meets" if ours / theirs <= 1.0 else "MISSES"
    print(f"    ratio ours/dcor = {ours / theirs:.2f} ({verdict} the <= 1.0 target)")
    print(f"    |difference| to dcor, unweighted N=50,000: {check:.1e}")


def bench_cuda(quick: bool) -> None:
    if not torch.cuda.is_available():
        print("\n(c) CUDA crossover: skipped (no CUDA device)")
        return
    print(f"\n(c) CUDA ({torch.cuda.get_device_name()}): DisCo step, GPU O(N^2) vs CPU fast")
    print(f"{'N':>8} {'gpu naive [ms]':>15} {'fast+copy [ms]':>15}")
    _disco_step(*_inputs(64, "cuda"), "naive")
    _disco_step(*_inputs(64, "cuda"), "fast")
    sizes = [256, 4096, 16384] if quick else [128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536]
    for n in sizes:
        args = _inputs(n, "cuda")
        t_naive = _best(lambda a=args: _disco_step(*a, "naive"), 5, sync=True)
        t_fast = _best(lambda a=args: _disco_step(*a, "fast"), 5, sync=True)
        print(f"{n:>8} {1e3 * t_naive:15.2f} {1e3 * t_fast:15.2f}")


def bench_torch_exact(quick: bool) -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    sync = device == "cuda"
    where = torch.cuda.get_device_name() if sync else "CPU"
    print(f"\n(d) exact method='torch' on {where} vs numba 'fast', DisCo forward+backward")
    print(f"{'N':>8} {'torch [ms]':>11} {'fast [ms]':>11} {'ratio':>8}")
    for method in ("torch", "fast"):
        _disco_step(*_inputs(64, device), method)  # warm-up: compile, cache, CUDA context
    if sync:
        sizes = [4096, 16384, 65536] if quick else [1024, 2048, 4096, 8192, 16384, 65536, 262144]
    else:
        sizes = [4096, 65536]
    t_big = None
    for n in sizes:
        args = _inputs(n, device)
        t_torch = _best(lambda a=args: _disco_step(*a, "torch"), 3 if quick else 7, sync)
        t_fast = _best(lambda a=args: _disco_step(*a, "fast"), 3 if quick else 7, sync)
        if n == 65536:
            t_big = t_torch
        print(f"{n:>8} {1e3 * t_torch:11.2f} {1e3 * t_fast:11.2f} {t_fast / t_torch:7.2f}x")
    if sync and t_big is not None:
        verdict = "meets" if t_big < 5e-3 else "MISSES"
        print(f"    torch at N=65536: {1e3 * t_big:.2f} ms ({verdict} the < 5 ms target)")


def bench_permutation(quick: bool) -> None:
    import numba

    n, n_perm = 100_000, (200 if quick else 1000)
    print(
        f"\n(e) independence test, N = {n:,}: {n_perm} permutations"
        f" ({numba.get_num_threads()} numba thread(s))"
    )
    rng = np.random.default_rng(20240612)
    x = rng.normal(size=n)
    y = 0.01 * x**2 + rng.normal(size=n)
    w = rng.uniform(0.2, 2.0, size=n)
    independence_test(x[:100], y[:100], n_permutations=2)  # warm-up: numba cache load
    independence_test(x[:100], y[:100], weights=w[:100], n_permutations=2)
    print(f"{'':>30} {'wall':>8}   {'cpu':>8}")
    for label, weights in (("unweighted", None), ("weighted", w)):
        t0, c0 = time.perf_counter(), time.process_time()
        r = independence_test(x, y, weights=weights, method="permutation", n_permutations=n_perm)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        print(f"{'permutation, ' + label:>30} {dt:8.2f} s {dc:8.2f} s   {r}")
    t0, c0 = time.perf_counter(), time.process_time()
    r = independence_test(x, y, method="asymptotic")
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    print(f"{'asymptotic':>30} {dt:8.2f} s {dc:8.2f} s   {r}")
    if not quick:
        print("    target: 1,000 permutations at N = 10^5 in < 10 s (wall) on 2 cores;")
        print("    cpu = process CPU time over all threads (wall x cores on an idle machine)")


def bench_joint(quick: bool) -> None:
    from decorr_af.decorrelation.penalties import DisCo, JointDisCo, PenaltyBatch

    n = 4096
    gen = torch.Generator().manual_seed(n)
    iso = torch.rand(n, generator=gen) * 10
    mu = torch.rand(n, generator=gen) * 60 + 20
    score = torch.sigmoid(torch.randn(n, generator=gen) + 0.1 * iso + 0.01 * mu)
    w = torch.rand(n, generator=gen) + 0.5
    z = torch.stack([iso, mu], 1)
    batch = PenaltyBatch(weight=w, protected=z)
    repeats = 2 if quick else 5
    print(f"\n(f) joint 2-D protected DisCo (isolation, mu), N = {n}, float32 torch on CPU")
    for name, pen in (("JointDisCo (chunked O(N^2))", JointDisCo(on="all")),
                      ("DisCo, sum of 1-D terms (fast)", DisCo(on="all"))):  # fmt: skip
        pen.setup(task="regression")

        def step(p: object = pen) -> None:
            s = score.detach().requires_grad_(True)
            p.loss(s, batch).backward()  # type: ignore[attr-defined]

        step()
        t_torch = _best(step, repeats)
        s64, w64, z64 = score.double().numpy(), w.double().numpy(), z.double().numpy()
        pen.boost_terms(s64, weight=w64, protected=z64)
        t_boost = _best(
            lambda p=pen, a=(s64, w64, z64): p.boost_terms(a[0], weight=a[1], protected=a[2]),
            repeats,
        )
        print(
            f"{name:>32}: torch fwd+bwd {1e3 * t_torch:8.1f} ms, boost terms {1e3 * t_boost:8.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    parser.add_argument(
        "--only",
        choices=["disco", "large", "cuda", "torch", "perm", "joint"],
        default=None,
        help="run one part",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op thread(s)")
    torch.manual_seed(0)
    parts = {
        "disco": bench_disco,
        "large": bench_large,
        "cuda": bench_cuda,
        "torch": bench_torch_exact,
        "perm": bench_permutation,
        "joint": bench_joint,
    }
    for name, fn in parts.items():
        if args.only in (None, name):
            fn(args.quick)


if __name__ == "__main__":
    main()

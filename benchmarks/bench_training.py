"""Cost of the DisCo penalty in training.

1. One epoch of ``DecorrelatedClassifier`` (MLP 64x64, batch 4096) on ~200k
   synthetic events with and without ``DisCo`` (target: ratio <= 1.3).
2. ``DisCoXGBClassifier`` time per 100 trees with and without ``DisCo``.

Usage: ``python benchmarks/bench_training.py [--events 200000] [--device auto]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def toy(n: int, seed: int = 12345) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    m = rng.exponential(1.0, n)
    x0 = np.where(y == 1, rng.normal(1.5, 0.7, n), m + rng.normal(0, 0.3, n))
    X = np.c_[x0, rng.normal(y, 1.0, n), rng.normal(size=(n, 6))]
    return X, y, m


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    from decorr_af.decorrelation import DisCo
    from decorr_af.models import DecorrelatedClassifier, DisCoXGBClassifier

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--trees", type=int, default=100)
    args = parser.parse_args()
    X, y, m = toy(args.events)

    def epoch(penalty):
        clf = DecorrelatedClassifier(
            hidden=(64, 64), epochs=1, batch_size=4096, device=args.device, random_state=0,
            penalty=penalty, penalty_warmup=0.0,  # every step at full λ: the steady-state cost
        )  # fmt: skip
        return lambda: clf.fit(X, y, protected=m)

    epoch(DisCo(strength=10.0))()  # warm-up: numba compilation, allocator
    t_plain = best_of(epoch(None), args.repeat)
    t_disco = best_of(epoch(DisCo(strength=10.0)), args.repeat)
    print(f"MLP epoch ({args.events} events, batch 4096, device={args.device}):")
    print(f"  plain {t_plain:.3f} s   DisCo {t_disco:.3f} s   ratio {t_disco / t_plain:.2f}")

    try:
        import xgboost  # noqa: F401
    except ImportError:
        print("xgboost per 100 trees: skipped (xgboost not installed)")
        return

    def boost(penalty):
        est = DisCoXGBClassifier(
            n_estimators=args.trees, max_depth=6, device=args.device, penalty=penalty
        )
        return lambda: est.fit(X, y, protected=m)

    boost(DisCo(strength=10.0))()
    x_plain = best_of(boost(None), 1) * 100 / args.trees
    x_disco = best_of(boost(DisCo(strength=10.0)), 1) * 100 / args.trees
    print(f"xgboost per 100 trees ({args.events} events, depth 6):")
    print(f"  plain {x_plain:.2f} s   DisCo {x_disco:.2f} s   ratio {x_disco / x_plain:.2f}")


if __name__ == "__main__":
    main()

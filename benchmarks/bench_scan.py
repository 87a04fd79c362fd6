"""Speed-up of an 8-point λ scan on 1 versus 2 single-threaded Dask workers.

Uses the real photon-ID workflow on a generated sample (or, with ``--toy``, a
CPU-bound torch training loop representative of one point). Each worker runs
one warm-up point first (imports, numba compilation), so the timing covers the
scan itself. Target: speed-up >= 1.7 on 2 cores.

    python benchmarks/bench_scan.py [--toy] [--events 30000]
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

from decorr_af.workflows.base import RunResult, WorkflowConfig


@dataclasses.dataclass(frozen=True)
class ToyConfig(WorkflowConfig):
    """A small MLP trained for a fixed number of steps (one scan point)."""

    workflow = "bench_toy"
    steps: int = 600
    n: int = 4096


def toy_run(config: ToyConfig, *, strength=None, seed=0, out=None) -> RunResult:
    import torch

    torch.manual_seed(seed)
    x = torch.randn(config.n, 16)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).float()
    net = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(config.steps):
        opt.zero_grad()
        out_ = net(x).squeeze(1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(out_, y)
        loss = loss + (strength or 0.0) * out_.var() * 1e-3
        loss.backward()
        opt.step()
    return RunResult(
        "bench_toy", config.to_dict(), seed, strength, metrics={"toy.loss": float(loss)}
    )


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def main() -> None:
    import types

    import distributed

    from decorr_af.scan import scan

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--toy", action="store_true", help="toy torch workload instead of photon_id"
    )
    parser.add_argument("--events", type=int, default=30_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-scan-"))
    if args.toy:
        wf = types.ModuleType("bench_toy")
        wf.Config, wf.run = ToyConfig, toy_run
        import sys

        import cloudpickle

        sys.modules["bench_toy"] = wf
        cloudpickle.register_pickle_by_value(wf)
        config = ToyConfig()
    else:
        from decorr_af.data import generate
        from decorr_af.workflows import photon_id as wf

        generate(tmp / "mc", sample="photons", kind="mc", events=args.events, seed=4242)
        config = wf.Config(
            mc_files=(str(tmp / "mc" / "*.root"),),
            models=("plain_mlp", "disco_mlp"),
            epochs=5,
            hidden=(64, 64),
            device="cpu",
        )
    strengths = [0.0, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0]
    times = {}
    for n in (1, 2):
        with distributed.LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
            host="127.0.0.1",
        ) as cl, distributed.Client(cl) as client:  # fmt: skip
            client.run(_one_thread)
            scan(wf, config, strengths=[1234.0], seeds=list(range(n)), client=client,
                 out=tmp / f"warm{n}", progress=False)  # fmt: skip
            t0 = time.perf_counter()
            scan(wf, config, strengths=strengths, client=client, out=tmp / f"scan{n}",
                 progress=False)  # fmt: skip
            times[n] = time.perf_counter() - t0
        print(f"{n} worker(s): {times[n]:.1f} s for {len(strengths)} points")
    print(f"speed-up 2 vs 1 workers: {times[1] / times[2]:.2f}x (target >= 1.7x)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

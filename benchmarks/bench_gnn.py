"""Training epoch time of the cell set / graph models (issue #15).

Synthetic photons with ``--cells-min..--cells-max`` cells each (default 60-140,
about the ~100 kept cells per photon of ``decorr-af generate --cells``; columns layer,
deta, dphi, e, t; a shower-width classification toy with a protected variable).
For each architecture (Deep Sets, EdgeConv) and penalty (none, DisCo) it times

* ``setup``: standardising the cells, moving them to the device and, for EdgeConv,
  the kNN graph within each photon (once per fit / predict call);
* ``epoch``: one training epoch (``fit(epochs=1)`` minus ``setup``);
* ``predict``: scoring all photons.

Measured (2 shared CPU cores, load average ~9 from other jobs, batch 512, defaults
hidden (32, 32), head (64,), k = 8, ~100 cells/photon):

=========================  ==============  =========  ==============
model (10k photons)        epoch           photons/s  setup (kNN)
=========================  ==============  =========  ==============
Deep Sets                  8.0 s           1250       0.4 s
Deep Sets + DisCo          28.6 s          350        0.2 s
EdgeConv                   66.9 s          149        17.5 s
EdgeConv + DisCo           95.3 s          105        21.0 s
=========================  ==============  =========  ==============

On 100k photons (10M cells) one Deep Sets epoch took 163 s wall (612 photons/s, setup
5.4 s) in that session; EdgeConv scales linearly (~11 min per epoch, ~3 min kNN
setup). DisCo's extra cost is mostly the ``min_penalty_rows`` top-up (extra photons
forwarded so that the penalty sees 1024 background rows per step).

Profile and speed-up (issue #15, next session; torch profiler, 10k photons, one
thread): the per-photon ``segment_reduce`` sums / means / maxima and their backward
were half of the CPU time, the matrix products a fifth; there was no per-photon
Python loop, cells were float32 and standardised once per fit. ``mean`` now reuses
the ``sum`` reduction (one reduction fewer per step). **Process CPU time** of one fit
(setup + one epoch), Deep Sets defaults, batch 512:

=======================================  ===========  ===========
photons, threads                         before       after
=======================================  ===========  ===========
20k, 1 thread                            2.04 s       1.87 s
100k, 2 threads (load ~10)               34.3 s       —
100k, 1 thread (load ~14)                —            12.2 s
100k DisCo, 2 threads (load ~10)         80.8 s       —
physics design (64, 64) / (64, 64),
batch 256, 20k, 1 thread                 —            6.1 s
=======================================  ===========  ===========

So a Deep Sets epoch costs ~0.1 ms of CPU per photon on one thread; the wall times
above (and the 163 s) are set by the load of the shared machine (the 100k run of
12.2 s CPU took 192 s wall at load 14), and two torch threads on a loaded machine
cost ~2.8× the CPU of one: use ``torch.set_num_threads(1)`` on shared cores.

Usage (2 CPU cores; ``--device auto`` takes a GPU when present)::

    python benchmarks/bench_gnn.py [--photons 100000] [--cells-min 60 --cells-max 140]
        [--threads 2] [--batch-size 512] [--arch deepsets,edgeconv]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def toy(n: int, lo: int, hi: int, seed: int = 1) -> tuple:
    from decorr_af.columnar.cells import CellSet

    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    m = rng.uniform(0, 1, n)
    width = np.where(y == 1, 0.01 + 0.005 * rng.random(n), 0.015 + 0.03 * m)
    counts = rng.integers(lo, hi + 1, size=n)
    seg = np.repeat(np.arange(n), counts)
    nc = len(seg)
    deta = (rng.standard_normal(nc, dtype=np.float32) * width[seg]).astype(np.float32)
    dphi = (rng.standard_normal(nc, dtype=np.float32) * width[seg]).astype(np.float32)
    e = rng.exponential(1.0, nc).astype(np.float32)
    feats = np.column_stack(
        [
            rng.integers(0, 4, nc).astype(np.float32),
            deta,
            dphi,
            e,
            rng.standard_normal(nc, dtype=np.float32),
        ]
    )
    offsets = np.r_[0, np.cumsum(counts)]
    glob = np.column_stack(
        [rng.uniform(-2.4, 2.4, n), np.add.reduceat(e, offsets[:-1]), rng.random(n) < 0.3]
    )
    names = ("layer", "deta", "dphi", "e", "t")
    return CellSet(offsets, feats, names, glob, ("eta", "e_raw", "converted")), y, m


def main() -> None:
    import torch

    from decorr_af.decorrelation.penalties import DisCo
    from decorr_af.models.cell_features import PHYSICS_DESIGN
    from decorr_af.models.device import resolve_device
    from decorr_af.models.graph import GraphClassifier

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photons", type=int, default=100_000)
    parser.add_argument("--cells-min", type=int, default=60)
    parser.add_argument("--cells-max", type=int, default=140)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--arch", default="deepsets,edgeconv")
    parser.add_argument("--penalties", default="none,disco")
    parser.add_argument(
        "--design", default="default", choices=("default", "physics"),
        help="estimator defaults, or the physics design of the cells_gnn presets",
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # one epoch at the full λ from the first step is no trained model: only the cost counts
    warnings.filterwarnings("ignore", message="the penalised classifier")
    device = resolve_device(args.device)
    cs, y, m = toy(args.photons, args.cells_min, args.cells_max)
    n_cells = len(cs.features)
    print(
        f"{args.photons} photons, {n_cells} cells ({n_cells / args.photons:.0f}/photon), "
        f"batch {args.batch_size} photons, device {device}, {args.threads} threads"
    )

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for arch in args.arch.split(","):
        for pen_name in args.penalties.split(","):
            penalty = DisCo(strength=10.0) if pen_name == "disco" else None
            design = {} if args.design == "default" else {**PHYSICS_DESIGN, "architecture": arch}
            clf = GraphClassifier(**{
                "architecture": arch, "epochs": 1, "batch_size": args.batch_size,
                "device": device, "random_state": 0, "penalty": penalty,
                "penalty_warmup": 0.0, **design,
            })  # fmt: skip
            t0 = time.perf_counter()
            clf.fit(cs[:256], y[:256], protected=m[:256])  # warm-up (allocator, kernels)
            clf.transform_ = clf.transform_.fit(
                cs, log_features=clf.log_features, columns=clf.cell_features
            )
            t0 = time.perf_counter()
            store = clf._store(cs, device)
            sync()
            t_setup = time.perf_counter() - t0
            del store
            t0, c0 = time.perf_counter(), time.process_time()
            clf.fit(cs, y, protected=m)
            sync()
            t_fit = time.perf_counter() - t0
            c_fit = time.process_time() - c0
            t0 = time.perf_counter()
            clf.predict_proba(cs)
            t_pred = time.perf_counter() - t0
            print(
                f"  {arch:9s} {pen_name:6s} setup {t_setup:7.2f} s   epoch {t_fit - t_setup:8.2f} s"
                f"   predict {t_pred - t_setup:7.2f} s (+ setup)   "
                f"{args.photons / max(t_fit - t_setup, 1e-9):8.0f} photons/s   "
                f"fit CPU {c_fit:7.2f} s"
            )


if __name__ == "__main__":
    main()

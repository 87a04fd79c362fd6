"""Read throughput: decorr_af's photon_table vs plain uproot.iterate into numpy.

Generates (or reuses) toy photon files, then reads the same branches

* with ``uproot.iterate`` into numpy (flattened photon columns + per-photon
  event columns: the minimum any flat table needs), and
* with ``decorr_af.data.photon_table`` (eager; Dask threaded scheduler;
  optionally a LocalCluster),

and prints photons/s (best of 3 after a warm-up run) and the ratio package / raw
(target >= 0.8).

Usage: ``python benchmarks/bench_read.py [--events 1000000] [--files 4] [--cluster]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def raw_uproot(files: list[Path], branches: list[str], step: int) -> int:
    import awkward as ak
    import uproot

    n = 0
    spec = [f"{f}:CollectionTree" for f in files]
    for chunk in uproot.iterate(spec, branches, step_size=step, library="ak"):
        counts = ak.to_numpy(ak.num(chunk["AnalysisPhotonsAuxDyn.pt"], axis=1))
        cols = {}
        for b in branches:
            if b.startswith("AnalysisPhotons"):
                cols[b] = ak.to_numpy(ak.flatten(chunk[b]))
            elif b.endswith("mcEventWeights"):
                cols[b] = np.repeat(ak.to_numpy(ak.firsts(chunk[b])), counts)
            else:
                cols[b] = np.repeat(ak.to_numpy(chunk[b]), counts)
        n += len(cols["AnalysisPhotonsAuxDyn.pt"])
    return n


def timed(label: str, fn, n_ref: int | None = None, repeat: int = 3) -> tuple[float, int]:
    """Best of ``repeat`` runs after one warm-up run (imports, page cache, allocator)."""
    n = fn()
    dt = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn()
        dt = min(dt, time.perf_counter() - t0)
    print(f"{label:<34s} {n:>10,d} photons  {dt:7.2f} s  {n / dt:12,.0f} photons/s")
    if n_ref is not None and n != n_ref:
        raise SystemExit(f"{label}: {n} photons, expected {n_ref}")
    return n / dt, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--out", default="/tmp/decorr_af_bench_read")
    parser.add_argument("--chunk-size", type=int, default=250_000)
    parser.add_argument("--cluster", action="store_true", help="also time a LocalCluster")
    args = parser.parse_args()

    from decorr_af.data import generate
    from decorr_af.data.table import photon_table

    out = Path(args.out) / f"e{args.events}_f{args.files}"
    files = sorted(out.glob("*.root"))
    if len(files) != args.files:
        t0 = time.perf_counter()
        files = generate(
            out, sample="photons", kind="mc", events=args.events, files=args.files, seed=1
        )
        print(f"generated {len(files)} files in {time.perf_counter() - t0:.1f} s")
    # the branches the package reads for the default table
    from decorr_af.data.tableplan import file_fields, plan_fields, table_spec, with_branches
    from decorr_af.data.validate import validate_files

    infos = validate_files(files)
    plan = with_branches(
        plan_fields(
            infos,
            [file_fields(i) for i in infos],
            features=None,
            drop_truth=False,
            spec=table_spec("photon"),
        ),
        infos[0],
    )
    branches = list(dict.fromkeys(plan.branches.values()))
    print(f"{len(branches)} branches, {sum(i.num_entries for i in infos):,} events")

    raw, n = timed("uproot.iterate -> numpy", lambda: raw_uproot(files, branches, args.chunk_size))
    results = {}
    results["eager"], _ = timed(
        "photon_table(mode='eager')",
        lambda: len(photon_table(files, mode="eager", chunk_size=args.chunk_size)),
        n,
    )
    import dask

    with dask.config.set(scheduler="threads"):
        results["dask threads"], _ = timed(
            "photon_table(mode='dask', threads)",
            lambda: len(photon_table(files, mode="dask", chunk_size=args.chunk_size)),
            n,
        )
    if args.cluster:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cl,
            Client(cl) as client,
        ):
            results["dask LocalCluster"], _ = timed(
                "photon_table(mode='dask', cluster)",
                lambda: len(
                    photon_table(files, mode="dask", client=client, chunk_size=args.chunk_size)
                ),
                n,
            )
    print()
    for name, rate in results.items():
        print(f"ratio {name:<18s} / raw uproot: {rate / raw:5.2f}  (target >= 0.8)")


if __name__ == "__main__":
    main()

"""Read throughput: decorr_af's photon_table vs plain uproot.iterate into numpy.

Generates (or reuses) toy photon files, then reads the same branches

* with ``uproot.iterate`` into numpy (flattened photon columns + per-photon
  event columns: the minimum any flat table needs), and
* with ``decorr_af.data.photon_table`` (eager; Dask threaded scheduler;
  optionally a LocalCluster),

and prints photons/s (best of 3 after a warm-up run) and the ratio package / raw
(target >= 0.8).

With ``--xrootd`` it also starts an XRootD server on 127.0.0.1 (Debian
``xrootd-server``; run as ``nobody`` when we are root) exporting the sample and
times the same eager read through ``root://`` URLs against the local read, in
the same run.

Usage: ``python benchmarks/bench_read.py [--events 1000000] [--files 4] [--cluster] [--xrootd]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
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


@contextlib.contextmanager
def xrootd_server(export: Path) -> Iterator[int]:
    """Serve ``export`` with xrootd on a free 127.0.0.1 port; yield the port."""
    binary = shutil.which("xrootd")
    if binary is None:
        raise SystemExit("--xrootd: no xrootd binary (apt-get install -y xrootd-server)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = Path(tempfile.mkdtemp(prefix="bench-xrootd-"))
    base.chmod(0o755)
    cfg = base / "xrootd.cfg"
    cfg.write_text(f"all.export {export}\nxrd.port {port}\nall.adminpath {base}\n")
    as_root = os.geteuid() == 0
    if as_root:  # xrootd refuses to run as root
        shutil.chown(base, "nobody")
        for path in [export, *export.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    user = {"user": "nobody", "group": "nogroup", "extra_groups": []} if as_root else {}
    log = (base / "xrootd.log").open("w")
    proc = subprocess.Popen([binary, "-c", str(cfg)], cwd=base, stdout=log, stderr=log, **user)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"xrootd did not start; see {base / 'xrootd.log'}")
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--out", default="/tmp/decorr_af_bench_read")
    parser.add_argument("--chunk-size", type=int, default=250_000)
    parser.add_argument("--cluster", action="store_true", help="also time a LocalCluster")
    parser.add_argument(
        "--xrootd", action="store_true", help="also time the read over XRootD (loopback)"
    )
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
    remote = None
    if args.xrootd:
        with xrootd_server(out.resolve()) as port:
            urls = [f"root://127.0.0.1:{port}/{f.resolve()}" for f in files]
            remote, _ = timed(
                "photon_table(eager, root://)",
                lambda: len(photon_table(urls, mode="eager", chunk_size=args.chunk_size)),
                n,
            )
    print()
    for name, rate in results.items():
        print(f"ratio {name:<18s} / raw uproot: {rate / raw:5.2f}  (target >= 0.8)")
    if remote is not None:
        print(f"ratio XRootD loopback / local (eager): {remote / results['eager']:5.2f}")


if __name__ == "__main__":
    main()

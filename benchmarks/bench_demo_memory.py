"""Peak memory (client + Dask workers) of the demo's data pipeline on 5M photons.

Stages, each on a 2-worker LocalCluster, with the resident memory of this
process and all its children sampled every 50 ms (psutil):

1. generate ~5M photons (MC) into N files, one Dask task per file;
2. read them through the package path and build the flat photon table chunk by
   chunk on the workers (``decorr_af.data.iter_table``), reducing each chunk;
3. the photon-ID workflow of the quick demo (``cutbased``, ``plain_mlp``,
   ``disco_mlp`` 32x32, 3 epochs, λ = 30) **streamed** from the files
   (``photon_id.run`` with ``Config(streaming=True)``,
   :mod:`decorr_af.workflows._pid_stream`), in a fresh process: its own peak and
   the peak with the client and the idle workers; ``--feature-table`` instead
   materialises the workflow's in-memory feature table in the client
   (``photon_table(mode="dask")``, the pre-streaming pipeline);
4. (``--stream``) train the photon-ID MLP with DisCo for one epoch **streamed** from
   the files (one file's flat table at a time,
   :meth:`~decorr_af.models.DecorrelatedClassifier.fit_stream`), without stage 3's
   table: what a streamed training adds to the pipeline's footprint.

Target (issue #14): peak < 1 GiB (1.98 GiB with the in-memory feature table).

Re-measured 2026-11-30 (2-core shared machine, 5M photons, 10 files): generate
0.69 GiB, chunked table on workers 1.14-1.59 GiB, feature table in the client
2.21-2.28 GiB (above target; the issue's 1.98 GiB earlier), streamed DisCo MLP
epoch (``--stream``) 1.09 GiB for its own process (one file's ~500k-photon table
plus a 262k-row shuffle buffer), 2.39 GiB with the client and idle workers.

    python benchmarks/bench_demo_memory.py [--photons 5000000] [--files 10] [--feature-table]

Streamed workflow, measured 2026-11-30 (``OMP_NUM_THREADS=1 nice -n 5``, load
8-17, 5M photons in 10 files, main after the streaming photon-ID merge): generate
0.69 GiB (76 s), chunked table on the workers 1.63 GiB (42 s); the streamed
photon-ID run (3.71M photons after the preselection, default ``chunk_rows=200_000``,
``buffer_rows=262_144``; 598 s; disco_mlp AUC 0.959, dCor 0.018) peaks at
**1.10 GiB in its own process (1.10x the 1 GiB target)**, 2.26 GiB with the client
and the two idle workers still holding stage 2's memory. With ``--chunk-rows
100000 --buffer-rows 131072``: 1.07 GiB (352 s; AUC 0.962, dCor 0.021), so the
chunk and the shuffle buffer are not what sets the peak (the bounded samples of
:mod:`~decorr_af.workflows._pid_stream` and ~0.4-0.6 GiB of imports are).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

GiB = 1024**3
#: the issue's target for the 5M-photon pipeline (the streamed workflow's process)
TARGET = 1 * GiB


class PeakRSS:
    """Sample the RSS of this process and its descendants in a thread."""

    def __init__(self, interval: float = 0.05, pid: int | None = None) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self.pid = pid
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        try:
            me = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _reduce_chunks(path: str) -> tuple[int, float]:
    from decorr_af.data import iter_table

    rows, sum_e = 0, 0.0
    for chunk in iter_table(path, chunk_size=100_000):
        rows += len(chunk)
        sum_e += float(chunk["e"].sum())
    return rows, sum_e


def _stream_train(files: list[str]) -> int:
    """One epoch of the DisCo MLP streamed file by file (stage 4)."""
    import numpy as np

    from decorr_af.data import photon_table
    from decorr_af.data.schema import SHOWER_SHAPES
    from decorr_af.decorrelation import DisCo
    from decorr_af.models import DecorrelatedClassifier
    from decorr_af.models.streaming import PartitionSource

    loaded = [0]

    def loader(path: str):
        def load() -> dict:
            df = photon_table(path, features=[*SHOWER_SHAPES, "topoetcone20"], mode="eager")
            loaded[0] += len(df)
            cols = {c: df[c].to_numpy() for c in [*SHOWER_SHAPES, "topoetcone20", "is_prompt"]}
            cols["abs_eta"] = np.abs(df["eta"].to_numpy())
            return cols

        return load

    features = [*SHOWER_SHAPES, "abs_eta"]
    src = PartitionSource([loader(f) for f in files], features, target="is_prompt", protected=["topoetcone20"])  # fmt: skip
    clf = DecorrelatedClassifier(hidden=(64, 64), epochs=1, batch_size=4096, device="cpu",
                                 random_state=0, penalty=DisCo(strength=10.0))  # fmt: skip
    clf.fit_stream(src, buffer_rows=262_144)
    return loaded[0] // 2  # read twice: the first pass (moments) and the epoch


def _workflow(pattern: str, chunk_rows: int, buffer_rows: int) -> str:
    """Stage 3: the quick demo's photon-ID run, streamed; its metrics summary (one line)."""
    from decorr_af.workflows import photon_id

    cfg = photon_id.Config(
        mc_files=(pattern,), models=("cutbased", "plain_mlp", "disco_mlp"), hidden=(32, 32),
        epochs=3, device="cpu", streaming=True, chunk_rows=chunk_rows, buffer_rows=buffer_rows,
    )  # fmt: skip
    res = photon_id.run(cfg, strength=30.0, seed=0)
    n = res.info["n_train"] + res.info["n_test"]
    m = res.metrics
    return f"{n} photons, disco_mlp AUC {m['disco_mlp.auc']:.3f} dCor {m['disco_mlp.dcor']:.3f}"


def _child(cmd: list[str]) -> tuple[str, int]:
    """Run ``cmd`` in a fresh process: its stdout and its own peak RSS (with its children)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    with PeakRSS(pid=proc.pid) as own:
        out, _ = proc.communicate()
    if proc.returncode:
        sys.exit(f"failed: {' '.join(cmd)}")
    return out.strip(), own.peak


def main() -> None:
    import distributed

    from decorr_af.data import generate, photon_table
    from decorr_af.data.schema import ISOLATION, SHOWER_SHAPES

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photons", type=int, default=5_000_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--stream", action="store_true", help="also stage 4 (streamed training)")
    parser.add_argument("--feature-table", action="store_true",
                        help="stage 3: the in-memory feature table instead of the streamed workflow")  # fmt: skip
    parser.add_argument("--stream-files", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--chunk-rows", type=int, default=200_000, help="stage 3: entries read at a time")  # fmt: skip
    parser.add_argument("--buffer-rows", type=int, default=262_144, help="stage 3: shuffle buffer")  # fmt: skip
    parser.add_argument("--workflow", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_files:  # stage 4's child process
        print(_stream_train(args.stream_files))
        return
    if args.workflow:  # stage 3's child process
        print(_workflow(args.workflow, args.chunk_rows, args.buffer_rows))
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-mem-"))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        host="127.0.0.1", memory_limit="1.5GiB",
    ) as cl, distributed.Client(cl) as client:  # fmt: skip
        # photons per event: measured on a small sample
        probe = generate(tmp / "probe", sample="photons", kind="mc", events=5000, seed=1)
        per_event = len(photon_table(probe, mode="eager")) / 5000
        events = int(args.photons / per_event / args.files)
        print(f"{per_event:.2f} photons/event -> {args.files} files x {events} events")
        peaks = {}
        with PeakRSS() as mon:
            t0 = time.perf_counter()
            futs = [
                client.submit(generate, str(tmp / f"mc{i:02d}"), sample="photons", kind="mc",
                              events=events, seed=100 + i, pure=False)
                for i in range(args.files)
            ]  # fmt: skip
            files = [str(p) for f in futs for p in f.result()]
            print(f"generate: {time.perf_counter() - t0:.0f} s, peak {mon.peak / GiB:.2f} GiB")
        peaks["generate"] = mon.peak
        with PeakRSS() as mon:
            t0 = time.perf_counter()
            parts = client.gather([client.submit(_reduce_chunks, f, pure=False) for f in files])
            rows = sum(r for r, _ in parts)
            print(f"chunked flat table on workers: {rows} photons, "
                  f"{time.perf_counter() - t0:.0f} s, peak {mon.peak / GiB:.2f} GiB")  # fmt: skip
        peaks["chunked table"] = mon.peak
        if args.feature_table:
            with PeakRSS() as mon:
                t0 = time.perf_counter()
                table = photon_table(files, features=[*SHOWER_SHAPES, *ISOLATION], mode="dask",
                                     client=client, chunk_size=200_000)  # fmt: skip
                size = table.memory_usage(deep=True).sum()
                print(f"feature table in client: {len(table)} rows, {size / GiB:.2f} GiB, "
                      f"{time.perf_counter() - t0:.0f} s, peak {mon.peak / GiB:.2f} GiB")  # fmt: skip
                del table
            peaks["feature table"] = mon.peak
        else:
            with PeakRSS() as mon:
                t0 = time.perf_counter()
                opts = ["--chunk-rows", str(args.chunk_rows), "--buffer-rows", str(args.buffer_rows)]  # fmt: skip
                out, own = _child([sys.executable, __file__, *opts, "--workflow", str(tmp / "mc*" / "*.root")])  # fmt: skip
                print(f"streamed photon-ID workflow (fresh process): {out}, "
                      f"{time.perf_counter() - t0:.0f} s, peak {own / GiB:.2f} GiB alone, "
                      f"{mon.peak / GiB:.2f} GiB with client + workers")  # fmt: skip
            peaks["streamed workflow"] = mon.peak
            workflow_peak = own
        if args.stream:
            # in a fresh process: its own peak, and the tree's (with the idle workers)
            with PeakRSS() as mon:
                t0 = time.perf_counter()
                cmd = [sys.executable, __file__, "--stream-files", *files]
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
                own = PeakRSS(pid=proc.pid)
                with own:
                    out, _ = proc.communicate()
                print(f"streamed MLP + DisCo, 1 epoch (fresh process): {out.strip()} photons, "
                      f"{time.perf_counter() - t0:.0f} s, peak {own.peak / GiB:.2f} GiB alone, "
                      f"{mon.peak / GiB:.2f} GiB with client + workers")  # fmt: skip
            peaks["streamed training"] = mon.peak
    worst = max(peaks.values())
    print(f"peak RSS (client + workers): {worst / GiB:.2f} GiB")
    if not args.feature_table:
        verdict = "OK" if workflow_peak < TARGET else "ABOVE TARGET"
        print(f"streamed workflow: {workflow_peak / GiB:.2f} GiB = {workflow_peak / TARGET:.2f}x "
              f"the {TARGET / GiB:.0f} GiB target ({verdict})")  # fmt: skip
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

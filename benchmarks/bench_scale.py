"""Training beyond memory: streaming MLP, external-memory and distributed DisCo-XGB.

For each size N (``--sizes``; the issue asks for 5M/20M/50M photons, a 2-core
shared machine manages ~0.5M/2M in reasonable time) photons are generated with
the package generator, flattened chunk by chunk and written as Parquet files with
row groups of ``--row-group`` rows (never the whole table in one process). Then,
each stage in a fresh subprocess whose resident memory (with its children) is
sampled every 50 ms:

1. ``mlp``: photon-ID ``DecorrelatedClassifier`` (64x64) with ``DisCo(λ=10)`` on
   ``topoetcone20`` for the background, 3 epochs, **streamed** from the files
   (:meth:`~decorr_af.models.DecorrelatedClassifier.fit_stream`): peak RSS and
   throughput (rows x epochs / s);
2. ``mlp-mem`` (``--in-memory``): the same fit in memory (all rows loaded), the ratio;
3. ``xgb-ext``: ``DisCoXGBClassifier`` with xgboost external memory
   (:func:`~decorr_af.models.xgb_scale.fit_external_memory`): peak RSS, time;
   ``xgb-mem`` (``--in-memory``): the same fit in memory;
4. ``dask`` (smallest size only): ``xgboost.dask`` DisCo on a LocalCluster of 1 and
   of 2 single-threaded workers, same data: speed-up, and AUC / background dCor²
   against the single-process fit (per-worker batch DisCo).

    python benchmarks/bench_scale.py --sizes 500000,2000000 [--in-memory] [--trees 50]

Measured on the 2-core shared machine (2026-11-30; peak RSS of the stage's process
tree, which includes ~0.6 GiB of imports; throughput with other jobs running):

=====  ==========  ==========  ==================  ==========  ==========
N      MLP stream  MLP memory  rows x epochs / s   XGB ext     XGB memory
=====  ==========  ==========  ==================  ==========  ==========
0.5M   0.77 GiB    0.78 GiB    57k / 52k           0.70 GiB    -
2M     0.80 GiB    1.29 GiB    119k / 125k         1.01 GiB    -
5M     0.79 GiB    2.38 GiB    190k / 199k         1.65 GiB    2.70 GiB
=====  ==========  ==========  ==================  ==========  ==========

(XGB: 30 trees at 0.5M/2M, 10 at 5M; same AUC and dCor² streamed or not.)
xgboost.dask on 0.5M, 30 trees (fit only; load 8-14): 1 process 20.2-20.8 s wall /
7.3-7.5 CPU s (2 runs); 1 worker 24.2-37.9 s / busiest worker 10.5-12.5 CPU s, 2
workers 20.3-37.4 s / 5.8-7.2 CPU s (3 runs each). Speed-up 2 vs 1 worker: 0.98-1.19
wall, 1.70-1.81 in the busiest worker's CPU time. The wall ratio cannot reach 1.6
here: Linux autogroups share the 2 cores fairly between the agents' sessions, so the
benchmark's process tree gets one share with 1 or 2 workers (the earlier 59.5 s vs
63.4 s, 0.94, was the same effect). AUC 0.9544 / dCor² 0.0157 (2 workers) vs
0.9541 / 0.0160 (1 process and 1 worker, identical).
20M/50M were not run here (time); the streamed MLP's peak does not grow with N.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

GiB = 1024**3
FEATURES = ["Reta", "Rphi", "weta2", "weta1", "wtots1", "fracs1", "DeltaE", "Eratio", "f1", "Rhad", "abs_eta"]  # fmt: skip
PROTECTED = "topoetcone20"
LABEL = "is_prompt"


def _peak_of(cmd: list[str], interval: float = 0.05) -> tuple[int, str]:
    """Run ``cmd``; return the peak RSS of it and its children, and its stdout."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    peak, stop = 0, threading.Event()

    def loop() -> None:
        nonlocal peak
        ps = psutil.Process(proc.pid)
        while not stop.is_set():
            total = 0
            with contextlib.suppress(psutil.Error):
                for p in [ps, *ps.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
            peak = max(peak, total)
            time.sleep(interval)

    th = threading.Thread(target=loop, daemon=True)
    th.start()
    out, _ = proc.communicate()
    stop.set()
    th.join()
    if proc.returncode:
        sys.exit(f"stage failed: {' '.join(cmd)}")
    return peak, out


# ---------------------------------------------------------------------- data
def make_files(folder: Path, photons: int, row_group: int, per_file: int = 250_000) -> list[Path]:
    """Generate ~``photons`` photons into flat Parquet files, one generator file at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from decorr_af.data import generate, iter_table

    folder.mkdir(parents=True, exist_ok=True)
    probe = generate(folder / "probe", sample="photons", kind="mc", events=4000, seed=1)
    per_event = sum(len(c) for c in iter_table([str(p) for p in probe])) / 4000
    shutil.rmtree(folder / "probe")
    out, done, k = [], 0, 0
    while done < photons:
        events = max(1, int(min(per_file, photons - done) / per_event))
        raw = generate(folder / f"raw{k}", sample="photons", kind="mc", events=events, seed=100 + k)
        path = folder / f"photons_{k:03d}.parquet"
        writer = None
        for chunk in iter_table([str(p) for p in raw], chunk_size=row_group):
            chunk = chunk.assign(abs_eta=np.abs(chunk["eta"].to_numpy()))
            cols = {c: chunk[c].to_numpy(dtype=np.float32) for c in [*FEATURES, PROTECTED]}
            cols[LABEL] = chunk[LABEL].to_numpy().astype(np.int8)
            table = pa.table(cols)
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=row_group)
            done += len(chunk)
        writer.close()
        shutil.rmtree(folder / f"raw{k}")
        out.append(path)
        k += 1
    return out


def _source(folder: str):
    from decorr_af.models.streaming import ParquetSource

    files = sorted(Path(folder).glob("photons_*.parquet"))
    return ParquetSource(files, FEATURES, target=LABEL, protected=[PROTECTED])


def _load_all(folder: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    src = _source(folder)
    chunks = [src.read(i) for i in range(src.n_chunks)]
    X = np.concatenate([c.X for c in chunks])
    return X, np.concatenate([c.y for c in chunks]), np.concatenate([c.protected for c in chunks])[:, 0]  # fmt: skip


def _score(model, folder: str, rows: int = 200_000) -> dict[str, float]:
    """AUC and background dCor² on the first ``rows`` rows (a figure, not a test)."""
    from decorr_af.decorrelation import distance_correlation

    src = _source(folder)
    c = src.read(0)
    X, y, z = c.X[:rows], c.y[:rows], c.protected[:rows, 0]
    p = model.predict_proba(X)[:, 1]
    bkg = y == 0
    return {"auc": model.score(X, y), "dcor2_bkg": float(distance_correlation(p[bkg], z[bkg], squared=True))}  # fmt: skip


# -------------------------------------------------------------------- stages
def _warm() -> None:
    """Compile the dCor kernels before any timing (numba, first call)."""
    from decorr_af.decorrelation.distance import distance_correlation_sq_grad

    x = np.random.default_rng(0).normal(size=(2, 500))
    distance_correlation_sq_grad(x[0], x[1])


def stage(name: str, folder: str, trees: int, workers: int) -> dict[str, float]:
    from decorr_af.decorrelation import DisCo
    from decorr_af.models import DecorrelatedClassifier, DisCoXGBClassifier

    _warm()

    mlp = {"hidden": (64, 64), "epochs": 3, "batch_size": 4096, "device": "cpu", "random_state": 0}  # fmt: skip
    t0 = time.perf_counter()
    if name == "mlp":
        src = _source(folder)
        model = DecorrelatedClassifier(**mlp, penalty=DisCo(strength=10.0))
        model.fit_stream(src, buffer_rows=262_144)
    elif name == "mlp-mem":
        X, y, z = _load_all(folder)
        model = DecorrelatedClassifier(**mlp, penalty=DisCo(strength=10.0)).fit(X, y, protected=z)
    elif name == "xgb-ext":
        from decorr_af.models.xgb_scale import fit_external_memory

        model = DisCoXGBClassifier(n_estimators=trees, max_depth=6, device="cpu", penalty=DisCo(strength=10.0), penalty_radius=0.3)  # fmt: skip
        fit_external_memory(model, _source(folder), cache_dir=folder)
    elif name == "xgb-mem":
        X, y, z = _load_all(folder)
        model = DisCoXGBClassifier(n_estimators=trees, max_depth=6, device="cpu", penalty=DisCo(strength=10.0), penalty_radius=0.3)  # fmt: skip
        model.fit(X, y, protected=z)
    elif name in ("dask", "xgb-single"):
        X, y, z = _load_all(folder)
        kw = {"n_estimators": trees, "max_depth": 6, "device": "cpu", "n_jobs": 1, "penalty": DisCo(strength=10.0), "penalty_radius": 0.3}  # fmt: skip
        if name == "xgb-single":
            c0, t0 = time.process_time(), time.perf_counter()
            model = DisCoXGBClassifier(**kw).fit(X, y, protected=z)
            seconds, busy = time.perf_counter() - t0, time.process_time() - c0
        else:
            import dask.array as da
            import distributed

            from decorr_af.models.xgb_scale import fit_dask

            chunk = -(-len(y) // (2 * workers))
            with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None, host="127.0.0.1") as cl, distributed.Client(cl) as client:  # fmt: skip
                Xd, yd, zd = da.from_array(X, chunks=(chunk, X.shape[1])), da.from_array(y, chunks=chunk), da.from_array(z, chunks=chunk)  # fmt: skip
                Xd, yd, zd = client.persist([Xd, yd, zd])
                client.run(_warm)
                c0 = client.run(time.process_time)  # CPU seconds of each worker process
                t0 = time.perf_counter()  # the fit only, not the cluster start
                model = fit_dask(DisCoXGBClassifier(**kw), client, Xd, yd, protected=zd)
                seconds = time.perf_counter() - t0
                busy = max(c - c0[a] for a, c in client.run(time.process_time).items())
        # busy: CPU seconds of the (busiest) training process, blind to other jobs
        return {"seconds": seconds, "busy": busy, **_score(model, folder)}
    else:
        sys.exit(f"unknown stage {name}")
    return {"seconds": time.perf_counter() - t0, **_score(model, folder)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="500000,2000000", help="photons per size, comma separated")  # fmt: skip
    parser.add_argument("--row-group", type=int, default=100_000)
    parser.add_argument("--trees", type=int, default=50)
    parser.add_argument("--in-memory", action="store_true", help="also the in-memory MLP fit")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:  # child process
        print(json.dumps(stage(args.stage, args.data, args.trees, args.workers)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    me = [sys.executable, __file__, "--trees", str(args.trees)]
    try:
        for n in sizes:
            folder = tmp / f"n{n}"
            t0 = time.perf_counter()
            files = make_files(folder, n, args.row_group)
            rows = sum(_source(str(folder)).read(i).X.shape[0] for i in range(_source(str(folder)).n_chunks))  # fmt: skip
            print(f"N = {rows} photons in {len(files)} files ({time.perf_counter() - t0:.0f} s to generate)")  # fmt: skip
            stages = ["mlp", *(["mlp-mem"] if args.in_memory else []), "xgb-ext"]
            stages += ["xgb-mem"] if args.in_memory else []
            for st in stages:
                peak, out = _peak_of([*me, "--stage", st, "--data", str(folder)])
                res = json.loads(out.strip().splitlines()[-1])
                extra = f"{3 * rows / res['seconds']:.0f} rows x epochs / s" if st.startswith("mlp") else f"{args.trees} trees"  # fmt: skip
                print(f"  {st:8s} peak RSS {peak / GiB:5.2f} GiB  {res['seconds']:7.1f} s  {extra}  AUC {res['auc']:.3f}  dCor2_bkg {res['dcor2_bkg']:.4f}")  # fmt: skip
            if not args.no_dask and n == sizes[0]:
                res = {}
                for label, st, w in (("single", "xgb-single", 1), ("dask x1", "dask", 1), ("dask x2", "dask", 2)):  # fmt: skip
                    _, out = _peak_of([*me, "--stage", st, "--data", str(folder), "--workers", str(w)])  # fmt: skip
                    res[label] = json.loads(out.strip().splitlines()[-1])
                    print(f"  {label:8s} {res[label]['seconds']:7.1f} s  busiest worker {res[label]['busy']:6.1f} CPU s  AUC {res[label]['auc']:.3f}  dCor2_bkg {res[label]['dcor2_bkg']:.4f}")  # fmt: skip
                x1, x2 = res["dask x1"], res["dask x2"]
                print(f"  xgboost.dask speed-up 2 vs 1 worker: {x1['seconds'] / x2['seconds']:.2f} (wall), {x1['busy'] / x2['busy']:.2f} (busiest worker's CPU time)")  # fmt: skip
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

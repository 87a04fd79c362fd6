"""Cost of the calorimeter cells: generation speed and file size, with vs without ``--cells``.

For each setting, generate ``--events`` single-photon MC events into one file
(``decorr_af.data.generate``, the same seed), then report events/s of the
generation (simulation + writing, best of ``--repeat``), the file size per
photon candidate, the mean number of cells per photon and the time to read the
cells back (``decorr_af.data.table.cell_table``).

    python benchmarks/bench_cells.py [--events 40000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path


def _generate(events: int, cells: bool, repeat: int, root: Path) -> tuple[float, Path]:
    from decorr_af.data import generate

    best, path = float("inf"), None
    for r in range(repeat):
        out = root / f"{'cells' if cells else 'plain'}_{r}"
        t0 = time.perf_counter()
        (path,) = generate(out, events=events, seed=11, cells=cells)
        best = min(best, time.perf_counter() - t0)
    assert path is not None
    return best, path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)

    from decorr_af.data.table import cell_table, photon_table

    root = Path(tempfile.mkdtemp(prefix="bench_cells_"))
    try:
        rows = []
        for cells in (False, True):
            seconds, path = _generate(args.events, cells, args.repeat, root)
            t0 = time.perf_counter()
            if cells:
                df, cellset = cell_table(path)
                per_photon = float(cellset.counts.mean())
            else:
                df = photon_table(path, mode="eager")
                per_photon = 0.0
            read_s = time.perf_counter() - t0
            n_photons = len(df)
            rows.append(
                (
                    "cells" if cells else "plain",
                    args.events / seconds,
                    path.stat().st_size / n_photons,
                    per_photon,
                    read_s,
                )
            )
        print(f"{args.events} events, seed 11")
        print(
            f"{'':6s} {'events/s':>10s} {'bytes/photon':>13s} {'cells/photon':>13s} {'read s':>7s}"
        )
        for name, rate, size, per_photon, read_s in rows:
            print(f"{name:6s} {rate:10.0f} {size:13.1f} {per_photon:13.1f} {read_s:7.2f}")
        print(
            f"cells/plain: {rows[0][1] / rows[1][1]:.1f}x slower, "
            f"{rows[1][2] / rows[0][2]:.1f}x larger per photon"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

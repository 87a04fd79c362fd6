"""``benchmarks/bench_scale.py``: the fast data path gives the package path's rows."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))  # importable by name in the pool's workers
    try:
        yield importlib.import_module("bench_scale")
    finally:
        sys.path.remove(str(BENCH))


def _read(files: list[Path]) -> dict[str, np.ndarray]:
    tables = [pq.read_table(f) for f in files]
    return {c: np.concatenate([t.column(c).to_numpy() for t in tables]) for c in tables[0].column_names}  # fmt: skip


def test_direct_data_equal_root_path(bench, tmp_path):
    """Simulated straight to Parquet on two processes == ROOT files -> iter_table, column by column."""
    kw = {"per_file": 1500, "seed": 7}
    direct, n_direct = bench.make_files(tmp_path / "d", 3000, 1000, via="direct", processes=2, **kw)
    root, n_root = bench.make_files(tmp_path / "r", 3000, 1000, via="root", processes=1, **kw)
    assert len(direct) == len(root) == 2
    assert n_direct == n_root > 2000
    a, b = _read(direct), _read(root)
    assert list(a) == list(b) == [*bench.FEATURES, bench.PROTECTED, bench.LABEL]
    for col in a:
        assert a[col].dtype == b[col].dtype, col
        np.testing.assert_array_equal(a[col], b[col], err_msg=col)
    assert 0 < a[bench.LABEL].mean() < 1
    assert not (tmp_path / "r" / "root").exists()  # ROOT files removed once flattened


def test_row_groups_bounded(bench, tmp_path):
    """Every row group holds at most ``row_group`` photons (the generator's block granularity)."""
    (path,), rows = bench.make_files(tmp_path, 20_000, 8_000, processes=1)
    meta = pq.ParquetFile(path).metadata
    sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    assert sum(sizes) == rows
    assert max(sizes) <= 8_000


def test_measure_counts_the_child_tree(bench):
    """Peak RSS, CPU seconds and load are measured for a child that starts a grandchild."""
    code = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'sum(range(3_000_000))'], check=True); print('{}')"  # fmt: skip
    m = bench.measure([sys.executable, "-c", code])
    assert m["peak_rss"] > 0
    assert m["cpu"] > 0
    assert m["load_max"] >= m["load_mean"] >= 0
    assert m["stdout"].strip() == "{}"


def test_bad_via(bench, tmp_path):
    with pytest.raises(ValueError, match="via"):
        bench.make_files(tmp_path, 100, 100, via="tape")

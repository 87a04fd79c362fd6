"""Execute every story notebook in ``notebooks/`` with small parameters (papermill).

Each notebook runs top to bottom in a fresh ``python3`` kernel (ipykernel of this
environment) with ``MPLBACKEND=agg``, its working directory and every output in a
temporary directory; any exception in a cell fails the test, naming the notebook.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
DATA_DIR = Path(__file__).resolve().parent / "data"

#: tiny parameters per notebook (on top of ``quick=True`` and ``workdir``)
SMALL: dict[str, dict[str, object]] = {
    "01_physlite_tour": {"events": 2000, "real_dir": str(DATA_DIR)},
    "02_photon_id_disco": {"events": 3000, "epochs": 1, "n_estimators": 10},
    "03_energy_calibration_datamc": {"events": 3000, "epochs": 1, "n_estimators": 10},
    "04_adversarial_vs_disco": {"events": 3000, "epochs": 1},
    "05_tth_myy_sculpting": {
        "events": 8000,
        "epochs": 1,
        "n_estimators": 10,
        "wp_efficiency": 0.9,
    },
    "06_scaling_scans_dask": {
        "events": 2000,
        "epochs": 1,
        "cluster_spec": "local:workers=1,threads=1",
    },
    "07_clustering_calibration_bins": {"events": 3000, "n_clusters": 6, "k_scan": [4, 8]},
    "08_teaching_decorrelation": {"n": 1500, "epochs": 3},
}

NOTEBOOKS = sorted(p.stem for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def test_every_notebook_has_small_parameters():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"
    assert sorted(SMALL) == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_parameters_cell(name):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: expected exactly one cell tagged 'parameters'"
    source = tagged[0].source
    for key in ("workdir", "quick", *SMALL[name]):
        assert f"{key} =" in source, f"{name}: parameter '{key}' missing from the parameters cell"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        f"{name}: committed with outputs"
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes(name, tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("MPLBACKEND", "agg")
    monkeypatch.delenv("DECORR_AF_CLUSTER", raising=False)
    params = {"workdir": str(tmp_path / "work"), "quick": True, **SMALL[name]}
    t0 = time.perf_counter()
    papermill.execute_notebook(
        str(NOTEBOOK_DIR / f"{name}.ipynb"),
        str(tmp_path / f"{name}.out.ipynb"),
        parameters=params,
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
        log_output=False,
        execution_timeout=600,
    )
    print(f"{name}: {time.perf_counter() - t0:.1f} s")

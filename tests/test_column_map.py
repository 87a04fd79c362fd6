"""Bring your own ntuple: flat TTree / Parquet / HDF5 with renamed columns and MeV energies."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from decorr_af.data import PHYSLITE, generate, photon_table
from decorr_af.data.columnmap import ColumnMap, read_flat_table
from decorr_af.errors import ConfigError, MissingBranchError

uproot = pytest.importorskip("uproot")
ak = pytest.importorskip("awkward")


@pytest.fixture(scope="module")
def physlite(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmap")
    (path,) = generate(out, sample="photons", kind="mc", events=1500, seed=8181)
    return path


@pytest.fixture(scope="module")
def reference(physlite):
    return photon_table(physlite, mode="eager")


def _renamed(name: str) -> str:
    return f"ph_{name}" if name != "truth_e" else "ph_truth_E"


@pytest.fixture(scope="module")
def flat_columns(physlite, reference):
    """The photon table as a flat ntuple: renamed columns, energies in MeV (the file's bits)."""
    derived = {"e", "converted", "is_prompt"}
    with uproot.open(physlite) as handle:
        tree = handle[PHYSLITE.tree]
        cols = {}
        for col in reference.columns:
            if col in derived:
                continue
            if col in PHYSLITE.energy_fields:  # raw MeV values from the PHYSLITE file
                raw = tree[PHYSLITE.branch("Photons", col)].array()
                cols[_renamed(col)] = ak.to_numpy(ak.flatten(raw))
            else:
                cols[_renamed(col)] = reference[col].to_numpy()
    return cols


def _column_map(reference) -> ColumnMap:
    names = [c for c in reference.columns if c not in ("e", "converted", "is_prompt")]
    return ColumnMap({c: _renamed(c) for c in names}, energy_unit="MeV")


def _write(fmt: str, cols: dict, tmp_path) -> str:
    if fmt == "parquet":
        path = tmp_path / "photons.parquet"
        pd.DataFrame(cols).to_parquet(path)
    elif fmt == "root":
        path = tmp_path / "photons.root"
        with uproot.recreate(path) as f:  # a TTree (assigning a dict writes an RNTuple)
            tree = f.mktree("ntuple", {k: v.dtype for k, v in cols.items()})
            tree.extend(cols)
    else:
        h5py = pytest.importorskip("h5py")
        path = tmp_path / "photons.h5"
        with h5py.File(path, "w") as f:
            group = f.create_group("photons")
            for name, values in cols.items():
                group.create_dataset(name, data=values)
    return str(path)


@pytest.mark.parametrize("fmt", ["root", "parquet", "hdf5"])
def test_flat_ntuple_gives_the_physlite_table(fmt, flat_columns, reference, tmp_path):
    path = _write(fmt, flat_columns, tmp_path)
    cmap = _column_map(reference)
    if fmt == "hdf5":
        cmap = ColumnMap(cmap.columns, energy_unit="MeV", tree="photons")
    got = read_flat_table(path, cmap)
    pd.testing.assert_frame_equal(got, reference)
    assert (got["pt"] > 1).all()  # GeV, not MeV


def test_spec_file_reads_through_photon_table(flat_columns, reference, tmp_path):
    path = _write("parquet", flat_columns, tmp_path)
    spec = tmp_path / "mc.json"
    cmap = _column_map(reference)
    spec.write_text(
        json.dumps(
            {"files": "photons.parquet", "columns": dict(cmap.columns), "energy_unit": "MeV"}
        )
    )
    assert path.endswith("photons.parquet")
    pd.testing.assert_frame_equal(photon_table(str(spec), mode="eager"), reference)
    sub = photon_table(str(spec), features=["Reta"], selection="pt > 30")
    assert list(sub.columns)[-4:] == ["truthType", "truthOrigin", "truth_e", "is_prompt"]
    assert "Rphi" not in sub.columns
    assert (sub["pt"] > 30).all()


def test_missing_columns_listed_once_with_the_map(flat_columns, reference, tmp_path):
    cols = {k: v for k, v in flat_columns.items() if k not in ("ph_Reta", "ph_eta")}
    path = _write("parquet", cols, tmp_path)
    cmap = _column_map(reference)
    with pytest.raises(MissingBranchError) as err:
        read_flat_table(path, cmap, features=["Reta", "Rphi"])
    text = str(err.value)
    assert path in text
    assert "eta (file column 'ph_eta')" in text
    assert "Reta (file column 'ph_Reta')" in text
    assert "energy_unit='MeV'" in text
    assert "ph_Rphi" in text  # the file's columns are listed


def test_bad_unit_and_format_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="energy_unit"):
        ColumnMap({}, energy_unit="keV")
    with pytest.raises(ConfigError, match="format"):
        ColumnMap({}, format="csv")
    with pytest.raises(Exception, match="cannot tell the format"):
        read_flat_table(tmp_path / "x.csv", ColumnMap({}))


def test_photon_id_runs_on_a_column_mapped_ntuple(physlite, flat_columns, reference, tmp_path):
    photon_id = pytest.importorskip("decorr_af.workflows.photon_id")
    _write("root", flat_columns, tmp_path)
    cmap = _column_map(reference)
    spec = tmp_path / "mc.yaml"
    lines = ["files: photons.root", "tree: ntuple", "energy_unit: MeV", "columns:"]
    lines += [f"  {k}: {v}" for k, v in cmap.columns.items()]
    spec.write_text("\n".join(lines) + "\n")
    results = {}
    for name, files in (("physlite", str(physlite)), ("flat", str(spec))):
        cfg = photon_id.Config(mc_files=(files,), models=("cutbased",))
        results[name] = photon_id.run(cfg, seed=3, out=tmp_path / name)

    def physics(metrics: dict) -> dict:  # the same table gives the same metrics
        return {k: v for k, v in metrics.items() if not k.endswith("_seconds")}

    assert physics(results["flat"].metrics) == physics(results["physlite"].metrics)
    assert len(physics(results["flat"].metrics)) > 10


def test_dask_mode_reads_each_file_in_a_task(flat_columns, reference, tmp_path):
    dask = pytest.importorskip("dask")
    half = len(reference) // 2
    paths = []
    for i, part in enumerate((slice(0, half), slice(half, None))):
        sub = tmp_path / f"p{i}"
        sub.mkdir()
        paths.append(_write("parquet", {k: v[part] for k, v in flat_columns.items()}, sub))
    with dask.config.set(scheduler="sync"):
        got = read_flat_table(paths, _column_map(reference), mode="dask")
    pd.testing.assert_frame_equal(got, reference)

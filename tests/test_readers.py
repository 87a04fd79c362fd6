"""Tests of decorr_af.data.readers (open_events) and decorr_af.data.validate."""

from __future__ import annotations

import awkward as ak
import dask_awkward as dak
import numpy as np
import pytest
from conftest import REAL_RNTUPLE, REAL_TTREE, REAL_TTREE_RUN2, write_collection_tree

from decorr_af.data.readers import open_events
from decorr_af.data.validate import expand_sources, inspect_file, validate_files
from decorr_af.errors import ConfigError


def test_coffea_ttree_dask():
    path, n_photons = REAL_TTREE, 292
    events = open_events(path, mode="dask")
    assert isinstance(events, dak.Array)
    counts = dak.num(events.Photons.pt, axis=1).compute()
    assert int(ak.sum(counts)) == n_photons
    assert {"pt", "eta", "phi"} <= set(events.Photons.fields)


@pytest.mark.slow
def test_rntuple_mirrors_coffea_names():
    mode = "eager"  # uproot.dask path builds the same record; not repeated here (slow file)
    events = open_events(REAL_RNTUPLE, mode=mode, collections=["EventInfo", "Photons"])
    assert set(events.fields) == {"EventInfo", "Photons"}
    pt = events.Photons.pt if mode == "eager" else events.Photons.pt.compute()
    assert int(ak.sum(ak.num(pt, axis=1))) == 263
    channel = events.EventInfo.mcChannelNumber
    channel = channel if mode == "eager" else channel.compute()
    assert set(ak.to_numpy(channel).tolist()) == {601229}
    assert "truthType" in events.Photons.fields  # numeric field mirrored
    assert not any("Link" in f for f in events.Photons.fields)  # links left out


def test_rntuple_unknown_collection():
    with pytest.raises(ConfigError, match="Taus"):
        open_events(REAL_RNTUPLE, mode="eager", collections=["Taus"])


def test_sources_path_glob_list_directory(sample_dir):
    directory = sample_dir / "photons_mc"
    files = sorted(directory.glob("*.root"))
    assert len(files) == 2
    assert expand_sources(directory) == files
    assert expand_sources(str(directory / "*.root")) == files
    assert expand_sources([str(f) for f in files]) == files
    infos = validate_files(directory)
    assert sum(i.num_entries for i in infos) == 6000
    assert all(not i.rntuple and i.sep == "." for i in infos)


def test_generated_files_open_eager_and_dask(sample_dir):
    directory = sample_dir / "photons_mc"
    eager = open_events(directory, mode="eager")
    lazy = open_events(directory, mode="dask", steps_per_file=2)  # 4 partitions
    assert len(eager) == 6000
    n_eager = ak.sum(ak.num(eager.Photons.pt, axis=1))
    n_lazy = ak.sum(dak.num(lazy.Photons.pt, axis=1).compute())
    assert int(n_eager) == int(n_lazy) > 6000 * 0.5


def test_inspect_real_files():
    info = inspect_file(REAL_RNTUPLE)
    assert (info.tree, info.rntuple, info.sep, info.num_entries) == ("EventData", True, ":", 100)
    info = inspect_file(REAL_TTREE_RUN2)
    assert (info.tree, info.rntuple, info.num_entries) == ("CollectionTree", False, 40)


def test_bad_mode_and_steps():
    with pytest.raises(ConfigError, match="mode"):
        open_events(REAL_RNTUPLE, mode="lazy")
    with pytest.raises(ConfigError, match="steps_per_file"):
        open_events(REAL_RNTUPLE, steps_per_file=0)


@pytest.mark.parametrize("sample", ["photons", "diphoton", "zee", "zmumug"])
def test_data_files_carry_no_truth(tmp_path, sample):
    uproot = pytest.importorskip("uproot")
    from decorr_af.data import generate
    from decorr_af.data.schema import TRUTH

    (data,) = generate(tmp_path / "d", sample=sample, kind="data", events=300, seed=7706)
    (mc,) = generate(tmp_path / "m", sample=sample, kind="mc", events=300, seed=7707)
    with uproot.open(data) as f:
        tree = f["CollectionTree"]
        assert not [k for k in tree.keys() if k.split(".")[-1] in TRUTH]  # noqa: SIM118 (uproot TTree)
        assert (tree["EventInfoAuxDyn.eventTypeBitmask"].array(library="np") == 0).all()
        assert (tree["EventInfoAuxDyn.mcChannelNumber"].array(library="np") == 0).all()
    with uproot.open(mc) as f:
        assert (
            f["CollectionTree"]["EventInfoAuxDyn.eventTypeBitmask"].array(library="np") & 1
        ).all()
    events = open_events(data, mode="eager")
    for coll in ("Photons", "Electrons"):
        if coll in events.fields:
            assert not set(TRUTH) & set(events[coll].fields)


def _write_data_with_truth(path):
    """A data file (eventTypeBitmask 0) that nevertheless holds truth branches."""
    from decorr_af.data.photons import simulate_photons
    from decorr_af.data.writer import _to_branches

    ev = simulate_photons(400, kind="data", rng=np.random.default_rng(2291))
    ev["EventInfo"]["eventTypeBitmask"] = np.zeros(400, dtype=np.uint32)
    return write_collection_tree(path, _to_branches(ev))


def test_tables_never_return_truth_for_data(tmp_path):
    from decorr_af.data import iter_table, photon_table
    from decorr_af.data.schema import TRUTH_COLUMNS

    path = _write_data_with_truth(tmp_path / "data_with_truth.root")
    for df in (
        photon_table(path, mode="eager", drop_truth=False),
        photon_table(path, mode="dask", drop_truth=False),
        photon_table(open_events(path, mode="eager"), mode="eager", drop_truth=False),
        next(iter_table(path, drop_truth=False)),
    ):
        assert len(df) > 0
        assert not set(TRUTH_COLUMNS) & set(df.columns)


@pytest.mark.parametrize("mode", ["eager", "dask"])
def test_open_events_projects_truth_out_of_data(tmp_path, mode):
    from decorr_af.data.schema import TRUTH

    path = _write_data_with_truth(tmp_path / "data_with_truth.root")
    events = open_events(path, mode=mode)
    assert not set(TRUTH) & set(events.Photons.fields)
    assert {"pt", "Reta", "E0"} <= set(events.Photons.fields)
    pt = events.Photons.pt if mode == "eager" else events.Photons.pt.compute()
    assert ak.sum(ak.num(pt, axis=1)) > 400

"""Bad input gives typed errors that name the file and what is wrong."""

from __future__ import annotations

import os
from collections import defaultdict

import awkward as ak
import numpy as np
import pytest
import uproot
from conftest import write_collection_tree

from decorr_af.data.readers import open_events
from decorr_af.data.table import photon_table
from decorr_af.data.validate import inspect_file
from decorr_af.errors import (
    ConfigError,
    InputFileError,
    MissingBranchError,
    NonFiniteValueError,
)


def write_tiny(path, *, n_events=50, nan_rows=(), tree="CollectionTree", with_eta=True, seed=3):
    """A tiny PHYSLITE-like TTree written with uproot (energies in MeV)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 3, n_events)
    n = int(counts.sum())
    pt = rng.uniform(20e3, 80e3, n).astype(np.float32)
    iso = rng.exponential(2e3, n).astype(np.float32)
    iso[list(nan_rows)] = np.nan
    photons = {"pt": pt, "phi": rng.uniform(-3, 3, n).astype(np.float32), "topoetcone20": iso}
    if with_eta:
        photons["eta"] = rng.uniform(-2.4, 2.4, n).astype(np.float32)
    data = {
        "EventInfoAuxDyn.eventNumber": np.arange(n_events, dtype=np.uint64),
        "EventInfoAuxDyn.runNumber": np.full(n_events, 410000, dtype=np.uint32),
        "EventInfoAuxDyn.averageInteractionsPerCrossing": np.full(n_events, 40.0, np.float32),
    }
    data.update({f"AnalysisPhotonsAuxDyn.{k}": ak.unflatten(v, counts) for k, v in photons.items()})
    with uproot.recreate(path) as f:
        f.mktree(tree, {k: v.type if hasattr(v, "layout") else v.dtype for k, v in data.items()})
        f[tree].extend(data)
    return path, n


def rewrite_photon_file(src, dst, *, drop=(), weight=None):
    """Copy a generated PHYSLITE-like file without the branches ``drop``.

    ``weight`` replaces every ``EventInfoAuxDyn.mcEventWeights`` value. The layout
    (records per collection, counters ``n<collection>``) is the generator's.
    """
    with uproot.open(src) as f:
        tree = f["CollectionTree"]
        names = [k for k in tree.keys(filter_name="*.*") if k not in drop]
        arrays = tree.arrays(names)
    groups = defaultdict(dict)
    for name in names:
        collection, field = name.split(".", 1)
        groups[collection][field] = arrays[name]
    info = groups.pop("EventInfoAuxDyn")
    weights = info.pop("mcEventWeights")
    if weight is not None:
        weights = ak.full_like(weights, weight)
    branches = {
        "EventInfoAuxDyn": ak.zip(info, depth_limit=1),
        "EventInfoAuxDyn.mcEventWeights": weights,
    }
    branches.update({c: ak.zip(fields) for c, fields in groups.items()})
    return write_collection_tree(dst, branches)


def test_tiny_file_reads(tmp_path):
    path, n = write_tiny(tmp_path / "ok.root")
    df = photon_table(path, mode="eager")
    assert len(df) == n
    assert df["topoetcone20"].max() < 100  # GeV


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match=r"nothere\.root.*does not exist"):
        photon_table(tmp_path / "nothere.root", mode="eager")
    with pytest.raises(InputFileError, match="no files match"):
        open_events(str(tmp_path / "*.root"))


def test_random_bytes_and_empty_file(tmp_path):
    bad = tmp_path / "random.root"
    bad.write_bytes(np.random.default_rng(11).bytes(4096))
    with pytest.raises(InputFileError, match=r"random\.root.*not a readable ROOT file"):
        photon_table(bad, mode="eager")
    empty = tmp_path / "empty.root"
    empty.write_bytes(b"")
    with pytest.raises(InputFileError, match=r"empty\.root.*0 bytes"):
        inspect_file(empty)


def test_truncated_file(tmp_path):
    path, _ = write_tiny(tmp_path / "full.root", n_events=500)
    data = path.read_bytes()
    cut = tmp_path / "cut.root"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match=r"cut\.root.*truncated"):
        photon_table(cut, mode="eager")
    with pytest.raises(InputFileError, match="truncated"):
        open_events(cut, mode="dask")


def test_wrong_tree_name_lists_trees(tmp_path):
    path, _ = write_tiny(tmp_path / "other.root", tree="MyTree")
    with pytest.raises(InputFileError, match=r"other\.root.*trees in the file: MyTree"):
        photon_table(path, mode="eager")
    with pytest.raises(InputFileError, match=r"no tree named .Nope.*MyTree"):
        photon_table(path, mode="eager", tree="Nope")
    assert len(photon_table(path, mode="eager", tree="MyTree")) > 0


def test_empty_tree(tmp_path):
    path, _ = write_tiny(tmp_path / "zero.root", n_events=0)
    with pytest.raises(InputFileError, match=r"zero\.root.*0 entries"):
        photon_table(path, mode="eager")


def test_missing_branch(tmp_path):
    path, _ = write_tiny(tmp_path / "noeta.root", with_eta=False)
    with pytest.raises(MissingBranchError, match=r"noeta\.root.*Photons\.eta"):
        photon_table(path, mode="eager")
    ok, _ = write_tiny(tmp_path / "ok.root")
    with pytest.raises(MissingBranchError, match=r"Reta.*features=\['topoetcone20'\]"):
        photon_table(ok, mode="eager", features=["Reta"])


@pytest.mark.parametrize("mode", ["eager", "dask"])
def test_nonfinite_policies(tmp_path, mode):
    path, n = write_tiny(tmp_path / "nan.root", nan_rows=(0, 3, 7))
    with pytest.raises(NonFiniteValueError, match=r"nan\.root.*topoetcone20: 3"):
        photon_table(path, mode=mode, chunk_size=20)
    dropped = photon_table(path, mode=mode, nonfinite="drop")
    assert len(dropped) == n - 3
    assert np.isfinite(dropped["topoetcone20"]).all()
    kept = photon_table(path, mode=mode, nonfinite="keep")
    assert len(kept) == n
    assert int(kept["topoetcone20"].isna().sum()) == 3


def test_bad_keywords(tmp_path):
    path, _ = write_tiny(tmp_path / "ok.root")
    with pytest.raises(ConfigError, match="nonfinite='ignore'"):
        photon_table(path, nonfinite="ignore")
    with pytest.raises(ConfigError, match="mode='fast'"):
        photon_table(path, mode="fast")
    with pytest.raises(ConfigError, match="chunk_size"):
        photon_table(path, chunk_size=0)


def test_directory_without_root_files(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputFileError, match=r"no \*\.root files"):
        photon_table(tmp_path, mode="eager")
    assert os.path.exists(tmp_path / "notes.txt")


@pytest.mark.parametrize("mode", ["dask", "eager"])
def test_open_events_names_missing_four_vector_branch(tmp_path, mode):
    """coffea's raw 'ParticleArray: missing longitudinal coordinate' becomes a typed error."""
    from decorr_af.data import generate

    (src,) = generate(tmp_path / "mc", sample="photons", kind="mc", events=300, seed=6203)
    noeta = rewrite_photon_file(src, tmp_path / "noeta.root", drop=("AnalysisPhotonsAuxDyn.eta",))
    with pytest.raises(MissingBranchError, match=r"noeta\.root: collection 'Photons'") as err:
        open_events(noeta, mode=mode)
    assert "['AnalysisPhotonsAuxDyn.eta']" in str(err.value)  # only the missing one
    copy = rewrite_photon_file(src, tmp_path / "copy.root")
    assert "eta" in open_events(copy, mode=mode).Photons.fields

"""Reading through a real XRootD server (``root://`` URLs) gives what the local read gives.

The server (Debian ``xrootd-server``) runs as ``nobody`` on 127.0.0.1 and
exports a temporary directory holding generated photon files
(``tests/_servers.py``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from decorr_af.cli import main
from decorr_af.errors import InputFileError

pytestmark = pytest.mark.facility


@pytest.fixture(scope="module")
def remote_photons(xrootd_server):
    """Two generated photon MC files in the exported directory: (local glob, URL glob)."""
    from decorr_af.data import generate

    directory = xrootd_server.export / "photons_mc"
    generate(directory, sample="photons", kind="mc", events=3000, files=2, seed=7321)
    for path in [directory, *directory.iterdir()]:  # the server runs as nobody
        path.chmod(0o755 if path.is_dir() else 0o644)
    return str(directory / "*.root"), xrootd_server.url(directory / "*.root")


def test_urls_resolve_through_the_server(remote_photons, xrootd_server):
    from decorr_af.data.remote import RemotePath
    from decorr_af.workflows.inputs import input_fingerprint, resolve_inputs

    local, url = remote_photons
    files = resolve_inputs(url, key="mc_files")
    assert [f.name for f in files] == ["photons_mc_000.root", "photons_mc_001.root"]
    assert all(isinstance(f, RemotePath) and f.startswith("root://127.0.0.1:") for f in files)
    directory = resolve_inputs(url.rsplit("/", 1)[0], key="mc_files")  # a directory URL
    assert directory == files

    @dataclasses.dataclass(frozen=True)
    class Cfg:
        mc_files: tuple[str, ...] = (url,)

    stamps = input_fingerprint(Cfg())["mc_files"]
    sizes = [p.stat().st_size for p in resolve_inputs(local, key="mc_files")]
    assert [s[0] for s in stamps] == [str(f) for f in files]
    assert [s[1] for s in stamps] == sizes
    missing = xrootd_server.url("photons_mc/nothing_*.root")
    with pytest.raises(InputFileError, match=r"mc_files: no file matches 'root://127\.0\.0\.1"):
        resolve_inputs(missing, key="mc_files")


def test_cli_inspect_remote_equals_local(remote_photons, capsys):
    local, url = remote_photons
    first_local = local.replace("*", "photons_mc_000")
    first_url = url.replace("*", "photons_mc_000")
    assert main(["inspect", first_local]) == 0
    text_local = capsys.readouterr().out
    assert main(["inspect", first_url]) == 0
    text_remote = capsys.readouterr().out
    assert f"file:    {first_url}" in text_remote
    assert "entries: " in text_remote
    drop_file = [line for line in text_remote.splitlines() if not line.startswith("file:")]
    assert drop_file == [line for line in text_local.splitlines() if not line.startswith("file:")]


def test_cli_export_remote_glob_has_the_local_rows(remote_photons, tmp_path, capsys):
    from decorr_af.data.export import read_table

    local, url = remote_photons
    assert main(["export", url, "--out", str(tmp_path / "remote.parquet")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["export", local, "--out", str(tmp_path / "local.parquet")]) == 0
    remote = read_table(tmp_path / "remote.parquet")
    here = read_table(tmp_path / "local.parquet")
    assert len(remote) > 1000
    assert list(remote.columns) == list(here.columns)
    for column in here.columns:
        np.testing.assert_array_equal(remote[column].to_numpy(), here[column].to_numpy())


def test_photon_id_run_on_root_urls_matches_local(remote_photons):
    from decorr_af.workflows import photon_id

    local, url = remote_photons
    small = {"models": ("cutbased", "plain_bdt"), "n_estimators": 10, "max_depth": 2,
             "jsd_permutations": 5}  # fmt: skip
    remote = photon_id.run(photon_id.Config(mc_files=(url,), **small), strength=0.0, seed=3)
    here = photon_id.run(photon_id.Config(mc_files=(local,), **small), strength=0.0, seed=3)
    assert remote.metrics.keys() == here.metrics.keys()
    assert len(remote.metrics) > 20
    for name, value in here.metrics.items():
        if name.endswith("_seconds"):  # timings differ between any two runs
            continue
        assert remote.metrics[name] == pytest.approx(value, nan_ok=True), name


def test_unknown_scheme_stays_a_local_path():
    from decorr_af.data.remote import is_remote

    assert is_remote("root://h//x.root")
    assert is_remote("https://h/x.root")
    assert not is_remote("file:///x.root")
    assert not is_remote("C:/data/x.root")


def test_dask_table_and_coffea_events_over_xrootd(remote_photons):
    """The Dask read (uproot.dask) and coffea's NanoEvents take the URLs too."""
    import awkward as ak

    from decorr_af.data import open_events
    from decorr_af.data.table import photon_table

    local, url = remote_photons
    remote = photon_table(url, mode="dask")
    here = photon_table(local, mode="dask")
    assert len(remote) == len(here) > 1000
    np.testing.assert_array_equal(remote["pt"].to_numpy(), here["pt"].to_numpy())
    events = open_events(url.replace("*", "photons_mc_000"), mode="dask")
    n_remote = ak.sum(ak.num(events.Photons.pt, axis=1)).compute()
    events = open_events(local.replace("*", "photons_mc_000"), mode="dask")
    assert n_remote == ak.sum(ak.num(events.Photons.pt, axis=1)).compute()

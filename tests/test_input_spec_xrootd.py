"""Input specs over a real XRootD server: a fileset of root:// URLs, a flat ntuple by URL."""

from __future__ import annotations

import pandas as pd
import pytest

from decorr_af.data import generate, photon_table
from decorr_af.data.columnmap import ColumnMap, read_flat_table

pytestmark = pytest.mark.facility


@pytest.fixture(scope="module")
def exported(xrootd_server):
    directory = xrootd_server.export / "spec"
    (path,) = generate(directory, sample="photons", kind="mc", events=1500, seed=4242)
    reference = photon_table(str(path), mode="eager")
    stored = [c for c in reference.columns if c not in ("e", "converted", "is_prompt")]
    reference[stored].rename(columns=lambda c: f"nt_{c}").to_parquet(directory / "flat.parquet")
    for p in [directory, *directory.iterdir()]:  # the server runs as nobody
        p.chmod(0o755 if p.is_dir() else 0o644)
    return path, reference, stored


def test_fileset_of_root_urls_equals_the_local_read(exported, xrootd_server):
    path, reference, _ = exported
    fileset = {"mc": {"files": {xrootd_server.url(path): "CollectionTree"}}}
    pd.testing.assert_frame_equal(photon_table(fileset, mode="eager"), reference)
    url_glob = xrootd_server.url(path.parent / "*.root")  # a glob listed by fsspec-xrootd
    spec = {"files": url_glob, "tree": "CollectionTree"}
    pd.testing.assert_frame_equal(photon_table(spec, mode="eager"), reference)


def test_flat_parquet_by_root_url(exported, xrootd_server):
    path, reference, stored = exported
    url = xrootd_server.url(path.parent / "flat.parquet")
    got = read_flat_table(url, ColumnMap({c: f"nt_{c}" for c in stored}))
    pd.testing.assert_frame_equal(got, reference)

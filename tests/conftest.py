"""Shared fixtures: a session-scoped Dask client and small generated samples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "agg")

DATA_DIR = Path(__file__).parent / "data"
REAL_TTREE = DATA_DIR / "PHYSLITE_example.root"
REAL_TTREE_RUN2 = DATA_DIR / "DAOD_PHYSLITE_21.2.108.0.art.pool.root"
REAL_RNTUPLE = DATA_DIR / "PHYSLITE_rntuple_example.root"


def write_collection_tree(path, branches, *, tree="CollectionTree"):
    """Write ``branches`` with the generator's PHYSLITE layout (``outer.inner``, ``n<coll>``)."""
    import uproot

    with uproot.recreate(path) as fout:
        out = fout.mktree(
            tree,
            {name: arr.type for name, arr in branches.items()},
            field_name=lambda outer, inner: f"{outer}.{inner}",
            counter_name=lambda counted: "n" + counted.replace(".", "_"),
        )
        out.extend(branches)
    return path


class ClosingFails:
    """A real Dask client whose ``close()`` raises, as distributed does under load."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def close(self, *args, **kwargs):
        raise TimeoutError("Timed out waiting for the scheduler to close")


@pytest.fixture(scope="session")
def dask_client():
    """One real LocalCluster (2 single-threaded worker processes) for the session."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory):
    """Small generated photon samples (MC and data, mismodelling 1) shared by tests.

    Seeds differ from anything the generator or the methods were tuned on.
    """
    from decorr_af.data import generate

    out = tmp_path_factory.mktemp("samples")
    generate(out / "photons_mc", sample="photons", kind="mc", events=6000, files=2, seed=9173)
    generate(
        out / "photons_data",
        sample="photons",
        kind="data",
        events=6000,
        files=2,
        seed=5521,
        mismodelling=1.0,
    )
    generate(out / "diphoton_mc", sample="diphoton", kind="mc", events=6000, files=2, seed=4407)
    return out

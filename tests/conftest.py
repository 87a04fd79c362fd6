"""Shared fixtures: a session-scoped Dask client and small generated samples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "agg")

# the facility fixtures (XRootD, Slurm, dask-gateway servers on 127.0.0.1): imported here so
# every test module sees them (``pytest_plugins`` in test modules is not honoured in a
# whole-suite run once the repository root has its own conftest.py)
from _servers import gateway_server, photon_scan, slurm_cluster, xrootd_server  # noqa: F401

DATA_DIR = Path(__file__).parent / "data"
REAL_TTREE = DATA_DIR / "PHYSLITE_example.root"
REAL_TTREE_RUN2 = DATA_DIR / "DAOD_PHYSLITE_21.2.108.0.art.pool.root"
REAL_RNTUPLE = DATA_DIR / "PHYSLITE_rntuple_example.root"

#: module-scoped fixtures that run a whole workflow (a minute each on a loaded 2-core
#: machine): every test that uses one is in the slow lane, so the quick lane
#: (``-m "not slow"``) never pays for the setup; the whole suite runs them all
HEAVY_FIXTURES = {
    "test_calibration": "zee_result",
    "test_clustering": "result",
    "test_photon_id": "pid_result",
    "test_tth": "tth_result",
    "test_tth_measure": "measured",
    "test_unfolding": "samples",
    "test_widgets": "zee_calib",
}


def pytest_collection_modifyitems(config, items):
    """Mark the users of :data:`HEAVY_FIXTURES` ``slow``."""
    for item in items:
        module = getattr(item, "module", None)
        heavy = HEAVY_FIXTURES.get(getattr(module, "__name__", "").rpartition(".")[2])
        if heavy is not None and heavy in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


def make_toys(out, specs, *, files=1, mismodelling=1.0, name="{sample}_{kind}", reuse=False):
    """Generate toy samples ``out/<name>`` from ``(sample, kind, events, seed)`` rows.

    Data samples get ``mismodelling`` (MC ignores it); ``name`` is formatted with
    ``sample`` and ``kind``; with ``reuse`` a directory that already holds ROOT
    files is left as it is. Returns ``out``.
    """
    from decorr_af.data import generate

    out = Path(out)
    for sample, kind, events, seed in specs:
        target = out / name.format(sample=sample, kind=kind)
        if reuse and any(target.glob("*.root")):
            continue
        generate(target, sample=sample, kind=kind, events=events, files=files, seed=seed,
                 mismodelling=mismodelling if kind == "data" else 0.0)  # fmt: skip
    return out


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
    specs = (("photons", "mc", 6000, 9173), ("photons", "data", 6000, 5521),
             ("diphoton", "mc", 6000, 4407))  # fmt: skip
    return make_toys(tmp_path_factory.mktemp("samples"), specs, files=2)

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from decorr_af.errors import ConfigError, InputFileError, MissingBranchError
from decorr_af.workflows import clustering as cl
from decorr_af.workflows._binning import prepare


@pytest.fixture(scope="module")
def result(sample_dir, tmp_path_factory):
    cfg = cl.Config(
        mc_files=(str(sample_dir / "photons_mc" / "*.root"),),
        data_files=(str(sample_dir / "photons_data" / "*.root"),),
        n_clusters=16,
        k_scan=(4, 16),
    )
    out = tmp_path_factory.mktemp("clu") / "res"
    return cfg, cl.run(cfg, seed=6, out=out)


def test_bins_cover_every_photon_and_roundtrip(result, sample_dir, tmp_path):
    from decorr_af.workflows._data import load_photons

    cfg, res = result
    data = prepare(load_photons(str(sample_dir / "photons_data" / "*.root"), drop_truth=True))
    for method in cfg.methods:
        b = cl.Binning.from_dict(res.info["binnings"][method])
        bins = cl.assign_bins(b, data)
        assert bins.shape == (len(data),)
        assert bins.min() >= 0
        assert bins.max() < b.n_bins
        assert res.metrics[f"{method}.n_bins"] == b.n_bins == 16
        path = b.save(tmp_path / f"{method}.json")
        again = cl.Binning.load(path)
        assert np.array_equal(cl.assign_bins(again, data), bins)
        assert len(again.scale_factors["id_sf"]) == b.n_bins


def test_clusters_have_lower_spread_and_better_closure_than_grid(result):
    _, res = result
    m = res.metrics
    # clusters use the conversion status, which shifts the response: at equal
    # number of bins their within-bin spread of E_true/E_raw is lower
    assert m["kmeans.spread"] < m["grid.spread"]
    assert m["gmm.spread"] < m["grid.spread"]
    assert np.isfinite(m["kmeans.closure"])
    assert np.isfinite(m["grid.closure"])
    assert m["kmeans.closure"] <= m["grid.closure"]
    assert m["kmeans.bins_for_grid_closure"] <= 16
    # mismodelled shower shapes lower the data ID efficiency; energy scale stays ~1
    assert m["grid.id_sf_mean"] < 0.97
    assert abs(m["grid.energy_scale_mean"] - 1.0) < 0.02
    scan = res.tables["k_scan"]
    assert set(scan.method) == {"kmeans", "gmm"}
    assert set(scan.k) == {4, 16}


def test_grid_and_errors():
    g = cl.fit_binning(None, method="grid", eta_edges=(0, 1, 2), pt_edges=(0, 50, 100))
    t = pd.DataFrame({"abs_eta": [-1.0, 0.5, 1.5, 5.0], "pt": [10.0, 60.0, 5.0, 1e4]})
    assert cl.assign_bins(g, t).tolist() == [0, 1, 2, 3]
    with pytest.raises(MissingBranchError, match="pt"):
        cl.assign_bins(g, t.drop(columns="pt"))
    with pytest.raises(ConfigError, match="method"):
        cl.fit_binning(t, method="dbscan")
    with pytest.raises(ConfigError, match="cannot make 8 bins"):
        cl.fit_binning(t, method="kmeans", n_bins=8, features=("abs_eta", "pt"))
    with pytest.raises(ConfigError, match="unknown method"):
        cl.Config(methods=("spectral",))
    with pytest.raises(InputFileError, match="does not exist"):
        cl.Binning.load("/nonexistent/binning.json")


def test_plots(result, sample_dir, tmp_path):
    import matplotlib.pyplot as plt

    from decorr_af.plot.clustering import plot_bins, plot_k_scan, plot_scale_factors
    from decorr_af.workflows._data import load_photons

    _, res = result
    mc = prepare(load_photons(str(sample_dir / "photons_mc" / "*.root")))
    a1 = plot_bins(cl.Binning.from_dict(res.info["binnings"]["kmeans"]), mc)
    a1.ax.figure.savefig(tmp_path / "bins.png")
    a2 = plot_scale_factors(res, method="grid")
    a2.ax.figure.savefig(tmp_path / "sf.png")
    a3 = plot_k_scan(res)
    assert set(a3.lines) == {"kmeans", "gmm"}
    assert a3.reference is not None
    a3.ax.figure.savefig(tmp_path / "scan.png")
    assert all((tmp_path / f).stat().st_size > 1000 for f in ("bins.png", "sf.png", "scan.png"))
    with pytest.raises(ConfigError, match="closure or spread"):
        plot_k_scan(res, quantity="auc")
    plt.close("all")

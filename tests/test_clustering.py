from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_toys

from decorr_af.errors import ConfigError, InputFileError, MissingBranchError
from decorr_af.workflows import clustering as cl


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """Own radiative-Z and Z→ee samples; data mismodelled and without truth."""
    specs = (("zmumug", "mc", 24000, 70411), ("zmumug", "data", 24000, 70423),
             ("zee", "mc", 12000, 70433), ("zee", "data", 12000, 70439))  # fmt: skip
    return make_toys(tmp_path_factory.mktemp("clu_samples"), specs)


def _config(samples, **kw):
    return cl.Config(
        zmumug_mc_files=(str(samples / "zmumug_mc" / "*.root"),),
        zmumug_data_files=(str(samples / "zmumug_data" / "*.root"),),
        zee_mc_files=(str(samples / "zee_mc" / "*.root"),),
        zee_data_files=(str(samples / "zee_data" / "*.root"),),
        **kw,
    )


@pytest.fixture(scope="module")
def result(samples, tmp_path_factory):
    cfg = _config(samples, n_clusters=12, k_scan=(4, 12))
    out = tmp_path_factory.mktemp("clu") / "res"
    return cfg, cl.run(cfg, seed=6, out=out)


def test_bins_cover_every_probe_and_roundtrip(result, tmp_path):
    cfg, res = result
    data = cl.probes(cfg, data=True)
    for method in cfg.methods:
        b = cl.Binning.from_dict(res.info["binnings"][method])
        bins = cl.assign_bins(b, data)
        assert bins.shape == (len(data),)
        assert bins.min() >= 0
        assert bins.max() < b.n_bins
        path = b.save(tmp_path / f"{method}.json")
        again = cl.Binning.load(path)
        assert np.array_equal(cl.assign_bins(again, data), bins)
        assert len(again.scale_factors["id_sf"]) == b.n_bins
    # the grid separates unconverted and converted photons (ATLAS bins always do)
    grid = res.tables["bins_grid"]
    n_grid = (len(cfg.eta_edges) - 1) * (len(cfg.pt_edges) - 1) * 2
    assert res.metrics["grid.n_bins"] == n_grid == len(grid)
    filled = grid[grid.n_mc > 0]
    assert set(np.unique(filled.mean_converted)) == {0.0, 1.0}
    assert res.metrics["kmeans.n_bins"] == res.metrics["gmm.n_bins"] == 12


def test_tag_and_probe_scale_factors(result):
    _, res = result
    m = res.metrics
    # the MC tag-and-probe reproduces the truth-matched MC efficiency (validation only)
    diff = m["tagprobe.eff_mc"] - m["tagprobe.eff_mc_truth"]
    assert abs(diff) < 3 * m["tagprobe.eff_mc_err"] + 0.01
    assert m["tagprobe.purity_data"] > 0.8
    # wider lateral showers in data lower its ID efficiency: SF significantly below 1
    assert m["tagprobe.sf"] < 1 - 3 * m["tagprobe.sf_err"]
    for method in ("kmeans", "gmm", "grid"):
        assert np.isfinite(m[f"{method}.closure"])
        assert np.isfinite(m[f"{method}.id_sf_mean"])
        assert abs(m[f"{method}.tp_closure_mc"]) < 0.05
        # more material in data lowers its response: Z→ee energy scale below 1
        assert m[f"{method}.energy_scale_mean"] < 1.0
    scan = res.tables["k_scan"]
    assert set(scan.method) == {"kmeans", "gmm"}
    assert set(scan.k) == {4, 12}


def test_sideband_method_runs(samples):
    cfg = _config(samples, methods=("grid",), k_scan=(), tp_method="sideband")
    cfg = cfg.replace(zee_mc_files=(), zee_data_files=())
    res = cl.run(cfg, seed=2)
    assert 0 < res.metrics["tagprobe.eff_data"] < 1
    assert np.isnan(res.metrics["grid.energy_scale_mean"])  # no Z->ee configured
    split = cl.run(cfg.replace(tp_method="template", tp_split_templates=True), seed=2)
    m = split.metrics
    assert (
        abs(m["tagprobe.eff_mc"] - m["tagprobe.eff_mc_truth"]) < 3 * m["tagprobe.eff_mc_err"] + 0.01
    )


def test_truth_is_never_requested_for_data(samples, monkeypatch):
    from decorr_af.workflows import _data

    calls = []
    for name in ("load_radiative_z", "load_electrons"):
        real = getattr(_data, name)

        def spy(files, *, drop_truth=False, _real=real, _name=name):
            calls.append((_name, tuple(files), drop_truth))
            return _real(files, drop_truth=drop_truth)

        monkeypatch.setattr(_data, name, spy)
    cl.run(_config(samples, methods=("grid",), k_scan=()), seed=1)
    data = [c for c in calls if "_data" in c[1][0]]
    assert {c[0] for c in data} == {"load_radiative_z", "load_electrons"}
    assert all(c[2] for c in data), data
    # a data table holding truth (a broken reader) is refused
    mc_files = (str(samples / "zmumug_mc" / "*.root"),)
    real = _data.load_radiative_z
    monkeypatch.setattr(_data, "load_radiative_z",
                        lambda files, *, drop_truth=False: real(mc_files))  # fmt: skip
    with pytest.raises(InputFileError, match="truth column"):
        cl.probes(_config(samples), data=True)


def test_grid_and_errors():
    g = cl.fit_binning(None, method="grid", eta_edges=(0, 1, 2), pt_edges=(0, 50, 100))
    t = pd.DataFrame({"abs_eta": [-1.0, 0.5, 1.5, 5.0], "pt": [10.0, 60.0, 5.0, 1e4],
                      "converted": [0.0, 1.0, 0.0, 1.0]})  # fmt: skip
    assert g.n_bins == 8
    assert cl.assign_bins(g, t).tolist() == [0, 3, 4, 7]
    flat = cl.fit_binning(None, method="grid", eta_edges=(0, 1, 2), pt_edges=(0, 50, 100),
                          conversion_split=False)  # fmt: skip
    assert cl.assign_bins(flat, t.drop(columns="converted")).tolist() == [0, 1, 2, 3]
    with pytest.raises(MissingBranchError, match="converted"):
        cl.assign_bins(g, t.drop(columns="converted"))
    with pytest.raises(ConfigError, match="method"):
        cl.fit_binning(t, method="dbscan")
    with pytest.raises(ConfigError, match="cannot make 8 bins"):
        cl.fit_binning(t, method="kmeans", n_bins=8, features=("abs_eta", "pt"))
    with pytest.raises(ConfigError, match="unknown method"):
        cl.Config(methods=("spectral",))
    with pytest.raises(ConfigError, match="tp_method"):
        cl.Config(tp_method="fit")
    with pytest.raises(ConfigError, match="go together"):
        cl.Config(zee_mc_files=("a.root",))
    with pytest.raises(InputFileError, match="does not exist"):
        cl.Binning.load("/nonexistent/binning.json")


def test_plots(result, tmp_path):
    import matplotlib.pyplot as plt

    from decorr_af.plot.clustering import plot_bins, plot_k_scan, plot_scale_factors

    cfg, res = result
    mc = cl.probes(cfg, data=False)
    binning = cl.Binning.from_dict(res.info["binnings"]["kmeans"])
    a1 = plot_bins(binning, mc)
    # one point per photon at (|eta|, pT), coloured by its bin
    shown = mc.iloc[:20000]
    np.testing.assert_allclose(a1.scatter.get_offsets(), shown[["abs_eta", "pt"]].to_numpy())
    np.testing.assert_array_equal(a1.scatter.get_array(), cl.assign_bins(binning, shown))
    a2 = plot_scale_factors(res, method="grid")
    a4 = plot_scale_factors(res, method="grid", kind="energy_scale")
    grid = res.tables["bins_grid"]
    for art, kind in ((a2, "id_sf"), (a4, "energy_scale")):
        drawn = np.concatenate([np.asarray(c.lines[0].get_ydata()) for c in art.ax.containers])
        want = grid[kind].to_numpy(dtype=float)
        np.testing.assert_allclose(np.sort(drawn.astype(float)), np.sort(want))
    a3 = plot_k_scan(res)
    assert set(a3.lines) == {"kmeans", "gmm"}
    scan = res.tables["k_scan"]
    for method, line in a3.lines.items():
        t = scan[scan["method"] == method]
        np.testing.assert_allclose(line.get_xdata(), t["n_bins"])
        np.testing.assert_allclose(line.get_ydata(), t["closure"])
    assert a3.reference.get_ydata()[0] == pytest.approx(res.metrics["grid.closure"])
    for art in (a1, a2, a3, a4):
        art.ax.figure.savefig(tmp_path / "figure.png")  # renders without error
    with pytest.raises(ConfigError, match="closure or spread"):
        plot_k_scan(res, quantity="auc")
    with pytest.raises(ConfigError, match="id_sf or energy_scale"):
        plot_scale_factors(res, method="grid", kind="spread")
    plt.close("all")

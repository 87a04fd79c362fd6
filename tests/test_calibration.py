from __future__ import annotations

import numpy as np
import pytest
from conftest import make_toys

from decorr_af.errors import ConfigError, InputFileError
from decorr_af.workflows import calibration as cal
from decorr_af.workflows.base import RunResult

MLP = {"hidden": [32, 32], "loss": "huber", "epochs": 8, "batch_size": 256, "lr": 2e-3}
BDT = {"n_estimators": 80, "max_depth": 4, "learning_rate": 0.15}


@pytest.fixture(scope="module")
def zee_result(tmp_path_factory):
    """Own photon and Z→ee samples (data mismodelled, no truth in data) and one run."""
    work = make_toys(tmp_path_factory.mktemp("calib"),
                     (("photons", "mc", 8000, 27183), ("photons", "data", 8000, 31416),
                      ("zee", "mc", 16000, 16180), ("zee", "data", 16000, 14142)))  # fmt: skip
    cfg = cal.Config(
        mc_files=(str(work / "photons_mc" / "*.root"),),
        data_files=(str(work / "photons_data" / "*.root"),),
        zee_mc_files=(str(work / "zee_mc" / "*.root"),),
        zee_data_files=(str(work / "zee_data" / "*.root"),),
        models=("baseline_bdt", "shapes_mlp", "disco_mlp"),
        mlp=MLP,
        bdt=BDT,
        strength=20.0,
        device="cpu",
    )
    res = cal.run(cfg, seed=4, out=work / "res")
    return work, cfg, res


def test_zee_scales_of_every_model(zee_result):
    work, cfg, res = zee_result
    m = res.metrics
    back = RunResult.load(work / "res")
    assert back.metrics == pytest.approx(m, nan_ok=True)
    tab = back.tables["zee_scales"]
    assert set(tab.model) == {"raw", *cfg.models}
    assert len(tab) == (len(cfg.models) + 1) * (len(cfg.zee_eta_edges) - 1)
    for name in ("raw", *cfg.models):
        assert np.isfinite(m[f"{name}.alpha"])
        assert m[f"{name}.alpha_err"] > 0
        assert m[f"{name}.data_mc_gap"] == m[f"{name}.alpha"]
        assert np.isfinite(m[f"{name}.cprime"])
        assert len(back.arrays[f"{name}.mee_data"]) == m["zee.n_pairs_data"]
    # more material in data lowers its raw response: a significant negative scale
    assert m["raw.alpha"] < -3 * m["raw.alpha_err"]
    # every regression improves the electron MC resolution over raw × constant
    for name in cfg.models:
        assert m[f"{name}.resolution_mc_ee"] < m["raw.resolution_mc_ee"]
    # baseline inputs are the ATLAS MVA-calibration variables that the toy writes
    assert {"E0", "E1", "E2", "E3", "conversionRadius", "cellEtaOffset"} <= set(
        back.info["features"]["baseline"]
    )
    assert not set(back.info["features"]["baseline"]) & set(cfg.shape_features)


def test_calibration_plots(zee_result, tmp_path):
    import matplotlib.pyplot as plt

    from decorr_af.plot.calibration import (
        plot_mee,
        plot_ratio_distributions,
        plot_response,
        plot_zee_scales,
    )

    _, cfg, res = zee_result
    art = plot_response(res, variable="pt", quantity="resolution")
    assert set(art.mc) == set(cfg.models)
    assert art.rax is not None
    art2 = plot_ratio_distributions(res, models=["baseline_bdt", "shapes_mlp"])
    assert len(art2.lines) == 2
    art3 = plot_zee_scales(res, quantity="alpha")
    assert set(art3.lines) == {"raw", *cfg.models}
    art4 = plot_mee(res, model="shapes_mlp")
    # the values drawn are the result's: resolution per pT bin, ratio to the first model
    binned = res.tables["binned"]
    binned = binned[binned["variable"] == "pt"]
    first = next(iter(art.mc))
    for name, bars in art.mc.items():
        want = binned.loc[binned["model"] == name, "resolution_mc"].to_numpy()
        np.testing.assert_allclose(np.asarray(bars.lines[0].get_ydata(), float), want)
    np.testing.assert_allclose(art.ratio[first].lines[0].get_ydata(), 1.0)
    # E_pred/E_true densities integrate to one
    for step in art2.lines.values():
        values, edges = step.get_data().values, step.get_data().edges
        assert np.sum(values * np.diff(edges)) == pytest.approx(1.0, rel=1e-6)
    scales = res.tables["zee_scales"]
    for name, bars in art3.lines.items():
        want = scales.loc[scales["model"] == name, "alpha"].to_numpy()
        np.testing.assert_allclose(np.asarray(bars.lines[0].get_ydata(), float), want)
    # m_ee: data points are the data histogram, the MC is normalised to the data
    h = res.hists["mee"][{"model": "shapes_mlp", "dataset": "data"}]
    np.testing.assert_allclose(art4.data.lines[0].get_ydata(), h.values())
    assert art4.mc.get_data().values.sum() == pytest.approx(h.values().sum(), rel=1e-9)
    for a in (art, art2, art3, art4):
        a.ax.figure.savefig(tmp_path / "figure.png")  # renders without error
    with pytest.raises(ConfigError, match="not in the result"):
        plot_mee(res, model="nope")
    with pytest.raises(ConfigError, match="alpha or cprime"):
        plot_zee_scales(res, quantity="beta")
    plt.close("all")


@pytest.mark.slow
def test_no_mismodelling_gives_alpha_compatible_with_zero(zee_result, tmp_path):
    """Closure: data generated without mismodelling (other seeds) gives α ≈ 0, c′ ≈ 0."""
    from decorr_af.data import generate

    _, cfg, _ = zee_result
    generate(tmp_path / "ph", sample="photons", kind="data", events=8000, seed=60221)
    generate(tmp_path / "ee", sample="zee", kind="data", events=16000, seed=66260)
    res = cal.run(cfg.replace(data_files=(str(tmp_path / "ph" / "*.root"),),
                              zee_data_files=(str(tmp_path / "ee" / "*.root"),)), seed=5)  # fmt: skip
    for name in ("raw", *cfg.models):
        m = res.metrics
        assert abs(m[f"{name}.alpha"]) < 4 * m[f"{name}.alpha_err"], name
        assert abs(m[f"{name}.cprime"]) < 4 * m[f"{name}.cprime_err"] + 0.005, name


def test_photon_training_transferred_to_electrons(zee_result):
    """``zee_training="photon"``: the photon models themselves are checked on Z→ee."""
    _, cfg, electron = zee_result
    res = cal.run(cfg.replace(models=("baseline_bdt",), zee_training="photon"), seed=4)
    assert "zee" not in res.info  # no electron retraining
    assert np.isfinite(res.metrics["baseline_bdt.alpha"])
    # electrons shower earlier and lose energy differently from photons: the
    # photon calibration resolves electrons worse than the electron training does
    e_res = electron.metrics["baseline_bdt.resolution_mc_ee"]
    assert res.metrics["baseline_bdt.resolution_mc_ee"] > e_res


def test_truth_is_never_requested_for_data(zee_result, monkeypatch):
    """Every data-side read asks for no truth; data tables that hold truth are refused."""
    from decorr_af.workflows import _calib_models as cm

    work, cfg, _ = zee_result
    calls = []
    for name in ("load_photons", "load_electrons"):
        real = getattr(cm, name)

        def spy(files, *, drop_truth=False, _real=real, _name=name, **kw):
            calls.append((_name, tuple(files), drop_truth))
            return _real(files, drop_truth=drop_truth, **kw)

        monkeypatch.setattr(cm, name, spy)
    cal.run(cfg.replace(models=("baseline_bdt",), max_events=3000), seed=1)
    data = [c for c in calls if "data" in c[1][0]]
    assert {c[0] for c in data} == {"load_photons", "load_electrons"}
    assert all(c[2] for c in data), data
    assert not any(c[2] for c in calls if "_mc" in c[1][0])  # MC keeps its truth

    # a data table with a truth column (a broken reader) is refused, not used
    real, mc_glob = cm.load_photons, (str(work / "photons_mc" / "*.root"),)
    monkeypatch.setattr(cm, "load_photons", lambda files, *, drop_truth=False: real(mc_glob))
    with pytest.raises(InputFileError, match="truth column"):
        cm.load_samples(cfg, seed=0)


def test_run_on_shared_samples_saves_and_plots(sample_dir, tmp_path):
    cfg = cal.Config(
        mc_files=(str(sample_dir / "photons_mc" / "*.root"),),
        data_files=(str(sample_dir / "photons_data" / "*.root"),),
        models=("binned", "shapes_bdt", "reweighted_bdt"),
        bdt=BDT,
        max_events=3000,
    )
    res = cal.run(cfg, seed=2, out=tmp_path / "res")
    back = RunResult.load(tmp_path / "res")
    assert back.metrics == pytest.approx(res.metrics, nan_ok=True)
    assert set(back.saved_models) == {"shapes_bdt", "reweighted_bdt"}
    assert res.metrics["reweighting.ks_max_after"] < res.metrics["reweighting.ks_max_before"]
    for m in cfg.models:
        assert 0.97 < res.metrics[f"{m}.response_mc"] < 1.03
        assert 0 <= res.metrics[f"{m}.pred_ks"] <= 1
        assert f"{m}.alpha" not in res.metrics  # no Z->ee files: no data/MC scale
    tab = back.tables["binned"]
    assert set(tab.variable) == {"abs_eta", "pt"}
    assert len(tab) == len(cfg.models) * (len(cfg.eta_edges) + len(cfg.pt_edges) - 2)
    n_in = len(back.info["features"]["shapes"])
    pred = back.load_model("shapes_bdt").predict(np.zeros((2, n_in)))
    assert pred.shape == (2,)
    import pandas as pd

    from decorr_af.plot.calibration import plot_gap_vs_mismodelling

    gap = pd.DataFrame({"mismodelling": [0, 1, 0, 1], "model": ["a", "a", "b", "b"],
                        "gap": [0, 0.01, 0, 0.002], "gap_err": [0.001] * 4})  # fmt: skip
    art3 = plot_gap_vs_mismodelling(gap)
    assert set(art3.lines) == {"a", "b"}
    with pytest.raises(ConfigError, match="zee_mc_files"):
        cal.gap_vs_mismodelling(cfg, workdir=tmp_path)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"models": ["shapes_gnn"]}, "unknown model 'shapes_gnn'"),
        ({"shape_features": ["Reta", "truth_e"]}, "truth column 'truth_e'"),
        ({"test_fraction": 1.5}, "test_fraction"),
        ({"eta_edges": [1.0, 0.5]}, "eta_edges"),
        ({"strength": -1}, "strength"),
        ({"zee_training": "muon"}, "zee_training"),
        ({"zee_mc_files": ["a.root"]}, "given together"),
        ({"calo_features": ["E1", "truthType"]}, "truth column 'truthType'"),
        ({"zee_window": [100, 80]}, "zee_window"),
    ],
)
def test_config_errors(changes, match):
    with pytest.raises(ConfigError, match=match):
        cal.Config.from_dict(changes)


class _FitRecorder:
    """Stands in for the MLP: records the ``fit`` inputs instead of training."""

    def __init__(self, calls: list, penalty=None):
        self.calls, self.penalty = calls, penalty

    def fit(self, X, y, *, sample_weight=None, domain_X=None, penalty_weight=None):
        self.calls.append(
            {"X": np.asarray(X), "w": sample_weight, "pw": penalty_weight, "dom": domain_X}
        )
        return self


def test_domain_penalty_compares_like_with_like(tmp_path, monkeypatch):
    """The penalty's MC and data rows are one physical population.

    Regression test: the penalty compared truth-selected, identified MC photons with
    identified data (fakes included, ID cut on the mismodelled shapes), populations
    that differ in η, E and conversions although the truth physics is identical.
    """
    from decorr_af.workflows import _calib_models as cm

    specs = (("photons", "mc", 12000, 5150), ("photons", "data", 12000, 6160))
    make_toys(tmp_path, specs, mismodelling=1.5, name="{kind}")
    cfg = cal.Config(
        mc_files=(str(tmp_path / "mc" / "*.root"),),
        data_files=(str(tmp_path / "data" / "*.root"),),
        models=("disco_mlp",),
        device="cpu",
    )
    s = cm.load_samples(cfg, seed=3)
    calls: list = []
    monkeypatch.setattr(cm, "make_model", lambda config, spec, **kw: _FitRecorder(calls))
    cm.train_models(cfg, s, strength=10.0, seed=3)
    (call,) = calls
    pw = call["pw"] if call["pw"] is not None else call["w"]
    mc, dom = call["X"][np.asarray(pw) > 0], np.asarray(call["dom"])
    assert len(mc) > 1000
    assert len(dom) > 1000
    # η is not mismodelled (material changes E and conversions, not the direction)
    assert cfg.base_features[0] == "eta"
    a, b = np.abs(mc[:, 0]), np.abs(dom[:, 0])
    pull = abs(a.mean() - b.mean()) / np.sqrt(a.var() / len(a) + b.var() / len(b))
    assert pull < 4.0
    # the MC side holds the fakes of the reco selection too (data cannot be truth-selected)
    assert len(mc) == len(s.mc_ref)
    assert 0.3 < s.metrics["selection.mc_purity_domain"] < 0.98
    # the main loss still fits the prompt, identified MC photons only
    assert np.count_nonzero(call["w"]) == len(s.mc_train)

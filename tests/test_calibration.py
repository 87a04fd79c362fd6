from __future__ import annotations

import numpy as np
import pytest

from decorr_af.errors import ConfigError
from decorr_af.workflows import calibration as cal
from decorr_af.workflows.base import RunResult

MLP = {"hidden": [32, 32], "loss": "huber", "epochs": 8, "batch_size": 256, "lr": 2e-3}
BDT = {"n_estimators": 80, "max_depth": 4, "learning_rate": 0.15}


@pytest.fixture(scope="module")
def gap_table(tmp_path_factory):
    """Own MC sample and data toys at mismodelling 0 and 1.5 (same data seed)."""
    from decorr_af.data import generate

    work = tmp_path_factory.mktemp("calib")
    generate(work / "mc", sample="photons", kind="mc", events=7000, files=1, seed=8831)
    cfg = cal.Config(
        mc_files=(str(work / "mc" / "*.root"),),
        data_files=(str(work / "mc" / "*.root"),),  # replaced per mismodelling
        models=("baseline_bdt", "shapes_mlp", "disco_mlp"),
        mlp=MLP,
        bdt=BDT,
        strength=20.0,
        device="cpu",
    )
    return cal.gap_vs_mismodelling(
        cfg, mismodellings=[0.0, 1.5], seed=4, workdir=work / "data", events=7000
    )


def _row(tab, mis, model):
    r = tab[(tab.mismodelling == mis) & (tab.model == model)]
    assert len(r) == 1
    return r.iloc[0]


def test_shapes_beat_baseline_resolution_on_mc(gap_table):
    for mis in (0.0, 1.5):
        base = _row(gap_table, mis, "baseline_bdt")
        shapes = _row(gap_table, mis, "shapes_mlp")
        assert shapes.resolution_mc < base.resolution_mc


def test_no_gap_without_mismodelling(gap_table):
    for model in ("baseline_bdt", "shapes_mlp", "disco_mlp"):
        r = _row(gap_table, 0.0, model)
        assert abs(r.gap) < 3.0 * r.gap_err, (model, r.gap, r.gap_err)


def test_domain_decorrelation_reduces_gap(gap_table):
    plain = _row(gap_table, 1.5, "shapes_mlp")
    disco = _row(gap_table, 1.5, "disco_mlp")
    base = _row(gap_table, 1.5, "baseline_bdt")
    assert plain.gap_significance > 3.0
    assert abs(disco.gap) < abs(plain.gap)
    assert abs(base.gap) < 3.0 * base.gap_err  # η, E, conversion only: shapes cannot bias it


def test_run_on_shared_samples_saves_and_plots(sample_dir, tmp_path):
    import matplotlib.pyplot as plt

    from decorr_af.plot.calibration import (
        plot_gap_vs_mismodelling,
        plot_ratio_distributions,
        plot_response,
    )

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
    assert set(back.models) == {"shapes_bdt", "reweighted_bdt"}
    assert res.metrics["reweighting.ks_max_after"] < res.metrics["reweighting.ks_max_before"]
    for m in cfg.models:
        assert 0.97 < res.metrics[f"{m}.response_mc"] < 1.03
        assert np.isfinite(res.metrics[f"{m}.data_mc_gap_err"])
    tab = back.tables["binned"]
    assert set(tab.variable) == {"abs_eta", "pt"}
    assert len(tab) == len(cfg.models) * (len(cfg.eta_edges) + len(cfg.pt_edges) - 2)
    pred = back.load_model("shapes_bdt").predict(
        np.zeros((2, len(cfg.base_features) + len(cfg.shape_features)))
    )
    assert pred.shape == (2,)

    art = plot_response(back, variable="pt", quantity="resolution")
    assert set(art.mc) == set(cfg.models)
    assert art.rax is not None
    art.ax.figure.savefig(tmp_path / "resp.png")
    art2 = plot_ratio_distributions(back, models=["binned", "shapes_bdt"])
    assert len(art2.lines) == 4
    art2.ax.figure.savefig(tmp_path / "dist.png")
    import pandas as pd

    gap = pd.DataFrame(
        {
            "mismodelling": [0, 1, 0, 1],
            "model": ["a", "a", "b", "b"],
            "gap": [0, 0.01, 0, 0.002],
            "gap_err": [0.001] * 4,
        }
    )
    art3 = plot_gap_vs_mismodelling(gap)
    assert set(art3.lines) == {"a", "b"}
    art3.ax.figure.savefig(tmp_path / "gap.png")
    assert all((tmp_path / f).stat().st_size > 1000 for f in ("resp.png", "dist.png", "gap.png"))
    with pytest.raises(ConfigError, match="not in the result"):
        plot_ratio_distributions(back, models=["nope"])
    plt.close("all")


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"models": ["shapes_gnn"]}, "unknown model 'shapes_gnn'"),
        ({"shape_features": ["Reta", "truth_e"]}, "truth column 'truth_e'"),
        ({"test_fraction": 1.5}, "test_fraction"),
        ({"eta_edges": [1.0, 0.5]}, "eta_edges"),
        ({"strength": -1}, "strength"),
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
    from decorr_af.data import generate
    from decorr_af.workflows import _calib_models as cm

    for kind, seed in (("mc", 5150), ("data", 6160)):
        generate(tmp_path / kind, sample="photons", kind=kind, events=12000, files=1, seed=seed,
                 mismodelling=1.5)  # fmt: skip
    cfg = cal.Config(
        mc_files=(str(tmp_path / "mc" / "*.root"),),
        data_files=(str(tmp_path / "data" / "*.root"),),
        models=("disco_mlp",),
        device="cpu",
    )
    s = cm.load_samples(cfg, seed=3)
    calls: list = []
    monkeypatch.setattr(cm, "_mlp", lambda config, seed, penalty=None: _FitRecorder(calls, penalty))
    cm.train_models(cfg, s, strength=10.0, seed=3)
    (call,) = calls
    pw = call["pw"] if call["pw"] is not None else call["w"]
    mc, dom = call["X"][np.asarray(pw) > 0], np.asarray(call["dom"])
    assert len(mc) > 1000
    assert len(dom) > 1000
    # the features that are not mismodelled (|η|, log E, conversion) must agree
    names = list(cfg.base_features)
    assert list(cfg.base_features) == ["eta", "e", "converted"]
    a = np.column_stack([np.abs(mc[:, 0]), np.log(mc[:, 1]), mc[:, 2]])
    b = np.column_stack([np.abs(dom[:, 0]), np.log(dom[:, 1]), dom[:, 2]])
    se = np.sqrt(a.var(axis=0) / len(a) + b.var(axis=0) / len(b))
    pull = np.abs(a.mean(axis=0) - b.mean(axis=0)) / se
    assert pull.max() < 4.0, dict(zip(names, np.round(pull, 1)))
    # the main loss still fits the prompt, identified MC photons only
    assert np.count_nonzero(call["w"]) == len(s.mc_train)

"""Photon-ID workflow: cut-based menu, ABCD closure and an end-to-end DisCo run."""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.errors import ConfigError, InputFileError, MissingBranchError
from decorr_af.workflows import get_workflow, photon_id
from decorr_af.workflows._data import load_photons, train_test_split_idx
from decorr_af.workflows.base import RunResult
from decorr_af.workflows.cutbased import CutMenu

pytest.importorskip("torch")
pytest.importorskip("xgboost")

MODELS = ("cutbased", "plain_mlp", "disco_mlp", "plain_bdt", "disco_bdt")


@pytest.fixture(scope="module")
def pid_result(sample_dir, tmp_path_factory):
    cfg = photon_id.Config(
        mc_files=(str(sample_dir / "photons_mc" / "*.root"),),
        models=MODELS,
        hidden=(32, 32),
        epochs=6,
        batch_size=256,
        lr=3e-3,
        n_estimators=40,
        max_depth=3,
        device="cpu",
    )
    out = tmp_path_factory.mktemp("pid") / "result"
    return photon_id.run(cfg, strength=30.0, seed=4, out=out), out


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"models": ["plain_mlp", "nope"]}, "parameter 'models'"),
        ({"features": ["Reta", "topoetcone20"]}, "protected variable"),
        ({"wp_efficiency": 1.5}, "'wp_efficiency'"),
        ({"fixed_rejection": 0.5}, "'fixed_rejection'"),
        ({"features": ["Reta", "ptcone20"]}, "isolation variable"),
        ({"tight_menu": "loose"}, "'tight_menu'"),
        ({"tight_menu": "nope"}, "unknown menu 'nope'"),
        ({"loose_prime": "loose_prime_9"}, "unknown Loose"),
        ({"isolation_wp": "FixedCutNope"}, "'FixedCutNope'"),
        ({"ml_match": "auc"}, "'ml_match'"),
        ({"iso_gap": -1.0}, "'iso_gap'"),
    ],
)
def test_config_validation(changes, match):
    with pytest.raises(ConfigError, match=match):
        photon_id.Config.from_dict(changes)


def test_missing_files_and_split(tmp_path):
    with pytest.raises(InputFileError, match="no file matches"):
        load_photons(str(tmp_path / "none_*.root"))
    tr, te = train_test_split_idx(100, test_fraction=0.25, seed=3)
    _, te2 = train_test_split_idx(100, test_fraction=0.25, seed=3)
    assert np.array_equal(te, te2)
    assert len(te) == 25
    assert not set(tr) & set(te)
    assert get_workflow("photon_id") is photon_id


@pytest.fixture(scope="module")
def small_mc(tmp_path_factory):
    """One small generated MC photon file (seed not used by any tuning)."""
    from decorr_af.data import generate

    (path,) = generate(
        tmp_path_factory.mktemp("small_mc"), sample="photons", kind="mc", events=600, seed=8819
    )
    return path


@pytest.mark.parametrize("pattern", ["glob", "path"])
def test_missing_branch_names_file_and_key(small_mc, tmp_path, pattern):
    from test_bad_input import rewrite_photon_file

    bad = rewrite_photon_file(
        small_mc, tmp_path / "noreta.root", drop=("AnalysisPhotonsAuxDyn.Reta",)
    )
    files = str(tmp_path / "*.root") if pattern == "glob" else str(bad)
    cfg = photon_id.Config(mc_files=(files,), models=("cutbased",))
    with pytest.raises(MissingBranchError, match="mc_files") as err:
        photon_id.run(cfg, seed=2)
    assert str(bad) in str(err.value)
    assert "AnalysisPhotonsAuxDyn.Reta" in str(err.value)


@pytest.mark.parametrize("weight", [0.0, -1.0])
def test_nonpositive_weights_name_weights_and_file(small_mc, tmp_path, weight):
    from test_bad_input import rewrite_photon_file

    bad = rewrite_photon_file(small_mc, tmp_path / "w.root", weight=weight)
    cfg = photon_id.Config(mc_files=(str(bad),), models=("cutbased", "plain_bdt"))
    with pytest.raises(
        InputFileError, match=r"mc_files \[.*w\.root'\]: event weights \('weight'\)"
    ):
        photon_id.run(cfg, seed=2)


def test_reads_only_the_features_it_needs():
    cfg = photon_id.Config(features=("Reta", "Rphi", "abs_eta"), protected="iso_excess")
    feats = photon_id.table_features(cfg)
    assert {"conversionType", "Reta", "weta2", "Rhad", "Eratio", "topoetcone20"} <= set(feats)
    assert not {"abs_eta", "iso_excess", "pt", "mu"} & set(feats)  # derived / book-keeping


def test_end_to_end_decorrelation(pid_result):
    res, _ = pid_result
    m = res.metrics
    keys = ("auc", "r50", "dcor", "abcd_nonclosure", "abcd_nonclosure_err", "eff_at_rej")
    keys += ("eff_at_tight_rej", "rej_at_tight_eff", "r_bkg", "r_bkg_err", "abcd_estimate")
    keys += ("inv_jsd_ceiling", "inv_jsd_ceiling_lo", "inv_jsd_ceiling_hi")
    for name in MODELS:
        for key in keys:
            assert np.isfinite(m[f"{name}.{key}"]), f"{name}.{key}"
        assert m[f"{name}.abcd_nonclosure"] == pytest.approx(m[f"{name}.r_bkg"] - 1.0)
        # ABCD with signal leakage and the fake-MC R_bkg reproduces the MC purity exactly
        assert 0.5 < m[f"{name}.purity"] <= 1.0
        assert m[f"{name}.purity_abcd_rcorr"] == pytest.approx(m[f"{name}.purity"], rel=1e-9)
        assert np.isfinite(m[f"{name}.purity_abcd"])
        lo, hi = m[f"{name}.inv_jsd_ceiling_lo"], m[f"{name}.inv_jsd_ceiling_hi"]
        assert lo <= m[f"{name}.inv_jsd_ceiling"] <= hi
    # classifiers learn something
    assert m["plain_mlp.auc"] > 0.8
    assert m["plain_bdt.auc"] > 0.8
    # the Tight menu tuned on training photons reaches ~ its E_T-dependent target on test photons
    assert 0.78 < m["tight.eff"] < 0.95
    assert m["loose.eff"] == pytest.approx(0.97, abs=0.03)
    assert m["tight.rej"] > 2.0 * m["loose.rej"]
    assert m["cutbased.wp_eff"] == m["tight.eff"]
    assert m["cutbased.eff_at_tight_rej"] == m["tight.eff"]
    a = res.arrays
    fake = a["label"] == 0
    for name in ("plain_mlp", "plain_bdt"):
        # the unpenalised shower-shape classifiers beat the rectangular cuts
        assert m[f"{name}.eff_at_tight_rej"] > m["tight.eff"]
    # an ML "Tight" is the score cut at the Tight menu's fake rejection
    h = res.hists["id_vs_iso"]
    for name in ("plain_mlp", "disco_bdt"):
        f_pass = h[{"model": name, "prompt": 0, "passed": 1}].sum(flow=True).value
        f_all = h[{"model": name, "prompt": 0}].sum(flow=True).value
        assert f_all / f_pass == pytest.approx(m["tight.rej"], rel=0.03)
    # ABCD regions: Tight / Loose' disjoint subsets of Loose, isolated / non-isolated disjoint
    assert not (a["pass_tight"] & a["pass_loose_prime"]).any()
    assert not ((a["pass_tight"] | a["pass_loose_prime"]) & ~a["pass_loose"]).any()
    assert not (a["is_iso"] & a["is_noniso"]).any()
    assert m["cutbased.abcd_A"] == pytest.approx(
        a["weight"][fake & a["pass_tight"] & a["is_iso"]].sum()
    )
    # DisCo reduces the dependence on isolation for Loose fakes (the ABCD population)
    assert m["disco_mlp.dcor"] < m["plain_mlp.dcor"]
    assert m["disco_bdt.dcor"] < m["plain_bdt.dcor"]
    n_test = res.info["n_test"]
    for key in ("label", "isolation", "mu", "pt", "eta", "weight", "score_disco_mlp"):
        assert res.arrays[key].shape == (n_test,)
    h = res.hists["id_vs_iso"]
    assert h[{"model": "plain_mlp"}].sum(flow=True).value == pytest.approx(
        res.arrays["weight"].sum(), rel=1e-3
    )


def test_result_reloads(pid_result):
    res, out = pid_result
    back = RunResult.load(out)
    assert back.workflow == "photon_id"
    assert back.metrics == pytest.approx(res.metrics, nan_ok=True)
    assert np.array_equal(back.arrays["score_plain_bdt"], res.arrays["score_plain_bdt"])
    assert back.hists["id_vs_mu"] == res.hists["id_vs_mu"]
    assert "cutbased_thresholds" in back.tables
    assert "tight_efficiency" in back.tables
    menu = CutMenu.from_dict(back.info["menu"])  # the tuned Tight menu travels with the result
    assert menu.name == "tight"
    assert menu.parent.name == "loose"
    cfg = photon_id.Config.from_dict(back.config)
    assert cfg.models == MODELS
    probe = np.zeros((2, len(cfg.features)))
    for name in ("plain_mlp", "disco_mlp", "disco_bdt"):
        model = back.load_model(name)
        assert model.predict_proba(probe).shape == (2, 2)
        # the reloaded model is the trained one: same predictions as in memory
        np.testing.assert_allclose(
            model.predict_proba(probe), res.estimators[name].predict_proba(probe), rtol=1e-6
        )


@pytest.mark.slow
def test_disco_brings_r_bkg_towards_one(tmp_path):
    """Plain ML's Tight-like cut correlates with isolation for fakes; DisCo removes most of it."""
    from decorr_af.data import generate

    generate(tmp_path / "mc", sample="photons", kind="mc", events=40000, files=1, seed=27191)
    cfg = photon_id.Config(
        mc_files=(str(tmp_path / "mc" / "*.root"),),
        models=("cutbased", "plain_mlp", "disco_mlp"),
        hidden=(32, 32),
        epochs=6,
        batch_size=256,
        lr=3e-3,
        device="cpu",
        jsd_permutations=30,
    )
    m = photon_id.run(cfg, strength=30.0, seed=11).metrics
    # Tight vs Loose'4 with FixedCutLoose: the strip variables barely know about isolation
    assert abs(m["cutbased.r_bkg"] - 1) < 3 * m["cutbased.r_bkg_err"]
    # the plain MLP at the Tight menu's rejection: R_bkg well above one
    assert m["plain_mlp.r_bkg"] - 1 > 4 * m["plain_mlp.r_bkg_err"]
    # DisCo: much closer to one, still more efficient than Tight at Tight's rejection
    assert abs(m["disco_mlp.r_bkg"] - 1) < 0.5 * (m["plain_mlp.r_bkg"] - 1)
    assert m["disco_mlp.eff_at_tight_rej"] > m["tight.eff"]
    # ML "Tight" at the Tight menu's prompt efficiency instead: same efficiency, more rejection
    changes = {"ml_match": "efficiency", "models": ["plain_mlp"]}
    res = photon_id.run(photon_id.Config.from_dict({**cfg.to_dict(), **changes}), seed=11)
    h = res.hists["id_vs_iso"][{"model": "plain_mlp"}]
    eff = h[{"prompt": 1, "passed": 1}].sum(flow=True).value / h[{"prompt": 1}].sum(flow=True).value
    assert eff == pytest.approx(res.metrics["tight.eff"], abs=0.005)
    assert res.metrics["plain_mlp.rej_at_tight_eff"] > 1.5 * res.metrics["tight.rej"]

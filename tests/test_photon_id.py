"""Photon-ID workflow: cut-based menu, ABCD closure and an end-to-end DisCo run."""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.errors import ConfigError, InputFileError
from decorr_af.workflows import get_workflow, photon_id
from decorr_af.workflows._data import load_photons, train_test_split_idx
from decorr_af.workflows.base import RunResult
from decorr_af.workflows.cutbased import CutBasedID

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


def test_cutbased_menu_is_rectangular_and_reaches_target():
    rng = np.random.default_rng(812)
    n = 12000
    y = rng.uniform(size=n) < 0.5
    X = rng.normal(size=(n, 3)) + np.where(y[:, None], [0.0, 1.0, 0.0], [1.0, 0.0, 0.3])
    eta = rng.uniform(-2.4, 2.4, n)
    cut = CutBasedID(target_efficiency=0.8, feature_names=["a", "b", "c"])
    cut.fit(X[: n // 2], y[: n // 2], eta=eta[: n // 2])
    u = cut.decision_function(X[n // 2 :], eta=eta[n // 2 :])
    menu = cut.predict(X[n // 2 :], eta=eta[n // 2 :]).astype(bool)
    assert np.array_equal(menu, u >= 0.2)  # the score family reproduces the rectangular cuts
    yt = y[n // 2 :]
    assert menu[yt].mean() == pytest.approx(0.8, abs=0.03)
    assert menu[~yt].mean() < 0.5
    assert cut.cut_sides() == {"a": "<=", "b": ">=", "c": "<="}
    table = cut.thresholds_table()
    assert list(table.columns[:3]) == ["abs_eta_lo", "abs_eta_hi", "per_variable_eff"]
    with pytest.raises(ConfigError, match="target_efficiency"):
        CutBasedID(target_efficiency=1.2).fit(X, y, eta=eta)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"models": ["plain_mlp", "nope"]}, "parameter 'models'"),
        ({"features": ["Reta", "topoetcone20"]}, "protected variable"),
        ({"wp_efficiency": 1.5}, "'wp_efficiency'"),
        ({"fixed_rejection": 0.5}, "'fixed_rejection'"),
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


def test_end_to_end_decorrelation(pid_result):
    res, _ = pid_result
    m = res.metrics
    for name in MODELS:
        for key in ("auc", "r50", "dcor", "abcd_nonclosure", "abcd_nonclosure_err", "eff_at_rej"):
            assert np.isfinite(m[f"{name}.{key}"]), f"{name}.{key}"
    # classifiers learn something
    assert m["plain_mlp.auc"] > 0.8
    assert m["plain_bdt.auc"] > 0.8
    # the cut-based menu tuned on training photons reaches its target on the test photons
    assert m["cutbased.wp_eff"] == pytest.approx(res.config["wp_efficiency"], abs=0.03)
    # DisCo reduces the dependence on isolation for fakes ...
    assert m["disco_mlp.dcor"] < 0.6 * m["plain_mlp.dcor"]
    assert m["disco_bdt.dcor"] < m["plain_bdt.dcor"]
    # ... and the ABCD non-closure
    assert abs(m["disco_mlp.abcd_nonclosure"]) < abs(m["plain_mlp.abcd_nonclosure"])
    assert m["plain_mlp.abcd_nonclosure"] > 2 * m["plain_mlp.abcd_nonclosure_err"]
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

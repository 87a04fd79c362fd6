"""Models as data (issue #11): specs, presets, registries, and λ carried by the config."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from decorr_af.decorrelation.penalties import DisCo
from decorr_af.errors import ConfigError
from decorr_af.models.registry import ESTIMATORS, register_estimator
from decorr_af.workflows import _calib_models as cm
from decorr_af.workflows import _classify, calibration, photon_id, tth
from decorr_af.workflows.base import RunResult

SMALL = {"hidden": (8,), "epochs": 1, "batch_size": 256, "n_estimators": 5, "device": "cpu"}


class SpecTestDisCo(DisCo):
    """A registered custom penalty kind (registered by subclassing)."""


class CentroidClassifier(ClassifierMixin, BaseEstimator):
    """A tiny custom classifier family: the projection on the class-mean difference."""

    def __init__(self, shrink: float = 0.0, penalty=None, random_state: int = 0) -> None:
        self.shrink = shrink
        self.penalty = penalty
        self.random_state = random_state

    def fit(self, X, y, *, protected=None, sample_weight=None):
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight)
        mu = [np.average(X[y == c], axis=0, weights=w[y == c]) for c in (0, 1)]
        self.direction_ = (1.0 - self.shrink) * (mu[1] - mu[0])
        self.seen_protected_ = protected is not None
        return self

    def predict_proba(self, X):
        p = 1.0 / (1.0 + np.exp(-np.clip(X @ self.direction_, -50, 50)))
        return np.c_[1.0 - p, p]


@pytest.fixture
def centroid_family():
    register_estimator("centroid", classifier=CentroidClassifier)
    yield "centroid"
    ESTIMATORS.pop("centroid")


# -- presets and spec mappings build the same estimators -------------------------------
def _same(a, b) -> None:
    assert type(a) is type(b)
    pa, pb = a.get_params(), b.get_params()
    assert pa.keys() == pb.keys()
    for key in pa:
        assert pa[key] == pb[key], key


@pytest.mark.parametrize("name", [*_classify.ML_MODELS, "adv_mlp"])
def test_classifier_presets_equal_their_spec_mappings(name):
    pytest.importorskip("torch")
    pytest.importorskip("xgboost")
    cfg = tth.Config(models=(name,), strength=7.0, bdt_scale=0.5, adversary_scale=0.1, **SMALL)
    (preset,) = cfg.model_specs()
    as_dict = cfg.replace(models=(preset.to_dict(),))
    (spec,) = as_dict.model_specs()
    assert spec == preset
    _same(_classify.build_model(preset, cfg, seed=3), _classify.build_model(spec, as_dict, seed=3))


def test_classifier_presets_carry_the_old_knobs_as_scale():
    pytest.importorskip("torch")
    pytest.importorskip("xgboost")
    cfg = photon_id.Config(strength=20.0, bdt_scale=0.5, adversary_scale=0.1, **SMALL)
    specs = {s.name: s for s in cfg.model_specs()}
    assert specs["disco_mlp"].penalty_strength(cfg.strength) == 20.0
    assert specs["disco_bdt"].penalty_strength(cfg.strength) == 10.0
    assert specs["adversary_mlp"].penalty_strength(cfg.strength) == pytest.approx(2.0)
    assert specs["plain_mlp"].penalty_strength(cfg.strength) is None
    est = _classify.build_model(specs["adversary_mlp"], cfg, seed=1)
    assert est.penalty.strength == pytest.approx(2.0)
    assert (est.penalty.lr, est.penalty.steps_per_batch) == (cfg.adversary_lr, cfg.adversary_steps)
    assert est.hidden == (8,)
    assert est.epochs == 1
    assert est.random_state == 1
    bdt = _classify.build_model(specs["disco_bdt"], cfg, seed=1)
    assert bdt.penalty == DisCo(strength=10.0, on="background")
    assert bdt.learning_rate == cfg.bdt_learning_rate
    assert bdt.n_estimators == 5


@pytest.mark.parametrize("name", [m.value for m in calibration.Model] + ["adv_mlp"])
def test_calibration_presets_equal_their_spec_mappings(name):
    pytest.importorskip("torch")
    pytest.importorskip("xgboost")
    cfg = calibration.Config(models=(name,), strength=4.0, adversary={"lr": 5e-3}, device="cpu")
    (preset,) = cfg.model_specs()
    as_dict = cfg.replace(models=(preset.to_dict(),))
    (spec,) = as_dict.model_specs()
    assert spec == preset
    if preset.estimator in cm.SPECIAL_BUILDERS:
        return
    a, b = cm.make_model(cfg, preset, seed=2), cm.make_model(as_dict, spec, seed=2)
    _same(a, b)
    if preset.penalty is not None:
        assert a.penalty.strength == 4.0


def test_a_spec_can_start_from_a_preset_and_override_it():
    cfg = tth.Config(
        models=(
            {"name": "soft", "preset": "disco_bdt", "penalty": {"scale": 0.1}},
            {"name": "fixed", "preset": "disco_mlp", "penalty": {"strength": 3.0}},
            {"name": "wide", "preset": "plain_mlp", "params": {"hidden": [32, 32]}},
        ),
        bdt_scale=0.5,
        strength=10.0,
    )
    soft, fixed, wide = cfg.model_specs()
    assert soft.penalty.strength_at(10.0) == pytest.approx(1.0)  # the spec's scale wins
    assert fixed.penalty.strength_at(10.0) == 3.0
    assert fixed.penalty.strength_at(99.0) == 3.0
    assert wide.params == {"hidden": [32, 32]}
    assert cfg.model_names == ("soft", "fixed", "wide")


def test_yaml_round_trip_keeps_names_and_specs(tmp_path):
    models = ("cutbased", "adv_mlp", {"name": "x", "estimator": "bdt", "penalty": "DisCo"})
    cfg = photon_id.Config(models=models, bdt_scale=0.3)
    cfg.to_yaml(tmp_path / "c.yaml")
    back = photon_id.Config.from_yaml(tmp_path / "c.yaml")
    assert back == cfg
    assert back.models[:2] == ("cutbased", "adv_mlp")
    assert back.model_specs() == cfg.model_specs()


def test_old_configs_and_result_configs_still_load():
    old = {"models": ["cutbased", "plain_mlp", "adv_mlp", "disco_bdt"], "bdt_scale": 2.0,
           "adversary_scale": 0.1, "strength": 5.0}  # fmt: skip
    cfg = photon_id.Config.from_dict(old)
    specs = {s.name: s for s in cfg.model_specs()}
    assert specs["disco_bdt"].penalty_strength(cfg.strength) == 10.0
    assert specs["adv_mlp"].penalty_strength(cfg.strength) == pytest.approx(0.5)
    names = list(calibration.Config().models)
    assert calibration.Config.from_dict({"models": names}).model_names == tuple(names)


# -- errors name the field ----------------------------------------------------------
@pytest.mark.parametrize(
    ("models", "match"),
    [
        (["plain_mlp", {"name": "x", "estimator": "svm"}], r"'models\[1\]\.estimator'.*'svm'"),
        ([{"name": "x", "estimator": "mlp", "penalty": {"kind": "Nope"}}],
         r"'models\[0\]\.penalty\.kind'.*'Nope'"),
        ([{"name": "x", "estimator": "mlp", "penalty": {"kind": "DisCo", "bogus": 1}}],
         r"'models\[0\]\.penalty'.*bogus"),
        ([{"name": "x", "estimator": "mlp", "penalty": {"kind": "DisCo", "scale": 1, "strength": 2}}],
         r"'models\[0\]\.penalty'.*not both"),
        ([{"name": "x", "estimator": "mlp", "penalty": {"kind": "DisCo", "scale": -1}}],
         r"'models\[0\]\.penalty\.scale' must be >= 0"),
        ([{"name": "x", "estimator": "mlp", "penalty": {"kind": "DomainDisCo"}}],
         r"'models\[0\]\.penalty\.kind'.*'domain'"),
        (["plain_mlp", "plain_mlp"], r"'models\[1\]\.name'.*duplicate"),
        ([{"estimator": "mlp"}], r"'models\[0\]\.name'"),
        ([{"name": "a.b", "estimator": "mlp"}], r"'models\[0\]\.name'"),
        ([{"name": "x", "estimator": "mlp", "colour": "red"}], r"'models\[0\]'.*colour"),
        (["plain_svm"], r"'models': unknown model 'plain_svm' at models\[0\]"),
        ([{"name": "x", "preset": "nope"}], r"'models\[0\]\.preset'"),
        ([{"name": "x", "estimator": "cutbased", "penalty": "DisCo"}], r"'models\[0\]'.*no penalty"),
        ([3], r"'models\[0\]' must be a model name or a mapping"),
        ([], r"'models' is empty"),
    ],
)  # fmt: skip
def test_bad_specs_name_the_field(models, match):
    with pytest.raises(ConfigError, match=match):
        photon_id.Config(models=tuple(models))


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"models": ({"name": "x", "estimator": "mlp", "penalty": "DisCo"},)},
         r"'models\[0\]\.penalty\.kind'.*'protected'"),
        ({"models": ({"name": "x", "estimator": "mlp", "inputs": "raw"},)},
         r"'models\[0\]\.inputs' must be one of"),
        ({"models": ({"name": "x", "estimator": "cutbased"},)}, r"'models\[0\]\.estimator'"),
    ],
)  # fmt: skip
def test_calibration_specs_name_the_field(changes, match):
    with pytest.raises(ConfigError, match=match):
        calibration.Config(**changes)


def test_unknown_estimator_keywords_name_the_field():
    pytest.importorskip("torch")
    cfg = tth.Config(models=({"name": "x", "estimator": "mlp", "params": {"depth": 3}},))
    with pytest.raises(ConfigError, match=r"'models\[0\]\.params'.*'depth'"):
        _classify.build_model(cfg.model_specs()[0], cfg, seed=0)
    cal = calibration.Config(models=("shapes_mlp",), mlp={"hidden": [8], "colour": 1})
    with pytest.raises(ConfigError, match=r"'mlp'.*'colour'"):
        cm.make_model(cal, cal.model_specs()[0], seed=0)


# -- new families and penalty kinds run through a workflow ----------------------------
def test_registered_family_and_penalty_kind_run_in_photon_id(sample_dir, centroid_family):
    pytest.importorskip("torch")
    models = (
        "cutbased",
        {"name": "centroid", "estimator": centroid_family, "params": {"shrink": 0.5},
         "penalty": {"kind": "SpecTestDisCo", "scale": 0.25, "on": "background"}},
        {"name": "custom_disco", "estimator": "mlp", "penalty": {"kind": "spectestdisco"},
         "params": {"epochs": 1}},
    )  # fmt: skip
    cfg = photon_id.Config(
        mc_files=(str(sample_dir / "photons_mc" / "*.root"),), models=models,
        max_events=3000, jsd_permutations=5, **SMALL,
    )  # fmt: skip
    res = photon_id.run(cfg, strength=8.0, seed=1)
    assert res.strength == 8.0
    assert res.config["strength"] == 8.0
    est = res.estimators["centroid"]
    assert isinstance(est, CentroidClassifier)
    assert est.shrink == 0.5
    assert est.seen_protected_
    assert isinstance(est.penalty, SpecTestDisCo)
    assert est.penalty.strength == 2.0
    assert isinstance(res.estimators["custom_disco"].penalty, SpecTestDisCo)
    info = res.info["models"]
    assert info["centroid"]["penalty"] == {
        "kind": "SpecTestDisCo", "scale": 0.25, "on": "background", "strength": 2.0
    }  # fmt: skip
    assert info["custom_disco"]["penalty"]["strength"] == 8.0
    assert info["cutbased"] == {"estimator": "cutbased"}
    for name in ("centroid", "custom_disco", "cutbased"):
        assert 0.5 < res.metrics[f"{name}.auc"] <= 1.0
    assert list(res.hists["id_vs_iso"].axes["model"]) == ["cutbased", "centroid", "custom_disco"]
    assert photon_id.Config.from_dict(res.config).model_specs() == cfg.model_specs()


# -- λ is a config field, the whole way ---------------------------------------------
TOY = """
import dataclasses
from decorr_af.workflows.base import RunResult, WorkflowConfig

@dataclasses.dataclass(frozen=True)
class Config(WorkflowConfig):
    workflow = "toy_spec_workflow"
    strength: float = 1.0
    lr: float = 0.1

def run(config, *, strength=None, seed=0, out=None):
    config = config.with_strength(strength)
    return RunResult("toy_spec_workflow", config.to_dict(), seed, config.strength,
                     metrics={"toy.l": config.strength * config.lr})

@dataclasses.dataclass(frozen=True)
class OldConfig(WorkflowConfig):
    lr: float = 0.1

def old_run(config, *, strength=None, seed=0, out=None):
    return RunResult("old", config.to_dict(), seed, strength, metrics={"toy.l": strength or 0.0})
"""


@pytest.fixture
def toy():
    mod = types.ModuleType("toy_spec_workflow")
    sys.modules[mod.__name__] = mod
    exec(compile(TOY, "toy_spec_workflow.py", "exec"), mod.__dict__)
    yield mod
    del sys.modules[mod.__name__]


def test_scan_points_carry_strength_in_their_config(toy):
    import cloudpickle

    from decorr_af.scan.engine import _run_point, expand_points, point_config

    base = toy.Config(strength=1.0)
    points = expand_points(base, grid={"strength": [0, 2.5], "lr": [0.5]})
    for p in points:
        cfg, kwargs = point_config(base, p["params"])
        assert kwargs == {}
        assert cfg.strength == p["params"]["strength"]
        assert cfg.lr == 0.5
        res = _run_point(cloudpickle.dumps((toy.run, cfg, kwargs)), 3, p, None)
        assert res.config["strength"] == res.strength == p["params"]["strength"]
        assert res.info["scan"]["params"] == p["params"]
    # ids hash λ through params, the config without its scanned λ: old scans resume
    again = expand_points(toy.Config(strength=1.0), grid={"strength": [0, 2.5], "lr": [0.5]})
    assert [p["id"] for p in again] == [p["id"] for p in points]
    assert point_config(base, {"strength": None})[0].strength == 1.0


def test_configs_without_a_strength_field_still_get_the_keyword(toy):
    import cloudpickle

    from decorr_af.scan.engine import _run_point, expand_points, point_config

    old = toy.OldConfig()
    (p,) = expand_points(old, strengths=[4.0])
    cfg, kwargs = point_config(old, p["params"])
    assert cfg == old
    assert kwargs == {"strength": 4.0}
    res = _run_point(cloudpickle.dumps((toy.old_run, cfg, kwargs)), 0, p, None)
    assert res.strength == 4.0


def test_run_strength_keyword_means_replace(toy):
    a = toy.run(toy.Config(), strength=3.0)
    b = toy.run(toy.Config().replace(strength=3.0))
    assert a.config == b.config
    assert a.metrics == b.metrics
    with pytest.raises(ConfigError, match="'strength' must be >= 0"):
        photon_id.Config().with_strength(-1.0)
    with pytest.raises(ConfigError, match="no parameter 'strength'"):
        toy.OldConfig().with_strength(1.0)


def test_scan_point_config_is_validated(toy):
    from decorr_af.scan.engine import expand_points

    with pytest.raises(ConfigError, match="finite and >= 0"):
        expand_points(toy.Config(), strengths=[-1.0])


def test_result_configs_of_old_runs_load(tmp_path):
    """A result saved before specs (base λ in config, run λ beside) still loads."""
    old = photon_id.Config(models=("cutbased", "adv_mlp")).to_dict()
    RunResult("photon_id", old, seed=0, strength=30.0, metrics={"a.b": 1.0}).save(tmp_path / "r")
    back = RunResult.load(tmp_path / "r")
    assert back.strength == 30.0
    cfg = photon_id.Config.from_dict(back.config)
    assert cfg.model_names == ("cutbased", "adv_mlp")


def test_workflow_name_is_public():
    from decorr_af.scan.engine import workflow_name

    assert workflow_name(calibration) == "calibration"


class _Recorder:
    """Stands in for a regressor: records the penalty and the ``fit`` keywords."""

    def __init__(self, penalty):
        self.penalty = penalty

    def fit(self, X, y, *, sample_weight=None, domain_X=None, penalty_weight=None):
        self.keywords = {"domain_X": domain_X is not None, "pw": penalty_weight is not None}
        return self


def test_calibration_records_effective_strengths(sample_dir, monkeypatch):
    models = (
        "disco_mlp",
        {"name": "half", "preset": "disco_bdt", "penalty": {"scale": 0.5}},
        {"name": "fixed", "estimator": "mlp", "inputs": "baseline",
         "penalty": {"kind": "DomainDisCo", "strength": 0.0}},
    )  # fmt: skip
    cfg = calibration.Config(
        mc_files=(str(sample_dir / "photons_mc" / "*.root"),),
        data_files=(str(sample_dir / "photons_data" / "*.root"),),
        models=models,
        strength=6.0,
        device="cpu",
    )
    s = cm.load_samples(cfg, seed=2)

    def make(config, spec, *, seed, strength=None):
        from decorr_af.workflows.specs import build_penalty

        return _Recorder(build_penalty(spec, config.strength if strength is None else strength))

    monkeypatch.setattr(cm, "make_model", make)
    fitted, info = cm.train_models(cfg, s, seed=2)
    strengths = {k: v["penalty"]["strength"] for k, v in info["models"].items()}
    assert strengths == {"disco_mlp": 6.0, "half": 3.0, "fixed": 0.0}
    assert info["models"]["fixed"]["inputs"] == "baseline"
    assert fitted["fixed"].features == info["features"]["baseline"]
    # λ > 0 on an estimator taking penalty_weight: the like-for-like domain rows
    assert fitted["disco_mlp"].estimator.keywords == {"domain_X": True, "pw": True}
    # λ = 0: the plain fit, data rows given but no penalty weights
    assert fitted["fixed"].estimator.keywords == {"domain_X": True, "pw": False}

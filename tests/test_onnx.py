"""ONNX export: onnxruntime reproduces the package's predictions (max abs diff <= 1e-5)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from decorr_af.cli import main
from decorr_af.errors import ConfigError

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (extra [onnx])")
pytest.importorskip("onnx", reason="onnx is not installed (extra [onnx])")

TOL = 1e-5
FEATURES = ["Reta", "Rphi", "weta2", "abs_eta"]


def _data(n: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # float32-representable inputs, so the package and the float32 ONNX input see the same values
    X = pd.DataFrame(
        rng.normal(loc=[0.9, 0.8, 0.01, 1.2], scale=[0.05, 0.05, 0.002, 0.6], size=(n, 4))
        .astype(np.float32)
        .astype(np.float64),
        columns=FEATURES,
    )
    y = (X["Reta"] + 0.03 * rng.normal(size=n) > 0.9).astype(int).to_numpy()
    iso = X["Rphi"].to_numpy() + 0.05 * rng.normal(size=n)
    target = 1.0 + 0.2 * (X["Reta"].to_numpy() - 0.9) + 0.01 * rng.normal(size=n)
    return X, y, iso, target


def _estimator(kind: str) -> object:
    from decorr_af.decorrelation import DisCo
    from decorr_af.models import (
        DecorrelatedClassifier,
        DecorrelatedRegressor,
        DisCoXGBClassifier,
        DisCoXGBRegressor,
    )

    mlp = {"hidden": (16, 8), "epochs": 2, "device": "cpu", "random_state": 0}
    bdt = {"n_estimators": 40, "max_depth": 3, "device": "cpu", "random_state": 0}
    return {
        "mlp_clf": lambda: DecorrelatedClassifier(penalty=DisCo(strength=2.0), **mlp),
        "mlp_clf_gelu": lambda: DecorrelatedClassifier(activation="gelu", dropout=0.1, **mlp),
        "mlp_reg": lambda: DecorrelatedRegressor(activation="silu", **mlp),
        "bdt_clf": lambda: DisCoXGBClassifier(**bdt),
        "disco_bdt_clf": lambda: DisCoXGBClassifier(penalty=DisCo(strength=2.0), **bdt),
        "disco_bdt_reg": lambda: DisCoXGBRegressor(penalty=DisCo(strength=1.0), **bdt),
    }[kind]()


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _compare(est, session, X: pd.DataFrame) -> None:
    outputs = dict(
        zip(
            [o.name for o in session.get_outputs()],
            session.run(None, {"features": np.asarray(X, dtype=np.float32)}),
        )
    )
    if hasattr(est, "predict_proba"):
        assert set(outputs) == {"logit", "probabilities"}
        assert np.max(np.abs(outputs["probabilities"] - est.predict_proba(X))) <= TOL
        assert np.max(np.abs(outputs["logit"] - est.decision_function(X))) <= TOL
    else:
        assert set(outputs) == {"prediction"}
        assert np.max(np.abs(outputs["prediction"] - est.predict(X))) <= TOL


@pytest.mark.parametrize(
    "kind", ["mlp_clf", "mlp_clf_gelu", "mlp_reg", "bdt_clf", "disco_bdt_clf", "disco_bdt_reg"]
)
def test_onnxruntime_matches_predict(kind, tmp_path):
    from decorr_af.models.onnx import export_onnx

    X, y, iso, target = _data()
    est = _estimator(kind)
    classify = "clf" in kind
    est.fit(X, y if classify else target, protected=iso)
    path = export_onnx(est, tmp_path / f"{kind}.onnx")
    session = _session(path)
    _compare(est, session, X)
    meta = {k: json.loads(v) for k, v in session.get_modelmeta().custom_metadata_map.items()}
    assert meta["decorr_af.features"] == FEATURES
    assert meta["decorr_af.estimator"] == type(est).__name__
    assert meta["decorr_af.task"] == ("classification" if classify else "regression")
    assert meta["decorr_af.input"] == {"name": "features", "dtype": "float32", "shape": ["N", 4]}
    assert set(meta["decorr_af.outputs"]) == {o.name for o in session.get_outputs()}
    if kind.startswith("mlp"):
        assert meta["decorr_af.scaling"]["kind"] == "standardise"
        np.testing.assert_allclose(meta["decorr_af.scaling"]["mean"], est.x_mean_)
    else:
        assert meta["decorr_af.scaling"]["kind"] == "none"
    if classify:
        assert meta["decorr_af.classes"] == [0, 1]
    else:
        assert meta["decorr_af.target_scaling"]["scale"] == pytest.approx(est.y_scale_)
    penalty = getattr(est, "penalty", None)
    assert meta["decorr_af.strength"] == (None if penalty is None else penalty.strength)


def test_saved_model_directory_and_run_directory_through_the_cli(tmp_path, capsys):
    from decorr_af.models import load_model
    from decorr_af.workflows.base import RunResult

    X, y, iso, _ = _data(seed=1)
    mlp, bdt = _estimator("mlp_clf"), _estimator("disco_bdt_clf")
    mlp.fit(X, y, protected=iso)
    bdt.fit(X, y, protected=iso)
    run = RunResult("photon_id", {}, seed=0, estimators={"disco_mlp": mlp, "disco_bdt": bdt})
    run_dir = run.save(tmp_path / "run")

    assert main(["export-model", str(run_dir), "--onnx", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "choose a model with --model ... (exportable: disco_bdt, disco_mlp)" in err

    for name in ("disco_mlp", "disco_bdt"):
        out = tmp_path / f"{name}.onnx"
        assert main(["export-model", str(run_dir), "--onnx", str(out), "--model", name]) == 0
        assert f"to {out}" in capsys.readouterr().out
        _compare(RunResult.load(run_dir).load_model(name), _session(out), X)

    saved = run_dir / "models" / "disco_bdt"
    assert main(["export-model", str(saved), "--onnx", str(tmp_path / "direct.onnx")]) == 0
    _compare(load_model(saved), _session(tmp_path / "direct.onnx"), X)

    assert main(["export-model", str(run_dir), "--onnx", "x.onnx", "--model", "cutbased"]) == 2
    assert "--model cutbased is not an exportable model" in capsys.readouterr().err
    assert main(["export-model", str(tmp_path), "--onnx", "x.onnx"]) == 2
    assert "neither a run / scan-point directory" in capsys.readouterr().err


@pytest.mark.slow
def test_photon_id_run_models_export(tmp_path):
    """The models of a real photon-ID run, fed the run's own features."""
    from decorr_af.cli.export_model import export_model, exportable_models
    from decorr_af.data import generate
    from decorr_af.workflows import photon_id
    from decorr_af.workflows._data import load_photons
    from decorr_af.workflows.base import RunResult

    generate(tmp_path / "mc", sample="photons", kind="mc", events=3000, files=1, seed=11)
    config = photon_id.Config(
        mc_files=(str(tmp_path / "mc" / "*.root"),),
        models=("cutbased", "plain_mlp", "disco_bdt"),
        hidden=(8,), epochs=1, n_estimators=10, max_depth=2, jsd_permutations=5, device="cpu",
    )  # fmt: skip
    run_dir = photon_id.run(config, strength=1.0, seed=0).save(tmp_path / "run")
    assert exportable_models(run_dir) == {
        "disco_bdt": "DisCoXGBClassifier",
        "plain_mlp": "DecorrelatedClassifier",
    }
    photons = load_photons(config.mc_files)
    photons["abs_eta"] = np.abs(photons["eta"].to_numpy())  # derived by the workflow
    for name in ("plain_mlp", "disco_bdt"):
        est = RunResult.load(run_dir).load_model(name)
        X = photons[list(config.features)].astype(np.float32).astype(np.float64).iloc[:2000]
        path, cls = export_model(run_dir, tmp_path / f"{name}.onnx", model=name)
        assert cls == type(est).__name__
        session = _session(path)
        features = json.loads(session.get_modelmeta().custom_metadata_map["decorr_af.features"])
        assert features == list(config.features)  # named from the run config
        _compare(est, session, X.to_numpy())


def test_unsupported_and_unfitted_estimators():
    from sklearn.linear_model import LinearRegression

    from decorr_af.models import DisCoXGBClassifier
    from decorr_af.models.onnx import to_onnx

    with pytest.raises(ConfigError, match="LinearRegression is not supported"):
        to_onnx(LinearRegression())
    with pytest.raises(ConfigError, match="not fitted yet"):
        to_onnx(DisCoXGBClassifier())

"""Real ATLAS PHYSLITE files: what works (diphoton table, scoring) and what is said missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from decorr_af.data import diphoton_table, generate
from decorr_af.data.schema import DIPHOTON_EVENT_FEATURES
from decorr_af.errors import MissingBranchError
from decorr_af.workflows.inputs import input_readiness

pytestmark = pytest.mark.slow  # end-to-end (real scans / real files): whole suite only

pytest.importorskip("uproot")

DATA_DIR = Path(__file__).parent / "data"
REAL_TTREE = DATA_DIR / "PHYSLITE_example.root"
REAL_RNTUPLE = DATA_DIR / "PHYSLITE_rntuple_example.root"


@pytest.mark.parametrize("path", [REAL_TTREE, REAL_RNTUPLE], ids=["ttree", "rntuple"])
def test_diphoton_table_builds_on_real_physlite(path):
    df = diphoton_table(str(path), mode="eager")
    assert len(df) > 50
    assert set(DIPHOTON_EVENT_FEATURES) <= set(df.columns)
    assert np.isfinite(df[list(DIPHOTON_EVENT_FEATURES)].to_numpy(float)).all()
    assert not df["is_signal"].any()  # no ttH(yy) process in these files
    assert (df["myy"] > 0).all()


def test_readiness_of_a_real_file_says_what_is_missing():
    ready = input_readiness(str(REAL_TTREE))
    pid, cal, tth = ready["photon_id"], ready["calibration"], ready["tth"]
    assert not pid.ready
    assert {"Reta", "Rphi", "weta2"} <= set(pid.missing)
    assert "AnalysisPhotonsAuxDyn.Reta" in pid.detail
    assert "truth_e" in cal.missing
    assert not tth.ready
    assert "signal sample" in tth.missing
    assert "positive weights" in tth.missing  # NLO sample: negative weights
    assert "700322" in tth.detail


def test_photon_id_on_real_physlite_names_the_missing_shower_shapes():
    photon_id = pytest.importorskip("decorr_af.workflows.photon_id")
    cfg = photon_id.Config(mc_files=(str(REAL_TTREE),), models=("cutbased",))
    with pytest.raises(MissingBranchError) as err:
        photon_id.run(cfg, seed=1)
    text = str(err.value)
    assert "mc_files" in text
    assert "AnalysisPhotonsAuxDyn.Reta" in text
    assert "Features present in this file" in text


def test_calibration_on_real_physlite_names_the_missing_columns():
    calibration = pytest.importorskip("decorr_af.workflows.calibration")
    files = (str(REAL_TTREE),)
    cfg = calibration.Config(mc_files=files, data_files=files)
    with pytest.raises(MissingBranchError, match=r"mc_files.*Reta.*truth_e"):
        calibration.run(cfg, seed=1)


def test_a_model_trained_on_mc_scores_the_real_diphoton_table(tmp_path):
    pytest.importorskip("xgboost")
    tth = pytest.importorskip("decorr_af.workflows.tth")
    from decorr_af.workflows._data import feature_matrix
    from decorr_af.workflows._tth_inputs import add_inputs

    generate(tmp_path / "mc", sample="diphoton", kind="mc", events=4000, seed=5150)
    cfg = tth.Config(
        diphoton_files=(str(tmp_path / "mc" / "*.root"),),
        models=("plain_bdt",),
        n_estimators=20,
        max_depth=3,
        myy_bins=22,
    )
    result = tth.run(cfg, seed=2, out=tmp_path / "result")
    model = result.load_model("plain_bdt")
    real = add_inputs(diphoton_table(str(REAL_TTREE), mode="eager"), cfg.features)
    scores = model.predict_proba(feature_matrix(real, cfg.features))[:, 1]
    assert scores.shape == (len(real),)
    assert ((scores >= 0) & (scores <= 1)).all()


def test_cli_inspect_readiness_of_a_real_file(capsys):
    from decorr_af.cli import main

    assert main(["inspect", str(REAL_RNTUPLE), "--readiness"]) == 0
    out = capsys.readouterr().out
    assert "photon_id: NOT ready - missing photon field(s)" in out
    assert "AnalysisPhotonsAuxDyn:Reta" in out  # RNTuple field naming
    assert "tth: NOT ready - diphoton table: 71 events" in out

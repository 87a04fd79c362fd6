"""Radiative Z->mumu gamma toy: kinematics, prompt purity of the Z-mass selection, table."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from conftest import make_toys

from decorr_af.data import radiative_z_table, simulate_zmumug
from decorr_af.data.schema import TRUTH_ORIGIN, TRUTH_TYPE, ZMUMUG_CHANNELS


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    specs = (("zmumug", "mc", 4000, 66241), ("zmumug", "data", 4000, 18839))
    return make_toys(tmp_path_factory.mktemp("zmumug"), specs, files=2, name="{kind}")


def _atlas_selection(df):
    """The ATLAS radiative-Z selection: FSR photons make m_mumugamma close to m_Z."""
    return (
        (df["m_mumu"] > 40) & (df["m_mumu"] < 83) & (df["m_mumugamma"] > 80)
        & (df["m_mumugamma"] < 100) & (df["m_mumu"] + df["m_mumugamma"] < 180)
    )  # fmt: skip


def test_simulated_truth_structure():
    ev = simulate_zmumug(3000, rng=np.random.default_rng(40177))
    ph, mu = ev["AnalysisPhotons"], ev["AnalysisMuons"]
    assert ak.all(ak.num(ph) == 1)
    assert 0.85 < float(ak.mean(ak.num(mu) == 2)) <= 1.0
    fsr = ev["EventInfo"]["mcChannelNumber"] == ZMUMUG_CHANNELS["Zmumugamma"]
    tt = ak.to_numpy(ph.truthType[:, 0])
    origin = ak.to_numpy(ph.truthOrigin[:, 0])
    assert (tt[fsr] == TRUTH_TYPE["IsoPhoton"]).all()
    assert (origin[fsr] == TRUTH_ORIGIN["FSRPhot"]).all()
    assert (tt[~fsr] != TRUTH_TYPE["IsoPhoton"]).all()
    assert 0.3 < fsr.mean() < 0.5  # 50 % generated, fewer FSR photons pass the filter
    assert ak.all(abs(ph.eta) < 2.37)


def test_z_mass_selection_is_prompt_and_kinematics(files):
    df = radiative_z_table(files / "mc", mode="eager")
    prompt = df["is_prompt"].to_numpy()
    # FSR: m_mumu below m_Z, the photon restores it; Z+jets: m_mumu at m_Z, the fake adds
    assert df["m_mumu"][prompt].median() < 85
    assert abs(df["m_mumugamma"][prompt].median() - 91.19) < 4.0  # raw photon energy
    assert abs(df["m_mumu"][~prompt].median() - 91.19) < 2.0
    assert df["m_mumugamma"][~prompt].median() > 97
    sel = _atlas_selection(df).to_numpy()
    assert sel.sum() > 400
    assert prompt[sel].mean() > 0.9
    assert prompt[~sel].mean() < 0.5


def test_muon_in_cone_feeds_track_isolation(files):
    df = radiative_z_table(files / "mc", mode="eager")
    close = df["dr_min_mu_gamma"] < 0.2
    far = df["dr_min_mu_gamma"] > 0.5
    p = df["is_prompt"]
    assert close[p].sum() > 20
    assert df["ptcone20"][close & p].median() > 5.0  # the muon track
    assert df["ptcone20"][far & p].median() < 1.0


def test_data_table_has_no_truth_and_same_columns(files):
    mc = radiative_z_table(files / "mc", mode="eager", drop_truth=True)
    data = radiative_z_table(files / "data", mode="eager", drop_truth=False)
    assert list(data.columns) == list(mc.columns)
    assert not {"truthType", "truthOrigin", "truth_e", "is_prompt"} & set(data.columns)
    assert _atlas_selection(data).sum() > 300

"""Z->ee toy: line shape, charge, shared calorimeter physics and the electron table."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from conftest import make_toys

from decorr_af.columnar.features import pair_mass
from decorr_af.data import electron_table, generate, simulate_zee
from decorr_af.data.calo import standard_calibration
from decorr_af.data.electrons import reconstruct_electrons
from decorr_af.data.photons import reconstruct_photons
from decorr_af.data.schema import CALO_VARIABLES, SHOWER_SHAPES, TRUTH, ZEE_CHANNELS


@pytest.fixture(scope="module")
def zee():
    return simulate_zee(6000, rng=np.random.default_rng(90411))


@pytest.fixture(scope="module")
def zee_files(tmp_path_factory):
    specs = (("zee", "mc", 3000, 31877), ("zee", "data", 3000, 52903))
    return make_toys(tmp_path_factory.mktemp("zee"), specs, files=2, name="{kind}")


def _mass(pt, eta, phi):
    return np.sqrt(2 * pt[:, 0] * pt[:, 1] * (np.cosh(eta[:, 0] - eta[:, 1]) - np.cos(phi[:, 0] - phi[:, 1])))  # fmt: skip


def test_structure_and_calibrated_peak(zee):
    el = zee["AnalysisElectrons"]
    assert ak.all(ak.num(el) == 2)
    assert ak.all(el.pt[:, 0] >= el.pt[:, 1])
    assert {*SHOWER_SHAPES, *CALO_VARIABLES, "charge", "truth_e"} <= set(el.fields)
    pt, eta, phi = (ak.to_numpy(el[f]) for f in ("pt", "eta", "phi"))
    pt = pt / 1e3
    mu = np.repeat(zee["EventInfo"]["averageInteractionsPerCrossing"], 2)
    e_raw = (pt * np.cosh(eta)).ravel()
    e_cal = standard_calibration(e_raw, eta.ravel(), np.zeros(e_raw.size, bool), mu, electron=True)
    m_raw = _mass(pt, eta, phi)
    c = (e_cal / e_raw).reshape(-1, 2)
    m = pair_mass(m_raw, c[:, 0], c[:, 1])
    resonant = zee["EventInfo"]["mcChannelNumber"] == ZEE_CHANNELS["Zee"]
    # the raw peak sits below m_Z (upstream and lateral losses); the MC calibration restores it
    assert np.median(m_raw[resonant]) < 86.0
    assert abs(np.median(m[resonant]) - 91.19) < 1.5
    q25, q75 = np.percentile(m[resonant], [25, 75])
    assert 1.5 < (q75 - q25) / 2 < 5.0
    # small falling non-resonant continuum
    assert 0.02 < np.mean(~resonant) < 0.07
    assert np.median(m[~resonant]) < np.median(m[resonant]) - 5


def test_charge_flips_are_rare_and_rise_with_material(zee):
    el = zee["AnalysisElectrons"]
    same = ak.to_numpy(el.charge[:, 0] == el.charge[:, 1])
    assert 0.001 < same.mean() < 0.05
    assert set(np.unique(ak.to_numpy(ak.flatten(el.charge)))) == {-1, 1}
    fwd = ak.to_numpy(ak.any(abs(el.eta) > 1.52, axis=1))
    assert same[fwd].mean() > same[~fwd].mean()


def test_electrons_share_the_photon_calorimeter():
    n = 20000
    e, eta, mu = np.full(n, 50.0), np.full(n, 0.6), np.full(n, 50.0)
    el = reconstruct_electrons(e, eta, mu, rng=np.random.default_rng(7741))
    ph = reconstruct_photons(e, eta, mu, category=np.zeros(n, int), rng=np.random.default_rng(7742),
                             calo_variables=True)  # fmt: skip
    unconv = ph["conversionType"] == 0
    # electrons shower from the beam pipe: more upstream loss, more presampler energy
    assert np.median(el["e_raw"]) < np.median(ph["e_raw"][unconv]) - 1.0
    assert np.median(el["E0"]) > np.median(ph["E0"][unconv])
    assert np.median(el["f1"]) > np.median(ph["f1"][unconv])
    assert np.all(el["conversionRadius"] == 0)
    # same shower-shape scale as photons
    assert abs(np.median(el["Reta"]) - np.median(ph["Reta"][~unconv])) < 0.02
    np.testing.assert_allclose(el["E1"] + el["E2"] + el["E3"], el["e_raw"], rtol=1e-9)


def test_electron_table_pairs_and_mass(zee_files):
    df = electron_table(zee_files / "mc", mode="eager")
    assert len(df) % 2 == 0
    assert (df["pair"].to_numpy()[::2] == 0).all()
    assert (df["pair"].to_numpy()[1::2] == 1).all()
    ev = df["eventNumber"].to_numpy()
    assert (ev[::2] == ev[1::2]).all()
    pt = df["pt"].to_numpy().reshape(-1, 2)
    assert (pt[:, 0] >= pt[:, 1]).all()
    assert (df["charge"].to_numpy().reshape(-1, 2).prod(axis=1) == -1).all()
    eta, phi = (df[c].to_numpy().reshape(-1, 2).astype(float) for c in ("eta", "phi"))
    np.testing.assert_allclose(
        df["m_ee"].to_numpy()[::2], _mass(pt.astype(float), eta, phi), rtol=1e-5
    )
    assert {*SHOWER_SHAPES, *CALO_VARIABLES, "truth_e", "e", "mu", "weight"} <= set(df.columns)
    # same-sign pairs are dropped: fewer rows than electrons written
    assert len(df) < 2 * 3000
    assert 50 < df["m_ee"].median() < 100
    assert df["E1"].median() > 1.0  # GeV in tables


def test_electron_table_data_has_no_truth(zee_files):
    df = electron_table(zee_files / "data", mode="eager", drop_truth=False)
    assert not set(TRUTH) & set(df.columns)
    assert len(df) > 0
    assert (df["mcChannelNumber"] == 0).all()


def test_wrong_sample_names_file_and_branch(zee_files, tmp_path):
    from decorr_af.data import radiative_z_table
    from decorr_af.errors import MissingBranchError

    with pytest.raises(MissingBranchError, match=r"zee_mc_000\.root.*AnalysisMuonsAuxDyn\.pt"):
        radiative_z_table(zee_files / "mc", mode="eager")
    (photons,) = generate(tmp_path, sample="photons", kind="mc", events=50, seed=8)
    with pytest.raises(MissingBranchError, match=r"AnalysisElectronsAuxDyn\.charge"):
        electron_table(photons, mode="eager")


@pytest.mark.parametrize("sample", ["zee", "zmumug"])
def test_deterministic_per_seed_and_chunk_independent(tmp_path, sample):
    uproot = pytest.importorskip("uproot")
    opts = {"sample": sample, "kind": "data", "events": 5000, "mismodelling": 1.0}
    (a,) = generate(tmp_path / "a", seed=4, chunk_size=100_000, **opts)
    (b,) = generate(tmp_path / "b", seed=4, chunk_size=10, **opts)
    (c,) = generate(tmp_path / "c", seed=5, **opts)
    coll = "AnalysisElectrons" if sample == "zee" else "AnalysisPhotons"
    arrays = []
    for path in (a, b, c):
        with uproot.open(path) as f:
            arrays.append(f["CollectionTree"][f"{coll}AuxDyn.Reta"].array(library="np"))
    np.testing.assert_array_equal(np.concatenate(arrays[0]), np.concatenate(arrays[1]))
    assert not np.array_equal(np.concatenate(arrays[0]), np.concatenate(arrays[2]))

"""Tests of the flat tables (decorr_af.data.table), features and histograms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REAL_RNTUPLE, REAL_TTREE_RUN2

from decorr_af.columnar import diphoton_kinematics, histogram
from decorr_af.data.schema import (
    CALO_VARIABLES,
    DIPHOTON_CHANNELS,
    DIPHOTON_EVENT_FEATURES,
    SHOWER_SHAPES,
)
from decorr_af.data.table import available_features, diphoton_table, photon_table
from decorr_af.errors import MissingBranchError

BASE = ["eventNumber", "runNumber", "mcChannelNumber", "mu", "weight", "pt", "eta", "phi", "e"]


@pytest.mark.slow
@pytest.mark.parametrize(("path", "n_photons"), [(REAL_TTREE_RUN2, 5), (REAL_RNTUPLE, 263)])
def test_real_files_photon_counts(path, n_photons):
    df = photon_table(path, mode="eager")
    assert len(df) == n_photons
    assert list(df.columns[:9]) == BASE
    assert "Reta" not in df.columns  # real PHYSLITE has no full shower shapes
    assert df["weight"].notna().all()


@pytest.mark.slow
def test_missing_shower_shapes_error_names_file_and_suggests():
    with pytest.raises(MissingBranchError) as err:
        photon_table(REAL_RNTUPLE, features=["Reta", "f1"], mode="eager")
    msg = str(err.value)
    assert REAL_RNTUPLE.name in msg
    assert "Reta" in msg
    assert "features=['f1', 'topoetcone20', 'topoetcone40', 'ptcone20']" in msg
    assert available_features(REAL_RNTUPLE) == ("f1", "topoetcone20", "topoetcone40", "ptcone20")


def test_generated_round_trip(sample_dir):
    df = photon_table(sample_dir / "photons_mc", mode="eager")
    feats = available_features(sample_dir / "photons_mc")
    assert set(SHOWER_SHAPES) <= set(feats)
    assert list(df.columns[:9]) == BASE
    for col in ("conversionType", "converted", *SHOWER_SHAPES, "truth_e", "is_prompt"):
        assert col in df.columns
    assert df["eventNumber"].nunique() == 6000 or df["eventNumber"].nunique() <= 6000
    # energies in GeV: photon pT of tens of GeV, e = pT cosh(eta)
    assert 5.0 < df["pt"].median() < 500.0
    np.testing.assert_allclose(df["e"], df["pt"] * np.cosh(df["eta"]), rtol=1e-5)
    np.testing.assert_array_equal(df["is_prompt"], df["truthType"] == 14)
    np.testing.assert_array_equal(df["converted"], df["conversionType"] > 0)
    assert 0.2 < df["truth_e"].median() / df["e"].median() < 5.0
    # calorimeter variables in GeV: the accordion layers add up to the raw energy
    assert set(CALO_VARIABLES) <= set(feats)
    np.testing.assert_allclose(df["E1"] + df["E2"] + df["E3"], df["e"], rtol=1e-4)
    np.testing.assert_allclose(df["E1"], df["f1"] * df["e"], rtol=1e-4, atol=1e-4)
    assert (df["conversionRadius"][~df["converted"]] == 0).all()


def test_data_table_never_has_truth(sample_dir):
    df = photon_table(sample_dir / "photons_data", mode="eager", drop_truth=False)
    assert len(df) > 0
    assert not {"truthType", "truthOrigin", "truth_e", "is_prompt"} & set(df.columns)


@pytest.mark.dask
def test_dask_and_eager_agree(sample_dir, dask_client):
    src = sample_dir / "photons_data"
    eager = photon_table(src, mode="eager", chunk_size=1000)
    lazy = photon_table(src, mode="dask", client=dask_client, chunk_size=1500)
    pd.testing.assert_frame_equal(eager, lazy)
    threaded = photon_table(src, mode="dask", chunk_size=2500, drop_truth=True)
    pd.testing.assert_frame_equal(
        eager.drop(columns=threaded.columns.difference(eager.columns)).loc[:, threaded.columns],
        threaded,
    )


def test_drop_truth_features_and_selection(sample_dir):
    src = sample_dir / "photons_mc"
    df = photon_table(src, mode="eager", drop_truth=True, features=["Reta", "converted"])
    assert list(df.columns) == [*BASE, "conversionType", "converted", "Reta"]
    full = photon_table(src, mode="eager", features=["Reta"], drop_truth=True)
    cut = photon_table(
        src,
        mode="eager",
        features=["Reta"],
        drop_truth=True,
        selection="pt > 30 and abs(eta) < 1.37",
    )
    expected = full[(full.pt > 30) & (full.eta.abs() < 1.37)].reset_index(drop=True)
    pd.testing.assert_frame_equal(cut, expected)
    by_callable = photon_table(
        src, mode="eager", features=["Reta"], drop_truth=True, selection=lambda f: f["pt"] > 30
    )
    assert len(by_callable) == int((full.pt > 30).sum())


def test_from_opened_events_matches_files(sample_dir):
    from decorr_af.data.readers import open_events

    src = sample_dir / "photons_mc"
    events = open_events(src, mode="eager")
    np.testing.assert_allclose(
        photon_table(events, mode="eager")["pt"], photon_table(src, mode="eager")["pt"]
    )


def test_diphoton_table(sample_dir):
    df = diphoton_table(sample_dir / "diphoton_mc", mode="eager")
    for col in (*DIPHOTON_EVENT_FEATURES, "mu", "weight", "is_signal", "pt1", "pt2"):
        assert col in df.columns
    assert df["is_signal"].any()
    assert not df["is_signal"].all()
    np.testing.assert_array_equal(
        df["is_signal"], df["mcChannelNumber"] == DIPHOTON_CHANNELS["ttH_yy"]
    )
    assert (df["pt1"] >= df["pt2"]).all()
    assert abs(df.loc[df.is_signal, "myy"].median() - 125.0) < 5.0
    # the label comes from the sample description, overridable per call
    other = diphoton_table(
        sample_dir / "diphoton_mc", mode="eager", signal_dsids=[DIPHOTON_CHANNELS["ttyy"]]
    )
    np.testing.assert_array_equal(
        other["is_signal"], other["mcChannelNumber"] == DIPHOTON_CHANNELS["ttyy"]
    )
    pd.testing.assert_frame_equal(other.drop(columns="is_signal"), df.drop(columns="is_signal"))
    assert df.loc[df.is_signal, "n_jets"].mean() > df.loc[~df.is_signal, "n_jets"].mean()
    assert ((df["abs_costheta_star"] >= 0) & (df["abs_costheta_star"] <= 1 + 1e-6)).all()
    assert (df["n_bjets"] <= df["n_jets"]).all()


def test_diphoton_kinematics_against_four_vectors():
    rng = np.random.default_rng(20240611)
    pt1, pt2 = rng.uniform(30, 200, (2, 500))
    eta1, eta2 = rng.uniform(-2.4, 2.4, (2, 500))
    phi1, phi2 = rng.uniform(-np.pi, np.pi, (2, 500))
    k = diphoton_kinematics(pt1, eta1, phi1, pt2, eta2, phi2)

    def p4(pt, eta, phi):
        return np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)])

    a, b = p4(pt1, eta1, phi1), p4(pt2, eta2, phi2)
    s = a + b
    m = np.sqrt(s[0] ** 2 - s[1] ** 2 - s[2] ** 2 - s[3] ** 2)
    np.testing.assert_allclose(k["myy"], m, rtol=1e-6)
    np.testing.assert_allclose(k["pt_yy"], np.hypot(s[1], s[2]), rtol=1e-9)
    # Collins-Soper: 2 (p1+ p2- - p1- p2+) / (m sqrt(m^2 + pT^2)) with p± = (E ± pz)/sqrt2
    cs = np.abs(
        2
        * ((a[0] + a[3]) * (b[0] - b[3]) - (a[0] - a[3]) * (b[0] + b[3]))
        / 2
        / (m * np.sqrt(m**2 + k["pt_yy"] ** 2))
    )
    np.testing.assert_allclose(k["abs_costheta_star"], cs, rtol=1e-6)


def test_histogram_table_and_lazy(sample_dir):
    df = photon_table(sample_dir / "photons_mc", mode="eager")
    h = histogram(df, "pt", bins=20, range=(0, 200), weight="weight", by="is_prompt")
    assert h.axes[1].name == "is_prompt"
    inside = df[(df.pt >= 0) & (df.pt < 200)]
    assert h.sum().value == pytest.approx(inside["weight"].sum(), rel=1e-6)
    edges = histogram(df, "eta", bins=[-2.5, 0.0, 2.5])
    assert edges.values().sum() == len(df)

    from decorr_af.data.readers import open_events

    events = open_events(sample_dir / "photons_mc", mode="dask")
    lazy = histogram(events, "Photons.eta", bins=[-2.5, 0.0, 2.5])
    np.testing.assert_array_equal(lazy.compute().values(), edges.values())


def test_readers_assign_no_analysis_label():
    """Only the sample description (decorr_af.data.samples) names signal processes."""
    from pathlib import Path

    import decorr_af.data

    root = Path(decorr_af.data.__file__).parent
    for name in ("readers.py", "layout.py", "tableplan.py", "validate.py", "writer.py"):
        text = (root / name).read_text(encoding="utf-8")
        assert "is_signal" not in text, name
        assert "DIPHOTON_CHANNELS" not in text, name


def test_layout_in_gev_and_a_gev_layout():
    from decorr_af.data.layout import PHYSLITE, PhysliteLayout
    from decorr_af.errors import ConfigError

    pt = np.array([25_000.0, 40_000.0], dtype=np.float32)
    np.testing.assert_allclose(PHYSLITE.in_gev("pt", pt), [25.0, 40.0])
    assert PHYSLITE.in_gev("pt", pt).dtype == np.float32
    np.testing.assert_array_equal(PHYSLITE.in_gev("eta", pt), pt)  # not an energy
    gev = PhysliteLayout(energy_unit="GeV", collections={"EventInfo": "Event", "Photons": "ph"})
    assert gev.in_gev("pt", pt) is pt
    assert gev.branch("Photons", "pt") == "phAuxDyn.pt"
    with pytest.raises(ConfigError, match="energy_unit"):
        PhysliteLayout(energy_unit="TeV")

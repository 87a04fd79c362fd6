"""Calorimeter cells of the photon toy (``generate --cells``) and the shapes computed from them."""

from __future__ import annotations

import functools

import awkward as ak
import numpy as np
import pytest
import uproot
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from decorr_af.cli import main
from decorr_af.columnar.cells import CellSet
from decorr_af.data.cells import CELL_FIELDS, photon_cells
from decorr_af.data.photons import reconstruct_photons, simulate_photons
from decorr_af.data.table import cell_table, photon_table, read_cells
from decorr_af.data.writer import generate
from decorr_af.errors import ConfigError, MissingBranchError

DETA, DPHI = 0.025, 2 * np.pi / 256


@functools.cache
def _sample(kind: str, seed: int, cells: bool, n: int = 6000):
    mism = 1.0 if kind == "data" else 0.0
    ev = simulate_photons(
        n, kind=kind, mismodelling=mism, rng=np.random.default_rng(seed), cells=cells
    )
    return ev


def _flat(ev):
    return {
        f: ak.flatten(ev["AnalysisPhotons"][f]).to_numpy() for f in ev["AnalysisPhotons"].fields
    }


def test_cells_draw_nothing_from_the_event_stream():
    """Same seed with and without cells: truth, conversions and isolation are identical."""
    plain, cells = _sample("mc", 5, False), _sample("mc", 5, True)
    assert "AnalysisPhotonCells" not in plain
    a, b = plain["AnalysisPhotons"], cells["AnalysisPhotons"]
    assert ak.num(a).tolist() == ak.num(b).tolist()
    # the pt order inside an event may change (pt is measured from the cells): sort by truth
    key_a = ak.argsort(a.truth_e, axis=1)
    key_b = ak.argsort(b.truth_e, axis=1)
    for field in ("truth_e", "eta", "phi", "conversionType", "truthType", "topoetcone20",
                  "ptcone20", "conversionRadius", "cellEtaOffset"):  # fmt: skip
        x = ak.flatten(a[field][key_a]).to_numpy()
        y = ak.flatten(b[field][key_b]).to_numpy()
        np.testing.assert_array_equal(x, y, err_msg=field)
    # ... and the measured quantities do come from the cells
    assert not np.allclose(
        ak.flatten(a.Reta[key_a]).to_numpy(), ak.flatten(b.Reta[key_b]).to_numpy()
    )


def test_cell_collection_format_and_counts():
    ev = _sample("mc", 5, True)
    cells, photons = ev["AnalysisPhotonCells"], ev["AnalysisPhotons"]
    assert sorted(cells.fields) == sorted(["photonIndex", *CELL_FIELDS])
    assert len(cells) == len(photons)
    idx = ak.flatten(cells.photonIndex).to_numpy()
    n_pho = ak.num(photons).to_numpy()
    first = np.concatenate([[0], np.cumsum(n_pho)[:-1]])
    per_photon = np.bincount(np.repeat(first, ak.num(cells).to_numpy()) + idx)
    assert len(per_photon) == ak.sum(ak.num(photons))
    # modest, thresholded windows (at most 152 cells per photon)
    assert 30 < per_photon.mean() < 152
    assert per_photon.max() <= 152
    layer = ak.flatten(cells.layer).to_numpy()
    assert set(np.unique(layer).tolist()) == {0, 1, 2, 3, 4}
    # cells of a photon sit around it
    pho_eta = ak.flatten(photons.eta).to_numpy()
    owner = np.repeat(first, ak.num(cells).to_numpy()) + idx
    assert np.all(np.abs(ak.flatten(cells.eta).to_numpy() - pho_eta[owner]) < 0.2)


def _middle_sums(ev):
    """E(3x7), E(7x7), E(3x3) of every photon recomputed from the written cells (MeV)."""
    photons, cells = ev["AnalysisPhotons"], ev["AnalysisPhotonCells"]
    first = np.concatenate([[0], np.cumsum(ak.num(photons).to_numpy())[:-1]])
    owner = np.repeat(first, ak.num(cells).to_numpy()) + ak.flatten(cells.photonIndex).to_numpy()
    p = _flat(ev)
    c = {f: ak.flatten(cells[f]).to_numpy().astype(float) for f in cells.fields}
    eta_c = p["eta"].astype(float) - p["cellEtaOffset"] * DETA
    phi_c = p["phi"].astype(float) - p["cellPhiOffset"] * DPHI
    i = np.rint((c["eta"] - eta_c[owner]) / DETA)
    j = np.rint(np.angle(np.exp(1j * (c["phi"] - phi_c[owner]))) / DPHI)
    mid = c["layer"] == 2
    n = len(p["eta"])

    def box(di, dj):
        m = mid & (np.abs(i) <= di) & (np.abs(j) <= dj)
        return np.bincount(owner[m], weights=c["e"][m], minlength=n)

    return p, box(1, 3), box(3, 3), box(1, 1)


def test_shapes_are_computed_from_the_written_cells():
    p, e37, e77, e33 = _middle_sums(_sample("mc", 5, True))
    np.testing.assert_allclose(e37, p["E2"], rtol=1e-4, atol=0.5)
    ok = e77 > 5e3
    np.testing.assert_allclose(
        (e37 / e77)[ok], np.clip(p["Reta"][ok], 0, 1.1), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        (e33 / e37)[ok], np.clip(p["Rphi"][ok], 0, 1.1), rtol=1e-4, atol=1e-5
    )
    # the cluster energy is the sum of the cluster cells of strips, middle and back
    e = p["pt"] * np.cosh(p["eta"].astype(float))
    total = np.maximum(p["E1"] + p["E2"] + p["E3"], 500.0)  # the 0.5 GeV floor of the toy
    np.testing.assert_allclose(total, e, rtol=1e-4, atol=1.0)


def test_emergent_shapes_separate_prompt_from_fakes_and_correlate_with_isolation():
    p = _flat(_sample("mc", 5, True))
    prompt = p["truthType"] == 14
    assert roc_auc_score(prompt, p["Reta"]) > 0.7
    assert roc_auc_score(prompt, p["Eratio"]) > 0.7
    assert roc_auc_score(prompt, -p["wtots1"]) > 0.7
    fake = ~prompt
    rho = spearmanr(p["topoetcone20"][fake] / p["pt"][fake], p["Reta"][fake])[0]
    assert rho < -0.25  # shared jet activity: wider showers, less isolated
    # prompt shapes near the non-cell toy
    toy = _flat(_sample("mc", 5, False))
    tp = toy["truthType"] == 14
    for name, tol in (("Reta", 0.01), ("Rphi", 0.01), ("f1", 0.02)):
        assert abs(np.median(p[name][prompt]) - np.median(toy[name][tp])) < tol, name


def test_data_mc_shape_shifts_emerge_from_the_cells():
    mc, data = _flat(_sample("mc", 101, True)), _flat(_sample("data", 202, True))
    pm, pd_ = mc["truthType"] == 14, data["truthType"] == 14
    d_reta = np.median(data["Reta"][pd_]) - np.median(mc["Reta"][pm])
    r_weta2 = np.median(data["weta2"][pd_]) / np.median(mc["weta2"][pm]) - 1
    assert -0.008 < d_reta < -0.002  # non-cell toy: -0.005
    assert 0.015 < r_weta2 < 0.06  # non-cell toy: +3.6 %


def test_cells_let_a_regression_learn_the_energy():
    p = _flat(_sample("mc", 5, True))
    prompt = p["truthType"] == 14
    e = (p["pt"] * np.cosh(p["eta"].astype(float))).astype(float)
    resp = e / p["truth_e"]
    assert 0.88 < np.median(resp[prompt]) < 0.98  # upstream and lateral losses
    assert np.corrcoef(np.log(e[prompt]), np.log(p["truth_e"][prompt]))[0, 1] > 0.99
    # the presampler energy measures the upstream loss: response falls as E0/E grows
    frac0 = p["E0"] / e
    lo, hi = np.quantile(frac0[prompt], [0.25, 0.75])
    assert np.median(resp[prompt & (frac0 > hi)]) < np.median(resp[prompt & (frac0 <= lo)])
    # a linear regression on the layer energies (train half / test half) narrows the response
    x = np.column_stack(
        [np.ones(len(e)), np.abs(p["eta"]), p["E0"] / e, p["E1"] / e, p["E3"] / e,
         p["conversionType"] > 0, np.log(e)]
    )[prompt].astype(float)  # fmt: skip
    y = np.log(p["truth_e"] / e)[prompt]
    half = len(y) // 2
    coef = np.linalg.lstsq(x[:half], y[:half], rcond=None)[0]

    def iqr(v):
        return float(np.subtract(*np.percentile(v, [75, 25])))

    assert iqr(y[half:] - x[half:] @ coef) < 0.85 * iqr(y[half:])


def test_photon_cells_thresholds_every_cell():
    rng = np.random.default_rng(0)
    reco = reconstruct_photons(np.full(20, 50.0), np.zeros(20), np.full(20, 50.0),
                               category=np.zeros(20, int), rng=rng, latent=True)  # fmt: skip
    res = photon_cells(reco["latent"], np.zeros(20), rng=np.random.default_rng(1))
    assert isinstance(res.cells, CellSet)
    assert len(res.cells) == 20
    high = photon_cells(reco["latent"], np.zeros(20), rng=np.random.default_rng(1), threshold=4.0)
    assert high.cells.counts.sum() < res.cells.counts.sum()
    assert np.all(np.abs(res.cells.column("e")) > 0)


def test_generate_cells_round_trip_aligned_with_photon_table(tmp_path):
    (path,) = generate(tmp_path, events=600, seed=2, cells=True, chunk_size=4096)
    df, cells = cell_table(path, features=["Reta", "conversionType"])
    assert len(df) == len(cells)
    assert cells.names == ("layer", "deta", "dphi", "e", "t")
    assert cells.global_names == ("eta", "e_raw", "converted")
    np.testing.assert_allclose(cells.globals[:, 0], df["eta"], rtol=1e-6)
    np.testing.assert_allclose(cells.globals[:, 1], df["e"], rtol=1e-5)
    # the 3x7 middle sum in GeV is at most the cluster energy, most of it
    mid = cells.column("layer") == 2
    e_mid = np.bincount(cells.segment_ids[mid], weights=cells.column("e")[mid], minlength=len(df))
    assert np.median(e_mid / df["e"]) > 0.5
    assert np.abs(cells.column("deta")).max() < 0.2
    # deterministic
    (again,) = generate(tmp_path / "b", events=600, seed=2, cells=True, chunk_size=600)
    np.testing.assert_array_equal(read_cells(again).features, cells.features)
    # files without cells are untouched and say so when cells are asked for
    (plain,) = generate(tmp_path / "plain", events=600, seed=2)
    with uproot.open(plain) as f:
        names = list(f["CollectionTree"].keys())
    assert not any("Cells" in k for k in names)
    ref = photon_table(plain, features=["conversionType"], mode="eager")
    assert len(ref) == len(df)
    with pytest.raises(MissingBranchError, match="--cells"):
        read_cells(plain)


def test_data_files_with_cells_have_no_truth(tmp_path):
    (path,) = generate(tmp_path, kind="data", mismodelling=1.0, events=200, seed=3, cells=True)
    with uproot.open(path) as f:
        keys = list(f["CollectionTree"].keys())
    assert "AnalysisPhotonCellsAuxDyn.e" in keys
    assert "AnalysisPhotonsAuxDyn.truth_e" not in keys


def test_cells_only_for_photons_and_cli_flag(tmp_path, capsys):
    with pytest.raises(ConfigError, match="cells"):
        generate(tmp_path, sample="zee", events=10, cells=True)
    rc = main(["generate", "--events", "50", "--cells", "--out", str(tmp_path / "cli")])
    assert rc == 0
    (path,) = capsys.readouterr().out.split()
    with uproot.open(path) as f:
        names = list(f["CollectionTree"].keys())
    assert "AnalysisPhotonCellsAuxDyn.layer" in names


def test_cells_do_not_depend_on_the_chunking(tmp_path):
    """Two blocks merged into one write give the same cells as one block per write."""
    (one,) = generate(tmp_path / "one", events=4200, seed=4, cells=True, chunk_size=4096)
    (two,) = generate(tmp_path / "two", events=4200, seed=4, cells=True, chunk_size=8192)
    a, b = read_cells(one), read_cells(two)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_array_equal(a.features, b.features)

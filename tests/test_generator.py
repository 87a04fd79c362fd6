"""Physics and I/O checks of the toy PHYSLITE generator (decorr_af.data)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from scipy import stats

from decorr_af.data import generate, simulate_photons
from decorr_af.data.schema import CALO_VARIABLES, SHOWER_SHAPES
from decorr_af.errors import ConfigError


def _flat(ev):
    ph = ev["AnalysisPhotons"]
    mu = ak.broadcast_arrays(ev["EventInfo"]["averageInteractionsPerCrossing"], ph.pt)[0]
    out = {f: ak.to_numpy(ak.flatten(ph[f])) for f in ph.fields}
    out["mu"] = ak.to_numpy(ak.flatten(mu))
    out["prompt"] = out["truthType"] == 14
    out["e_raw"] = out["pt"] * np.cosh(out["eta"]) / 1e3
    return out


@pytest.fixture(scope="module")
def mc():
    return _flat(simulate_photons(12_000, kind="mc", rng=np.random.default_rng(60917)))


def test_structure_and_ranges(mc):
    ev = simulate_photons(500, rng=np.random.default_rng(4))
    counts = ak.num(ev["AnalysisPhotons"])
    assert ak.min(counts) >= 1
    assert ak.max(counts) <= 3
    assert ak.all(ev["AnalysisPhotons"].pt[:, :-1] >= ev["AnalysisPhotons"].pt[:, 1:])
    mu = ev["EventInfo"]["averageInteractionsPerCrossing"]
    assert mu.min() > 15
    assert mu.max() < 85
    assert set(np.unique(mc["truthType"])) == {14, 16, 17}
    assert set(np.unique(mc["truthOrigin"][mc["prompt"]])) == {38}
    assert set(np.unique(mc["truthOrigin"][mc["truthType"] == 16])) == {39, 42}
    assert np.all(mc["m"] == 0)
    assert set(np.unique(mc["conversionType"])) <= {0, 1, 2, 3, 4, 5}


def test_crack_excluded(mc):
    a = np.abs(mc["eta"])
    assert a.max() < 2.37
    assert not np.any((a >= 1.37) & (a < 1.52))


def test_conversion_rate_rises_with_eta(mc):
    a = np.abs(mc["eta"])
    conv = mc["conversionType"] > 0
    central, forward = conv[a < 0.6].mean(), conv[(a > 1.52) & (a < 2.0)].mean()
    assert 0.15 < central < 0.4
    assert forward > central + 0.2


def test_prompt_fake_separation(mc):
    p, f = mc["prompt"], ~mc["prompt"]
    assert np.median(mc["Reta"][p]) > np.median(mc["Reta"][f])
    assert np.median(mc["Eratio"][p]) > np.median(mc["Eratio"][f])
    for name in ("weta2", "weta1", "wtots1", "fracs1", "DeltaE", "Rhad"):
        assert np.median(mc[name][f]) > np.median(mc[name][p]), name
    assert stats.ks_2samp(mc["Reta"][p], mc["Reta"][f]).statistic > 0.3
    assert 0.93 < np.median(mc["Reta"][p]) < 0.97
    assert 0.009 < np.median(mc["weta2"][p]) < 0.0115
    assert abs(np.median(mc["Rhad"][p])) < 0.01
    assert np.median(mc["topoetcone20"][f]) > np.median(mc["topoetcone20"][p]) + 2000


def test_isolation_correlates_with_width_on_fakes_only(mc):
    p, f = mc["prompt"], ~mc["prompt"]
    rho_fake = stats.spearmanr(mc["Reta"][f], mc["topoetcone20"][f]).statistic
    rho_prompt = stats.spearmanr(mc["Reta"][p], mc["topoetcone20"][p]).statistic
    assert rho_fake < -0.25
    # prompt: only the lateral leakage (incl. the cell-edge modulation) spills into the cone
    assert abs(rho_prompt) < 0.2
    assert abs(rho_fake) > 2 * abs(rho_prompt)


def test_prompt_isolation_width_grows_with_mu(mc):
    p = mc["prompt"]
    lo, hi = p & (mc["mu"] < 42), p & (mc["mu"] > 62)
    assert np.std(mc["topoetcone20"][hi]) > 1.1 * np.std(mc["topoetcone20"][lo])


def test_shower_shapes_carry_energy_loss_information(mc):
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    p = mc["prompt"]
    y = mc["truth_e"][p] / 1e3 / mc["e_raw"][p]
    # the ATLAS-like baseline: eta, E, conversion, mu and the calorimeter variables
    base = np.column_stack(
        [mc[k][p] for k in ("eta", "e_raw", "conversionType", "mu", *CALO_VARIABLES)]
    )
    shapes = np.column_stack([base, *[mc[k][p] for k in SHOWER_SHAPES]])
    half = len(y) // 2

    def iqr(features):
        model = HistGradientBoostingRegressor(
            max_iter=100, loss="absolute_error", early_stopping=False, random_state=0
        )
        with threadpool_limits(1):  # OpenMP oversubscription on shared CI cores is very slow
            model.fit(features[:half], y[:half])
        r = model.predict(features[half:]) / y[half:]
        q25, q50, q75 = np.percentile(r, [25, 50, 75])
        return (q75 - q25) / q50

    assert iqr(shapes) < 0.95 * iqr(base)


def _read(path):
    import uproot

    with uproot.open(path) as f:
        return f["CollectionTree"].arrays(library="np")


def test_generate_deterministic_and_chunk_independent(tmp_path):
    opts = {"sample": "photons", "kind": "mc", "events": 5000, "files": 2}
    a = generate(tmp_path / "a", seed=11, chunk_size=100_000, **opts)
    b = generate(tmp_path / "b", seed=11, chunk_size=10, **opts)
    c = generate(tmp_path / "c", seed=12, **opts)
    d = generate(tmp_path / "d", seed=11, **{**opts, "kind": "data"})
    assert [p.name for p in a] == ["photons_mc_000.root", "photons_mc_001.root"]
    ra, rb, rc, rd = (_read(x[0]) for x in (a, b, c, d))
    assert len(ra["EventInfoAuxDyn.eventNumber"]) == 2500
    for key in ("AnalysisPhotonsAuxDyn.pt", "AnalysisPhotonsAuxDyn.Reta"):
        np.testing.assert_array_equal(np.concatenate(ra[key]), np.concatenate(rb[key]))
    assert not np.array_equal(
        ra["EventInfoAuxDyn.averageInteractionsPerCrossing"],
        rc["EventInfoAuxDyn.averageInteractionsPerCrossing"],
    )
    assert not np.array_equal(
        ra["EventInfoAuxDyn.averageInteractionsPerCrossing"],
        rd["EventInfoAuxDyn.averageInteractionsPerCrossing"],
    )
    second = _read(a[1])["EventInfoAuxDyn.eventNumber"]
    assert second[0] == 2501
    assert not list(tmp_path.glob("*/*.part"))


@pytest.mark.parametrize("sample", ["photons", "diphoton", "zmumug"])
def test_coffea_round_trip(tmp_path, sample):
    coffea = pytest.importorskip("coffea.nanoevents")
    dask = pytest.importorskip("dask")
    pytest.importorskip("dask_awkward")
    (path,) = generate(tmp_path, sample=sample, kind="mc", events=300, seed=5)
    expected = {
        "EventInfo": {
            "averageInteractionsPerCrossing",
            "eventNumber",
            "runNumber",
            "mcChannelNumber",
            "mcEventWeights",
            "eventTypeBitmask",
        },
        "Photons": {
            "pt",
            "eta",
            "phi",
            "m",
            "conversionType",
            "truthType",
            "truthOrigin",
            "truth_e",
            *SHOWER_SHAPES,
            "topoetcone20",
            "topoetcone40",
            "ptcone20",
        },
    }
    if sample == "zmumug":
        expected["Photons"] |= set(CALO_VARIABLES)
        expected["Muons"] = {"pt", "eta", "phi", "m", "charge"}
    if sample == "diphoton":
        expected["Jets"] = {"pt", "eta", "phi", "m", "isBTagged"}
        expected["Electrons"] = expected["Muons"] = {"pt", "eta", "phi", "m"}
    factory, schema = coffea.NanoEventsFactory, coffea.PHYSLITESchema
    events = factory.from_root(
        {str(path): "CollectionTree"}, schemaclass=schema, mode="eager"
    ).events()
    raw = _read(path)
    for coll, fields in expected.items():
        assert fields <= set(events[coll].fields), coll
        assert len(events[coll]) == 300
    np.testing.assert_allclose(
        ak.to_numpy(ak.flatten(events.Photons.pt)), np.concatenate(raw["AnalysisPhotonsAuxDyn.pt"])
    )
    assert ak.all(ak.num(events.EventInfo.mcEventWeights) == 1)
    if sample == "diphoton":
        assert ak.all(ak.num(events.Photons) == 2)
        assert float(ak.mean(events.Photons[:, 0].pt)) > 30_000  # MeV
    # default dask mode, with dask-awkward's default optimisations
    lazy = factory.from_root(
        {str(path): "CollectionTree"}, schemaclass=schema, mode="dask"
    ).events()
    cols = [lazy[c][f] for c, fs in expected.items() for f in sorted(fs)]
    computed = dask.compute(*cols)
    for arr in computed:
        assert len(arr) == 300
    mu = computed[0]  # EventInfo.averageInteractionsPerCrossing
    np.testing.assert_allclose(
        ak.to_numpy(mu), raw["EventInfoAuxDyn.averageInteractionsPerCrossing"]
    )


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"events": 0}, "events"),
        ({"events": -5}, "events"),
        ({"events": 2.5}, "events"),
        ({"events": 10, "files": 0}, "files"),
        ({"events": 10, "files": 11}, "files"),
        ({"events": 10, "mismodelling": -0.1}, "mismodelling"),
        ({"events": 10, "mismodelling": float("nan")}, "mismodelling"),
        ({"events": 10, "sample": "zmumu"}, "sample"),
        ({"events": 10, "kind": "sim"}, "kind"),
        ({"events": 10, "seed": -1}, "seed"),
        ({"events": 10, "chunk_size": 0}, "chunk_size"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, name):
    with pytest.raises(ConfigError, match=name):
        generate(tmp_path, **kwargs)
    assert not list(tmp_path.iterdir())


def test_out_dir_is_a_file(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(ConfigError, match="out_dir"):
        generate(target, events=10)


def test_calo_variables_carry_the_physics():
    from decorr_af.data.calo import convert, shower

    rng = np.random.default_rng(55117)
    n = 20_000
    e, eta, mu = rng.uniform(20, 300, n), rng.uniform(-2.37, 2.37, n), rng.uniform(20, 80, n)
    conv = convert(np.abs(eta), rng)
    out = shower(e, eta, mu, start=conv["start"], charged=conv["converted"],
                 phi_open=np.zeros(n), rng=rng)  # fmt: skip
    ps = np.abs(eta) < 1.8
    # the presampler measures the upstream loss; there is none beyond |eta| = 1.8
    assert stats.spearmanr(out["E0"][ps] / e[ps], out["upstream_loss"][ps]).statistic > 0.5
    assert np.all(out["E0"][~ps] == 0)
    # accordion layers add up to the raw cluster energy; E1 is the strip fraction
    np.testing.assert_allclose(out["E1"] + out["E2"] + out["E3"], out["e_raw"], rtol=1e-9)
    np.testing.assert_allclose(out["E1"], out["f1"] * out["e_raw"], rtol=1e-9)
    assert np.all(out["E3"] >= 0)
    # the impact point in the cell modulates the lateral leakage and so the response
    resp = out["e_raw"] / e
    edge, centre = np.abs(out["cellEtaOffset"]) > 0.4, np.abs(out["cellEtaOffset"]) < 0.1
    assert np.median(resp[edge]) < np.median(resp[centre]) - 0.002
    assert np.all(np.abs(out["cellEtaOffset"]) <= 0.5)
    # conversion radius follows the conversion type (Si inside, TRT outside)
    radius, ctype = conv["conversionRadius"], conv["conversionType"]
    assert np.all(radius[ctype == 0] == 0)
    assert np.all(radius[ctype > 0] > 0)
    assert (
        np.median(radius[np.isin(ctype, (1, 3))]) < 600 < np.median(radius[np.isin(ctype, (2, 4))])
    )


def test_calo_variables_strengthen_the_baseline(mc):
    """The ATLAS-like η/E/conversion baseline gains from E0-E3, R_conv and cell offsets."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    p = mc["prompt"]
    y = mc["truth_e"][p] / 1e3 / mc["e_raw"][p]
    base = np.column_stack([mc[k][p] for k in ("eta", "e_raw", "conversionType", "mu")])
    calo = np.column_stack([base, *[mc[k][p] for k in CALO_VARIABLES]])
    half = len(y) // 2

    def iqr(features):
        model = HistGradientBoostingRegressor(
            max_iter=100, loss="absolute_error", early_stopping=False, random_state=0
        )
        with threadpool_limits(1):
            model.fit(features[:half], y[:half])
        r = model.predict(features[half:]) / y[half:]
        q25, q50, q75 = np.percentile(r, [25, 50, 75])
        return (q75 - q25) / q50

    assert iqr(calo) < 0.995 * iqr(base)

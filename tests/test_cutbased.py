"""ATLAS-structured cut-based photon ID: Loose/Tight menus, Loose', registry, JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from decorr_af.errors import ConfigError, InputFileError, MissingBranchError
from decorr_af.workflows.cutbased import (
    ATLAS_ETA_BINS,
    CUT_SIDES,
    LOOSE_VARIABLES,
    TIGHT_VARIABLES,
    CutMenu,
    MenuSpec,
    available_menus,
    get_menu_spec,
    loose_prime_variables,
    register_loose_prime,
    register_menu,
    tune_menu,
)


def _table(path, seed: int):
    from decorr_af.data import generate, photon_table

    generate(path, sample="photons", kind="mc", events=30000, files=1, seed=seed)
    df = photon_table(path)
    return df[df["pt"] >= 25.0].reset_index(drop=True)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """Tight (and its Loose parent) tuned on one MC sample, evaluated on another."""
    base = tmp_path_factory.mktemp("cutbased")
    train, test = _table(base / "train", 61129), _table(base / "test", 73309)
    return tune_menu("tight", train), test


def _eff(mask, sel, w):
    return float(w[sel & mask].sum() / w[sel].sum())


def test_menus_reach_their_targets_on_a_fresh_sample(tuned):
    tight, te = tuned
    loose = tight.parent
    p = te["is_prompt"].to_numpy()
    w = te["weight"].to_numpy()
    assert loose.name == "loose"
    assert _eff(loose.passes(te), p, w) == pytest.approx(0.97, abs=0.02)
    spec = get_menu_spec("tight")
    table = tight.efficiency_table(te, mask=p)
    effs = []
    for k, et_lo in enumerate(spec.et_bins):
        sel = p & (te["pt"].to_numpy() >= et_lo)
        if k + 1 < len(spec.et_bins):
            sel &= te["pt"].to_numpy() < spec.et_bins[k + 1]
        eff = _eff(tight.passes(te), sel, w)
        effs.append(eff)
        # per E_T bin, integrated over conversion and |eta|: near the published-style target
        assert eff == pytest.approx(spec.target(k), abs=0.05), (et_lo, eff)
    assert effs[-1] > effs[0]  # rising with E_T
    assert len(table) == 2 * (len(spec.eta_bins) - 1) * len(spec.et_bins)
    # per cell with enough prompt photons: within a few statistical standard deviations
    big = table[table["n"] >= 300]
    assert len(big) >= 10
    sigma = np.sqrt(big["target"] * (1 - big["target"]) / big["n"])
    assert (np.abs(big["efficiency"] - big["target"]) < 0.04 + 4 * sigma).all()
    # and Tight rejects fakes much better than Loose
    f = ~p
    assert _eff(tight.passes(te), f, w) < 0.5 * _eff(loose.passes(te), f, w)


def test_menu_structure_and_nesting(tuned):
    tight, te = tuned
    loose = tight.parent
    assert tight.thresholds.shape == (2, len(ATLAS_ETA_BINS) - 1, 5, len(TIGHT_VARIABLES))
    assert loose.variables == LOOSE_VARIABLES
    # converted and unconverted photons have their own cuts
    assert not np.allclose(tight.thresholds[0], tight.thresholds[1], equal_nan=True)
    # Tight is never looser than Loose on the shared middle-layer / hadronic variables
    for v in LOOSE_VARIABLES:
        t = tight.thresholds[..., tight.variables.index(v)]
        lo = loose.thresholds[..., loose.variables.index(v)]
        assert (CUT_SIDES[v] * (lo - t) >= -1e-12).all(), v
    t_pass, l_pass = tight.passes(te), loose.passes(te)
    assert t_pass.any()
    assert not (t_pass & ~l_pass).any()  # Tight ⊂ Loose
    lp4 = tight.loose_prime(te, "loose_prime_4")
    lp2 = tight.loose_prime(te, "loose_prime_2")
    assert lp4.any()
    assert not (lp4 & t_pass).any()  # Loose' ∩ Tight = ∅
    assert not (lp4 & ~l_pass).any()  # Loose' ⊂ Loose
    assert not (lp2 & ~lp4).any()  # releasing more cuts enlarges Loose'
    # Loose'4 photons pass every Tight cut that is not released, and fail a released one
    kept = [v for v in TIGHT_VARIABLES if v not in loose_prime_variables("loose_prime_4")]
    assert tight.passes_cuts(te, kept)[lp4].all()
    assert not tight.passes_cuts(te, loose_prime_variables("loose_prime_4"))[lp4].any()


def test_score_family_reproduces_the_menu_efficiency(tuned):
    tight, te = tuned
    s = tight.score(te)
    p = te["is_prompt"].to_numpy()
    assert (s[~tight.parent.passes(te)] < 0).all()
    assert s.max() <= 1.0
    # a cut on the score is a rectangular-menu family: prompt efficiency ~ 1 - cut (in Loose)
    lp = p & tight.parent.passes(te)
    assert (s[lp] > 0.2).mean() == pytest.approx(0.8, abs=0.04)


def test_json_round_trip(tuned, tmp_path):
    tight, te = tuned
    path = tmp_path / "tight.json"
    tight.save(path)
    back = CutMenu.load(path)
    assert back.name == "tight"
    assert back.parent.name == "loose"
    assert np.array_equal(back.passes(te), tight.passes(te))
    assert np.array_equal(back.loose_prime(te), tight.loose_prime(te))
    np.testing.assert_array_equal(back.thresholds, tight.thresholds)
    with pytest.raises(ConfigError, match="score family"):
        back.score(te)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputFileError, match=r"bad\.json"):
        CutMenu.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something"}))
    with pytest.raises(ConfigError, match="cut menu"):
        CutMenu.load(tmp_path / "other.json")
    with pytest.raises(InputFileError, match=r"missing\.json"):
        CutMenu.load(tmp_path / "missing.json")


def test_registry_plugins_and_errors():
    assert {"loose", "tight"} <= set(available_menus())
    spec = MenuSpec(
        "test_medium", ("Rhad", "Reta", "weta2", "Rphi"), (0.9,), parent="loose",
        eta_bins=(0.0, 1.37, 2.37), et_bins=(25.0,),
    )  # fmt: skip
    register_menu(spec, overwrite=True)
    assert get_menu_spec("test_medium") is spec
    with pytest.raises(ConfigError, match="already registered"):
        register_menu(spec)
    with pytest.raises(ConfigError, match="unknown parent"):
        register_menu(MenuSpec("orphan", ("Rhad",), (0.9,), parent="nope"))
    with pytest.raises(ConfigError, match="'variables'"):
        MenuSpec("bad", ("Rhad", "topoetcone20"), (0.9,))
    with pytest.raises(ConfigError, match="'efficiency'"):
        MenuSpec("bad", ("Rhad",), (0.9, 0.8))
    with pytest.raises(ConfigError, match="unknown menu 'nope'"):
        get_menu_spec("nope")
    register_loose_prime("test_lp_1", ("weta1",), overwrite=True)
    assert loose_prime_variables("test_lp_1") == ("weta1",)
    with pytest.raises(ConfigError, match="unknown Loose"):
        loose_prime_variables("loose_prime_9")
    # a custom menu tunes like the built-in ones (sparse cells borrow wider ones)
    rng = np.random.default_rng(3301)
    n = 3000
    t = pd.DataFrame(
        {
            "pt": rng.uniform(25, 90, n),
            "eta": rng.uniform(-2.37, 2.37, n),
            "conversionType": rng.integers(0, 3, n),
            "is_prompt": np.ones(n),
            "weight": rng.gamma(5.0, 0.2, n),
        }
    )
    for v in CUT_SIDES:
        t[v] = rng.normal(size=n)
    menu = tune_menu("test_medium", t)
    assert menu.parent.name == "loose"
    assert np.average(menu.passes(t), weights=t["weight"]) == pytest.approx(0.9, abs=0.03)
    with pytest.raises(MissingBranchError, match="'Rphi'"):
        menu.passes(t.drop(columns="Rphi"))
    with pytest.raises(MissingBranchError, match="conversionType"):
        menu.passes(t.drop(columns="conversionType"))
    with pytest.raises(ConfigError, match="no prompt photon"):
        tune_menu("loose", t.assign(is_prompt=0.0))

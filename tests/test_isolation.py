"""Named isolation working points: definitions on hand-made rows, the gap, the registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from decorr_af.columnar.isolation import (
    IsolationWP,
    available_isolation_wps,
    get_isolation_wp,
    register_isolation_wp,
)
from decorr_af.errors import ConfigError, MissingBranchError


def _rows(**cols):
    return pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in cols.items()})


def test_fixed_cut_loose_definition():
    # pT = 40 GeV: calo cut 0.065*40 = 2.6 GeV, track cut 0.05*40 = 2.0 GeV
    t = _rows(
        pt=[40, 40, 40, 40, 80],
        topoetcone20=[2.59, 2.61, 0.0, 0.0, 5.1],
        ptcone20=[0.0, 0.0, 1.99, 2.01, 3.9],
    )
    wp = get_isolation_wp("FixedCutLoose")
    assert wp.passes(t).tolist() == [True, False, True, False, True]
    assert wp.columns == ("pt", "topoetcone20", "ptcone20")


def test_fixed_cut_tight_and_calo_only():
    # pT = 50 GeV: calo cut 0.022*50 + 2.45 = 3.55 GeV on topoetcone40; track 2.5 GeV
    t = _rows(
        pt=[50, 50, 50, 50],
        topoetcone20=[9.0, 9.0, 9.0, 9.0],  # not used by these working points
        topoetcone40=[3.54, 3.56, 1.0, 1.0],
        ptcone20=[0.0, 0.0, 2.6, 2.4],
    )
    assert get_isolation_wp("FixedCutTight").passes(t).tolist() == [True, False, False, True]
    calo_only = get_isolation_wp("FixedCutTightCaloOnly")
    assert calo_only.passes(t).tolist() == [True, False, True, True]
    assert calo_only.track is None
    assert np.isinf(calo_only.track_cut([50.0])).all()


def test_non_isolated_region_respects_the_gap():
    rng = np.random.default_rng(60217)
    n = 20000
    t = _rows(
        pt=rng.uniform(25, 150, n),
        topoetcone20=rng.exponential(4.0, n) - 1.0,
        topoetcone40=rng.exponential(6.0, n) - 1.0,
        ptcone20=rng.exponential(3.0, n) * (rng.uniform(size=n) < 0.6),
    )
    for name in ("FixedCutLoose", "FixedCutTight", "FixedCutTightCaloOnly"):
        wp = get_isolation_wp(name)
        iso, non = wp.passes(t), wp.non_isolated(t, gap=2.0)
        assert iso.any()
        assert non.any()
        assert not (iso & non).any()
        calo = t[wp.calo].to_numpy() - wp.calo_cut(t["pt"])
        track = (t[wp.track].to_numpy() - wp.track_cut(t["pt"])) if wp.track else -np.inf
        # every non-isolated candidate fails a cut by more than the gap ...
        assert (np.maximum(calo, track)[non] > 2.0).all()
        # ... and candidates failing by less than the gap are in neither region
        between = ~iso & ~non
        assert between.any()
        assert (np.maximum(calo, track)[between] <= 2.0).all()
        # zero gap: every candidate is isolated or non-isolated (continuous values)
        assert (wp.passes(t) | wp.non_isolated(t, gap=0.0)).all()
    with pytest.raises(ConfigError, match="'gap'"):
        get_isolation_wp("FixedCutLoose").non_isolated(t, gap=-1.0)


def test_registry_and_errors():
    assert {"FixedCutLoose", "FixedCutTight", "FixedCutTightCaloOnly"} <= set(
        available_isolation_wps()
    )
    custom = IsolationWP("TestCone40Flat", calo="topoetcone40", calo_slope=0.0, calo_offset=4.0)
    register_isolation_wp(custom, overwrite=True)
    assert get_isolation_wp("TestCone40Flat") is custom
    assert get_isolation_wp(custom.to_dict()) == custom
    with pytest.raises(ConfigError, match="already registered"):
        register_isolation_wp(custom)
    with pytest.raises(ConfigError, match="'NoSuchWP'"):
        get_isolation_wp("NoSuchWP")
    with pytest.raises(ConfigError, match="never passed"):
        IsolationWP("Bad", calo="topoetcone20", calo_slope=0.0, calo_offset=0.0)
    with pytest.raises(MissingBranchError, match="ptcone20"):
        get_isolation_wp("FixedCutLoose").passes(_rows(pt=[30.0], topoetcone20=[1.0]))


def test_excess_is_the_isolation_axis():
    t = _rows(pt=[40.0, 40.0, 40.0], topoetcone20=[1.6, 3.6, 0.0], ptcone20=[0.0, 0.0, 5.0])
    wp = get_isolation_wp("FixedCutLoose")
    # calo cut 2.6 GeV, track cut 2.0 GeV at pT = 40 GeV
    np.testing.assert_allclose(wp.excess(t), [-1.0, 1.0, 3.0])
    assert wp.passes(t).tolist() == [True, False, False]
    assert wp.non_isolated(t, gap=2.0).tolist() == [False, False, True]
    calo_only = get_isolation_wp("FixedCutTightCaloOnly")
    t40 = t.assign(topoetcone40=[3.0, 3.4, 3.5])  # cut 0.022*40 + 2.45 = 3.33 GeV
    np.testing.assert_allclose(calo_only.excess(t40), [-0.33, 0.07, 0.17], atol=1e-9)

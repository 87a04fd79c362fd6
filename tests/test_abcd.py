"""ABCD (2D sideband) yields, R_bkg, estimate and non-closure."""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.errors import ConfigError
from decorr_af.metrics import abcd, abcd_nonclosure, abcd_signal_yield


def _sample(rho: float, n: int, seed: int):
    """Gaussian ID and isolation variables with correlation ``rho`` and MC-like weights."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n)
    b = rho * a + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    w = rng.gamma(4.0, 0.25, n)
    return a, b, w


def test_independent_axes_give_r_bkg_one():
    a, b, w = _sample(0.0, 400_000, 88123)
    r = abcd(a > 0.8, b < -0.3, w, id_fail=a < 0.5, iso_fail=b > 0.0)
    assert r.r_bkg == pytest.approx(1.0, abs=4 * r.r_bkg_err)
    assert r.r_bkg_err < 0.03
    assert abs(r.bias) < 4 * r.r_bkg_err
    # the estimate predicts the signal-region yield within its uncertainty
    assert r.estimate == pytest.approx(
        r.yields[0], abs=4 * np.hypot(r.estimate_err, r.yields[0] ** 0.5)
    )


@pytest.mark.parametrize(("rho", "sign"), [(0.4, 1), (-0.4, -1)])
def test_correlated_axes_give_r_bkg_away_from_one(rho, sign):
    # ID "pass" = a high; isolated = b low. rho > 0: passing fakes are less isolated -> R < 1
    a, b, w = _sample(rho, 100_000, 4519)
    r = abcd(a > 0.8, b < -0.3, w, id_fail=a < 0.5, iso_fail=b > 0.0)
    assert sign * (1.0 - r.r_bkg) > 5 * r.r_bkg_err
    assert r.bias == pytest.approx(1.0 / r.r_bkg - 1.0)
    nc, err = abcd_nonclosure(a > 0.8, b < -0.3, w, score_fail=a < 0.5, iso_fail=b > 0.0)
    assert nc == pytest.approx(r.r_bkg - 1.0)
    assert err == pytest.approx(r.r_bkg_err)


def test_regions_by_hand_and_gaps():
    id_pass = np.array([1, 1, 0, 0, 0, 1, 0], bool)
    id_fail = np.array([0, 0, 1, 1, 0, 0, 1], bool)  # row 4: neither (between Tight and Loose')
    iso = np.array([1, 0, 1, 0, 1, 0, 0], bool)
    noniso = np.array([0, 1, 0, 1, 0, 0, 0], bool)  # rows 5, 6: in the isolation gap
    w = np.array([2.0, 3.0, 5.0, 7.0, 100.0, 100.0, 100.0])
    r = abcd(id_pass, iso, w, id_fail=id_fail, iso_fail=noniso)
    assert r.yields == (2.0, 3.0, 5.0, 7.0)
    assert r.variances == (4.0, 9.0, 25.0, 49.0)
    assert r.r_bkg == pytest.approx(2 * 7 / (3 * 5))
    assert r.estimate == pytest.approx(3 * 5 / 7)
    assert r.r_bkg_err == pytest.approx(
        r.r_bkg * np.sqrt(4.0)
    )  # one row per region: sigma_R / N_R = 1
    d = r.as_dict("x.")
    assert d["x.abcd_A"] == 2.0
    assert d["x.r_bkg"] == pytest.approx(r.r_bkg)
    # default fail regions: the complements
    assert abcd([1, 1, 0, 0], [1, 0, 1, 0]).yields == (1.0, 1.0, 1.0, 1.0)


def test_empty_region_and_overlap():
    r = abcd([1, 1, 0], [1, 0, 1])
    assert np.isnan(r.r_bkg)
    assert np.isnan(r.estimate)
    assert np.isnan(abcd_nonclosure([1, 1, 0], [1, 0, 1])[0])
    with pytest.raises(ConfigError, match="id_pass and id_fail overlap"):
        abcd([1, 0], [1, 0], id_fail=[1, 1])
    with pytest.raises(ConfigError, match="same length"):
        abcd([1, 0], [1, 0, 1])


def test_signal_yield_with_leakage_recovers_the_truth():
    rng = np.random.default_rng(51413)
    # background: ID and isolation independent; signal: mostly tight and isolated
    nb, ns = 200_000, 40_000
    a_b, b_b = rng.standard_normal(nb), rng.standard_normal(nb)
    a_s, b_s = rng.normal(2.0, 0.7, ns), rng.normal(-1.5, 0.7, ns)
    a, b = np.r_[a_b, a_s], np.r_[b_b, b_s]
    sig = np.r_[np.zeros(nb, bool), np.ones(ns, bool)]
    masks = {"id_fail": a < 0.5, "iso_fail": b > 0.0}
    every = abcd(a > 0.8, b < -0.3, **masks)
    s = abcd(a[sig] > 0.8, b[sig] < -0.3, **{k: v[sig] for k, v in masks.items()})
    leak = np.asarray(s.yields[1:]) / s.yields[0]
    assert (leak > 0).all()  # the signal does leak into the control regions
    est = abcd_signal_yield(every.yields, leakage=leak)
    bkg_a = every.yields[0] - s.yields[0]
    assert est == pytest.approx(s.yields[0], abs=4 * np.sqrt(bkg_a))
    # ignoring the leakage over-subtracts the background
    naive = abcd_signal_yield(every.yields)
    assert naive < est - 3 * np.sqrt(bkg_a)
    # correlated background: R_bkg from the background MC restores the exact yield
    b_bc = 0.5 * a_b + np.sqrt(0.75) * b_b
    b2 = np.r_[b_bc, b_s]
    every2 = abcd(a > 0.8, b2 < -0.3, id_fail=a < 0.5, iso_fail=b2 > 0.0)
    r = abcd(a_b > 0.8, b_bc < -0.3, id_fail=a_b < 0.5, iso_fail=b_bc > 0.0).r_bkg
    assert r < 0.9
    exact = abcd_signal_yield(every2.yields, leakage=leak, r_bkg=r)
    assert exact == pytest.approx(s.yields[0], rel=1e-9)
    with pytest.raises(ConfigError, match="4 values"):
        abcd_signal_yield((1.0, 2.0, 3.0))
    with pytest.raises(ConfigError, match="r_bkg > 0"):
        abcd_signal_yield((1.0, 2.0, 3.0, 4.0), r_bkg=0.0)

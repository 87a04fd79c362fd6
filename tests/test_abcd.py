"""ABCD (2D sideband) yields, R_bkg, estimate and non-closure."""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.errors import ConfigError
from decorr_af.metrics import abcd, abcd_nonclosure


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

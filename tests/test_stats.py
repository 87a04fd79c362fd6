"""Statistics kernels of the ttH(γγ) measurement: shapes, spurious signal, pyhf fits, κ_t."""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.errors import ConfigError
from decorr_af.stats import kappa as kp
from decorr_af.stats.functions import bin_fractions, functions, get_function
from decorr_af.stats.likelihood import Category, Measurement
from decorr_af.stats.shapes import DSCB, fit_dscb
from decorr_af.stats.spurious import (
    choose_function,
    expected_signal_error,
    fit_background,
    fit_splusb,
)

pytest.importorskip("pyhf")

EDGES = np.linspace(105.0, 160.0, 111)
SHAPE = DSCB(mean=125.0, sigma=1.7, alpha_lo=1.4, n_lo=6.0, alpha_hi=1.6, n_hi=8.0)


def _categories(spurious=(0.5, 1.0, 2.0)):
    """Three categories: (signal, background per bin) of increasing purity."""
    out = []
    for i, (s, b, sp) in enumerate(zip((30.0, 20.0, 10.0), (4000.0, 800.0, 60.0), spurious)):
        bkg = b * bin_fractions(get_function("exponential"), EDGES, np.array([-1.5 + 0.3 * i]))
        out.append(
            Category(f"cat{i}", s * SHAPE.bin_fractions(EDGES), bkg, SHAPE, EDGES, spurious=sp)
        )
    return out


@pytest.fixture(scope="module")
def measurement():
    return Measurement(_categories())


def _sample_dscb(shape: DSCB, n: int, rng) -> np.ndarray:
    grid = np.linspace(EDGES[0], EDGES[-1], 20001)
    cdf = np.cumsum(shape.density(grid))
    return np.interp(rng.random(n) * cdf[-1], cdf, grid)


def test_dscb_fit_recovers_parameters():
    rng = np.random.default_rng(20261130)
    x = _sample_dscb(SHAPE, 40000, rng)
    fitted, n, err = fit_dscb(np.histogram(x, EDGES)[0].astype(float), EDGES)
    assert abs(fitted.mean - SHAPE.mean) < 3 * err["mean"] + 1e-3
    assert abs(fitted.sigma - SHAPE.sigma) < 3 * err["sigma"] + 1e-3
    assert abs(n - 40000) < 3 * np.sqrt(40000)
    fixed, _, err_fixed = fit_dscb(
        np.histogram(x[:500], EDGES)[0].astype(float), EDGES, tails=SHAPE
    )
    assert set(err_fixed) == {"yield", "mean", "sigma"}
    assert fixed.alpha_lo == SHAPE.alpha_lo
    assert abs(fixed.mean - 125.0) < 0.3


def test_function_registry_and_errors():
    assert functions()[0] == "exponential"
    assert [get_function(f).n_params for f in functions()] == sorted(
        get_function(f).n_params for f in functions()
    )
    with pytest.raises(ConfigError, match="'function'"):
        get_function("nope")
    with pytest.raises(ConfigError, match="max_fraction"):
        choose_function(np.ones(110), EDGES, SHAPE, signal_error=1.0, max_fraction=2.0)


def test_spurious_signal_test_chooses_the_simplest_adequate_function():
    sigma_s = 25.0
    straight = 2e4 * bin_fractions(get_function("exponential"), EDGES, np.array([-2.0]))
    curved = 2e4 * bin_fractions(get_function("exppoly2"), EDGES, np.array([-3.5, 2.5]))
    a = choose_function(straight, EDGES, SHAPE, signal_error=sigma_s, relaxed=False)
    assert a.function == "exponential"
    assert a.passed
    assert a.spurious_signal < 0.01 * sigma_s
    b = choose_function(curved, EDGES, SHAPE, signal_error=sigma_s, relaxed=False)
    exp_row = b.table[0]
    assert exp_row["function"] == "exponential"
    assert not exp_row["passed"]
    assert b.passed
    assert get_function(b.function).n_params >= 2
    assert b.spurious_signal < 0.2 * sigma_s < exp_row["spurious_signal"]


@pytest.mark.slow
def test_background_only_toys_fit_the_assigned_spurious_signal():
    """Toys of a curved background fitted with an exponential: mean ns ≈ the Asimov S_spur."""
    rng = np.random.default_rng(77)
    truth = 3e3 * bin_fractions(get_function("exppoly2"), EDGES, np.array([-3.5, 2.5]))
    assigned = fit_splusb(truth, EDGES, SHAPE, "exponential").ns
    start = fit_background(truth, EDGES, "exponential")
    ns = np.array(
        [fit_splusb(rng.poisson(truth).astype(float), EDGES, SHAPE, "exponential", start=start).ns
         for _ in range(60)]
    )  # fmt: skip
    assert abs(assigned) > 3 * ns.std() / np.sqrt(len(ns))  # a visible bias ...
    assert abs(ns.mean() - assigned) < 3 * ns.std() / np.sqrt(len(ns))  # ... reproduced by toys


def test_expected_signal_error_matches_fit_uncertainty(measurement):
    cat = _categories()[1]
    sigma = expected_signal_error(20.0, SHAPE, cat.background, EDGES)
    fit = fit_splusb(cat.signal + cat.background, EDGES, SHAPE, "exponential")
    assert abs(fit.ns - 20.0) < 0.05
    assert 0.85 < fit.ns_err / sigma < 1.15  # the fit also floats the slope


def test_asimov_fit_recovers_mu_and_kappa_t(measurement):
    asimov = measurement.asimov()
    res = measurement.fit(asimov)
    assert abs(res["mu"] - 1.0) < 1e-3
    mu_hat, lo, hi = measurement.interval(asimov)
    assert lo < 1.0 < hi
    kt, kt_lo, kt_hi = kp.kappa_t_interval(mu_hat, lo, hi)
    assert abs(kt - 1.0) < 1e-3
    assert kt_lo < 1.0 < kt_hi
    assert measurement.significance(asimov) > 0
    scan = kp.kappa_t_scan(measurement, asimov, np.array([0.5, 1.0, 1.5]))
    assert scan[1] < 1e-3
    assert scan[0] > 1
    assert scan[2] > 1


def test_spurious_nuisance_widens_mu_interval():
    tight = Measurement(_categories((0.0, 0.0, 0.0)))
    wide = Measurement(_categories((10.0, 10.0, 10.0)))
    assert wide.mu_uncertainty() > 1.05 * tight.mu_uncertainty()


@pytest.mark.slow
def test_pulls_of_pseudo_data(measurement):
    """≥ 200 toys at μ = 1: pulls (μ̂ − 1)/σ_μ(Asimov) have mean ≈ 0, width ≈ 1."""
    sigma = measurement.mu_uncertainty()
    toys = measurement.toys(240, mu=1.0, seed=424242)
    mu = np.array([measurement.fit(t)["mu"] for t in toys])
    pulls = (mu - 1.0) / sigma
    assert abs(pulls.mean()) < 3 / np.sqrt(len(pulls))
    assert 0.85 < pulls.std() < 1.15


def test_observed_counts_follow_category_names():
    cats = _categories()[:2]
    renamed = [
        Category(n, c.signal, c.background, SHAPE, EDGES) for n, c in zip(("zz", "aa"), cats)
    ]
    meas = Measurement(renamed)
    data = meas.with_observed([c.signal + c.background for c in cats])
    assert abs(meas.fit(data)["mu"] - 1.0) < 1e-3
    with pytest.raises(ConfigError, match="categories"):
        meas.with_observed([cats[0].signal])


def test_category_binning_is_checked():
    with pytest.raises(ConfigError, match="'background'"):
        Category("c", np.ones(110), np.ones(3), SHAPE, EDGES)


def test_kappa_framework():
    assert kp.mu_tth_yy(1.0) == pytest.approx(1.0, abs=1e-12)
    assert kp.kappa_h2(1.0) == pytest.approx(1.0, abs=1e-12)
    assert kp.mu_tth_yy(1.3, width="fixed") == pytest.approx(1.3**2 * kp.kappa_gamma2(1.3))
    # the top loop interferes destructively with the W loop in H→γγ
    assert kp.kappa_gamma2(1.3) < 1.0 < kp.kappa_gamma2(0.7)
    k = np.linspace(0.0, 1.8, 50)
    assert np.all(np.diff(kp.mu_tth_yy(k)) > 0)
    with pytest.raises(ConfigError, match="'width'"):
        kp.kappa_h2(1.0, width="nope")
    assert kp.kappa_t_interval(-0.5, -1.0, 0.5)[:2] == (0.0, 0.0)
    assert kp.mu_smeft_linear(1.0) < 1.0 < kp.mu_smeft_linear(-1.0)

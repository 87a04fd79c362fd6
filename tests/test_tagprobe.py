"""Radiative-Z tag-and-probe efficiencies with sideband subtraction (synthetic probes).

Signal probes peak in m_μμγ at m_Z, the background is a falling continuum whose
probes pass the ID far less often; seeds were not used to develop the method.
"""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.egamma import (
    Efficiency,
    binned_efficiencies,
    scale_factor,
    sideband_background,
    tag_probe_efficiency,
    template_efficiency,
    template_yields,
)
from decorr_af.errors import ConfigError


def _probes(rng, n_sig, n_bkg, eff_sig, eff_bkg):
    m_s = rng.normal(91.2, 2.2, n_sig)
    m_b = 60.0 + rng.exponential(45.0, n_bkg)
    m = np.r_[m_s, m_b]
    passed = np.r_[rng.random(n_sig) < eff_sig, rng.random(n_bkg) < eff_bkg]
    return m, passed


def test_linear_background_is_estimated_without_bias():
    rng = np.random.default_rng(31337)
    # density falling linearly from 60 to 120 GeV
    u = rng.random(200000)
    m = 60 + 60 * (1 - np.sqrt(1 - u * 0.75)) / 0.5  # pdf ∝ (1 - 0.5 (m-60)/60)
    b, var = sideband_background(m, shape="linear")
    truth = np.sum((m >= 80) & (m < 100))
    assert abs(b - truth) < 3 * np.sqrt(var + truth)  # the window count fluctuates too


def test_exponential_background_is_estimated_without_bias():
    rng = np.random.default_rng(11235)
    m = 55.0 + rng.exponential(30.0, 300000)
    b, var = sideband_background(m)
    truth = np.sum((m >= 80) & (m < 100))
    assert abs(b - truth) < 3 * np.sqrt(var + truth)  # the window count fluctuates too
    lin, _ = sideband_background(m, shape="linear")
    assert lin - truth > 3 * np.sqrt(var + truth)  # a straight line overestimates a convex density


def test_sideband_subtraction_removes_background_bias():
    rng = np.random.default_rng(24681)
    m, passed = _probes(rng, 20000, 30000, 0.87, 0.25)
    raw = tag_probe_efficiency(m, passed, subtract=False)
    sub = tag_probe_efficiency(m, passed)
    assert abs(sub.eff - 0.87) < 3 * sub.err
    assert raw.eff < 0.87 - 5 * sub.err  # counting in the window is biased by fakes
    assert 0.5 < sub.purity < 0.95
    assert sub.bkg_fail > sub.bkg_pass > 0


def test_efficiency_errors_cover():
    rng = np.random.default_rng(97531)
    pulls = []
    for _ in range(40):
        m, passed = _probes(rng, 2000, 3000, 0.8, 0.3)
        e = tag_probe_efficiency(m, passed)
        pulls.append((e.eff - 0.8) / e.err)
    pulls = np.asarray(pulls)
    assert abs(pulls.mean()) < 0.6
    assert 0.6 < pulls.std() < 1.4


def test_scale_factor_and_bins():
    rng = np.random.default_rng(1357)
    m_d, p_d = _probes(rng, 20000, 8000, 0.82, 0.3)
    m_m, p_m = _probes(rng, 20000, 8000, 0.90, 0.3)
    sf, err = scale_factor(tag_probe_efficiency(m_d, p_d), tag_probe_efficiency(m_m, p_m))
    assert abs(sf - 0.82 / 0.90) < 3 * err
    bins = rng.integers(0, 3, len(m_d))
    effs = binned_efficiencies(m_d, p_d, bins, 3)
    assert len(effs) == 3
    assert all(abs(e.eff - 0.82) < 4 * e.err for e in effs)
    nothing = Efficiency(float("nan"), float("nan"), 0, 0, 0, 0, 0)
    assert np.isnan(scale_factor(nothing, effs[0])[0])


def test_weights_scale_out():
    rng = np.random.default_rng(8642)
    m, passed = _probes(rng, 5000, 5000, 0.85, 0.2)
    a = tag_probe_efficiency(m, passed)
    b = tag_probe_efficiency(m, passed, np.full(len(m), 3.0))
    assert b.eff == pytest.approx(a.eff)
    assert b.err == pytest.approx(a.err)


def test_template_fit_handles_signal_in_the_sidebands():
    """Signal tails in the sidebands bias the sideband method, not the template fit."""
    rng = np.random.default_rng(42424)

    def sample(n_s, n_b, eff_s, eff_b):
        # signal with a wide low tail (FSR resolution), background rising above m_Z
        m_s = np.where(rng.random(n_s) < 0.8, rng.normal(91, 2.0, n_s), rng.normal(84, 6, n_s))
        m_b = 88.0 + rng.gamma(2.0, 8.0, n_b)
        return np.r_[m_s, m_b], np.r_[rng.random(n_s) < eff_s, rng.random(n_b) < eff_b]

    sig_t = (np.where(rng.random(50000) < 0.8, rng.normal(91, 2.0, 50000),
                      rng.normal(84, 6, 50000)), None)  # fmt: skip
    bkg_t = (88.0 + rng.gamma(2.0, 8.0, 50000), None)
    m, passed = sample(8000, 3000, 0.75, 0.2)
    t = template_efficiency(m, passed, sig_template=sig_t, bkg_template=bkg_t)
    sb = tag_probe_efficiency(m, passed)
    assert abs(t.eff - 0.75) < 3 * t.err
    assert abs(sb.eff - 0.75) > abs(t.eff - 0.75)
    s, var, b = template_yields(m, None, sig_t, bkg_t)
    assert s > 0
    assert var > 0
    assert b > 0
    with pytest.raises(ConfigError, match="inside 'fit_range'"):
        template_yields(m, None, sig_t, bkg_t, window=(50, 100))
    with pytest.raises(ConfigError, match="bkg_template"):
        template_yields(m, None, sig_t, (np.array([10.0]), None))


def test_separate_templates_for_failing_probes():
    """Failing signal probes with another m_μμγ shape need their own template."""
    rng = np.random.default_rng(60607)

    def sig(n, fail):  # failing photons (e.g. converted) leak more: lower, wider peak
        return rng.normal(88.0, 4.0, n) if fail else rng.normal(91.0, 2.0, n)

    def bkg(n):
        return 70.0 + rng.gamma(3.0, 10.0, n)

    m = np.r_[sig(6000, False), sig(2000, True), bkg(1500), bkg(1500)]
    passed = np.r_[np.ones(6000, bool), np.zeros(5000, bool)]
    passed[8000:8300] = True  # a few background probes pass
    truth = 6000 / 8000
    mixed = (np.r_[sig(30000, False), sig(10000, True)], None)
    split = template_efficiency(m, passed, sig_template=(sig(40000, False), None),
                                bkg_template=(bkg(40000), None),
                                fail_templates=((sig(40000, True), None), (bkg(40000), None)))  # fmt: skip
    one = template_efficiency(m, passed, sig_template=mixed, bkg_template=(bkg(40000), None))
    assert abs(split.eff - truth) < 3 * split.err
    assert abs(split.eff - truth) < abs(one.eff - truth)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: sideband_background([90.0], window=(80, 100), sidebands=((85, 95), (100, 110))),
            "sidebands",
        ),
        (lambda: sideband_background([90.0, 91.0], [1.0]), "weights"),
        (lambda: sideband_background([90.0], shape="poly7"), "shape"),
        (lambda: tag_probe_efficiency([90.0, 91.0], [True]), "differ in length"),
        (lambda: binned_efficiencies([90.0, 91.0], [True, False], [0], 1), "bins"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


@pytest.mark.parametrize("n_pass", [0, 20])
def test_boundary_efficiency_has_a_binomial_error(n_pass):
    """0/20 or 20/20 passing probes: the error is not zero (it was: 2e-10 ± 2e-10 in sparse bins)."""
    m = np.full(20, 91.0)
    passed = np.arange(20) < n_pass
    e = tag_probe_efficiency(m, passed, subtract=False)
    assert e.eff == pytest.approx(n_pass / 20)
    # Wilson score half-width at z = 1 for p in {0, 1}: 1/(2n) / (1 + 1/n)
    assert e.err >= 0.5 / 20 / (1 + 1 / 20) - 1e-12

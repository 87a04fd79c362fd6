"""Z→ee line-shape fit and the α / c′ extraction on synthetic pairs with known truth.

The pairs are drawn here (seeds never used to develop the fit): a Breit–Wigner Z
mass, per-electron responses with a sampling term, a constant term and a low
bremsstrahlung tail, and a falling non-resonant continuum. "Data" applies known
per-|η|-bin energy scales α_i and extra smearing c′_i per electron.
"""

from __future__ import annotations

import numpy as np
import pytest

from decorr_af.egamma import (
    GAMMA_Z,
    M_Z,
    extract_scales,
    fit_line_shape,
    line_shape_pdf,
    pair_categories,
)
from decorr_af.egamma.scales import signed_sqrt
from decorr_af.errors import ConfigError

EDGES = (0.0, 0.8, 1.5, 2.4)
ALPHA = np.array([0.004, -0.006, 0.012])
CPRIME = np.array([0.006, 0.010, 0.016])


def _pairs(rng, n, *, alpha=None, cprime=None, bkg_frac=0.04):
    """Pair masses and η of n Z→ee pairs (+ continuum), energies smeared per electron."""
    eta = rng.uniform(-2.4, 2.4, (n, 2))
    m_true = M_Z + 0.5 * GAMMA_Z * rng.standard_cauchy(n)
    e = np.clip(rng.normal(44.0, 8.0, (n, 2)), 20, None)
    rel = np.hypot(0.10 / np.sqrt(e), 0.007)
    resp = 1.0 + rel * rng.normal(size=(n, 2))
    tail = rng.random((n, 2)) < 0.08  # bremsstrahlung / leakage: low tail
    resp = np.where(tail, resp - rng.exponential(0.02, (n, 2)), resp)
    b = np.searchsorted(EDGES, np.abs(eta), side="right") - 1
    if alpha is not None:
        resp = resp * (1.0 + alpha[b]) * (1.0 + cprime[b] * rng.normal(size=(n, 2)))
    m = m_true * np.sqrt(resp[:, 0] * resp[:, 1])
    nb = int(bkg_frac * n)
    m_b = 70.0 + rng.exponential(25.0, nb)
    return np.r_[m, m_b], np.r_[eta, rng.uniform(-2.4, 2.4, (nb, 2))]


def test_fit_recovers_peak_shift_and_width_with_background():
    rng = np.random.default_rng(73019)
    n = 30000
    m = M_Z + 0.5 * GAMMA_Z * rng.standard_cauchy(n) + rng.normal(-0.45, 1.9, n)
    m = np.r_[m, 60.0 + rng.exponential(20.0, 6000)]
    fit = fit_line_shape(m)
    assert fit.valid
    assert abs(fit.peak - (M_Z - 0.45)) < 4 * fit.peak_err + 0.03
    assert abs(fit.sigma - 1.9) < 4 * fit.sigma_err + 0.03
    assert fit.n_background > 0.02 * fit.n_events  # the continuum is found
    exp = fit.expected()
    assert exp.sum() == pytest.approx(fit.counts.sum(), rel=0.01)
    chi2 = float(np.sum((fit.counts - exp) ** 2 / np.maximum(exp, 1)))
    assert chi2 / len(exp) < 2.0


def test_fit_peak_pulls_cover():
    """Ensemble of toys: the HESSE error on the peak describes its scatter."""
    rng = np.random.default_rng(55123)
    pulls = []
    for _ in range(12):
        m = M_Z + 0.5 * GAMMA_Z * rng.standard_cauchy(4000) + rng.normal(0.2, 1.6, 4000)
        f = fit_line_shape(m, background=False)
        pulls.append((f.peak - (M_Z + 0.2)) / f.peak_err)
    pulls = np.array(pulls)
    assert abs(pulls.mean()) < 1.2
    assert 0.4 < pulls.std() < 1.8


def test_weighted_fit_equals_unweighted_for_uniform_weights():
    rng = np.random.default_rng(88121)
    m = M_Z + 0.5 * GAMMA_Z * rng.standard_cauchy(8000) + rng.normal(0, 1.7, 8000)
    a = fit_line_shape(m, background=False)
    b = fit_line_shape(m, np.full(len(m), 0.5), background=False)
    assert b.peak == pytest.approx(a.peak, abs=1e-3)
    # uniform weights only rescale the counts: the same information, the same error
    assert b.peak_err == pytest.approx(a.peak_err, rel=0.05)


def test_pdf_is_normalised_and_peaks_at_peak():
    m = np.linspace(80, 100, 4001)
    p = line_shape_pdf(m, peak=90.6, sigma=2.0, alpha_cb=1.2)
    assert float(np.sum(p) * (m[1] - m[0])) == pytest.approx(1.0, abs=0.01)
    assert m[np.argmax(p)] == pytest.approx(90.6, abs=0.15)
    assert line_shape_pdf([70.0, 105.0]).tolist() == [0.0, 0.0]


def test_extract_scales_recovers_injected_alpha_and_cprime():
    rng = np.random.default_rng(40417)
    m_mc, eta_mc = _pairs(rng, 150000)
    m_da, eta_da = _pairs(rng, 150000, alpha=ALPHA, cprime=CPRIME)
    res = extract_scales(m_da, eta_da, m_mc, eta_mc, eta_edges=EDGES, keep_fits=True)
    assert len(res.categories) == 6
    assert np.all(res.alpha_err > 0)
    pull_a = (res.alpha - ALPHA) / res.alpha_err
    assert np.all(np.abs(pull_a) < 4), pull_a
    assert np.all(np.abs(res.alpha - ALPHA) < 1.5e-3)
    assert np.all(np.abs(res.c - CPRIME) < 4 * res.c_err + 2e-3), (res.c, res.c_err)
    # the inclusive fit sees an average scale
    assert 0.0 < res.alpha_incl < 0.012
    assert {"mc_incl", "data_incl", "mc_0_2", "data_2_2"} <= set(res.fits)
    d = res.to_dict()
    assert "fits" not in d
    assert len(d["alpha"]) == 3


def test_no_miscalibration_gives_alpha_and_c_compatible_with_zero():
    rng = np.random.default_rng(61207)
    m_mc, eta_mc = _pairs(rng, 100000)
    m_da, eta_da = _pairs(rng, 100000)
    res = extract_scales(m_da, eta_da, m_mc, eta_mc, eta_edges=EDGES)
    assert np.all(np.abs(res.alpha / res.alpha_err) < 4)
    assert np.all(np.abs(res.c2 / res.c2_err) < 4)


def test_unconstrained_bin_is_nan():
    rng = np.random.default_rng(9311)
    m_mc, eta_mc = _pairs(rng, 20000)
    m_da, eta_da = _pairs(rng, 20000)
    # a last bin beyond the electrons' acceptance: no category constrains it
    res = extract_scales(m_da, eta_da, m_mc, eta_mc, eta_edges=(0.0, 1.2, 2.4, 2.47),
                         min_pairs=300)  # fmt: skip
    assert np.isnan(res.alpha[2])
    assert np.isnan(res.c[2])
    assert np.isfinite(res.alpha[:2]).all()


def test_pair_categories_and_signed_sqrt():
    i, j = pair_categories(np.array([[2.0, 0.1], [-0.5, 0.7], [3.0, 0.1]]), [0, 1, 2.47])
    assert i.tolist() == [0, 0, -1]
    assert j.tolist() == [1, 0, -1]
    c, e = signed_sqrt([4e-4, -1e-6], [1e-5, 1e-5])
    assert c[0] == pytest.approx(0.02)
    assert c[1] < 0
    assert e[1] == pytest.approx(np.sqrt(1e-5))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: fit_line_shape(np.full(10, 91.0)), "only 10 pairs"),
        (lambda: fit_line_shape(np.full(100, 91.0), window=(100, 80)), "window"),
        (lambda: fit_line_shape(np.full(100, 91.0), np.ones(3)), "weights"),
        (lambda: fit_line_shape(np.full(100, 91.0), bins=2), "bins"),
        (lambda: pair_categories(np.zeros((3, 3)), [0, 1]), "shape"),
        (lambda: pair_categories(np.zeros((3, 2)), [1, 0]), "eta_edges"),
        (
            lambda: extract_scales(np.zeros(3), np.zeros((2, 2)), np.zeros(3), np.zeros((3, 2))),
            "eta_data",
        ),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ConfigError, match=match):
        call()

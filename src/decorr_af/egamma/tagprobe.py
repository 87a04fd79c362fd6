"""Radiative-Z (Z→μμγ) tag-and-probe photon ID efficiencies and scale factors.

The muon pair tags the event; the photon candidate is the probe. Probes in the
m_μμγ signal window (ATLAS: 80–100 GeV) are mostly FSR photons; the remaining
background (Z+jets with a fake photon) is estimated *separately for passing and
failing probes* from the m_μμγ sidebands: the background density is taken exponential (or linear) in
m_μμγ through the two sideband counts and integrated over the window. Then

``ε = S_pass / (S_pass + S_fail)``, ``S = N_window − B``,

with Poisson (sum of squared weights) uncertainties of the window and sideband
counts propagated. When the sidebands hold signal tails (the FSR peak's resolution
tails after the ATLAS m_μμ < 83 GeV cut), :func:`template_efficiency` instead fits
the m_μμγ spectrum of passing and failing probes with signal and background
*shapes* from simulation and free normalisations (the ATLAS template method). ``SF = ε_data / ε_MC``. The same procedure runs on data and MC,
so no truth is needed; MC truth can validate it (closure of ε against the
truth-matched efficiency).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError

__all__ = [
    "Efficiency",
    "binned_efficiencies",
    "scale_factor",
    "sideband_background",
    "tag_probe_efficiency",
    "template_efficiency",
    "template_yields",
]

Window = tuple[float, float]


def _check_windows(window: Window, sidebands: tuple[Window, Window]) -> None:
    (l0, l1), (r0, r1) = sidebands
    w0, w1 = window
    if not (l0 < l1 <= w0 < w1 <= r0 < r1):
        raise ConfigError(
            f"parameters 'sidebands' {sidebands} and 'window' {window} must be ordered "
            "left sideband < window < right sideband"
        )


def _integral(k: float, a: float, b: float) -> float:
    """∫_a^b exp(−k (m − a)) dm."""
    return b - a if abs(k) < 1e-9 else float(-np.expm1(-k * (b - a)) / k)


def _exp_extrapolation(
    nl: float, nr: float, window: Window, sidebands: tuple[Window, Window]
) -> float:
    """Window count of the exponential density exp(−k m) through both sideband counts."""
    from scipy.optimize import brentq

    (l0, l1), (r0, r1) = sidebands

    def ratio(k: float) -> float:  # N_L / N_R predicted by slope k
        return _integral(k, l0, l1) / (_integral(k, r0, r1) * np.exp(-k * (r0 - l0)))

    target = nl / nr
    lo, hi = -0.5, 0.5
    if target <= ratio(lo):
        k = lo
    elif target >= ratio(hi):
        k = hi
    else:
        k = brentq(lambda x: ratio(x) - target, lo, hi, xtol=1e-10)
    return nl * _integral(k, *window) * np.exp(-k * (window[0] - l0)) / _integral(k, l0, l1)


def sideband_background(
    m: Any,
    weights: Any = None,
    *,
    window: Window = (80.0, 100.0),
    sidebands: tuple[Window, Window] = ((65.0, 80.0), (100.0, 115.0)),
    shape: str = "exponential",
) -> tuple[float, float]:
    """Background in ``window`` interpolated from the two sideband counts.

    ``shape="exponential"`` (default) takes the density ``∝ exp(−k m)`` through both
    sideband counts (exact for a falling exponential continuum); ``"linear"`` takes it
    linear in m (the density at each sideband's centre). A sideband without entries
    falls back to ``"linear"``.

    Returns
    -------
    (float, float)
        Estimated (weighted) background count in the window and its variance
        (sideband counts' Poisson variances, sums of squared weights, propagated).

    Examples
    --------
    >>> m = np.random.default_rng(0).uniform(60, 120, 60000)
    >>> b, var = sideband_background(m)
    >>> bool(abs(b - 20000) < 3 * np.sqrt(var))
    True
    """
    _check_windows(window, sidebands)
    if shape not in ("exponential", "linear"):
        raise ConfigError(f"parameter 'shape' must be 'exponential' or 'linear', got {shape!r}")
    m = np.asarray(m, np.float64)
    w = np.ones_like(m) if weights is None else np.asarray(weights, np.float64)
    if w.shape != m.shape:
        raise ConfigError(f"parameter 'weights': length {len(w)} != {len(m)} masses")
    (l0, l1), (r0, r1) = sidebands
    sl, sr = (m >= l0) & (m < l1), (m >= r0) & (m < r1)
    nl, nr = float(w[sl].sum()), float(w[sr].sum())
    vl, vr = float((w[sl] ** 2).sum()), float((w[sr] ** 2).sum())
    if shape == "exponential" and nl > 0 and nr > 0:
        bkg = _exp_extrapolation(nl, nr, window, sidebands)
        hl, hr = 1e-4 * nl, 1e-4 * nr
        dl = (_exp_extrapolation(nl + hl, nr, window, sidebands) - bkg) / hl
        dr = (_exp_extrapolation(nl, nr + hr, window, sidebands) - bkg) / hr
        return float(bkg), float(dl**2 * vl + dr**2 * vr)
    cl, cr, cw = 0.5 * (l0 + l1), 0.5 * (r0 + r1), 0.5 * sum(window)
    a, b = (cr - cw) / (cr - cl), (cw - cl) / (cr - cl)
    width = window[1] - window[0]
    wl, wr = l1 - l0, r1 - r0
    bkg = width * (a * nl / wl + b * nr / wr)
    var = width**2 * (a**2 * vl / wl**2 + b**2 * vr / wr**2)
    return float(bkg), float(var)


@dataclasses.dataclass(frozen=True)
class Efficiency:
    """A background-subtracted tag-and-probe efficiency."""

    eff: float
    err: float
    n_pass: float  # signal probes passing (background subtracted)
    n_fail: float
    bkg_pass: float
    bkg_fail: float
    n_window: float  # all probes in the window (weighted)

    @property
    def purity(self) -> float:
        """Signal fraction in the window."""
        return (self.n_pass + self.n_fail) / self.n_window if self.n_window > 0 else float("nan")


def _probes(m: Any, passed: Any, weights: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probe masses, ID decisions and weights (default 1) as arrays of one length."""
    m = np.asarray(m, np.float64)
    passed = np.asarray(passed, bool)
    w = np.ones_like(m) if weights is None else np.asarray(weights, np.float64)
    if not (len(passed) == len(m) == len(w)):
        raise ConfigError(
            f"parameters 'm', 'passed', 'weights' differ in length ({len(m)}, {len(passed)}, {len(w)})"
        )
    return m, passed, w


def _efficiency(
    passing: tuple[float, float, float], failing: tuple[float, float, float], n_window: float
) -> Efficiency:
    """Efficiency and its error from (signal, variance, background) of passing and failing probes.

    The propagated error vanishes when a yield sits at zero (an efficiency of 0 or 1
    in a sparse bin, or a template fit at its boundary), so it is floored by the
    Wilson score half-width at one standard deviation for ``sp + sf`` probes.
    """
    (sp, vp, bp), (sf, vf, bf) = passing, failing
    tot = sp + sf
    if tot <= 0:
        eff, err = float("nan"), float("nan")
    else:
        eff = sp / tot
        err = float(np.sqrt((sf / tot**2) ** 2 * vp + (sp / tot**2) ** 2 * vf))
        p = min(max(eff, 0.0), 1.0)
        wilson = np.sqrt(p * (1.0 - p) / tot + 1.0 / (4.0 * tot**2)) / (1.0 + 1.0 / tot)
        err = max(err, float(wilson))
    return Efficiency(eff=float(eff), err=err, n_pass=sp, n_fail=sf, bkg_pass=bp, bkg_fail=bf,
                      n_window=n_window)  # fmt: skip


def tag_probe_efficiency(
    m: Any,
    passed: Any,
    weights: Any = None,
    *,
    window: Window = (80.0, 100.0),
    sidebands: tuple[Window, Window] = ((65.0, 80.0), (100.0, 115.0)),
    subtract: bool = True,
    shape: str = "exponential",
) -> Efficiency:
    """Efficiency of ``passed`` among signal probes with m_μμγ in ``window``.

    Parameters
    ----------
    m
        m_μμγ of each probe [GeV].
    passed
        Boolean ID decision of each probe.
    weights
        Probe weights (MC); default 1.
    window, sidebands
        Signal window and the two sidebands [GeV].
    subtract
        Subtract the sideband background (``False``: plain counting in the window).
    shape
        Background shape between the sidebands (:func:`sideband_background`).

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> m = np.r_[rng.normal(91, 2, 20000), rng.uniform(60, 120, 20000)]
    >>> passed = np.r_[rng.random(20000) < 0.9, rng.random(20000) < 0.3]
    >>> e = tag_probe_efficiency(m, passed)
    >>> bool(abs(e.eff - 0.9) < 3 * e.err)
    True
    """
    m, passed, w = _probes(m, passed, weights)
    _check_windows(window, sidebands)
    inw = (m >= window[0]) & (m < window[1])
    parts = []
    for sel in (passed, ~passed):
        n, var = float(w[inw & sel].sum()), float((w[inw & sel] ** 2).sum())
        b, bvar = (sideband_background(m[sel], w[sel], window=window, sidebands=sidebands, shape=shape)
                   if subtract else (0.0, 0.0))  # fmt: skip
        parts.append((n - b, var + bvar, b))
    return _efficiency(parts[0], parts[1], float(w[inw].sum()))


def binned_efficiencies(
    m: Any,
    passed: Any,
    bins: Any,
    n_bins: int,
    weights: Any = None,
    **kwargs: Any,
) -> list[Efficiency]:
    """:func:`tag_probe_efficiency` in each bin ``0 .. n_bins-1`` of the index ``bins``.

    Examples
    --------
    >>> rng = np.random.default_rng(4)
    >>> m = rng.normal(91, 2, 4000)
    >>> effs = binned_efficiencies(m, rng.random(4000) < 0.8, rng.integers(0, 2, 4000), 2)
    >>> [round(e.eff, 1) for e in effs]
    [0.8, 0.8]
    """
    m, passed, bins = np.asarray(m), np.asarray(passed, bool), np.asarray(bins)
    w = np.ones(len(m)) if weights is None else np.asarray(weights, np.float64)
    if len(bins) != len(m):
        raise ConfigError(f"parameter 'bins': length {len(bins)} != {len(m)} probes")
    return [
        tag_probe_efficiency(m[bins == b], passed[bins == b], w[bins == b], **kwargs)
        for b in range(int(n_bins))
    ]


def scale_factor(eff_data: Efficiency, eff_mc: Efficiency) -> tuple[float, float]:
    """``SF = ε_data / ε_MC`` and its uncertainty (data and MC independent).

    Examples
    --------
    >>> a = Efficiency(0.81, 0.01, 81, 19, 0, 0, 100)
    >>> b = Efficiency(0.90, 0.005, 90, 10, 0, 0, 100)
    >>> [round(v, 4) for v in scale_factor(a, b)]
    [0.9, 0.0122]
    """
    if not (eff_data.eff > 0 and eff_mc.eff > 0):
        return float("nan"), float("nan")
    sf = eff_data.eff / eff_mc.eff
    return sf, sf * float(np.hypot(eff_data.err / eff_data.eff, eff_mc.err / eff_mc.eff))


def template_yields(
    m: Any,
    weights: Any,
    sig_template: tuple[Any, Any],
    bkg_template: tuple[Any, Any],
    *,
    fit_range: Window = (60.0, 130.0),
    bins: int = 14,
    window: Window = (80.0, 100.0),
) -> tuple[float, float, float]:
    """Signal and background yields in ``window`` from a two-template fit of m_μμγ.

    The binned Poisson likelihood of ``m`` in ``fit_range`` is maximised in the two
    normalisations of the signal and background shapes (``(masses, weights)`` of
    template events, e.g. prompt and fake probes of MC); their fractions inside the
    window convert them to window yields.

    Returns
    -------
    (float, float, float)
        Signal yield in the window, its variance, background yield in the window.

    Examples
    --------
    >>> rng = np.random.default_rng(5)
    >>> sig, bkg = rng.normal(91, 2.5, 20000), 95 + rng.exponential(15, 20000)
    >>> m = np.r_[rng.normal(91, 2.5, 3000), 95 + rng.exponential(15, 1000)]
    >>> s, var, b = template_yields(m, None, (sig, None), (bkg, None))
    >>> bool(abs(s - 3000 * 0.9996) < 3 * np.sqrt(var))
    True
    """
    from scipy.optimize import minimize

    lo, hi = fit_range
    if not (lo <= window[0] < window[1] <= hi):
        raise ConfigError(f"parameter 'window' {window} must lie inside 'fit_range' {fit_range}")
    edges = np.linspace(lo, hi, int(bins) + 1)

    def hist(x: Any, w: Any) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, np.float64)
        w = np.ones_like(x) if w is None else np.asarray(w, np.float64)
        if w.shape != x.shape:
            raise ConfigError(f"parameter 'weights': length {len(w)} != {len(x)} masses")
        return np.histogram(x, edges, weights=w)[0], np.histogram(x, edges, weights=w * w)[0]

    n, n2 = hist(m, weights)
    shapes = []
    for name, (tm, tw) in (("sig_template", sig_template), ("bkg_template", bkg_template)):
        h, _ = hist(tm, tw)
        if h.sum() <= 0:
            raise ConfigError(f"parameter '{name}' has no entries in the fit range {fit_range}")
        shapes.append(np.maximum(h, 0) / h.sum())
    ps, pb = shapes
    total = max(float(n.sum()), 1e-9)
    scale = float(n2.sum()) / total if total > 0 else 1.0  # weighted data: effective counts

    def nll(p: np.ndarray) -> float:
        mu = np.maximum(p[0] * ps + p[1] * pb, 1e-12)
        return float(np.sum(mu - n * np.log(mu)))

    fit = minimize(nll, x0=[0.8 * total, 0.2 * total], method="L-BFGS-B",
                   bounds=[(0, 3 * total + 10), (0, 3 * total + 10)])  # fmt: skip
    ns, nb = fit.x
    mu = np.maximum(ns * ps + nb * pb, 1e-12)
    hess = np.array([[np.sum(n * a * b / mu**2) for b in (ps, pb)] for a in (ps, pb)])
    cov = np.linalg.pinv(hess) * max(scale, 1e-12)
    centres = 0.5 * (edges[1:] + edges[:-1])
    inw = (centres > window[0]) & (centres < window[1])
    fs, fb = float(ps[inw].sum()), float(pb[inw].sum())
    return float(ns * fs), float(cov[0, 0] * fs * fs), float(nb * fb)


def template_efficiency(
    m: Any,
    passed: Any,
    weights: Any = None,
    *,
    sig_template: tuple[Any, Any],
    bkg_template: tuple[Any, Any],
    fit_range: Window = (60.0, 130.0),
    bins: int = 14,
    window: Window = (80.0, 100.0),
    fail_templates: tuple[tuple[Any, Any], tuple[Any, Any]] | None = None,
) -> Efficiency:
    """Efficiency from signal yields of :func:`template_yields` for passing and failing probes.

    ``sig_template``/``bkg_template`` fit the passing probes and, unless
    ``fail_templates`` = ``(sig, bkg)`` gives separate shapes (ID-failing photons
    are often converted or leak more: their m_μμγ shape differs), the failing ones.

    Examples
    --------
    >>> rng = np.random.default_rng(6)
    >>> sig, bkg = rng.normal(91, 2.5, 20000), 95 + rng.exponential(15, 20000)
    >>> m = np.r_[rng.normal(91, 2.5, 4000), 95 + rng.exponential(15, 2000)]
    >>> passed = np.r_[rng.random(4000) < 0.9, rng.random(2000) < 0.2]
    >>> e = template_efficiency(m, passed, sig_template=(sig, None), bkg_template=(bkg, None))
    >>> bool(abs(e.eff - 0.9) < 3 * e.err)
    True
    """
    m, passed, w = _probes(m, passed, weights)
    kw = {"fit_range": fit_range, "bins": bins, "window": window}
    sp, vp, bp = template_yields(m[passed], w[passed], sig_template, bkg_template, **kw)
    sig_f, bkg_f = fail_templates if fail_templates is not None else (sig_template, bkg_template)
    sf, vf, bf = template_yields(m[~passed], w[~passed], sig_f, bkg_f, **kw)
    inw = (m >= window[0]) & (m < window[1])
    return _efficiency((sp, vp, bp), (sf, vf, bf), float(w[inw].sum()))

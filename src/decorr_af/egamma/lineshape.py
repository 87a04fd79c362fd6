"""Z→ee line shape: Breit–Wigner ⊗ Crystal Ball plus an exponential background.

The signal is the Z Breit–Wigner (mass :data:`M_Z`, width :data:`GAMMA_Z`, fixed)
convolved with a Crystal-Ball detector response (Gaussian core of width σ shifted by
δ, power-law low-mass tail for bremsstrahlung and leakage). The fitted *peak* is
``M_Z + δ`` and the fitted *width* the core σ; their data/MC ratios give the energy
scale and resolution corrections (:mod:`decorr_af.egamma.scales`): the ratio cancels
what the model does not describe exactly, as the same model is fitted to both.

The fit is a binned extended maximum likelihood (``iminuit.cost.ExtendedBinnedNLL``),
with sums of weights and of squared weights for weighted MC.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError

__all__ = ["GAMMA_Z", "M_Z", "LineShapeFit", "crystal_ball", "fit_line_shape", "line_shape_pdf"]

M_Z = 91.1876  #: Z mass [GeV] (PDG)
GAMMA_Z = 2.4952  #: Z width [GeV] (PDG)
_STEP = 0.04  # convolution grid step [GeV]
_KERNEL = 15.0  # half range of the response kernel [GeV]


def crystal_ball(x: Any, mu: float, sigma: float, alpha: float, n: float) -> np.ndarray:
    """Unnormalised Crystal-Ball function with a low-side power-law tail.

    Examples
    --------
    >>> float(crystal_ball(0.0, 0.0, 1.0, 1.5, 5.0))
    1.0
    """
    t = (np.asarray(x, dtype=np.float64) - mu) / sigma
    a = abs(alpha)
    big_a = (n / a) ** n * np.exp(-0.5 * a * a)
    big_b = n / a - a
    core = np.exp(-0.5 * np.minimum(t * t, 700.0))
    tail = big_a * np.maximum(big_b - t, 1e-12) ** (-n)
    return np.where(t > -a, core, tail)


def _grid_shape(
    window: tuple[float, float], shift: float, sigma: float, alpha: float, n: float, gamma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Signal density on a fine grid covering ``window`` (normalised in the window)."""
    from scipy.signal import fftconvolve

    lo, hi = window
    x = np.arange(lo - _KERNEL, hi + _KERNEL + _STEP, _STEP)
    bw = (0.5 * gamma / np.pi) / ((x - M_Z) ** 2 + 0.25 * gamma * gamma)
    d = np.arange(-round(_KERNEL / _STEP), round(_KERNEL / _STEP) + 1) * _STEP
    k = crystal_ball(d, shift, sigma, alpha, n)
    k /= k.sum()
    y = np.maximum(fftconvolve(bw, k, mode="same"), 0.0)
    inside = (x >= lo - _STEP) & (x <= hi + _STEP)
    return x[inside], y[inside]


def _cdf_on(x: np.ndarray, y: np.ndarray, edges: np.ndarray) -> np.ndarray:
    c = np.concatenate([[0.0], np.cumsum(0.5 * (y[1:] + y[:-1]) * np.diff(x))])
    ce = np.interp(edges, x, c)
    total = ce[-1] - ce[0]
    return (ce - ce[0]) / total if total > 0 else np.zeros_like(ce)


def line_shape_pdf(
    m: Any,
    *,
    peak: float = M_Z,
    sigma: float = 1.5,
    alpha_cb: float = 1.5,
    n_cb: float = 5.0,
    window: tuple[float, float] = (80.0, 100.0),
    gamma: float = GAMMA_Z,
) -> np.ndarray:
    """Signal density (normalised to 1 in ``window``) at the masses ``m`` [GeV].

    Examples
    --------
    >>> m = np.linspace(80, 100, 2001)
    >>> p = line_shape_pdf(m, peak=91.0, sigma=1.5)
    >>> round(float(np.sum(p) * (m[1] - m[0])), 2), round(float(m[np.argmax(p)]), 1)
    (1.0, 91.0)
    """
    x, y = _grid_shape(window, peak - M_Z, sigma, alpha_cb, n_cb, gamma)
    mask = (x >= window[0]) & (x <= window[1])
    xm, ym = x[mask], y[mask]
    norm = float(np.sum(0.5 * (ym[1:] + ym[:-1]) * np.diff(xm)))
    m = np.asarray(m, dtype=np.float64)
    out = np.interp(m, x, y) / norm
    return np.where((m >= window[0]) & (m <= window[1]), out, 0.0)


@dataclasses.dataclass(frozen=True)
class LineShapeFit:
    """Result of :func:`fit_line_shape` (GeV).

    ``peak`` is ``M_Z + δ`` (position of the response core), ``sigma`` the core
    width, ``rel_width`` = σ / peak; ``*_err`` are the HESSE uncertainties.
    """

    peak: float
    peak_err: float
    sigma: float
    sigma_err: float
    alpha_cb: float
    n_cb: float
    n_signal: float
    n_signal_err: float
    n_background: float
    slope: float
    n_events: float
    valid: bool
    window: tuple[float, float]
    edges: np.ndarray = dataclasses.field(repr=False)
    counts: np.ndarray = dataclasses.field(repr=False)

    @property
    def rel_width(self) -> float:
        """σ / peak."""
        return self.sigma / self.peak

    @property
    def rel_width_err(self) -> float:
        """Uncertainty of σ / peak (peak error neglected: ≪ σ error)."""
        return self.sigma_err / self.peak

    def expected(self, edges: Any = None) -> np.ndarray:
        """Fitted expected counts per bin of ``edges`` (default: the fitted binning)."""
        edges = self.edges if edges is None else np.asarray(edges, np.float64)
        x, y = _grid_shape(self.window, self.peak - M_Z, self.sigma, self.alpha_cb, self.n_cb,
                           GAMMA_Z)  # fmt: skip
        sig = np.diff(_cdf_on(x, y, edges)) * self.n_signal
        return sig + np.diff(_bkg_cdf(edges, self.window, self.slope)) * self.n_background


def _bkg_cdf(edges: np.ndarray, window: tuple[float, float], slope: float) -> np.ndarray:
    lo, hi = window
    if abs(slope) < 1e-9:
        return (edges - lo) / (hi - lo)
    return np.expm1(-slope * (edges - lo)) / np.expm1(-slope * (hi - lo))


def fit_line_shape(
    m: Any,
    weights: Any = None,
    *,
    window: tuple[float, float] = (80.0, 100.0),
    bins: int = 80,
    tails: tuple[float, float] | None = None,
    n_cb: float = 5.0,
    background: bool = True,
) -> LineShapeFit:
    """Fit the m_ee line shape in ``window`` (binned extended likelihood).

    Parameters
    ----------
    m
        Pair masses [GeV]; values outside ``window`` are ignored.
    weights
        Event weights (MC); sums of weights and of squared weights enter the fit.
    window
        Fit range [GeV] (ATLAS: 80–100 GeV).
    bins
        Number of bins in the window.
    tails
        ``(alpha_cb, n_cb)`` to fix the Crystal-Ball tail (e.g. from the MC fit when
        fitting data); ``None`` fits ``alpha_cb`` with ``n_cb`` fixed.
    n_cb
        Power of the tail when ``tails`` is None.
    background
        Fit an exponential background (``False``: signal only).

    Returns
    -------
    LineShapeFit

    Raises
    ------
    ConfigError
        If the window is empty or holds fewer than 50 events.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> m = 91.1876 + 0.5 * 2.4952 * rng.standard_cauchy(40000) + rng.normal(0.3, 1.6, 40000)
    >>> fit = fit_line_shape(m)
    >>> bool(abs(fit.peak - 91.49) < 0.1), bool(abs(fit.sigma - 1.6) < 0.15)
    (True, True)
    """
    try:
        from iminuit import Minuit
        from iminuit.cost import ExtendedBinnedNLL
    except ImportError as err:  # pragma: no cover - iminuit is in the [fit] extra
        raise ImportError("fit_line_shape needs iminuit: pip install 'decorr_af[fit]'") from err
    lo, hi = (float(v) for v in window)
    if not hi > lo:
        raise ConfigError(f"parameter 'window' must be increasing, got {window}")
    if bins < 5:
        raise ConfigError(f"parameter 'bins' must be >= 5, got {bins}")
    m = np.asarray(m, dtype=np.float64)
    w = np.ones_like(m) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != m.shape:
        raise ConfigError(f"parameter 'weights': length {len(w)} != {len(m)} masses")
    sel = np.isfinite(m) & (m >= lo) & (m <= hi) & np.isfinite(w)
    if sel.sum() < 50:
        raise ConfigError(f"only {int(sel.sum())} pairs in the fit window {window}: need >= 50")
    edges = np.linspace(lo, hi, bins + 1)
    sw = np.histogram(m[sel], edges, weights=w[sel])[0]
    sw2 = np.histogram(m[sel], edges, weights=w[sel] ** 2)[0]
    total = float(sw.sum())
    fixed_tail = tails is not None
    a0, n0 = (float(tails[0]), float(tails[1])) if fixed_tail else (1.5, float(n_cb))

    def cdf(xe: np.ndarray, ns: float, nb: float, shift: float, sigma: float, a: float,
            slope: float) -> np.ndarray:  # fmt: skip
        x, y = _grid_shape((lo, hi), shift, sigma, a, n0, GAMMA_Z)
        return ns * _cdf_on(x, y, xe) + nb * _bkg_cdf(xe, (lo, hi), slope)

    cost = ExtendedBinnedNLL(np.column_stack([sw, sw2]), edges, cdf)
    med = float(np.median(m[sel]))
    minuit = Minuit(cost, ns=0.9 * total, nb=0.1 * total if background else 0.0,
                    shift=np.clip(med - M_Z, -3, 3), sigma=1.5, a=a0, slope=0.05)  # fmt: skip
    minuit.limits["ns"] = (0, 2 * total + 10)
    minuit.limits["nb"] = (0, 2 * total + 10)
    minuit.limits["shift"] = (-8, 8)
    minuit.limits["sigma"] = (0.2, 10)
    minuit.limits["a"] = (0.3, 6)
    minuit.limits["slope"] = (-0.3, 0.5)
    if fixed_tail:
        minuit.fixed["a"] = True
    if not background:
        minuit.fixed["nb"] = minuit.fixed["slope"] = True
    minuit.migrad()
    if not minuit.valid:  # one retry from the first minimum
        minuit.migrad()
    minuit.hesse()
    v, e = minuit.values, minuit.errors
    return LineShapeFit(
        peak=M_Z + float(v["shift"]), peak_err=float(e["shift"]),
        sigma=float(v["sigma"]), sigma_err=float(e["sigma"]),
        alpha_cb=float(v["a"]), n_cb=n0, n_signal=float(v["ns"]), n_signal_err=float(e["ns"]),
        n_background=float(v["nb"]), slope=float(v["slope"]), n_events=total,
        valid=bool(minuit.valid), window=(lo, hi), edges=edges, counts=sw,
    )  # fmt: skip

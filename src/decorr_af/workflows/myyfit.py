"""Binned m_γγ fits of the ttH(γγ) workflow (iminuit, weighted histograms).

* signal shape: Gaussian or double-sided Crystal Ball (DSCB) fitted to selected
  signal MC;
* background: falling exponential ``exp(c (m - m_lo))`` normalised on the fit range;
* ``fit_background``: exponential-only fit of selected background MC → χ²/ndf;
* ``fit_splusb``: signal (shape fixed) + exponential, yields and slope free;
  fitting it to background-only MC gives the *spurious signal*;
* ``asimov_significance``: ``Z = sqrt(2((s+b) ln(1+s/b) - s))``.

Histograms are ``(values, variances)`` arrays so MC weights are handled by the
scaled-Poisson treatment of :class:`iminuit.cost.ExtendedBinnedNLL`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import erf

from decorr_af._compat import optional_import
from decorr_af.errors import ConfigError

__all__ = [
    "SignalShape",
    "asimov_significance",
    "background_cdf",
    "fit_background",
    "fit_signal",
    "fit_splusb",
    "signal_cdf",
    "signal_pdf",
]


class SignalShape(str, enum.Enum):
    """Signal m_γγ model."""

    GAUSS = "gauss"
    DSCB = "dscb"


SIGNAL_PARAMS = {
    SignalShape.GAUSS: ("mean", "sigma"),
    SignalShape.DSCB: ("mean", "sigma", "alpha_lo", "n_lo", "alpha_hi", "n_hi"),
}


def asimov_significance(s: float, b: float) -> float:
    """Median discovery significance for ``s`` signal on ``b`` background events.

    Examples
    --------
    >>> round(asimov_significance(10.0, 100.0), 3)
    0.984
    """
    if s <= 0 or b <= 0:
        return 0.0
    return math.sqrt(2.0 * ((s + b) * math.log1p(s / b) - s))


def _dscb_unnorm(x: np.ndarray, mean, sigma, alo, nlo, ahi, nhi) -> np.ndarray:
    t = (np.asarray(x, dtype=float) - mean) / sigma
    out = np.exp(-0.5 * t * t)
    lo, hi = t < -alo, t > ahi
    a_lo = (nlo / alo) ** nlo * math.exp(-0.5 * alo * alo)
    b_lo = nlo / alo - alo
    a_hi = (nhi / ahi) ** nhi * math.exp(-0.5 * ahi * ahi)
    b_hi = nhi / ahi - ahi
    out[lo] = a_lo * (b_lo - t[lo]) ** (-nlo)
    out[hi] = a_hi * (b_hi + t[hi]) ** (-nhi)
    return out


def signal_cdf(shape: SignalShape | str, xe: np.ndarray, params: dict[str, float]) -> np.ndarray:
    """Cumulative distribution (normalised to 1 on ``[xe[0], xe[-1]]``) at the edges ``xe``."""
    shape = SignalShape(shape)
    xe = np.asarray(xe, dtype=float)
    if shape is SignalShape.GAUSS:
        c = 0.5 * (1 + erf((xe - params["mean"]) / (math.sqrt(2) * params["sigma"])))
    else:
        grid = np.linspace(xe[0], xe[-1], 2001)
        pdf = _dscb_unnorm(grid, *(params[k] for k in SIGNAL_PARAMS[shape]))
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
        c = np.interp(xe, grid, cum)
    c = c - c[0]
    return c / c[-1] if c[-1] > 0 else c


def signal_pdf(
    shape: SignalShape | str, x: np.ndarray, params: dict[str, float], rng: tuple[float, float]
) -> np.ndarray:
    """Signal density on ``rng`` (for plotting), normalised to 1 on the range."""
    edges = np.linspace(rng[0], rng[1], 4001)
    cdf = signal_cdf(shape, edges, params)
    dens = np.diff(cdf) / np.diff(edges)
    return np.interp(x, 0.5 * (edges[1:] + edges[:-1]), dens)


def background_cdf(xe: np.ndarray, slope: float) -> np.ndarray:
    """Normalised CDF of ``exp(slope (m - m_lo))`` on ``[xe[0], xe[-1]]`` at ``xe``."""
    xe = np.asarray(xe, dtype=float)
    d = xe - xe[0]
    span = d[-1]
    if abs(slope * span) < 1e-8:
        return d / span
    return np.expm1(slope * d) / np.expm1(slope * span)


def _minimize(cost: Any, start: dict[str, float], limits: dict[str, tuple]) -> Any:
    iminuit = optional_import("iminuit", "fit")
    m = iminuit.Minuit(cost, **start)
    for k, lim in limits.items():
        m.limits[k] = lim
    m.migrad()
    if not m.valid:
        m.migrad()
    m.hesse()
    return m


def _cost(hist: np.ndarray, xe: np.ndarray, model: Callable[..., np.ndarray]) -> Any:
    from iminuit.cost import ExtendedBinnedNLL

    return ExtendedBinnedNLL(hist, xe, model)


def _total(hist: np.ndarray) -> float:
    return float(np.sum(hist[..., 0]))


def fit_signal(
    hist: np.ndarray, xe: np.ndarray, *, shape: SignalShape | str = "gauss"
) -> dict[str, Any]:
    """Fit the signal shape (and yield) to a weighted histogram ``(nbins, 2)``.

    Returns ``{"params": {...}, "yield": N, "valid": bool}``.
    """
    shape = SignalShape(shape)
    names = SIGNAL_PARAMS[shape]
    total = _total(hist)
    if total <= 0:
        raise ConfigError("fit_signal: no selected signal events in the m_yy range")
    centres = 0.5 * (xe[1:] + xe[:-1])
    w = np.clip(hist[:, 0], 0, None)
    mean0 = float(np.average(centres, weights=w)) if w.sum() > 0 else float(centres.mean())
    core = np.abs(centres - mean0) < 6.0
    sd0 = float(np.sqrt(np.average((centres[core] - mean0) ** 2, weights=w[core] + 1e-12)))
    sd0 = min(max(sd0, 0.5), 5.0)

    if shape is SignalShape.GAUSS:

        def model(x, n, mean, sigma):
            return n * signal_cdf(shape, x, {"mean": mean, "sigma": sigma})

    else:

        def model(x, n, mean, sigma, alpha_lo, n_lo, alpha_hi, n_hi):
            p = (mean, sigma, alpha_lo, n_lo, alpha_hi, n_hi)
            return n * signal_cdf(shape, x, dict(zip(names, p)))

    start = {"n": total, "mean": mean0, "sigma": sd0}
    limits = {"n": (0, None), "mean": (xe[0], xe[-1]), "sigma": (0.1, (xe[-1] - xe[0]) / 2)}
    if shape is SignalShape.DSCB:
        start.update(alpha_lo=1.5, n_lo=5.0, alpha_hi=1.5, n_hi=5.0)
        limits.update(alpha_lo=(0.3, 5), n_lo=(1.01, 50), alpha_hi=(0.3, 5), n_hi=(1.01, 50))
    m = _minimize(_cost(hist, xe, model), start, limits)
    return {
        "params": {k: float(m.values[k]) for k in names},
        "yield": float(m.values["n"]),
        "valid": bool(m.valid),
    }


def _chi2(hist: np.ndarray, expected: np.ndarray, npar: int) -> tuple[float, int]:
    var = hist[:, 1]
    ok = var > 0
    chi2 = float(np.sum((hist[ok, 0] - expected[ok]) ** 2 / var[ok]))
    return chi2, max(int(ok.sum()) - npar, 1)


def fit_background(hist: np.ndarray, xe: np.ndarray) -> dict[str, float]:
    """Exponential fit to background-only MC: yield, slope and χ²/ndf."""
    total = _total(hist)
    if total <= 0:
        raise ConfigError("fit_background: no selected background events in the m_yy range")

    def model(x, nb, slope):
        return nb * background_cdf(x, slope)

    m = _minimize(
        _cost(hist, xe, model), {"nb": total, "slope": -0.02}, {"nb": (0, None), "slope": (-1, 1)}
    )
    expected = np.diff(model(xe, m.values["nb"], m.values["slope"]))
    chi2, ndf = _chi2(hist, expected, 2)
    return {
        "nb": float(m.values["nb"]),
        "slope": float(m.values["slope"]),
        "chi2": chi2,
        "ndf": ndf,
        "chi2ndf": chi2 / ndf,
        "valid": bool(m.valid),
    }


def _error_towards_zero(m: Any, name: str) -> float:
    """MINOS error of ``name`` on the side of zero (HESSE if MINOS fails)."""
    try:
        m.minos(name)
        me = m.merrors[name]
        err = me.upper if m.values[name] < 0 else -me.lower
        if me.is_valid and np.isfinite(err) and err > 0:
            return float(err)
    except RuntimeError:
        pass
    err = float(m.errors[name])
    return err if np.isfinite(err) and err > 0 else float("nan")


def fit_splusb(
    hist: np.ndarray,
    xe: np.ndarray,
    *,
    shape: SignalShape | str,
    signal_params: dict[str, float],
) -> dict[str, float]:
    """Signal (shape fixed) + exponential fit; ``ns`` may go negative (spurious signal).

    The expectation of each bin is kept positive (a negative ``ns`` cannot dig
    below zero). ``ns_err`` is the MINOS uncertainty on the side towards zero
    (the one that matters for a spurious-signal test; HESSE is meaningless when
    ``ns`` sits where a bin's expectation reaches zero), NaN if the fit failed.
    """
    total = _total(hist)
    sig = signal_cdf(shape, xe, signal_params)

    def model(x, ns, nb, slope):
        # a negative ns may not make a bin's expectation negative: clip per bin
        per_bin = np.diff(ns * sig + nb * background_cdf(x, slope))
        tiny = 1e-9 * max(nb, 1.0)
        return np.concatenate([[0.0], np.cumsum(np.maximum(per_bin, tiny))])

    span = max(total, 1.0)
    m = _minimize(
        _cost(hist, xe, model),
        {"ns": 0.0, "nb": max(total, 1e-3), "slope": -0.02},
        {"ns": (-span, span), "nb": (0, None), "slope": (-1, 1)},
    )
    expected = np.diff(model(xe, *m.values))
    chi2, ndf = _chi2(hist, expected, 3)
    ns_err = _error_towards_zero(m, "ns") if m.valid else float("nan")
    return {
        "ns": float(m.values["ns"]),
        "ns_err": ns_err,
        "nb": float(m.values["nb"]),
        "slope": float(m.values["slope"]),
        "chi2ndf": chi2 / ndf,
        "valid": bool(m.valid),
    }


def window_fractions(
    xe_range: tuple[float, float],
    *,
    shape: SignalShape | str,
    signal_params: dict[str, float],
    slope: float,
    n_sigma: float = 2.0,
) -> tuple[float, float, tuple[float, float]]:
    """Fractions of the signal and background shapes inside mean ± n_sigma·sigma."""
    lo, hi = xe_range
    mean, sigma = signal_params["mean"], signal_params["sigma"]
    w_lo, w_hi = max(lo, mean - n_sigma * sigma), min(hi, mean + n_sigma * sigma)
    edges = np.array([lo, w_lo, w_hi, hi])
    fs = float(np.diff(signal_cdf(shape, edges, signal_params))[1])
    fb = float(np.diff(background_cdf(edges, slope))[1])
    return fs, fb, (w_lo, w_hi)

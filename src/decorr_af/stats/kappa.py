r"""κ-framework interpretation of the ttH(γγ) signal strength.

The signal strength of ttH, H→γγ is

.. math:: \mu_{t\bar tH}^{\gamma\gamma}(\kappa) =
   \kappa_t^2 \cdot \frac{\kappa_\gamma^2}{\kappa_H^2}

with σ(ttH) ∝ κ_t² and BR(H→γγ) = BR_SM · κ_γ² / κ_H². The loops are *resolved*
(LHC Higgs XS WG, YR4, 13 TeV, m_H = 125.09 GeV):

* κ_γ² = 1.59 κ_W² − 0.66 κ_W κ_t + 0.07 κ_t²,
* κ_g² = 1.040 κ_t² + 0.002 κ_b² − 0.038 κ_t κ_b (gluon decay width),
* κ_Zγ² = 1.118 κ_W² − 0.125 κ_W κ_t + 0.004 κ_t² + 0.003 κ_W κ_b,

each divided by its value at κ = 1 so the SM gives exactly 1. Total width
(``width="resolved"``, the default): κ_H² = Σ_i BR_i^SM κ_i² over the SM decays
(:data:`BR_SM`) with κ_b = κ_c = κ_τ = κ_μ = 1 (κ_c is *not* tied to κ_t),
κ_Z = κ_W; no BSM decays. ``width="fixed"`` keeps κ_H = 1 (Γ_H unchanged).
Only κ_t ≥ 0 is scanned (up to 3 by default) (the sign is only reachable through tH production and
the loops' interference; the toy has no tH).

Optional linear SMEFT: the Warsaw-basis operator :math:`O_{t\phi}` shifts the
top Yukawa, κ_t = 1 − c_tφ v³ / (√2 m_t Λ²) (v = 246.22 GeV, m_t = 172.5 GeV;
sign conventions differ between references), and the *linear* parameterisation
keeps μ to first order in c_tφ: μ ≈ 1 + (∂μ/∂κ_t)|_SM · (κ_t − 1).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from decorr_af.errors import ConfigError

__all__ = [
    "BR_SM",
    "kappa_gamma2",
    "kappa_h2",
    "kappa_t_from_ctphi",
    "kappa_t_interval",
    "kappa_t_scan",
    "mu_smeft_linear",
    "mu_tth_yy",
]

#: SM branching ratios of a 125.09 GeV Higgs (YR4)
BR_SM = {
    "bb": 0.5809,
    "WW": 0.2152,
    "gg": 0.08180,
    "tautau": 0.06256,
    "cc": 0.02884,
    "ZZ": 0.02641,
    "yy": 0.002270,
    "Zy": 0.001541,
    "mumu": 0.0002171,
}
WIDTHS = ("resolved", "fixed")
_V, _MT = 246.22, 172.5


def kappa_gamma2(kt: np.ndarray | float, kw: float = 1.0) -> np.ndarray:
    """Resolved κ_γ² (normalised to 1 in the SM).

    Examples
    --------
    >>> float(kappa_gamma2(1.0))
    1.0
    """
    kt = np.asarray(kt, dtype=np.float64)
    return (1.59 * kw * kw - 0.66 * kw * kt + 0.07 * kt * kt) / (1.59 - 0.66 + 0.07)


def _kappa_g2(kt, kb=1.0):
    return (1.040 * kt * kt + 0.002 * kb * kb - 0.038 * kt * kb) / (1.040 + 0.002 - 0.038)


def _kappa_zy2(kt, kw=1.0, kb=1.0):
    sm = 1.118 - 0.125 + 0.004 + 0.003
    return (1.118 * kw * kw - 0.125 * kw * kt + 0.004 * kt * kt + 0.003 * kw * kb) / sm


def kappa_h2(kt: np.ndarray | float, kw: float = 1.0, *, width: str = "resolved") -> np.ndarray:
    """Total-width scaling κ_H² = Γ_H/Γ_H^SM (``width="fixed"``: 1).

    Examples
    --------
    >>> round(float(kappa_h2(1.0)), 6), float(kappa_h2(2.0, width="fixed"))
    (1.0, 1.0)
    """
    if width not in WIDTHS:
        raise ConfigError(f"parameter 'width' must be one of {WIDTHS}, got {width!r}")
    kt = np.asarray(kt, dtype=np.float64)
    if width == "fixed":
        return np.ones_like(kt)
    scale = {
        "WW": kw * kw,
        "ZZ": kw * kw,
        "gg": _kappa_g2(kt),
        "yy": kappa_gamma2(kt, kw),
        "Zy": _kappa_zy2(kt, kw),
    }
    total = sum(BR_SM.values())
    return sum(br * np.asarray(scale.get(k, 1.0)) for k, br in BR_SM.items()) / total


def mu_tth_yy(kt: np.ndarray | float, kw: float = 1.0, *, width: str = "resolved") -> np.ndarray:
    """ttH(γγ) signal strength at (κ_t, κ_W).

    Examples
    --------
    >>> float(mu_tth_yy(1.0))
    1.0
    >>> bool(mu_tth_yy(1.2) > 1.2)
    True
    """
    kt = np.asarray(kt, dtype=np.float64)
    return kt * kt * kappa_gamma2(kt, kw) / kappa_h2(kt, kw, width=width)


def _peak(width: str, kt_max: float) -> tuple[float, float]:
    """(κ_t, μ) at the maximum of μ(κ_t) on [0, kt_max]."""
    grid = np.linspace(0.0, kt_max, 3001)
    i = int(np.argmax(mu_tth_yy(grid, width=width)))
    return float(grid[i]), float(mu_tth_yy(grid[i], width=width))


def kappa_t_interval(
    mu_hat: float,
    mu_lo: float,
    mu_hi: float,
    *,
    width: str = "resolved",
    kt_max: float = 3.0,
) -> tuple[float, float, float]:
    """κ_t best fit and interval ``(kt_hat, lo, hi)`` from the profile-likelihood μ interval.

    The profile likelihood is invariant under reparameterisation, so the κ_t
    confidence set is ``{κ_t ∈ [0, kt_max]: μ(κ_t) ∈ [mu_lo, mu_hi]}``. μ(κ_t) rises
    up to κ_t ≈ 2, then falls (the top loop cancels the W loop in H→γγ and the
    gluon width grows), so a wide μ interval also admits a disjoint region at
    large κ_t; ``lo``/``hi`` bound the part connected to ``kt_hat`` (the
    conventional interval; the full set is visible in :func:`kappa_t_scan`).
    ``kt_hat`` solves μ(κ_t) = μ̂ on the rising branch (the SM side; 0 for
    μ̂ ≤ 0, the peak for μ̂ above the largest reachable μ). NaN ends where the
    set is empty.

    Examples
    --------
    >>> kt, lo, hi = kappa_t_interval(1.0, 0.8, 1.2)
    >>> round(kt, 6), 0.8 < lo < 0.95 < 1.05 < hi < 1.2
    (1.0, True)
    >>> kappa_t_interval(1.0, 0.5, 1.5)[2] < 2.5  # the region near kt_max is disjoint
    True
    """
    k_peak, m_peak = _peak(width, kt_max)
    if mu_hat <= 0:
        kt_hat = 0.0
    elif mu_hat >= m_peak:
        kt_hat = k_peak
    else:
        kt_hat = float(
            optimize.brentq(
                lambda k: float(mu_tth_yy(k, width=width)) - mu_hat, 0.0, k_peak, xtol=1e-10
            )
        )
    grid = np.linspace(0.0, kt_max, 30001)
    mu = mu_tth_yy(grid, width=width)
    inside = (mu >= mu_lo) & (mu <= mu_hi)
    if not inside.any():
        return kt_hat, float("nan"), float("nan")
    i = int(np.argmin(np.abs(grid - kt_hat)))
    if not inside[i]:  # μ̂ outside the reachable range: the nearest part of the set
        i = int(np.flatnonzero(inside)[np.argmin(np.abs(grid[inside] - kt_hat))])
    outside = np.flatnonzero(~inside)
    below, above = outside[outside < i], outside[outside > i]
    lo = grid[below[-1] + 1] if below.size else grid[0]
    hi = grid[above[0] - 1] if above.size else grid[-1]
    return kt_hat, float(lo), float(hi)


def kappa_t_scan(
    measurement: object,
    data: np.ndarray,
    kt: np.ndarray,
    *,
    width: str = "resolved",
) -> np.ndarray:
    """Profile ``−2Δ ln L(κ_t)`` (κ_W = 1) on the grid ``kt`` for a :class:`Measurement`.

    The free fit's minimum over μ is the reference (its μ̂ may lie outside the
    κ_t-reachable μ ≥ 0; then the curve's minimum is above 0).
    """
    best, pars = measurement.twice_nll(data)  # type: ignore[attr-defined]
    mus = mu_tth_yy(np.asarray(kt, dtype=np.float64), width=width)
    return np.array([measurement.q(data, float(m), best, start=pars) for m in mus])  # type: ignore[attr-defined]


def chi2_level(cl: float) -> float:
    """``−2Δ ln L`` threshold of a one-parameter interval at confidence ``cl``."""
    return float(stats.chi2.ppf(cl, 1))


def kappa_t_from_ctphi(c_tphi: float, lambda_tev: float = 1.0) -> float:
    """κ_t of the linear SMEFT top-Yukawa shift (see the module docstring).

    Examples
    --------
    >>> round(kappa_t_from_ctphi(1.0), 4)
    0.9388
    """
    return 1.0 - c_tphi * _V**3 / (math.sqrt(2.0) * _MT * (1e3 * lambda_tev) ** 2)


def mu_smeft_linear(c_tphi: float, lambda_tev: float = 1.0, *, width: str = "resolved") -> float:
    """Linear SMEFT μ(c_tφ) = 1 + (∂μ/∂κ_t)|_SM (κ_t(c_tφ) − 1).

    Examples
    --------
    >>> mu_smeft_linear(0.0)
    1.0
    """
    h = 1e-5
    slope = float(mu_tth_yy(1 + h, width=width) - mu_tth_yy(1 - h, width=width)) / (2 * h)
    return 1.0 + slope * (kappa_t_from_ctphi(c_tphi, lambda_tev) - 1.0)

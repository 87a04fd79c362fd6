"""Signal m_γγ shape: double-sided Crystal Ball (DSCB) fitted to weighted signal MC.

The DSCB is a Gaussian core ``(mean, sigma)`` with power-law tails below
``mean − alpha_lo·sigma`` (exponent ``n_lo``) and above ``mean + alpha_hi·sigma``
(``n_hi``). Bin fractions are integrals over the bins, normalised to 1 on the
fit range.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from decorr_af.stats._nll import as_hist, hessian_errors, minimize_nll, scaled_poisson_nll

__all__ = ["DSCB", "fit_dscb"]

_TAILS = ("alpha_lo", "n_lo", "alpha_hi", "n_hi")


@dataclasses.dataclass(frozen=True)
class DSCB:
    """Double-sided Crystal Ball parameters (GeV for ``mean``, ``sigma``).

    Examples
    --------
    >>> s = DSCB(mean=125.5, sigma=1.5)
    >>> f = s.bin_fractions(np.linspace(105, 160, 56))
    >>> bool(abs(f.sum() - 1) < 1e-9), int(np.argmax(f))
    (True, 20)
    """

    mean: float = 125.0
    sigma: float = 1.5
    alpha_lo: float = 1.5
    n_lo: float = 5.0
    alpha_hi: float = 1.5
    n_hi: float = 5.0

    def density(self, x: np.ndarray) -> np.ndarray:
        """Unnormalised density at ``x``."""
        t = (np.asarray(x, dtype=np.float64) - self.mean) / self.sigma
        out = np.exp(-0.5 * t * t)
        for side, sign, alpha, n in ((t < -self.alpha_lo, -1, self.alpha_lo, self.n_lo),
                                     (t > self.alpha_hi, 1, self.alpha_hi, self.n_hi)):  # fmt: skip
            a = (n / alpha) ** n * math.exp(-0.5 * alpha * alpha)
            b = n / alpha - alpha
            out[side] = a * (b + sign * t[side]) ** (-n)
        return out

    def bin_fractions(self, edges: np.ndarray) -> np.ndarray:
        """Fraction of the shape in each bin of ``edges`` (normalised on the range)."""
        edges = np.asarray(edges, dtype=np.float64)
        sub = 16
        u = (np.arange(sub) + 0.5) / sub
        x = edges[:-1, None] + np.diff(edges)[:, None] * u[None, :]
        f = self.density(x).mean(axis=1) * np.diff(edges)
        tot = f.sum()
        return f / tot if tot > 0 else f

    def shifted(self, mean: float) -> DSCB:
        """The same shape at another ``mean``."""
        return dataclasses.replace(self, mean=float(mean))

    def to_dict(self) -> dict[str, float]:
        """Plain dict of the parameters."""
        return {k: float(v) for k, v in dataclasses.asdict(self).items()}


def fit_dscb(
    hist: np.ndarray, edges: np.ndarray, *, tails: DSCB | None = None
) -> tuple[DSCB, float, dict[str, float]]:
    """Fit a DSCB (and its yield) to the weighted signal histogram ``hist``.

    Parameters
    ----------
    hist
        ``(nbins, 2)`` values and variances (or ``(nbins,)`` counts).
    edges
        Bin edges (GeV).
    tails
        If given, the tail parameters are fixed to those of ``tails`` and only the
        yield, mean and sigma float (for categories with few signal MC events).

    Returns
    -------
    shape, yield, errors
        The fitted shape, the fitted yield and the parabolic uncertainties.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> edges = np.linspace(105, 160, 111)
    >>> h = np.histogram(rng.normal(125, 1.6, 20000), edges)[0].astype(float)
    >>> shape, n, _ = fit_dscb(h, edges)
    >>> round(shape.mean, 1), round(shape.sigma, 1), bool(abs(n - 20000) < 300)
    (125.0, 1.6, True)
    """
    h = as_hist(hist)
    edges = np.asarray(edges, dtype=np.float64)
    total = float(h[:, 0].sum())
    if total <= 0:
        raise ValueError("fit_dscb: the signal histogram is empty")
    centres = 0.5 * (edges[1:] + edges[:-1])
    w = np.clip(h[:, 0], 0, None)
    mean0 = float(np.average(centres, weights=w))
    core = np.abs(centres - mean0) < 5.0
    sd0 = float(np.sqrt(np.average((centres[core] - mean0) ** 2, weights=w[core] + 1e-12)))
    sd0 = min(max(sd0, 0.5), 5.0)
    nll = scaled_poisson_nll(h)
    lo, hi = float(edges[0]), float(edges[-1])

    def make(p: np.ndarray) -> DSCB:
        if tails is None:
            return DSCB(*map(float, p[1:]))
        return dataclasses.replace(tails, mean=float(p[1]), sigma=float(p[2]))

    def fun(p: np.ndarray) -> float:
        return nll(p[0] * make(p).bin_fractions(edges))

    start = [total, mean0, sd0]
    bounds = [(1e-9, None), (lo, hi), (0.1, (hi - lo) / 4)]
    if tails is None:
        start += [1.5, 5.0, 1.5, 5.0]
        bounds += [(0.3, 5.0), (1.01, 50.0), (0.3, 5.0), (1.01, 50.0)]
    res = minimize_nll(fun, start, bounds)
    err = hessian_errors(fun, res.x)
    names = ["yield", "mean", "sigma"] + (list(_TAILS) if tails is None else [])
    return make(res.x), float(res.x[0]), {k: float(e) for k, e in zip(names, err)}

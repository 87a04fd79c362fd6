"""MoDe: moment decorrelation (Kitouni, Nachman, Weisser & Williams, arXiv:2010.09745).

For each cut ``s > t_j`` (``K`` thresholds at the quantiles of the output), the
efficiency ``E_bj`` in quantile bins ``b`` of a protected variable ``z`` is fitted by
a weighted least-squares Legendre expansion of order ``n`` in the bin position
``x_b ∈ [-1, 1]``; the penalty is the weighted squared residual of that fit::

    MoDe_n = (1 / (K W)) Σ_j Σ_b W_b (E_bj - Σ_{l≤n} c_jl P_l(x_b))²,   W = Σ_b W_b

(``W_b`` the event-weight sum of bin ``b``; ``x_b`` the mean ``z`` of the bin's
rows, mapped linearly onto [-1, 1]).  ``order=0`` asks for a **flat** efficiency
at every working point (full decorrelation, the fit is the overall efficiency),
``order=1`` allows a **linear** and ``order=2`` a **quadratic** dependence on
``z`` - the choice between full decorrelation and a controlled dependence.  The
efficiencies are smooth (sigmoid) functions of the output
(:mod:`decorr_af.decorrelation.penalties._binned`), so the penalty has a torch
loss and an exact numpy gradient for gradient boosting (``∂MoDe/∂E_bj = 2 W_b
r_bj / (K W)``, ``r`` the fit residual: the hat matrix of a weighted fit is
self-adjoint in the ``W_b`` inner product). Several protected columns add one
term each.  The boosting Hessian is the trust-region diagonal of the DisCo family
(the penalty is invariant under ``s -> a s + c``).

Unlike the MoDe paper's reference code the thresholds are quantiles of the
current output rather than a fixed grid, and there is no ``max_slope`` option.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from decorr_af.decorrelation.penalties import _binned
from decorr_af.decorrelation.penalties._base import check_int
from decorr_af.decorrelation.penalties._cuts import BinnedCutPenalty
from decorr_af.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["MoDe", "legendre_hat"]


def legendre_hat(x: np.ndarray, weight: np.ndarray, order: int) -> np.ndarray | None:
    """Hat matrix ``H`` of the ``weight``-weighted Legendre fit of order ``order`` at ``x``.

    ``H @ e`` is the fitted curve of values ``e`` at the positions ``x``; rows and
    columns of zero-weight points are 0.  ``None`` when fewer than ``order + 2``
    points have weight (the fit would be exact: nothing to penalise).

    Examples
    --------
    >>> h = legendre_hat(np.array([-1.0, 0.0, 1.0]), np.ones(3), 1)
    >>> np.round(h @ np.array([1.0, 2.0, 3.0]), 12).tolist()   # a line is fitted exactly
    [1.0, 2.0, 3.0]
    """
    valid = weight > 0
    if valid.sum() < order + 2:
        return None
    xv = x[valid]
    lo, hi = xv.min(), xv.max()
    t = np.zeros_like(x) if hi <= lo else 2.0 * (x - lo) / (hi - lo) - 1.0
    basis = np.polynomial.legendre.legvander(t[valid], order)  # (m, order+1)
    d = weight[valid]
    gram = basis.T @ (d[:, None] * basis)
    proj = basis @ np.linalg.pinv(gram) @ (basis.T * d[None, :])
    hat = np.zeros((len(x), len(x)))
    hat[np.ix_(valid, valid)] = proj
    return hat


class MoDe(BinnedCutPenalty):
    """Moment decorrelation ``λ Σ_k MoDe_order(s; z_k)`` (Kitouni et al., arXiv:2010.09745).

    Parameters
    ----------
    strength
        λ ≥ 0.
    order
        0 (flat efficiency), 1 (linear dependence allowed) or 2 (quadratic).
    on
        ``"auto"``, ``"background"``, ``"signal"`` or ``"all"`` (as for DisCo).
    bins
        Quantile bins of each protected variable (≥ ``order + 2``).
    thresholds
        Number of cuts ``K`` (at the quantiles ``(j + 1/2) / K`` of the output).
    temperature
        Width of the smooth step in units of the robust spread of the output.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.uniform(-1, 1, 2000); s = 1 / (1 + np.exp(-(z + rng.normal(size=2000))))
    >>> flat = MoDe(strength=1.0, order=0, on="all").boost_terms(s, protected=z)[0]
    >>> linear = MoDe(strength=1.0, order=1, on="all").boost_terms(s, protected=z)[0]
    >>> bool(flat > 10 * linear)   # the dependence on z is mostly linear
    True
    """

    figure = "mode"
    _params = ("strength", "order", "on", "bins", "thresholds", "temperature")

    def __init__(self, strength: float = 1.0, *, order: int = 0, **cuts: Any) -> None:
        self.order = order
        super().__init__(strength, **cuts)  # on, bins, thresholds, temperature

    def validate(self) -> None:
        super().validate()
        order = check_int("order", self.order, low=0)
        if order > 2:
            msg = f"order={self.order!r} must be 0 (flat), 1 (linear) or 2 (quadratic)"
            raise ConfigError(msg)
        if int(self.bins) < order + 2:
            msg = f"bins={self.bins!r} must be >= order + 2 = {order + 2}"
            raise ConfigError(msg)

    def groups(self, z: np.ndarray, names: list[str]) -> list[_binned.Group]:
        """One group per protected column: its quantile bins and their mean ``z``."""
        out = []
        nb = int(self.bins)
        for k in range(z.shape[1]):
            bins = _binned.quantile_bins(z[:, k], nb)
            count = np.bincount(bins, minlength=nb)[:nb]
            total = np.bincount(bins, weights=z[:, k], minlength=nb)[:nb]
            centers = total / np.maximum(count, 1)
            out.append(_binned.Group(bins, nb, centers, self._names(names, k)))
        return out

    def _hat(self, cuts: _binned.BinnedCuts, group: _binned.Group) -> np.ndarray | None:
        return legendre_hat(group.centers, cuts.bin_weight, int(self.order))

    def group_np(self, eff, cuts, group):
        hat = self._hat(cuts, group)
        if hat is None:
            return 0.0, np.zeros_like(eff)
        resid = eff - hat @ eff
        wb = cuts.bin_weight[:, None]
        norm = len(cuts.thresholds) * cuts.bin_weight.sum()
        return float((wb * resid**2).sum() / norm), 2.0 * wb * resid / norm

    def group_torch(self, eff: torch.Tensor, cuts, group) -> torch.Tensor:
        import torch

        hat = self._hat(cuts, group)
        if hat is None:
            return eff.sum() * 0.0
        h = torch.as_tensor(hat, dtype=eff.dtype, device=eff.device)
        wb = torch.as_tensor(cuts.bin_weight, dtype=eff.dtype, device=eff.device)
        resid = eff - h @ eff
        norm = len(cuts.thresholds) * float(cuts.bin_weight.sum())
        return (wb[:, None] * resid**2).sum() / norm

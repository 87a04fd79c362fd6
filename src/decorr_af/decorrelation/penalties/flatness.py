"""Flatness: the binned Cramér-von Mises flatness loss (Rogozhnikov et al., arXiv:1410.4140).

The penalty of hep_ml's ``BinFlatnessLossFunction``: the output distribution in
each bin ``b`` of the protected variables should equal the global one.  With the
smooth cut efficiencies ``E_bj`` of :mod:`decorr_af.decorrelation.penalties._binned`
(``K`` cuts at the quantiles of the output, i.e. the ``dF(s)`` measure)::

    Flatness_p = Σ_b (W_b / W) (1/K) Σ_j |E_bj - Ē_j|^p,    Ē_j = Σ_b W_b E_bj / W

(``W_b`` the weight sum of bin ``b``, ``W = Σ_b W_b``; ``p = power``, 2 is the
Cramér-von Mises distance of hep_ml's default).  The bins are the **product** of
the quantile bins of every protected column (hep_ml's ``uniform_features``
binned jointly), so two protected columns give ``bins²`` bins.

Its gradient with respect to an output ``s_i`` of bin ``b`` is hep_ml's
flatness gradient ``∝ p |Δ|^{p-1} sign(Δ) w_i`` (``Δ`` the difference of the bin's
and the global CDF around ``s_i``) times the output density, exactly so
for the smooth efficiencies; it drives gradient boosting through
:meth:`~decorr_af.decorrelation.penalties.Penalty.boost_terms` (numpy gradient,
trust-region Hessian) and the MLP through the torch loss.  With ``power=2`` and
one protected column the value equals :class:`~decorr_af.decorrelation.penalties.MoDe`
of order 0 on the same bins.  hep_ml's ``KnnFlatnessLossFunction`` (k-nearest
neighbour "bins") is not provided.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from decorr_af.decorrelation.penalties import _binned
from decorr_af.decorrelation.penalties._base import check_number
from decorr_af.decorrelation.penalties._cuts import BinnedCutPenalty

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Flatness"]


class Flatness(BinnedCutPenalty):
    """Binned flatness (CvM) penalty ``λ Flatness_power(s; z)`` (hep_ml's BinFlatness).

    Parameters
    ----------
    strength
        λ ≥ 0.
    power
        Exponent ``p ≥ 1`` of the CDF differences (2: Cramér-von Mises).
    on
        ``"auto"``, ``"background"``, ``"signal"`` or ``"all"`` (as for DisCo).
    bins
        Quantile bins per protected column (the bins are their product).
    thresholds
        Number of cuts ``K``.
    temperature
        Width of the smooth step in units of the robust spread of the output.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> z = rng.normal(size=3000)
    >>> flat = Flatness(on="all").boost_terms(rng.normal(size=3000), protected=z)[0]
    >>> sculpted = Flatness(on="all").boost_terms(z + rng.normal(size=3000), protected=z)[0]
    >>> bool(sculpted > 20 * flat)
    True
    """

    figure = "flatness"
    _params = ("strength", "power", "on", "bins", "thresholds", "temperature")

    def __init__(self, strength: float = 1.0, *, power: float = 2.0, **cuts: Any) -> None:
        self.power = power
        super().__init__(strength, **cuts)  # on, bins, thresholds, temperature

    def validate(self) -> None:
        super().validate()
        check_number("power", self.power, low=1.0)

    def groups(self, z: np.ndarray, names: list[str]) -> list[_binned.Group]:
        """One group: the product of the quantile bins of all protected columns."""
        bins, n_bins = _binned.joint_bins(z, int(self.bins))
        return [_binned.Group(bins, n_bins, None, "+".join(names) if names else "z")]

    def group_np(self, eff, cuts, group):
        wb = cuts.bin_weight
        total = wb.sum()
        frac = (wb / total)[:, None]
        mean = (frac * eff).sum(0, keepdims=True)
        delta = np.where(cuts.valid[:, None], eff - mean, 0.0)
        p = float(self.power)
        k = len(cuts.thresholds)
        value = float((frac * np.abs(delta) ** p).sum() / k)
        d = p * np.abs(delta) ** (p - 1.0) * np.sign(delta)
        g = frac * d / k
        g -= frac * g.sum(0, keepdims=True)  # through the global efficiency Ē_j
        return value, g

    def group_torch(self, eff: torch.Tensor, cuts, group) -> torch.Tensor:
        import torch

        wb = cuts.bin_weight
        frac = torch.as_tensor(wb / wb.sum(), dtype=eff.dtype, device=eff.device)[:, None]
        valid = torch.as_tensor(cuts.valid, device=eff.device)[:, None]
        mean = (frac * eff).sum(0, keepdim=True)
        delta = torch.where(valid, eff - mean, torch.zeros_like(eff))
        p = float(self.power)
        return (frac * delta.abs() ** p).sum() / len(cuts.thresholds)

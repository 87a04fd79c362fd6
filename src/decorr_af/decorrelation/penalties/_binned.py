"""Smooth efficiencies in bins of the protected variables (shared by MoDe and Flatness).

Both penalties look at the **efficiency** of a cut ``s > t_j`` in bins ``b`` of the
protected variable(s), at ``K`` thresholds ``t_j``::

    E_bj = Σ_{i∈b} w_i σ((s_i - t_j) / τ) / W_b,      W_b = Σ_{i∈b} w_i

* the thresholds ``t_j`` are the (unweighted) quantiles of ``s`` at the levels
  ``(j + 1/2) / K`` of the penalised rows, so the ``K`` cuts span all working
  points (the ``dF(s)`` measure of a Cramér-von Mises integral);
* the step is smoothed by a sigmoid of width ``τ = temperature × σ̂_s`` with the
  robust spread ``σ̂_s = (q84 - q16) / 2`` of ``s`` (half the range if that is 0;
  a constant output has no penalty), so the penalty is
  differentiable and invariant under ``s -> a s + c``;
* the bins are quantile bins of each protected column (unweighted, inverted CDF:
  a value equal to an edge belongs to the lower bin), so every bin holds about the
  same number of rows and repeating rows changes neither bins nor thresholds;
* thresholds, ``τ`` and the bins are recomputed from the current outputs at each
  call and treated as constants (detached in torch): the gradient is
  ``∂E_bj/∂s_i = w_i σ'(u_ij) / (τ W_b)`` for ``i`` in bin ``b``.

Signed event weights (NLO MC, sWeights) enter linearly; bins whose weight sum
``W_b`` is not positive are left out (their efficiency is undefined).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "BinnedCuts",
    "Group",
    "binned_cuts",
    "efficiencies_np",
    "efficiencies_torch",
    "grad_from_eff",
    "joint_bins",
    "quantile_bins",
    "quantiles",
]


@dataclass(frozen=True)
class BinnedCuts:
    """Constants of one evaluation: bin of each row, thresholds, width, bin sums.

    Attributes
    ----------
    bins
        Bin index per row (``-1``: the row's bin is left out).
    n_bins
        Number of bins.
    thresholds
        ``(K,)`` cut values ``t_j``.
    tau
        Sigmoid width τ.
    bin_weight
        ``(n_bins,)`` weight sums ``W_b`` (0 for bins left out).
    """

    bins: np.ndarray
    n_bins: int
    thresholds: np.ndarray
    tau: float
    bin_weight: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """Boolean mask of the bins with a positive weight sum."""
        return self.bin_weight > 0


def quantiles(v: np.ndarray, levels: Any) -> np.ndarray:
    """Unweighted quantiles by the inverted CDF (values of ``v``; unchanged when rows repeat).

    Examples
    --------
    >>> quantiles(np.array([3.0, 1.0, 2.0, 4.0]), [0.25, 0.5]).tolist()
    [1.0, 2.0]
    """
    return np.quantile(v, levels, method="inverted_cdf")


def quantile_bins(z: np.ndarray, n_bins: int) -> np.ndarray:
    """Index of the quantile bin of each value of a 1-D ``z`` (``n_bins`` bins).

    Examples
    --------
    >>> quantile_bins(np.arange(8.0), 4).tolist()
    [0, 0, 1, 1, 2, 2, 3, 3]
    """
    edges = quantiles(z, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    return np.searchsorted(edges, z, side="left").astype(np.int64)


def joint_bins(z: np.ndarray, n_bins: int) -> tuple[np.ndarray, int]:
    """Product of the quantile bins of each column of ``z`` (``(n, K)``): index and count."""
    z = np.asarray(z, np.float64).reshape(len(z), -1)
    index = np.zeros(len(z), np.int64)
    for k in range(z.shape[1]):
        index = index * n_bins + quantile_bins(z[:, k], n_bins)
    return index, n_bins ** z.shape[1]


def binned_cuts(
    s: np.ndarray,
    w: np.ndarray,
    bins: np.ndarray,
    n_bins: int,
    *,
    n_thresholds: int,
    temperature: float,
) -> BinnedCuts | None:
    """The constants for ``s`` (numpy, detached); ``None`` if ``s`` has no spread."""
    q16, q84 = quantiles(s, [0.16, 0.84])
    spread = 0.5 * (q84 - q16)
    if not spread > 0:  # more than 68 % of the rows tied: the full range instead
        spread = 0.5 * float(s.max() - s.min())
    if not spread > 0:
        return None
    levels = (np.arange(n_thresholds) + 0.5) / n_thresholds
    thresholds = quantiles(s, levels)
    bw = np.bincount(bins, weights=w, minlength=n_bins)[:n_bins]
    bw = np.where(bw > 0, bw, 0.0)
    keep = bw[bins] > 0
    return BinnedCuts(
        bins=np.where(keep, bins, -1),
        n_bins=n_bins,
        thresholds=thresholds,
        tau=float(temperature) * float(spread),
        bin_weight=bw,
    )


def _sigmoid(u: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * u))


def efficiencies_np(s: np.ndarray, w: np.ndarray, cuts: BinnedCuts) -> np.ndarray:
    """``E`` of shape ``(n_bins, K)`` (rows of bins left out are 0)."""
    keep = cuts.bins >= 0
    u = (s[keep, None] - cuts.thresholds[None, :]) / cuts.tau
    num = np.zeros((cuts.n_bins, len(cuts.thresholds)))
    np.add.at(num, cuts.bins[keep], w[keep, None] * _sigmoid(u))
    den = np.where(cuts.valid, cuts.bin_weight, 1.0)
    return num / den[:, None]


def grad_from_eff(s: np.ndarray, w: np.ndarray, cuts: BinnedCuts, g_eff: np.ndarray) -> np.ndarray:
    """Chain rule: ``∂P/∂s_i = Σ_j g_eff[b(i), j] w_i σ'(u_ij) / (τ W_b(i))``."""
    grad = np.zeros(len(s))
    keep = cuts.bins >= 0
    b = cuts.bins[keep]
    u = (s[keep, None] - cuts.thresholds[None, :]) / cuts.tau
    sig = _sigmoid(u)
    dsig = sig * (1.0 - sig) / cuts.tau
    den = np.where(cuts.valid, cuts.bin_weight, 1.0)[b]
    grad[keep] = w[keep] * (g_eff[b] * dsig).sum(1) / den
    return grad


def efficiencies_torch(s: torch.Tensor, w: torch.Tensor, cuts: BinnedCuts) -> torch.Tensor:
    """``E`` as a differentiable tensor (``(n_bins, K)``, dtype of ``s``)."""
    import torch

    keep = torch.as_tensor(cuts.bins >= 0, device=s.device)
    bins = torch.as_tensor(cuts.bins, device=s.device)[keep]
    t = torch.as_tensor(cuts.thresholds, dtype=s.dtype, device=s.device)
    u = (s[keep, None] - t[None, :]) / cuts.tau
    contrib = w[keep, None].to(s.dtype) * torch.sigmoid(u)
    num = torch.zeros(cuts.n_bins, len(cuts.thresholds), dtype=s.dtype, device=s.device)
    num = num.index_add(0, bins, contrib)
    den = torch.as_tensor(
        np.where(cuts.valid, cuts.bin_weight, 1.0), dtype=s.dtype, device=s.device
    )
    return num / den[:, None]


def host(v: Any) -> np.ndarray:
    """A float64 numpy copy of a tensor or array (detached)."""
    if hasattr(v, "detach"):
        return v.detach().double().cpu().numpy()
    return np.asarray(v, np.float64)


@dataclass(frozen=True)
class Group:
    """One binning of the penalised rows: bin per row, bin count, bin positions."""

    bins: np.ndarray
    n_bins: int
    centers: np.ndarray | None = None
    name: str = ""

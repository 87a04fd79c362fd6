"""Flatness (non-uniformity) metrics of hep_ml: CvM, SDE and Theil, binned or kNN.

They measure how much the distribution of a classifier ``score`` (or its
efficiency at a cut) changes along ``protected`` variables (mass, pT ...) within
ONE class: pass e.g. the background only.  0 is perfectly flat.  Definitions
follow Rogozhnikov et al. (2015), JINST 10 T03002, and :mod:`hep_ml.metrics`.

Groups
------
The protected space is cut into groups, each a list of events (a registered
:class:`Grouping`): ``"bins"`` (:class:`BinGrouping`: ``n_bins`` equal-width bins
per protected variable between its min and max, as :mod:`hep_ml`) or ``"knn"``
(:class:`KnnGrouping`: every event with its ``n_neighbours`` nearest neighbours
in the protected variables, itself included).  An event in ``c`` groups counts
with weight ``w / c`` in group sums ("divided weight"); group ``g`` has weight
``W_g`` = the sum of its members' divided weights, normalised to 1 over groups.

Metrics (weights ``w`` are per-event, non-negative; cuts are global quantiles)
-------------------------------------------------------------------------------
* ``cvm_flatness`` = ``Σ_g W_g Σ_u p_u (F(u) - F_g(u))²``: the Cramér–von Mises
  distance between the global score CDF ``F`` and that of group g, ``F_g``
  (weights ``w`` of its members), summed over the distinct global scores ``u``
  with their weighted frequency ``p_u``; both CDFs symmetrised
  (``F(u) = F(u⁻)/2 + F(u)/2``).  Cost O(N k log k) for k members per group
  (prefix sums over the score grid; hep_ml's loop is O(N²) for kNN).
* ``sde_flatness`` = ``(mean_c Σ_g W_g |ε_g(c) - ε̄(c)|^p)^(1/p)``: the
  standard deviation (``power`` p = 2) of the group efficiencies ``ε_g(c)``
  (divided-weight fraction of the group with ``score > c``) around their
  W-weighted mean, averaged over the cuts ``c`` that keep global efficiencies
  ``effs``.
* ``theil_flatness`` = ``mean_c Σ_g W_g r_g log r_g`` with ``r_g = ε_g(c) /
  ε̄(c)`` (``r`` floored at 1e-20): the Theil index of the efficiencies.

Differences to hep_ml 0.8, all deliberate: the cuts are given as global
efficiencies of the class, ``score > weighted_quantile(score, 1 - eff)``
(hep_ml's kNN metrics do the same with ``target_rcp = eff``; its binned SDE and
Theil use the quantile ``eff`` itself, i.e. efficiency ``1 - eff``); a bin's
efficiency divides by its total weight (hep_ml divides by ``max(total, 1)``,
which differs for bins of total weight below 1).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from decorr_af.decorrelation.dependence import as_1d, as_weights
from decorr_af.errors import ConfigError, NonFiniteValueError

__all__ = [
    "DEFAULT_EFFICIENCIES",
    "BinGrouping",
    "Grouping",
    "KnnGrouping",
    "cvm_flatness",
    "groupings",
    "register_grouping",
    "sde_flatness",
    "theil_flatness",
]

#: Global efficiencies of the cuts of SDE and Theil (hep_ml's default ``target_rcp``).
DEFAULT_EFFICIENCIES = (0.5, 0.6, 0.7, 0.8, 0.9)


class Grouping(ABC):
    """Splits the protected space into groups of events; subclasses are registered by name."""

    name: ClassVar[str]

    @abstractmethod
    def members(self, protected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(members, ptr)``: group g holds events ``members[ptr[g]:ptr[g + 1]]``.

        ``protected`` has shape (N, d).  Empty groups may be left out.
        """


_GROUPINGS: dict[str, type[Grouping]] = {}


def register_grouping(cls: type[Grouping]) -> type[Grouping]:
    """Class decorator: make ``cls`` available as ``groups=cls.name``."""
    if cls.name in _GROUPINGS:
        raise ConfigError(f"a grouping named {cls.name!r} is already registered")
    _GROUPINGS[cls.name] = cls
    return cls


def groupings() -> tuple[str, ...]:
    """Names of the registered groupings.

    Examples
    --------
    >>> groupings()
    ('bins', 'knn')
    """
    return tuple(sorted(_GROUPINGS))


@register_grouping
@dataclass(frozen=True)
class BinGrouping(Grouping):
    """``n_bins`` equal-width bins per protected variable from its min to its max.

    Inner edges ``linspace(min, max, n_bins + 1)[1:-1]``; a value on an edge goes
    to the lower bin (as :func:`hep_ml.metrics_utils.compute_bin_indices`).
    Several variables give the product binning.
    """

    name: ClassVar[str] = "bins"
    n_bins: int = 10

    def __post_init__(self) -> None:
        if isinstance(self.n_bins, bool) or not isinstance(self.n_bins, (int, np.integer)):
            raise ConfigError(f"n_bins must be an integer; got {self.n_bins!r}")
        if self.n_bins < 1:
            raise ConfigError(f"n_bins must be >= 1; got {self.n_bins}")

    def members(self, protected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = np.zeros(protected.shape[0], dtype=np.int64)
        for col in protected.T:
            inner = np.linspace(col.min(), col.max(), self.n_bins + 1)[1:-1]
            idx = idx * self.n_bins + np.searchsorted(inner, col)
        order = np.argsort(idx, kind="stable")
        counts = np.bincount(idx)
        counts = counts[counts > 0]
        return order, np.concatenate([[0], np.cumsum(counts)])


@register_grouping
@dataclass(frozen=True)
class KnnGrouping(Grouping):
    """Each event and its ``n_neighbours - 1`` nearest neighbours (kd-tree, Euclidean).

    As :mod:`hep_ml`, the protected variables are not rescaled: scale them first
    if they have different units.
    """

    name: ClassVar[str] = "knn"
    n_neighbours: int = 50

    def __post_init__(self) -> None:
        k = self.n_neighbours
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ConfigError(f"n_neighbours must be an integer >= 1; got {k!r}")

    def members(self, protected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.neighbors import NearestNeighbors

        n = protected.shape[0]
        if self.n_neighbours > n:
            raise ConfigError(f"n_neighbours={self.n_neighbours} exceeds the {n} events")
        knn = NearestNeighbors(n_neighbors=self.n_neighbours, algorithm="kd_tree")
        _, idx = knn.fit(protected).kneighbors(protected)
        return idx.reshape(-1), np.arange(0, n * self.n_neighbours + 1, self.n_neighbours)


@dataclass(frozen=True)
class _Groups:
    """Validated inputs with their groups: members, group ids, divided weights, W_g."""

    score: np.ndarray
    w: np.ndarray
    members: np.ndarray
    gid: np.ndarray
    divided: np.ndarray
    gweight: np.ndarray


def _prepare(
    protected: Any, score: Any, weights: Any, groups: str | Grouping, options: dict[str, Any]
) -> _Groups:
    s = as_1d(score, "score")
    p = np.asarray(protected.detach().cpu() if hasattr(protected, "detach") else protected)
    p = np.asarray(p, dtype=np.float64)
    p = p.reshape(-1, 1) if p.ndim == 1 else p
    if p.ndim != 2 or p.shape[0] != s.shape[0]:
        raise ConfigError(
            f"protected must be (N,) or (N, d) with N = len(score) = {s.shape[0]}; "
            f"got shape {np.shape(protected)}"
        )
    bad = int((~np.isfinite(p)).sum())
    if bad:
        raise NonFiniteValueError(f"protected contains {bad} NaN or infinite value(s)")
    if s.shape[0] < 2:
        raise ConfigError(f"flatness metrics need at least 2 events; got {s.shape[0]}")
    w = as_weights(weights, s.shape[0])
    if isinstance(groups, Grouping):
        grouping = groups
    elif groups in _GROUPINGS:
        grouping = _GROUPINGS[groups](**options)
    else:
        raise ConfigError(f"groups={groups!r} is not one of: {', '.join(groupings())}")
    members, ptr = grouping.members(p)
    sizes = np.diff(ptr)
    gid = np.repeat(np.arange(sizes.shape[0]), sizes)
    occurrences = np.bincount(members, minlength=s.shape[0])
    divided = w / np.maximum(occurrences, 1)
    gweight = np.bincount(gid, weights=divided[members], minlength=sizes.shape[0])
    return _Groups(s, w, members, gid, divided, gweight / gweight.sum())


def _cuts(g: _Groups, effs: Any) -> np.ndarray:
    from decorr_af.metrics import weighted_quantile

    e = np.atleast_1d(np.asarray(effs, dtype=np.float64))
    if e.ndim != 1 or e.size == 0 or not ((e > 0) & (e < 1)).all():
        raise ConfigError(f"effs must be one or more efficiencies in (0, 1); got {effs!r}")
    return np.atleast_1d(weighted_quantile(g.score, 1.0 - e, g.w))


def _efficiencies(g: _Groups, cut: float) -> np.ndarray:
    """Divided-weight fraction of each group with ``score > cut`` (0 for weightless groups)."""
    dw = g.divided[g.members]
    total = np.bincount(g.gid, weights=dw, minlength=g.gweight.shape[0])
    passed = np.bincount(
        g.gid, weights=dw * (g.score[g.members] > cut), minlength=g.gweight.shape[0]
    )
    return np.divide(passed, total, out=np.zeros_like(total), where=total > 0)


def sde_flatness(
    protected: Any,
    score: Any,
    *,
    weights: Any = None,
    effs: Any = DEFAULT_EFFICIENCIES,
    power: float = 2.0,
    groups: str | Grouping = "bins",
    **options: Any,
) -> float:
    """Standard deviation of the efficiency along ``protected`` (SDE, module docstring).

    Parameters
    ----------
    protected
        (N,) or (N, d) protected variable(s) of the events of one class.
    score
        (N,) classifier output of the same events.
    weights
        Optional non-negative per-event weights.
    effs
        Global efficiencies of the class at which the cut is placed.
    power
        Exponent p (> 0) of the deviation; 2 is the standard deviation.
    groups, options
        ``"bins"`` (``n_bins=10``) or ``"knn"`` (``n_neighbours=50``), or a
        :class:`Grouping` instance.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> m = rng.uniform(size=20000)
    >>> flat, sculpted = rng.uniform(size=20000), rng.uniform(size=20000) + m
    >>> bool(sde_flatness(m, flat) < 0.02 < sde_flatness(m, sculpted))
    True
    """
    if not power > 0:
        raise ConfigError(f"power must be > 0; got {power}")
    g = _prepare(protected, score, weights, groups, options)
    cuts = _cuts(g, effs)
    total = 0.0
    for cut in cuts:
        eff = _efficiencies(g, cut)
        mean = float(np.dot(g.gweight, eff))
        total += float(np.dot(g.gweight, np.abs(eff - mean) ** power))
    return (total / cuts.shape[0]) ** (1.0 / power)


def theil_flatness(
    protected: Any,
    score: Any,
    *,
    weights: Any = None,
    effs: Any = DEFAULT_EFFICIENCIES,
    groups: str | Grouping = "bins",
    **options: Any,
) -> float:
    """Theil index of the efficiency along ``protected`` (module docstring).

    Same parameters as :func:`sde_flatness` (without ``power``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> m, s = rng.uniform(size=(2, 20000))
    >>> bool(theil_flatness(m, s, groups="knn", n_neighbours=200) < theil_flatness(m, s + m))
    True
    """
    g = _prepare(protected, score, weights, groups, options)
    cuts = _cuts(g, effs)
    total = 0.0
    for cut in cuts:
        eff = _efficiencies(g, cut)
        mean = float(np.dot(g.gweight, eff))
        r = np.maximum(eff / mean, 1e-20) if mean > 0 else np.full_like(eff, np.nan)
        total += float(np.dot(g.gweight, r * np.log(r)))
    return total / cuts.shape[0]


def cvm_flatness(
    protected: Any,
    score: Any,
    *,
    weights: Any = None,
    groups: str | Grouping = "bins",
    **options: Any,
) -> float:
    """Cramér–von Mises flatness: score distribution per group vs global (module docstring).

    Parameters as :func:`sde_flatness` (no cuts: the whole distribution is compared).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> m = rng.uniform(size=20000)
    >>> flat, sculpted = rng.uniform(size=20000), rng.uniform(size=20000) + m
    >>> bool(cvm_flatness(m, flat) < 0.001 < cvm_flatness(m, sculpted))
    True
    """
    g = _prepare(protected, score, weights, groups, options)
    grid, inverse = np.unique(g.score, return_inverse=True)
    p = np.bincount(inverse, weights=g.w) / g.w.sum()
    f = np.cumsum(p) - 0.5 * p
    # prefix sums over the grid of p, p F and p F² (for sums of p (F - c)² over a range)
    g0, g1, g2 = (np.concatenate([[0.0], np.cumsum(p * f**k)]) for k in (0, 1, 2))

    def range_sum(lo: np.ndarray, hi: np.ndarray, c: np.ndarray) -> np.ndarray:
        """``Σ_{lo <= u < hi} p_u (F_u - c)²``."""
        s0, s1, s2 = g0[hi] - g0[lo], g1[hi] - g1[lo], g2[hi] - g2[lo]
        return s2 - 2.0 * c * s1 + c * c * s0

    n_groups = g.gweight.shape[0]
    gid, pos = g.gid, inverse[g.members]
    local = g.w[g.members]
    order = np.lexsort((pos, gid))
    gid, pos, local = gid[order], pos[order], local[order]
    # merge equal scores within a group into runs
    first = np.ones(gid.shape[0], dtype=bool)
    first[1:] = (gid[1:] != gid[:-1]) | (pos[1:] != pos[:-1])
    starts = np.flatnonzero(first)
    run_gid, run_pos = gid[starts], pos[starts]
    run_w = np.add.reduceat(local, starts)
    gsum = np.bincount(run_gid, weights=run_w, minlength=n_groups)
    keep = gsum[run_gid] > 0  # groups without weight have W_g = 0: leave them out
    run_gid, run_pos, run_w = run_gid[keep], run_pos[keep], run_w[keep] / gsum[run_gid[keep]]
    # cumulative weight within each group up to and including a run
    cum = np.cumsum(run_w)
    group_first = np.ones(run_gid.shape[0], dtype=bool)
    group_first[1:] = run_gid[1:] != run_gid[:-1]
    offset = np.where(group_first, cum - run_w, 0.0)
    cum_incl = cum - np.maximum.accumulate(offset)
    cum_before = cum_incl - run_w
    group_last = np.ones(run_gid.shape[0], dtype=bool)
    group_last[:-1] = run_gid[1:] != run_gid[:-1]
    next_pos = np.where(group_last, grid.shape[0], np.roll(run_pos, -1))
    terms = p[run_pos] * (f[run_pos] - (cum_before + 0.5 * run_w)) ** 2  # at the runs
    terms += range_sum(run_pos + 1, next_pos, cum_incl)  # between runs, after the last
    zero = np.zeros(int(group_first.sum()))
    terms[group_first] += range_sum(zero.astype(np.int64), run_pos[group_first], zero)
    per_group = np.bincount(run_gid, weights=terms, minlength=n_groups)
    return float(np.dot(g.gweight, per_group))

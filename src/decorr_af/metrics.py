"""Performance and decorrelation metrics (numpy in, numbers / DataFrames out).

Conventions
-----------
* ``y`` is the binary truth label (1 = signal, 0 = background); ``weights`` are
  optional non-negative per-sample weights, except in :func:`roc_curve` and
  :func:`auc`, which are sums over events and also take signed weights (NLO MC,
  sWeights; their sum must be positive).  Quantiles, efficiency thresholds and
  the KS test need a monotone weighted CDF and reject them.
* Quantiles (weighted or not) use the midpoint rule: the sorted value ``v_i``
  with cumulative weight ``C_i`` sits at probability ``(C_i - w_i / 2) / W`` and
  quantiles interpolate linearly in between.  Unweighted this is numpy's
  ``method="hazen"``.
* A cut "passes" when ``score > threshold``; :func:`efficiency_threshold` is the
  signal-score quantile at ``1 - eff``.
* Effective sample size ``n_eff = (Σw)² / Σw²`` enters uncertainties.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from decorr_af.errors import ConfigError, NonFiniteValueError

__all__ = [
    "AbcdResult",
    "Chi2Result",
    "abcd",
    "abcd_nonclosure",
    "abcd_signal_yield",
    "auc",
    "binned_response",
    "chi2_test",
    "efficiency_threshold",
    "energy_distance",
    "inverse_jsd",
    "inverse_jsd_ceiling",
    "inverse_jsd_multi",
    "iqr_resolution",
    "ks_test",
    "pearson",
    "random_cut_jsd",
    "rejection_at_efficiency",
    "response",
    "roc_curve",
    "sculpting_jsd",
    "sculpting_jsd_multi",
    "weighted_quantile",
]


def __dir__() -> list[str]:
    return __all__


# ----------------------------------------------------------------------------- helpers
def _arr(v: Any, name: str) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64).reshape(-1)
    bad = int((~np.isfinite(a)).sum())
    if bad:
        raise NonFiniteValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return a


def _weights(weights: Any, n: int, name: str = "weights", *, signed: bool = False) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = _arr(weights, name)
    if w.shape[0] != n:
        raise ConfigError(f"{name} has length {w.shape[0]}, expected {n}")
    if signed:  # sums of signed weights (NLO MC, sWeights): only the total must be > 0
        if w.sum() <= 0:
            raise ConfigError(f"{name} sum to zero or less; signed weights need a positive sum")
        return w
    if (w < 0).any():
        raise ConfigError(f"{name} must be non-negative; {int((w < 0).sum())} are negative")
    return w


def _same_length(**arrays: np.ndarray) -> None:
    lengths = {k: v.shape[0] for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError(f"inputs must have the same length; got {lengths}")


def _labels(y: Any) -> np.ndarray:
    lab = _arr(y, "y")
    if not np.isin(lab, (0.0, 1.0)).all():
        raise ConfigError("y must contain only 0 (background) and 1 (signal)")
    return lab.astype(bool)


def _check_eff(eff: float) -> None:
    if not 0.0 < eff < 1.0:
        raise ConfigError(f"eff must be in (0, 1); got {eff}")


def _n_eff(w: np.ndarray) -> float:
    s2 = float((w * w).sum())
    return float(w.sum()) ** 2 / s2 if s2 > 0 else 0.0


def weighted_quantile(values: Any, q: Any, weights: Any = None) -> np.ndarray | float:
    """Weighted quantile(s) ``q`` in [0, 1] with the midpoint rule (module docstring).

    Examples
    --------
    >>> weighted_quantile([1.0, 2.0, 3.0, 4.0], 0.5)
    2.5
    >>> round(weighted_quantile([1.0, 2.0, 3.0], 0.5, weights=[1.0, 1.0, 4.0]), 6)
    2.6
    """
    v = _arr(values, "values")
    w = _weights(weights, v.shape[0])
    keep = w > 0
    v, w = v[keep], w[keep]
    if v.size == 0:
        raise ConfigError("weighted_quantile needs at least one value with positive weight")
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cum = np.cumsum(w)
    pos = (cum - 0.5 * w) / cum[-1]
    out = np.interp(np.asarray(q, dtype=np.float64), pos, v)
    return float(out) if np.ndim(out) == 0 else out


# ------------------------------------------------------------------- classification
def roc_curve(y: Any, score: Any, weights: Any = None) -> tuple[np.ndarray, ...]:
    """Weighted ROC curve ``(fpr, tpr, thresholds)`` (:func:`sklearn.metrics.roc_curve`).

    Examples
    --------
    >>> fpr, tpr, thr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> float(tpr[-1])
    1.0
    """
    from sklearn.metrics import roc_curve as _roc

    lab, s = _labels(y), _arr(score, "score")
    _same_length(y=lab, score=s)
    return _roc(lab, s, sample_weight=_weights(weights, s.shape[0], signed=True))


def auc(y: Any, score: Any, weights: Any = None) -> float:
    """Weighted area under the ROC curve (:func:`sklearn.metrics.roc_auc_score`).

    Examples
    --------
    >>> auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    from sklearn.metrics import roc_auc_score

    lab, s = _labels(y), _arr(score, "score")
    _same_length(y=lab, score=s)
    w = _weights(weights, s.shape[0], signed=True)
    if (w < 0).any():  # the ROC curve of signed weights is not monotone: rank formula
        return _signed_auc(lab, s, w)
    return float(roc_auc_score(lab, s, sample_weight=w))


def _signed_auc(lab: np.ndarray, s: np.ndarray, w: np.ndarray) -> float:
    """``Σ_{i∈sig, j∈bkg} w_i w_j ([s_i > s_j] + [s_i = s_j] / 2) / (W_sig W_bkg)``."""
    values, inverse = np.unique(s, return_inverse=True)
    sig = np.bincount(inverse, weights=np.where(lab == 1, w, 0.0), minlength=len(values))
    bkg = np.bincount(inverse, weights=np.where(lab == 1, 0.0, w), minlength=len(values))
    w_sig, w_bkg = sig.sum(), bkg.sum()
    if not (w_sig > 0 and w_bkg > 0):
        raise ConfigError("auc needs a positive total weight of each class")
    below = np.cumsum(bkg) - bkg
    return float((sig * (below + 0.5 * bkg)).sum() / (w_sig * w_bkg))


def efficiency_threshold(y: Any, score: Any, eff: float, weights: Any = None) -> float:
    """Score threshold at which a fraction ``eff`` of the (weighted) signal passes.

    The signal-score quantile at ``1 - eff`` (interpolated, midpoint rule).

    Examples
    --------
    >>> efficiency_threshold([1, 1, 1, 1, 0], [0.1, 0.2, 0.3, 0.4, 0.0], 0.5)
    0.25
    """
    _check_eff(eff)
    lab, s = _labels(y), _arr(score, "score")
    _same_length(y=lab, score=s)
    w = _weights(weights, s.shape[0])
    if not (w[lab] > 0).any():
        raise ConfigError("y contains no signal (label 1) with positive weight")
    return float(weighted_quantile(s[lab], 1.0 - eff, w[lab]))


def rejection_at_efficiency(y: Any, score: Any, eff: float = 0.5, weights: Any = None) -> float:
    """Background rejection ``1 / ε_bkg`` at signal efficiency ``eff`` (R50 by default).

    ``ε_bkg`` is the weighted fraction of background with ``score >`` the
    :func:`efficiency_threshold`; returns ``inf`` when no background passes.

    Examples
    --------
    >>> rejection_at_efficiency([0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.9, 0.8, 0.95])
    4.0
    """
    lab, s = _labels(y), _arr(score, "score")
    w = _weights(weights, s.shape[0])
    thr = efficiency_threshold(lab, s, eff, w)
    wb = w[~lab]
    if wb.sum() <= 0:
        raise ConfigError("y contains no background (label 0) with positive weight")
    eps_b = float(wb[s[~lab] > thr].sum() / wb.sum())
    return float("inf") if eps_b == 0.0 else 1.0 / eps_b


def _sculpting_inputs(
    protected: Any, score: Any, y: Any, eff: float, bins: Any, range: Any, weights: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Background ``protected``, weights, pass mask at ``eff`` and the histogram edges."""
    prot, s, lab = _arr(protected, "protected"), _arr(score, "score"), _labels(y)
    _same_length(protected=prot, score=s, y=lab)
    w = _weights(weights, s.shape[0])
    thr = efficiency_threshold(lab, s, eff, w)
    bkg = ~lab
    pb, sb, wb = prot[bkg], s[bkg], w[bkg]
    if np.ndim(bins) == 0:
        if int(bins) < 1:
            raise ConfigError(f"bins must be a positive integer or edges; got {bins}")
        if range is None:
            lo, hi = weighted_quantile(pb, [0.005, 0.995], wb)
            range = (float(lo), float(hi)) if hi > lo else (float(lo) - 0.5, float(lo) + 0.5)
        edges = np.linspace(range[0], range[1], int(bins) + 1)
    else:
        edges = np.asarray(bins, dtype=np.float64)
    return pb, wb, sb > thr, edges


def _jsd_rows(h_pass: np.ndarray, h_fail: np.ndarray) -> np.ndarray:
    """Base-2 JSD of each row pair of histograms (NaN where one is empty)."""
    sp = h_pass.sum(axis=-1, keepdims=True)
    sf = h_fail.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p, q = h_pass / sp, h_fail / sf
        m = 0.5 * (p + q)
        kl_p = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0) / np.where(m > 0, m, 1.0)), 0.0)
        kl_q = np.where(q > 0, q * np.log2(np.where(q > 0, q, 1.0) / np.where(m > 0, m, 1.0)), 0.0)
    out = np.maximum(0.0, 0.5 * kl_p.sum(axis=-1) + 0.5 * kl_q.sum(axis=-1))
    return np.where((sp[..., 0] > 0) & (sf[..., 0] > 0), out, np.nan)


def sculpting_jsd(
    protected: Any,
    score: Any,
    y: Any,
    *,
    eff: float = 0.5,
    bins: int | Any = 50,
    range: tuple[float, float] | None = None,
    weights: Any = None,
) -> float:
    """Jensen–Shannon divergence (base 2) of background ``protected`` passing vs failing.

    The cut is ``score >`` :func:`efficiency_threshold` at signal efficiency ``eff``.
    Both background distributions of ``protected`` are histogrammed with the same
    binning and normalised to unit sum: ``bins`` uniform bins over ``range``,
    default the background's weighted [0.5 %, 99.5 %] quantile range (entries
    outside are ignored), or explicit edges.  0 means no sculpting, 1 is maximal.
    Returns NaN if either population is empty in range.  See :func:`inverse_jsd`
    and, for the value a random cut reaches, :func:`inverse_jsd_ceiling`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> m, s, y = rng.uniform(size=4000), rng.uniform(size=4000), rng.integers(0, 2, 4000)
    >>> sculpting_jsd(m, s, y, bins=10) < 0.05  # independent: only statistical noise
    True
    >>> sculpting_jsd(m, m, y, bins=10) > 0.5  # the score is the mass itself
    True
    """
    pb, wb, passed, edges = _sculpting_inputs(protected, score, y, eff, bins, range, weights)
    h_pass = np.histogram(pb[passed], bins=edges, weights=wb[passed])[0]
    h_fail = np.histogram(pb[~passed], bins=edges, weights=wb[~passed])[0]
    return float(_jsd_rows(h_pass[None, :], h_fail[None, :])[0])


def random_cut_jsd(
    protected: Any,
    score: Any,
    y: Any,
    *,
    eff: float = 0.5,
    bins: int | Any = 50,
    range: tuple[float, float] | None = None,
    weights: Any = None,
    n_permutations: int = 100,
    seed: int = 0,
) -> np.ndarray:
    """JSDs of random cuts with the same background counts and weights as the real one.

    The background pass/fail labels of the cut of :func:`sculpting_jsd` are
    permuted ``n_permutations`` times (seeded): each permutation is a cut that
    cannot depend on ``protected``, so its JSD is pure statistical noise of the
    given event counts, weights and binning.  Vectorised over permutations.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> m, s, y = rng.uniform(size=3000), rng.uniform(size=3000), rng.integers(0, 2, 3000)
    >>> random_cut_jsd(m, s, y, bins=10, n_permutations=5).shape
    (5,)
    """
    if int(n_permutations) < 1:
        raise ConfigError(f"n_permutations must be >= 1; got {n_permutations}")
    pb, wb, passed, edges = _sculpting_inputs(protected, score, y, eff, bins, range, weights)
    nb = edges.size - 1
    idx = np.searchsorted(edges, pb, side="right") - 1
    idx[pb == edges[-1]] = nb - 1
    keep = (idx >= 0) & (idx < nb)
    rng = np.random.default_rng(seed)
    pk, wk, nk = passed[keep], wb[keep], int(keep.sum())
    h_all = np.bincount(idx[keep], weights=wk, minlength=nb)[None, :]
    chunk = max(1, 4_000_000 // max(nk, 1))  # bounded memory, vectorised within a chunk
    h_pass = np.empty((int(n_permutations), nb))
    for start in np.arange(0, int(n_permutations), chunk):
        p = min(chunk, int(n_permutations) - start)
        perm = rng.permuted(np.tile(pk, (p, 1)), axis=1)
        flat = (np.arange(p)[:, None] * nb + idx[keep][None, :])[perm]
        h_pass[start : start + p] = np.bincount(
            flat, weights=np.broadcast_to(wk, perm.shape)[perm], minlength=p * nb
        ).reshape(p, nb)
    return _jsd_rows(h_pass, h_all - h_pass)


def inverse_jsd_ceiling(
    protected: Any,
    score: Any,
    y: Any,
    *,
    eff: float = 0.5,
    bins: int | Any = 50,
    range: tuple[float, float] | None = None,
    weights: Any = None,
    n_permutations: int = 100,
    seed: int = 0,
) -> float:
    """Statistical ceiling of 1/JSD: ``1 / mean`` of the :func:`random_cut_jsd` values.

    A perfectly decorrelated cut cannot be told apart from a random one, so a
    measured 1/JSD near this value means "as flat as the sample can resolve".

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> m, s, y = rng.uniform(size=4000), rng.uniform(size=4000), rng.integers(0, 2, 4000)
    >>> ceil = inverse_jsd_ceiling(m, s, y, bins=10, n_permutations=50)
    >>> 0.3 < inverse_jsd(sculpting_jsd(m, s, y, bins=10)) / ceil < 3.0
    True
    """
    jsd = random_cut_jsd(
        protected, score, y, eff=eff, bins=bins, range=range, weights=weights,
        n_permutations=n_permutations, seed=seed,
    )  # fmt: skip
    jsd = jsd[np.isfinite(jsd)]
    return inverse_jsd(float(jsd.mean())) if jsd.size else float("nan")


def inverse_jsd(jsd: float) -> float:
    """``1 / JSD`` (the usual "1/JSD" decorrelation figure of merit); ``inf`` for 0.

    Examples
    --------
    >>> inverse_jsd(0.25)
    4.0
    """
    if np.isnan(jsd):
        return float("nan")
    return float("inf") if jsd <= 0 else 1.0 / float(jsd)


#: Signal efficiencies of :func:`sculpting_jsd_multi` / :func:`inverse_jsd_multi`.
DEFAULT_WP_EFFICIENCIES = (0.3, 0.5, 0.7)


def sculpting_jsd_multi(
    protected: Any,
    score: Any,
    y: Any,
    *,
    effs: Any = DEFAULT_WP_EFFICIENCIES,
    bins: int | Any = 50,
    range: tuple[float, float] | None = None,
    weights: Any = None,
) -> np.ndarray:
    """:func:`sculpting_jsd` at several signal efficiencies ``effs`` (one value each).

    The binning (``bins``, ``range``, default the background's quantile range) is
    the same at every working point.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> m, s, y = rng.uniform(size=4000), rng.uniform(size=4000), rng.integers(0, 2, 4000)
    >>> sculpting_jsd_multi(m, s, y, bins=10).shape
    (3,)
    """
    effs = np.atleast_1d(np.asarray(effs, dtype=np.float64))
    if effs.ndim != 1 or effs.size == 0:
        raise ConfigError(f"effs must be one or more efficiencies in (0, 1); got {effs}")
    return np.array(
        [
            sculpting_jsd(
                protected, score, y, eff=float(e), bins=bins, range=range, weights=weights
            )
            for e in effs
        ]
    )


def inverse_jsd_multi(
    protected: Any,
    score: Any,
    y: Any,
    *,
    effs: Any = DEFAULT_WP_EFFICIENCIES,
    bins: int | Any = 50,
    range: tuple[float, float] | None = None,
    weights: Any = None,
) -> float:
    """1/JSD over several working points: ``1 / mean_k JSD(eff_k)`` (default 30/50/70 %).

    The JSDs of :func:`sculpting_jsd_multi` are averaged before inverting (the
    harmonic mean of the per-WP 1/JSD): a single working point can be flat by
    accident of the score's shape (e.g. a score whose median does not move
    with the mass but whose spread does) and its 1/JSD then diverges; averaging
    the 1/JSD values would let that one WP dominate, averaging the divergences
    does not.  NaN working points (an empty population) are skipped; NaN if all
    are.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(4)
    >>> m = rng.uniform(size=20000)
    >>> y = rng.integers(0, 2, 20000)
    >>> u = rng.uniform(size=20000)
    >>> spread = 0.5 + (u - 0.5) * (0.2 + 1.6 * m)  # median flat in m, spread not
    >>> jsd = sculpting_jsd_multi(m, spread, y, bins=10)
    >>> bool(jsd[1] < jsd[0] / 5 and jsd[1] < jsd[2] / 5)  # flat at 50 % only
    True
    """
    jsd = sculpting_jsd_multi(
        protected, score, y, effs=effs, bins=bins, range=range, weights=weights
    )
    jsd = jsd[np.isfinite(jsd)]
    return inverse_jsd(float(jsd.mean())) if jsd.size else float("nan")


# ---------------------------------------------------------------------- dependence
def pearson(x: Any, y: Any, weights: Any = None) -> float:
    """Weighted Pearson correlation coefficient (0 if either input is constant).

    Examples
    --------
    >>> round(pearson([1.0, 2.0, 3.0], [2.0, 4.0, 6.5]), 4)
    0.9979
    """
    a, b = _arr(x, "x"), _arr(y, "y")
    _same_length(x=a, y=b)
    w = _weights(weights, a.shape[0])
    if w.sum() <= 0:
        raise ConfigError("weights sum to zero")
    da = a - np.average(a, weights=w)
    db = b - np.average(b, weights=w)
    den = np.sqrt((w * da * da).sum() * (w * db * db).sum())
    return float((w * da * db).sum() / den) if den > 0 else 0.0


def ks_test(a: Any, b: Any, weights_a: Any = None, weights_b: Any = None) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov test with optional weights: ``(D, p-value)``.

    ``D`` is the largest distance between the weighted empirical CDFs.  The p-value
    uses the asymptotic approximation of :func:`scipy.stats.ks_2samp`
    (``method="asymp"``): ``kstwo.sf(D, round(n_a n_b / (n_a + n_b)))`` with the
    effective sample sizes ``n_eff``; unweighted it equals scipy's.

    Examples
    --------
    >>> d, p = ks_test([1.0, 2.0, 3.0], [1.5, 2.5, 3.5, 4.5])
    >>> round(d, 3)
    0.5
    """
    from scipy.stats import kstwo

    va, vb = _arr(a, "a"), _arr(b, "b")
    wa = _weights(weights_a, va.shape[0], "weights_a")
    wb = _weights(weights_b, vb.shape[0], "weights_b")
    if wa.sum() <= 0 or wb.sum() <= 0:
        raise ConfigError("ks_test needs two non-empty samples with positive total weight")
    grid = np.union1d(va, vb)

    def _cdf(v: np.ndarray, w: np.ndarray) -> np.ndarray:
        order = np.argsort(v, kind="stable")
        cum = np.concatenate([[0.0], np.cumsum(w[order])]) / w.sum()
        return cum[np.searchsorted(v[order], grid, side="right")]

    d = float(np.abs(_cdf(va, wa) - _cdf(vb, wb)).max())
    na, nb = _n_eff(wa), _n_eff(wb)
    en = max(1, round(na * nb / (na + nb)))
    return d, float(np.clip(kstwo.sf(d, en), 0.0, 1.0))


def _mean_distance(p: np.ndarray, wp: np.ndarray, q: np.ndarray, wq: np.ndarray) -> float:
    """``Σ_ij wp_i wq_j |p_i - q_j| / (Σ wp Σ wq)`` (Euclidean), chunked over rows of p."""
    step = max(1, (1 << 22) // max(1, q.shape[0] * q.shape[1]))
    total = 0.0
    for s in np.arange(0, p.shape[0], step):
        d = np.sqrt(((p[s : s + step, None, :] - q[None, :, :]) ** 2).sum(-1))
        total += float(wp[s : s + step] @ d @ wq)
    return total / (float(wp.sum()) * float(wq.sum()))


def energy_distance(
    a: Any, b: Any, weights_a: Any = None, weights_b: Any = None, *, squared: bool = False
) -> float:
    """Weighted energy distance between samples ``a`` and ``b`` (data/MC agreement).

    Székely's energy distance ``E = 2 E|A-B| - E|A-A'| - E|B-B'|`` with weighted
    means over all pairs (``A, A'`` drawn independently from the weighted
    sample, coincidences included, so ``E = 0`` for identical samples); ``E ≥
    0`` and 0 only for equal distributions.  In 1-D ``E = 2 ∫ (F_a - F_b)²``
    with the weighted empirical CDFs, computed exactly in O(N log N).
    Multi-dimensional samples (shape (N, d)) use Euclidean distances, O(N_a N_b).

    Returns ``sqrt(E)`` (a metric, what :func:`scipy.stats.energy_distance`
    returns, weighted or not), or ``E`` with ``squared=True`` (what
    :func:`dcor.energy_distance` returns).  Unlike KS it sees differences in the
    tails and in scale; it is not normalised (same unit as the variable).

    Examples
    --------
    >>> energy_distance([0.0, 1.0], [0.0, 1.0])
    0.0
    >>> round(energy_distance([0.0], [2.0], squared=True), 6)  # 2|0 - 2|
    4.0
    """
    va, vb = (np.asarray(v, dtype=np.float64) for v in (a, b))
    if va.ndim == 1 and vb.ndim == 1:
        return _energy_1d(va, vb, weights_a, weights_b, squared)
    va, vb = (v.reshape(-1, 1) if v.ndim == 1 else v for v in (va, vb))
    if va.ndim != 2 or vb.ndim != 2 or va.shape[1] != vb.shape[1]:
        raise ConfigError(
            f"a and b must be (N,) or (N, d) with equal d; got {va.shape}, {vb.shape}"
        )
    for name, v in (("a", va), ("b", vb)):
        _arr(v, name)
    wa = _weights(weights_a, va.shape[0], "weights_a")
    wb = _weights(weights_b, vb.shape[0], "weights_b")
    if wa.sum() <= 0 or wb.sum() <= 0:
        raise ConfigError("energy_distance needs two samples with positive total weight")
    e = (
        2.0 * _mean_distance(va, wa, vb, wb)
        - _mean_distance(va, wa, va, wa)
        - _mean_distance(vb, wb, vb, wb)
    )
    e = max(e, 0.0)
    return e if squared else float(np.sqrt(e))


def _energy_1d(va: Any, vb: Any, weights_a: Any, weights_b: Any, squared: bool) -> float:
    """1-D :func:`energy_distance`: ``2 ∫ (F_a - F_b)²`` over the merged sorted values."""
    va, vb = _arr(va, "a"), _arr(vb, "b")
    wa = _weights(weights_a, va.shape[0], "weights_a")
    wb = _weights(weights_b, vb.shape[0], "weights_b")
    if wa.sum() <= 0 or wb.sum() <= 0:
        raise ConfigError("energy_distance needs two samples with positive total weight")
    oa, ob = np.argsort(va, kind="stable"), np.argsort(vb, kind="stable")
    sa, sb = va[oa], vb[ob]
    ca = np.concatenate([[0.0], np.cumsum(wa[oa])]) / wa.sum()
    cb = np.concatenate([[0.0], np.cumsum(wb[ob])]) / wb.sum()
    grid = np.sort(np.concatenate([sa, sb]))
    fa = ca[np.searchsorted(sa, grid[:-1], side="right")]
    fb = cb[np.searchsorted(sb, grid[:-1], side="right")]
    e = 2.0 * float(((fa - fb) ** 2 * np.diff(grid)).sum())
    return e if squared else float(np.sqrt(e))


@dataclass(frozen=True)
class Chi2Result:
    """Result of :func:`chi2_test`."""

    chi2: float
    ndf: int
    pvalue: float

    @property
    def chi2_ndf(self) -> float:
        """χ² per degree of freedom (NaN if ``ndf == 0``)."""
        return self.chi2 / self.ndf if self.ndf > 0 else float("nan")


def _values_variances(h: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(h, "values") and callable(h.values):
        val = np.asarray(h.values(), dtype=np.float64).reshape(-1)
        var = h.variances() if hasattr(h, "variances") else None
        var = val.copy() if var is None else np.asarray(var, dtype=np.float64).reshape(-1)
    elif isinstance(h, tuple) and len(h) == 2:
        val, var = _arr(h[0], name), _arr(h[1], f"{name} variances")
    else:
        val = _arr(h, name)
        var = val.copy()  # Poisson counts
    if val.shape != var.shape:
        raise ConfigError(f"{name}: values and variances differ in shape")
    if (var < 0).any():
        raise ConfigError(f"{name}: variances must be non-negative")
    return val, var


def chi2_test(h_data: Any, h_mc: Any, *, normalise: bool = False) -> Chi2Result:
    """χ² comparison of two histograms with uncertainties on both.

    Each input is a :mod:`hist` histogram (``values()``/``variances()``; no
    variances means Poisson), a ``(values, variances)`` tuple, or an array of
    counts (Poisson variances).  ``χ² = Σ (d - m)² / (σ_d² + σ_m²)`` over bins with
    positive total variance; ``ndf`` is their number, minus one if ``normalise``
    scales ``h_mc`` (and its variances) to the data total (shape-only comparison).

    Examples
    --------
    >>> r = chi2_test([10.0, 20.0, 30.0], [12.0, 18.0, 30.0])
    >>> round(r.chi2, 4), r.ndf
    (0.2871, 3)
    """
    from scipy.stats import chi2 as _chi2

    d, vd = _values_variances(h_data, "h_data")
    m, vm = _values_variances(h_mc, "h_mc")
    if d.shape != m.shape:
        raise ConfigError(f"h_data and h_mc have different bin counts: {d.size} vs {m.size}")
    ndf_offset = 0
    if normalise:
        if m.sum() <= 0:
            raise ConfigError("h_mc is empty: cannot normalise its shape")
        scale = d.sum() / m.sum()
        m, vm = m * scale, vm * scale * scale
        ndf_offset = 1
    var = vd + vm
    used = var > 0
    chi2 = float(((d[used] - m[used]) ** 2 / var[used]).sum())
    ndf = max(int(used.sum()) - ndf_offset, 0)
    pvalue = float(_chi2.sf(chi2, ndf)) if ndf > 0 else float("nan")
    return Chi2Result(chi2=chi2, ndf=ndf, pvalue=pvalue)


@dataclass(frozen=True)
class AbcdResult:
    """Yields and derived figures of an ABCD (2D-sideband) estimate; see :func:`abcd`.

    ``yields`` / ``variances`` are the weighted counts and their ``Σw²`` in the
    regions ``(A, B, C, D)`` = (ID pass & isolated, ID pass & non-isolated,
    ID fail & isolated, ID fail & non-isolated).
    """

    yields: tuple[float, float, float, float]
    variances: tuple[float, float, float, float]

    def _rel2(self) -> float:
        n, v = np.asarray(self.yields), np.asarray(self.variances)
        return float((v / n**2).sum()) if (n > 0).all() else float("nan")

    @property
    def r_bkg(self) -> float:
        """Correlation (leakage) factor ``N_A N_D / (N_B N_C)``; 1 for independent axes."""
        a, b, c, d = self.yields
        return a * d / (b * c) if min(self.yields) > 0 else float("nan")

    @property
    def r_bkg_err(self) -> float:
        """Statistical uncertainty of :attr:`r_bkg` (independent regions)."""
        return self.r_bkg * float(np.sqrt(self._rel2()))

    @property
    def estimate(self) -> float:
        """ABCD prediction of the signal-region yield ``N_B N_C / N_D``."""
        _, b, c, d = self.yields
        return b * c / d if d > 0 else float("nan")

    @property
    def estimate_err(self) -> float:
        """Statistical uncertainty of :attr:`estimate` (from B, C and D)."""
        n, v = np.asarray(self.yields[1:]), np.asarray(self.variances[1:])
        if not (n > 0).all():
            return float("nan")
        return self.estimate * float(np.sqrt((v / n**2).sum()))

    @property
    def nonclosure(self) -> float:
        """``R_bkg - 1`` (the existing ``abcd_nonclosure`` metric)."""
        return self.r_bkg - 1.0

    @property
    def bias(self) -> float:
        """Relative bias of the estimate, ``estimate / N_A - 1 = 1 / R_bkg - 1``."""
        a = self.yields[0]
        return self.estimate / a - 1.0 if a > 0 else float("nan")

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        """Flat float dict (``abcd_A`` ... ``abcd_D``, ``r_bkg``, ``abcd_estimate`` ...)."""
        out = {f"{prefix}abcd_{k}": float(n) for k, n in zip("ABCD", self.yields)}
        out.update(
            {
                f"{prefix}r_bkg": self.r_bkg,
                f"{prefix}r_bkg_err": self.r_bkg_err,
                f"{prefix}abcd_estimate": self.estimate,
                f"{prefix}abcd_estimate_err": self.estimate_err,
                f"{prefix}abcd_bias": self.bias,
            }
        )
        return out


def abcd(
    id_pass: Any,
    iso_pass: Any,
    weights: Any = None,
    *,
    id_fail: Any = None,
    iso_fail: Any = None,
) -> AbcdResult:
    """Weighted ABCD region yields from two pass masks and optional fail masks.

    ``id_fail`` / ``iso_fail`` default to the complements; otherwise they define
    the control regions (e.g. Loose′ and the non-isolated region beyond a gap),
    and rows in neither the pass nor the fail region of an axis are ignored.
    Overlapping pass and fail masks are an error.

    Examples
    --------
    >>> r = abcd([1, 1, 0, 0, 0], [1, 0, 1, 0, 0], id_fail=[0, 0, 1, 1, 0])
    >>> r.yields, r.r_bkg
    ((1.0, 1.0, 1.0, 1.0), 1.0)
    """
    sp = _arr(id_pass, "id_pass").astype(bool)
    ip = _arr(iso_pass, "iso_pass").astype(bool)
    sf = ~sp if id_fail is None else _arr(id_fail, "id_fail").astype(bool)
    if_ = ~ip if iso_fail is None else _arr(iso_fail, "iso_fail").astype(bool)
    _same_length(id_pass=sp, iso_pass=ip, id_fail=sf, iso_fail=if_)
    for name, p, f in (("id", sp, sf), ("iso", ip, if_)):
        if (p & f).any():
            raise ConfigError(f"{name}_pass and {name}_fail overlap in {int((p & f).sum())} rows")
    w = _weights(weights, sp.shape[0])
    masks = (sp & ip, sp & if_, sf & ip, sf & if_)
    n = tuple(float(w[mk].sum()) for mk in masks)
    v = tuple(float((w[mk] ** 2).sum()) for mk in masks)
    return AbcdResult(yields=n, variances=v)  # type: ignore[arg-type]


def abcd_nonclosure(
    score_pass: Any,
    iso_pass: Any,
    weights: Any = None,
    *,
    score_fail: Any = None,
    iso_fail: Any = None,
) -> tuple[float, float]:
    """ABCD non-closure ``N_A N_D / (N_B N_C) - 1`` (``R_bkg - 1``) and its uncertainty.

    Regions: A = score and isolation pass (signal region), B = score pass / iso fail,
    C = score fail / iso pass, D = both fail; ``N`` are weighted yields (see
    :func:`abcd`, which also takes explicit fail regions).  The uncertainty
    propagates independent per-region errors ``σ² = Σ w²`` (Poisson when
    unweighted): ``σ = (1 + nc) sqrt(Σ_R σ_R² / N_R²)``.  Returns ``(nan, nan)`` if
    any region is empty.

    Examples
    --------
    >>> sp = [1, 1, 1, 1, 0, 0, 0, 0]
    >>> ip = [1, 1, 0, 0, 1, 1, 0, 0]
    >>> abcd_nonclosure(sp, ip)[0]
    0.0
    """
    r = abcd(score_pass, iso_pass, weights, id_fail=score_fail, iso_fail=iso_fail)
    return float(r.nonclosure), float(r.r_bkg_err)


def abcd_signal_yield(
    yields: Any,
    *,
    leakage: Any = (0.0, 0.0, 0.0),
    r_bkg: float = 1.0,
) -> float:
    """Signal yield in region A of a mixed sample with signal leakage (ATLAS 2D sideband).

    Solves ``N_A^sig = N_A - R_bkg (N_B - c_B N_A^sig)(N_C - c_C N_A^sig) /
    (N_D - c_D N_A^sig)`` for ``N_A^sig``, with ``yields = (N_A, N_B, N_C, N_D)``
    observed, ``leakage = (c_B, c_C, c_D)`` the signal fractions ``N_X^sig /
    N_A^sig`` taken from signal MC, and ``r_bkg`` the background correlation
    factor (1 for independent axes).  Returns the root that reduces to
    ``N_A - R_bkg N_B N_C / N_D`` without leakage; NaN if there is none.

    Examples
    --------
    >>> abcd_signal_yield((100.0, 20.0, 30.0, 60.0))
    90.0
    >>> # 100 signal in A leaking 5 %, 10 %, 1 % into B, C, D on top of a 10/20/30/60 background
    >>> round(abcd_signal_yield((110.0, 25.0, 40.0, 61.0), leakage=(0.05, 0.1, 0.01)), 6)
    100.0
    """
    n = _arr(yields, "yields")
    c = _arr(leakage, "leakage")
    if n.shape != (4,) or c.shape != (3,):
        raise ConfigError("yields needs 4 values (A, B, C, D) and leakage 3 (c_B, c_C, c_D)")
    if (n < 0).any() or (c < 0).any() or not r_bkg > 0:
        raise ConfigError("yields and leakage must be >= 0 and r_bkg > 0")
    na, nb, nc, nd = n
    cb, cc, cd = c
    a = cd - r_bkg * cb * cc
    b = -(na * cd + nd) + r_bkg * (nb * cc + nc * cb)
    k = na * nd - r_bkg * nb * nc
    disc = b * b - 4.0 * a * k
    if disc < 0:
        return float("nan")
    q = -0.5 * (b + np.copysign(np.sqrt(disc), b))
    return float(k / q) if q != 0 else float("nan")


# ---------------------------------------------------------------------- regression
def _ratio(e_pred: Any, e_true: Any, weights: Any) -> tuple[np.ndarray, np.ndarray]:
    p, t = _arr(e_pred, "e_pred"), _arr(e_true, "e_true")
    _same_length(e_pred=p, e_true=t)
    if (t == 0).any():
        raise ConfigError(f"e_true contains {int((t == 0).sum())} zero value(s)")
    return p / t, _weights(weights, p.shape[0])


def response(e_pred: Any, e_true: Any, weights: Any = None) -> float:
    """Energy response: the (weighted) median of ``E_pred / E_true``.

    Examples
    --------
    >>> response([9.0, 10.0, 12.0], [10.0, 10.0, 10.0])
    1.0
    """
    r, w = _ratio(e_pred, e_true, weights)
    return float(weighted_quantile(r, 0.5, w))


def iqr_resolution(
    e_pred: Any, e_true: Any, *, relative: bool = True, weights: Any = None
) -> float:
    """Resolution: half the 25–75 % interquartile range of ``E_pred / E_true``.

    Divided by the median (:func:`response`) if ``relative``.  For a Gaussian the
    IQR/2 is 0.674 σ.

    Examples
    --------
    >>> round(iqr_resolution([8.0, 9.0, 11.0, 12.0], [10.0] * 4, relative=False), 6)
    0.15
    """
    r, w = _ratio(e_pred, e_true, weights)
    q25, q50, q75 = weighted_quantile(r, [0.25, 0.5, 0.75], w)
    half = 0.5 * float(q75 - q25)
    return half / float(q50) if relative else half


def binned_response(
    e_pred: Any, e_true: Any, var: Any, bins: Any, weights: Any = None
) -> pd.DataFrame:
    """Response and relative IQR resolution in bins of ``var``.

    Columns: ``low, high, center, n, n_eff, response, response_err, resolution,
    resolution_err``.  Uncertainties are bootstrap-free Gaussian approximations
    with robust ``σ = IQR / 1.349``: ``1.2533 σ / sqrt(n_eff)`` for the median and
    ``1.1664 · resolution / sqrt(n_eff)`` for the IQR/2 resolution.  Empty bins
    give NaN.  ``bins`` are edges (entries outside are ignored).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.full(6, 10.0)
    >>> df = binned_response(t * [0.9, 1, 1.1, 0.95, 1, 1.05], t, [1, 1, 1, 3, 3, 3], [0, 2, 4])
    >>> df["n"].tolist()
    [3, 3]
    """
    r, w = _ratio(e_pred, e_true, weights)
    x = _arr(var, "var")
    _same_length(e_pred=r, var=x)
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or (np.diff(edges) <= 0).any():
        raise ConfigError("bins must be at least two strictly increasing edges")
    idx = np.searchsorted(edges, x, side="right") - 1
    idx[x == edges[-1]] = edges.size - 2  # last bin closed on the right, as numpy
    rows = []
    for i in np.arange(edges.size - 1):
        sel = (idx == i) & (w > 0)
        row = {"low": edges[i], "high": edges[i + 1], "center": 0.5 * (edges[i] + edges[i + 1])}
        row["n"] = int(sel.sum())
        row["n_eff"] = _n_eff(w[sel])
        if row["n"] == 0:
            row.update(
                dict.fromkeys(["response", "response_err", "resolution", "resolution_err"], np.nan)
            )
        else:
            q25, q50, q75 = weighted_quantile(r[sel], [0.25, 0.5, 0.75], w[sel])
            sigma = float(q75 - q25) / 1.349
            res = 0.5 * float(q75 - q25) / float(q50)
            row["response"] = float(q50)
            row["response_err"] = 1.2533 * sigma / np.sqrt(row["n_eff"])
            row["resolution"] = res
            row["resolution_err"] = 1.1664 * res / np.sqrt(row["n_eff"])
        rows.append(row)
    return pd.DataFrame(rows)

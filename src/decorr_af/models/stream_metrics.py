"""Evaluation figures accumulated over a stream of batches (bounded memory).

* :class:`HistogramAUC` - the weighted ROC AUC from per-class score histograms:
  pairs of a signal and a background event in different bins are ordered exactly,
  pairs sharing a bin count one half (as tied scores do in the exact AUC). The
  error is therefore at most half the weighted fraction of pairs sharing a bin,
  reported by :meth:`HistogramAUC.max_error` (scores outside ``[low, high]`` fall
  into the edge bins and are covered by the bound). Memory: ``2 × bins`` floats.
* :class:`SubsampledDCor2` - dCor² estimated on ``groups`` independent random
  subsamples of at most ``rows`` rows each (priority sampling over the stream),
  reported as their mean with the standard error of that mean. For ≥ 10⁷ rows the
  exact O(N log N) kernel of :func:`~decorr_af.decorrelation.distance_correlation`
  stays an option (three 1-D columns, ~240 MB for 10⁷ rows); this estimator keeps
  memory fixed and says how uncertain the figure is.
* :class:`ResponseHistogram` - the energy response (median of ``E_pred/E_true``)
  and relative IQR resolution per bin of a variable, as
  :func:`decorr_af.metrics.binned_response`, from fine weighted histograms of the
  ratio: every quantile is within one ratio-bin width of the exact weighted
  quantile (ratios outside ``[low, high]`` count in the edge bins).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> y = rng.random(20000) < 0.5; s = rng.normal(y.astype(float), 1.0)
>>> auc = HistogramAUC(low=-6.0, high=7.0)
>>> for part in np.array_split(np.arange(20000), 4):
...     auc.update(s[part], y[part])
>>> from decorr_af.metrics import auc as exact_auc
>>> bool(abs(auc.value() - exact_auc(y, s)) <= auc.max_error() < 1e-3)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError

__all__ = ["HistogramAUC", "ResponseHistogram", "SubsampledDCor2", "histogram_jsd"]


@dataclass
class HistogramAUC:
    """Streaming weighted ROC AUC from ``bins`` equal-width score bins on ``[low, high]``."""

    bins: int = 4096
    low: float = 0.0
    high: float = 1.0
    _sig: np.ndarray = field(init=False, repr=False)
    _bkg: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if int(self.bins) < 2 or not float(self.high) > float(self.low):
            msg = f"HistogramAUC needs bins >= 2 and high > low, got {self.bins}, [{self.low}, {self.high}]"  # fmt: skip
            raise ConfigError(msg)
        self._sig = np.zeros(int(self.bins))
        self._bkg = np.zeros(int(self.bins))

    def update(self, score: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> None:
        """Add a batch: scores, 0/1 labels and optional weights."""
        s = np.asarray(score, np.float64)
        w = np.ones(len(s)) if weight is None else np.asarray(weight, np.float64)
        pos = (s - float(self.low)) / (float(self.high) - float(self.low)) * int(self.bins)
        idx = np.clip(np.floor(pos), 0, int(self.bins) - 1).astype(np.int64)
        sig = np.asarray(y) > 0.5
        self._sig += np.bincount(idx[sig], w[sig], minlength=int(self.bins))
        self._bkg += np.bincount(idx[~sig], w[~sig], minlength=int(self.bins))

    def value(self) -> float:
        """AUC = P(score_signal > score_background) + ½ P(same bin)."""
        S, B = self._sig.sum(), self._bkg.sum()
        if S <= 0 or B <= 0:
            return float("nan")
        below = np.cumsum(self._bkg) - self._bkg  # background weight in lower bins
        return float(((self._sig * below).sum() + 0.5 * (self._sig * self._bkg).sum()) / (S * B))

    def max_error(self) -> float:
        """Upper bound of ``|value() - exact AUC|`` (half the same-bin pair fraction)."""
        S, B = self._sig.sum(), self._bkg.sum()
        if S <= 0 or B <= 0:
            return float("nan")
        return float(0.5 * (self._sig * self._bkg).sum() / (S * B))

    @property
    def width(self) -> float:
        """Bin width (the resolution of :meth:`quantile`)."""
        return (float(self.high) - float(self.low)) / int(self.bins)

    def quantile(self, q: float, *, signal: bool) -> float:
        """Weighted ``q``-quantile of the signal (or background) scores, within a bin width.

        The cumulative histogram is inverted with linear interpolation inside the
        bin where it crosses ``q`` (scores uniform within a bin), so the value is
        within one bin width of the exact weighted quantile whenever no score fell
        outside ``[low, high]`` (those are counted in the edge bins).

        Examples
        --------
        >>> h = HistogramAUC(bins=1000)
        >>> s = np.linspace(0.0, 1.0, 10001); h.update(s, np.ones_like(s))
        >>> bool(abs(h.quantile(0.3, signal=True) - 0.3) <= h.width)
        True
        """
        return _hist_quantile(self._sig if signal else self._bkg, float(self.low), self.width, q)


def _hist_quantile(h: np.ndarray, low: float, width: float, q: float) -> float:
    """Inverse of the cumulative histogram ``h`` (equal bins from ``low``), linear in a bin."""
    total = float(h.sum())
    if total <= 0 or not 0.0 <= float(q) <= 1.0:
        return float("nan")
    c = np.concatenate([[0.0], np.cumsum(h)]) / total
    j = int(np.clip(np.searchsorted(c, float(q), side="left"), 1, len(h)))
    lo, hi = c[j - 1], c[j]
    frac = (float(q) - lo) / (hi - lo) if hi > lo else 0.5
    return low + (j - 1 + min(max(frac, 0.0), 1.0)) * width


@dataclass
class SubsampledDCor2:
    """dCor² on ``groups`` random subsamples of ``rows`` rows each: mean ± standard error.

    Every streamed row gets a random group and a random priority; each group keeps
    its ``rows`` lowest-priority rows (a uniform sample without replacement).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=20000); z = x + rng.normal(size=20000)
    >>> est = SubsampledDCor2(rows=2000, groups=5, seed=0)
    >>> est.update(x[:12000], z[:12000]); est.update(x[12000:], z[12000:])
    >>> value, err = est.value()
    >>> from decorr_af.decorrelation import distance_correlation
    >>> exact = distance_correlation(x, z, squared=True)
    >>> bool(abs(value - exact) < 4 * err + 0.01), bool(err > 0)
    (True, True)
    """

    rows: int = 100_000
    groups: int = 5
    seed: int = 0
    _rng: np.random.Generator = field(init=False, repr=False)
    _parts: list[dict[str, np.ndarray]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if int(self.rows) < 3 or int(self.groups) < 2:
            msg = f"SubsampledDCor2 needs rows >= 3 and groups >= 2, got {self.rows}, {self.groups}"
            raise ConfigError(msg)
        self._rng = np.random.default_rng(int(self.seed))
        self._parts = [{} for _ in range(int(self.groups))]

    def update(self, score: np.ndarray, protected: np.ndarray, weight: np.ndarray | None = None) -> None:  # fmt: skip
        """Add a batch of scores, protected values and optional weights."""
        s = np.asarray(score, np.float64)
        new = {
            "s": s,
            "z": np.asarray(protected, np.float64).reshape(len(s)),
            "w": np.ones(len(s)) if weight is None else np.asarray(weight, np.float64),
            "key": self._rng.random(len(s)),
        }
        group = self._rng.integers(int(self.groups), size=len(s))
        for g, part in enumerate(self._parts):
            sel = group == g
            merged = {k: np.concatenate([part[k], v[sel]]) if part else v[sel] for k, v in new.items()}  # fmt: skip
            if len(merged["key"]) > int(self.rows):
                keep = np.argpartition(merged["key"], int(self.rows) - 1)[: int(self.rows)]
                merged = {k: v[keep] for k, v in merged.items()}
            self._parts[g] = merged

    def value(self) -> tuple[float, float]:
        """``(mean dCor² over the groups, standard error of the mean)``."""
        from decorr_af.decorrelation import distance_correlation

        vals = [
            float(distance_correlation(p["s"], p["z"], weights=p["w"], squared=True))
            for p in self._parts
            if p and len(p["s"]) >= 3
        ]
        if len(vals) < 2:
            return float("nan"), float("nan")
        return float(np.mean(vals)), float(np.std(vals, ddof=1) / math.sqrt(len(vals)))


def histogram_jsd(h_pass: np.ndarray, h_fail: np.ndarray) -> float:
    """Base-2 Jensen-Shannon divergence of two histograms (each normalised to unit sum).

    The sculpting JSD of :func:`decorr_af.metrics.sculpting_jsd` from histograms
    filled chunk by chunk; NaN when either is empty.

    Examples
    --------
    >>> histogram_jsd(np.array([1.0, 0.0]), np.array([0.0, 2.0]))
    1.0
    >>> histogram_jsd(np.array([1.0, 3.0]), np.array([2.0, 6.0]))
    0.0
    """
    p, q = np.asarray(h_pass, np.float64), np.asarray(h_fail, np.float64)
    sp, sf = p.sum(), q.sum()
    if not (sp > 0 and sf > 0):
        return float("nan")
    p, q = p / sp, q / sf
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float((a[nz] * np.log2(a[nz] / m[nz])).sum())

    return float(max(0.0, 0.5 * kl(p) + 0.5 * kl(q)))


@dataclass
class ResponseHistogram:
    """Streaming :func:`~decorr_af.metrics.binned_response`: response and IQR resolution.

    Per bin of ``edges`` (of a variable, e.g. |η|), a weighted histogram of the ratio
    ``E_pred/E_true`` in ``bins`` equal bins on ``[low, high]``, plus ``n`` and the
    Kish ``n_eff``. :meth:`table` gives the columns of ``binned_response`` with the
    same error formulas; its quantiles are within one ratio-bin width
    (``(high - low) / bins``, 5e-5 by default) of the exact weighted quantiles.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> r = rng.normal(1.0, 0.05, 40000); x = rng.uniform(0, 2, 40000)
    >>> h = ResponseHistogram(edges=(0.0, 1.0, 2.0))
    >>> for part in np.array_split(np.arange(40000), 3):
    ...     h.update(r[part], x[part])
    >>> from decorr_af.metrics import binned_response
    >>> exact = binned_response(r, np.ones_like(r), x, (0.0, 1.0, 2.0))
    >>> bool(np.allclose(h.table()["response"], exact["response"], atol=2 * h.width))
    True
    """

    edges: tuple[float, ...] = (-1.0, 1.0)
    bins: int = 20_000
    low: float = 0.5
    high: float = 1.5
    _h: np.ndarray = field(init=False, repr=False)
    _n: np.ndarray = field(init=False, repr=False)
    _w2: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        e = np.asarray(self.edges, np.float64)
        if e.ndim != 1 or e.size < 2 or (np.diff(e) <= 0).any():
            msg = f"ResponseHistogram needs >= 2 increasing edges, got {self.edges}"
            raise ConfigError(msg)
        if int(self.bins) < 2 or not float(self.high) > float(self.low):
            msg = f"ResponseHistogram needs bins >= 2 and high > low, got {self.bins}, [{self.low}, {self.high}]"  # fmt: skip
            raise ConfigError(msg)
        self.edges = tuple(float(v) for v in e)
        k = e.size - 1
        self._h = np.zeros((k, int(self.bins)))
        self._n = np.zeros(k, np.int64)
        self._w2 = np.zeros(k)

    @property
    def width(self) -> float:
        """Ratio bin width (the resolution of the quantiles)."""
        return (float(self.high) - float(self.low)) / int(self.bins)

    def update(self, ratio: np.ndarray, var: np.ndarray | None = None, weight: np.ndarray | None = None) -> None:  # fmt: skip
        """Add ratios ``E_pred/E_true``, the binning variable (default: first bin) and weights."""
        r = np.asarray(ratio, np.float64)
        w = np.ones(len(r)) if weight is None else np.asarray(weight, np.float64)
        e = np.asarray(self.edges)
        if var is None:
            idx = np.zeros(len(r), np.int64)
        else:
            x = np.asarray(var, np.float64)
            idx = np.searchsorted(e, x, side="right") - 1
            idx[x == e[-1]] = e.size - 2  # last bin closed on the right, as numpy
        ok = (idx >= 0) & (idx < e.size - 1) & (w > 0) & np.isfinite(r)
        r, w, idx = r[ok], w[ok], idx[ok]
        pos = np.floor((r - float(self.low)) / self.width)
        rb = np.clip(pos, 0, int(self.bins) - 1).astype(np.int64)
        flat = np.bincount(idx * int(self.bins) + rb, w, minlength=self._h.size)
        self._h += flat.reshape(self._h.shape)
        self._n += np.bincount(idx, minlength=len(self._n))
        self._w2 += np.bincount(idx, w * w, minlength=len(self._w2))

    def table(self) -> Any:
        """pandas table with the columns of :func:`~decorr_af.metrics.binned_response`."""
        import pandas as pd

        rows = []
        for i in range(len(self._n)):
            lo, hi = self.edges[i], self.edges[i + 1]
            total = float(self._h[i].sum())
            n_eff = total**2 / self._w2[i] if self._w2[i] > 0 else 0.0
            row = {"low": lo, "high": hi, "center": 0.5 * (lo + hi), "n": int(self._n[i]),
                   "n_eff": n_eff}  # fmt: skip
            if self._n[i] == 0:
                row.update(dict.fromkeys(["response", "response_err", "resolution", "resolution_err"], np.nan))  # fmt: skip
            else:
                q25, q50, q75 = (_hist_quantile(self._h[i], float(self.low), self.width, q) for q in (0.25, 0.5, 0.75))  # fmt: skip
                sigma = (q75 - q25) / 1.349
                res = 0.5 * (q75 - q25) / q50
                row["response"] = q50
                row["response_err"] = 1.2533 * sigma / math.sqrt(n_eff)
                row["resolution"] = res
                row["resolution_err"] = 1.1664 * res / math.sqrt(n_eff)
            rows.append(row)
        return pd.DataFrame(rows)

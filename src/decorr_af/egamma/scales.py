"""Energy-scale factors α_i and constant-term corrections c′_i from Z→ee.

Conventions (as in the ATLAS Z→ee calibration): ``E_data = E_MC (1 + α_i)`` for an
electron in |η| bin *i*, and the MC relative resolution is smeared by ``c′_i``,
``(σ/E)_data² = (σ/E)_MC² + c′_i²``. A pair with electrons in bins *i* and *j* then has

* ``m_data / m_MC = sqrt((1+α_i)(1+α_j)) ≈ 1 + (α_i + α_j)/2``,
* ``(σ_m/m)_data² − (σ_m/m)_MC² = (c′_i² + c′_j²) / 4``.

Method ("η_i, η_j categories"): every pair category (*i* ≤ *j*) is fitted with the same
line-shape model (:func:`decorr_af.egamma.lineshape.fit_line_shape`) in MC and data (the
data fit takes the Crystal-Ball tail from the MC fit); the per-category peak ratio and
width difference are then solved for the per-bin α_i and c′_i² by weighted least
squares, which uses the off-diagonal categories too (more pairs than requiring both
electrons in one bin). Categories with fewer than ``min_pairs`` pairs on either side
are skipped. The statistical uncertainties come from the fit (HESSE) and are
propagated through the least-squares solution.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from decorr_af.egamma.lineshape import LineShapeFit, fit_line_shape
from decorr_af.errors import ConfigError

__all__ = ["ScaleResult", "extract_scales", "pair_categories", "signed_sqrt"]


def pair_categories(eta: Any, edges: Any) -> tuple[np.ndarray, np.ndarray]:
    """|η| bin of the two electrons of each pair, ordered ``i <= j`` (−1: outside).

    Parameters
    ----------
    eta
        ``(n_pairs, 2)`` η of the two electrons.
    edges
        Increasing |η| bin edges.

    Examples
    --------
    >>> i, j = pair_categories([[0.3, -1.9], [2.6, 0.1]], [0.0, 1.0, 2.47])
    >>> i.tolist(), j.tolist()
    ([0, -1], [1, -1])
    """
    eta = np.abs(np.asarray(eta, dtype=np.float64))
    edges = np.asarray(edges, dtype=np.float64)
    if eta.ndim != 2 or eta.shape[1] != 2:
        raise ConfigError(f"parameter 'eta' must have shape (n_pairs, 2), got {eta.shape}")
    if len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ConfigError("parameter 'eta_edges' must be increasing with >= 2 edges")
    b = np.searchsorted(edges, eta, side="right") - 1
    b[(eta < edges[0]) | (eta >= edges[-1])] = -1
    i, j = b.min(axis=1), b.max(axis=1)
    bad = i < 0
    i[bad], j[bad] = -1, -1
    return i, j


def signed_sqrt(c2: Any, c2_err: Any) -> tuple[np.ndarray, np.ndarray]:
    """``c′ = sign(c′²)·sqrt(|c′²|)`` and its uncertainty.

    Linear propagation ``δc′²/(2|c′|)`` when ``|c′²|`` exceeds its error, otherwise
    ``sqrt(δc′²)`` (c′ compatible with zero: the linearisation breaks down).

    Examples
    --------
    >>> c, e = signed_sqrt([1e-4, -4e-6], [1e-5, 1e-5])
    >>> np.round(c, 4).tolist(), np.round(e, 4).tolist()
    ([0.01, -0.002], [0.0005, 0.0032])
    """
    c2, c2_err = np.asarray(c2, np.float64), np.asarray(c2_err, np.float64)
    c = np.sign(c2) * np.sqrt(np.abs(c2))
    with np.errstate(divide="ignore", invalid="ignore"):
        lin = c2_err / (2 * np.abs(c))
    return c, np.where(np.abs(c2) > c2_err, lin, np.sqrt(c2_err))


@dataclasses.dataclass(frozen=True)
class ScaleResult:
    """Per-|η|-bin energy scales and resolution corrections (see :func:`extract_scales`).

    ``alpha``/``c2``/``c`` are NaN in bins that no usable category constrains;
    ``categories`` has one dict per fitted (i, j) category; ``alpha_incl`` and
    ``c_incl`` come from one fit of all pairs (``c_incl²`` = 2 Δ(σ_m/m)²).
    """

    eta_edges: np.ndarray
    alpha: np.ndarray
    alpha_err: np.ndarray
    c2: np.ndarray
    c2_err: np.ndarray
    c: np.ndarray
    c_err: np.ndarray
    chi2_alpha: float
    chi2_c2: float
    ndf: int
    alpha_incl: float
    alpha_incl_err: float
    c_incl: float
    c_incl_err: float
    categories: list[dict[str, float]]
    fits: dict[str, LineShapeFit] = dataclasses.field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no fit objects)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "fits":
                continue
            v = getattr(self, f.name)
            out[f.name] = v.tolist() if isinstance(v, np.ndarray) else v
        return out


def _solve(
    i: np.ndarray, j: np.ndarray, y: np.ndarray, err: np.ndarray, n: int, coef: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted least squares of ``y_k = coef (x_i + x_j)``; NaN where unconstrained."""
    a = np.zeros((len(y), n))
    np.add.at(a, (np.arange(len(y)), i), coef)
    np.add.at(a, (np.arange(len(y)), j), coef)
    used = np.flatnonzero(a.any(axis=0))
    x, sd = np.full(n, np.nan), np.full(n, np.nan)
    if len(y) == 0:
        return x, sd, float("nan")
    aw = a[:, used] / err[:, None]
    cov = np.linalg.pinv(aw.T @ aw)
    sol = cov @ (aw.T @ (y / err))
    x[used], sd[used] = sol, np.sqrt(np.clip(np.diag(cov), 0, None))
    chi2 = float(np.sum(((a[:, used] @ sol - y) / err) ** 2))
    return x, sd, chi2


def _pair_fits(
    m_d: np.ndarray, w_d: np.ndarray, m_m: np.ndarray, w_m: np.ndarray, kw: dict[str, Any]
) -> tuple[LineShapeFit, LineShapeFit]:
    f_mc = fit_line_shape(m_m, w_m, **kw)
    f_da = fit_line_shape(m_d, w_d, tails=(f_mc.alpha_cb, f_mc.n_cb), **kw)
    return f_mc, f_da


def _ratios(f_mc: LineShapeFit, f_da: LineShapeFit) -> dict[str, float]:
    alpha = f_da.peak / f_mc.peak - 1.0
    a_err = float(np.hypot(f_da.peak_err / f_mc.peak, f_da.peak * f_mc.peak_err / f_mc.peak**2))
    delta = f_da.rel_width**2 - f_mc.rel_width**2
    d_err = float(np.hypot(2 * f_da.rel_width * f_da.rel_width_err,
                           2 * f_mc.rel_width * f_mc.rel_width_err))  # fmt: skip
    return {"alpha": alpha, "alpha_err": a_err, "delta": delta, "delta_err": d_err,
            "peak_mc": f_mc.peak, "peak_data": f_da.peak, "sigma_mc": f_mc.sigma,
            "sigma_data": f_da.sigma, "rel_width_mc": f_mc.rel_width,
            "rel_width_data": f_da.rel_width, "valid": float(f_mc.valid and f_da.valid)}  # fmt: skip


def extract_scales(
    m_data: Any,
    eta_data: Any,
    m_mc: Any,
    eta_mc: Any,
    *,
    eta_edges: Any = (0.0, 0.8, 1.37, 1.52, 2.01, 2.47),
    w_data: Any = None,
    w_mc: Any = None,
    window: tuple[float, float] = (80.0, 100.0),
    bins: int = 60,
    min_pairs: int = 200,
    keep_fits: bool = False,
) -> ScaleResult:
    """Energy-scale factors α_i and constant terms c′_i per |η| bin from Z→ee pairs.

    Parameters
    ----------
    m_data, m_mc
        Pair masses [GeV] in data and MC (after whatever correction is studied).
    eta_data, eta_mc
        ``(n_pairs, 2)`` η of the two electrons.
    eta_edges
        |η| bins of the scale factors.
    w_data, w_mc
        Pair weights (default 1).
    window, bins
        Line-shape fit range and binning (:func:`fit_line_shape`).
    min_pairs
        Minimum number of pairs in the window, in data and MC, to fit a category.
    keep_fits
        Keep every :class:`LineShapeFit` in ``fits`` (keys ``"mc_i_j"``, ``"data_i_j"``,
        ``"mc_incl"``, ``"data_incl"``).

    Returns
    -------
    ScaleResult

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> def toy(n, scale, smear):
    ...     eta = rng.uniform(-2.4, 2.4, (n, 2))
    ...     m = 91.19 + 1.25 * rng.standard_cauchy(n)
    ...     e = np.exp(rng.normal(0, 0.015, (n, 2))) * (1 + smear * rng.normal(size=(n, 2)))
    ...     return m * np.sqrt(e.prod(axis=1)) * scale, eta
    >>> m_mc, eta_mc = toy(60000, 1.0, 0.0)
    >>> m_da, eta_da = toy(60000, 1.01, 0.01)
    >>> res = extract_scales(m_da, eta_da, m_mc, eta_mc, eta_edges=(0, 1.2, 2.4))
    >>> bool(np.all(np.abs(res.alpha - 0.01) < 4 * res.alpha_err + 1e-3))
    True
    """
    m_d, m_m = np.asarray(m_data, np.float64), np.asarray(m_mc, np.float64)
    w_d = np.ones_like(m_d) if w_data is None else np.asarray(w_data, np.float64)
    w_m = np.ones_like(m_m) if w_mc is None else np.asarray(w_mc, np.float64)
    for name, m, other in (("eta_data", m_d, eta_data), ("eta_mc", m_m, eta_mc)):
        if len(np.asarray(other)) != len(m):
            raise ConfigError(
                f"parameter '{name}': {len(np.asarray(other))} pairs != {len(m)} masses"
            )
    edges = np.asarray(eta_edges, np.float64)
    i_d, j_d = pair_categories(eta_data, edges)
    i_m, j_m = pair_categories(eta_mc, edges)
    kw = {"window": window, "bins": bins}
    in_d = (m_d >= window[0]) & (m_d <= window[1])
    in_m = (m_m >= window[0]) & (m_m <= window[1])
    fits: dict[str, LineShapeFit] = {}
    f_mc, f_da = _pair_fits(m_d[i_d >= 0], w_d[i_d >= 0], m_m[i_m >= 0], w_m[i_m >= 0], kw)
    incl = _ratios(f_mc, f_da)
    if keep_fits:
        fits["mc_incl"], fits["data_incl"] = f_mc, f_da
    cats = []
    nb = len(edges) - 1
    for i in range(nb):
        for j in range(i, nb):
            sd, sm = (i_d == i) & (j_d == j), (i_m == i) & (j_m == j)
            n_d, n_m = int((sd & in_d).sum()), int((sm & in_m).sum())
            if min(n_d, n_m) < max(min_pairs, 50):
                continue
            f_mc, f_da = _pair_fits(m_d[sd], w_d[sd], m_m[sm], w_m[sm], kw)
            if keep_fits:
                fits[f"mc_{i}_{j}"], fits[f"data_{i}_{j}"] = f_mc, f_da
            row = {"i": i, "j": j, "n_data": n_d, "n_mc": n_m, **_ratios(f_mc, f_da)}
            if row["valid"] and row["alpha_err"] > 0 and row["delta_err"] > 0:
                cats.append(row)
    ci = np.array([c["i"] for c in cats], dtype=int)
    cj = np.array([c["j"] for c in cats], dtype=int)

    def col(k: str) -> np.ndarray:
        return np.array([c[k] for c in cats], np.float64)

    alpha, alpha_err, chi2_a = _solve(ci, cj, col("alpha"), col("alpha_err"), nb, 0.5)
    c2, c2_err, chi2_c = _solve(ci, cj, col("delta"), col("delta_err"), nb, 0.25)
    c, c_err = signed_sqrt(c2, c2_err)
    c_in, c_in_err = signed_sqrt(2 * incl["delta"], 2 * incl["delta_err"])
    n_par = int(np.isfinite(alpha).sum())
    return ScaleResult(
        eta_edges=edges, alpha=alpha, alpha_err=alpha_err, c2=c2, c2_err=c2_err, c=c,
        c_err=c_err, chi2_alpha=chi2_a, chi2_c2=chi2_c, ndf=len(cats) - n_par,
        alpha_incl=incl["alpha"], alpha_incl_err=incl["alpha_err"], c_incl=float(c_in),
        c_incl_err=float(c_in_err), categories=cats, fits=fits,
    )  # fmt: skip

"""From a (decorrelated) ttH(γγ) classifier to the ttH(γγ) measurement and κ_t.

Called by :func:`decorr_af.workflows.tth.run` for each model when
``Config.measurement`` is true, on the test set (weights normalised to σ·ε·L):

1. **Split** the test set at random (seeded) into a *validation* half, where the
   category boundaries are chosen, and a *measurement* half, where shapes,
   yields and the fits are made; each half is scaled back to the full
   expected yield of every process (``mcChannelNumber``).
2. **Categories**: ``n_categories`` (2–4) score bins ``[c1, c2), …, [cn, 1]``;
   events below ``c1`` are dropped. The boundaries are signal-efficiency
   quantiles of the score (grid :data:`EFFICIENCY_GRID`) maximising the
   combined Asimov significance ``sqrt(Σ Z_A(s_i, b_i)²)`` in the window
   120–130 GeV (``b_i``: the category's background scaled by the inclusive
   background's window fraction), each category holding at least
   ``min_events`` signal and background MC events.
3. Per category: the **signal** m_γγ shape, a DSCB fitted to the signal MC
   (tails fixed to the fit of all selected signal when the category has fewer
   than ``tail_events`` signal MC events); the **continuum background**
   function chosen with the spurious-signal test on the category's background
   MC template (:func:`decorr_af.stats.spurious.choose_function`, threshold
   ``max_fraction`` of the expected signal uncertainty σ_s). The template is
   the background MC of the whole test set in the category (both halves: the
   highest statistics not used in training; the boundaries were chosen on the
   validation half's yields, not on its m_γγ shape); its fitted function is
   the background shape of the likelihood, the template's S_spur the
   spurious-signal uncertainty. With the toy's few, heavily weighted γγ / γ+jet
   MC events, S_spur is dominated by MC fluctuations (the relaxed criterion
   allows for them in the choice, not in the assigned value); the **resonant
   background** (non-ttH Higgs): the toy has none, a placeholder yield
   ``resonant_yield`` (default 0) per category with the signal shape.
4. A **pyhf likelihood** over the categories (:class:`decorr_af.stats.Measurement`,
   ``myy_bins`` bins of m_γγ, spurious signal as nuisance parameter):
   Asimov expected significance, expected 68 % profile interval of μ_ttH and
   its image in κ_t (κ_W = 1, 68 % and 95 %,
   :func:`decorr_af.stats.kappa.kappa_t_interval`), and a fit of toy "data":
   a Poisson draw (seeded) of the MC histograms of the measurement half
   (signal + background as simulated, so a sculpted background shows).

Metrics (model-prefixed by the caller): ``expected_significance``,
``mu_uncertainty``, ``measure_spurious_signal`` (Σ of the categories' |S_spur|,
events; ``spurious_signal`` is already the m_γγ-window test of
:func:`decorr_af.workflows.tth.myy_fits`), ``spurious_over_sigma`` (largest
``S_spur/σ_s`` of the categories), ``kappa_t_lo``/``kappa_t_hi`` (expected 68 %
interval), ``kappa_t_lo95``/``kappa_t_hi95``, ``mu_data``/``mu_data_err`` (toy data
fit), ``kappa_t_data``, ``n_categories``. The summary (JSON-able) holds the
boundaries, the function choices, the fitted m_γγ spectra per category and the
κ_t scan.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError
from decorr_af.stats import kappa as kp
from decorr_af.stats.likelihood import Category, Measurement
from decorr_af.stats.shapes import fit_dscb
from decorr_af.stats.spurious import choose_function, expected_signal_error, fit_background

__all__ = [
    "EFFICIENCY_GRID",
    "METRICS",
    "Settings",
    "check_n_categories",
    "choose_boundaries",
    "measure",
]

#: signal-efficiency quantiles of the score tried as category boundaries
EFFICIENCY_GRID = tuple(np.round(np.arange(0.05, 0.951, 0.05), 2))
#: metric names written per model
METRICS = (
    "expected_significance",
    "mu_uncertainty",
    "measure_spurious_signal",
    "spurious_over_sigma",
    "kappa_t_lo",
    "kappa_t_hi",
    "kappa_t_lo95",
    "kappa_t_hi95",
    "mu_data",
    "mu_data_err",
    "kappa_t_data",
    "n_categories",
)
_WINDOW = (120.0, 130.0)


def check_n_categories(n: int) -> None:
    """Raise :class:`ConfigError` unless 2 ≤ ``n`` ≤ 4.

    Examples
    --------
    >>> check_n_categories(3)
    """
    if not isinstance(n, (int, np.integer)) or not 2 <= n <= 4:
        raise ConfigError(f"parameter 'n_categories' must be an integer in [2, 4], got {n!r}")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Measurement settings (GeV)."""

    n_categories: int = 3
    myy_range: tuple[float, float] = (105.0, 160.0)
    myy_bins: int = 110
    validation_fraction: float = 0.5
    max_fraction: float = 0.2
    relaxed: bool = True
    candidates: tuple[str, ...] | None = None
    width: str = "resolved"
    kt_max: float = 3.0
    min_events: int = 20
    tail_events: int = 300
    resonant_yield: float = 0.0
    kt_grid: tuple[float, ...] = tuple(np.round(np.linspace(0.0, 2.0, 21), 2))

    def __post_init__(self) -> None:
        check_n_categories(self.n_categories)
        if not 0 < self.validation_fraction < 1:
            raise ConfigError(
                f"parameter 'validation_fraction' must be in (0, 1), got {self.validation_fraction}"
            )


def _nan_metrics(n_cat: int) -> dict[str, float]:
    out = dict.fromkeys(METRICS, float("nan"))
    out["n_categories"] = float(n_cat)
    return out


def _split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng([int(seed), 0x3EA5]).permutation(n)
    k = round(n * fraction)
    return np.sort(perm[:k]), np.sort(perm[k:])


def _rescale(w: np.ndarray, channel: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Weights of the subset ``idx`` scaled so each process keeps its full yield."""
    out = w[idx].copy()
    for c in np.unique(channel):
        full = w[channel == c].sum()
        part = channel[idx] == c
        if part.any() and out[part].sum() > 0:
            out[part] *= full / out[part].sum()
    return out


def _asimov_z(s: np.ndarray, b: np.ndarray) -> np.ndarray:
    s, b = np.maximum(s, 0.0), np.maximum(b, 1e-12)
    return np.sqrt(np.maximum(2 * ((s + b) * np.log1p(s / b) - s), 0.0))


def choose_boundaries(
    score: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    myy: np.ndarray,
    *,
    n_categories: int,
    min_events: int = 20,
    grid: Sequence[float] = EFFICIENCY_GRID,
) -> tuple[list[float], float]:
    """Score boundaries ``[c1, …, cn]`` maximising the combined window significance.

    Returns the boundaries (ascending; the categories are ``[c_i, c_{i+1})`` and
    ``[c_n, ∞)``) and the combined Z of the chosen set on these events.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.random(4000) < 0.3).astype(int)
    >>> score = np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0, 1)
    >>> myy = np.where(y == 1, rng.normal(125, 1.5, 4000), 105 + rng.exponential(30, 4000))
    >>> cuts, z = choose_boundaries(score, y, np.ones(4000), myy, n_categories=2)
    >>> len(cuts), cuts[0] < cuts[1], z > 0
    (2, True, True)
    """
    check_n_categories(n_categories)
    score, y, w, myy = (np.asarray(a) for a in (score, y, w, myy))
    sig, bkg = y == 1, y == 0
    if sig.sum() < min_events or bkg.sum() < min_events:
        raise ConfigError(
            f"choose_boundaries: too few MC events ({int(sig.sum())} signal, {int(bkg.sum())} background)"
        )
    # candidate cuts: efficiency quantiles of the (weighted) signal score
    order = np.argsort(score[sig])
    cum = np.cumsum(w[sig][order]) / w[sig].sum()
    cands = np.unique(
        [score[sig][order][min(np.searchsorted(cum, 1 - e), len(cum) - 1)] for e in grid]
    )
    in_win = (myy >= _WINDOW[0]) & (myy < _WINDOW[1])
    f_win = w[bkg & in_win].sum() / w[bkg].sum()
    # per slice between consecutive candidates: signal in window, background, raw counts
    slot = np.searchsorted(cands, score, side="right") - 1  # -1: below the lowest candidate
    k = len(cands)

    def per_slot(mask: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
        return np.bincount(
            slot[mask & (slot >= 0)],
            weights=None if weights is None else weights[mask & (slot >= 0)],
            minlength=k,
        )

    s_slot = per_slot(sig & in_win, w)
    b_slot = per_slot(bkg, w) * f_win
    ns_slot, nb_slot = per_slot(sig, None), per_slot(bkg, None)
    best, best_z = None, -1.0
    for combo in itertools.combinations(range(k), n_categories):
        bounds = [*combo, k]
        s = np.array([s_slot[a:b].sum() for a, b in itertools.pairwise(bounds)])
        b = np.array([b_slot[a:b].sum() for a, b in itertools.pairwise(bounds)])
        ns = np.array([ns_slot[a:b].sum() for a, b in itertools.pairwise(bounds)])
        nb = np.array([nb_slot[a:b].sum() for a, b in itertools.pairwise(bounds)])
        if ns.min() < min_events or nb.min() < min_events:
            continue
        z = float(np.sqrt(np.sum(_asimov_z(s, b) ** 2)))
        if z > best_z:
            best, best_z = combo, z
    if best is None:
        raise ConfigError(
            f"choose_boundaries: no {n_categories} categories with {min_events} signal and "
            "background MC events each"
        )
    return [float(cands[i]) for i in best], best_z


def _whist(x: np.ndarray, w: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.stack(
        [np.histogram(x, edges, weights=w)[0], np.histogram(x, edges, weights=w * w)[0]], axis=-1
    )


def _categories(
    score, y, w, myy, cuts: list[float], settings: Settings, template: tuple
) -> tuple[list[Category], list[dict[str, Any]], list[np.ndarray]]:
    lo, hi = settings.myy_range
    edges = np.linspace(lo, hi, settings.myy_bins + 1)
    upper = [*cuts[1:], np.inf]
    selected = score >= cuts[0]
    incl_shape, _, _ = fit_dscb(
        _whist(myy[selected & (y == 1)], w[selected & (y == 1)], edges), edges
    )
    cats, summaries, mc_hists = [], [], []
    for i, (a, b) in enumerate(zip(cuts, upper)):
        in_cat = (score >= a) & (score < b)
        sig, bkg = in_cat & (y == 1), in_cat & (y == 0)
        if sig.sum() < settings.min_events or bkg.sum() < settings.min_events:
            raise ConfigError(
                f"category {i}: too few measurement MC events ({int(sig.sum())} signal, "
                f"{int(bkg.sum())} background)"
            )
        h_sig, h_bkg = _whist(myy[sig], w[sig], edges), _whist(myy[bkg], w[bkg], edges)
        t_score, t_y, t_w, t_myy = template
        t_bkg = (t_score >= a) & (t_score < b) & (t_y == 0)
        h_tmpl = _whist(t_myy[t_bkg], t_w[t_bkg], edges)
        tails = incl_shape if sig.sum() < settings.tail_events else None
        shape, _, _ = fit_dscb(h_sig, edges, tails=tails)
        s_yield = float(w[sig].sum())
        b_exp = fit_background(h_tmpl, edges, "exponential")
        sigma_s = expected_signal_error(s_yield, shape, b_exp.nb * b_exp.fractions(edges), edges)
        choice = choose_function(
            h_tmpl,
            edges,
            shape,
            signal_error=sigma_s,
            candidates=settings.candidates,
            max_fraction=settings.max_fraction,
            relaxed=settings.relaxed,
        )
        b_fit = fit_background(h_tmpl, edges, choice.function)
        frac = shape.bin_fractions(edges)
        cat = Category(
            name=f"cat{i}",
            signal=s_yield * frac,
            background=b_fit.nb * b_fit.fractions(edges),
            signal_shape=shape,
            edges=edges,
            spurious=choice.spurious_signal,
            resonant=settings.resonant_yield * frac if settings.resonant_yield > 0 else None,
        )
        cats.append(cat)
        mc_hists.append(h_sig[:, 0] + h_bkg[:, 0])
        summaries.append(
            {
                "name": cat.name,
                "score_range": [float(a), float(b) if np.isfinite(b) else 1.0],
                "signal_yield": s_yield,
                "background_yield": float(w[bkg].sum()),
                "n_signal_mc": int(sig.sum()),
                "n_background_mc": int(bkg.sum()),
                "n_template_mc": int(t_bkg.sum()),
                "signal_shape": shape.to_dict(),
                "tails_fixed": tails is not None,
                "function": choice.to_dict(),
                "background_params": list(b_fit.params),
                "resonant_yield": float(settings.resonant_yield),
            }
        )
    return cats, summaries, mc_hists


def measure(
    score: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    myy: np.ndarray,
    channel: np.ndarray,
    *,
    settings: Settings | None = None,
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Categories, fits, μ and κ_t of one classifier on the test set.

    Parameters
    ----------
    score, y, w, myy, channel
        Test-set score (higher: more signal-like), label, weight (normalised to
        σ·ε·L), m_γγ (GeV) and ``mcChannelNumber``.
    settings
        :class:`Settings` (default values if None).
    seed
        Seeds the validation/measurement split and the toy data.

    Returns
    -------
    metrics, summary
        Metrics without model prefix (NaN when the events are too few: the summary's
        ``note`` says why) and the JSON-able summary.
    """
    settings = settings or Settings()
    score, y, w, myy, channel = (np.asarray(a) for a in (score, y, w, myy, channel))
    val, meas = _split(len(score), settings.validation_fraction, seed)
    w_val, w_meas = _rescale(w, channel, val), _rescale(w, channel, meas)
    try:
        cuts, z_val = choose_boundaries(
            score[val], y[val], w_val, myy[val],
            n_categories=settings.n_categories, min_events=settings.min_events,
        )  # fmt: skip
        cats, summaries, mc_hists = _categories(
            score[meas], y[meas], w_meas, myy[meas], cuts, settings, (score, y, w, myy)
        )
    except (ConfigError, ValueError) as err:
        return _nan_metrics(settings.n_categories), {"valid": False, "note": str(err)}
    import pyhf  # a core dependency, imported on use (slow to import)

    failed = pyhf.exceptions.FailedMinimization
    try:
        metrics, summary = _fit(cats, summaries, mc_hists, cuts, z_val, settings, seed)
    except (failed, ValueError, RuntimeError) as err:
        note = f"the likelihood fits failed: {err}"
        return _nan_metrics(settings.n_categories), {"valid": False, "note": note}
    return {k: float(v) for k, v in metrics.items()}, summary


def _fit(
    cats: list[Category],
    summaries: list[dict[str, Any]],
    mc_hists: list[np.ndarray],
    cuts: list[float],
    z_val: float,
    settings: Settings,
    seed: int,
) -> tuple[dict[str, float], dict[str, Any]]:
    """pyhf fits of the categories: Asimov Z, μ and κ_t intervals, toy data fit, κ_t scan."""
    model = Measurement(cats)
    asimov = model.asimov()
    z = model.significance(asimov)
    _, lo, hi = model.interval(asimov)
    _, lo95, hi95 = model.interval(asimov, level=0.95)
    kt68 = kp.kappa_t_interval(1.0, lo, hi, width=settings.width, kt_max=settings.kt_max)
    kt95 = kp.kappa_t_interval(1.0, lo95, hi95, width=settings.width, kt_max=settings.kt_max)
    rng = np.random.default_rng([int(seed), 0xDA7A])
    counts = [rng.poisson(np.clip(h, 0, None)) for h in mc_hists]
    data = model.with_observed(counts)
    mu_d, lo_d, hi_d = model.interval(data)
    kt_d = kp.kappa_t_interval(mu_d, lo_d, hi_d, width=settings.width, kt_max=settings.kt_max)
    fit_d = model.fit(data)
    by_sample = model.expected_by_sample(model.par_vector(fit_d["pars"]))
    grid = np.asarray(settings.kt_grid, dtype=np.float64)
    scan = kp.kappa_t_scan(model, asimov, grid, width=settings.width)
    sigma_s = [s["function"]["signal_error"] for s in summaries]
    metrics = {
        "expected_significance": z,
        "mu_uncertainty": 0.5 * (hi - lo),
        "measure_spurious_signal": float(sum(abs(c.spurious) for c in cats)),
        "spurious_over_sigma": float(max(abs(c.spurious) / e for c, e in zip(cats, sigma_s))),
        "kappa_t_lo": kt68[1],
        "kappa_t_hi": kt68[2],
        "kappa_t_lo95": kt95[1],
        "kappa_t_hi95": kt95[2],
        "mu_data": mu_d,
        "mu_data_err": 0.5 * (hi_d - lo_d),
        "kappa_t_data": kt_d[0],
        "n_categories": float(len(cats)),
    }
    for s, cat, c in zip(summaries, cats, counts):
        s["data"] = c.tolist()
        s["fit_signal"] = by_sample[cat.name]["signal"].tolist()
        s["fit_background"] = by_sample[cat.name]["background"].tolist()
        s["expected_signal"] = np.asarray(cat.signal).tolist()
        s["expected_background"] = np.asarray(cat.background).tolist()
    summary = {
        "valid": True,
        "boundaries": cuts,
        "validation_z": z_val,
        "edges": cats[0].edges.tolist(),
        "categories": summaries,
        "mu_interval": [lo, hi],
        "mu_interval95": [lo95, hi95],
        "data_fit": {"mu": mu_d, "interval": [lo_d, hi_d], "pars": fit_d["pars"]},
        "kappa_t_scan": {"kt": grid.tolist(), "q": scan.tolist(), "width": settings.width},
        "resonant_note": "the toy sample has no non-ttH Higgs process: resonant yield "
        f"{settings.resonant_yield} per category (placeholder)",
    }
    return metrics, summary

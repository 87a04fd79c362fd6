"""Figures of the ttH(γγ) workflow (:mod:`decorr_af.workflows.tth`).

Examples
--------
>>> from decorr_af.plot.tth import plot_background_myy, plot_significance_vs_strength
>>> plot_background_myy("runs/tth", "plain_mlp")                  # doctest: +SKIP
>>> plot_significance_vs_strength(["runs/p0", "runs/p1"])         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError
from decorr_af.plot._common import as_result, normalised, ratio
from decorr_af.plot.photon_id import _label
from decorr_af.plot.style import atlas_label, new_axes, ratio_axes

__all__ = [
    "METRIC_LABELS",
    "MyyArtists",
    "MyyFitArtists",
    "SignificanceArtists",
    "plot_background_myy",
    "plot_myy_fit",
    "plot_significance_vs_strength",
]


#: axis labels of the ttH metrics (plain strings and valid mathtext)
METRIC_LABELS = {
    "significance": "Expected significance",
    "inv_jsd": r"1 / JSD (background $m_{\gamma\gamma}$, pass vs fail)",
    "r50": "Background rejection at 50 % signal efficiency",
    "spurious_rel": r"Spurious signal / expected signal",
    "dcor": r"dCor(score, $m_{\gamma\gamma}$) on background",
}


@dataclass
class MyyArtists:
    """Artists of :func:`plot_background_myy`."""

    ax: Any
    rax: Any
    inclusive: Any = None
    selected: Any = None
    ratio: Any = None
    label: Any = None


@dataclass
class MyyFitArtists:
    """Artists of :func:`plot_myy_fit`."""

    ax: Any
    data: Any = None
    total: Any = None
    background: Any = None
    window: list[Any] = field(default_factory=list)
    label: Any = None


@dataclass
class SignificanceArtists:
    """Artists of :func:`plot_significance_vs_strength`."""

    ax: Any
    curve: Any = None
    references: dict[str, Any] = field(default_factory=dict)
    label: Any = None


def _myy_hist(res: Any, model: str) -> Any:
    h = res.hists.get("myy")
    if h is None:
        raise ConfigError("result has no histogram 'myy' (not a tth result?)")
    if model not in list(h.axes["model"]):
        raise ConfigError(f"model '{model}' not in the result (have: {list(h.axes['model'])})")
    return h


def plot_background_myy(
    result: Any,
    model: str = "plain_mlp",
    *,
    ax: Any = None,
    text: str = "Simulation Internal",
) -> MyyArtists:
    """Background m_γγ after the working-point cut overlaid on the inclusive shape.

    The background is every non-ttH process (γγ, tt̄γγ, γ+jet) with its
    physical weight. Both normalised to unit area; the ratio panel shows selected / inclusive
    (flat at one when the classifier does not sculpt m_γγ).
    """
    import mplhep

    res = as_result(result)
    h = _myy_hist(res, model)
    sel = h[{"model": model, "signal": 0, "passed": 1}]
    inc = h[{"model": model, "signal": 0, "passed": sum}]
    (vs, vars_), (vi, vari) = normalised(sel), normalised(inc)
    edges = sel.axes[0].edges
    ax, rax = ratio_axes(ax)
    art = MyyArtists(ax=ax, rax=rax)
    art.inclusive = mplhep.histplot(
        vi, edges, ax=ax, label="Background, inclusive", color="grey", histtype="fill", alpha=0.4
    )
    art.selected = mplhep.histplot(
        vs, edges, yerr=np.sqrt(vars_), ax=ax, label=f"Background, {_label(model)} selected"
    )
    r, rerr = ratio(vs, vi, vars_, vari)
    centres = 0.5 * (edges[1:] + edges[:-1])
    art.ratio = rax.errorbar(centres, r, yerr=rerr, fmt="o", color="k", ms=3)
    rax.axhline(1.0, color="grey", ls="--", lw=1)
    rax.set_ylim(0.5, 1.5)
    rax.set_ylabel("Sel. / incl.")
    rax.set_xlabel(r"$m_{\gamma\gamma}$ [GeV]")
    ax.set_ylabel("Normalised / GeV")
    ax.legend(loc="upper right")
    inv = res.metric(model, "inv_jsd", None)
    if inv is not None and np.isfinite(inv):
        ax.text(0.97, 0.65, f"1/JSD = {inv:.3g}", transform=ax.transAxes, ha="right")
    art.label = atlas_label(ax, text)
    return art


def plot_myy_fit(
    result: Any,
    model: str = "disco_mlp",
    *,
    ax: Any = None,
    text: str = "Simulation Internal",
) -> MyyFitArtists:
    """m_γγ of the selected (signal + background) MC with the S+B fit and its background.

    Events per GeV at the workflow's luminosity (the MC weights are normalised to
    σ·ε·L per process), with the m_γγ window of the significance.
    """
    from decorr_af.workflows._myyfit import background_cdf, signal_cdf

    res = as_result(result)
    h = _myy_hist(res, model)
    fits = res.info.get("fits", {})
    if model not in fits:
        raise ConfigError(f"result has no m_yy fit for model '{model}'")
    f = fits[model]
    if "nb" not in f:
        raise ConfigError(f"no m_yy fit for model '{model}': {f.get('note', 'fit failed')}")
    sel = h[{"model": model, "signal": sum, "passed": 1}]
    edges = sel.axes[0].edges
    widths = np.diff(edges)
    v, var = sel.values() / widths, sel.variances() / widths**2
    centres = 0.5 * (edges[1:] + edges[:-1])
    ax = new_axes(ax)
    art = MyyFitArtists(ax=ax)
    art.data = ax.errorbar(
        centres, v, yerr=np.sqrt(var), fmt="o", color="k", ms=3, label="Selected MC (S+B)"
    )
    fine = np.linspace(edges[0], edges[-1], 500)
    # expected events per GeV, evaluated on a fine grid
    step = fine[1] - fine[0]
    bkg = f["nb"] * np.gradient(background_cdf(fine, f["slope"]), step)
    sig = f["ns"] * np.gradient(signal_cdf(f["shape"], fine, f["signal_params"]), step)
    (art.total,) = ax.plot(fine, sig + bkg, color="tab:red", label="S+B fit")
    (art.background,) = ax.plot(fine, bkg, color="tab:blue", ls="--", label="Background component")
    for x in f["window"]:
        art.window.append(ax.axvline(x, color="grey", ls=":", lw=1))
    ax.set_xlabel(r"$m_{\gamma\gamma}$ [GeV]")
    lumi = res.config.get("luminosity_fb")
    ax.set_ylabel("Events / GeV" + (f" ({lumi:g} fb$^{{-1}}$)" if lumi else ""))
    ax.legend(loc="upper right")
    z = res.metric(model, "significance", None)
    if z is not None:
        ax.text(0.97, 0.6, f"{_label(model)}: Z = {z:.2f}", transform=ax.transAxes, ha="right")
    art.label = atlas_label(ax, text)
    return art


def plot_significance_vs_strength(
    results: Sequence[Any],
    *,
    model: str = "disco_mlp",
    metric: str = "significance",
    references: Sequence[str] = ("plain_mlp",),
    ax: Any = None,
    text: str = "Simulation Internal",
) -> SignificanceArtists:
    """``<model>.<metric>`` versus the decorrelation strength λ over a list of results.

    Results with the same λ (different seeds) are averaged; the error bar is the
    standard deviation over seeds. ``references`` (models not depending on λ) are
    drawn as horizontal bands (mean ± std over all results).
    """
    res = [as_result(r) for r in results]
    if not res:
        raise ConfigError("plot_significance_vs_strength needs at least one result")
    values = [(float(r.strength or 0.0), r.metric(model, metric, None)) for r in res]
    rows = [(x, v) for x, v in values if v is not None]
    if not rows:
        raise ConfigError(f"no result has the metric '{metric}' of model '{model}'")
    lam = np.array([x for x, _ in rows])
    val = np.array([v for _, v in rows])
    xs = np.unique(lam)
    mean = np.array([val[lam == x].mean() for x in xs])
    std = np.array([val[lam == x].std() for x in xs])
    ax = new_axes(ax)
    art = SignificanceArtists(ax=ax)
    art.curve = ax.errorbar(xs, mean, yerr=std, fmt="o-", label=_label(model))
    for ref in references:
        vals = np.array([v for r in res if (v := r.metric(ref, metric, None)) is not None])
        if vals.size:
            line = ax.axhline(vals.mean(), ls="--", color="grey", label=_label(ref))
            band = ax.axhspan(
                vals.mean() - vals.std(), vals.mean() + vals.std(), color="grey", alpha=0.2
            )
            art.references[ref] = (line, band)
    if np.all(xs > 0) and xs.size > 1 and xs.max() / xs.min() > 20:
        ax.set_xscale("log")
    ax.set_xlabel(r"Decorrelation strength $\lambda$")
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.legend(loc="best")
    art.label = atlas_label(ax, text)
    return art

"""Plots of the ttH(γγ) measurement: categories, fitted m_γγ, κ_t scan, μ uncertainty vs λ.

All take a :class:`~decorr_af.workflows.base.RunResult` of the tth workflow run with
``measurement=True`` (or its directory) and a model name; the summary is
``result.info["fits"]["<model>.measurement"]`` (:mod:`decorr_af.workflows.tth_measure`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError
from decorr_af.plot._common import as_result
from decorr_af.plot.style import atlas_label, new_axes

__all__ = [
    "MEASUREMENT_LABELS",
    "measurement_summary",
    "plot_categories",
    "plot_category_fits",
    "plot_kappa_t_scan",
    "plot_metric_vs_strength",
    "plot_unfolded",
]

#: axis labels of the measurement metrics
MEASUREMENT_LABELS = {
    "expected_significance": "Expected significance (Asimov, categories)",
    "mu_uncertainty": r"Expected uncertainty on $\mu_{t\bar{t}H}$",
    "measure_spurious_signal": "Spurious signal (events, sum over categories)",
    "spurious_over_sigma": r"max$_c$ $S_{spur}/\sigma_S$",
    "kappa_t_hi": r"$\kappa_t$ 68 % upper limit",
}


def measurement_summary(result: Any, model: str) -> dict[str, Any]:
    """The measurement summary of ``model`` (ConfigError if absent or invalid)."""
    res = as_result(result)
    key = f"{model}.measurement"
    fits = res.info.get("fits", {})
    if key not in fits:
        raise ConfigError(
            f"no measurement of '{model}' in the result (run tth with measurement=True)"
        )
    summary = fits[key]
    if not summary.get("valid", False):
        raise ConfigError(f"the measurement of '{model}' failed: {summary.get('note', '')}")
    return summary


def plot_categories(result: Any, model: str, *, ax: Any = None, bins: int = 40) -> Any:
    """Normalised signal and background score distributions with the category boundaries."""
    res = as_result(result)
    summary = measurement_summary(res, model)
    score = np.asarray(res.arrays[f"score_{model}"], dtype=np.float64)
    y, w = np.asarray(res.arrays["label"]), np.asarray(res.arrays["weight"], dtype=np.float64)
    ax = new_axes(ax)
    edges = np.linspace(score.min(), score.max(), bins + 1)
    for lab, name in ((1, r"$t\bar{t}H$"), (0, "Background")):
        sel = y == lab
        ax.hist(score[sel], edges, weights=w[sel], density=True, histtype="step", label=name)
    for i, cut in enumerate(summary["boundaries"]):
        ax.axvline(cut, color="k", ls="--", lw=1, label="Category boundaries" if i == 0 else None)
    ax.set_xlabel(f"Score ({model})")
    ax.set_ylabel("Normalised")
    ax.set_yscale("log")
    ax.legend(loc="best")
    atlas_label(ax, "Simulation Internal")
    return ax


def plot_category_fits(result: Any, model: str, *, axes: Sequence[Any] | None = None) -> list[Any]:
    """Toy data and the fitted signal + background m_γγ spectrum, one axes per category."""
    summary = measurement_summary(result, model)
    cats = summary["categories"]
    if axes is None:
        from decorr_af._compat import optional_import

        new_axes()  # style
        plt = optional_import("matplotlib.pyplot", "plot")
        fig, axs = plt.subplots(1, len(cats), figsize=(5.5 * len(cats), 4.5), squeeze=False)
        fig.subplots_adjust(wspace=0.35)
        axes = list(axs[0])
    if len(axes) != len(cats):
        raise ConfigError(f"plot_category_fits needs {len(cats)} axes, got {len(axes)}")
    edges = np.asarray(summary["edges"])
    centres = 0.5 * (edges[1:] + edges[:-1])
    for ax, cat in zip(axes, cats):
        data = np.asarray(cat["data"], dtype=np.float64)
        sig, bkg = np.asarray(cat["fit_signal"]), np.asarray(cat["fit_background"])
        ax.errorbar(centres, data, yerr=np.sqrt(data), fmt="ko", ms=2, label="Toy data")
        ax.stairs(sig + bkg, edges, color="tab:red", label="Fit S+B")
        ax.stairs(
            bkg,
            edges,
            color="tab:blue",
            ls="--",
            label=f"Background ({cat['function']['function']})",
        )
        lo, hi = cat["score_range"]
        ax.set_title(f"{cat['name']}: score in [{lo:.3f}, {hi:.3f})", fontsize=10)
        ax.set_xlabel(r"$m_{\gamma\gamma}$ [GeV]")
        ax.set_ylabel("Events / bin")
        ax.legend(loc="upper right", fontsize=8)
    return list(axes)


def plot_kappa_t_scan(result: Any, model: str, *, ax: Any = None) -> Any:
    """Expected profile ``−2Δln L(κ_t)`` (κ_W = 1) with the 68 % and 95 % levels."""
    summary = measurement_summary(result, model)
    scan = summary["kappa_t_scan"]
    ax = new_axes(ax)
    ax.plot(scan["kt"], scan["q"], "o-", label=f"Expected ({model}, width {scan['width']})")
    for level, text in ((1.0, "68 %"), (3.84, "95 %")):
        ax.axhline(level, color="grey", ls=":", lw=1)
        ax.text(ax.get_xlim()[0], level, f" {text}", va="bottom", fontsize=9)
    ax.set_xlabel(r"$\kappa_t$ ($\kappa_W = 1$)")
    ax.set_ylabel(r"$-2\Delta\ln L$")
    ax.set_ylim(0, max(6.0, min(float(np.max(scan["q"])), 20.0)))
    ax.legend(loc="upper center")
    atlas_label(ax, "Simulation Internal")
    return ax


def plot_metric_vs_strength(
    results: Sequence[Any],
    *,
    model: str = "disco_mlp",
    metric: str = "mu_uncertainty",
    ax: Any = None,
) -> Any:
    """``<model>.<metric>`` (e.g. the expected μ uncertainty) versus λ, mean ± std over seeds."""
    res = [as_result(r) for r in results]
    key = f"{model}.{metric}"
    rows = [(float(r.strength or 0.0), r.metrics[key]) for r in res if key in r.metrics]
    if not rows:
        raise ConfigError(f"no result has the metric '{key}'")
    lam = np.array([x for x, _ in rows])
    val = np.array([v for _, v in rows])
    xs = np.unique(lam)
    mean = np.array([np.nanmean(val[lam == x]) for x in xs])
    std = np.array([np.nanstd(val[lam == x]) for x in xs])
    ax = new_axes(ax)
    ax.errorbar(xs, mean, yerr=std, fmt="o-", label=model)
    pos = xs[xs > 0]
    if pos.size >= 2 and pos.max() / pos.min() >= 10:
        ax.set_xscale("symlog", linthresh=1.0)  # a wide λ range (λ = 0 included)
    ax.set_xlabel(r"Decorrelation strength $\lambda$")
    ax.set_ylabel(MEASUREMENT_LABELS.get(metric, metric))
    ax.legend(loc="best")
    atlas_label(ax, "Simulation Internal")
    return ax


def plot_unfolded(
    edges: np.ndarray,
    curves: dict[str, np.ndarray],
    *,
    reference: str | None = None,
    errors: np.ndarray | None = None,
    xlabel: str = r"$p_T^{\gamma\gamma}$ [GeV]",
    ax: Any = None,
) -> Any:
    """Binned spectra (e.g. MC truth, data truth, IBU, OmniFold) in the bins of ``edges``.

    An infinite last edge is drawn as a bin as wide as the previous one; ``reference``
    is drawn with ``errors`` as error bars.
    """
    e = np.asarray(edges, dtype=np.float64).copy()
    if not np.isfinite(e[-1]):
        e[-1] = e[-2] + (e[-2] - e[-3])
    ax = new_axes(ax)
    centres = 0.5 * (e[1:] + e[:-1])
    for name, values in curves.items():
        v = np.asarray(values, dtype=np.float64)
        if name == reference:
            ax.errorbar(centres, v, yerr=errors, fmt="ko", label=name)
        else:
            ax.stairs(v, e, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Events / bin")
    ax.legend(loc="best")
    atlas_label(ax, "Simulation Internal")
    return ax

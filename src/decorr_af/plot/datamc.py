"""Data/MC comparison figures of the data/MC inspector (:mod:`decorr_af.widgets.datamc`).

``plot_data_mc``        data points over the MC histogram normalised to data, data/MC ratio
``plot_test_ranking``   χ²/ndf and KS distance of every variable, the current one highlighted

Examples
--------
>>> import numpy as np
>>> from matplotlib.figure import Figure
>>> rng = np.random.default_rng(1)
>>> art = plot_data_mc(rng.normal(size=500), None, rng.normal(0.1, 1, 400), None,
...                    np.linspace(-3, 3, 13), label="x", ax=Figure().add_subplot())
>>> round(float(art.mc_values.sum()), 6) == round(float(art.data_values.sum()), 6)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from decorr_af.plot.style import ratio_axes

__all__ = ["DataMCArtists", "RankingArtists", "plot_data_mc", "plot_test_ranking"]


@dataclass
class DataMCArtists:
    """Artists and plotted values of :func:`plot_data_mc`."""

    ax: Any
    rax: Any
    mc_values: np.ndarray
    data_values: np.ndarray
    ratio_values: np.ndarray
    edges: np.ndarray


@dataclass
class RankingArtists:
    """Artists of :func:`plot_test_ranking`: the χ²/ndf and KS bar charts."""

    chi2_ax: Any
    ks_ax: Any
    chi2_bars: Any
    ks_bars: Any


def plot_data_mc(
    mc: Any,
    w_mc: Any,
    data: Any,
    w_data: Any,
    edges: Any,
    *,
    label: str,
    ax: Any = None,
    rax: Any = None,
    ylabel: str = "photons",
) -> DataMCArtists:
    """Data points and the MC histogram (normalised to data) with a data/MC ratio panel."""
    import hist
    import mplhep

    if ax is None or rax is None:
        ax, rax = ratio_axes(ax)
    h_mc = hist.Hist(
        hist.axis.Variable(np.asarray(edges, float), name="x", label=label),
        storage=hist.storage.Weight(),
    )
    h_da = h_mc.copy().reset()
    h_mc.fill(x=mc, weight=w_mc)
    h_da.fill(x=data, weight=w_data)
    scale = h_da.sum().value / h_mc.sum().value if h_mc.sum().value > 0 else 1.0
    h_mc = h_mc * scale
    mplhep.histplot(h_mc, ax=ax, histtype="fill", alpha=0.5, color="C0", label="MC (norm.)")
    mplhep.histplot(h_da, ax=ax, histtype="errorbar", color="k", label="data")
    ax.set_ylabel(ylabel)
    ax.set_xlabel("")
    ax.legend()
    v_mc, v_da = h_mc.values(), h_da.values()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = v_da / v_mc
        err = np.sqrt(h_da.variances()) / v_mc
    rax.errorbar(h_mc.axes[0].centers, ratio, yerr=err, fmt="o", color="k", markersize=3)
    rax.axhline(1.0, color="grey", linewidth=0.8)
    rax.set_ylim(0.5, 1.5)
    rax.set_ylabel("data / MC")
    rax.set_xlabel(label)
    return DataMCArtists(ax, rax, v_mc, v_da, ratio, h_mc.axes[0].edges)


def plot_test_ranking(
    fig: Any, names: Sequence[str], chi2_ndf: Sequence[float], ks: Sequence[float], *,
    current: str | None = None,
) -> RankingArtists:  # fmt: skip
    """Horizontal bars of χ²/ndf (log) and KS distance per variable on ``fig``.

    The ``current`` variable is drawn in red.
    """
    fig.subplots_adjust(left=0.3, wspace=0.25)  # room for the names and both x scales
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(names))
    colors = ["C3" if n == current else "C0" for n in names]
    bars1 = ax1.barh(y, chi2_ndf, color=colors)
    bars2 = ax2.barh(y, ks, color=colors)
    ax1.set_yticks(y, list(names), fontsize=7)
    ax1.set_xlabel("χ²/ndf")
    ax2.set_xlabel("KS distance")
    ax1.set_xscale("log")
    return RankingArtists(ax1, ax2, bars1, bars2)

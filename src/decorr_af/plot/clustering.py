"""Figures of the clustering workflow: bins in (|η|, pT), scale factors, k scan."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError
from decorr_af.plot.style import atlas_label, new_axes

__all__ = [
    "BinsPlot",
    "KScanPlot",
    "ScaleFactorPlot",
    "plot_bins",
    "plot_k_scan",
    "plot_scale_factors",
]


@dataclasses.dataclass
class BinsPlot:
    """Artists of :func:`plot_bins`."""

    ax: Any
    scatter: Any


@dataclasses.dataclass
class ScaleFactorPlot:
    """Artists of :func:`plot_scale_factors`."""

    ax: Any
    points: Any


@dataclasses.dataclass
class KScanPlot:
    """Artists of :func:`plot_k_scan`."""

    ax: Any
    lines: dict[str, Any]
    reference: Any


def plot_bins(binning: Any, table: Any, *, x: str = "abs_eta", y: str = "pt", ax: Any = None,
              max_points: int = 20000) -> BinsPlot:  # fmt: skip
    """Photons of ``table`` (prepared) in the (x, y) plane coloured by their bin.

    Examples
    --------
    >>> art = plot_bins(binning, prepare(table))  # doctest: +SKIP
    """
    from decorr_af.workflows.clustering import assign_bins

    for col in (x, y):
        if col not in table.columns:
            raise ConfigError(f"column {col!r} not in the table")
    ax = new_axes(ax)
    t = table.iloc[:max_points]
    bins = assign_bins(binning, t)
    sc = ax.scatter(t[x], t[y], c=bins, cmap="tab20", s=3, rasterized=True)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if y == "pt":
        ax.set_yscale("log")
    atlas_label(ax, "Simulation Internal")
    return BinsPlot(ax, sc)


def plot_scale_factors(result: Any, *, method: str = "kmeans", kind: str = "id_sf",
                       ax: Any = None) -> ScaleFactorPlot:  # fmt: skip
    """Per-bin data/MC scale factors vs the bin's mean |η| (open markers: converted bins).

    ``kind="id_sf"``: radiative-Z tag-and-probe ID scale factors; ``"energy_scale"``:
    ``1 + α`` from the Z→ee line shape.

    Examples
    --------
    >>> art = plot_scale_factors(result, method="grid")  # doctest: +SKIP
    """
    key = f"bins_{method}"
    if key not in result.tables:
        raise ConfigError(f"parameter 'method': no table {key!r} in the result")
    tab = result.tables[key]
    ax = new_axes(ax)
    if kind not in ("id_sf", "energy_scale"):
        raise ConfigError(f"parameter 'kind' must be id_sf or energy_scale, got {kind!r}")
    conv = tab["mean_converted"].to_numpy() > 0.5
    err = tab[f"{kind}_err"] if f"{kind}_err" in tab.columns else None
    pts = None
    for sel, label, mfc in ((~conv, "unconverted", None), (conv, "converted", "none")):
        if sel.any():
            pts = ax.errorbar(tab["mean_abs_eta"][sel], tab[kind][sel],
                              yerr=None if err is None else err[sel], fmt="o", mfc=mfc,
                              color="C0", label=f"{method}, {label}")  # fmt: skip
    ax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.set_xlabel(r"mean $|\eta|$ of the bin")
    ax.set_ylabel(r"ID scale factor (Z$\to\mu\mu\gamma$)" if kind == "id_sf"
                  else r"Energy scale $1+\alpha$ (Z$\to$ee)")  # fmt: skip
    ax.legend(fontsize="small")
    atlas_label(ax, "Internal")
    return ScaleFactorPlot(ax, pts)


def plot_k_scan(result: Any, *, quantity: str = "closure", ax: Any = None) -> KScanPlot:
    """Closure χ²/ndf (or spread) vs number of clusters, the grid as reference line.

    Examples
    --------
    >>> art = plot_k_scan(result, quantity="spread")  # doctest: +SKIP
    """
    if quantity not in ("closure", "spread"):
        raise ConfigError(f"parameter 'quantity' must be closure or spread, got {quantity!r}")
    scan = result.tables["k_scan"]
    ax = new_axes(ax)
    lines = {}
    for i, (method, t) in enumerate(scan.groupby("method", sort=False)):
        (lines[method],) = ax.plot(t["n_bins"], t[quantity], "o-", color=f"C{i}", label=method)
    ref = None
    grid = result.metric("grid", quantity, None)
    if grid is not None and np.isfinite(grid):
        ref = ax.axhline(
            grid, color="k", ls="--", label=f"grid ({int(result.metric('grid', 'n_bins'))} bins)"
        )
    ax.set_xlabel("Number of bins")
    ax.set_ylabel("Closure $\\chi^2$/ndf" if quantity == "closure" else "Mean within-bin IQR/2")
    ax.legend(fontsize="small")
    atlas_label(ax, "Simulation Internal")
    return KScanPlot(ax, lines, ref)

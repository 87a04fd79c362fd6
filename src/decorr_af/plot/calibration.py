"""Figures of the calibration workflow (mplhep ATLAS style).

All functions take a :class:`~decorr_af.workflows.base.RunResult` of
:mod:`decorr_af.workflows.calibration` (or its tables), ``ax=None`` and return a
small dataclass of the artists they drew.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError
from decorr_af.plot.style import atlas_label, new_axes, ratio_axes

__all__ = [
    "DistributionPlot",
    "GapPlot",
    "ResponsePlot",
    "plot_gap_vs_mismodelling",
    "plot_ratio_distributions",
    "plot_response",
]

_XLABEL = {"abs_eta": r"$|\eta|$", "pt": r"$p_T$ [GeV]"}
_YLABEL = {"response": r"Response $E_{pred}/E_{true}$ (median)", "resolution": "IQR/2 resolution"}


@dataclasses.dataclass
class ResponsePlot:
    """Artists of :func:`plot_response`."""

    ax: Any
    rax: Any
    mc: dict[str, Any]
    data: dict[str, Any]
    ratio: dict[str, Any]


@dataclasses.dataclass
class DistributionPlot:
    """Artists of :func:`plot_ratio_distributions`."""

    ax: Any
    lines: dict[tuple[str, str], Any]


@dataclasses.dataclass
class GapPlot:
    """Artists of :func:`plot_gap_vs_mismodelling`."""

    ax: Any
    lines: dict[str, Any]


def _models(available: Sequence[str], models: Sequence[str] | None) -> list[str]:
    if models is None:
        return list(available)
    bad = [m for m in models if m not in available]
    if bad:
        raise ConfigError(f"model(s) {bad} not in the result (have: {list(available)})")
    return list(models)


def plot_response(
    result: Any,
    *,
    variable: str = "abs_eta",
    quantity: str = "response",
    models: Sequence[str] | None = None,
    ax: Any = None,
    rax: Any = None,
) -> ResponsePlot:
    """Response or resolution vs |η| or pT in MC (open) and data (filled), data/MC panel.

    Examples
    --------
    >>> art = plot_response(result, variable="pt", quantity="resolution")  # doctest: +SKIP
    """
    if quantity not in _YLABEL:
        raise ConfigError(f"parameter 'quantity' must be response or resolution, got {quantity!r}")
    tab = result.tables["binned"]
    tab = tab[tab["variable"] == variable]
    if tab.empty:
        raise ConfigError(f"parameter 'variable': no bins for {variable!r} (abs_eta or pt)")
    if ax is None or rax is None:
        ax, rax = ratio_axes(ax)
    art = ResponsePlot(ax, rax, {}, {}, {})
    names = _models(list(dict.fromkeys(tab["model"])), models)
    for i, name in enumerate(names):
        t = tab[tab["model"] == name]
        x = 0.5 * (
            t["low"].to_numpy() + np.minimum(t["high"].to_numpy(), 3 * t["low"].to_numpy() + 1)
        )
        xerr = np.abs(np.vstack([x - t["low"], np.minimum(t["high"], 3 * t["low"] + 1) - x]))
        c = f"C{i}"
        ym, yd = t[f"{quantity}_mc"].to_numpy(), t[f"{quantity}_data"].to_numpy()
        em, ed = t[f"{quantity}_err_mc"].to_numpy(), t[f"{quantity}_err_data"].to_numpy()
        art.mc[name] = ax.errorbar(x, ym, yerr=em, xerr=xerr, fmt="o", mfc="none", color=c,
                                   label=f"{name} MC")  # fmt: skip
        art.data[name] = ax.errorbar(x, yd, yerr=ed, fmt="o", color=c, label=f"{name} data")
        r = yd / ym
        art.ratio[name] = rax.errorbar(x, r, yerr=r * np.hypot(ed / yd, em / ym), fmt="o", color=c)
    if quantity == "response":
        ax.axhline(1.0, color="grey", ls="--", lw=1)
    rax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.set_ylabel(_YLABEL[quantity])
    rax.set_ylabel("Data / MC")
    rax.set_xlabel(_XLABEL.get(variable, variable))
    if variable == "pt":
        ax.set_xscale("log")
    ax.legend(fontsize="x-small", ncol=2)
    atlas_label(ax, "Simulation Internal")
    return art


def plot_ratio_distributions(
    result: Any, *, models: Sequence[str] | None = None, ax: Any = None, density: bool = True
) -> DistributionPlot:
    """``E_pred / E_true`` in MC (dashed) and data (solid) per model.

    Examples
    --------
    >>> art = plot_ratio_distributions(result, models=["baseline_bdt", "shapes_mlp"])  # doctest: +SKIP
    """
    h = result.hists["ratio"]
    ax = new_axes(ax)
    art = DistributionPlot(ax, {})
    edges = h.axes["ratio"].edges
    for i, name in enumerate(_models(list(h.axes["model"]), models)):
        for sample, ls in (("mc", "--"), ("data", "-")):
            v = h[{"model": name, "dataset": sample}].values()
            if density and v.sum() > 0:
                v = v / v.sum() / np.diff(edges)
            (art.lines[(name, sample)],) = ax.stairs(v, edges, color=f"C{i}", ls=ls,
                                                     label=f"{name} {sample}"),  # fmt: skip
    ax.axvline(1.0, color="grey", lw=1)
    ax.set_xlabel(r"$E_{pred}/E_{true}$")
    ax.set_ylabel("Density" if density else "Photons")
    ax.legend(fontsize="x-small")
    atlas_label(ax, "Simulation Internal")
    return art


def plot_gap_vs_mismodelling(
    table: Any, *, models: Sequence[str] | None = None, ax: Any = None
) -> GapPlot:
    """Data−MC response gap vs the toy's mismodelling strength (from ``gap_vs_mismodelling``).

    Examples
    --------
    >>> art = plot_gap_vs_mismodelling(tab)  # doctest: +SKIP
    """
    ax = new_axes(ax)
    art = GapPlot(ax, {})
    for i, name in enumerate(_models(list(dict.fromkeys(table["model"])), models)):
        t = table[table["model"] == name].sort_values("mismodelling")
        art.lines[name] = ax.errorbar(t["mismodelling"], t["gap"], yerr=t["gap_err"], fmt="o-",
                                      color=f"C{i}", label=name)  # fmt: skip
    ax.axhline(0.0, color="grey", ls="--", lw=1)
    ax.set_xlabel("Shower-shape mismodelling strength")
    ax.set_ylabel(r"$R_{data} - R_{MC}$")
    ax.legend(fontsize="x-small")
    atlas_label(ax, "Simulation Internal")
    return art

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
    "BinnedResponsePlot",
    "DistributionPlot",
    "GapPlot",
    "MeePlot",
    "ResponsePlot",
    "ScalesPlot",
    "plot_binned_response",
    "plot_gap_vs_mismodelling",
    "plot_mee",
    "plot_ratio_distributions",
    "plot_response",
    "plot_zee_scales",
]

_XLABEL = {"abs_eta": r"$|\eta|$", "pt": r"$p_T$ [GeV]"}
_YLABEL = {"response": r"Median $E_{pred}/E_{true}$", "resolution": "IQR/2 resolution"}


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


@dataclasses.dataclass
class ScalesPlot:
    """Artists of :func:`plot_zee_scales`."""

    ax: Any
    lines: dict[str, Any]


@dataclasses.dataclass
class MeePlot:
    """Artists of :func:`plot_mee`."""

    ax: Any
    mc: Any
    data: Any


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
    """Photon response or resolution vs |η| or pT in MC (truth), ratio to the first model.

    Data has no truth: its energy scale is checked with Z→ee
    (:func:`plot_zee_scales`, :func:`plot_mee`). ``data`` stays empty.

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
    ref = tab[tab["model"] == names[0]]
    for i, name in enumerate(names):
        t = tab[tab["model"] == name]
        high = np.minimum(t["high"].to_numpy(), 3 * t["low"].to_numpy() + 1)
        x = 0.5 * (t["low"].to_numpy() + high)
        xerr = np.abs(np.vstack([x - t["low"].to_numpy(), high - x]))
        c = f"C{i}"
        ym, em = t[f"{quantity}_mc"].to_numpy(), t[f"{quantity}_err_mc"].to_numpy()
        art.mc[name] = ax.errorbar(x, ym, yerr=em, xerr=xerr, fmt="o", color=c, label=name)
        r = ym / ref[f"{quantity}_mc"].to_numpy()
        art.ratio[name] = rax.errorbar(x, r, yerr=em / ref[f"{quantity}_mc"].to_numpy(),
                                       fmt="o", color=c)  # fmt: skip
    if quantity == "response":
        ax.axhline(1.0, color="grey", ls="--", lw=1)
    rax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.set_ylabel(_YLABEL[quantity])
    rax.set_ylabel(f"/ {names[0]}", fontsize="small")
    rax.set_xlabel(_XLABEL.get(variable, variable))
    if variable == "pt":
        ax.set_xscale("log")
    ax.legend(fontsize="x-small", ncol=2)
    atlas_label(ax, "Simulation Internal")
    return art


@dataclasses.dataclass
class BinnedResponsePlot:
    """Artists and plotted values of :func:`plot_binned_response`.

    ``values[model]`` and ``ratios[model]`` are the points of the main and ratio panels.
    """

    ax: Any
    rax: Any
    values: dict[str, np.ndarray]
    ratios: dict[str, np.ndarray]


#: y labels of :func:`plot_binned_response`
_BINNED_YLABEL = {
    "response": r"MC median $E_{pred}/E_{true}$",
    "resolution": "MC IQR/2 resolution",
}
_BINNED_XLABEL = {"abs_eta": r"$|\eta|$", "pt": r"$p_{T}$ [GeV]"}


def plot_binned_response(
    tables: dict[str, Any],
    *,
    variable: str,
    quantity: str,
    baseline: str,
    ax: Any = None,
    rax: Any = None,
) -> BinnedResponsePlot:
    """MC response or resolution per bin for several models, ratio to ``baseline``.

    ``tables`` maps each model to a binned table with columns ``lo``, ``hi``,
    ``<quantity>`` and ``<quantity>_err`` (as made by the resolution inspector's
    :func:`~decorr_af.widgets.resolution.binned`); models are drawn in its order.
    """
    from decorr_af.plot.style import atlas_label

    if quantity not in _BINNED_YLABEL:
        raise ConfigError(f"parameter 'quantity' must be response or resolution, got {quantity!r}")
    if baseline not in tables:
        raise ConfigError(f"parameter 'baseline': {baseline!r} not among {list(tables)}")
    if ax is None or rax is None:
        ax, rax = ratio_axes(ax)
    ref = tables[baseline]
    art = BinnedResponsePlot(ax, rax, {}, {})
    for i, (model, t) in enumerate(tables.items()):
        x = 0.5 * (t["lo"] + t["hi"])
        ax.errorbar(
            x, t[quantity], yerr=t[f"{quantity}_err"], xerr=0.5 * (t["hi"] - t["lo"]),
            fmt="o", color=f"C{i}", label=model,
        )  # fmt: skip
        r = np.asarray(t[quantity] / ref[quantity], float)
        rax.errorbar(x, r, yerr=t[f"{quantity}_err"] / ref[quantity], fmt="o", color=f"C{i}")
        art.values[model], art.ratios[model] = np.asarray(t[quantity], float), r
    ax.set_ylabel(_BINNED_YLABEL[quantity])
    rax.set_ylabel(f"/ {baseline}", fontsize="small")
    rax.axhline(1.0, color="grey", linewidth=0.8)
    rax.set_xlabel(_BINNED_XLABEL.get(variable, variable))
    if variable == "pt":  # pT bins span decades: a log axis reads better
        ax.set_xscale("log")
    low, high = ax.get_ylim()
    ax.set_ylim(low, high + 0.35 * (high - low))  # room for the label and legend
    ax.legend(fontsize="x-small", ncols=2, loc="upper right")
    atlas_label(ax, "Simulation Internal")
    return art


def plot_ratio_distributions(
    result: Any, *, models: Sequence[str] | None = None, ax: Any = None, density: bool = True
) -> DistributionPlot:
    """``E_pred / E_true`` of MC photons per model (truth exists in MC only).

    Examples
    --------
    >>> art = plot_ratio_distributions(result, models=["baseline_bdt", "shapes_mlp"])  # doctest: +SKIP
    """
    h = result.hists["ratio"]
    ax = new_axes(ax)
    art = DistributionPlot(ax, {})
    edges = h.axes["ratio"].edges
    for i, name in enumerate(_models(list(h.axes["model"]), models)):
        for sample, ls in ((d, "-") for d in h.axes["dataset"]):
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
    """Z→ee data−MC peak-position difference α vs the toy's mismodelling strength.

    ``table`` from :func:`decorr_af.workflows.calibration.gap_vs_mismodelling`.

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
    ax.set_xlabel("Mismodelling strength of the toy")
    ax.set_ylabel(r"Z$\to$ee $\alpha$ (data $-$ MC peak position)")
    ax.legend(fontsize="x-small")
    atlas_label(ax, "Simulation Internal")
    return art


def plot_zee_scales(
    result: Any,
    *,
    quantity: str = "alpha",
    models: Sequence[str] | None = None,
    ax: Any = None,
    bin_edges: Sequence[float] | None = None,
) -> ScalesPlot:
    """Z→ee energy-scale factors α_i (or constant terms c′_i) per |η| bin and model.

    With ``bin_edges`` (the fit's |η| bins) the x range is those bins and their
    inner edges are marked, so every point sits visibly inside its bin.

    Examples
    --------
    >>> art = plot_zee_scales(result, quantity="cprime")  # doctest: +SKIP
    """
    if quantity not in ("alpha", "cprime"):
        raise ConfigError(f"parameter 'quantity' must be alpha or cprime, got {quantity!r}")
    if "zee_scales" not in result.tables:
        raise ConfigError("the result has no Z->ee scales (configure zee_mc_files/zee_data_files)")
    tab = result.tables["zee_scales"]
    ax = new_axes(ax)
    art = ScalesPlot(ax, {})
    names = _models(list(dict.fromkeys(tab["model"])), models)
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        t = tab[tab["model"] == name]
        lo, hi = t["low"].to_numpy(), t["high"].to_numpy()
        x = lo + (hi - lo) * (0.1 + width * (i + 0.5))
        art.lines[name] = ax.errorbar(x, t[quantity], yerr=t[f"{quantity}_err"], fmt="o",
                                      color=f"C{i}", label=name)  # fmt: skip
    ax.axhline(0.0, color="grey", ls="--", lw=1)
    if bin_edges is not None:
        edges = np.asarray(bin_edges, float)
        ax.set_xlim(edges[0], edges[-1])
        for e in edges[1:-1]:
            ax.axvline(e, color="0.85", lw=0.8, zorder=0)
    ax.set_xlabel(r"$|\eta|$")
    ax.set_ylabel(r"$\alpha_i$ ($E_{data} = E_{MC}(1+\alpha_i)$)" if quantity == "alpha"
                  else r"$c'_i$ (extra constant term in data)")  # fmt: skip
    ax.legend(fontsize="x-small")
    atlas_label(ax, "Internal")
    return art


def plot_mee(result: Any, *, model: str = "raw", ax: Any = None) -> MeePlot:
    """Corrected Z→ee m_ee in data (points) and MC (normalised to data) for one model.

    Examples
    --------
    >>> art = plot_mee(result, model="shapes_mlp")  # doctest: +SKIP
    """
    if "mee" not in result.hists:
        raise ConfigError("the result has no Z->ee m_ee histogram (configure zee files)")
    h = result.hists["mee"]
    _models(list(h.axes["model"]), [model])
    ax = new_axes(ax)
    hd, hm = h[{"model": model, "dataset": "data"}], h[{"model": model, "dataset": "mc"}]
    edges = hd.axes[0].edges
    vd, vm = hd.values(), hm.values()
    scale = vd.sum() / vm.sum() if vm.sum() > 0 else 1.0
    mc = ax.stairs(vm * scale, edges, color="C0", label=f"MC ({model})")
    centres = 0.5 * (edges[1:] + edges[:-1])
    data = ax.errorbar(centres, vd, yerr=np.sqrt(hd.variances()), fmt="o", color="k", ms=3,
                       label="Data")  # fmt: skip
    ax.set_xlabel(r"$m_{ee}$ [GeV]")
    ax.set_ylabel("Pairs / bin")
    ax.legend(fontsize="small")
    atlas_label(ax, "Internal")
    return MeePlot(ax, mc, data)

"""The protected variable of one model for the two populations the decorrelation compares.

Works for every workflow that writes ``hists["protected"]`` (the convention of
:mod:`decorr_af.workflows.vocabulary`): fakes passing / failing the ID cut vs
isolation (photon ID), background passing / failing the working point vs m_γγ
(ttH), and the predicted E_corr/E_raw of MC and data candidates (calibration).
Both shapes are normalised to unit area; the ratio panel shows pass / fail (a
flat ratio: no sculpting) or data / MC.

Examples
--------
>>> from decorr_af.plot.protected import plot_protected
>>> art = plot_protected("runs/tth", "disco_mlp")  # doctest: +SKIP
>>> art.ratio_values  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from decorr_af.plot._common import normalised, ratio
from decorr_af.plot.labels import model_label
from decorr_af.plot.results import as_result
from decorr_af.plot.style import atlas_label, ratio_axes

__all__ = ["ProtectedArtists", "plot_protected"]

#: legend entry of each ``selection`` category
SELECTION_LABELS = {"pass": "passing", "fail": "failing", "mc": "MC", "data": "Data"}


@dataclass
class ProtectedArtists:
    """Artists and plotted values of :func:`plot_protected`.

    ``values`` maps each selection to its normalised shape (per unit of the
    variable); ``ratio_values`` is the ratio panel (pass / fail, or data / MC).
    """

    ax: Any
    rax: Any
    edges: np.ndarray
    selections: tuple[str, ...]
    values: dict[str, np.ndarray] = field(default_factory=dict)
    ratio_values: np.ndarray | None = None
    shapes: dict[str, Any] = field(default_factory=dict)
    ratio: Any = None
    label: Any = None


def _ratio_order(selections: tuple[str, ...]) -> tuple[str, str, str]:
    """(numerator, denominator, panel label): pass / fail, data / MC."""
    if set(selections) == {"mc", "data"}:
        return "data", "mc", "Data / MC"
    first, second = selections
    return first, second, f"{first.capitalize()} / {second}"


def plot_protected(
    result: Any,
    model: str,
    *,
    ax: Any = None,
    rax: Any = None,
    notes: Sequence[str] = (),
    text: str = "Simulation Internal",
    ratio_range: tuple[float, float] = (0.0, 2.5),
) -> ProtectedArtists:
    """Normalised protected variable of ``model``'s two populations, with their ratio.

    Parameters
    ----------
    result
        A :class:`~decorr_af.workflows.base.RunResult` (or its directory) with
        ``hists["protected"]``; results written before the convention get one
        derived from their photon-ID / ttH / Z→ee histograms when loaded.
    model
        A model of the histogram's ``model`` axis.
    ax, rax
        Main and ratio axes (made with :func:`~decorr_af.plot.style.ratio_axes`
        when either is ``None``).
    notes
        Lines added to the legend title (e.g. ``"1/JSD = 12"``).

    Raises
    ------
    ConfigError
        If the result has no protected histogram or not this model.
    """
    import mplhep

    from decorr_af.workflows.vocabulary import protected_view

    res = as_result(result)
    view = protected_view(res, model)
    selections = view["selections"]
    if ax is None or rax is None:
        ax, rax = ratio_axes(ax)
    first = view["hists"][0]
    edges = first.axes[0].edges
    art = ProtectedArtists(ax=ax, rax=rax, edges=edges, selections=selections)
    variances = {}
    for i, (sel, h) in enumerate(zip(selections, view["hists"])):
        v, var = normalised(h)
        art.values[sel], variances[sel] = v, var
        art.shapes[sel] = mplhep.histplot(
            v, edges, yerr=np.sqrt(var), ax=ax, color=f"C{i}",
            label=f"{SELECTION_LABELS.get(sel, sel)}",
        )  # fmt: skip
    num, den, rlabel = _ratio_order(selections)
    r, rerr = ratio(art.values[num], art.values[den], variances[num], variances[den])
    art.ratio_values = r
    centres = 0.5 * (edges[1:] + edges[:-1])
    art.ratio = rax.errorbar(
        centres, r, yerr=rerr, xerr=np.diff(edges) / 2, fmt="o", color="k", ms=3
    )
    rax.axhline(1.0, color="grey", ls="--", lw=1)
    rax.set_ylim(*ratio_range)
    _zoom(ax, edges, art.values.values())
    rax.set_ylabel(rlabel)
    rax.set_xlabel(view["label"])
    ax.set_ylabel("Normalised")
    title = "\n".join([f"{model_label(model)}: {view['what']}".rstrip(": "), *notes])
    ax.legend(loc="upper right", title=title, title_fontsize="x-small", fontsize="x-small")
    top = max((float(np.nanmax(v, initial=0.0)) for v in art.values.values()), default=1.0)
    ax.set_ylim(0, 1.6 * top if top > 0 else 1.0)  # room for the label and the legend
    art.label = atlas_label(ax, text)
    return art


def _zoom(ax: Any, edges: np.ndarray, shapes: Any) -> None:
    """Show the filled bins (with a margin) when they cover under half of the axis.

    A fixed binning serves every model and λ (the calibration's E_corr/E_raw axis
    spans 0.8–1.4); one model fills a narrow part of it.
    """
    filled = np.flatnonzero(np.any([np.nan_to_num(v) > 0 for v in shapes], axis=0))
    if filled.size == 0:
        return
    lo, hi = float(edges[filled[0]]), float(edges[filled[-1] + 1])
    if hi - lo < 0.5 * (edges[-1] - edges[0]):
        pad = 0.15 * (hi - lo)
        ax.set_xlim(max(edges[0], lo - pad), min(edges[-1], hi + pad))

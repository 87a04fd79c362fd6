"""The three panels of one λ-scan point, for every workflow (used by ``DiscoScanner``).

``plot_point_performance``  ROC curve with R50 (workflows with labels and scores) or
                            the MC response E_pred/E_true with its resolution
                            (the calibration)
``plot_point_protected``    the protected variable of the two compared populations
                            (:func:`~decorr_af.plot.protected.plot_protected`) with
                            the dependence metrics (1/JSD and its ceiling, KS, α)
``plot_scan_plane``         the scan's Pareto plane with one point starred

Each takes an axes (``ax=None``: a new figure) and a result or scan, reads them
through the typed accessors (:meth:`RunResult.metric
<decorr_af.workflows.base.RunResult.metric>`, :meth:`ScanResult.column
<decorr_af.scan.results.ScanResult.column>`) and returns its artists with the
plotted values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError
from decorr_af.plot.labels import model_label
from decorr_af.plot.results import as_result, select_models
from decorr_af.plot.style import atlas_label, new_axes

__all__ = [
    "PerformanceArtists",
    "PlaneArtists",
    "plot_point_performance",
    "plot_point_protected",
    "plot_scan_plane",
]

#: references drawn beside the selected model (the first the result has, if it differs)
REFERENCES = ("plain_mlp", "shapes_mlp")
#: dependence metrics written on the protected panel: (metric, label, format)
PROTECTED_NOTES = (
    ("inv_jsd", "1/JSD", ".4g"),
    ("inv_jsd_ceiling", "stat. ceiling", ".3g"),
    ("dcor", "dCor", ".3g"),
    ("pred_ks", "KS(MC, data)", ".3g"),
    ("alpha", "Z→ee α", ".4f"),
)


@dataclass
class PerformanceArtists:
    """Artists of :func:`plot_point_performance`.

    ``kind`` is ``"roc"`` or ``"response"``; ``values[model]`` the plotted
    ``(x, y)`` of each curve (efficiency, rejection) or (bin centres, density).
    """

    ax: Any
    kind: str
    curves: dict[str, Any] = field(default_factory=dict)
    values: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    marker: Any = None
    label: Any = None


@dataclass
class PlaneArtists:
    """Artists of :func:`plot_scan_plane`: the Pareto plot and the starred point."""

    ax: Any
    pareto: Any
    selected: Any = None
    selected_xy: tuple[float, float] | None = None


def _reference(res: Any, model: str, have: Sequence[str]) -> str | None:
    return next((r for r in REFERENCES if r in have and r != model), None)


def plot_point_performance(
    result: Any, model: str, *, ax: Any = None, min_efficiency: float = 0.2
) -> PerformanceArtists:
    """ROC and R50 of ``model`` (classifiers) or its MC E_pred/E_true (calibration).

    A reference (:data:`REFERENCES`) is drawn too when the result has one whose
    output differs from the model's: at λ = 0 the DisCo MLP *is* the plain MLP,
    and an identical second curve would hide under the first; the legend then
    says so.
    """
    res = as_result(result)
    if "label" in res.arrays and res.models_with("score"):
        return _roc(res, model, ax, min_efficiency)
    if "ratio" in res.hists:
        return _response(res, model, ax)
    raise ConfigError(
        f"the {res.workflow} result has neither classifier scores ('<model>.score' and "
        f"'label') nor a calibration response histogram ('ratio'): no performance panel"
    )


def _roc(res: Any, model: str, ax: Any, min_efficiency: float) -> PerformanceArtists:
    from decorr_af.plot.photon_id import plot_roc

    have = select_models(res)
    select_models(res, model)  # ConfigError naming the models with scores
    ref = _reference(res, model, have)
    same = ref is not None and np.array_equal(res.array(ref, "score"), res.array(model, "score"))
    models = [ref, model] if ref is not None and not same else [model]
    ax = new_axes(ax)
    roc = plot_roc(res, models=models, ax=ax, min_efficiency=min_efficiency)
    art = PerformanceArtists(ax=ax, kind="roc", curves=dict(roc.curves), label=roc.label)
    for m, line in roc.curves.items():
        art.values[m] = (np.asarray(line.get_xdata()), np.asarray(line.get_ydata()))
    if same:
        line = art.curves[model]
        line.set_label(f"{line.get_label()} (= {model_label(ref)} at this λ)")
    r50 = res.metric(model, "r50", float("nan"))
    if np.isfinite(r50) and r50 > 0:
        (art.marker,) = ax.plot([0.5], [r50], marker="*", ms=14, color="gold", mec="k",
                                ls="none", label=f"R50 = {r50:.4g}")  # fmt: skip
    ax.legend(loc="upper right", fontsize="small", title=f"λ = {_fmt_strength(res.strength)}")
    return art


def _response(res: Any, model: str, ax: Any) -> PerformanceArtists:
    h = res.hists["ratio"]
    have = list(h.axes["model"])
    if model not in have:
        raise ConfigError(f"model '{model}' not in hists['ratio'] (have: {have})")
    ref = _reference(res, model, have)
    ax = new_axes(ax)
    art = PerformanceArtists(ax=ax, kind="response")
    edges = h.axes["ratio"].edges
    centres = 0.5 * (edges[1:] + edges[:-1])
    for m in [x for x in (ref, model) if x is not None]:
        v = h[{"model": m, "dataset": sum}].values()
        density = v / v.sum() / np.diff(edges) if v.sum() > 0 else v
        res_mc = res.metric(m, "resolution_mc", float("nan"))
        art.curves[m] = ax.stairs(density, edges, color="grey" if m == ref else "C0",
                                  ls="--" if m == ref else "-",
                                  label=f"{model_label(m)} (IQR/2 {res_mc:.4f})")  # fmt: skip
        art.values[m] = (centres, density)
    ax.axvline(1.0, color="grey", lw=1)
    ax.set_xlabel(r"$E_{pred}/E_{true}$ (MC photons)")
    ax.set_ylabel("Density")
    top = max(float(np.max(d, initial=0.0)) for _, d in art.values.values())
    ax.set_ylim(0, 1.5 * top if top > 0 else 1.0)
    ax.legend(loc="upper right", fontsize="x-small", title=f"λ = {_fmt_strength(res.strength)}",
              title_fontsize="x-small")  # fmt: skip
    art.label = atlas_label(ax, "Simulation Internal")
    return art


def plot_point_protected(result: Any, model: str, *, ax: Any = None, rax: Any = None) -> Any:
    """:func:`~decorr_af.plot.protected.plot_protected` with the model's dependence metrics.

    Returns the :class:`~decorr_af.plot.protected.ProtectedArtists`.
    """
    from decorr_af.plot.protected import plot_protected

    res = as_result(result)
    notes = []
    wp = res.config.get("wp_efficiency") if isinstance(res.config, dict) else None
    if wp and res.metric(model, "inv_jsd", None) is not None:
        notes.append(rf"$\varepsilon_S$ = {100 * float(wp):.0f} % WP")
    for key, label, fmt in PROTECTED_NOTES:
        value = res.metric(model, key, None)
        if value is not None and np.isfinite(value):
            notes.append(f"{label} = {value:{fmt}}")
    return plot_protected(res, model, ax=ax, rax=rax, notes=notes)


def plot_scan_plane(
    scan: Any,
    model: str,
    x: str,
    y: str,
    *,
    selected: str | None = None,
    maximize: tuple[bool, bool] = (True, True),
    ax: Any = None,
) -> PlaneArtists:
    """Pareto plane of metrics ``x`` and ``y`` of ``model`` over the scan, ``selected`` starred.

    Parameters
    ----------
    scan
        A :class:`~decorr_af.scan.ScanResult` or a scan directory.
    model, x, y
        The model and the metric names of the two axes (e.g. ``"r50"``, ``"inv_jsd"``).
    selected
        Point id starred (``None``: none).
    maximize
        Whether larger is better along each axis (the workflow's ``PARETO_MAXIMIZE``).
    """
    import os

    from decorr_af.plot.scan import pareto_plot

    if isinstance(scan, (str, os.PathLike)):
        from decorr_af.scan.results import load_scan

        scan = load_scan(scan)
    res = scan
    cx, cy = res.column(model, x), res.column(model, y)
    ax = new_axes(ax)
    pareto = pareto_plot(res, cx, cy, ax=ax, atlas=False, maximize=maximize)
    art = PlaneArtists(ax=ax, pareto=pareto)
    if selected is not None:
        row = res.table[res.table["id"].astype(str) == str(selected)]
        if len(row) == 0:
            raise ConfigError(f"scan {res.directory}: no finished point '{selected}'")
        art.selected_xy = (float(row[cx].iloc[0]), float(row[cy].iloc[0]))
        art.selected = ax.scatter(
            [art.selected_xy[0]], [art.selected_xy[1]], s=260, marker="*", color="gold",
            edgecolors="k", zorder=5, label="selected",
        )  # fmt: skip
    ax.legend(loc="best", fontsize="x-small")
    ax.set_title("Pareto plane (seed means)")
    return art


def _fmt_strength(value: float | None) -> str:
    value = float(value or 0.0)
    return "0" if value == 0 else f"{value:.3g}"

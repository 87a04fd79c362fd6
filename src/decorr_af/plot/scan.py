"""Plots of λ / hyper-parameter scans: Pareto fronts and metrics versus a parameter.

Both functions take a :class:`~decorr_af.scan.ScanResult` (or a scan directory),
draw on ``ax`` (a new figure when ``None``) and return a small dataclass of the
artists they made.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError
from decorr_af.plot.labels import metric_label, model_label, param_label
from decorr_af.workflows.vocabulary import split_key

__all__ = ["MetricArtists", "ParetoArtists", "metric_vs_param", "pareto_plot"]


@dataclasses.dataclass
class ParetoArtists:
    """Artists of :func:`pareto_plot`."""

    ax: Any
    points: Any
    errorbars: Any
    front: Any
    annotations: list[Any]


@dataclasses.dataclass
class MetricArtists:
    """Artists of :func:`metric_vs_param`: one line and one band per metric."""

    ax: Any
    lines: list[Any]
    bands: list[Any]


def _result(result: Any) -> Any:
    if isinstance(result, (str, os.PathLike)):
        from decorr_af.scan.results import load_scan

        return load_scan(result)
    return result


def _axes(ax: Any) -> Any:
    try:
        from decorr_af.plot.style import new_axes
    except ImportError:  # pragma: no cover - style module missing
        import matplotlib.pyplot as plt

        return ax if ax is not None else plt.subplots(figsize=(8, 6))[1]
    return new_axes(ax)


def _label(ax: Any) -> None:
    from decorr_af.plot.style import atlas_label

    # plain tick labels: an axis offset ("×10⁻²") would sit under the ATLAS label
    for axis, scale in (("x", ax.get_xscale()), ("y", ax.get_yscale())):
        if scale == "linear":
            ax.ticklabel_format(axis=axis, style="plain", useOffset=False)
    atlas_label(ax, "Simulation Internal", loc=0, com=None)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ",".join(_fmt(v) for v in value) + "]"
    return str(value)


#: label positions tried around a point: (dx, dy) in points, horizontal, vertical alignment
_LABEL_SPOTS = (
    (5, 5, "left", "bottom"),
    (5, -5, "left", "top"),
    (-5, 5, "right", "bottom"),
    (-5, -5, "right", "top"),
    (0, 10, "center", "bottom"),
    (0, -10, "center", "top"),
)


def _renderer(ax: Any) -> Any:
    fig = ax.get_figure(root=True)
    if not hasattr(fig.canvas, "get_renderer"):  # a bare Figure: give it an Agg canvas
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    return fig.canvas.get_renderer()


def _place_labels(ax: Any, xs: Any, ys: Any, values: list[str], name: str) -> list[Any]:
    """Label each point ``name=value`` where the label overlaps no other label.

    Each label takes the first free spot of :data:`_LABEL_SPOTS` around its point;
    a point with no free spot (points on top of each other) adds its value to the
    nearest label instead (``λ=0, 3``), so no two labels are ever printed on each other.
    """
    from matplotlib.text import Text

    renderer = _renderer(ax)
    frame = ax.get_window_extent(renderer)
    # texts already there (the ATLAS label, notes): labels must not cover them
    obstacles = [
        t.get_window_extent(renderer)
        for t in ax.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t is not ax.title
    ]
    placed: list[tuple[Any, Any, tuple[float, float]]] = []
    for x, y, value in sorted(zip(xs, ys, values), key=lambda t: (t[0], t[1])):
        for dx, dy, ha, va in _LABEL_SPOTS:
            ann = ax.annotate(f"{name}={value}", (x, y), textcoords="offset points",
                              xytext=(dx, dy), ha=ha, va=va, fontsize="x-small")  # fmt: skip
            box = ann.get_window_extent(renderer)
            inside = (
                frame.x0 <= box.x0
                and box.x1 <= frame.x1
                and frame.y0 <= box.y0 <= box.y1 <= frame.y1
            )
            others = [other for _, other, _ in placed] + obstacles
            if inside and not any(box.overlaps(other) for other in others):
                placed.append((ann, box, (x, y)))
                break
            ann.remove()
        else:
            if not placed:  # nowhere free and nothing to join: the first spot
                ann = ax.annotate(f"{name}={value}", (x, y), textcoords="offset points",
                                  xytext=(5, 5), fontsize="x-small")  # fmt: skip
                placed.append((ann, ann.get_window_extent(renderer), (x, y)))
                continue
            here = ax.transData.transform((x, y))
            nearest = min(
                placed, key=lambda p: float(np.hypot(*(ax.transData.transform(p[2]) - here)))
            )
            nearest[0].set_text(f"{nearest[0].get_text()}, {value}")
            i = next(i for i, p in enumerate(placed) if p[0] is nearest[0])
            placed[i] = (nearest[0], nearest[0].get_window_extent(renderer), nearest[2])
    return [ann for ann, _, _ in placed]


def pareto_plot(
    result: Any,
    x: str,
    y: str,
    *,
    maximize: tuple[bool, bool] = (True, True),
    annotate: str | None = "strength",
    ax: Any = None,
    color: str | None = None,
    label: str | None = None,
    atlas: bool = True,
) -> ParetoArtists:
    """Scatter the seed-averaged scan points in the (``x``, ``y``) plane and draw the front.

    Parameters
    ----------
    result
        A :class:`~decorr_af.scan.ScanResult` or a scan directory.
    x, y
        Metric names (e.g. ``"disco_mlp.r50"``, ``"disco_mlp.inv_jsd"``).
    maximize
        Whether larger is better along each axis (for the front).
    annotate
        Parameter column written next to each point (``None``: no labels).
    ax, color, label
        Matplotlib axes, colour and legend label of the points.
    atlas
        Draw the ATLAS label.

    Examples
    --------
    >>> art = pareto_plot("scan-out", "disco_mlp.r50", "disco_mlp.inv_jsd")  # doctest: +SKIP
    >>> art.ax.figure.savefig("pareto.png")  # doctest: +SKIP
    """
    res = _result(result)
    summary = res.summary()
    ax = _axes(ax)
    xs = summary[x].to_numpy(float) if x in summary else np.array([])
    ys = summary[y].to_numpy(float) if y in summary else np.array([])
    if x not in summary or y not in summary:
        raise ConfigError(f"pareto_plot: metrics '{x}'/'{y}' not in the scan ({res.metrics})")
    xerr = summary.get(f"{x}_std")
    yerr = summary.get(f"{y}_std")
    errorbars = ax.errorbar(
        xs,
        ys,
        xerr=None if xerr is None else np.nan_to_num(xerr.to_numpy(float)),
        yerr=None if yerr is None else np.nan_to_num(yerr.to_numpy(float)),
        fmt="none",
        ecolor=color or "0.5",
        alpha=0.6,
        zorder=1,
    )
    points = ax.scatter(xs, ys, color=color, label=label or "scan points", zorder=2)
    front_df = res.pareto(x, y, maximize=maximize)
    (front,) = ax.plot(
        front_df[x].to_numpy(float),
        front_df[y].to_numpy(float),
        color=color or "black",
        lw=1.5,
        ls="--",
        marker="o",
        mfc="none",
        ms=12,
        label="Pareto front",
        zorder=3,
    )
    ax.set_xlabel(metric_label(x))
    ax.set_ylabel(metric_label(y))
    if atlas:
        _label(ax)
    annotations = []
    if annotate is not None and annotate in summary:
        name = "λ" if annotate == "strength" else annotate
        keep = np.isfinite(xs) & np.isfinite(ys)
        values = [_fmt(v) for v in summary[annotate]]
        annotations = _place_labels(
            ax, xs[keep], ys[keep], [v for v, k in zip(values, keep) if k], name
        )
    ax.legend(loc="best", fontsize="small")
    return ParetoArtists(ax, points, errorbars, front, annotations)


def metric_vs_param(
    result: Any,
    metrics: Sequence[str] | str,
    *,
    param: str = "strength",
    ax: Any = None,
    logx: bool | None = None,
    atlas: bool = True,
) -> MetricArtists:
    """Seed-averaged metrics (± std band) versus one scanned parameter.

    Parameters
    ----------
    result
        A :class:`~decorr_af.scan.ScanResult` or a scan directory.
    metrics
        One metric name or several (drawn on the same axes).
    param
        The scanned parameter on the x axis (default λ, ``"strength"``).
    logx
        Symmetric-log x axis (default: when the positive values span > 2 decades
        or include 0 with values > 1).

    Examples
    --------
    >>> art = metric_vs_param("scan-out", ["disco_mlp.r50", "disco_mlp.dcor"])  # doctest: +SKIP
    """
    res = _result(result)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    if param not in res.params:
        raise ConfigError(f"metric_vs_param: '{param}' is not a scanned parameter ({res.params})")
    for m in metrics:
        if m not in res.metrics:
            raise ConfigError(f"metric_vs_param: unknown metric '{m}'")
    summary = res.summary(by=[param]).sort_values(param)
    ax = _axes(ax)
    xv = summary[param].to_numpy(float)
    lines, bands = [], []
    for m in metrics:
        mean = summary[m].to_numpy(float)
        std = np.nan_to_num(summary[f"{m}_std"].to_numpy(float))
        (line,) = ax.plot(xv, mean, marker="o", label=metric_label(m))
        lines.append(line)
        bands.append(
            ax.fill_between(xv, mean - std, mean + std, alpha=0.25, color=line.get_color())
        )
    positive = xv[xv > 0]
    if logx is None:
        logx = positive.size > 1 and (positive.max() / positive.min() > 100 or (xv == 0).any())
    if logx and positive.size:
        ax.set_xscale("symlog", linthresh=float(positive.min()))
    ax.set_xlabel(param_label(param))
    if len(metrics) == 1:
        ax.set_ylabel(metric_label(metrics[0]))
    else:  # one axis for several metrics: the model's name if they share one
        models = {model for model, _ in map(split_key, metrics) if model}
        ax.set_ylabel(model_label(models.pop()) if len(models) == 1 else "metric value")
        ax.legend(loc="best", fontsize="small")
    if atlas:
        _label(ax)
    return MetricArtists(ax, lines, bands)

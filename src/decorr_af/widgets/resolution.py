"""Resolution inspector: response and IQR resolution vs |η| or pT, MC and data.

Built on a calibration :class:`~decorr_af.workflows.base.RunResult` (or a scan of
them), which stores per-photon ``<model>.ratio_mc`` / ``<model>.ratio_data``
(``E_pred / E_true``) with ``abs_eta_*``, ``pt_*`` and ``weight_*``. The binning
is typed in, taken from the workflow config, or from a clustering result.
"""

from __future__ import annotations

import html
import itertools
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from decorr_af._compat import optional_import
from decorr_af.errors import ConfigError
from decorr_af.widgets._common import (
    FigurePanel,
    ResultSource,
    error_html,
    format_strength,
    metrics_html,
    strength_slider,
)

widgets = optional_import("ipywidgets", "widgets")

__all__ = ["ResolutionInspector", "bins_from_clustering", "parse_edges"]

VARIABLES = {"abs_eta": "|η|", "pt": "pT [GeV]"}
_DEFAULT_EDGES = {"abs_eta": "eta_edges", "pt": "pt_edges"}
SAMPLES = ("mc", "data")


#: an example of valid edges per variable, quoted in error messages
EXAMPLE_EDGES = {"abs_eta": "0, 0.6, 1.37, 1.52, 2.37", "pt": "20, 40, 80, 1000"}


def _valid_edges_hint(variable: str | None) -> str:
    what = {"abs_eta": "|η|", "pt": "pT [GeV]"}
    if variable in EXAMPLE_EDGES:
        return (
            f"valid edges are at least two finite, strictly increasing, non-negative "
            f"{what[variable]} values separated by commas, e.g. '{EXAMPLE_EDGES[variable]}'"
        )
    return (
        "valid edges are at least two finite, strictly increasing numbers separated by "
        f"commas, e.g. '{EXAMPLE_EDGES['abs_eta']}' for |η| or '{EXAMPLE_EDGES['pt']}' for pT"
    )


def parse_edges(text: str, *, variable: str | None = None) -> list[float]:
    """Bin edges from text such as ``"0, 0.6, 1.37 1.52"``.

    Parameters
    ----------
    text
        Numbers separated by commas and/or spaces.
    variable
        ``"abs_eta"`` or ``"pt"``: edges must then be non-negative, and the error
        message gives an example of valid edges for that variable.

    Raises
    ------
    ConfigError
        Saying what is wrong and what valid edges look like.

    Examples
    --------
    >>> parse_edges("0, 0.6, 1.37")
    [0.0, 0.6, 1.37]
    >>> parse_edges("50, 20", variable="pt")
    Traceback (most recent call last):
    ...
    decorr_af.errors.ConfigError: bin edges '50, 20' are not increasing (50 → 20); valid edges are at least two finite, strictly increasing, non-negative pT [GeV] values separated by commas, e.g. '20, 40, 80, 1000'
    """
    hint = _valid_edges_hint(variable)
    tokens = text.replace(",", " ").split()
    try:
        edges = [float(t) for t in tokens]
    except ValueError:
        bad = next(t for t in tokens if not _is_number(t))
        raise ConfigError(f"bin edges {text!r}: {bad!r} is not a number; {hint}") from None
    if len(edges) < 2:
        raise ConfigError(f"bin edges {text!r}: need at least 2 values, got {len(edges)}; {hint}")
    if not np.all(np.isfinite(edges)):
        raise ConfigError(f"bin edges {text!r} contain a non-finite value; {hint}")
    for lo, hi in itertools.pairwise(edges):
        if hi <= lo:
            raise ConfigError(f"bin edges {text!r} are not increasing ({lo:g} → {hi:g}); {hint}")
    if variable in EXAMPLE_EDGES and edges[0] < 0:
        raise ConfigError(f"bin edges {text!r}: {variable} cannot be negative; {hint}")
    return edges


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def binned(ratio: Any, x: Any, edges: Sequence[float], *, weight: Any = None) -> Any:
    """Response and IQR resolution of ``ratio`` in bins of ``x`` (pandas DataFrame)."""
    from decorr_af import metrics

    ratio = np.asarray(ratio, dtype=np.float64)
    table = metrics.binned_response(ratio, np.ones_like(ratio), x, edges, weights=weight)
    return table.rename(columns={"low": "lo", "high": "hi"})


class ResolutionInspector(widgets.VBox):
    """Response and resolution vs |η| / pT for a baseline and chosen models.

    Parameters
    ----------
    source
        Calibration result directory, scan directory or ``RunResult``.
    models
        Models shown initially (default: the primary model).
    baseline
        Reference model of the resolution ratio panel.
    bins
        Optional ``{"abs_eta": edges, "pt": edges}``, e.g. from a clustering
        result (offered as the "clustering" binning).
    clustering
        A clustering result (directory or ``RunResult``) whose ``<var>_edges``
        arrays give the "clustering" binning (see :func:`bins_from_clustering`).

    Examples
    --------
    >>> from decorr_af.widgets import ResolutionInspector
    >>> ResolutionInspector("demo-output/scans/calibration")  # doctest: +SKIP
    """

    def __init__(
        self,
        source: Any,
        *,
        models: Sequence[str] | None = None,
        baseline: str = "baseline_bdt",
        bins: Mapping[str, Sequence[float]] | None = None,
        clustering: Any = None,
    ) -> None:
        super().__init__(layout=widgets.Layout(width="100%"))
        self.add_class("decorr-resolution-inspector")
        self.title = widgets.HTML()
        self.error = widgets.HTML()
        self.metrics = widgets.HTML()
        self.response_fig = FigurePanel(width="470px", figsize=(5.4, 4.6))
        self.resolution_fig = FigurePanel(width="470px", figsize=(5.4, 4.6))
        self.slider = strength_slider([0.0])
        self.models = widgets.SelectMultiple(description="models", rows=5)
        self.baseline = widgets.Dropdown(description="baseline")
        self.variable = widgets.ToggleButtons(
            options=[(v, k) for k, v in VARIABLES.items()], description="vs"
        )
        self.binning = widgets.Dropdown(description="binning")
        self.edges = widgets.Text(description="edges", layout=widgets.Layout(width="360px"))
        self.children = [self.title, self.error]
        self._bins = {k: list(map(float, v)) for k, v in (bins or {}).items()}
        try:
            if clustering is not None:
                self._bins = {**bins_from_clustering(clustering), **self._bins}
            self.source = ResultSource(source)
            res = self.source.result()
            names = _models(res)
            if not names:
                raise ConfigError(
                    f"{self.source.label}: no '<model>.ratio_mc' arrays (not a calibration result)"
                )
        except Exception as err:
            self.error.value = error_html(err, context=f"Cannot open {source}")
            return
        self.slider.options = strength_slider(self.source.strengths).options
        self.slider.layout.display = None if len(self.source.strengths) > 1 else "none"
        self.baseline.options = names
        self.baseline.value = baseline if baseline in names else names[0]
        chosen = [m for m in (models or ["disco_mlp"]) if m in names] or names[-1:]
        self.models.options = names
        self.models.value = tuple(chosen)
        options = [("workflow config", "config")]
        if self._bins:
            options.append(("clustering", "clustering"))
        self.binning.options = [*options, ("manual", "manual")]
        self.binning.value = "clustering" if self._bins else "config"
        self.title.value = (
            "<h3 style='margin:0.2em 0'>Resolution inspector</h3>"
            f"<div style='color:#666'>{html.escape(self.source.label)}</div>"
        )
        controls = widgets.VBox(
            [
                widgets.HBox([self.variable, self.slider]),
                widgets.HBox(
                    [self.models, widgets.VBox([self.baseline, self.binning, self.edges])]
                ),
            ]
        )
        figures = widgets.HBox(
            [self.response_fig.image, self.resolution_fig.image],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        self.children = [self.title, self.error, controls, self.metrics, figures]
        self._set_edges()
        for w in (self.slider, self.models, self.baseline):
            w.observe(lambda _c: self.update(), names="value")
        self.variable.observe(lambda _c: (self._set_edges(), self.update()), names="value")
        self.binning.observe(lambda _c: (self._set_edges(), self.update()), names="value")
        self.edges.observe(lambda _c: self.update(), names="value")
        self.update()

    def _set_edges(self) -> None:
        var, mode = self.variable.value, self.binning.value
        if mode == "manual":
            return
        if mode == "clustering" and var in self._bins:
            edges = self._bins[var]
        else:
            config = self.source.result(self.slider.value).config
            edges = config.get(_DEFAULT_EDGES[var], [0, 0.6, 1.37, 1.52, 2.37])
        with self.hold_trait_notifications():
            self.edges.value = ", ".join(f"{e:g}" for e in edges)

    def current_tables(self) -> dict[tuple[str, str], Any]:
        """``{(model, sample): binned DataFrame}`` for the current selection."""
        res = self.source.result(self.slider.value)
        var = self.variable.value
        edges = parse_edges(self.edges.value, variable=var)
        names = dict.fromkeys([self.baseline.value, *self.models.value])
        out = {}
        for model in names:
            for sample in SAMPLES:
                a = res.arrays
                out[(model, sample)] = binned(
                    a[f"{model}.ratio_{sample}"], a[f"{var}_{sample}"], edges,
                    weight=a.get(f"weight_{sample}"),
                )  # fmt: skip
        return out

    def update(self) -> None:
        """Recompute the binned response and redraw."""
        try:
            tables = self.current_tables()
            res = self.source.result(self.slider.value)
            items = []
            for model in dict.fromkeys([self.baseline.value, *self.models.value]):
                for key, label in (("resolution_mc", "σ/E MC"), ("data_mc_gap", "data−MC")):
                    value = res.metrics.get(f"{model}.{key}")
                    if value is not None:
                        items.append((f"{model}.{key}", f"{model} {label}", value))
            lam = format_strength(res.strength or 0.0)
            self.metrics.value = metrics_html(items, title=f"λ = {lam} (inclusive)")
            var = self.variable.value
            self.response_fig.draw(lambda fig: self._draw(fig, tables, var, "response"))
            self.resolution_fig.draw(lambda fig: self._draw(fig, tables, var, "resolution"))
            self.error.value = ""
        except Exception as err:
            self.error.value = error_html(err, context="Resolution inspector")

    def _draw(self, fig: Any, tables: dict, var: str, stat: str) -> None:
        """Main panel: ``stat`` vs ``var``; ratio panel: data/MC (response) or model/baseline."""
        from decorr_af.plot.style import ratio_axes

        ax, rax = ratio_axes(fig.add_subplot())
        base = self.baseline.value
        models = list(dict.fromkeys([base, *self.models.value]))
        for i, model in enumerate(models):
            for sample, marker, fill in (("mc", "o", True), ("data", "s", False)):
                t = tables[(model, sample)]
                x = 0.5 * (t["lo"] + t["hi"])
                ax.errorbar(
                    x, t[stat], yerr=t[f"{stat}_err"], xerr=0.5 * (t["hi"] - t["lo"]),
                    fmt=marker, color=f"C{i}", mfc=f"C{i}" if fill else "white",
                    label=f"{model} {sample.upper() if sample == 'mc' else 'data'}",
                )  # fmt: skip
                if stat == "response" and sample == "data":
                    mc = tables[(model, "mc")]
                    rax.plot(x, t[stat] / mc[stat], marker, color=f"C{i}")
                elif stat == "resolution" and sample == "mc":
                    ref = tables[(base, "mc")]
                    rax.plot(x, t[stat] / ref[stat], marker, color=f"C{i}")
        ax.set_ylabel("median E_pred/E_true" if stat == "response" else "IQR resolution σ/E")
        rax.set_ylabel("data / MC" if stat == "response" else f"/ {base}")
        rax.axhline(1.0, color="grey", linewidth=0.8)
        rax.set_xlabel(VARIABLES[var])
        if var == "pt":  # pT bins span decades: a log axis reads better
            ax.set_xscale("log")
        ax.legend(fontsize=7, ncols=2)


def _models(res: Any) -> list[str]:
    """Models with ``<model>.ratio_mc`` and ``<model>.ratio_data`` arrays."""
    return [
        k[: -len(".ratio_mc")]
        for k in res.arrays
        if k.endswith(".ratio_mc") and k.replace(".ratio_mc", ".ratio_data") in res.arrays
    ]


def bins_from_clustering(result: Any) -> dict[str, list[float]]:
    """``{"abs_eta": edges, "pt": edges}`` from a clustering result (directory or RunResult)."""
    from decorr_af.workflows.base import RunResult

    res = result if isinstance(result, RunResult) else RunResult.load(os.fspath(result))
    out = {}
    for var in VARIABLES:
        for key in (f"{var}_edges", f"edges_{var}"):
            if key in res.arrays:
                out[var] = [float(e) for e in res.arrays[key]]
    if not out:
        raise ConfigError(f"clustering result {res.directory} stores no '<var>_edges' arrays")
    return out

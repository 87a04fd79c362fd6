"""Resolution inspector: MC response/resolution and the Z→ee data/MC check.

Built on a calibration :class:`~decorr_af.workflows.base.RunResult` (or a scan of
them, :mod:`decorr_af.workflows.calibration`). Two sides, kept apart:

* **MC (truth)**: per-photon ``<model>.ratio_mc`` (``E_pred / E_true``) with
  ``abs_eta_mc``, ``pt_mc`` and ``weight_mc``: median response and IQR resolution
  vs |η| or pT, binned as typed in, from the workflow config or from a clustering
  result.
* **Data (no truth)**: the Z→ee line-shape check: corrected m_ee in data and MC
  after each regression (``hists["mee"]``), the energy-scale factors α_i and
  constant-term corrections c′_i per |η| bin with their errors
  (``tables["zee_scales"]``) and the inclusive ``<model>.alpha`` / ``.cprime``.

No truth-level quantity of data is read: arrays such as ``ratio_data`` (E/E_true
in data) are ignored even if an old result holds them.
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
from decorr_af.workflows.vocabulary import metric_key

widgets = optional_import("ipywidgets", "widgets")

__all__ = ["ResolutionInspector", "bins_from_clustering", "parse_edges", "zee_models"]

VARIABLES = {"abs_eta": "|η|", "pt": "pT [GeV]"}
_DEFAULT_EDGES = {"abs_eta": "eta_edges", "pt": "pt_edges"}
RAW = "raw"  # the uncorrected Z→ee reference of the calibration workflow


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
    """MC response/resolution vs |η| / pT and the Z→ee data/MC check, per model.

    Parameters
    ----------
    source
        Calibration result directory, scan directory or ``RunResult``.
    models
        Models shown initially (default: the primary model).
    baseline
        Reference model of the MC resolution ratio panel.
    bins
        Optional ``{"abs_eta": edges, "pt": edges}``, e.g. from a clustering
        result (offered as the "clustering" binning of the MC panels).
    clustering
        A clustering result (directory or ``RunResult``) whose ``<var>_edges``
        arrays give the "clustering" binning (see :func:`bins_from_clustering`).

    Notes
    -----
    The Z→ee panels use the |η| bins of the line-shape fits (``zee_eta_edges`` of
    the workflow config): α_i and c′_i are fit results, they cannot be rebinned.

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
        self.zee_note = widgets.HTML()
        self.response_fig = FigurePanel(width="470px", figsize=(5.4, 4.6))
        self.resolution_fig = FigurePanel(width="470px", figsize=(5.4, 4.6))
        self.mee_fig = FigurePanel(width="470px", figsize=(5.4, 4.4))
        self.alpha_fig = FigurePanel(width="470px", figsize=(5.4, 4.4))
        self.cprime_fig = FigurePanel(width="470px", figsize=(5.4, 4.4))
        self.slider = strength_slider([0.0])
        self.models = widgets.SelectMultiple(description="models", rows=5)
        self.baseline = widgets.Dropdown(description="baseline")
        self.variable = widgets.ToggleButtons(
            options=[(v, k) for k, v in VARIABLES.items()], description="vs"
        )
        self.binning = widgets.Dropdown(description="binning")
        self.edges = widgets.Text(description="edges", layout=widgets.Layout(width="360px"))
        self.mee_model = widgets.Dropdown(
            description="m_ee after", style={"description_width": "initial"}
        )
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
            zee = zee_models(res)
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
        self.mee_model.options = zee
        if zee:
            self.mee_model.value = next((m for m in chosen if m in zee), zee[0])
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
        row = widgets.Layout(flex_flow="row wrap")
        mc_box = widgets.HBox([self.response_fig.image, self.resolution_fig.image], layout=row)
        self.zee_box = widgets.HBox(
            [self.mee_fig.image, self.alpha_fig.image, self.cprime_fig.image], layout=row
        )
        self.zee_box.layout.display = None if zee else "none"
        self.mee_model.layout.display = None if zee else "none"
        self.zee_note.value = _zee_note(bool(zee))
        self.children = [
            self.title,
            self.error,
            controls,
            self.metrics,
            widgets.HTML(_section("MC simulation: response and resolution from MC truth")),
            mc_box,
            widgets.HTML(_section("Data vs MC: Z→ee line shapes (no truth in data)")),
            self.zee_note,
            self.mee_model,
            self.zee_box,
        ]
        self._set_edges()
        for w in (self.slider, self.models, self.baseline):
            w.observe(lambda _c: self.update(), names="value")
        self.variable.observe(lambda _c: (self._set_edges(), self.update()), names="value")
        self.binning.observe(lambda _c: (self._set_edges(), self.update()), names="value")
        self.edges.observe(lambda _c: self.update(), names="value")
        self.mee_model.observe(lambda _c: self.update_mee(), names="value")
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

    def shown_models(self) -> list[str]:
        """The baseline followed by the chosen models (no repeats)."""
        return list(dict.fromkeys([self.baseline.value, *self.models.value]))

    def current_tables(self) -> dict[str, Any]:
        """``{model: binned MC response/resolution DataFrame}`` for the current selection."""
        res = self.source.result(self.slider.value)
        var = self.variable.value
        edges = parse_edges(self.edges.value, variable=var)
        a = res.arrays
        if f"{var}_mc" not in a:
            raise ConfigError(f"{self.source.label}: no '{var}_mc' array in the result")
        return {
            model: binned(
                res.array(model, "ratio_mc"), a[f"{var}_mc"], edges, weight=a.get("weight_mc")
            )
            for model in self.shown_models()
        }

    def zee_table(self) -> Any:
        """Rows of ``tables["zee_scales"]`` (α_i, c′_i ± errors per |η| bin) shown now.

        ``raw`` (uncorrected energies × one MC constant) is always included as the
        reference; ``None`` when the result has no Z→ee check.
        """
        res = self.source.result(self.slider.value)
        if "zee_scales" not in res.tables:
            return None
        tab = res.tables["zee_scales"]
        keep = [RAW, *[m for m in self.shown_models() if m in set(tab["model"])]]
        return tab[tab["model"].isin(keep)].reset_index(drop=True)

    def update(self) -> None:
        """Recompute the binned MC response, the Z→ee view, and redraw."""
        try:
            tables = self.current_tables()
            res = self.source.result(self.slider.value)
            items = []
            for model in self.shown_models():
                for key, label in (("resolution_mc", "σ/E MC"), ("alpha", "Z→ee α"),
                                   ("alpha_err", "δα"), ("cprime", "Z→ee c′"),
                                   ("cprime_err", "δc′")):  # fmt: skip
                    value = res.metric(model, key, None)
                    if value is not None:
                        items.append((metric_key(model, key), f"{model} {label}", value))
            lam = format_strength(res.strength or 0.0)
            self.metrics.value = metrics_html(
                items, title=f"λ = {lam} (inclusive; α, c′: data vs MC from Z→ee fits)"
            )
            var = self.variable.value
            self.response_fig.draw(lambda fig: self._draw(fig, tables, var, "response"))
            self.resolution_fig.draw(lambda fig: self._draw(fig, tables, var, "resolution"))
            zee = self.zee_table()
            if zee is not None:
                self._draw_zee(res, list(dict.fromkeys(zee["model"])))
            self.error.value = ""
        except Exception as err:
            self.error.value = error_html(err, context="Resolution inspector")

    def update_mee(self) -> None:
        """Redraw only the m_ee panel (after the regression chosen in ``mee_model``)."""
        try:
            self._draw_mee(self.source.result(self.slider.value))
        except Exception as err:
            self.error.value = error_html(err, context="Resolution inspector")

    def _draw_mee(self, res: Any) -> None:
        from decorr_af.plot import plot_mee_data_mc

        model = self.mee_model.value
        self.mee_fig.draw(lambda fig: plot_mee_data_mc(res, model=model, ax=fig.add_subplot()))

    def _draw_zee(self, res: Any, names: list[str]) -> None:
        """m_ee data vs MC after the chosen regression (with ratio); α_i and c′_i per |η| bin."""
        from decorr_af.plot import plot_zee_scales

        self._draw_mee(res)
        edges = np.asarray(res.config.get("zee_eta_edges", []), dtype=float)

        def scales(fig: Any, quantity: str) -> None:
            plot_zee_scales(res, quantity=quantity, models=names, ax=fig.add_subplot(),
                            bin_edges=edges if len(edges) >= 2 else None)  # fmt: skip

        self.alpha_fig.draw(lambda fig: scales(fig, "alpha"))
        self.cprime_fig.draw(lambda fig: scales(fig, "cprime"))

    def _draw(self, fig: Any, tables: dict, var: str, stat: str) -> Any:
        """Main panel: MC ``stat`` vs ``var``; ratio panel: model / baseline."""
        from decorr_af.plot.calibration import plot_binned_response

        return plot_binned_response(
            {m: tables[m] for m in self.shown_models()}, variable=var, quantity=stat,
            baseline=self.baseline.value, ax=fig.add_subplot(),
        )  # fmt: skip


def _section(text: str) -> str:
    return f"<h4 style='margin:0.6em 0 0.1em 0'>{html.escape(text)}</h4>"


def _zee_note(present: bool) -> str:
    if not present:
        return (
            "<div style='color:#a94442'>This result has no Z→ee check: run the calibration "
            "workflow with <code>zee_mc_files</code> and <code>zee_data_files</code>.</div>"
        )
    return (
        "<div style='color:#555'>Corrected m_ee in data (points) and MC (normalised to data); "
        "α_i: E_data = E_MC (1 + α_i), c′_i: extra constant term in data, per |η| bin of the "
        "line-shape fits; raw = uncorrected energies × one MC constant.</div>"
    )


def _models(res: Any) -> list[str]:
    """Models with a ``<model>.ratio_mc`` array (MC E_pred/E_true)."""
    return res.models_with("ratio_mc")


def zee_models(res: Any) -> list[str]:
    """Models of the Z→ee check (``raw`` first), empty if the result has none.

    A model counts when ``tables["zee_scales"]`` has its rows and ``hists["mee"]``
    its m_ee; a result with only one of the two is reported as incomplete.

    Examples
    --------
    >>> from decorr_af.workflows.base import RunResult
    >>> zee_models(RunResult("calibration", {}, seed=0))
    []
    """
    has_table, has_hist = "zee_scales" in res.tables, "mee" in res.hists
    if not (has_table or has_hist):
        return []
    if has_table != has_hist:
        missing = "hists['mee']" if has_table else "tables['zee_scales']"
        raise ConfigError(f"calibration result: Z->ee check incomplete, {missing} is missing")
    in_hist = set(res.hists["mee"].axes["model"])
    names = [m for m in dict.fromkeys(res.tables["zee_scales"]["model"]) if m in in_hist]
    return sorted(names, key=lambda m: m != RAW)


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

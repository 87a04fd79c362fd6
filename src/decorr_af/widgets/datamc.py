"""Data/MC inspector: histograms of data and MC with a ratio panel, χ² and KS tests.

Two kinds of source, usable together:

* a calibration :class:`~decorr_af.workflows.base.RunResult`, result directory or
  scan directory: every array pair ``<name>_mc`` / ``<name>_data`` of equal-length
  arrays is a variable — in calibration results the Z→ee pair mass after each
  regression, ``<model>.mee``. A response E_pred/E_true needs truth, which data do
  not have: such pairs (``<model>.ratio`` of results written before data became
  truth-free) are never offered;
* MC and data ROOT files read with :func:`decorr_af.data.photon_table`: the
  input variables (shower shapes, isolation, kinematics, μ).

Slices in |η|, pT and μ are chosen with range sliders.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

from decorr_af._compat import optional_import
from decorr_af.errors import ConfigError
from decorr_af.widgets._common import (
    FigurePanel,
    ResultSource,
    error_html,
    metrics_html,
    strength_slider,
)
from decorr_af.workflows.vocabulary import split_key

widgets = optional_import("ipywidgets", "widgets")

__all__ = ["DataMCInspector", "compare", "is_physics_variable", "result_pairs"]

#: result arrays that need truth (E_pred/E_true): never compared between data and MC
TRUTH_BASED = frozenset({"ratio", "response"})
#: readable labels of per-model result variables
VARIABLE_LABELS = {"mee": "Z→ee m_ee after the regression [GeV]"}
#: slice variables: column -> label
SLICES = {"abs_eta": "|η|", "pt": "pT [GeV]", "mu": "μ"}
_NBINS = 40
#: bookkeeping columns (identifiers, weights): never a "variable" to compare or rank
BOOKKEEPING = frozenset(
    {
        "eventNumber",
        "runNumber",
        "mcChannelNumber",
        "mcEventWeights",
        "lumiBlock",
        "weight",
        "weights",
        "index",
        "entry",
        "is_prompt",
        "is_signal",
    }
)


def result_pairs(arrays: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(mc, data)`` column dicts of the data-comparable array pairs of a result.

    A pair is ``<name>_mc`` / ``<name>_data``; truth-based quantities (the
    response ``ratio`` = E_pred/E_true) are dropped, and only the largest set of
    pairs whose arrays share one length per sample is kept (one table per sample).

    Examples
    --------
    >>> import numpy as np
    >>> a = {"m.mee_mc": np.ones(3), "m.mee_data": np.ones(2), "m.ratio_mc": np.ones(5),
    ...      "m.ratio_data": np.ones(5), "abs_eta_mc": np.ones(5)}
    >>> [sorted(d) for d in result_pairs(a)]
    [['m.mee'], ['m.mee']]
    """
    names = [k[:-3] for k in arrays if k.endswith("_mc") and f"{k[:-3]}_data" in arrays]
    names = [n for n in names if split_key(n)[1] not in TRUTH_BASED]
    groups: dict[tuple[int, int], list[str]] = {}
    for n in names:
        shape = (len(arrays[f"{n}_mc"]), len(arrays[f"{n}_data"]))
        groups.setdefault(shape, []).append(n)
    keep = max(groups.values(), key=len) if groups else []
    return tuple(
        {n: np.asarray(arrays[f"{n}_{sample}"], float) for n in keep} for sample in ("mc", "data")
    )


def is_physics_variable(name: str) -> bool:
    """Whether a column is a physics variable (not bookkeeping, weight or truth).

    Identifiers (``runNumber``, ``eventNumber``, ``mcChannelNumber``, any
    ``*Number`` / ``*_index``), event weights and truth-record columns (never
    available in data) are excluded from the inspector's variables and ranking.

    Examples
    --------
    >>> [is_physics_variable(c) for c in ("Reta", "runNumber", "weight", "truth_e", "mu")]
    [True, False, False, False, True]
    """
    from decorr_af.data.schema import TRUTH

    if name in BOOKKEEPING or name in TRUTH or name.lower().startswith("truth"):
        return False
    if "weight" in name.lower():
        return False
    return not name.endswith(("Number", "_index", "_id"))


def compare(mc: Any, data: Any, *, edges: Any, w_mc: Any = None, w_data: Any = None) -> dict:
    """χ²/ndf (binned, MC normalised to data) and KS distance of data vs MC.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> out = compare(rng.normal(size=500), rng.normal(size=500), edges=np.linspace(-3, 3, 13))
    >>> sorted(out)
    ['chi2', 'chi2_ndf', 'chi2_p', 'ks', 'ks_p', 'ndf']
    """
    import hist

    from decorr_af import metrics

    h_mc, h_data = (
        hist.Hist(hist.axis.Variable(edges), storage=hist.storage.Weight()) for _ in range(2)
    )
    h_mc.fill(mc, weight=w_mc)
    h_data.fill(data, weight=w_data)
    chi = metrics.chi2_test(h_data, h_mc, normalise=True)
    ks, ks_p = metrics.ks_test(mc, data, weights_a=w_mc, weights_b=w_data)
    return {
        "chi2": float(chi.chi2), "ndf": float(chi.ndf), "chi2_ndf": float(chi.chi2_ndf),
        "chi2_p": float(chi.pvalue), "ks": float(ks), "ks_p": float(ks_p),
    }  # fmt: skip


class DataMCInspector(widgets.VBox):
    """Compare data and MC distributions per variable, model, λ and slice.

    Parameters
    ----------
    source
        Calibration result directory, scan directory or ``RunResult`` (optional).
    mc_files, data_files
        ROOT files (globs) read with :func:`decorr_af.data.photon_table` (optional).
    features
        Columns of the photon tables offered as variables (default: all numeric).
    max_rows
        Photons read per file set (subsampled deterministically) to stay fast.

    Examples
    --------
    >>> from decorr_af.widgets import DataMCInspector
    >>> DataMCInspector("demo-output/scans/calibration")  # doctest: +SKIP
    """

    def __init__(
        self,
        source: Any = None,
        *,
        mc_files: Any = None,
        data_files: Any = None,
        features: Sequence[str] | None = None,
        max_rows: int = 200_000,
    ) -> None:
        super().__init__(layout=widgets.Layout(width="100%"))
        self.add_class("decorr-datamc-inspector")
        self.title = widgets.HTML()
        self.error = widgets.HTML()
        self.stats = widgets.HTML()
        self.hist_fig = FigurePanel(width="470px", figsize=(5.4, 4.6))
        self.test_fig = FigurePanel(width="470px", figsize=(5.4, 4.6))
        self.variable = widgets.Dropdown(
            description="variable", layout=widgets.Layout(width="340px")
        )
        self.model = widgets.Dropdown(description="model")
        self.slider = strength_slider([0.0])
        self.slices = {
            k: widgets.FloatRangeSlider(
                description=v, continuous_update=False, readout_format=".3g"
            )
            for k, v in SLICES.items()
        }
        self.children = [self.title, self.error]
        self.source = None
        self._tables: tuple[Any, Any] | None = None
        try:
            if source is None and (mc_files is None or data_files is None):
                raise ConfigError("give a result/scan 'source' or both 'mc_files' and 'data_files'")
            if source is not None:
                self.source = ResultSource(source)
            if mc_files is not None and data_files is not None:
                self._tables = _read_tables(mc_files, data_files, features, max_rows)
        except Exception as err:
            self.error.value = error_html(err, context="Cannot open the data/MC inspector source")
            return
        self._configure()
        controls = widgets.VBox(
            [
                widgets.HBox([self.variable, self.model, self.slider]),
                widgets.HBox(list(self.slices.values())),
            ]
        )
        figures = widgets.HBox(
            [self.hist_fig.image, self.test_fig.image],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        label = self.source.label if self.source else "MC/data files"
        self.title.value = (
            "<h3 style='margin:0.2em 0'>Data/MC inspector</h3>"
            f"<div style='color:#666'>{html.escape(label)}</div>"
        )
        self.children = [self.title, self.error, controls, self.stats, figures]
        for w in (self.variable, self.model, *self.slices.values()):
            w.observe(lambda _c: self.update(), names="value")
        self.slider.observe(lambda _c: (self._configure(), self.update()), names="value")
        self.update()

    # -- data ---------------------------------------------------------------
    def frames(self, group: str) -> tuple[Any, Any]:
        """``(mc, data)`` DataFrames of a variable group (``"result"`` or ``"files"``)."""
        import pandas as pd

        if group == "files":
            return self._tables
        res = self.source.result(self.slider.value)
        return tuple(pd.DataFrame(cols) for cols in result_pairs(res.arrays))

    def _configure(self) -> None:
        """Fill the variable/model choices and the slice ranges from the sources."""
        options, models = [], []
        if self.source is not None:
            self.slider.options = strength_slider(self.source.strengths).options
            mc, _ = self.frames("result")
            for c in mc.columns:
                model, var = split_key(c)
                if not is_physics_variable(var):
                    continue
                if model:
                    models.append(model)
                    key = ("result", f"{{model}}.{var}")
                    label = VARIABLE_LABELS.get(var, f"{var} (model output)")
                    if key not in [k for _, k in options]:
                        options.append((label, key))
                else:
                    options.append((f"{c} (test set)", ("result", c)))
        if self._tables is not None:
            mc, data = self._tables
            for c in mc.columns:
                if c in data.columns and is_physics_variable(c) and mc[c].dtype.kind in "fiub":
                    options.append((f"{c} (input)", ("files", c)))
        self.slider.layout.display = (
            None if self.source is not None and len(self.source.strengths) > 1 else "none"
        )
        with self.hold_trait_notifications():
            old = self.variable.value
            self.variable.options = options
            keys = [k for _, k in options]
            if keys:
                self.variable.value = old if old in keys else keys[0]
            models = list(dict.fromkeys(models))
            if list(self.model.options) != models:
                self.model.options = models
                prefer = next((m for m in models if "disco" in m), models[0] if models else None)
                self.model.value = prefer
            for key, w in self.slices.items():
                lo, hi = self._range(key)
                if lo is None:
                    w.layout.display = "none"
                    continue
                w.layout.display = None
                w.min, w.max = -1e300, 1e300  # avoid min > max while resetting
                w.min, w.max, w.step = lo, hi, (hi - lo) / 100 or 1.0
                w.value = (lo, hi)

    def _range(self, key: str) -> tuple[float | None, float | None]:
        values = []
        for group in ("result", "files"):
            if (group == "result" and self.source is None) or (
                group == "files" and self._tables is None
            ):
                continue
            for df in self.frames(group):
                col = _slice_column(df, key)
                if col is not None:
                    values.append(col[np.isfinite(col)])
        if not values:
            return None, None
        allv = np.concatenate(values)
        return float(allv.min()), float(allv.max())

    def selection(self, variable: tuple[str, str] | None = None) -> tuple[Any, ...]:
        """``(mc, w_mc, data, w_data, column)`` of a variable (default: the chosen one)."""
        group, name = self.variable.value if variable is None else variable
        column = name.format(model=self.model.value)
        out = []
        for df in self.frames(group):
            if column not in df.columns:
                raise ConfigError(f"variable '{column}' not available for this source")
            mask = np.ones(len(df), dtype=bool)
            for key, w in self.slices.items():
                col = _slice_column(df, key)
                if col is not None and w.layout.display != "none":
                    mask &= (col >= w.value[0]) & (col <= w.value[1])
            weight = df["weight"].to_numpy(float) if "weight" in df.columns else np.ones(len(df))
            out += [df[column].to_numpy(float)[mask], weight[mask]]
        return (*out, column)

    # -- display ------------------------------------------------------------
    def update(self) -> None:
        """Redraw histograms and test statistics for the current choice."""
        try:
            mc, w_mc, data, w_data, column = self.selection()
            if len(mc) == 0 or len(data) == 0:
                raise ConfigError(f"the slice leaves no MC or data photons for '{column}'")
            edges = _edges(mc, data)
            stat = compare(mc, data, edges=edges, w_mc=w_mc, w_data=w_data)
            self.stats.value = metrics_html(
                [("chi2_ndf", "χ²/ndf", stat["chi2_ndf"]), ("ks", "KS", stat["ks"]),
                 ("ks_p", "KS p-value", stat["ks_p"])],
                title=column, notes=[f"{len(mc)} MC, {len(data)} data photons in the slice"],
            )  # fmt: skip
            self.hist_fig.draw(lambda fig: _draw_hist(fig, mc, w_mc, data, w_data, edges, column))
            self.test_fig.draw(lambda fig: self._draw_tests(fig, column))
            self.error.value = ""
        except Exception as err:
            self.error.value = error_html(err, context="Data/MC inspector")

    def _draw_tests(self, fig: Any, current: str) -> None:
        """χ²/ndf and KS distance of every variable of the group in the current slice."""
        group, _ = self.variable.value
        names, chis, kss = [], [], []
        for _label, (g, name) in self.variable.options:
            if g != group:
                continue
            column = name.format(model=self.model.value)
            mc_df, _ = self.frames(g)
            if column not in mc_df.columns:
                continue
            mc, w_mc, data, w_data, _ = self.selection((g, name))
            if len(mc) and len(data):
                stat = compare(mc, data, edges=_edges(mc, data), w_mc=w_mc, w_data=w_data)
                names.append(column)
                chis.append(stat["chi2_ndf"])
                kss.append(stat["ks"])
        from decorr_af.plot.datamc import plot_test_ranking

        plot_test_ranking(fig, names, chis, kss, current=current)


def _slice_column(df: Any, key: str) -> Any:
    if key in df.columns:
        return df[key].to_numpy(float)
    if key == "abs_eta" and "eta" in df.columns:
        return np.abs(df["eta"].to_numpy(float))
    return None


def _edges(mc: Any, data: Any) -> Any:
    both = np.concatenate([mc, data])
    both = both[np.isfinite(both)]
    lo, hi = np.quantile(both, [0.005, 0.995]) if len(both) else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, _NBINS + 1)


def _draw_hist(fig: Any, mc: Any, w_mc: Any, data: Any, w_data: Any, edges: Any, label: str):
    """Data and normalised MC with a ratio panel (:func:`decorr_af.plot.datamc.plot_data_mc`)."""
    from decorr_af.plot.datamc import plot_data_mc

    return plot_data_mc(mc, w_mc, data, w_data, edges, label=label, ax=fig.add_subplot())


def _read_tables(mc_files: Any, data_files: Any, features: Any, max_rows: int) -> tuple:
    from decorr_af.data import photon_table

    out = []
    for files in (mc_files, data_files):
        df = photon_table(files, nonfinite="drop")
        if len(df) > max_rows:
            df = df.sample(n=max_rows, random_state=0)
        if "eta" in df.columns:
            df["abs_eta"] = np.abs(df["eta"].to_numpy(float))
        if features is not None:
            keep = [c for c in (*features, "weight", "eta", "abs_eta", "pt", "mu") if c in df]
            df = df[list(dict.fromkeys(keep))]
        out.append(df.reset_index(drop=True))
    return out[0], out[1]

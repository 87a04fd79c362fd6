"""The DisCo strength scanner: browse (and extend) a λ scan interactively.

For the λ chosen on a slider it shows the ROC curve and R50, the protected
variable of the background passing / failing the cut with 1/JSD, dCor, and the
Pareto plane of the scan with the current point highlighted. A button trains a
new λ in the background (a thread, or the Dask cluster through
:func:`decorr_af.scan.scan`); the slider gains the new value when it is done.
All state lives in the scan directory.
"""

from __future__ import annotations

import concurrent.futures
import html
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from decorr_af._compat import optional_import
from decorr_af.errors import ConfigError, DecorrAFError
from decorr_af.widgets._common import (
    FigurePanel,
    error_html,
    format_strength,
    metrics_html,
    strength_slider,
)

widgets = optional_import("ipywidgets", "widgets")

__all__ = ["DiscoScanner"]

#: metrics shown for the selected point: (metric suffix, label)
SHOWN_METRICS = (("r50", "R50"), ("inv_jsd", "1/JSD"), ("dcor", "dCor"), ("auc", "AUC"))


class DiscoScanner(widgets.VBox):
    """Interactive view of a decorrelation-strength (λ) scan.

    Parameters
    ----------
    scan_dir
        A scan directory written by :func:`decorr_af.scan.scan` (``scan.json``
        and ``points/<id>/``).
    model
        Model whose metrics and scores are shown (default: the workflow's
        ``PRIMARY_MODEL``, else the first model with an ``r50`` metric).
    x, y
        Metric suffixes of the Pareto plane (default ``r50`` and ``inv_jsd``).
    client
        Dask client (or cluster spec for :func:`decorr_af.scan.get_client`) used
        by the "train this λ" button; ``None`` starts a ``"local"`` cluster.
    prerender
        Render the figures of every point in a background thread after loading,
        so that moving the slider only swaps cached images.

    Examples
    --------
    >>> from decorr_af.widgets import DiscoScanner
    >>> DiscoScanner("demo-output/scan")  # doctest: +SKIP
    """

    def __init__(
        self,
        scan_dir: str | os.PathLike[str],
        *,
        model: str | None = None,
        x: str = "r50",
        y: str = "inv_jsd",
        client: Any = None,
        prerender: bool = True,
    ) -> None:
        super().__init__(layout=widgets.Layout(width="100%"))
        self._prerender = prerender
        self.scan_dir = Path(scan_dir)
        self.x, self.y, self.client = x, y, client
        self._requested_model = model
        self._scan: Any = None
        self._results: dict[str, Any] = {}
        self._png: dict[tuple[str, str, str], bytes] = {}
        self._lock = threading.RLock()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.future: concurrent.futures.Future | None = None

        self.title = widgets.HTML()
        self.model_dd = widgets.Dropdown(description="model", layout=widgets.Layout(width="260px"))
        self.seed_dd = widgets.Dropdown(description="seed", layout=widgets.Layout(width="160px"))
        self.slider = strength_slider([0.0])
        self.metrics = widgets.HTML(layout=widgets.Layout(min_height="2.5em"))
        self.roc = FigurePanel()
        self.sculpt = FigurePanel()
        self.pareto = FigurePanel()
        self.error = widgets.HTML()
        self.new_strength = widgets.BoundedFloatText(
            value=1.0, min=0.0, max=1e9, step=0.1, description="new λ",
            layout=widgets.Layout(width="180px"),
        )  # fmt: skip
        self.train_button = widgets.Button(
            description="train this λ", icon="play", button_style="primary",
            tooltip="train the workflow at the new λ and add the point to the scan",
        )  # fmt: skip
        self.progress = widgets.FloatProgress(
            value=0.0, min=0.0, max=1.0, bar_style="info", layout=widgets.Layout(width="160px")
        )
        self.progress.layout.visibility = "hidden"
        self.status = widgets.HTML()
        figures = widgets.HBox(
            [self.roc.image, self.sculpt.image, self.pareto.image],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        self.controls = widgets.HBox([self.model_dd, self.seed_dd, self.slider])
        train = widgets.HBox([self.new_strength, self.train_button, self.progress, self.status])
        self.children = [self.title, self.error, self.controls, self.metrics, figures, train]
        self.add_class("decorr-disco-scanner")

        self.train_button.on_click(lambda _b: self.train(self.new_strength.value))
        self.reload()
        self.slider.observe(self._on_change, names="value")
        self.model_dd.observe(self._on_change, names="value")
        self.seed_dd.observe(self._on_change, names="value")

    # -- data ---------------------------------------------------------------
    @property
    def table(self) -> Any:
        """The scan table (:attr:`decorr_af.scan.ScanResult.table`) currently shown."""
        return None if self._scan is None else self._scan.table

    def reload(self, *, select: float | None = None) -> None:
        """Re-read the scan directory (e.g. after new points finished)."""
        try:
            from decorr_af.scan import load_scan

            if not self.scan_dir.is_dir():
                raise ConfigError(f"scan directory {self.scan_dir} does not exist")
            scan = load_scan(self.scan_dir)
            table = scan.table
            if table is None or len(table) == 0:
                raise ConfigError(f"scan directory {self.scan_dir} has no finished point yet")
            if "strength" not in table.columns:
                raise ConfigError(f"scan {self.scan_dir} has no 'strength' parameter column")
            models = _models_with(table, self.x)
            if not models:
                raise ConfigError(
                    f"scan {self.scan_dir} has no '<model>.{self.x}' metric "
                    f"(columns: {', '.join(map(str, table.columns))})"
                )
        except (DecorrAFError, OSError, ValueError, KeyError, ImportError) as err:
            self._show_error(err, context=f"Cannot open scan {self.scan_dir}")
            return
        with self._lock:
            self._scan = scan
            self._results.clear()
            self._png.clear()
        model = self.model_dd.value or self._requested_model or _primary_model(scan, models)
        if model not in models:
            self._show_error(
                ConfigError(f"model '{model}' not in scan (have: {', '.join(models)})"),
                context=f"Scan {self.scan_dir}",
            )
            model = models[0]
        seeds = sorted({int(s) for s in table["seed"]}) if "seed" in table.columns else [0]
        old = self.slider.value if select is None else float(select)
        with self.hold_trait_notifications():
            self.model_dd.options = models
            self.model_dd.value = model
            self.seed_dd.options = seeds
            self.seed_dd.value = self.seed_dd.value if self.seed_dd.value in seeds else seeds[0]
            self.seed_dd.layout.display = None if len(seeds) > 1 else "none"
            fresh = strength_slider(table["strength"], value=old)
            self.slider.options = fresh.options
            self.slider.value = fresh.value
        workflow = getattr(scan, "workflow", None) or ""
        self.title.value = (
            f"<h3 style='margin:0.2em 0'>DisCo strength scanner"
            f"{' — ' + html.escape(str(workflow)) if workflow else ''}</h3>"
            f"<div style='color:#666'>{html.escape(str(self.scan_dir))} · {len(table)} points · "
            f"λ ∈ {{{', '.join(label for label, _ in self.slider.options)}}}</div>"
        )
        self.update()
        if self._prerender:
            self.prerender()

    def _point_id(self, strength: float, seed: int) -> str:
        table = self.table
        rows = table[np.isclose(table["strength"].astype(float), strength, rtol=1e-12, atol=0)]
        if "seed" in rows.columns and (rows["seed"] == seed).any():
            rows = rows[rows["seed"] == seed]
        if len(rows) == 0:
            raise ConfigError(f"no finished point at λ = {format_strength(strength)}")
        return str(rows["id"].iloc[0])

    def result(self, point_id: str) -> Any:
        """The (cached) :class:`~decorr_af.workflows.base.RunResult` of a point."""
        with self._lock:
            if point_id not in self._results:
                self._results[point_id] = self._scan.result(point_id)
            return self._results[point_id]

    # -- display ------------------------------------------------------------
    def _on_change(self, change: Any = None) -> None:
        self.update()
        if self._prerender and change is not None and change.get("owner") is self.model_dd:
            self.prerender()

    def update(self) -> None:
        """Redraw metrics and figures for the selected model / λ / seed."""
        if self._scan is None:
            return
        model, strength, seed = self.model_dd.value, float(self.slider.value), self.seed_dd.value
        try:
            pid = self._point_id(strength, seed)
            row = self.table[self.table["id"].astype(str) == pid].iloc[0]
            items = [
                (key, label, float(row[f"{model}.{key}"]))
                for key, label in SHOWN_METRICS
                if f"{model}.{key}" in row.index
            ]
            if not items:
                raise ConfigError(f"point {pid} has no metrics for model '{model}'")
            notes = [f"point {pid} · λ = {format_strength(strength)} · seed {row.get('seed', '')}"]
            notes += _seed_spread(self.table, model, strength, [k for k, _, _ in items])
            self.metrics.value = metrics_html(items, title=f"{model}", notes=notes)
            self.error.value = ""
            self.pareto.image.value = self._cached(
                pid, model, "pareto",
                lambda fig: _draw_pareto(fig, self._scan, model, self.x, self.y, pid),
            )  # fmt: skip
            res = self.result(pid)
            self.roc.image.value = self._cached(
                pid, model, "roc", lambda fig: _draw_roc(fig, res, model, row)
            )
            self.sculpt.image.value = self._cached(
                pid, model, "sculpt", lambda fig: _draw_sculpting(fig, res, model, row)
            )
        except Exception as err:  # shown in the widget instead of a traceback wall
            self._show_error(err, context=f"λ = {format_strength(strength)}, model {model}")

    def _cached(self, pid: str, model: str, panel: str, painter: Any) -> bytes:
        key = (pid, model, panel)
        with self._lock:
            png = self._png.get(key)
        if png is None:
            png = self.roc.render(painter)
            with self._lock:
                self._png[key] = png
        return png

    def prerender(self) -> threading.Thread:
        """Render every point of the current model in a background thread (fast switching)."""
        scan, model = self._scan, self.model_dd.value

        def draw_point(pid: str) -> None:
            row = scan.table[scan.table["id"].astype(str) == pid].iloc[0]
            res = self.result(pid)
            self._cached(pid, model, "roc", lambda f: _draw_roc(f, res, model, row))
            self._cached(pid, model, "sculpt", lambda f: _draw_sculpting(f, res, model, row))
            self._cached(
                pid, model, "pareto", lambda f: _draw_pareto(f, scan, model, self.x, self.y, pid)
            )

        def work() -> None:
            for pid in list(scan.table["id"].astype(str)):
                if scan is not self._scan or model != self.model_dd.value:
                    return  # reloaded or model changed: stale work
                try:
                    draw_point(pid)
                except Exception:
                    continue

        thread = threading.Thread(target=work, name="decorr-af-prerender", daemon=True)
        thread.start()
        return thread

    def _show_error(self, err: BaseException, *, context: str) -> None:
        self.error.value = error_html(err, context=context)

    # -- training -----------------------------------------------------------
    def train(self, strength: float, *, seed: int | None = None) -> concurrent.futures.Future:
        """Train a new point at ``strength`` in the background and add it to the scan.

        Returns a :class:`concurrent.futures.Future` (also kept as :attr:`future`);
        when it finishes the scan is reloaded and the slider moves to the new λ.
        """
        strength = float(strength)
        if not np.isfinite(strength) or strength < 0:
            err = ConfigError(f"parameter 'strength' must be a finite λ ≥ 0, got {strength}")
            self._show_error(err, context="train this λ")
            raise err
        if self.future is not None and not self.future.done():
            self.status.value = "<i>a training is already running…</i>"
            return self.future
        seed = int(self.seed_dd.value if seed is None else seed)
        self.train_button.disabled = True
        self.progress.layout.visibility = "visible"
        self.progress.value = 0.05
        label = format_strength(strength)
        self.status.value = f"training λ = {label} (seed {seed})…"
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, "decorr-af-train")
        start = time.monotonic()
        done = threading.Event()

        def tick() -> None:  # progress indicator while the job runs
            while not done.wait(0.5):
                elapsed = time.monotonic() - start
                self.progress.value = min(0.95, 0.05 + 0.9 * (1 - np.exp(-elapsed / 60)))
                self.status.value = f"training λ = {label} (seed {seed})… {elapsed:.0f} s"

        threading.Thread(target=tick, daemon=True).start()
        self.future = self._executor.submit(
            _train_point, self.scan_dir, strength, seed, self.client
        )

        def finished(fut: concurrent.futures.Future) -> None:
            done.set()
            err = fut.exception()
            if err is not None:
                self.status.value = ""
                self._show_error(err, context=f"training λ = {label} failed")
            else:
                self.reload(select=strength)
                self.status.value = (
                    f"λ = {label} done in {time.monotonic() - start:.0f} s and added to the scan"
                )
            self.progress.layout.visibility = "hidden"
            self.train_button.disabled = False

        self.future.add_done_callback(finished)
        return self.future


# -- helpers (widget-specific; statistics come from decorr_af.metrics) --------
def _models_with(table: Any, metric: str) -> list[str]:
    """Model names that have a ``<model>.<metric>`` column, in column order."""
    return [c[: -len(metric) - 1] for c in map(str, table.columns) if c.endswith(f".{metric}")]


def _primary_model(scan: Any, models: list[str]) -> str:
    """The workflow's ``PRIMARY_MODEL`` if the scan has it, else a DisCo model, else the first."""
    workflow = getattr(scan, "workflow", None)
    try:
        from decorr_af.workflows import get_workflow

        primary = getattr(get_workflow(workflow), "PRIMARY_MODEL", None) if workflow else None
    except (ImportError, DecorrAFError):
        primary = None
    if primary in models:
        return primary
    return next((m for m in models if "disco" in m), models[0])


def _seed_spread(table: Any, model: str, strength: float, keys: list[str]) -> list[str]:
    """A note with mean ± std over seeds at this λ (empty with one seed)."""
    rows = table[np.isclose(table["strength"].astype(float), strength, rtol=1e-12, atol=0)]
    if len(rows) < 2:
        return []
    parts = []
    for key in keys:
        col = rows[f"{model}.{key}"].astype(float)
        parts.append(f"{key} {col.mean():.4g} ± {col.std(ddof=1):.2g}")
    return [f"over {len(rows)} seeds: " + ", ".join(parts)]


def _draw_roc(fig: Any, res: Any, model: str, row: Any) -> None:
    """ROC curves (:func:`decorr_af.plot.photon_id.plot_roc`) with the R50 point marked."""
    from decorr_af.plot._common import model_list
    from decorr_af.plot.photon_id import plot_roc

    have = model_list(res)
    if model not in have:
        raise ConfigError(f"point has no scores of model '{model}' (have: {', '.join(have)})")
    models = [m for m in ("plain_mlp", model) if m in have]
    ax = fig.add_subplot()
    plot_roc(res, models=list(dict.fromkeys(models)), ax=ax, min_efficiency=0.2)
    r50 = float(row.get(f"{model}.r50", np.nan))
    ax.plot([0.5], [r50], marker="*", ms=14, color="gold", mec="k", ls="none",
            label=f"R50 = {r50:.4g}")  # fmt: skip
    ax.legend(
        loc="upper right", fontsize="small", title=f"λ = {format_strength(res.strength or 0.0)}"
    )


def _draw_sculpting(fig: Any, res: Any, model: str, row: Any) -> None:
    """Isolation of fakes passing / failing the working point (with 1/JSD)."""
    from decorr_af.plot.photon_id import plot_isolation_pass_fail

    art = plot_isolation_pass_fail(res, model, ax=fig.add_subplot())
    inv = float(row.get(f"{model}.inv_jsd", np.nan))
    wp = res.config.get("wp_efficiency") if isinstance(res.config, dict) else None
    where = f"ε_S = {100 * wp:.0f} % WP" if wp else "working point"
    art.ax.text(0.97, 0.5, f"{where}\n1/JSD = {inv:.4g}", transform=art.ax.transAxes, ha="right")


def _draw_pareto(fig: Any, scan: Any, model: str, x: str, y: str, pid: str) -> None:
    """The scan's Pareto plane (:func:`decorr_af.plot.scan.pareto_plot`), current point circled."""
    from decorr_af.plot.scan import pareto_plot

    ax = fig.add_subplot()
    pareto_plot(scan, f"{model}.{x}", f"{model}.{y}", ax=ax, atlas=False)
    row = scan.table[scan.table["id"].astype(str) == pid]
    ax.scatter(
        row[f"{model}.{x}"], row[f"{model}.{y}"], s=260, marker="*", color="gold",
        edgecolors="k", zorder=5, label="selected",
    )  # fmt: skip
    ax.legend(loc="best", fontsize="x-small")
    ax.set_title("Pareto plane (seed means)")


def _train_point(scan_dir: Path, strength: float, seed: int, client: Any) -> Any:
    """Add one point to the scan with :func:`decorr_af.scan.scan` (blocking; runs in a thread).

    The scan's own workflow and base config are reused, so the point joins the
    existing ``scan.json``. ``client`` is a ``distributed.Client``, a cluster
    spec, or ``None`` for ``"local"``.
    """
    import importlib

    from decorr_af.scan import load_scan, scan

    existing = load_scan(scan_dir)
    module = existing.info.get("workflow_module") or existing.workflow
    workflow = importlib.import_module(module) if "." in module else module
    where: dict[str, Any] = {"cluster": client or "local"}
    if client is not None and hasattr(client, "submit"):
        where = {"client": client}
    return scan(
        workflow, existing.config, strengths=[float(strength)], seeds=[int(seed)],
        out=scan_dir, progress=False, **where,
    )  # fmt: skip

"""The DisCo strength scanner: browse (and extend) a λ scan of any decorrelation workflow.

For the λ chosen on a slider it shows three panels drawn by :mod:`decorr_af.plot.scanner`:
the performance (ROC curve and R50 where the workflow has labels and scores — photon
ID, ttH; the MC response E_pred/E_true and its resolution for the calibration), the
protected variable of the two populations the decorrelation compares (the
``hists["protected"]`` convention of :mod:`decorr_af.workflows.vocabulary`: background
passing / failing the cut vs isolation or m_γγ; MC / data predicted E_corr/E_raw) with
1/JSD, dCor, KS or α, and the Pareto plane of the scan with the current point starred.
A button trains a new λ in the background (a thread, or the Dask cluster through
:func:`decorr_af.scan.scan`); the slider gains the new value when it is done.
All state lives in the scan directory.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import html
import math
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

#: metrics shown for the selected point: (metric name, label); absent ones are skipped
SHOWN_METRICS = (
    ("r50", "R50"),
    ("eff_at_tight_rej", "ε_S at Tight rejection"),
    ("r_bkg", "R_bkg"),
    ("significance", "Z (Asimov)"),
    ("spurious_rel", "spurious S / S"),
    ("inv_jsd", "1/JSD"),
    ("inv_jsd_ceiling", "1/JSD ceiling"),
    ("dcor", "dCor"),
    ("abcd_nonclosure", "ABCD non-closure"),
    ("auc", "AUC"),
    ("resolution_mc", "MC resolution (IQR/2)"),
    ("response_mc", "MC response"),
    ("pred_ks", "KS(ĉ MC, data)"),
    ("alpha", "Z→ee α"),
    ("abs_gap", "|α|"),
    ("cprime", "Z→ee c′"),
)
#: default Pareto planes, first one the scan has: (x metric, y metric, maximize x, y)
PLANES = (
    ("r50", "inv_jsd", (True, True)),  # classifiers: photon ID, ttH
    ("resolution_mc", "abs_gap", (False, False)),  # calibration with Z→ee
    ("resolution_mc", "pred_ks", (False, False)),  # calibration, photons only
)
#: seconds between two updates of the training progress indicator
TICK_S = 0.5


class DiscoScanner(widgets.VBox):
    """Interactive view of a decorrelation-strength (λ) scan.

    Parameters
    ----------
    scan_dir
        A scan directory written by :func:`decorr_af.scan.scan` (``scan.json``
        and ``points/<id>/``).
    model
        Model whose metrics and panels are shown (default: the workflow's
        ``PRIMARY_MODEL``, else a DisCo model, else the first model with the plane's
        metrics).
    x, y
        Metric names of the Pareto plane (default: the first of :data:`PLANES`
        the scan has — ``r50``/``inv_jsd`` for classifiers, ``resolution_mc``/
        ``abs_gap`` or ``pred_ks`` for the calibration).
    maximize
        Whether larger is better along ``x`` and ``y`` (default: from :data:`PLANES`,
        else ``(True, True)``).
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
        x: str | None = None,
        y: str | None = None,
        maximize: tuple[bool, bool] | None = None,
        client: Any = None,
        prerender: bool = True,
    ) -> None:
        super().__init__(layout=widgets.Layout(width="100%"))
        self._prerender = prerender
        self.scan_dir = Path(scan_dir)
        self._plane_request = (x, y, maximize)
        self.x, self.y, self.client = x or "r50", y or "inv_jsd", client
        self.maximize = maximize or (True, True)
        self._tidy: Any = None
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
        # a plain FloatText: a bounded one would silently clamp λ = -1 to 0 and train that
        self.new_strength = widgets.FloatText(
            value=1.0, step=0.1, description="new λ", layout=widgets.Layout(width="180px")
        )
        self.train_button = widgets.Button(
            description="train this λ", icon="play", button_style="primary",
            tooltip="train the workflow at the new λ and add the point to the scan",
        )  # fmt: skip
        self.progress = widgets.FloatProgress(
            value=0.0, min=0.0, max=1.0, bar_style="info", layout=widgets.Layout(width="160px")
        )
        self.progress.layout.visibility = "hidden"
        self.status = widgets.HTML()
        self._status_lock = threading.Lock()
        self._job = 0  # token of the current training job; the status belongs to it
        self._ticker: threading.Thread | None = None
        self.figures = widgets.HBox(
            [self.roc.image, self.sculpt.image, self.pareto.image],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        self.controls = widgets.HBox([self.model_dd, self.seed_dd, self.slider])
        self.train_box = widgets.HBox(
            [self.new_strength, self.train_button, self.progress, self.status]
        )
        self.children = [self.title, self.error]  # until a scan is loaded: the error only
        self.add_class("decorr-disco-scanner")

        self.train_button.on_click(self._on_train_click)
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
            self.x, self.y, self.maximize = _plane(scan, *self._plane_request)
            models = _models_with(scan, self.x, self.y)
            if not models:
                raise ConfigError(
                    f"scan {self.scan_dir} has no model with metrics '{self.x}' and '{self.y}' "
                    f"(models and groups: {', '.join(scan.prefixes()) or 'none'})"
                )
        except (DecorrAFError, OSError, ValueError, KeyError, ImportError) as err:
            self._show_error(err, context=f"Cannot open scan {self.scan_dir}")
            if self._scan is None:
                self._set_ready(False)
            return
        with self._lock:
            self._scan = scan
            self._tidy = scan.metrics_table()
            self._results.clear()
            self._png.clear()
        self._set_ready(True)
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

    def _set_ready(self, ready: bool) -> None:
        """Show the controls, figures and actions only when a scan is loaded.

        In the error state (e.g. a missing scan directory) the widget shows the
        error alone: no empty dropdowns, no blank images, no train button to press.
        """
        if ready:
            self.children = [
                self.title, self.error, self.controls, self.metrics, self.figures, self.train_box
            ]  # fmt: skip
        else:
            self.children = [self.title, self.error]
            self.title.value = "<h3 style='margin:0.2em 0'>DisCo strength scanner</h3>"
        for w in (self.model_dd, self.seed_dd, self.slider, self.new_strength):
            w.disabled = not ready
        busy = self.future is not None and not self.future.done()
        self.train_button.disabled = not ready or busy

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
            values = self.point_metrics(pid, model)
            items = [(key, label, values[key]) for key, label in SHOWN_METRICS if key in values]
            if not items:
                raise ConfigError(f"point {pid} has no metrics for model '{model}'")
            row = self.table[self.table["id"].astype(str) == pid].iloc[0]
            notes = [f"point {pid} · λ = {format_strength(strength)} · seed {row.get('seed', '')}"]
            notes += _seed_spread(self._tidy, model, strength, [k for k, _, _ in items])
            self.metrics.value = metrics_html(items, title=f"{model}", notes=notes)
            self.error.value = ""
            for panel, painter in self._painters(pid, model).items():
                panel.image.value = self._cached(pid, model, panel, painter)
        except Exception as err:  # shown in the widget instead of a traceback wall
            self._show_error(err, context=f"λ = {format_strength(strength)}, model {model}")

    def point_metrics(self, point_id: str, model: str) -> dict[str, float]:
        """``{metric: value}`` of ``model`` at one point (from the scan's tidy table)."""
        t = self._tidy
        rows = t[(t["id"].astype(str) == str(point_id)) & (t["model"] == model)]
        return {str(k): float(v) for k, v in zip(rows["metric"], rows["value"])}

    def _panels(self) -> dict[str, FigurePanel]:
        return {"roc": self.roc, "sculpt": self.sculpt, "pareto": self.pareto}

    def _painters(self, pid: str, model: str) -> dict[FigurePanel, Any]:
        """The three panels' painters (figure -> drawing) for one point and model."""
        from decorr_af.plot.scanner import (
            plot_point_performance,
            plot_point_protected,
            plot_scan_plane,
        )

        scan, x, y, maximize = self._scan, self.x, self.y, self.maximize
        res = self.result(pid)
        return {
            self.pareto: lambda fig: plot_scan_plane(
                scan, model, x, y, selected=pid, maximize=maximize, ax=fig.add_subplot()
            ),
            self.roc: lambda fig: plot_point_performance(res, model, ax=fig.add_subplot()),
            self.sculpt: lambda fig: plot_point_protected(res, model, ax=fig.add_subplot()),
        }

    def _cached(self, pid: str, model: str, panel: FigurePanel, painter: Any) -> bytes:
        name = next(k for k, v in self._panels().items() if v is panel)
        key = (pid, model, name)
        with self._lock:
            png = self._png.get(key)
        if png is None:
            png = panel.render(painter)
            with self._lock:
                self._png[key] = png
        return png

    def prerender(self) -> threading.Thread:
        """Render every point of the current model in a background thread (fast switching)."""
        scan, model = self._scan, self.model_dd.value

        def draw_point(pid: str) -> None:
            for panel, painter in self._painters(pid, model).items():
                self._cached(pid, model, panel, painter)

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
    def _on_train_click(self, _button: Any = None) -> None:
        """The button: a refused λ is shown in the widget (not raised into the kernel log)."""
        with contextlib.suppress(DecorrAFError):  # train() has shown it
            self.train(self.new_strength.value)

    def _set_status(self, job: int, text: str) -> bool:
        """Write the status line if ``job`` still owns it; the progress thread goes through here."""
        with self._status_lock:
            if job != self._job:
                return False
            self.status.value = text
            return True

    def train(self, strength: float, *, seed: int | None = None) -> concurrent.futures.Future:
        """Train a new point at ``strength`` in the background and add it to the scan.

        Returns a :class:`concurrent.futures.Future` (also kept as :attr:`future`)
        that completes only when everything is done: the point is trained, the scan
        reloaded, the slider moved to the new λ and the final status written. A
        refused λ (negative, not finite) raises :class:`~decorr_af.errors.ConfigError`
        and is shown in the widget; nothing is trained.
        """
        try:
            strength = float(strength)
        except (TypeError, ValueError):
            strength = math.nan
        if not math.isfinite(strength) or strength < 0:
            err = ConfigError(
                f"parameter 'strength' (new λ) must be a finite number ≥ 0, got {strength:g}: "
                "nothing was trained"
            )
            self._show_error(err, context="train this λ")
            with self._status_lock:
                self.status.value = (
                    f"<span class='decorr-refused' style='color:#a94442'>"
                    f"λ = {strength:g} refused</span>"
                )
            raise err
        if self._scan is None:
            err = ConfigError(f"scan {self.scan_dir} is not loaded: nothing to add a point to")
            self._show_error(err, context="train this λ")
            raise err
        if self.future is not None and not self.future.done():
            self.status.value = "<i>a training is already running…</i>"
            return self.future
        seed = int(self.seed_dd.value if seed is None else seed)
        label = format_strength(strength)
        with self._status_lock:
            self._job += 1
            job = self._job
            self.status.value = f"training λ = {label} (seed {seed})…"
        self.error.value = ""
        self.train_button.disabled = True
        self.progress.layout.visibility = "visible"
        self.progress.value = 0.05
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, "decorr-af-train")
        start = time.monotonic()
        done = threading.Event()
        outcome: concurrent.futures.Future = concurrent.futures.Future()
        self.future = outcome

        def tick() -> None:  # progress indicator while the job runs
            while not done.wait(TICK_S):
                elapsed = time.monotonic() - start
                with self._status_lock:  # done is set under this lock: no write after it
                    if done.is_set() or job != self._job:
                        return
                    self.progress.value = min(0.95, 0.05 + 0.9 * (1 - np.exp(-elapsed / 60)))
                    self.status.value = f"training λ = {label} (seed {seed})… {elapsed:.0f} s"

        self._ticker = threading.Thread(target=tick, name="decorr-af-train-progress", daemon=True)
        self._ticker.start()
        ticker = self._ticker

        def finished(fut: concurrent.futures.Future) -> None:
            with self._status_lock:
                done.set()
            ticker.join()  # the progress thread has stopped: the final status is the last word
            err = fut.exception()
            try:
                if err is not None:
                    self._set_status(job, "")
                    self._show_error(err, context=f"training λ = {label} failed")
                else:
                    self.reload(select=strength)
                    self._set_status(
                        job,
                        f"λ = {label} done in {time.monotonic() - start:.0f} s "
                        "and added to the scan",
                    )
            except Exception as exc:  # a failed reload is shown, never lost in a thread
                err = exc
                self._show_error(exc, context=f"reloading the scan after λ = {label}")
            finally:
                self.progress.layout.visibility = "hidden"
                self.train_button.disabled = self._scan is None
                if err is None:
                    outcome.set_result(fut.result())
                else:
                    outcome.set_exception(err)

        self._executor.submit(_train_point, self.scan_dir, strength, seed, self.client
                              ).add_done_callback(finished)  # fmt: skip
        return outcome


# -- helpers (widget-specific; drawing lives in decorr_af.plot.scanner) --------
def _plane(
    scan: Any, x: str | None, y: str | None, maximize: tuple[bool, bool] | None
) -> tuple[str, str, tuple[bool, bool]]:
    """The Pareto plane: the requested metrics, else the first of :data:`PLANES` the scan has."""
    if x is not None and y is not None:
        return x, y, maximize or (True, True)
    for px, py, pmax in PLANES:
        if (x in (None, px)) and (y in (None, py)) and _models_with(scan, px, py):
            return px, py, maximize or pmax
    px, py, pmax = PLANES[0]
    return x or px, y or py, maximize or pmax


def _models_with(scan: Any, x: str, y: str) -> list[str]:
    """Models (metric prefixes) that have both metrics ``x`` and ``y``, in column order."""
    with_y = set(scan.models_with(y))
    return [m for m in scan.models_with(x) if m in with_y]


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


def _seed_spread(tidy: Any, model: str, strength: float, keys: list[str]) -> list[str]:
    """A note with mean ± std over seeds at this λ (empty with one seed)."""
    at = tidy[
        np.isclose(tidy["strength"].astype(float), strength, rtol=1e-12, atol=0)
        & (tidy["model"] == model)
    ]
    if at["id"].nunique() < 2:
        return []
    parts = []
    for key in keys:
        col = at.loc[at["metric"] == key, "value"].astype(float)
        parts.append(f"{key} {col.mean():.4g} ± {col.std(ddof=1):.2g}")
    return [f"over {at['id'].nunique()} seeds: " + ", ".join(parts)]


def _train_point(scan_dir: Path, strength: float, seed: int, client: Any) -> Any:
    """Add one point to the scan with :func:`decorr_af.scan.scan` (blocking; runs in a thread).

    The scan's own workflow and base config are reused, so the point joins the
    existing ``scan.json``. The workflow is looked up by name in the package's
    registry (:func:`decorr_af.workflows.get_workflow`): a module path written in
    ``scan.json`` is never imported. ``client`` is a ``distributed.Client``, a
    cluster spec, or ``None`` for ``"local"``.
    """
    from decorr_af.scan import load_scan, scan
    from decorr_af.workflows import get_workflow

    existing = load_scan(scan_dir)
    workflow = get_workflow(existing.workflow)  # ConfigError for an unregistered name
    where: dict[str, Any] = {"cluster": client or "local"}
    if client is not None and hasattr(client, "submit"):
        where = {"client": client}
    return scan(
        workflow, existing.config, strengths=[float(strength)], seeds=[int(seed)],
        out=scan_dir, progress=False, **where,
    )  # fmt: skip

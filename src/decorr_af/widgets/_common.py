"""Pieces shared by the widgets: figures as PNG images, readable errors, λ sliders.

Figures are drawn on a bare :class:`matplotlib.figure.Figure` (no pyplot, no
interactive backend) and shipped to the browser as PNG bytes in an
:class:`ipywidgets.Image`. This works identically in JupyterLab, classic
notebooks and Voilà, needs no front-end extension and is safe to call from a
background thread.
"""

from __future__ import annotations

import html
import io
import math
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from decorr_af._compat import optional_import
from decorr_af.errors import DecorrAFError

__all__ = [
    "FigurePanel",
    "error_html",
    "figure_to_png",
    "format_metric",
    "format_strength",
    "metrics_html",
    "new_figure",
    "strength_slider",
]

#: CSS class of every metric ``<span>`` (tests and users can find them by it)
METRIC_CLASS = "decorr-metric"
_DPI = 96
#: matplotlib's rcParams are global: figures are drawn one at a time across threads
RENDER_LOCK = threading.RLock()


def _widgets() -> Any:
    return optional_import("ipywidgets", "widgets")


def new_figure(*, figsize: tuple[float, float] = (5.0, 3.8), **subplot_kw: Any) -> Any:
    """A pyplot-free matplotlib figure (rendered with Agg when saved).

    Examples
    --------
    >>> fig = new_figure()
    >>> ax = fig.add_subplot()
    """
    optional_import("matplotlib", "plot")
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=_DPI, **subplot_kw)
    # fixed margins: a layout engine costs more than the drawing itself
    fig.subplots_adjust(left=0.17, right=0.95, bottom=0.13, top=0.9, hspace=0.06, wspace=0.08)
    return fig


def figure_to_png(fig: Any, *, dpi: int = _DPI) -> bytes:
    """Render a matplotlib figure to PNG bytes with the Agg canvas.

    Examples
    --------
    >>> fig = new_figure()
    >>> _ = fig.add_subplot().plot([0, 1])
    >>> figure_to_png(fig)[:4]
    b'\\x89PNG'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


@contextmanager
def plot_style() -> Iterator[None]:
    """Apply the package's plot style (:func:`decorr_af.plot.style.use_style`) if available.

    Widget figures are small, so fonts are scaled down inside this context.
    """
    import matplotlib as mpl

    try:
        from decorr_af.plot.style import use_style
    except ImportError:  # plot package not available: plain matplotlib
        use_style = None
    if use_style is not None:
        use_style()
    with mpl.rc_context(
        {
            "font.size": 10,
            "axes.labelsize": 10,
            "legend.fontsize": 8,
            "xtick.labelsize": 9,
            "ytick.labelsize": 9,
            "axes.titlesize": 10,
        }
    ):
        yield


def format_strength(value: float) -> str:
    """Short, readable label of a decorrelation strength λ.

    Examples
    --------
    >>> [format_strength(v) for v in (0.0, 0.001, 0.5, 3.0, 30.0, 2500.0)]
    ['0', '0.001', '0.5', '3', '30', '2.5e+03']
    """
    value = float(value)
    if value == 0.0:
        return "0"
    if not math.isfinite(value):
        return str(value)
    if 1e-3 <= abs(value) < 1e3:
        return f"{value:.3g}"
    return f"{value:.2g}"


def format_metric(value: float) -> str:
    """Format a metric value with four significant digits (``nan`` stays ``nan``).

    Examples
    --------
    >>> format_metric(23.4183), format_metric(150.24), format_metric(0.04312)
    ('23.42', '150.2', '0.04312')
    """
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1e4:
        return f"{value:.0f}"
    return f"{value:.4g}"


def metrics_html(
    items: Sequence[tuple[str, str, float]],
    *,
    title: str | None = None,
    notes: Sequence[str] = (),
) -> str:
    """HTML for a row of metrics; each is ``<span class="decorr-metric" data-metric=key>``.

    Parameters
    ----------
    items
        ``(key, label, value)`` triples, displayed as ``label = value``.

    Examples
    --------
    >>> "<b>R50</b> = 23.4" in metrics_html([("r50", "R50", 23.4)])
    True
    """
    spans = [
        f'<span class="{METRIC_CLASS}" data-metric="{html.escape(key)}" '
        f'style="margin-right:1.5em;font-size:1.15em">'
        f"<b>{html.escape(label)}</b> = {html.escape(format_metric(value))}</span>"
        for key, label, value in items
    ]
    head = f"<div style='font-weight:600'>{html.escape(title)}</div>" if title else ""
    tail = "".join(f"<div style='color:#555'>{html.escape(n)}</div>" for n in notes)
    return f"<div class='decorr-metrics'>{head}<div>{''.join(spans)}</div>{tail}</div>"


def error_html(err: BaseException | str, *, context: str | None = None) -> str:
    """A readable, boxed error message (no traceback wall) for display in a widget.

    Known :class:`~decorr_af.errors.DecorrAFError` and I/O errors show their
    message only; unexpected errors add the last traceback frame.

    Examples
    --------
    >>> "no such dir" in error_html(FileNotFoundError("no such dir"))
    True
    """
    if isinstance(err, str):
        kind, message, where = "Error", err, ""
    else:
        kind = type(err).__name__
        message = str(err) or kind
        where = ""
        if not isinstance(err, (DecorrAFError, OSError, ValueError, KeyError)):
            frames = traceback.extract_tb(err.__traceback__)
            if frames:
                last = frames[-1]
                where = f"{last.filename}:{last.lineno} in {last.name}"
    lines = [f"<b>{html.escape(kind)}</b>: {html.escape(message)}"]
    if context:
        lines.insert(0, f"<div style='font-weight:600'>{html.escape(context)}</div>")
    if where:
        lines.append(f"<div style='color:#777;font-size:0.85em'>{html.escape(where)}</div>")
    return (
        "<div class='decorr-error' style='border:1px solid #d9534f;background:#fdf2f2;"
        "color:#a94442;padding:0.6em 0.9em;border-radius:4px;white-space:pre-wrap'>"
        + "".join(lines)
        + "</div>"
    )


def strength_slider(
    values: Sequence[float], *, value: float | None = None, description: str = "λ"
) -> Any:
    """A :class:`ipywidgets.SelectionSlider` over the distinct λ values of a scan.

    The positions are equally spaced by rank, so a log-spaced scan moves on a
    log scale while λ = 0 still gets its own position; labels use
    :func:`format_strength`.

    Examples
    --------
    >>> s = strength_slider([0.0, 1.0, 0.1, 10.0])
    >>> s.options[0], s.value
    (('0', 0.0), 0.0)
    """
    w = _widgets()
    vals = sorted({float(v) for v in values if np.isfinite(v)})
    if not vals:
        vals = [0.0]
    options = [(format_strength(v), v) for v in vals]
    if value is None or float(value) not in vals:
        value = vals[0]
    return w.SelectionSlider(
        options=options,
        value=float(value),
        description=description,
        continuous_update=False,
        layout=w.Layout(width="420px"),
        style={"description_width": "initial"},
    )


def log_slider(*, value: float = 1.0, min_exp: float = -3, max_exp: float = 3) -> Any:
    """A :class:`ipywidgets.FloatLogSlider` for a free λ (e.g. on-demand training).

    Examples
    --------
    >>> log_slider(value=10.0).value
    10.0
    """
    w = _widgets()
    return w.FloatLogSlider(
        value=value,
        base=10,
        min=min_exp,
        max=max_exp,
        step=0.1,
        description="new λ",
        continuous_update=False,
        readout_format=".3g",
    )


class FigurePanel:
    """An :class:`ipywidgets.Image` that shows a matplotlib figure drawn by a function.

    Parameters
    ----------
    width
        CSS width of the image.

    Examples
    --------
    >>> panel = FigurePanel()
    >>> panel.draw(lambda fig: fig.add_subplot().plot([0, 1]))
    >>> bytes(panel.image.value[:4])
    b'\\x89PNG'
    """

    def __init__(self, *, width: str = "440px", figsize: tuple[float, float] = (5.0, 3.8)):
        w = _widgets()
        self.figsize = figsize
        self.image = w.Image(format="png", layout=w.Layout(width=width, height="auto"))
        #: the last figure drawn by :meth:`render` (e.g. for :func:`decorr_af.plot.check_figure`)
        self.figure: Any = None

    def draw(self, painter: Callable[[Any], Any], *, figsize: tuple[float, float] | None = None):
        """Call ``painter(fig)`` on a new figure and display the result."""
        self.image.value = self.render(painter, figsize=figsize)

    def render(self, painter: Callable[[Any], Any], *, figsize: tuple[float, float] | None = None):
        """Return the PNG bytes of ``painter(fig)`` without displaying them."""
        with RENDER_LOCK, plot_style():
            fig = new_figure(figsize=figsize or self.figsize)
            painter(fig)
            png = figure_to_png(fig)
            self.figure = fig
            return png


class ResultSource:
    """One :class:`~decorr_af.workflows.base.RunResult` or a scan of them, loaded lazily.

    ``source`` may be a ``RunResult``, a result directory (``result.json``) or a
    scan directory (``scan.json``, read with :func:`decorr_af.scan.load_scan`).
    Loaded results are cached.

    Examples
    --------
    >>> src = ResultSource("demo-output/calibration")  # doctest: +SKIP
    >>> src.strengths, src.result(src.strengths[0])  # doctest: +SKIP
    """

    def __init__(self, source: Any) -> None:
        from pathlib import Path

        from decorr_af.errors import ConfigError, InputFileError
        from decorr_af.workflows.base import RunResult

        self.scan: Any = None
        self._single: Any = None
        self._cache: dict[str, Any] = {}
        if isinstance(source, RunResult):
            self._single = source
            self.label = f"result of {source.workflow}"
            return
        path = Path(source)
        self.label = str(path)
        if not path.exists():
            raise InputFileError(f"{path} does not exist (expected a scan or result directory)")
        if (path / "scan.json").is_file():
            from decorr_af.scan import load_scan

            self.scan = load_scan(path)
            if len(self.scan.table) == 0:
                raise ConfigError(f"scan directory {path} has no finished point yet")
        elif (path / "result.json").is_file():
            self._single = RunResult.load(path)
        else:
            raise InputFileError(f"{path} holds neither scan.json nor result.json")

    @property
    def strengths(self) -> list[float]:
        """Distinct λ values available (one entry for a single result)."""
        if self.scan is None:
            s = self._single.strength
            return [float(s) if s is not None else 0.0]
        return sorted({float(v) for v in self.scan.table["strength"]})

    def result(self, strength: float | None = None) -> Any:
        """The result at ``strength`` (lowest seed); a single result ignores it."""
        if self.scan is None:
            return self._single
        table = self.scan.table
        lam = self.strengths[0] if strength is None else float(strength)
        rows = table[np.isclose(table["strength"].astype(float), lam, rtol=1e-12, atol=0)]
        if len(rows) == 0:
            from decorr_af.errors import ConfigError

            raise ConfigError(f"scan {self.label} has no point at λ = {format_strength(lam)}")
        if "seed" in rows.columns:
            rows = rows.sort_values("seed")
        pid = str(rows["id"].iloc[0])
        if pid not in self._cache:
            self._cache[pid] = self.scan.result(pid)
        return self._cache[pid]

"""Check a matplotlib figure as a picture: overlapping text, empty axes, raw TeX.

:func:`check_figure` renders the figure with the Agg renderer and inspects what
a reader would see:

* ``overlap``: two visible text artists (axis and tick labels, titles, offset
  texts, annotations, the ATLAS label) or a text and a legend box whose
  rendered bounding boxes intersect;
* ``empty_axes``: a visible axes that draws nothing;
* ``raw_tex``: a visible text (legend entries included) that still shows ``$``
  or a ``\\command`` after rendering, i.e. TeX that was not typeset;
* ``legend``: a legend entry whose artist draws nothing inside its axes (the
  legend names a curve that is not on the plot);
* ``render``: the figure cannot be drawn at all (e.g. a mathtext syntax error).

Examples
--------
>>> from matplotlib.figure import Figure
>>> fig = Figure()
>>> ax = fig.add_subplot()
>>> _ = ax.plot([0, 1], [0, 1], label="line")
>>> _ = ax.set_xlabel(r"$p_T$ [GeV]")
>>> check_figure(fig).ok
True
>>> _ = ax.set_ylabel("$m_{yy")  # unbalanced: shown as raw text
>>> [p.kind for p in check_figure(fig).problems]
['raw_tex']
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Any

import numpy as np

from decorr_af._compat import optional_import

__all__ = ["FigureCheck", "FigureProblem", "check_figure"]

#: a TeX command left in displayed (non-math) text, e.g. ``\gamma``
_TEX_COMMAND = re.compile(r"\\[A-Za-z]+")


@dataclasses.dataclass(frozen=True)
class FigureProblem:
    """One problem found by :func:`check_figure`.

    Attributes
    ----------
    kind
        ``"overlap"``, ``"empty_axes"``, ``"raw_tex"``, ``"legend"`` or ``"render"``.
    message
        What is wrong, naming the texts or axes involved.
    """

    kind: str
    message: str


@dataclasses.dataclass
class FigureCheck:
    """Result of :func:`check_figure`: the problems found (empty when the picture is clean)."""

    problems: list[FigureProblem]

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            return "figure OK"
        return "\n".join(f"{p.kind}: {p.message}" for p in self.problems)


@dataclasses.dataclass(frozen=True)
class _Box:
    """A visible text (or legend) with its rendered bounding box in pixels."""

    name: str
    bbox: Any
    owner: Any  # the artist (for grouping) and its axes
    axes: Any


def check_figure(fig: Any, *, tolerance: float = 1.0) -> FigureCheck:
    """Render ``fig`` with Agg and report overlapping texts, empty axes and raw TeX.

    Parameters
    ----------
    fig
        A :class:`matplotlib.figure.Figure` (or anything with a ``.figure``,
        e.g. an axes).
    tolerance
        Pixels by which two boxes must overlap to count (anti-aliasing margin).

    Returns
    -------
    FigureCheck
        ``.ok`` is True when the picture is clean; ``.problems`` lists the rest.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure()
    >>> ax = fig.add_subplot()
    >>> _ = ax.plot([1, 2, 3])
    >>> _ = ax.text(0.5, 0.5, "A", transform=ax.transAxes)
    >>> _ = ax.text(0.5, 0.5, "B", transform=ax.transAxes)
    >>> check_figure(fig).problems[0].kind
    'overlap'
    """
    optional_import("matplotlib", "plot")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = getattr(fig, "figure", fig) if not hasattr(fig, "savefig") else fig
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    try:
        fig.canvas.draw()
    except Exception as err:  # a figure that cannot be drawn is the worst picture
        return FigureCheck([FigureProblem("render", f"figure cannot be drawn: {err!r}")])
    renderer = fig.canvas.get_renderer()
    problems: list[FigureProblem] = []
    boxes, texts = _visible_texts(fig, renderer)
    problems += _tex_problems(texts)
    problems += _overlaps(boxes, tolerance)
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        if _is_empty(ax):
            problems.append(
                FigureProblem("empty_axes", f"axes {i} ({_axes_name(ax)}) draws nothing")
            )
        problems += _legend_problems(ax, renderer)
    return FigureCheck(problems)


def _axes_name(ax: Any) -> str:
    parts = [ax.get_xlabel(), ax.get_ylabel(), ax.get_title()]
    return " / ".join(p for p in parts if p) or f"at {tuple(np.round(ax.get_position().bounds, 2))}"


def _tick_texts(ax: Any) -> tuple[list[Any], set[int]]:
    """Tick labels actually drawn (inside the view interval) and the ids of all tick labels."""
    drawn, every = [], set()
    for axis in (ax.xaxis, ax.yaxis):
        lo, hi = sorted(axis.get_view_interval())
        span = hi - lo
        for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
            labels = (tick.label1, tick.label2)
            every.update(id(t) for t in labels)
            loc = tick.get_loc()
            if loc is None or not (lo - 1e-9 * span <= loc <= hi + 1e-9 * span):
                continue
            if not tick.get_visible():
                continue
            drawn += [t for t in labels if t.get_visible() and t.get_text().strip()]
    return drawn, every


def _visible_texts(fig: Any, renderer: Any) -> tuple[list[_Box], list[tuple[str, Any]]]:
    """Boxes that must not overlap, and every displayed text (for the TeX check)."""
    from matplotlib.legend import Legend
    from matplotlib.text import Text

    boxes: list[_Box] = []
    texts: list[tuple[str, Any]] = []
    legend_texts: set[int] = set()
    tick_ids: set[int] = set()
    legends = [a for a in fig.findobj(Legend) if a.get_visible()]
    for leg in legends:
        inner = [*leg.get_texts(), leg.get_title()]
        legend_texts.update(id(t) for t in inner)
        texts += [("legend entry", t) for t in inner if t.get_text().strip()]
        boxes.append(_Box("legend", leg.get_window_extent(renderer), leg, leg.axes))
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        drawn, every = _tick_texts(ax)
        tick_ids |= every
        for t in drawn:
            texts.append(("tick label", t))
            boxes.append(_Box(f"tick label {t.get_text()!r}", t.get_window_extent(renderer), t, ax))
    for t in fig.findobj(Text):
        if id(t) in tick_ids or id(t) in legend_texts:
            continue
        if not t.get_visible() or not t.get_text().strip():
            continue
        if t.axes is not None and not t.axes.get_visible():
            continue
        if t.get_figure(root=True) is not fig.get_figure(root=True):
            continue
        texts.append(("text", t))
        boxes.append(_Box(f"text {t.get_text()!r}", t.get_window_extent(renderer), t, t.axes))
    return boxes, texts


def _tex_problems(texts: list[tuple[str, Any]]) -> list[FigureProblem]:
    from matplotlib import cbook

    out = []
    for what, t in texts:
        s = t.get_text()
        if t.get_usetex():
            continue
        if cbook.is_math_text(s):
            shown = re.sub(r"(?<!\\)\$.*?(?<!\\)\$", "", s)  # typeset parts removed
        else:
            shown = s
        if "$" in shown or _TEX_COMMAND.search(shown):
            out.append(FigureProblem("raw_tex", f"{what} {s!r} shows raw TeX after rendering"))
    return out


def _overlaps(boxes: list[_Box], tolerance: float) -> list[FigureProblem]:
    out = []
    for a, b in itertools.combinations(boxes, 2):
        if a.owner is b.owner or _corner(a, b):
            continue
        ba, bb = a.bbox, b.bbox
        if ba.width <= 0 or ba.height <= 0 or bb.width <= 0 or bb.height <= 0:
            continue
        dx = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
        dy = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
        if dx > tolerance and dy > tolerance:
            out.append(FigureProblem("overlap", f"{a.name} overlaps {b.name}"))
    return out


def _corner(a: _Box, b: _Box) -> bool:
    """An x and a y tick label of the same axes: they meet at the corner by design."""
    if a.axes is None or a.axes is not b.axes:
        return False
    kinds = {_tick_axis(a), _tick_axis(b)}
    return kinds == {"x", "y"}


def _tick_axis(box: _Box) -> str | None:
    ax = box.axes
    for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
        for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
            if box.owner is tick.label1 or box.owner is tick.label2:
                return name
    return None


def _is_empty(ax: Any) -> bool:
    """An axes with no data artist, no text and no image: a stray, empty frame."""
    if not ax.axison and not ax.texts:
        return False  # an invisible frame (e.g. a layout spacer) shows nothing either way
    return not ax.has_data() and not ax.texts and not ax.images and not ax.tables


def _on_axes(artist: Any, ax: Any) -> bool:
    return any(artist is child for child in ax.get_children())


def _no_data(artist: Any) -> bool:
    from matplotlib.collections import Collection
    from matplotlib.lines import Line2D

    if isinstance(artist, Line2D):
        return len(artist.get_xydata()) == 0
    if isinstance(artist, Collection):
        return len(artist.get_paths()) == 0
    return False


def _drawn_inside(artist: Any, ax: Any) -> bool:
    """Whether ``artist`` (a legend handle's source) puts anything inside the axes box."""
    from matplotlib.collections import Collection
    from matplotlib.container import Container
    from matplotlib.lines import Line2D

    if isinstance(artist, Container):
        on_axes = [c for c in artist.get_children() if _on_axes(c, ax) and not _no_data(c)]
        # an empty or proxy container (mplhep's histogram handle) cannot be judged: accept it
        return not on_axes or any(_drawn_inside(c, ax) for c in on_axes)
    if not _on_axes(artist, ax):
        return True  # a legend proxy, not an artist of the plot
    if not artist.get_visible():
        return False
    if isinstance(artist, Line2D):
        xy = np.asarray(artist.get_xydata(), dtype=float)
        transform = artist.get_transform()
        no_line = artist.get_linestyle() in ("None", "none", "", " ")
        no_marker = artist.get_marker() in (None, "None", "none", "", " ")
        if no_line and no_marker:
            return False
    elif isinstance(artist, Collection):
        xy = np.asarray(artist.get_offsets(), dtype=float)
        transform = artist.get_offset_transform()
        if xy.size == 0 or np.all(xy == 0):  # e.g. fill_between: paths carry the data
            return len(artist.get_paths()) > 0
    else:
        return True  # patches, images, histograms: drawn where they are
    if xy.size == 0:
        return False
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    if len(xy) == 0:
        return False
    with np.errstate(all="ignore"):
        pix = transform.transform(xy)
    box = ax.bbox
    inside = (
        np.isfinite(pix).all(axis=1)
        & (pix[:, 0] >= box.x0 - 1)
        & (pix[:, 0] <= box.x1 + 1)
        & (pix[:, 1] >= box.y0 - 1)
        & (pix[:, 1] <= box.y1 + 1)
    )
    return bool(inside.any())


def _legend_problems(ax: Any, renderer: Any) -> list[FigureProblem]:
    from matplotlib.lines import Line2D

    leg = ax.get_legend()
    if leg is None or not leg.get_visible():
        return []
    handles, labels = ax.get_legend_handles_labels()
    source = dict(zip(labels, handles))
    out = []
    shown = [t.get_text() for t in leg.get_texts()]
    for label in shown:
        artist = source.get(label)
        if artist is not None and not _drawn_inside(artist, ax):
            out.append(
                FigureProblem("legend", f"legend entry {label!r} names an artist not on the plot")
            )
    lines = [(lab, source[lab]) for lab in shown if isinstance(source.get(lab), Line2D)]
    for (la, a), (lb, b) in itertools.combinations(lines, 2):
        if _same_line(a, b):
            under, over = (la, lb) if a.get_zorder() <= b.get_zorder() else (lb, la)
            out.append(
                FigureProblem(
                    "legend",
                    f"legend entry {under!r} is hidden under {over!r} (identical curve)",
                )
            )
    return out


def _same_line(a: Any, b: Any) -> bool:
    """Two drawn lines with the same data and transform: the lower one cannot be seen."""
    if not (a.get_visible() and b.get_visible()) or a.get_transform() != b.get_transform():
        return False
    xa, xb = np.asarray(a.get_xydata(), float), np.asarray(b.get_xydata(), float)
    return xa.shape == xb.shape and xa.size > 1 and bool(np.allclose(xa, xb, equal_nan=True))

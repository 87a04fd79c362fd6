"""ATLAS-like mplhep style and small layout helpers shared by the plot modules."""

from __future__ import annotations

from typing import Any

from decorr_af._compat import optional_import

__all__ = ["atlas_label", "new_axes", "ratio_axes", "save", "use_style"]

_STYLE_APPLIED = False


def use_style(*, force: bool = False) -> None:
    """Apply the mplhep ATLAS style to matplotlib (once per process unless ``force``).

    Examples
    --------
    >>> from decorr_af.plot.style import use_style
    >>> use_style()
    """
    global _STYLE_APPLIED
    if _STYLE_APPLIED and not force:
        return
    mplhep = optional_import("mplhep", "plot")
    mplhep.style.use("ATLAS")
    _STYLE_APPLIED = True


def atlas_label(
    ax: Any = None,
    text: str = "Simulation Internal",
    lumi: float | None = None,
    *,
    com: float | None = 13.6,
    loc: int = 0,
    **kwargs: Any,
) -> Any:
    """Draw the "ATLAS <text>" label (and √s, luminosity) on ``ax``.

    Parameters
    ----------
    ax
        Axes to label (default: current axes).
    text
        Text after "ATLAS", e.g. ``"Simulation Internal"`` or ``"Internal"``.
    lumi
        Integrated luminosity in fb⁻¹, shown when given.
    com
        Centre-of-mass energy in TeV (``None`` hides it).
    loc
        mplhep label position (0: above the axes, 1: inside top-left, ...).

    Returns
    -------
    tuple of matplotlib.text.Text
        The artists created by mplhep.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> texts = atlas_label(ax, "Simulation Internal")
    """
    mplhep = optional_import("mplhep", "plot")
    plt = optional_import("matplotlib.pyplot", "plot")
    ax = ax if ax is not None else plt.gca()
    # data=True: mplhep would otherwise prepend its own "Simulation"
    opts: dict[str, Any] = {"ax": ax, "loc": loc, "data": True, "com": com}
    if lumi is not None:
        opts["lumi"] = lumi
    opts.update(kwargs)
    return mplhep.atlas.label(text, **opts)


def new_axes(ax: Any = None, *, figsize: tuple[float, float] = (8, 6)) -> Any:
    """Return ``ax`` or a fresh axes of a new figure (style applied)."""
    use_style()
    if ax is not None:
        return ax
    plt = optional_import("matplotlib.pyplot", "plot")
    _, ax = plt.subplots(figsize=figsize)
    return ax


def ratio_axes(ax: Any = None, *, size: str = "30%", figsize: tuple[float, float] = (8, 7)) -> Any:
    """Return ``(main, ratio)`` axes: the ratio panel is attached below ``ax``.

    If ``ax`` is ``None`` a new figure is made. The main axes' x tick labels are
    hidden and both share the x axis.
    """
    ax = new_axes(ax, figsize=figsize)
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    rax = make_axes_locatable(ax).append_axes("bottom", size=size, pad=0.0, sharex=ax)
    ax.tick_params(labelbottom=False)
    ax.set_xlabel("")
    return ax, rax


def save(fig_or_ax: Any, path: Any, *, dpi: int = 120) -> Any:
    """Save the figure of ``fig_or_ax`` to ``path`` (parents created) and return the path."""
    from pathlib import Path

    fig = getattr(fig_or_ax, "figure", fig_or_ax)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path

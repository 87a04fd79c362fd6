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
    import matplotlib as mpl

    # the ATLAS style writes 0.035 as "3.5" with a "×10⁻²" offset text in the top-left
    # corner, exactly where the ATLAS label goes: plain tick labels instead
    mpl.rcParams["axes.formatter.limits"] = (-4, 6)
    mpl.rcParams["axes.formatter.useoffset"] = False
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
    hidden and both share the x axis. Where the panels meet, the main axes drop
    their lowest y tick label and the ratio panel its highest, so the two never
    print on top of each other; the ratio panel's y label is centred on it (the
    main label, at the top of the main axes, keeps the space above).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax, rax = ratio_axes(Figure().add_subplot())
    >>> rax.set_ylabel("Data / MC").get_horizontalalignment()
    'center'
    """
    ax = new_axes(ax, figsize=figsize)
    from matplotlib.ticker import MaxNLocator
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    rax = make_axes_locatable(ax).append_axes(
        "bottom", size=size, pad=0.0, sharex=ax, axes_class=_ratio_axes_class()
    )
    ax.tick_params(labelbottom=False)
    ax.set_xlabel("")
    steps = [1, 2, 2.5, 5, 10]
    if ax.get_yscale() == "linear":
        ax.yaxis.set_major_locator(MaxNLocator(nbins="auto", steps=steps, prune="lower"))
    rax.yaxis.set_major_locator(MaxNLocator(nbins=4, steps=steps, prune="upper"))
    return ax, rax


_RATIO_AXES: Any = None


def _ratio_axes_class() -> Any:
    """An :class:`~matplotlib.axes.Axes` whose y label is centred (defined on first use)."""
    global _RATIO_AXES
    if _RATIO_AXES is None:
        from matplotlib.axes import Axes

        class RatioAxes(Axes):
            """Lower panel of a ratio plot: y label centred whatever the style's default."""

            def set_ylabel(self, ylabel: Any, fontdict: Any = None, labelpad: Any = None,
                           *, loc: Any = None, **kwargs: Any) -> Any:  # fmt: skip
                return super().set_ylabel(ylabel, fontdict, labelpad, loc=loc or "center", **kwargs)

        _RATIO_AXES = RatioAxes
    return _RATIO_AXES


def save(fig_or_ax: Any, path: Any, *, dpi: int = 120) -> Any:
    """Save the figure of ``fig_or_ax`` to ``path`` (parents created) and return the path."""
    from pathlib import Path

    fig = getattr(fig_or_ax, "figure", fig_or_ax)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path

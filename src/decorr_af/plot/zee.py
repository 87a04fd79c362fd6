"""Z→ee line-shape figures with a data/MC ratio panel (mplhep ATLAS style).

Data-driven: only reconstructed quantities of data enter (the corrected pair mass
``m_ee``), never a truth energy. Input is a calibration
:class:`~decorr_af.workflows.base.RunResult` with ``hists["mee"]`` (axes ``model``,
``dataset`` in {``mc``, ``data``}, ``mee``) and the inclusive Z→ee metrics
``<model>.alpha`` / ``.cprime`` (± ``_err``) of
:func:`decorr_af.workflows.calibration.zee_scales`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError
from decorr_af.plot.style import atlas_label, ratio_axes

__all__ = ["MIN_EXPECTED", "MeeRatioPlot", "plot_mee_data_mc"]

#: bins with fewer expected (normalised MC) pairs get no data/MC ratio point
MIN_EXPECTED = 10.0


@dataclasses.dataclass
class MeeRatioPlot:
    """Artists of :func:`plot_mee_data_mc`."""

    ax: Any
    rax: Any
    mc: Any
    data: Any
    ratio: Any


def _fit_summary(result: Any, model: str) -> str | None:
    """``α = … ± …, c′ = … ± …`` of ``model`` (``None`` if the result lacks them)."""
    values = [result.metric(model, k, None) for k in ("alpha", "alpha_err", "cprime", "cprime_err")]
    if any(v is None for v in values):
        return None
    a, da, c, dc = values
    return rf"$\alpha$ = {a:.4f} $\pm$ {da:.4f}, $c'$ = {c:.4f} $\pm$ {dc:.4f}"


def plot_mee_data_mc(
    result: Any, *, model: str = "raw", ax: Any = None, rax: Any = None
) -> MeeRatioPlot:
    """Corrected Z→ee m_ee in data (points) and MC (normalised to data), data/MC ratio.

    Parameters
    ----------
    result
        Calibration ``RunResult`` with ``hists["mee"]``.
    model
        The regression applied to the electrons (``"raw"``: raw energies × one
        MC constant).
    ax, rax
        Main and ratio axes; made with :func:`~decorr_af.plot.style.ratio_axes`
        if either is ``None``.

    Returns
    -------
    MeeRatioPlot
        The artists; the legend title gives the inclusive fitted α and c′ of
        ``model`` (data vs MC) when the result stores them.

    Raises
    ------
    ConfigError
        If the result has no ``mee`` histogram or not this model.

    Examples
    --------
    >>> import hist
    >>> from decorr_af.workflows.base import RunResult
    >>> h = hist.Hist(hist.axis.StrCategory(["raw"], name="model"),
    ...               hist.axis.StrCategory(["mc", "data"], name="dataset"),
    ...               hist.axis.Regular(40, 70, 110, name="mee"), storage=hist.storage.Weight())
    >>> rng = np.random.default_rng(1)
    >>> h.fill(model="raw", dataset="mc", mee=rng.normal(91, 2.5, 4000))  # doctest: +ELLIPSIS
    Hist(...)
    >>> h.fill(model="raw", dataset="data", mee=rng.normal(90, 2.8, 2000))  # doctest: +ELLIPSIS
    Hist(...)
    >>> art = plot_mee_data_mc(RunResult("calibration", {}, seed=0, hists={"mee": h}))
    >>> art.rax.get_ylabel()
    'Data / MC'
    """
    if "mee" not in result.hists:
        raise ConfigError(
            "the result has no Z->ee m_ee histogram hists['mee'] "
            "(run the calibration with zee_mc_files and zee_data_files)"
        )
    h = result.hists["mee"]
    names = list(h.axes["model"])
    if model not in names:
        raise ConfigError(f"parameter 'model': {model!r} not in the Z->ee result (have: {names})")
    if ax is None or rax is None:
        ax, rax = ratio_axes(ax)
    hd, hm = h[{"model": model, "dataset": "data"}], h[{"model": model, "dataset": "mc"}]
    edges = hd.axes[0].edges
    centres = 0.5 * (edges[1:] + edges[:-1])
    vd, vm = hd.values(), hm.values()
    ed, em = np.sqrt(hd.variances()), np.sqrt(hm.variances())
    scale = vd.sum() / vm.sum() if vm.sum() > 0 else 1.0
    mc_norm = vm * scale
    mc = ax.stairs(mc_norm, edges, color="C0", label=f"MC, {model}")
    data = ax.errorbar(centres, vd, yerr=ed, fmt="o", color="k", ms=3, label="Data")
    # the ratio where it means something: data observed and >= MIN_EXPECTED MC pairs expected
    ok = (vd > 0) & (mc_norm >= MIN_EXPECTED)
    r = vd[ok] / mc_norm[ok]
    r_err = np.hypot(ed[ok] / mc_norm[ok], r * em[ok] / vm[ok])
    ratio = rax.errorbar(centres[ok], r, yerr=r_err, fmt="o", color="k", ms=2)
    rax.axhline(1.0, color="C0", lw=1)
    rax.set_ylim(0.5, 1.5)
    rax.set_ylabel("Data / MC")
    rax.set_xlabel(r"$m_{ee}$ [GeV]")
    ax.set_ylabel("Pairs / bin")
    top = max(float(np.max(vd + ed, initial=0.0)), float(np.max(mc_norm, initial=0.0)), 1.0)
    ax.set_ylim(0, 1.45 * top)  # room for the ATLAS label and the legend
    ax.legend(fontsize="x-small", title=_fit_summary(result, model),
              title_fontsize="x-small", loc="upper right")  # fmt: skip
    atlas_label(ax, "Internal")
    return MeeRatioPlot(ax, rax, mc, data, ratio)

"""Figures of the photon-ID workflow (:mod:`decorr_af.workflows.photon_id`).

Each function takes a :class:`~decorr_af.workflows.base.RunResult` (or its
directory), ``ax=None`` and returns a small dataclass of the artists drawn.

Examples
--------
>>> from decorr_af.plot.photon_id import plot_roc
>>> art = plot_roc("runs/pid")               # doctest: +SKIP
>>> art.ax.figure.savefig("roc.png")         # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError
from decorr_af.plot._common import efficiency, normalised, ratio
from decorr_af.plot.results import as_result, select_models
from decorr_af.plot.style import atlas_label, new_axes, ratio_axes

__all__ = [
    "AbcdArtists",
    "EfficiencyArtists",
    "InvJsdArtists",
    "IsolationArtists",
    "RocArtists",
    "plot_abcd_closure",
    "plot_efficiency_vs_isolation",
    "plot_efficiency_vs_mu",
    "plot_inv_jsd",
    "plot_isolation_pass_fail",
    "plot_roc",
]

LABELS = {
    "cutbased": "Cut-based",
    "plain_mlp": "MLP",
    "plain_bdt": "BDT",
    "disco_mlp": "DisCo MLP",
    "disco_bdt": "DisCo BDT",
    "adv_mlp": "Adversarial MLP",
    "adversary_mlp": "Adversarial MLP",
}


#: (signal, background) names on the ROC axes per workflow (default: Signal, Background)
ROC_CLASSES = {
    "photon_id": ("Prompt photon", "Fake photon"),
    "tth": (r"$t\bar{t}H$ signal", "Background"),
}


def _label(model: str) -> str:
    return LABELS.get(model, model)


@dataclass
class RocArtists:
    """Artists of :func:`plot_roc`."""

    ax: Any
    curves: dict[str, Any] = field(default_factory=dict)
    working_points: dict[str, Any] = field(default_factory=dict)
    label: Any = None


@dataclass
class IsolationArtists:
    """Artists of :func:`plot_isolation_pass_fail`."""

    ax: Any
    rax: Any
    passed: Any = None
    failed: Any = None
    ratio: Any = None
    label: Any = None


@dataclass
class EfficiencyArtists:
    """Artists of :func:`plot_efficiency_vs_isolation` / :func:`plot_efficiency_vs_mu`."""

    ax: Any
    curves: dict[str, Any] = field(default_factory=dict)
    label: Any = None


def plot_roc(
    result: Any,
    *,
    models: Any = None,
    ax: Any = None,
    min_efficiency: float = 0.3,
    text: str = "Simulation Internal",
) -> RocArtists:
    """Background rejection (log scale) versus signal efficiency, one curve per model.

    Photon ID: fake rejection vs prompt-photon efficiency; ttH: background
    rejection vs ttH signal efficiency (:data:`ROC_CLASSES`).

    The working point of each model (its ``wp_eff``/``wp_rej`` metrics) is marked.
    """
    from decorr_af.metrics import roc_curve

    res = as_result(result)
    ax = new_axes(ax)
    y, w = res.arrays["label"], res.arrays["weight"]
    art = RocArtists(ax=ax)
    for m in select_models(res, models):
        eff_b, eff_s, _ = roc_curve(y, res.array(m, "score").astype(float), w)
        keep = (eff_b > 0) & (eff_s >= min_efficiency)
        (art.curves[m],) = ax.plot(eff_s[keep], 1.0 / eff_b[keep], label=_label(m))
        wp_eff, wp_rej = res.metric(m, "wp_eff", None), res.metric(m, "wp_rej", None)
        if wp_eff is not None and wp_rej is not None:
            art.working_points[m] = ax.plot(
                wp_eff,
                wp_rej,
                marker="o",
                color=art.curves[m].get_color(),
                linestyle="none",
            )[0]
    ax.set_yscale("log")
    signal, background = ROC_CLASSES.get(res.workflow, ("Signal", "Background"))
    ax.set_xlabel(f"{signal} efficiency")
    ax.set_ylabel(f"{background} rejection")
    ax.set_xlim(min_efficiency, 1.0)
    ax.legend(loc="upper right")
    art.label = atlas_label(ax, text)
    return art


def _id_hist(res: Any, var: str) -> Any:
    key = f"id_vs_{var}"
    if key not in res.hists:
        raise ConfigError(f"result has no histogram '{key}' (not a photon_id result?)")
    return res.hists[key]


def plot_isolation_pass_fail(
    result: Any,
    model: str = "plain_mlp",
    *,
    ax: Any = None,
    text: str = "Simulation Internal",
) -> IsolationArtists:
    """Normalised isolation of fakes passing / failing the ID working point, with ratio."""
    import mplhep

    res = as_result(result)
    h = _id_hist(res, "iso")
    if model not in list(h.axes["model"]):
        raise ConfigError(f"model '{model}' not in the result (have: {list(h.axes['model'])})")
    hp = h[{"model": model, "prompt": 0, "passed": 1}]
    hf = h[{"model": model, "prompt": 0, "passed": 0}]
    (vp, varp), (vf, varf) = normalised(hp), normalised(hf)
    edges = hp.axes[0].edges
    ax, rax = ratio_axes(ax)
    art = IsolationArtists(ax=ax, rax=rax)
    art.passed = mplhep.histplot(
        vp, edges, yerr=np.sqrt(varp), ax=ax, label=f"Fakes passing {_label(model)}"
    )
    art.failed = mplhep.histplot(
        vf, edges, yerr=np.sqrt(varf), ax=ax, label=f"Fakes failing {_label(model)}"
    )
    r, rerr = ratio(vp, vf, varp, varf)
    centres = 0.5 * (edges[1:] + edges[:-1])
    art.ratio = rax.errorbar(
        centres, r, yerr=rerr, xerr=np.diff(edges) / 2, fmt="o", color="k", ms=3
    )
    rax.axhline(1.0, color="grey", ls="--", lw=1)
    rax.set_ylim(0, 2.5)
    rax.set_ylabel("Pass / fail")
    rax.set_xlabel(hp.axes[0].label or "topoetcone20 [GeV]")
    ax.set_ylabel("Normalised / GeV")
    ax.legend(loc="upper right")
    r = res.metric(model, "r_bkg", None)
    nc = res.metric(model, "abcd_nonclosure", None)
    if r is not None and np.isfinite(r):
        err = res.metric(model, "r_bkg_err", float("nan"))
        ax.text(0.97, 0.6, f"$R_{{bkg}}$ = {r:.3f} ± {err:.3f}", transform=ax.transAxes, ha="right")
    elif nc is not None and np.isfinite(nc):
        err = res.metric(model, "abcd_nonclosure_err", float("nan"))
        ax.text(
            0.97, 0.6, f"ABCD non-closure {nc:+.3f} ± {err:.3f}", transform=ax.transAxes, ha="right"
        )
    art.label = atlas_label(ax, text)
    return art


def _plot_eff(
    res: Any, var: str, models: Any, truth: str, ax: Any, text: str, xlabel: str
) -> EfficiencyArtists:
    if truth not in ("prompt", "fake"):
        raise ConfigError(f"truth must be 'prompt' or 'fake', got {truth!r}")
    h = _id_hist(res, var)
    have = list(h.axes["model"])
    models = have if models is None else ([models] if isinstance(models, str) else list(models))
    missing = [m for m in models if m not in have]
    if missing:
        raise ConfigError(f"model(s) {missing} not in the result (have: {have})")
    ax = new_axes(ax)
    art = EfficiencyArtists(ax=ax)
    t = 1 if truth == "prompt" else 0
    for m in models:
        eff, err, edges = efficiency(
            h[{"model": m, "prompt": t, "passed": 1}], h[{"model": m, "prompt": t, "passed": 0}]
        )
        centres = 0.5 * (edges[1:] + edges[:-1])
        art.curves[m] = ax.errorbar(
            centres, eff, yerr=err, xerr=np.diff(edges) / 2, fmt="o", ms=4, label=_label(m)
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{'Prompt' if t else 'Fake'} photon ID efficiency")
    ax.set_ylim(0, 1.3 if t else None)
    ax.legend(loc="upper right", ncol=2)
    art.label = atlas_label(ax, text)
    return art


def plot_efficiency_vs_isolation(
    result: Any,
    *,
    models: Any = None,
    truth: str = "fake",
    ax: Any = None,
    text: str = "Simulation Internal",
) -> EfficiencyArtists:
    """ID efficiency at the working point versus the isolation variable (fakes by default).

    The variable is the workflow's protected one (the histogram's axis label),
    by default the excess over the isolation working point.

    A flat fake efficiency means the ID does not bias the isolation of fakes.
    """
    res = as_result(result)
    xlabel = _id_hist(res, "iso").axes["iso"].label or "Isolation [GeV]"
    return _plot_eff(res, "iso", models, truth, ax, text, xlabel)


def plot_efficiency_vs_mu(
    result: Any,
    *,
    models: Any = None,
    truth: str = "prompt",
    ax: Any = None,
    text: str = "Simulation Internal",
) -> EfficiencyArtists:
    """ID efficiency at the working point versus pile-up ⟨μ⟩ (prompt photons by default)."""
    return _plot_eff(as_result(result), "mu", models, truth, ax, text, r"$\langle\mu\rangle$")


@dataclass
class InvJsdArtists:
    """Artists of :func:`plot_inv_jsd`: measured points and the ceiling bands per model."""

    ax: Any
    points: dict[str, Any] = field(default_factory=dict)
    ceilings: dict[str, Any] = field(default_factory=dict)
    bands: dict[str, Any] = field(default_factory=dict)
    label: Any = None


def _models_with(res: Any, models: Any, metric: str) -> list[str]:
    names = select_models(res, models)
    have = [m for m in names if res.metric(m, metric, None) is not None]
    if not have:
        raise ConfigError(f"result has no '<model>.{metric}' metric for {names}")
    return have


def plot_inv_jsd(
    result: Any,
    *,
    models: Any = None,
    ax: Any = None,
    text: str = "Simulation Internal",
) -> InvJsdArtists:
    """1/JSD per model beside its statistical ceiling (random cuts, same event counts).

    The ceiling (``<model>.inv_jsd_ceiling``) is drawn as a line with a band from
    the 16 % to the 84 % quantile of the random cuts' 1/JSD; a model reaching the
    band sculpts isolation no more than the sample can resolve.
    """
    res = as_result(result)
    names = _models_with(res, models, "inv_jsd")
    ax = new_axes(ax)
    art = InvJsdArtists(ax=ax)
    for i, m in enumerate(names):
        c = res.metric(m, "inv_jsd_ceiling", None)
        if c is not None and np.isfinite(c):
            lo = res.metric(m, "inv_jsd_ceiling_lo", c)
            hi = res.metric(m, "inv_jsd_ceiling_hi", c)
            art.bands[m] = ax.fill_between(
                [i - 0.35, i + 0.35], lo, hi, color="grey", alpha=0.3, lw=0,
                label="Random cut (16–84 %)" if not art.bands else None,
            )  # fmt: skip
            (art.ceilings[m],) = ax.plot(
                [i - 0.35, i + 0.35], [c, c], color="grey", ls="--",
                label="Statistical ceiling" if not art.ceilings else None,
            )  # fmt: skip
        (art.points[m],) = ax.plot(
            [i], [res.metric(m, "inv_jsd")], marker="o", ls="none", color="k",
            label="Measured" if not art.points else None,
        )  # fmt: skip
    ax.set_xticks(range(len(names)), [_label(m) for m in names])
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylim(0, None)
    ax.set_ylabel("1 / JSD (fakes passing vs failing)")
    ax.legend(loc="upper left")
    art.label = atlas_label(ax, text)
    return art


@dataclass
class AbcdArtists:
    """Artists of :func:`plot_abcd_closure`."""

    ax: Any
    points: Any = None
    unity: Any = None
    label: Any = None


def plot_abcd_closure(
    result: Any,
    *,
    models: Any = None,
    ax: Any = None,
    text: str = "Simulation Internal",
) -> AbcdArtists:
    """ABCD correlation factor R_bkg = N_A N_D / (N_B N_C) on MC fakes, per model.

    1 means the ID (Tight vs Loose′) and isolation axes are independent for
    fakes and the sideband estimate N_B N_C / N_D closes.
    """
    res = as_result(result)
    names = _models_with(res, models, "r_bkg")
    ax = new_axes(ax)
    r = np.array([res.metric(m, "r_bkg") for m in names])
    err = np.array([res.metric(m, "r_bkg_err", np.nan) for m in names])
    x = np.arange(len(names))
    art = AbcdArtists(ax=ax)
    art.points = ax.errorbar(x, r, yerr=err, fmt="o", color="k", label="$R_{bkg}$ (MC fakes)")
    art.unity = ax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.set_xticks(x, [_label(m) for m in names])
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel("$R_{bkg} = N_A N_D / (N_B N_C)$")
    ax.legend(loc="upper left")
    art.label = atlas_label(ax, text)
    return art

"""mplhep figures for the decorr_af workflows (ATLAS style).

Every plotting function takes ``ax=None`` and returns a small dataclass of the
artists it drew. Submodules and functions load lazily, so ``import decorr_af.plot``
does not import matplotlib.

``style``      :func:`use_style`, :func:`atlas_label`, layout helpers
``photon_id``  ROC, isolation of fakes passing/failing, efficiency vs isolation / μ,
               1/JSD against its statistical ceiling, ABCD closure (R_bkg) per model
``tth``        background m_γγ sculpting, m_γγ fit, significance vs λ
``calibration`` MC response / resolution vs η, pT; Z→ee α, c′ per |η| bin and m_ee data/MC
``zee``        Z→ee m_ee in data and MC with a data/MC ratio and the fitted α, c′
``clustering`` calibration bins, per-bin scale factors, closure vs number of bins
``scan``       Pareto plane and metric vs scanned parameter
``protected``  the protected variable of the two compared populations, any workflow
``scanner``    the panels of one λ-scan point (performance, protected variable, plane)
``results``    :func:`as_result`, :func:`select_models` (models with a per-model array)
``labels``     readable labels with units for metric keys (:func:`metric_label`)
``check``      :func:`check_figure`: a figure checked as a picture (overlaps, empty axes, TeX)
"""

from __future__ import annotations

from decorr_af._lazy import lazy_exports

__all__ = [
    "as_result",
    "atlas_label",
    "check_figure",
    "metric_label",
    "metric_vs_param",
    "pareto_plot",
    "plot_abcd_closure",
    "plot_background_myy",
    "plot_bins",
    "plot_efficiency_vs_isolation",
    "plot_efficiency_vs_mu",
    "plot_gap_vs_mismodelling",
    "plot_inv_jsd",
    "plot_isolation_pass_fail",
    "plot_k_scan",
    "plot_mee",
    "plot_mee_data_mc",
    "plot_myy_fit",
    "plot_point_performance",
    "plot_point_protected",
    "plot_protected",
    "plot_ratio_distributions",
    "plot_response",
    "plot_roc",
    "plot_scale_factors",
    "plot_scan_plane",
    "plot_significance_vs_strength",
    "plot_zee_scales",
    "select_models",
    "use_style",
]

_LAZY = {
    "atlas_label": "style",
    "use_style": "style",
    "plot_roc": "photon_id",
    "plot_isolation_pass_fail": "photon_id",
    "plot_efficiency_vs_isolation": "photon_id",
    "plot_efficiency_vs_mu": "photon_id",
    "plot_inv_jsd": "photon_id",
    "plot_abcd_closure": "photon_id",
    "plot_background_myy": "tth",
    "plot_myy_fit": "tth",
    "plot_significance_vs_strength": "tth",
    "plot_response": "calibration",
    "plot_ratio_distributions": "calibration",
    "plot_gap_vs_mismodelling": "calibration",
    "plot_zee_scales": "calibration",
    "plot_mee": "calibration",
    "plot_mee_data_mc": "zee",
    "plot_bins": "clustering",
    "plot_scale_factors": "clustering",
    "plot_k_scan": "clustering",
    "pareto_plot": "scan",
    "check_figure": "check",
    "metric_label": "labels",
    "metric_vs_param": "scan",
    "plot_protected": "protected",
    "plot_point_performance": "scanner",
    "plot_point_protected": "scanner",
    "plot_scan_plane": "scanner",
    "as_result": "results",
    "select_models": "results",
}

__getattr__, __dir__, _ = lazy_exports(__name__, _LAZY)

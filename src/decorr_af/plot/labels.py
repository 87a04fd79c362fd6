"""Readable labels (with units) for metric keys and model names.

Metric keys are ``"<model>.<metric>"`` (e.g. ``"disco_mlp.inv_dcor"``); a figure
axis or a report column shows ``"DisCo MLP: 1/dCor"`` instead. Unknown models and
metrics fall back to a tidied version of the key, so a new metric is still shown.

Examples
--------
>>> metric_label("disco_mlp.inv_dcor")
'DisCo MLP: 1/dCor'
>>> metric_label("baseline_bdt.resolution_mc")
'Baseline BDT: σ_E/E in MC (IQR/2)'
>>> param_label("strength")
'λ (decorrelation strength)'
"""

from __future__ import annotations

__all__ = ["METRIC_LABELS", "MODEL_LABELS", "metric_label", "model_label", "param_label"]

#: display names of the workflows' models
MODEL_LABELS = {
    "cutbased": "Cut-based",
    "plain_mlp": "MLP",
    "plain_bdt": "BDT",
    "disco_mlp": "DisCo MLP",
    "disco_bdt": "DisCo BDT",
    "adv_mlp": "Adversarial MLP",
    "adversary_mlp": "Adversarial MLP",
    "baseline_bdt": "Baseline BDT",
    "binned": "Binned calibration",
    "shapes_mlp": "Shower-shape MLP",
    "shapes_bdt": "Shower-shape BDT",
    "reweighted_mlp": "Reweighted MLP",
    "reweighted_bdt": "Reweighted BDT",
    "kmeans": "k-means bins",
    "grid": "Grid bins",
    "selection": "Selection",
    "reweighting": "Reweighting",
}

#: display names (with units where they have one) of the metrics after the model prefix
METRIC_LABELS = {
    "auc": "ROC AUC",
    "r50": "R50 (rejection at ε_S = 50 %)",
    "r_bkg": "R_bkg = N_A N_D / (N_B N_C) (ABCD, fakes)",
    "eff_at_rej": "ε_S at fixed rejection",
    "eff_at_tight_rej": "ε_S at the Tight rejection",
    "wp_eff": "ε_S at the WP",
    "wp_rej": "Rejection at the WP",
    "threshold": "Score threshold",
    "dcor": "dCor(score, isolation)",
    "inv_dcor": "1/dCor",
    "jsd": "JSD (isolation, pass vs fail)",
    "inv_jsd": "1/JSD",
    "inv_jsd_ceiling": "1/JSD statistical ceiling",
    "abcd_nonclosure": "ABCD non-closure",
    "abcd_nonclosure_err": "ABCD non-closure uncertainty",
    "abs_abcd_nonclosure": "|ABCD non-closure|",
    "train_seconds": "training time [s]",
    "significance": "Expected significance Z",
    "spurious_signal": "Spurious signal [events]",
    "spurious_rel": "Spurious signal / expected signal",
    "spurious_over_err": "Spurious signal / σ_stat",
    "resolution_mc": "σ_E/E in MC (IQR/2)",
    "resolution_data": "σ_E/E in data (IQR/2)",
    "response_mc": "Median E_pred/E_true in MC",
    "response_data": "Median E_pred/E_true in data",
    "data_mc_gap": "Data − MC response",
    "data_mc_gap_err": "Data − MC response uncertainty",
    "abs_gap": "|Data − MC response|",
    "gap_significance": "Data − MC gap / σ",
    "pred_ks": "KS(data, MC) of predictions",
    "spread": "Spread of true corrections in bins",
    "closure": "Closure of per-bin scale factors",
    "n_bins": "Number of bins",
    "empty_bins": "Empty bins",
    "max_weight": "Largest weight",
    "ks_mean_before": "Mean KS before reweighting",
    "ks_mean_after": "Mean KS after reweighting",
}

_PARAMS = {
    "strength": "λ (decorrelation strength)",
    "epochs": "Training epochs",
    "hidden": "Hidden layers",
    "learning_rate": "Learning rate",
    "mismodelling": "Shower-shape mismodelling",
}


def model_label(name: str) -> str:
    """Display name of a model (``"disco_mlp"`` → ``"DisCo MLP"``).

    Examples
    --------
    >>> model_label("plain_mlp"), model_label("my_new_net")
    ('MLP', 'my new net')
    """
    return MODEL_LABELS.get(name, name.replace("_", " "))


def _metric_part(name: str) -> str:
    if name in METRIC_LABELS:
        return METRIC_LABELS[name]
    for suffix, what in (("_std", "std of "), ("_err", "uncertainty of ")):
        if name.endswith(suffix) and name[: -len(suffix)] in METRIC_LABELS:
            return what + METRIC_LABELS[name[: -len(suffix)]]
    return name.replace("_", " ")


def metric_label(key: str) -> str:
    """Display label of a metric key ``"<model>.<metric>"`` (or a bare metric name).

    Examples
    --------
    >>> metric_label("disco_mlp.r50")
    'DisCo MLP: R50 (rejection at ε_S = 50 %)'
    >>> metric_label("auc")
    'ROC AUC'
    """
    from decorr_af.workflows.vocabulary import split_key

    model, metric = split_key(key)
    if not model:
        return _metric_part(metric)
    return f"{model_label(model)}: {_metric_part(metric)}"


def param_label(name: str) -> str:
    """Display label of a scanned parameter (``"strength"`` → ``"λ (decorrelation strength)"``).

    Examples
    --------
    >>> param_label("epochs")
    'Training epochs'
    """
    return _PARAMS.get(name, name.replace("_", " "))

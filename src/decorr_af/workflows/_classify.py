"""Classifier models and evaluation shared by the photon-ID and ttH(γγ) workflows.

Models are specs (:mod:`decorr_af.workflows.specs`); these presets name the
usual ones (the ``"<model>"`` prefix of the metric keys is the name used in
``Config.models``):

``plain_mlp``      torch MLP, no penalty
``disco_mlp``      torch MLP + :class:`~decorr_af.decorrelation.penalties.DisCo` on
                   background, strength λ
``adversary_mlp``  torch MLP + :class:`~decorr_af.decorrelation.penalties.Adversary`,
                   strength λ × ``adversary_scale``, ``lr=adversary_lr``,
                   ``steps_per_batch=adversary_steps`` (``adv_mlp``: the same, old name)
``plain_bdt``      DisCo-xgboost without penalty
``disco_bdt``      DisCo-xgboost, DisCo on background, strength λ × ``bdt_scale``
``mode_mlp``       torch MLP + :class:`~decorr_af.decorrelation.penalties.MoDe` (order 0:
                   flat background efficiency vs the protected variable), strength
                   λ × ``MODE_SCALE``
``flat_bdt``       DisCo-xgboost + :class:`~decorr_af.decorrelation.penalties.Flatness`
                   (hep_ml's CvM flatness loss) on background, strength
                   λ × ``FLAT_SCALE`` × ``bdt_scale``

``adversary_scale``, ``bdt_scale``, ``adversary_lr`` and ``adversary_steps`` are
inputs of these presets only; a spec mapping sets its own ``penalty``.  The
estimator keywords come from the config's flat fields (``hidden``, ``epochs``,
``batch_size``, ``lr``, ``n_estimators``, ``max_depth``, ``bdt_learning_rate`` as
``learning_rate``, ``device``), each family taking those it has, then from the
spec's ``params``.

Examples
--------
>>> from decorr_af.workflows import tth
>>> PRESETS.resolve("disco_bdt", tth.Config(bdt_scale=0.5))["penalty"]
{'kind': 'DisCo', 'on': 'background', 'scale': 0.5}
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from decorr_af.errors import ConfigError
from decorr_af.workflows.base import WorkflowConfig
from decorr_af.workflows.specs import (
    ModelRules,
    ModelSpec,
    Presets,
    build_estimator,
    model_names,
    parse_models,
)

__all__ = [
    "ALL_METHODS",
    "ML_MODELS",
    "PRESETS",
    "RULES",
    "ClassifierConfig",
    "balanced_weights",
    "build_model",
    "classifier_metrics",
    "efficiency_at_rejection",
    "fit_predict",
    "threshold_at_rejection",
]

#: Preset classifiers of the decorrelation workflows (name -> spec).
PRESETS = Presets("classifier")
PRESETS.register("plain_mlp", {"estimator": "mlp"})
PRESETS.register(
    "disco_mlp", {"estimator": "mlp", "penalty": {"kind": "DisCo", "on": "background"}}
)
PRESETS.register("plain_bdt", {"estimator": "bdt"})
PRESETS.register(
    "disco_bdt",
    lambda c: {
        "estimator": "bdt",
        "penalty": {"kind": "DisCo", "on": "background", "scale": c.bdt_scale},
    },
)


def _adversary(c: Any) -> dict[str, Any]:
    pen = {"kind": "Adversary", "scale": c.adversary_scale, "lr": c.adversary_lr,
           "steps_per_batch": c.adversary_steps}  # fmt: skip
    return {"estimator": "mlp", "penalty": pen}


#: λ multipliers of the efficiency-based penalties: MoDe and Flatness are squared
#: efficiency differences (~1e-3 for a sculpting classifier, dCor² ~1e-1), so the
#: same λ as DisCo puts them at a comparable weight against the cross-entropy
MODE_SCALE = 5.0
FLAT_SCALE = 10.0

PRESETS.register(
    "mode_mlp",
    {"estimator": "mlp", "penalty": {"kind": "MoDe", "order": 0, "on": "background",
                                     "scale": MODE_SCALE}},
)  # fmt: skip
PRESETS.register(
    "flat_bdt",
    lambda c: {
        "estimator": "bdt",
        "penalty": {"kind": "Flatness", "on": "background", "scale": FLAT_SCALE * c.bdt_scale},
    },
)
PRESETS.register("adversary_mlp", _adversary)
PRESETS.register("adv_mlp", _adversary)  # the photon-ID/ttH name before adversary_mlp

ML_MODELS = ("plain_mlp", "disco_mlp", "adversary_mlp", "plain_bdt", "disco_bdt")
#: every decorrelation method of the classifier workflows, for one comparison scan
ALL_METHODS = (*ML_MODELS, "mode_mlp", "flat_bdt")

#: what the classifier workflows accept in ``models`` (penalties on a protected variable)
RULES = ModelRules(task="classification", presets=PRESETS)


@dataclasses.dataclass(frozen=True)
class ClassifierConfig(WorkflowConfig):
    """Hyper-parameters shared by the classifier workflows (photon ID, ttH(γγ)).

    ``models`` lists preset names and/or spec mappings
    (:mod:`decorr_af.workflows.specs`); ``strength`` is λ: a penalty's strength is
    λ × its ``scale`` unless its spec fixes ``strength`` (``disco_mlp``: λ,
    ``disco_bdt``: λ·``bdt_scale``, ``adversary_mlp``: λ·``adversary_scale``).
    ``max_events`` (0 = all) subsamples before the train/test split; the working
    point keeps ``wp_efficiency`` of the signal; ``fixed_rejection`` is where the
    signal efficiency is quoted.
    """

    model_rules: ClassVar[ModelRules] = RULES

    models: tuple[Any, ...] = ML_MODELS
    strength: float = 10.0
    bdt_scale: float = 1.0
    adversary_scale: float = 1.0
    adversary_lr: float = 1e-2
    adversary_steps: int = 2
    hidden: tuple[int, ...] = (64, 64)
    epochs: int = 20
    batch_size: int = 512
    lr: float = 1e-3
    n_estimators: int = 200
    max_depth: int = 4
    bdt_learning_rate: float = 0.1
    device: str = "auto"
    max_events: int = 0
    test_fraction: float = 0.5
    wp_efficiency: float = 0.5
    fixed_rejection: float = 10.0

    def validate(self) -> None:
        self.check(
            nonnegative=("strength", "bdt_scale", "adversary_scale", "max_events"),
            positive=(
                "epochs",
                "batch_size",
                "n_estimators",
                "max_depth",
                "adversary_steps",
                "lr",
                "adversary_lr",
                "bdt_learning_rate",
            ),
            fraction=("test_fraction", "wp_efficiency"),
        )
        self.model_specs()
        if self.fixed_rejection <= 1.0:
            raise ConfigError(
                f"parameter 'fixed_rejection' must be > 1, got {self.fixed_rejection}"
            )
        if not self.features:  # type: ignore[attr-defined]
            raise ConfigError("parameter 'features' is empty")

    def model_specs(self) -> tuple[ModelSpec, ...]:
        """The validated specs of ``models`` (presets resolved with this config)."""
        return parse_models(self.models, self, self.model_rules)

    @property
    def model_names(self) -> tuple[str, ...]:
        """The names of ``models`` (the metric-key prefixes)."""
        return model_names(self.models)

    def estimator_defaults(self, seed: int) -> dict[str, Any]:
        """Estimator keywords from the flat fields (each family takes those it has)."""
        return {
            "hidden": tuple(self.hidden),
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "n_estimators": self.n_estimators,
            "max_depth": self.max_depth,
            "learning_rate": self.bdt_learning_rate,
            "device": self.device,
            "random_state": seed,
        }


def build_model(spec: ModelSpec, config: ClassifierConfig, *, seed: int) -> Any:
    """The unfitted classifier of ``spec`` at the config's λ (``config.strength``)."""
    return build_estimator(
        spec,
        task="classification",
        lam=config.strength,
        defaults=config.estimator_defaults(seed),
    )


def describe_models(specs: Sequence[ModelSpec], lam: float) -> dict[str, Any]:
    """``{name: spec with its effective penalty strength}`` for ``RunResult.info``."""
    return {s.name: s.describe(lam) for s in specs}


def fit_predict(
    est: Any,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    *,
    protected: np.ndarray,
    sample_weight: np.ndarray,
) -> tuple[np.ndarray, float]:
    """Fit ``est`` and return (test scores, training seconds)."""
    t0 = time.perf_counter()
    est.fit(X_train, y_train, protected=protected, sample_weight=sample_weight)
    seconds = time.perf_counter() - t0
    score = np.asarray(est.predict_proba(X_test))
    if score.ndim == 2:
        score = score[:, -1]
    return score.astype(np.float64), seconds


def balanced_weights(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Training weights with both classes normalised to half the number of events."""
    out = np.asarray(w, dtype=np.float64).copy()
    for c in (0, 1):
        sel = y == c
        total = out[sel].sum()
        if total > 0:
            out[sel] *= len(y) / (2.0 * total)
    return out


def _weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    from decorr_af.metrics import weighted_quantile

    return float(weighted_quantile(x, q, w))


def classifier_metrics(
    score: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    protected: np.ndarray,
    *,
    wp_efficiency: float,
    fixed_rejection: float,
    jsd_bins: np.ndarray,
    ceiling_seed: int = 0,
    n_permutations: int = 100,
) -> tuple[dict[str, float], np.ndarray]:
    """Performance and dependence metrics common to the workflows (test set).

    Returns the metric dict (keys without model prefix) and the pass mask of the
    working point (``score > threshold`` at signal efficiency ``wp_efficiency``).
    ``jsd_bins`` are the bin edges of the protected variable for the sculpting JSD
    (background passing vs failing the working point).  ``inv_jsd_ceiling`` is
    the 1/JSD a random cut with the same background counts and weights reaches
    (:func:`decorr_af.metrics.inverse_jsd_ceiling`, ``n_permutations``
    permutations seeded by ``ceiling_seed``); ``inv_jsd_ceiling_lo``/``_hi`` are
    the 16 %/84 % quantiles of the random cuts' 1/JSD.
    """
    from decorr_af import metrics as M
    from decorr_af.decorrelation import distance_correlation

    sig, bkg = y == 1, y == 0
    out: dict[str, float] = {}
    out["auc"] = float(M.auc(y, score, w))
    out["r50"] = float(M.rejection_at_efficiency(y, score, 0.5, w))
    out["eff_at_rej"] = efficiency_at_rejection(score, y, w, fixed_rejection)
    thr = float(M.efficiency_threshold(y, score, wp_efficiency, w))
    passed = score > thr
    out["threshold"] = thr
    out["wp_eff"] = float(np.sum(w[sig & passed]) / np.sum(w[sig]))
    bkg_eff = float(np.sum(w[bkg & passed]) / np.sum(w[bkg]))
    out["wp_rej"] = 1.0 / bkg_eff if bkg_eff > 0 else float("inf")
    dc = float(distance_correlation(score[bkg], protected[bkg], weights=w[bkg]))
    out["dcor"] = dc
    out["inv_dcor"] = 1.0 / dc if dc > 0 else float("inf")
    jsd = float(M.sculpting_jsd(protected, score, y, eff=wp_efficiency, bins=jsd_bins, weights=w))
    out["jsd"] = jsd
    out["inv_jsd"] = float(M.inverse_jsd(jsd))
    rnd = M.random_cut_jsd(
        protected,
        score,
        y,
        eff=wp_efficiency,
        bins=jsd_bins,
        weights=w,
        n_permutations=n_permutations,
        seed=ceiling_seed,
    )
    rnd = rnd[np.isfinite(rnd)]
    out["inv_jsd_ceiling"] = float(M.inverse_jsd(float(rnd.mean()))) if rnd.size else np.nan
    inv = 1.0 / np.maximum(rnd, 1e-300)
    lo, hi = np.quantile(inv, [0.16, 0.84]) if rnd.size else (np.nan, np.nan)
    out["inv_jsd_ceiling_lo"], out["inv_jsd_ceiling_hi"] = float(lo), float(hi)
    return out, passed


def threshold_at_rejection(
    score: np.ndarray, y: np.ndarray, w: np.ndarray, rejection: float
) -> float:
    """Score threshold (``score > thr`` passes) where background efficiency is ``1/rejection``.

    Examples
    --------
    >>> import numpy as np
    >>> s, y = np.arange(10.0), np.zeros(10, int)
    >>> round(float(threshold_at_rejection(s, y, np.ones(10), 5.0)), 6)
    7.5
    """
    if not rejection >= 1.0:
        raise ConfigError(f"rejection must be >= 1, got {rejection}")
    bkg = y == 0
    return _weighted_quantile(score[bkg], w[bkg], 1.0 - 1.0 / rejection)


def efficiency_at_rejection(
    score: np.ndarray, y: np.ndarray, w: np.ndarray, rejection: float
) -> float:
    """Signal efficiency where the background efficiency is ``1/rejection``.

    Examples
    --------
    >>> import numpy as np
    >>> s, y = np.r_[np.arange(10.0), [8.0, 9.5]], np.r_[np.zeros(10, int), [1, 1]]
    >>> efficiency_at_rejection(s, y, np.ones(12), 5.0)
    1.0
    """
    thr = threshold_at_rejection(score, y, w, rejection)
    sig = y == 1
    return float(np.sum(w[sig & (score > thr)]) / np.sum(w[sig]))


_eff_at_rejection = efficiency_at_rejection  # backward-compatible private name

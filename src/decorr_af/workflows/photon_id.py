"""Workflow 1: photon identification decorrelated from isolation.

Prompt photons (``is_prompt``) are separated from fakes (π⁰/η mesons and hadrons
in jets) on MC using calorimeter shower shapes only — isolation is *not* an
input. Jet activity around a fake both widens its shower and fills its isolation
cone, so a plain classifier selects the most isolated fakes; the ID and
isolation axes of an ABCD background estimate are then not independent.

Models (``Config.models``): ``cutbased`` (rectangular cuts in |η| bins, see
:mod:`decorr_af.workflows.cutbased`), ``plain_mlp``, ``plain_bdt``,
``disco_mlp`` and ``disco_bdt`` (DisCo on fakes against ``topoetcone20``), and
``adv_mlp`` (adversary predicting ``topoetcone20`` from the score).

Metrics per model (test set, MC weights; prompt = signal):
``auc``, ``r50`` (fake rejection at 50 % prompt efficiency), ``eff_at_rej``
(prompt efficiency at fake rejection ``fixed_rejection``), ``wp_eff``/``wp_rej``
at the working point (prompt efficiency ``wp_efficiency``, like the Tight menu),
``dcor`` (distance correlation of score and isolation on fakes) and ``inv_dcor``,
``jsd``/``inv_jsd`` (isolation of fakes passing vs failing the working point),
``abcd_nonclosure`` ± ``abcd_nonclosure_err`` and ``train_seconds``.

ABCD closure (fakes): the axes are ID pass/fail at the working point and
isolation, *isolated* meaning ``topoetcone20 < iso_slope·pT + iso_offset``
(the FixedCutLoose calorimeter cut for the defaults 0.065, 0 GeV) and
*non-isolated* meaning ``topoetcone20 > iso_slope·pT + iso_offset + iso_gap``.
With A = pass+iso (signal region), B = fail+iso, C = pass+non-iso, D =
fail+non-iso, the non-closure ``N_A N_D / (N_B N_C) - 1`` vanishes when ID and
isolation are independent for fakes; its uncertainty propagates the weighted
Poisson errors (Σw²) of the four regions.

Examples
--------
>>> from decorr_af.workflows import photon_id
>>> cfg = photon_id.Config(mc_files=("samples/photons_mc/*.root",), epochs=5)  # doctest: +SKIP
>>> res = photon_id.run(cfg, strength=20.0, seed=1, out="runs/pid")            # doctest: +SKIP
>>> res.metrics["disco_mlp.abcd_nonclosure"]                                   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, ClassVar

import numpy as np

from decorr_af.data.schema import SHOWER_SHAPES
from decorr_af.errors import ConfigError
from decorr_af.metrics import abcd_nonclosure
from decorr_af.workflows import _classify
from decorr_af.workflows._data import feature_matrix, load_photons, subsample, train_test_split_idx
from decorr_af.workflows.base import RunResult
from decorr_af.workflows.cutbased import DEFAULT_ETA_BINS, CutBasedID

__all__ = ["DEFAULT_PARETO", "MODELS", "PRIMARY_MODEL", "Config", "run"]

WORKFLOW = "photon_id"
MODELS = ("cutbased", *_classify.ML_MODELS)
PRIMARY_MODEL = "disco_mlp"
DEFAULT_PARETO = [
    ("disco_mlp.r50", "disco_mlp.inv_dcor"),
    ("disco_mlp.eff_at_rej", "disco_mlp.inv_jsd"),
    ("disco_bdt.r50", "disco_bdt.inv_dcor"),
    ("adv_mlp.r50", "adv_mlp.inv_dcor"),
]
#: extra per-photon column derived in the workflow
DERIVED = ("abs_eta",)
ISO_BINS = np.linspace(-4.0, 16.0, 41)
MU_BINS = np.linspace(18.0, 82.0, 17)


@dataclasses.dataclass(frozen=True)
class Config(_classify.ClassifierConfig):
    """Photon-ID workflow configuration (energies in GeV).

    The classifier hyper-parameters (``strength``, ``hidden``, ``epochs``, ...) are
    those of :class:`~decorr_af.workflows._classify.ClassifierConfig`; the working
    point keeps ``wp_efficiency`` of the prompt photons. Isolated fakes have
    ``topoetcone20 < iso_slope·pT + iso_offset``, non-isolated ones lie above it by
    more than ``iso_gap`` (ABCD regions).
    """

    workflow: ClassVar[str] = WORKFLOW

    mc_files: tuple[str, ...] = ("samples/photons_mc/*.root",)
    features: tuple[str, ...] = (*SHOWER_SHAPES, "abs_eta")
    protected: str = "topoetcone20"
    models: tuple[str, ...] = MODELS
    wp_efficiency: float = 0.85
    min_pt: float = 25.0
    eta_bins: tuple[float, ...] = DEFAULT_ETA_BINS
    iso_slope: float = 0.065
    iso_offset: float = 0.0
    iso_gap: float = 0.0

    def validate(self) -> None:
        _classify.check_models(self.models, MODELS)
        super().validate()
        if self.protected in self.features:
            raise ConfigError(
                f"parameter 'features' contains the protected variable '{self.protected}'"
            )
        self.check(nonnegative=("min_pt", "iso_gap"))


def _prepare(config: Config, seed: int) -> Any:
    df = load_photons(config.mc_files)
    if "is_prompt" not in df.columns:
        raise ConfigError(f"parameter 'mc_files': {config.mc_files} has no truth (is_prompt)")
    df = df[df["pt"] >= config.min_pt].reset_index(drop=True)
    df["abs_eta"] = np.abs(df["eta"].to_numpy())
    return subsample(df, config.max_events or None, seed=seed)


def _hists(models: list[str], arrays: dict[str, np.ndarray], passed: dict[str, np.ndarray]) -> dict:
    import hist

    out = {}
    for var, edges, label in (
        ("iso", ISO_BINS, "topoetcone20 [GeV]"),
        ("mu", MU_BINS, r"$\langle\mu\rangle$"),
    ):
        h = hist.Hist(
            hist.axis.StrCategory(models, name="model"),
            hist.axis.IntCategory([0, 1], name="prompt"),
            hist.axis.IntCategory([0, 1], name="passed"),
            hist.axis.Variable(edges, name=var, label=label),
            storage=hist.storage.Weight(),
        )
        x = arrays["isolation"] if var == "iso" else arrays["mu"]
        for m in models:
            h.fill(
                model=m,
                prompt=arrays["label"],
                passed=passed[m].astype(int),
                **{var: x},
                weight=arrays["weight"],
            )
        out[f"id_vs_{var}"] = h
    return out


def run(
    config: Config,
    *,
    strength: float | None = None,
    seed: int = 0,
    out: str | os.PathLike[str] | None = None,
) -> RunResult:
    """Train the configured photon-ID models and evaluate them on the test photons.

    Parameters
    ----------
    config
        The workflow configuration.
    strength
        Overrides ``config.strength`` (DisCo λ) for the decorrelated models.
    seed
        Seeds the subsample, the train/test split and the model initialisation.
    out
        If given, the result is saved there (:meth:`RunResult.save`).

    Examples
    --------
    >>> res = run(Config(mc_files=("mc/*.root",), models=("cutbased", "disco_mlp")))  # doctest: +SKIP
    """
    if not isinstance(config, Config):
        raise ConfigError(f"photon_id.run needs a photon_id.Config, got {type(config).__name__}")
    lam = config.strength if strength is None else float(strength)
    if lam < 0:
        raise ConfigError(f"parameter 'strength' must be >= 0, got {lam}")
    df = _prepare(config, seed)
    X = feature_matrix(df, config.features)
    y = df["is_prompt"].to_numpy().astype(np.int64)
    iso = df[config.protected].to_numpy(dtype=np.float64)
    w = df["weight"].to_numpy(dtype=np.float64) if "weight" in df else np.ones(len(df))
    train, test = train_test_split_idx(len(df), test_fraction=config.test_fraction, seed=seed)
    if len(np.unique(y[train])) < 2:
        raise ConfigError("photon_id: the training sample needs both prompt and fake photons")

    pt = df["pt"].to_numpy(dtype=np.float64)
    iso_cut = config.iso_slope * pt + config.iso_offset
    is_iso = iso < iso_cut
    is_noniso = iso > iso_cut + config.iso_gap
    arrays: dict[str, np.ndarray] = {
        "label": y[test],
        "isolation": iso[test],
        "mu": df["mu"].to_numpy(dtype=np.float64)[test],
        "pt": pt[test],
        "eta": df["eta"].to_numpy(dtype=np.float64)[test],
        "weight": w[test],
        "is_iso": is_iso[test],
        "is_noniso": is_noniso[test],
    }
    metrics: dict[str, float] = {}
    tables: dict[str, Any] = {}
    estimators: dict[str, Any] = {}
    passed: dict[str, np.ndarray] = {}
    info: dict[str, Any] = {}
    wt, yt = w[test], y[test]
    for name in config.models:
        if name == "cutbased":
            import time

            shapes = [f for f in config.features if f in SHOWER_SHAPES]
            cols = [config.features.index(f) for f in shapes]
            t0 = time.perf_counter()
            cut = CutBasedID(
                target_efficiency=config.wp_efficiency,
                eta_bins=config.eta_bins,
                feature_names=shapes,
            ).fit(
                X[train][:, cols], y[train], eta=df["eta"].to_numpy()[train], sample_weight=w[train]
            )
            seconds = time.perf_counter() - t0
            score = cut.decision_function(X[test][:, cols], eta=arrays["eta"])
            menu = cut.predict(X[test][:, cols], eta=arrays["eta"]).astype(bool)
            tables["cutbased_thresholds"] = cut.thresholds_table()
            info["cut_sides"] = cut.cut_sides()
        else:
            est = _classify.build_model(name, config, strength=lam, seed=seed)
            score, seconds = _classify.fit_predict(
                est,
                X[train],
                y[train],
                X[test],
                protected=iso[train],
                sample_weight=_classify.balanced_weights(y[train], w[train]),
            )
            estimators[name] = est
        m, wp_pass = _classify.classifier_metrics(
            score,
            yt,
            wt,
            arrays["isolation"],
            wp_efficiency=config.wp_efficiency,
            fixed_rejection=config.fixed_rejection,
            jsd_bins=ISO_BINS,
        )
        passed[name] = wp_pass
        if name == "cutbased":  # the real menu: thresholds tuned on the training photons
            passed[name] = menu
            m["wp_eff"] = float(np.sum(wt[menu & (yt == 1)]) / np.sum(wt[yt == 1]))
            m["wp_rej"] = float(np.sum(wt[yt == 0]) / max(np.sum(wt[menu & (yt == 0)]), 1e-300))
        fake = yt == 0
        # fakes in the isolation gap (neither isolated nor non-isolated) are not used
        abcd = fake & (arrays["is_iso"] | arrays["is_noniso"])
        nc, nc_err = abcd_nonclosure(passed[name][abcd], arrays["is_iso"][abcd], wt[abcd])
        m.update(abcd_nonclosure=nc, abcd_nonclosure_err=nc_err, abs_abcd_nonclosure=abs(nc))
        m["train_seconds"] = seconds
        metrics.update({f"{name}.{k}": float(v) for k, v in m.items()})
        arrays[f"score_{name}"] = score.astype(np.float32)

    result = RunResult(
        workflow=WORKFLOW,
        config=config.to_dict(),
        seed=int(seed),
        strength=lam,
        metrics=metrics,
        arrays=arrays,
        hists=_hists(list(config.models), arrays, passed),
        tables=tables,
        info={
            **info,
            "n_train": len(train),
            "n_test": len(test),
            "n_prompt_test": int(yt.sum()),
            "n_fake_test": int((yt == 0).sum()),
            "iso_definition": (
                f"iso: {config.protected} < {config.iso_slope}*pt + {config.iso_offset} GeV; "
                f"non-iso: > that + {config.iso_gap} GeV"
            ),
        },
        estimators=estimators,
    )
    if out is not None:
        result.save(out)
    return result

"""Workflow 2: photon energy calibration, checked in data with Z→ee line shapes.

Every model regresses the correction ``c = E_true / E_raw`` on MC (truth exists in
MC only) and predicts ``E_pred = E_raw × ĉ``. Models
(``Config.models``): these presets (:data:`decorr_af.workflows._calib_models.PRESETS`)
or spec mappings (:mod:`decorr_af.workflows.specs`) with the calibration keys
``inputs`` (``shapes``, default, or ``baseline``) and ``weights`` (``mc``, default,
or ``reweighted``: MC reweighted to data); a penalty must be a domain penalty (MC
vs data), its strength λ × ``scale`` (default 1):

``binned``          median correction in |η| × E_raw × conversion bins (MC)
``baseline_bdt``    BDT on the ATLAS MVA-calibration inputs: η, E_raw, conversion, layer
                    energies E0–E3, conversion radius, cell impact offsets (those present)
``shapes_bdt``      the baseline inputs plus the shower shapes, BDT
``shapes_mlp``      the same inputs, MLP
``disco_mlp``       shapes MLP + ``DomainDisCo(strength)`` between MC and unlabelled data
``disco_bdt``       shapes BDT + ``DomainDisCo(strength)`` (DisCo-xgboost)
``adversary_mlp``   shapes MLP + ``DomainAdversary(strength, **adversary)`` (alias ``adv_mlp``)
``reweighted_mlp``  shapes MLP trained on MC reweighted to data (classifier ratio)
``reweighted_bdt``  shapes BDT trained on MC reweighted to data
``cells_gnn``       graph network on the calorimeter cells (``gnn``: the physics design
                    of :data:`~decorr_af.models.cell_features.PHYSICS_DESIGN`) +
                    ``DomainDisCo(strength)``; ``plain_gnn`` without penalty

**MC performance** (photons, MC truth): response (median ``E_pred/E_true``) and IQR
resolution, overall and in |η| and pT bins.

**Data/MC** (no truth in data): as in ATLAS, the energy scale and resolution are
checked with Z→ee. Choice: like ATLAS's separate electron and photon MVA trainings,
each model is trained a second time *on MC Z→ee electrons* (``zee_training =
"electron"``, truth in MC only) and applied to Z→ee electrons in data and MC;
applying the photon training to electrons (``"photon"``) would mix a photon→electron
transfer bias into the check. The corrected pair mass ``m_raw √(c₁c₂)``
(:func:`decorr_af.columnar.features.pair_mass`) is fitted in data and MC per (η_i, η_j)
category and gives per-|η|-bin energy-scale factors α_i (``E_data = E_MC(1+α_i)``) and
constant-term corrections c′_i (:func:`decorr_af.egamma.extract_scales`). A
calibration that relies on mismodelled inputs shows up as a non-zero α (peak
position) and c′ (width) *difference* between data and MC; ``raw`` (raw energies
times one global constant from MC, so that the peak is inside the fit window) is the
reference.

Domain penalties compare like with like: for photons, all MC candidates passing the
data selection (calorimeter isolation; prompt *and* fakes, the main loss fitting only
the prompt, identified ones) against all data candidates; for electrons, MC and data
electrons of the same Z→ee selection. A truth selection of the MC side only, or a
shower-shape ID (cut on the mismodelled shapes), would pull the MC output towards a
different population.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from typing import Any, ClassVar

import numpy as np

from decorr_af.data.schema import CALO_VARIABLES, SHOWER_SHAPES
from decorr_af.errors import ConfigError
from decorr_af.models.cell_features import PHYSICS_DESIGN
from decorr_af.workflows import _calib_models as cm
from decorr_af.workflows import _stream
from decorr_af.workflows.base import RunResult, WorkflowConfig
from decorr_af.workflows.specs import ModelRules, ModelSpec, model_names, parse_models
from decorr_af.workflows.vocabulary import DOMAIN_SELECTIONS, PROTECTED, protected_hist

__all__ = [
    "DEFAULT_PARETO",
    "PRIMARY_MODEL",
    "Config",
    "Model",
    "gap_vs_mismodelling",
    "run",
    "zee_scales",
]

PRIMARY_MODEL = "disco_mlp"
#: both axes are minimised: MC resolution vs |α| (Z→ee data−MC peak-position difference)
DEFAULT_PARETO = [
    ("disco_mlp.resolution_mc", "disco_mlp.abs_gap"),
    ("adversary_mlp.resolution_mc", "adversary_mlp.abs_gap"),
]
PARETO_MAXIMIZE = (False, False)
TRUTH_COLUMNS = cm.TRUTH_COLUMNS
RAW = "raw"  # the uncorrected reference in the Z→ee tables


class Model(str, enum.Enum):
    """The built-in preset names of this workflow (:data:`._calib_models.PRESETS`)."""

    BINNED = "binned"
    BASELINE_BDT = "baseline_bdt"
    SHAPES_BDT = "shapes_bdt"
    SHAPES_MLP = "shapes_mlp"
    DISCO_MLP = "disco_mlp"
    DISCO_BDT = "disco_bdt"
    ADVERSARY_MLP = "adversary_mlp"
    REWEIGHTED_MLP = "reweighted_mlp"
    REWEIGHTED_BDT = "reweighted_bdt"


class ZeeTraining(str, enum.Enum):
    """Which regression is applied to the Z→ee electrons."""

    ELECTRON = "electron"  # same model, trained on MC Z→ee electrons (ATLAS practice)
    PHOTON = "photon"  # the photon training, transferred to electrons


@dataclasses.dataclass(frozen=True)
class Config(WorkflowConfig):
    """Configuration of the calibration workflow.

    ``zee_mc_files``/``zee_data_files`` empty: no Z→ee data/MC check (MC metrics only).

    Large samples (:mod:`decorr_af.workflows._calib_stream`): ``streaming`` is
    ``True``, ``False`` or ``"auto"`` (stream when the MC photon inputs hold more than
    ``streaming_rows`` photons, counted from file metadata); a streamed run reads
    the MC photons ``chunk_rows`` entries at a time and shuffles the training
    batches in a buffer of ``buffer_rows`` rows. The data candidates and the Z→ee
    samples stay in memory.

    Examples
    --------
    >>> cfg = Config(mc_files=("mc/*.root",), data_files=("data/*.root",), models=("shapes_mlp",))
    >>> cfg.replace(strength=2).strength
    2.0
    """

    workflow = "calibration"
    model_rules: ClassVar[ModelRules] = cm.RULES
    mc_files: tuple[str, ...] = ("samples/photons_mc/*.root",)
    data_files: tuple[str, ...] = ("samples/photons_data/*.root",)
    zee_mc_files: tuple[str, ...] = ()
    zee_data_files: tuple[str, ...] = ()
    zee_training: str = "electron"
    base_features: tuple[str, ...] = ("eta", "e", "converted")
    calo_features: tuple[str, ...] = CALO_VARIABLES
    shape_features: tuple[str, ...] = SHOWER_SHAPES
    models: tuple[Any, ...] = (
        "binned",
        "baseline_bdt",
        "shapes_bdt",
        "shapes_mlp",
        "disco_mlp",
        "reweighted_mlp",
    )
    strength: float = 20.0
    test_fraction: float = 0.5
    max_events: int = 0
    prompt_only: bool = True
    mlp: dict = dataclasses.field(
        default_factory=lambda: {
            "hidden": [64, 64],
            "loss": "huber",
            "epochs": 20,
            "batch_size": 256,
            "lr": 2e-3,
        }
    )
    bdt: dict = dataclasses.field(
        default_factory=lambda: {"n_estimators": 200, "max_depth": 4, "learning_rate": 0.1}
    )
    adversary: dict = dataclasses.field(default_factory=dict)
    gnn: dict = dataclasses.field(
        default_factory=lambda: {
            **PHYSICS_DESIGN,
            "hidden": [64, 64],
            "head": [64, 64],
            "loss": "huber",
            "epochs": 20,
            "batch_size": 256,
            "lr": 2e-3,
        }
    )
    reweight: dict = dataclasses.field(
        default_factory=lambda: {"max_weight": 20.0, "n_folds": 2, "max_iter": 100}
    )
    binned_eta_edges: tuple[float, ...] = (0.0, 0.6, 1.0, 1.37, 1.52, 1.81, 2.01, 2.37)
    binned_e_edges: tuple[float, ...] = (0.0, 40.0, 60.0, 80.0, 120.0, 200.0, 400.0, 1e5)
    eta_edges: tuple[float, ...] = (0.0, 0.6, 1.37, 1.52, 1.81, 2.37)
    pt_edges: tuple[float, ...] = (20.0, 30.0, 40.0, 60.0, 100.0, 1000.0)
    zee_eta_edges: tuple[float, ...] = (0.0, 0.8, 1.37, 1.52, 2.47)
    zee_window: tuple[float, float] = (80.0, 100.0)
    zee_train_range: tuple[float, float] = (60.0, 120.0)
    zee_min_pairs: int = 200
    device: str = "auto"
    streaming: bool | str = "auto"
    streaming_rows: int = 2_000_000
    chunk_rows: int = 200_000
    buffer_rows: int = 262_144

    def validate(self) -> None:
        self.model_specs()
        _stream.check_options(self)
        for f in (*self.base_features, *self.calo_features, *self.shape_features):
            if f in TRUTH_COLUMNS:
                raise ConfigError(f"parameter 'features': truth column {f!r} cannot be an input")
        if self.zee_training not in {x.value for x in ZeeTraining}:
            raise ConfigError(
                f"parameter 'zee_training' must be 'electron' or 'photon', got {self.zee_training!r}"
            )
        if bool(self.zee_mc_files) != bool(self.zee_data_files):
            raise ConfigError(
                "parameters 'zee_mc_files' and 'zee_data_files' must be given together"
            )
        self.check(
            nonnegative=("strength", "max_events", "zee_min_pairs"), fraction=("test_fraction",)
        )
        for name in ("binned_eta_edges", "binned_e_edges", "eta_edges", "pt_edges",
                     "zee_eta_edges", "zee_window", "zee_train_range"):  # fmt: skip
            edges = np.asarray(getattr(self, name))
            if len(edges) < 2 or np.any(np.diff(edges) <= 0):
                raise ConfigError(f"parameter '{name}' must be increasing with >= 2 edges")

    def model_specs(self) -> tuple[ModelSpec, ...]:
        """The validated specs of ``models`` (presets resolved with this config)."""
        return parse_models(self.models, self, self.model_rules)

    @property
    def model_names(self) -> tuple[str, ...]:
        """The names of ``models`` (the metric-key prefixes)."""
        return model_names(self.models)


def run(
    config: Config, *, strength: float | None = None, seed: int = 0, out: Any = None
) -> RunResult:
    """Train the configured calibrations on MC; MC performance and Z→ee data/MC check.

    Parameters
    ----------
    config
        The workflow :class:`Config`.
    strength
        Shorthand for ``config.replace(strength=strength)`` (λ of the penalties).
    seed
        Seed of the splits and of every model.
    out
        If given, the result is saved there (:meth:`RunResult.save`).

    Returns
    -------
    RunResult
        Photon MC metrics ``"<model>.response_mc"``, ``".resolution_mc"`` (± ``_err``),
        ``".pred_ks"`` (KS distance of the predicted corrections, MC vs data candidates
        of the same selection: needs no truth); with Z→ee files, per model and for
        ``raw``: ``".alpha"``/``".alpha_err"`` (inclusive data−MC peak-position
        difference), ``".cprime"``/``".cprime_err"`` (width), ``".alpha_rms"``,
        ``".cprime_rms"`` (over |η| bins), ``".alpha_chi2"`` (Σ(α_i/δα_i)²/bins),
        ``".resolution_mc_ee"`` (electron MC resolution), and ``".data_mc_gap"`` = α,
        ``".abs_gap"`` = \\|α\\|, ``".gap_significance"``. ``tables["binned"]`` (MC
        response/resolution per |η|, pT bin), ``tables["zee_scales"]`` (α_i, c′_i per
        model and bin); arrays ``"<model>.ratio_mc"`` (MC E_pred/E_true) and
        ``"<model>.mee_mc"``/``".mee_data"``; hists ``"ratio"`` (MC), ``"mee"`` and
        ``"protected"`` (predicted E_corr/E_raw of MC and data candidates, the
        protected-variable convention of :mod:`decorr_af.workflows.vocabulary`).
        ``info["streaming"]`` says whether the MC photon side streamed and why; a
        streamed run (:mod:`decorr_af.workflows._calib_stream`) gives the same keys
        from histograms, plus ``".pred_ks_err"`` (bound of the histogram KS) and
        ``".train_seconds"``, with ``arrays`` for a bounded test subsample.

    Examples
    --------
    >>> res = run(Config(models=("baseline_bdt", "shapes_mlp")), seed=1)  # doctest: +SKIP
    >>> res.metrics["shapes_mlp.alpha"]  # doctest: +SKIP
    """
    if not isinstance(config, Config):
        raise ConfigError(f"run() needs a calibration Config, got {type(config).__name__}")
    config = config.with_strength(strength)
    t0 = time.perf_counter()
    from decorr_af.workflows import _calib_stream

    refuse = None if config.streaming is False else _calib_stream.refusal(config, seed=seed)
    decision = _stream.decide(config, key="mc_files", patterns=config.mc_files, refuse=refuse)
    if decision.streamed:
        return _calib_stream.run(config, seed=seed, out=out, decision=decision)
    s = cm.load_samples(config, seed=seed)
    features = cm.feature_sets(config, s.mc_train, s.data_train)
    models, info = cm.train_models(config, s, seed=seed, features=features)

    result = RunResult(
        workflow=config.workflow, config=config.to_dict(), seed=seed, strength=config.strength
    )
    result.metrics.update(s.metrics)
    rows = []
    ratios: dict[str, np.ndarray] = {}
    corrections: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    w_all, w_da = s.mc_test_all.weight.to_numpy(), s.data_test_all.weight.to_numpy()
    for name, model in models.items():
        ratio_mc = (
            cm.predict_correction(model, s, "mc")
            * s.mc_test.e.to_numpy()
            / s.mc_test.truth_e.to_numpy()
        )
        ratios[name] = ratio_mc
        result.arrays[f"{name}.ratio_mc"] = ratio_mc.astype(np.float32)
        result.metrics.update(_mc_metrics(name, ratio_mc, s, config, rows))
        from decorr_af.workflows.reweighting import weighted_ks

        c_mc, c_da = (
            cm.predict_correction(model, s, "mc_all"),
            cm.predict_correction(model, s, "data"),
        )
        result.metrics[f"{name}.pred_ks"] = weighted_ks(c_mc, c_da, wa=w_all, wb=w_da)
        corrections[name] = (c_mc, c_da)
        if model.features is not None:  # the binned table is stored in info
            result.estimators[name] = model.estimator
    import pandas as pd

    result.tables["binned"] = pd.DataFrame(rows)
    result.hists["ratio"] = _ratio_hist(ratios, s)
    result.hists[PROTECTED] = _protected_hist(corrections, w_all, w_da)
    for key in ("abs_eta", "pt", "weight"):
        result.arrays[f"{key}_mc"] = s.mc_test[key].to_numpy(np.float32)
    if config.zee_mc_files:
        zee_scales(config, models, features, seed=seed, result=result)
    result.info.update(info)
    result.info["n_mc_train"], result.info["n_mc_test"] = len(s.mc_train), len(s.mc_test)
    result.info["n_data_train"] = len(s.data_train)
    result.info["n_data_test"] = len(s.data_test_all)
    result.info["n_mc_domain"], result.info["n_data_domain"] = len(s.mc_ref), len(s.data_dom)
    result.info["seconds"] = time.perf_counter() - t0
    result.info["streaming"] = decision.to_dict()
    if out is not None:
        result.save(out)
    return result


def _pairs(df: Any, corr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Corrected pair masses, (n, 2) η and pair weights of consecutive electron rows."""
    from decorr_af.columnar.features import pair_mass

    c = np.asarray(corr, np.float64).reshape(-1, 2)
    m = pair_mass(df["m_ee"].to_numpy(np.float64)[::2], c[:, 0], c[:, 1])
    return (
        np.asarray(m),
        df["eta"].to_numpy(np.float64).reshape(-1, 2),
        df["weight"].to_numpy()[::2],
    )


def zee_scales(
    config: Config,
    models: dict[str, Any],
    features: tuple[list[str], list[str]],
    *,
    strength: float | None = None,
    seed: int,
    result: RunResult,
) -> dict[str, Any]:
    """Z→ee data/MC check of each regression; fills ``result`` (see :func:`run`).

    With ``config.zee_training == "electron"`` the models are retrained on MC Z→ee
    electrons (same inputs, same penalties; the domain side is data Z→ee electrons);
    with ``"photon"`` the photon models of ``models`` are applied to the electrons.
    ``strength`` (default ``config.strength``) is λ of the retrained penalties.

    Returns
    -------
    dict
        ``{model: ScaleResult}``, ``raw`` included.
    """
    import pandas as pd

    from decorr_af.egamma import extract_scales
    from decorr_af.metrics import weighted_quantile

    z = cm.load_zee(config, features[1], seed=seed)
    if config.zee_training == ZeeTraining.ELECTRON.value:
        ee_models, ee_info = cm.train_models(
            config, cm.electron_samples(z), strength=strength, seed=seed, features=features
        )
        result.info["zee"] = ee_info
    else:
        ee_models = models
    result.metrics["zee.n_pairs_mc"] = len(z.mc_test) / 2
    result.metrics["zee.n_pairs_data"] = len(z.data_test) / 2
    truth = z.mc_test["truth_e"].to_numpy(np.float64)
    out: dict[str, Any] = {}
    rows = []
    bins = np.asarray(config.zee_eta_edges)
    h = _mee_hist([RAW, *ee_models], config.zee_window)
    for name in [RAW, *ee_models]:
        if name == RAW:  # raw energies × one global MC constant (the peak enters the window)
            k = 1.0 / float(weighted_quantile(z.mc_train["e"] / z.mc_train["truth_e"], 0.5))
            c_mc, c_da = np.full(len(z.mc_test), k), np.full(len(z.data_test), k)
        else:
            c_mc = ee_models[name].predict_df(z.mc_test)
            c_da = ee_models[name].predict_df(z.data_test)
        m_mc, eta_mc, w_mc = _pairs(z.mc_test, c_mc)
        m_da, eta_da, w_da = _pairs(z.data_test, c_da)
        res = extract_scales(m_da, eta_da, m_mc, eta_mc, eta_edges=bins, w_data=w_da, w_mc=w_mc,
                             window=tuple(config.zee_window), min_pairs=config.zee_min_pairs)  # fmt: skip
        out[name] = res
        ok = np.isfinite(res.alpha)
        ratio = c_mc * z.mc_test["e"].to_numpy() / truth
        stats = _stats(ratio, None, None, z.mc_test["weight"].to_numpy())[0]
        result.metrics.update({
            f"{name}.alpha": res.alpha_incl, f"{name}.alpha_err": res.alpha_incl_err,
            f"{name}.cprime": res.c_incl, f"{name}.cprime_err": res.c_incl_err,
            f"{name}.alpha_rms": float(np.sqrt(np.mean(res.alpha[ok] ** 2))) if ok.any() else np.nan,
            f"{name}.cprime_rms": float(np.sqrt(np.mean(res.c[ok] ** 2))) if ok.any() else np.nan,
            f"{name}.alpha_chi2": float(np.mean((res.alpha[ok] / res.alpha_err[ok]) ** 2))
            if ok.any() else np.nan,
            f"{name}.resolution_mc_ee": stats["resolution"],
            f"{name}.data_mc_gap": res.alpha_incl, f"{name}.data_mc_gap_err": res.alpha_incl_err,
            f"{name}.abs_gap": abs(res.alpha_incl),
            f"{name}.gap_significance": abs(res.alpha_incl) / res.alpha_incl_err
            if res.alpha_incl_err > 0 else np.nan,
        })  # fmt: skip
        for b in range(len(bins) - 1):
            rows.append({"model": name, "low": bins[b], "high": bins[b + 1],
                         "alpha": res.alpha[b], "alpha_err": res.alpha_err[b],
                         "cprime": res.c[b], "cprime_err": res.c_err[b],
                         "cprime2": res.c2[b], "cprime2_err": res.c2_err[b]})  # fmt: skip
        result.arrays[f"{name}.mee_mc"] = m_mc.astype(np.float32)
        result.arrays[f"{name}.mee_data"] = m_da.astype(np.float32)
        h.fill(model=name, dataset="mc", mee=m_mc, weight=w_mc)
        h.fill(model=name, dataset="data", mee=m_da, weight=w_da)
        result.info.setdefault("zee_fits", {})[name] = {
            k: v for k, v in res.to_dict().items() if k not in ("eta_edges",)
        }
    result.tables["zee_scales"] = pd.DataFrame(rows)
    result.hists["mee"] = h
    return out


def _mee_hist(names: list[str], window: Any) -> Any:
    import hist

    lo, hi = window
    return hist.Hist(
        hist.axis.StrCategory(list(names), name="model"),
        hist.axis.StrCategory(["mc", "data"], name="dataset"),
        hist.axis.Regular(
            round(2 * (hi - lo + 20)), lo - 10, hi + 10, name="mee", label=r"$m_{ee}$ [GeV]"
        ),
        storage=hist.storage.Weight(),
    )


def _mc_metrics(
    name: str, ratio_mc: np.ndarray, s: Any, config: Config, rows: list
) -> dict[str, float]:
    w_mc = s.mc_test.weight.to_numpy()
    mc = _stats(ratio_mc, None, None, w_mc)[0]
    out = {
        f"{name}.response_mc": mc["response"],
        f"{name}.response_mc_err": mc["response_err"],
        f"{name}.resolution_mc": mc["resolution"],
        f"{name}.resolution_mc_err": mc["resolution_err"],
    }
    for var, edges in (("abs_eta", config.eta_edges), ("pt", config.pt_edges)):
        for bm in _stats(ratio_mc, s.mc_test[var], edges, w_mc):
            row = {"model": name, "variable": var, "low": bm["low"], "high": bm["high"]}
            for k in ("response", "response_err", "resolution", "resolution_err", "n"):
                row[f"{k}_mc"] = bm[k]
            rows.append(row)
    return out


def _stats(ratio: np.ndarray, x: Any, edges: Any, w: np.ndarray) -> list[dict[str, float]]:
    """Rows of :func:`decorr_af.metrics.binned_response` (one overall bin if ``x`` is None)."""
    from decorr_af.metrics import binned_response

    if x is None:
        x, edges = np.zeros(len(ratio)), (-1.0, 1.0)
    ok = np.isfinite(ratio)
    tab = binned_response(ratio[ok], np.ones(int(ok.sum())), np.asarray(x)[ok], edges, w[ok])
    return tab.to_dict("records")


def _new_ratio_hist(names: Any) -> Any:
    """Empty ``hists["ratio"]``: MC ``E_pred/E_true`` per model."""
    import hist

    return hist.Hist(
        hist.axis.StrCategory(sorted(names), name="model"),
        hist.axis.StrCategory(["mc"], name="dataset"),
        hist.axis.Regular(120, 0.7, 1.3, name="ratio", label=r"$E_{pred}/E_{true}$"),
        storage=hist.storage.Weight(),
    )


def _ratio_hist(ratios: dict[str, np.ndarray], s: Any) -> Any:
    h = _new_ratio_hist(ratios)
    for model, r in ratios.items():
        h.fill(model=model, dataset="mc", ratio=r, weight=s.mc_test.weight.to_numpy())
    return h


#: bins of the predicted correction E_corr/E_raw in the protected-variable histogram
RESPONSE_EDGES = np.linspace(0.8, 1.4, 301)


def _new_protected_hist(names: list[str]) -> Any:
    """Empty ``hists["protected"]`` (predicted E_corr/E_raw of MC and data candidates)."""
    return protected_hist(
        names, RESPONSE_EDGES, variable="response",
        label=r"$E_{corr}/E_{raw}$", selections=DOMAIN_SELECTIONS,
        selection_label="Candidates of the data selection in MC / data",
    )  # fmt: skip


def _protected_hist(
    corrections: dict[str, tuple[np.ndarray, np.ndarray]], w_mc: np.ndarray, w_data: np.ndarray
) -> Any:
    """The protected-variable histogram: predicted E_corr/E_raw of MC and data candidates.

    The domain penalties compare exactly these (``pred_ks`` is their KS distance).
    """
    h = _new_protected_hist(list(corrections))
    for name, (c_mc, c_da) in corrections.items():
        h.fill(model=name, selection="mc", response=c_mc, weight=w_mc)
        h.fill(model=name, selection="data", response=c_da, weight=w_data)
    return h


def gap_vs_mismodelling(
    config: Config,
    *,
    mismodellings: Any = (0.0, 0.5, 1.0, 2.0),
    seed: int = 0,
    workdir: Any,
    events: int = 20000,
    zee_events: int | None = None,
    files: int = 1,
    strength: float | None = None,
) -> Any:
    """Z→ee data−MC α and c′ of each model vs the generator's ``mismodelling`` strength.

    For each strength, "data" photon and Z→ee toys with the same seeds (only the
    mismodelling changes) are generated under ``workdir`` and :func:`run` is called
    with them; ``config`` must name the MC Z→ee files.

    Returns
    -------
    pandas.DataFrame
        Columns ``mismodelling, model, gap, gap_err, gap_significance, cprime,
        cprime_err, alpha_rms, resolution_mc, pred_ks`` (``gap`` = α; ``raw`` included).

    Examples
    --------
    >>> tab = gap_vs_mismodelling(cfg, mismodellings=[0, 1], workdir="scratch")  # doctest: +SKIP
    """
    from pathlib import Path

    import pandas as pd

    from decorr_af.data import generate

    if not config.zee_mc_files:
        raise ConfigError("parameter 'zee_mc_files' is empty: gap_vs_mismodelling needs Z->ee MC")
    workdir = Path(workdir)
    data_seed = int(np.random.SeedSequence([int(seed), 0xDA7A]).generate_state(1)[0] % 2**31)
    rows = []
    for mis in mismodellings:
        mis = float(mis)
        if mis < 0:
            raise ConfigError(f"parameter 'mismodellings' must be >= 0, got {mis}")
        paths = {}
        for sample, n, off in (("photons", events, 0), ("zee", zee_events or events, 1)):
            target = workdir / f"{sample}_data_mis{mis:g}"
            if not any(target.glob("*.root")):
                generate(target, sample=sample, kind="data", events=n, files=files,
                         seed=data_seed + off, mismodelling=mis)  # fmt: skip
            paths[sample] = (str(target / "*.root"),)
        cfg = config.replace(data_files=paths["photons"], zee_data_files=paths["zee"])
        g = run(cfg, strength=strength, seed=seed).metrics
        for m in [RAW, *cfg.model_names]:
            rows.append({
                "mismodelling": mis, "model": m, "gap": g[f"{m}.alpha"],
                "gap_err": g[f"{m}.alpha_err"], "gap_significance": g[f"{m}.gap_significance"],
                "cprime": g[f"{m}.cprime"], "cprime_err": g[f"{m}.cprime_err"],
                "alpha_rms": g[f"{m}.alpha_rms"],
                "resolution_mc": g.get(f"{m}.resolution_mc", np.nan),
                "pred_ks": g.get(f"{m}.pred_ks", np.nan),
            })  # fmt: skip
    return pd.DataFrame(rows)

"""Workflow 2: photon energy calibration robust to data/MC differences.

Every model regresses the correction ``c = E_true / E_raw`` from photon features
on MC and predicts ``E_pred = E_raw × ĉ``. Models (``Config.models``):

``binned``          median correction in |η| × E_raw × conversion bins (MC)
``baseline_bdt``    BDT on (η, E_raw, conversion), like the MC-based ATLAS calibration
``shapes_bdt``      BDT with the shower shapes added
``shapes_mlp``      MLP with the shower shapes added
``disco_mlp``       shapes MLP + ``DomainDisCo(strength)`` between MC and unlabelled data
``disco_bdt``       shapes BDT + ``DomainDisCo(strength)`` (DisCo-xgboost)
``adversary_mlp``   shapes MLP + ``DomainAdversary(strength)``
``reweighted_mlp``  shapes MLP trained on MC reweighted to data (classifier ratio)
``reweighted_bdt``  shapes BDT trained on MC reweighted to data

The domain penalties of the MLPs compare like with like: all isolated MC photon
candidates (prompt *and* fakes; the main loss still fits only the prompt, identified
MC photons) against all isolated data candidates. Isolation is not mismodelled, so
both sides are the same physical population; a truth selection of MC only, or the
shower-shape ID (cut on the mismodelled shapes), would make the penalty pull the MC
output towards a different population and leave most of the data−MC gap.
(``disco_bdt`` still compares the identified prompt MC with identified data.)

"Data" enters training only as unlabelled feature rows (read with
``drop_truth=True``); its truth energy is read separately and used only to
validate: response (median ``E_pred/E_true``), IQR resolution and the data−MC
response gap, overall and in bins of |η| and pT.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from typing import Any

import numpy as np

from decorr_af.data.schema import SHOWER_SHAPES
from decorr_af.errors import ConfigError
from decorr_af.workflows import _calib_models as cm
from decorr_af.workflows.base import RunResult, WorkflowConfig

__all__ = [
    "DEFAULT_PARETO",
    "PRIMARY_MODEL",
    "Config",
    "Model",
    "gap_vs_mismodelling",
    "run",
]

PRIMARY_MODEL = "disco_mlp"
#: both axes are minimised: MC resolution vs absolute data−MC response gap
DEFAULT_PARETO = [
    ("disco_mlp.resolution_mc", "disco_mlp.abs_gap"),
    ("adversary_mlp.resolution_mc", "adversary_mlp.abs_gap"),
]
PARETO_MAXIMIZE = (False, False)
TRUTH_COLUMNS = ("truth_e", "truthType", "truthOrigin", "is_prompt")


class Model(str, enum.Enum):
    """Calibration models of this workflow."""

    BINNED = "binned"
    BASELINE_BDT = "baseline_bdt"
    SHAPES_BDT = "shapes_bdt"
    SHAPES_MLP = "shapes_mlp"
    DISCO_MLP = "disco_mlp"
    DISCO_BDT = "disco_bdt"
    ADVERSARY_MLP = "adversary_mlp"
    REWEIGHTED_MLP = "reweighted_mlp"
    REWEIGHTED_BDT = "reweighted_bdt"


@dataclasses.dataclass(frozen=True)
class Config(WorkflowConfig):
    """Configuration of the calibration workflow.

    Examples
    --------
    >>> cfg = Config(mc_files=("mc/*.root",), data_files=("data/*.root",), models=("shapes_mlp",))
    >>> cfg.replace(strength=2).strength
    2.0
    """

    workflow = "calibration"
    mc_files: tuple[str, ...] = ("samples/photons_mc/*.root",)
    data_files: tuple[str, ...] = ("samples/photons_data/*.root",)
    base_features: tuple[str, ...] = ("eta", "e", "converted")
    shape_features: tuple[str, ...] = SHOWER_SHAPES
    models: tuple[str, ...] = (
        "binned",
        "baseline_bdt",
        "shapes_bdt",
        "shapes_mlp",
        "disco_mlp",
        "reweighted_mlp",
    )
    strength: float = 20.0  # knee of the gap vs resolution trade-off of disco_mlp
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
    reweight: dict = dataclasses.field(
        default_factory=lambda: {"max_weight": 20.0, "n_folds": 2, "max_iter": 100}
    )
    binned_eta_edges: tuple[float, ...] = (0.0, 0.6, 1.0, 1.37, 1.52, 1.81, 2.01, 2.37)
    binned_e_edges: tuple[float, ...] = (0.0, 40.0, 60.0, 80.0, 120.0, 200.0, 400.0, 1e5)
    eta_edges: tuple[float, ...] = (0.0, 0.6, 1.37, 1.52, 1.81, 2.37)
    pt_edges: tuple[float, ...] = (20.0, 30.0, 40.0, 60.0, 100.0, 1000.0)
    device: str = "auto"

    def validate(self) -> None:
        for m in self.models:
            if m not in {x.value for x in Model}:
                allowed = ", ".join(x.value for x in Model)
                raise ConfigError(f"parameter 'models': unknown model {m!r} (allowed: {allowed})")
        if not self.models:
            raise ConfigError("parameter 'models' is empty")
        for f in (*self.base_features, *self.shape_features):
            if f in TRUTH_COLUMNS:
                raise ConfigError(f"parameter 'features': truth column {f!r} cannot be an input")
        self.check(nonnegative=("strength", "max_events"), fraction=("test_fraction",))
        for name in ("binned_eta_edges", "binned_e_edges", "eta_edges", "pt_edges"):
            edges = np.asarray(getattr(self, name))
            if len(edges) < 2 or np.any(np.diff(edges) <= 0):
                raise ConfigError(f"parameter '{name}' must be increasing with >= 2 edges")


def run(
    config: Config, *, strength: float | None = None, seed: int = 0, out: Any = None
) -> RunResult:
    """Train the configured calibrations on MC and validate them on MC and "data".

    Parameters
    ----------
    config
        The workflow :class:`Config`.
    strength
        Decorrelation strength λ (overrides ``config.strength``).
    seed
        Seed of the splits and of every model.
    out
        If given, the result is saved there (:meth:`RunResult.save`).

    Returns
    -------
    RunResult
        ``metrics`` ``"<model>.response_mc"``, ``".resolution_mc"``, ``".response_data"``,
        ``".resolution_data"``, ``".data_mc_gap"`` (± ``".data_mc_gap_err"``),
        ``".abs_gap"``, ``".gap_significance"``, ``".gap_chi2_eta"``/``".gap_chi2_pt"``
        (χ² of the per-bin gaps / number of bins), ``".pred_ks"`` (KS distance of the
        predicted corrections MC vs data: needs no truth); ``tables["binned"]``
        (response/resolution/gap per model in |η| and pT bins); ``arrays``
        ``"<model>.ratio_mc"`` / ``".ratio_data"`` (E_pred/E_true) and
        ``hists["ratio"]``.

    Examples
    --------
    >>> res = run(Config(models=("baseline_bdt", "shapes_mlp")), seed=1)  # doctest: +SKIP
    >>> res.metrics["shapes_mlp.data_mc_gap"]  # doctest: +SKIP
    """
    if not isinstance(config, Config):
        raise ConfigError(f"run() needs a calibration Config, got {type(config).__name__}")
    lam = float(config.strength if strength is None else strength)
    if lam < 0:
        raise ConfigError(f"parameter 'strength' must be >= 0, got {lam}")
    t0 = time.perf_counter()
    s = cm.load_samples(config, seed=seed)
    models, info = cm.train_models(config, s, strength=lam, seed=seed)

    result = RunResult(workflow=config.workflow, config=config.to_dict(), seed=seed, strength=lam)
    result.metrics.update(s.metrics)
    rows = []
    ratios: dict[tuple[str, str], np.ndarray] = {}
    for name, model in models.items():
        ratio_mc = (
            cm.predict_correction(model, s, "mc")
            * s.mc_test.e.to_numpy()
            / s.mc_test.truth_e.to_numpy()
        )
        ratio_da = (
            cm.predict_correction(model, s, "data") * s.data_test.e.to_numpy() / s.data_truth_e
        )
        ratios[(name, "mc")], ratios[(name, "data")] = ratio_mc, ratio_da
        result.arrays[f"{name}.ratio_mc"] = ratio_mc.astype(np.float32)
        result.arrays[f"{name}.ratio_data"] = ratio_da.astype(np.float32)
        result.metrics.update(_model_metrics(name, ratio_mc, ratio_da, s, config, rows))
        if model.features is not None:  # the binned table is stored in info
            result.estimators[name] = model.estimator
    import pandas as pd

    result.tables["binned"] = pd.DataFrame(rows)
    result.hists["ratio"] = _ratio_hist(ratios, s)
    for key in ("abs_eta", "pt", "weight"):
        result.arrays[f"{key}_mc"] = s.mc_test[key].to_numpy(np.float32)
        result.arrays[f"{key}_data"] = s.data_test[key].to_numpy(np.float32)
    result.info.update(info)
    result.info["n_mc_train"], result.info["n_mc_test"] = len(s.mc_train), len(s.mc_test)
    result.info["n_data_train"], result.info["n_data_test"] = len(s.data_train), len(s.data_test)
    result.info["n_mc_domain"], result.info["n_data_domain"] = len(s.mc_ref), len(s.data_dom)
    result.info["seconds"] = time.perf_counter() - t0
    if out is not None:
        result.save(out)
    return result


def _model_metrics(
    name: str, ratio_mc: np.ndarray, ratio_da: np.ndarray, s: Any, config: Config, rows: list
) -> dict[str, float]:
    from decorr_af.workflows.reweighting import weighted_ks

    w_mc, w_da = s.mc_test.weight.to_numpy(), s.data_test.weight.to_numpy()
    mc, da = _stats(ratio_mc, None, None, w_mc)[0], _stats(ratio_da, None, None, w_da)[0]
    gap = da["response"] - mc["response"]
    err = float(np.hypot(da["response_err"], mc["response_err"]))
    out = {
        f"{name}.response_mc": mc["response"],
        f"{name}.response_mc_err": mc["response_err"],
        f"{name}.resolution_mc": mc["resolution"],
        f"{name}.resolution_mc_err": mc["resolution_err"],
        f"{name}.response_data": da["response"],
        f"{name}.response_data_err": da["response_err"],
        f"{name}.resolution_data": da["resolution"],
        f"{name}.resolution_data_err": da["resolution_err"],
        f"{name}.data_mc_gap": gap,
        f"{name}.data_mc_gap_err": err,
        f"{name}.abs_gap": abs(gap),
        f"{name}.gap_significance": abs(gap) / err if err > 0 else float("nan"),
        f"{name}.pred_ks": weighted_ks(
            ratio_mc * s.mc_test.truth_e.to_numpy() / s.mc_test.e.to_numpy(),
            ratio_da * s.data_truth_e / s.data_test.e.to_numpy(),
            wa=w_mc,
            wb=w_da,
        ),
    }
    for var, edges in (("abs_eta", config.eta_edges), ("pt", config.pt_edges)):
        b_mc = _stats(ratio_mc, s.mc_test[var], edges, w_mc)
        b_da = _stats(ratio_da, s.data_test[var], edges, w_da)
        chi2, nb = 0.0, 0
        for bm, bd in zip(b_mc, b_da):
            g = bd["response"] - bm["response"]
            ge = float(np.hypot(bd["response_err"], bm["response_err"]))
            row = {"model": name, "variable": var, "low": bm["low"], "high": bm["high"]}
            for k in ("response", "response_err", "resolution", "resolution_err", "n"):
                row[f"{k}_mc"], row[f"{k}_data"] = bm[k], bd[k]
            row["gap"], row["gap_err"] = g, ge
            rows.append(row)
            if np.isfinite(g) and ge > 0:
                chi2, nb = chi2 + (g / ge) ** 2, nb + 1
        out[f"{name}.gap_chi2_{'eta' if var == 'abs_eta' else var}"] = (
            chi2 / nb if nb else float("nan")
        )
    return out


def _stats(ratio: np.ndarray, x: Any, edges: Any, w: np.ndarray) -> list[dict[str, float]]:
    """Rows of :func:`decorr_af.metrics.binned_response` (one overall bin if ``x`` is None)."""
    from decorr_af.metrics import binned_response

    if x is None:
        x, edges = np.zeros(len(ratio)), (-1.0, 1.0)
    ok = np.isfinite(ratio)
    tab = binned_response(ratio[ok], np.ones(int(ok.sum())), np.asarray(x)[ok], edges, w[ok])
    return tab.to_dict("records")


def _ratio_hist(ratios: dict[tuple[str, str], np.ndarray], s: Any) -> Any:
    import hist

    h = hist.Hist(
        hist.axis.StrCategory(sorted({m for m, _ in ratios}), name="model"),
        hist.axis.StrCategory(["mc", "data"], name="dataset"),
        hist.axis.Regular(120, 0.7, 1.3, name="ratio", label=r"$E_{pred}/E_{true}$"),
        storage=hist.storage.Weight(),
    )
    for (model, sample), r in ratios.items():
        w = (s.mc_test if sample == "mc" else s.data_test).weight.to_numpy()
        h.fill(model=model, dataset=sample, ratio=r, weight=w)
    return h


def gap_vs_mismodelling(
    config: Config,
    *,
    mismodellings: Any = (0.0, 0.5, 1.0, 2.0),
    seed: int = 0,
    workdir: Any,
    events: int = 20000,
    files: int = 1,
    strength: float | None = None,
) -> Any:
    """Data−MC response gap of each model vs the generator's ``mismodelling`` strength.

    For each strength a "data" toy with the same seed (only the mismodelling
    changes) is generated under ``workdir`` and :func:`run` is called with it.

    Returns
    -------
    pandas.DataFrame
        Columns ``mismodelling, model, gap, gap_err, gap_significance,
        resolution_mc, resolution_data, pred_ks``.

    Examples
    --------
    >>> tab = gap_vs_mismodelling(Config(models=("shapes_mlp",)), mismodellings=[0, 1],
    ...                           workdir="scratch")  # doctest: +SKIP
    """
    from pathlib import Path

    import pandas as pd

    from decorr_af.data import generate

    workdir = Path(workdir)
    data_seed = int(np.random.SeedSequence([int(seed), 0xDA7A]).generate_state(1)[0] % 2**31)
    rows = []
    for mis in mismodellings:
        mis = float(mis)
        if mis < 0:
            raise ConfigError(f"parameter 'mismodellings' must be >= 0, got {mis}")
        target = workdir / f"data_mis{mis:g}"
        if not any(target.glob("*.root")):
            generate(target, sample="photons", kind="data", events=events, files=files,
                     seed=data_seed, mismodelling=mis)  # fmt: skip
        cfg = config.replace(data_files=[str(target / "*.root")])
        res = run(cfg, strength=strength, seed=seed)
        for m in cfg.models:
            g = res.metrics
            rows.append({
                "mismodelling": mis, "model": m, "gap": g[f"{m}.data_mc_gap"],
                "gap_err": g[f"{m}.data_mc_gap_err"],
                "gap_significance": g[f"{m}.gap_significance"],
                "resolution_mc": g[f"{m}.resolution_mc"],
                "resolution_data": g[f"{m}.resolution_data"], "pred_ks": g[f"{m}.pred_ks"],
            })  # fmt: skip
    return pd.DataFrame(rows)

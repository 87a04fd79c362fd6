"""Workflow 1: photon identification decorrelated from isolation.

Prompt photons (``is_prompt``) are separated from fakes (π⁰/η mesons and hadrons
in jets) on MC using calorimeter shower shapes only — isolation is *not* an
input. Jet activity around a fake both widens its shower and fills its isolation
cone, so a plain classifier selects the most isolated fakes; the ID and
isolation axes of an ABCD background estimate are then not independent.

Reference menus (always tuned on the training MC, see
:mod:`decorr_af.workflows.cutbased`): ATLAS-structured Loose and Tight menus in
conversion × |η| × E_T cells.  Models (``Config.models``): ``cutbased`` (the
Tight menu itself), ``plain_mlp``, ``plain_bdt``, ``disco_mlp`` and ``disco_bdt``
(DisCo on Loose fakes against ``iso_excess``, the GeV by which a photon's
isolation exceeds the ``isolation_wp`` cut, i.e. the ABCD isolation axis),
``adversary_mlp`` (adversary; ``adv_mlp`` is the same preset under its old name),
or spec mappings (:mod:`decorr_af.workflows.specs`).

Metrics per model (test set, MC weights; prompt = signal):
``auc``, ``r50``, ``eff_at_rej`` (prompt efficiency at fake rejection
``fixed_rejection``), ``eff_at_tight_rej`` (prompt efficiency at the fake
rejection of the Tight menu, ``tight.rej``), ``rej_at_tight_eff``, ``wp_eff``/``wp_rej``
at ``wp_efficiency``, ``dcor``/``inv_dcor``, ``jsd``/``inv_jsd`` with their
statistical ceiling ``inv_jsd_ceiling`` (random cuts with the same counts),
the ABCD figures ``r_bkg`` ± ``r_bkg_err``, ``abcd_nonclosure`` (= R_bkg − 1) ±
``abcd_nonclosure_err``, ``abcd_estimate``/``abcd_A``/``abcd_bias``, the
signal-region purity of the whole test sample from the ABCD formula with
signal leakage (``purity_abcd``; ``purity_abcd_rcorr`` with R_bkg) beside its MC
truth ``purity``, and ``train_seconds``.  ``dcor``, ``jsd`` and the ceiling are
measured on the Loose photons (the ABCD population), the rest on all photons.  Run-level metrics: ``tight.eff``, ``tight.rej``,
``loose.eff``, ``loose.rej``.  A streamed run (``streaming``, see
:mod:`decorr_af.workflows._pid_stream`) gives the same keys plus ``auc_err`` and
``dcor_err`` (its approximations).

ABCD (ATLAS 2D sideband, on the MC fakes of the test set): the ID axis is
Tight (A, B) vs Loose′ (C, D: passes Loose, fails one of the released strip cuts
``loose_prime`` of Tight, passes its other cuts); the isolation axis is the named
working point ``isolation_wp`` (A, C) vs non-isolated beyond ``iso_gap`` GeV
(B, D).  R_bkg = N_A N_D / (N_B N_C) is 1 when ID and isolation are independent
for fakes, and the ABCD estimate N_B N_C / N_D is then unbiased.  An ML model's
"Tight" is its score cut at the Tight menu's fake rejection (``ml_match =
"rejection"``) or prompt efficiency (``"efficiency"``); its Loose′ is "fails
that cut but passes Loose".

Examples
--------
>>> from decorr_af.workflows import photon_id
>>> cfg = photon_id.Config(mc_files=("samples/photons_mc/*.root",), epochs=5)  # doctest: +SKIP
>>> res = photon_id.run(cfg.replace(strength=20.0), seed=1, out="runs/pid")    # doctest: +SKIP
>>> res.metrics["disco_mlp.r_bkg"], res.metrics["disco_mlp.eff_at_tight_rej"]  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, ClassVar

import numpy as np

from decorr_af.columnar.isolation import IsolationWP, get_isolation_wp
from decorr_af.data.schema import CALO_VARIABLES, CONVERSION, ISOLATION, SHOWER_SHAPES
from decorr_af.errors import ConfigError
from decorr_af.metrics import AbcdResult, abcd, abcd_signal_yield, efficiency_threshold
from decorr_af.models.cell_features import PHYSICS_DESIGN
from decorr_af.workflows import _classify, _stream
from decorr_af.workflows._cells import cells_of, load_with_cells, takes_cells
from decorr_af.workflows._data import feature_matrix, load_photons, subsample, train_test_split_idx
from decorr_af.workflows.base import RunResult
from decorr_af.workflows.cutbased import (
    ATLAS_ETA_BINS,
    DEFAULT_ET_BINS,
    CutMenu,
    get_menu_spec,
    loose_prime_variables,
    tune_menu,
)
from decorr_af.workflows.inputs import read_inputs
from decorr_af.workflows.specs import ModelRules, Presets
from decorr_af.workflows.vocabulary import (
    CLASSIFIER_SELECTIONS,
    PROTECTED,
    array_key,
    protected_hist,
)

__all__ = [
    "DEFAULT_PARETO",
    "MODELS",
    "PRESETS",
    "PRIMARY_MODEL",
    "Config",
    "run",
    "table_features",
]

WORKFLOW = "photon_id"
MODELS = ("cutbased", *_classify.ML_MODELS)
#: the classifier presets plus ``cutbased`` (the Tight menu, built by the workflow)
PRESETS = Presets("photon_id", parent=_classify.PRESETS)
PRESETS.register("cutbased", {"estimator": "cutbased"})


def _cells_gnn(config: Any, penalty: bool = True) -> dict[str, Any]:
    """A graph network over each photon's cells (keywords ``config.gnn``; files with ``--cells``)."""
    spec: dict[str, Any] = {
        "estimator": "gnn",
        "params": dict(getattr(config, "gnn", PHYSICS_DESIGN)),
    }
    if penalty:  # decorrelated from the isolation like ``disco_mlp``
        spec["penalty"] = {"kind": "DisCo", "on": "background"}
    return spec


PRESETS.register("cells_gnn", _cells_gnn)
PRESETS.register("plain_gnn", lambda config: _cells_gnn(config, penalty=False))
RULES = ModelRules(task="classification", presets=PRESETS, special=("cutbased",))
PRIMARY_MODEL = "disco_mlp"
DEFAULT_PARETO = [
    ("disco_mlp.r50", "disco_mlp.inv_dcor"),
    ("disco_mlp.eff_at_tight_rej", "disco_mlp.inv_jsd"),
    ("disco_bdt.r50", "disco_bdt.inv_dcor"),
    ("adversary_mlp.r50", "adversary_mlp.inv_dcor"),
]
#: extra per-photon columns derived in the workflow (``iso_excess``: GeV above the
#: isolation working point, :meth:`~decorr_af.columnar.isolation.IsolationWP.excess`)
DERIVED = ("abs_eta", "iso_excess")
ISO_BINS = np.linspace(-4.0, 16.0, 41)
MU_BINS = np.linspace(18.0, 82.0, 17)
ML_MATCH = ("rejection", "efficiency")
#: photon features of the flat table (the rest are book-keeping or derived columns)
_TABLE_FEATURES = frozenset((*CONVERSION, *SHOWER_SHAPES, *ISOLATION, *CALO_VARIABLES))
#: metrics measured on the Loose test photons (the ABCD population)
DEPENDENCE_METRICS = (
    "dcor",
    "inv_dcor",
    "jsd",
    "inv_jsd",
    "inv_jsd_ceiling",
    "inv_jsd_ceiling_lo",
    "inv_jsd_ceiling_hi",
)


@dataclasses.dataclass(frozen=True)
class Config(_classify.ClassifierConfig):
    """Photon-ID workflow configuration (energies in GeV).

    The classifier hyper-parameters (``strength``, ``hidden``, ``epochs``, ...) are
    those of :class:`~decorr_af.workflows._classify.ClassifierConfig`.
    ``tight_menu`` names a registered menu (its parent is the Loose menu),
    ``eta_bins``/``et_bins`` its cells; ``loose_prime`` the released strip cuts
    of the non-tight region; ``isolation_wp`` a registered isolation working
    point and ``iso_gap`` (GeV) the gap before the non-isolated region.
    ``ml_match`` sets an ML model's Tight-like cut at the Tight menu's
    ``"rejection"`` or ``"efficiency"``.  With ``ml_preselection`` (default) the
    ML models are trained on, and select from, Loose photons — as the Tight menu
    does — so the ABCD population (Loose fakes) is where DisCo decorrelates.

    Large samples (:mod:`decorr_af.workflows._pid_stream`): ``streaming`` is
    ``True``, ``False`` or ``"auto"`` (stream when the inputs hold more than
    ``streaming_rows`` photons, counted from file metadata); a streamed run reads
    ``chunk_rows`` entries at a time and shuffles the training batches in a buffer
    of ``buffer_rows`` rows.
    """

    workflow: ClassVar[str] = WORKFLOW
    model_rules: ClassVar[ModelRules] = RULES

    mc_files: tuple[str, ...] = ("samples/photons_mc/*.root",)
    features: tuple[str, ...] = (*SHOWER_SHAPES, "abs_eta")
    protected: str = "iso_excess"
    models: tuple[Any, ...] = MODELS
    wp_efficiency: float = 0.85
    min_pt: float = 25.0
    tight_menu: str = "tight"
    eta_bins: tuple[float, ...] = ATLAS_ETA_BINS
    et_bins: tuple[float, ...] = DEFAULT_ET_BINS
    loose_prime: str = "loose_prime_4"
    isolation_wp: str = "FixedCutLoose"
    iso_gap: float = 2.0
    ml_match: str = "rejection"
    ml_preselection: bool = True
    jsd_permutations: int = 100
    streaming: bool | str = "auto"
    streaming_rows: int = 2_000_000
    chunk_rows: int = 200_000
    buffer_rows: int = 262_144
    #: keywords of the ``cells_gnn`` / ``plain_gnn`` graph networks (the physics design)
    gnn: dict = dataclasses.field(default_factory=lambda: dict(PHYSICS_DESIGN))

    def validate(self) -> None:
        super().validate()
        _stream.check_options(self)
        leaks = [
            f for f in self.features if f == self.protected or f in ISOLATION or f == "iso_excess"
        ]
        if leaks:
            raise ConfigError(
                f"parameter 'features' contains the protected variable '{self.protected}' "
                f"or another isolation variable: {leaks}"
            )
        self.check(nonnegative=("min_pt", "iso_gap"), positive=("jsd_permutations",))
        spec = get_menu_spec(self.tight_menu)
        if spec.parent is None:
            raise ConfigError(
                f"parameter 'tight_menu': menu {self.tight_menu!r} has no Loose parent menu"
            )
        loose_prime_variables(self.loose_prime)
        get_isolation_wp(self.isolation_wp)
        if self.ml_match not in ML_MATCH:
            raise ConfigError(
                f"parameter 'ml_match' must be one of {ML_MATCH}, got {self.ml_match!r}"
            )


def table_features(config: Config) -> tuple[str, ...]:
    """Photon-table features the run reads: model inputs, menu and isolation columns.

    Derived columns (:data:`DERIVED`) and book-keeping columns (``pt``, ``mu``, ...)
    are not features of the table; they are left out.

    Examples
    --------
    >>> table_features(Config(features=("Reta", "abs_eta")))[:4]
    ('conversionType', 'Rhad', 'Reta', 'Rphi')
    """
    wanted = list(CONVERSION)
    spec = get_menu_spec(config.tight_menu)
    while True:
        wanted += spec.variables
        if spec.parent is None:
            break
        spec = get_menu_spec(spec.parent)
    wanted += [*config.features, config.protected, *get_isolation_wp(config.isolation_wp).columns]
    return tuple(f for f in dict.fromkeys(wanted) if f in _TABLE_FEATURES)


def _load(config: Config) -> Any:
    """Read ``mc_files``; errors name the config key and the file."""
    df = read_inputs("mc_files", config.mc_files, load_photons, features=table_features(config))
    if "is_prompt" not in df.columns:
        raise ConfigError(f"parameter 'mc_files': {config.mc_files} has no truth (is_prompt)")
    return df


def _takes_cells(spec: Any) -> bool:
    return takes_cells(spec, "classification")


def _load_cells(config: Config) -> tuple[Any, Any]:
    """``mc_files`` as a photon table and its CellSet; rows with non-finite inputs dropped."""
    df, cells = load_with_cells("mc_files", config.mc_files, features=list(table_features(config)))
    if "is_prompt" not in df.columns:
        raise ConfigError(f"parameter 'mc_files': {config.mc_files} has no truth (is_prompt)")
    cols = [c for c in (*config.features, config.protected, "pt", "eta") if c in df.columns]
    ok = np.isfinite(df[cols].to_numpy(dtype=np.float64)).all(axis=1)
    return df[ok].reset_index(drop=True), cells


def _prepare(config: Config, seed: int, *, cells: bool = False) -> tuple[Any, Any]:
    """The photon table of the run and, when ``cells``, its aligned CellSet (else None)."""
    if cells:
        df, cs = _load_cells(config)
    else:
        df, cs = _load(config), None
    df = df[df["pt"] >= config.min_pt].reset_index(drop=True)
    df["abs_eta"] = np.abs(df["eta"].to_numpy())
    df["iso_excess"] = get_isolation_wp(config.isolation_wp).excess(df)
    df = subsample(df, config.max_events or None, seed=seed)
    if cs is not None:
        cs = cells_of(df, cs)
    return df, cs


def _hists(
    models: list[str],
    arrays: dict[str, np.ndarray],
    passed: dict[str, np.ndarray],
    iso_label: str = "topoetcone20 [GeV]",
) -> dict:
    import hist

    out = {}
    for var, edges, label in (
        ("iso", ISO_BINS, iso_label),
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


def _protected_hist(
    models: list[str], arrays: dict[str, np.ndarray], passed: dict[str, np.ndarray],
    variable: str, label: str,
) -> Any:  # fmt: skip
    """The protected-variable histogram: fakes passing / failing each model's ID cut."""
    h = protected_hist(models, ISO_BINS, variable=variable, label=label,
                       selection_label="Fakes passing / failing the ID cut")  # fmt: skip
    fake = arrays["label"] == 0
    x, w = arrays["isolation"][fake], arrays["weight"][fake]
    for m in models:
        ok = passed[m][fake]
        for sel, mask in zip(CLASSIFIER_SELECTIONS, (ok, ~ok)):
            h.fill(model=m, selection=sel, **{variable: x[mask]}, weight=w[mask])
    return h


def _menu_metrics(tot: dict[str, float]) -> dict[str, float]:
    """The run-level menu figures from weighted test counts (in memory and streamed).

    ``tot`` holds the weight sums of the test prompt photons (``sig``) and fakes
    (``fake``) and of those passing Tight (``tight_sig``, ``tight_fake``) and Loose
    (``loose_sig``, ``loose_fake``), and of the Loose′ fakes (``lp_fake``).

    Examples
    --------
    >>> tot = dict(sig=10.0, fake=20.0, tight_sig=8.0, tight_fake=2.0, loose_sig=9.0,
    ...            loose_fake=10.0, lp_fake=4.0)
    >>> _menu_metrics(tot)["tight.rej"], _menu_metrics(tot)["loose.eff"]
    (10.0, 0.9)
    """

    def frac(num: str, den: str) -> float:
        return tot[num] / tot[den] if tot[den] > 0 else float("nan")

    tight_fake = frac("tight_fake", "fake")
    if not tight_fake > 0:
        raise ConfigError("photon_id: no test fake passes the Tight menu (sample too small)")
    return {
        "tight.eff": frac("tight_sig", "sig"),
        "tight.rej": 1.0 / tight_fake,
        "loose.eff": frac("loose_sig", "sig"),
        "loose.rej": 1.0 / max(frac("loose_fake", "fake"), 1e-300),
        "loose_prime.fake_frac": frac("lp_fake", "fake"),
    }


def _frac(mask: np.ndarray, sel: np.ndarray, w: np.ndarray) -> float:
    den = float(w[sel].sum())
    return float(w[sel & mask].sum()) / den if den > 0 else float("nan")


def _abcd_metrics(
    tight: np.ndarray, non_tight: np.ndarray, iso: np.ndarray, noniso: np.ndarray,
    fake: np.ndarray, w: np.ndarray,
) -> dict[str, float]:  # fmt: skip
    """R_bkg and closure on MC fakes; the purity of A measured on the whole sample.

    The purity uses the ATLAS signal-leakage formula with leakage fractions from
    the prompt MC and R_bkg = 1 (``purity_abcd``) or the fake-MC R_bkg
    (``purity_abcd_rcorr``); ``purity`` is the MC truth it should reproduce.
    """
    r = abcd(tight[fake], iso[fake], w[fake], id_fail=non_tight[fake], iso_fail=noniso[fake])
    every = abcd(tight, iso, w, id_fail=non_tight, iso_fail=noniso)
    sig = abcd(tight[~fake], iso[~fake], w[~fake], id_fail=non_tight[~fake], iso_fail=noniso[~fake])
    return abcd_figures(r, sig, every)


def abcd_figures(r: AbcdResult, sig: AbcdResult, every: AbcdResult) -> dict[str, float]:
    """The ABCD metrics from the region yields of the fakes, the prompt and every photon."""
    out = r.as_dict()
    out.update(
        abcd_nonclosure=r.nonclosure,
        abcd_nonclosure_err=r.r_bkg_err,
        abs_abcd_nonclosure=abs(r.nonclosure),
    )
    every_y = every.yields
    na = every_y[0]
    if na > 0 and sig.yields[0] > 0:
        leak = np.asarray(sig.yields[1:]) / sig.yields[0]
        out["purity"] = sig.yields[0] / na
        out["purity_abcd"] = abcd_signal_yield(every_y, leakage=leak) / na
        rb = r.r_bkg if np.isfinite(r.r_bkg) and r.r_bkg > 0 else float("nan")
        out["purity_abcd_rcorr"] = (
            abcd_signal_yield(every_y, leakage=leak, r_bkg=rb) / na if np.isfinite(rb) else rb
        )
    return out


def _menus(config: Config, table: Any) -> CutMenu:
    return tune_menu(config.tight_menu, table, eta_bins=config.eta_bins, et_bins=config.et_bins)


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
        Shorthand for ``config.replace(strength=strength)`` (λ of the penalties).
    seed
        Seeds the subsample, the train/test split, the model initialisation and
        the permutations of the 1/JSD ceiling.
    out
        If given, the result is saved there (:meth:`RunResult.save`).

    Examples
    --------
    >>> res = run(Config(mc_files=("mc/*.root",), models=("cutbased", "disco_mlp")))  # doctest: +SKIP
    """
    if not isinstance(config, Config):
        raise ConfigError(f"photon_id.run needs a photon_id.Config, got {type(config).__name__}")
    config = config.with_strength(strength)
    specs = config.model_specs()
    graph = [s.name for s in specs if _takes_cells(s)]
    refuse = f"models {graph} read calorimeter cells (in memory only)" if graph else None
    decision = _stream.decide(config, key="mc_files", patterns=config.mc_files, refuse=refuse)
    if decision.streamed:
        from decorr_af.workflows import _pid_stream

        return _pid_stream.run(config, seed=seed, out=out, decision=decision)
    df, cells = _prepare(config, seed, cells=bool(graph))
    X = feature_matrix(df, config.features)
    y = df["is_prompt"].to_numpy().astype(np.int64)
    iso = df[config.protected].to_numpy(dtype=np.float64)
    w = df["weight"].to_numpy(dtype=np.float64) if "weight" in df else np.ones(len(df))
    train, test = train_test_split_idx(len(df), test_fraction=config.test_fraction, seed=seed)
    if len(np.unique(y[train])) < 2:
        raise ConfigError("photon_id: the training sample needs both prompt and fake photons")

    # reference menus, tuned on the prompt photons of the training MC only
    t0 = time.perf_counter()
    tight_menu = _menus(config, df.iloc[train])
    menu_seconds = time.perf_counter() - t0
    te = df.iloc[test].reset_index(drop=True)
    fit_idx = train
    if config.ml_preselection:
        fit_idx = train[tight_menu.parent.passes(df.iloc[train])]  # type: ignore[union-attr]
        if len(np.unique(y[fit_idx])) < 2:
            raise ConfigError("photon_id: no Loose prompt or fake training photon")
    wt, yt = w[test], y[test]
    sig, fake = yt == 1, yt == 0
    tight = tight_menu.passes(te)
    loose = tight_menu.parent.passes(te)  # type: ignore[union-attr]
    loose_prime = tight_menu.loose_prime(te, config.loose_prime)
    wp: IsolationWP = get_isolation_wp(config.isolation_wp)
    is_iso, is_noniso = wp.passes(te), wp.non_isolated(te, gap=config.iso_gap)
    sums = {"sig": sig, "fake": fake, "tight_sig": sig & tight, "tight_fake": fake & tight,
            "loose_sig": sig & loose, "loose_fake": fake & loose, "lp_fake": fake & loose_prime}  # fmt: skip
    metrics = _menu_metrics({k: float(wt[mask].sum()) for k, mask in sums.items()})
    tight_eff, tight_rej = metrics["tight.eff"], metrics["tight.rej"]
    arrays: dict[str, np.ndarray] = {
        "label": yt,
        "isolation": iso[test],
        "mu": te["mu"].to_numpy(dtype=np.float64),
        "pt": te["pt"].to_numpy(dtype=np.float64),
        "eta": te["eta"].to_numpy(dtype=np.float64),
        "weight": wt,
        "is_iso": is_iso,
        "is_noniso": is_noniso,
        "pass_loose": loose,
        "pass_tight": tight,
        "pass_loose_prime": loose_prime,
    }
    tables: dict[str, Any] = {
        "cutbased_thresholds": tight_menu.thresholds_table(),
        "loose_thresholds": tight_menu.parent.thresholds_table(),  # type: ignore[union-attr]
        "tight_efficiency": tight_menu.efficiency_table(te, mask=sig),
    }
    estimators: dict[str, Any] = {}
    passed: dict[str, np.ndarray] = {}
    cm_kw = {
        "wp_efficiency": config.wp_efficiency,
        "fixed_rejection": config.fixed_rejection,
        "jsd_bins": ISO_BINS,
    }
    for k, spec in enumerate(specs):
        name = spec.name
        if spec.estimator == "cutbased":
            score, seconds = tight_menu.score(te), menu_seconds
        else:
            est = _classify.build_model(spec, config, seed=seed)
            inputs = cells if _takes_cells(spec) else X  # a CellSet for graph models
            score, seconds = _classify.fit_predict(
                est,
                inputs[fit_idx],
                y[fit_idx],
                inputs[test],
                protected=iso[fit_idx],
                sample_weight=_classify.balanced_weights(y[fit_idx], w[fit_idx]),
            )
            if config.ml_preselection:  # Loose-failing photons rank below every Loose one
                score = np.where(loose, score, score - 2.0)
            estimators[name] = est
        # performance on every test photon; dependence on the ABCD population (Loose)
        m, _ = _classify.classifier_metrics(score, yt, wt, arrays["isolation"], **cm_kw)
        dep, _ = _classify.classifier_metrics(
            score[loose], yt[loose], wt[loose], arrays["isolation"][loose], **cm_kw,
            ceiling_seed=seed * 1000 + k, n_permutations=config.jsd_permutations,
        )  # fmt: skip
        m.update({key: dep[key] for key in DEPENDENCE_METRICS})
        if spec.estimator == "cutbased":  # the menu itself, not a cut on its score family
            id_pass, id_fail = tight, loose_prime
            m.update(wp_eff=tight_eff, wp_rej=tight_rej, eff_at_tight_rej=tight_eff)
            m["rej_at_tight_eff"] = tight_rej
        else:
            thr_rej = _classify.threshold_at_rejection(score, yt, wt, tight_rej)
            m["eff_at_tight_rej"] = _frac(score > thr_rej, sig, wt)
            thr_eff = efficiency_threshold(yt, score, min(tight_eff, 1 - 1e-9), wt)
            m["rej_at_tight_eff"] = 1.0 / max(_frac(score > thr_eff, fake, wt), 1e-300)
            id_pass = score > (thr_rej if config.ml_match == "rejection" else thr_eff)
            id_fail = ~id_pass & loose
        passed[name] = id_pass
        m.update(_abcd_metrics(id_pass, id_fail, is_iso, is_noniso, fake, wt))
        m["train_seconds"] = seconds
        metrics.update({f"{name}.{key}": float(v) for key, v in m.items()})
        arrays[array_key(name, "score")] = score.astype(np.float32)

    iso_label = (
        f"Isolation above {wp.name} [GeV]"
        if config.protected == "iso_excess"
        else f"{config.protected} [GeV]"
    )
    result = RunResult(
        workflow=WORKFLOW,
        config=config.to_dict(),
        seed=int(seed),
        strength=config.strength,
        metrics=metrics,
        arrays=arrays,
        hists={
            **_hists(list(config.model_names), arrays, passed, iso_label),
            PROTECTED: _protected_hist(
                list(config.model_names), arrays, passed, config.protected, iso_label
            ),
        },
        tables=tables,
        info={
            "cut_sides": tight_menu.cut_sides(),
            "menu": tight_menu.to_dict(),
            "n_train": len(train),
            "n_test": len(test),
            "n_prompt_test": int(sig.sum()),
            "n_fake_test": int(fake.sum()),
            "isolation_wp": wp.to_dict(),
            "iso_definition": (
                f"iso: {wp.name}; non-iso: a cut of {wp.name} failed by more than "
                f"{config.iso_gap} GeV"
            ),
            "loose_prime": list(loose_prime_variables(config.loose_prime)),
        },
        estimators=estimators,
    )
    result.info["models"] = _classify.describe_models(specs, config.strength)
    result.info["streaming"] = decision.to_dict()
    if out is not None:
        result.save(out)
    return result

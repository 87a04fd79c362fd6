"""Samples and models of the calibration workflow (see :mod:`.calibration`).

Truth is read from MC only: data tables are always read with ``drop_truth=True``
(photons and Z→ee electrons), and every data-side selection is reco-level.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import numpy as np

from decorr_af.data.schema import TRUTH_COLUMNS
from decorr_af.errors import ConfigError, InputFileError, MissingBranchError
from decorr_af.workflows._cells import cells_of, load_with_cells, takes_cells
from decorr_af.workflows._data import (
    feature_matrix,
    load_electrons,
    load_photons,
    train_test_split_idx,
)
from decorr_af.workflows._photon_cuts import DEFAULT_ID_CUTS, DEFAULT_ISO_CUTS, cut_based_id
from decorr_af.workflows.specs import ModelRules, ModelSpec, Presets, build_estimator, parse_models

__all__ = [
    "PRESETS",
    "RULES",
    "SPECIAL_BUILDERS",
    "BinnedCorrection",
    "Samples",
    "ZeeSamples",
    "feature_sets",
    "load_samples",
    "load_zee",
    "make_model",
    "predict_correction",
    "train_models",
]


@dataclasses.dataclass
class Samples:
    """MC photons (with truth) and data photon candidates (reco-level inputs only)."""

    mc_train: Any  # prompt (truth), identified MC photons: the regression target rows
    mc_test: Any  # held-out prompt MC photons: resolution and response (MC truth)
    mc_test_all: Any  # held-out MC candidates with the data selection (no truth cut)
    data_train: Any  # identified data candidates of the training split (unlabelled)
    data_test_all: Any  # held-out data candidates (reco selection only)
    metrics: dict[str, float]
    # domain penalties compare two populations with the SAME reco-level selection
    # (isolated candidates, prompt and fake); truth cannot select data, so it may not
    # select the MC side of the penalty either
    mc_ref: Any = None  # MC training-split candidates, prompt and non-prompt
    mc_ref_fit: Any = None  # bool mask: the mc_ref rows that are mc_train rows
    data_dom: Any = None  # data training-split candidates (no ID, no truth)
    particle: str = "photon"
    # MC then data photons' cells, when a model reads cells: tables carry CELL_ROW
    cells: Any = None


@dataclasses.dataclass
class ZeeSamples:
    """Z→ee electrons split by event: MC (truth) and data (no truth), pairs kept whole."""

    mc_train: Any  # MC electrons of training events (regression target: truth_e / e)
    mc_test: Any  # MC electrons of held-out events (both electrons of each pair)
    data_train: Any  # data electrons of training events (domain rows, unlabelled)
    data_test: Any  # data electrons of held-out events (both electrons of each pair)


def _prepare(df: Any) -> Any:
    df = df.reset_index(drop=True)
    df["abs_eta"] = np.abs(df["eta"].to_numpy(np.float64))
    if "converted" not in df.columns:
        conv = df["conversionType"].to_numpy() > 0 if "conversionType" in df.columns else 0
        df["converted"] = np.zeros(len(df), bool) | conv
    return df


def _finite(df: Any, cols: list[str]) -> np.ndarray:
    return np.isfinite(df[cols].to_numpy(np.float64)).all(axis=1)


def feature_sets(config: Any, *tables: Any) -> tuple[list[str], list[str]]:
    """(baseline, shower-shape) input columns present in every table.

    The baseline is ``base_features`` plus the ATLAS MVA-calibration variables of
    ``calo_features`` (layer energies, conversion radius, cell impact offsets) that
    the samples provide; the shower-shape models add ``shape_features`` to it.

    Examples
    --------
    >>> import pandas as pd
    >>> class C:
    ...     base_features, calo_features, shape_features = ("eta", "e"), ("E1", "E9"), ("Reta",)
    >>> feature_sets(C(), pd.DataFrame(columns=["eta", "e", "E1", "Reta"]))
    (['eta', 'e', 'E1'], ['eta', 'e', 'E1', 'Reta'])
    """
    calo = [c for c in config.calo_features if all(c in t.columns for t in tables)]
    base = list(dict.fromkeys([*config.base_features, *calo]))
    return base, list(dict.fromkeys([*base, *config.shape_features]))


def load_samples(config: Any, *, seed: int) -> Samples:
    """Read, select and split MC and data photons for :func:`calibration.run`.

    MC and data candidates pass the same reco-level selection (calorimeter
    isolation, finite inputs, E > 0); the MC regression rows additionally are
    truth-prompt (MC only) and pass the shower-shape ID. When a model reads
    calorimeter cells (``cells_gnn``) the photons come with their cells
    (:mod:`decorr_af.workflows._cells`; ``Samples.cells``).
    """
    cells = None
    if any(takes_cells(spec, "regression") for spec in parse_models(config.models, config, RULES)):
        mc, mc_cells = load_with_cells("mc_files", config.mc_files)
        data, data_cells = load_with_cells(
            "data_files", config.data_files, drop_truth=True, offset=len(mc_cells)
        )
        from decorr_af.models.graph import concat_cells

        mc, data = _prepare(mc), _prepare(data)
        cells = concat_cells(mc_cells, data_cells)
    else:
        mc = _prepare(load_photons(config.mc_files))
        data = _prepare(load_photons(config.data_files, drop_truth=True))
    _, feats = feature_sets(config, mc, data)
    for name, df, extra in (("mc_files", mc, ["truth_e", "is_prompt"]), ("data_files", data, [])):
        missing = [c for c in [*feats, "e", "pt", "weight", *extra] if c not in df.columns]
        if missing:
            raise MissingBranchError(f"parameter '{name}': table lacks column(s) {missing}")
    leaked = [c for c in TRUTH_COLUMNS if c in data.columns]
    if leaked:  # the readers never return truth for data; refuse if one ever did
        raise InputFileError(f"parameter 'data_files': data table holds truth column(s) {leaked}")

    def reco(df: Any) -> np.ndarray:
        return cut_based_id(df, DEFAULT_ISO_CUTS) & _finite(df, feats) & (df["e"].to_numpy() > 0)

    rng = np.random.default_rng([int(seed), 0xCA11])
    mc_idx, da_idx = np.flatnonzero(reco(mc)), np.flatnonzero(reco(data))
    if config.max_events:
        mc_idx = np.sort(rng.permutation(mc_idx)[: config.max_events])
        da_idx = np.sort(rng.permutation(da_idx)[: config.max_events])
    if len(mc_idx) < 20 or len(da_idx) < 20:
        raise ConfigError(
            f"too few selected photons (MC {len(mc_idx)}, data {len(da_idx)}) for calibration"
        )
    target = mc["truth_e"].to_numpy() > 0
    if config.prompt_only:
        target &= mc["is_prompt"].to_numpy(bool)
    tr, te = train_test_split_idx(len(mc_idx), test_fraction=config.test_fraction, seed=seed)
    dtr, dte = train_test_split_idx(len(da_idx), test_fraction=config.test_fraction, seed=seed + 1)
    ref, mc_te = mc_idx[tr], mc_idx[te]
    mc_tr = ref[target[ref] & cut_based_id(mc.iloc[ref], DEFAULT_ID_CUTS)]
    da_tr = da_idx[dtr][cut_based_id(data.iloc[da_idx[dtr]], DEFAULT_ID_CUTS)]
    if len(mc_tr) < 20:
        raise ConfigError(f"too few identified prompt MC photons ({len(mc_tr)}) for calibration")
    prompt = mc["is_prompt"].to_numpy(bool)
    id_ref = cut_based_id(mc.iloc[ref], DEFAULT_ID_CUTS)
    return Samples(
        mc_train=mc.iloc[mc_tr].reset_index(drop=True),
        mc_test=mc.iloc[mc_te[target[mc_te]]].reset_index(drop=True),
        mc_test_all=mc.iloc[mc_te].reset_index(drop=True),
        data_train=data.iloc[da_tr].reset_index(drop=True),
        data_test_all=data.iloc[da_idx[dte]].reset_index(drop=True),
        metrics={  # purity of the data-side selections, as estimated from MC
            "selection.mc_purity_id": float(prompt[ref][id_ref].mean()) if id_ref.any() else 0.0,
            "selection.mc_purity_domain": float(prompt[ref].mean()),
        },
        mc_ref=mc.iloc[ref].reset_index(drop=True),
        mc_ref_fit=np.isin(ref, mc_tr),
        data_dom=data.iloc[da_idx[dtr]].reset_index(drop=True),
        cells=cells,
    )


def _pairs_ok(df: Any, name: str) -> Any:
    """Check the electron table's pair layout (rows 2k, 2k+1 = one event)."""
    if len(df) % 2 or not np.array_equal(df["pair"].to_numpy()[::2], np.zeros(len(df) // 2)):
        raise InputFileError(f"parameter '{name}': electron rows are not consecutive pairs")
    ev = df["eventNumber"].to_numpy()
    if not np.array_equal(ev[::2], ev[1::2]):
        raise InputFileError(f"parameter '{name}': the two electrons of a pair differ in event")
    return df


def load_zee(config: Any, features: list[str], *, seed: int) -> ZeeSamples:
    """Read the Z→ee MC (truth) and data (no truth) electrons, split by event.

    Pairs with a non-finite input on either electron are dropped; the regression
    rows of MC are electrons of training events with ``m_ee`` (raw) in
    ``config.zee_train_range`` and ``truth_e > 0``; the same mass range selects
    the data domain rows. Held-out events keep both electrons for the line shape.
    """
    out = []
    for name, files, truth in (("zee_mc_files", config.zee_mc_files, True),
                               ("zee_data_files", config.zee_data_files, False)):  # fmt: skip
        df = _prepare(load_electrons(files, drop_truth=not truth))
        if not truth and any(c in df.columns for c in TRUTH_COLUMNS):
            raise InputFileError(f"parameter '{name}': data table holds truth columns")
        need = [*features, "pair", "eventNumber", "m_ee", "weight", *(["truth_e"] if truth else [])]
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise MissingBranchError(f"parameter '{name}': table lacks column(s) {missing}")
        df = _pairs_ok(df, name)
        ok = (_finite(df, features) & (df["e"].to_numpy() > 0)).reshape(-1, 2).all(axis=1)
        ev = np.flatnonzero(ok)
        if config.max_events:
            rng = np.random.default_rng([int(seed), 0xEE, int(truth)])
            ev = np.sort(rng.permutation(ev)[: config.max_events // 2])
        if len(ev) < 100:
            raise ConfigError(f"parameter '{name}': only {len(ev)} usable Z->ee pairs (need 100)")
        tr, te = train_test_split_idx(len(ev), test_fraction=config.test_fraction,
                                      seed=seed + (3 if truth else 4))  # fmt: skip
        rows_tr = (2 * ev[tr][:, None] + np.arange(2)).ravel()
        rows_te = (2 * ev[te][:, None] + np.arange(2)).ravel()
        train, test = df.iloc[rows_tr], df.iloc[rows_te].reset_index(drop=True)
        lo, hi = config.zee_train_range
        m = train["m_ee"].to_numpy()
        keep = (m > lo) & (m < hi)
        if truth:
            keep &= train["truth_e"].to_numpy() > 0
        out.append((train[keep].reset_index(drop=True), test))
    (mc_tr, mc_te), (da_tr, da_te) = out
    return ZeeSamples(mc_train=mc_tr, mc_test=mc_te, data_train=da_tr, data_test=da_te)


def electron_samples(z: ZeeSamples) -> Samples:
    """:class:`Samples` view of Z→ee electrons for :func:`train_models`.

    The regression rows and the MC side of the domain penalty are the MC training
    electrons; the data side the data training electrons: both the same reco-level
    Z→ee selection (opposite-charge pair, m_ee range), so one physical population.
    """
    return Samples(
        mc_train=z.mc_train, mc_test=z.mc_test, mc_test_all=z.mc_test,
        data_train=z.data_train, data_test_all=z.data_test, metrics={},
        mc_ref=z.mc_train, mc_ref_fit=np.ones(len(z.mc_train), bool), data_dom=z.data_train,
        particle="electron",
    )  # fmt: skip


# -- models -------------------------------------------------------------------------
class BinnedCorrection:
    """Median ``E_true / E_raw`` in bins of |η| × E_raw × conversion (a lookup table).

    Empty bins fall back to the median of their |η| × conversion row, then to the
    global median, so every photon gets a correction.
    """

    def __init__(self, *, eta_edges: Any, e_edges: Any) -> None:
        self.eta_edges = np.asarray(eta_edges, dtype=np.float64)
        self.e_edges = np.asarray(e_edges, dtype=np.float64)

    def _index(self, df: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ie = np.clip(np.searchsorted(self.eta_edges, df["abs_eta"].to_numpy(), "right") - 1,
                     0, len(self.eta_edges) - 2)  # fmt: skip
        ia = np.clip(np.searchsorted(self.e_edges, df["e"].to_numpy(), "right") - 1,
                     0, len(self.e_edges) - 2)  # fmt: skip
        return ie, ia, df["converted"].to_numpy().astype(int)

    def fit(self, df: Any, y: np.ndarray, w: np.ndarray) -> BinnedCorrection:
        from decorr_af.metrics import weighted_quantile

        ie, ia, ic = self._index(df)
        table = np.full((len(self.eta_edges) - 1, len(self.e_edges) - 1, 2), np.nan)
        glob = float(weighted_quantile(y, 0.5, w))
        for i in range(table.shape[0]):
            for c in (0, 1):
                row = (ie == i) & (ic == c)
                fallback = float(weighted_quantile(y[row], 0.5, w[row])) if row.sum() else glob
                for j in range(table.shape[1]):
                    sel = row & (ia == j)
                    table[i, j, c] = (
                        float(weighted_quantile(y[sel], 0.5, w[sel]))
                        if sel.sum() >= 10
                        else fallback
                    )
        self.table_ = table
        return self

    def predict_df(self, df: Any) -> np.ndarray:
        ie, ia, ic = self._index(df)
        return self.table_[ie, ia, ic]

    def to_dict(self) -> dict[str, Any]:
        return {"eta_edges": self.eta_edges.tolist(), "e_edges": self.e_edges.tolist(),
                "table": self.table_.tolist()}  # fmt: skip


@dataclasses.dataclass
class Fitted:
    """A trained model and the columns it reads."""

    estimator: Any
    features: list[str] | None  # None: BinnedCorrection (reads abs_eta, e, converted)

    def predict_df(self, df: Any) -> np.ndarray:
        if self.features is None:
            return self.estimator.predict_df(df)
        return np.asarray(self.estimator.predict(feature_matrix(df, self.features)), np.float64)

    def save(self, path: Any) -> Any:
        return self.estimator.save(path)


@dataclasses.dataclass
class CellFitted(Fitted):
    """A fitted cell model: predicts from the cells of each table row (:data:`CELL_ROW`)."""

    cells: Any = None

    def predict_df(self, df: Any) -> np.ndarray:
        X = cells_of(df, self.cells, what=f"{type(self.estimator).__name__}")
        return np.asarray(self.estimator.predict(X), np.float64)


@dataclasses.dataclass
class _Context:
    """Everything a model builder needs (one training sample, one seed)."""

    config: Any
    s: Samples
    base: list[str]
    shapes: list[str]
    strength: float
    seed: int
    y: np.ndarray
    w: np.ndarray
    X_base: np.ndarray
    X_shapes: np.ndarray
    dom_rows: np.ndarray
    w_rw: np.ndarray | None = None

    def columns(self, spec: ModelSpec) -> list[str]:
        """The input columns of ``spec`` (its ``inputs``: baseline or shapes)."""
        return self.base if spec.options["inputs"] == "baseline" else self.shapes

    def X(self, spec: ModelSpec) -> np.ndarray:
        return self.X_base if spec.options["inputs"] == "baseline" else self.X_shapes

    def X_dom(self, spec: ModelSpec) -> np.ndarray:
        """The data rows of a domain penalty (same columns as the model)."""
        return feature_matrix(self.s.data_train.iloc[self.dom_rows], self.columns(spec))

    def weights(self, spec: ModelSpec) -> np.ndarray:
        if spec.options["weights"] == "reweighted":
            assert self.w_rw is not None  # train_models fits the reweighter first
            return self.w_rw
        return self.w


def _binned(c: _Context, spec: ModelSpec) -> Fitted:
    est = BinnedCorrection(eta_edges=c.config.binned_eta_edges, e_edges=c.config.binned_e_edges)
    return Fitted(est.fit(c.s.mc_train, c.y, c.weights(spec)), None)


def make_model(config: Any, spec: ModelSpec, *, seed: int, strength: float | None = None) -> Any:
    """The unfitted regressor of ``spec`` at λ = ``strength`` (default ``config.strength``).

    Estimator keywords: ``device`` and the seed, then the config mapping named like
    the family (``mlp``, ``bdt``; each key must be a keyword of the class), then
    the spec's ``params``.
    """
    family = getattr(config, spec.estimator, None)
    strict = {spec.estimator: family} if isinstance(family, dict) else {}
    return build_estimator(
        spec,
        task="regression",
        lam=float(config.strength if strength is None else strength),
        defaults={"device": config.device, "random_state": seed},
        strict=strict,
    )


def _estimator(c: _Context, spec: ModelSpec) -> Fitted:
    """Build ``spec`` (:func:`make_model`) and fit it.

    A domain penalty of strength > 0 on an estimator whose ``fit`` takes
    ``penalty_weight`` (the MLP) compares like-for-like candidates
    (:func:`_domain_fit_inputs`); otherwise ``domain_X`` holds the data rows.
    """
    est = make_model(c.config, spec, seed=c.seed, strength=c.strength)
    if takes_cells(spec, "regression"):
        return _cell_estimator(c, spec, est)
    cols, X, w = c.columns(spec), c.X(spec), c.weights(spec)
    lam = spec.penalty_strength(c.strength)
    if lam is None:
        return Fitted(est.fit(X, c.y, sample_weight=w), cols)
    if lam > 0 and "penalty_weight" in inspect.signature(est.fit).parameters:
        return Fitted(est.fit(**_domain_fit_inputs(c.s, cols, c.seed)), cols)
    return Fitted(est.fit(X, c.y, sample_weight=w, domain_X=c.X_dom(spec)), cols)


def _cell_estimator(c: _Context, spec: ModelSpec, est: Any) -> Fitted:
    """Fit a cell model (same rows, weights and domain inputs as :func:`_estimator`)."""
    s, what = c.s, f"parameter '{spec.where}' ({spec.name})"
    w, lam = c.weights(spec), spec.penalty_strength(c.strength)
    if lam is None:
        est.fit(cells_of(s.mc_train, s.cells, what=what), c.y, sample_weight=w)
    elif lam > 0:
        kw = _domain_fit_inputs(s, [], c.seed)
        n_dom = min(len(s.data_dom), len(s.mc_ref))  # the rows of _domain_fit_inputs
        rows = np.sort(
            np.random.default_rng([int(c.seed), 0xD0]).permutation(len(s.data_dom))[:n_dom]
        )
        kw["X"] = cells_of(s.mc_ref, s.cells, what=what)
        kw["domain_X"] = cells_of(s.data_dom.iloc[rows], s.cells, what=what)
        est.fit(**kw)
    else:
        dom = cells_of(s.data_train.iloc[c.dom_rows], s.cells, what=what)
        est.fit(cells_of(s.mc_train, s.cells, what=what), c.y, sample_weight=w, domain_X=dom)
    return CellFitted(est, list(est.transform_.columns), s.cells)


#: non-ML calibration models built by the workflow itself (spec ``estimator``)
SPECIAL_BUILDERS: dict[str, Any] = {"binned": _binned}

#: Preset calibration models (name -> spec); ``inputs`` defaults to ``shapes``,
#: ``weights`` to ``mc``; every penalty strength is λ (scale 1)
PRESETS = Presets("calibration")
PRESETS.register("binned", {"estimator": "binned"})
PRESETS.register("baseline_bdt", {"estimator": "bdt", "inputs": "baseline"})
PRESETS.register("shapes_bdt", {"estimator": "bdt"})
PRESETS.register("shapes_mlp", {"estimator": "mlp"})
PRESETS.register("disco_mlp", {"estimator": "mlp", "penalty": {"kind": "DomainDisCo"}})
PRESETS.register("disco_bdt", {"estimator": "bdt", "penalty": {"kind": "DomainDisCo"}})
#: a graph network over each photon's calorimeter cells (files generated with ``--cells``;
#: keywords ``Config.gnn``), with the domain penalty, and without (``plain_gnn``)
PRESETS.register("cells_gnn", {"estimator": "gnn", "penalty": {"kind": "DomainDisCo"}})
PRESETS.register("plain_gnn", {"estimator": "gnn"})


def _adversary(config: Any) -> dict[str, Any]:
    """``adversary_mlp``: the ``DomainAdversary`` keywords are ``config.adversary``."""
    return {"estimator": "mlp", "penalty": {"kind": "DomainAdversary", **config.adversary}}


PRESETS.register("adversary_mlp", _adversary)
PRESETS.register("adv_mlp", _adversary)  # the photon-ID/ttH spelling
PRESETS.register("reweighted_mlp", {"estimator": "mlp", "weights": "reweighted"})
PRESETS.register("reweighted_bdt", {"estimator": "bdt", "weights": "reweighted"})

#: what the calibration accepts in ``models``: regressors, domain penalties
RULES = ModelRules(
    task="regression",
    presets=PRESETS,
    special=tuple(SPECIAL_BUILDERS),
    penalty_requires="domain",
    options={"inputs": ("shapes", "baseline"), "weights": ("mc", "reweighted")},
)


def _reweight(c: _Context, info: dict[str, Any], prefix: str) -> None:
    """Fit the MC→data reweighter (no truth: reco-selected rows on both sides)."""
    from decorr_af.workflows.reweighting import LikelihoodRatioReweighter, ks_distances

    s, shapes = c.s, c.shapes
    rw = LikelihoodRatioReweighter(**{"random_state": c.seed, **c.config.reweight})
    rw.fit(c.X_shapes, feature_matrix(s.data_train, shapes), mc_weight=c.w)
    c.w_rw = rw.train_weights_
    if s.particle == "photon":
        mc_te = s.mc_test[cut_based_id(s.mc_test, DEFAULT_ID_CUTS)]
        da_te = s.data_test_all[cut_based_id(s.data_test_all, DEFAULT_ID_CUTS)]
    else:
        mc_te, da_te = s.mc_test, s.data_test_all
    w_te = mc_te["weight"].to_numpy(np.float64)
    w_te_rw = rw.weights(feature_matrix(mc_te, shapes), sample_weight=w_te)
    ks0 = ks_distances(mc_te, da_te, shapes, mc_weight=w_te)
    ks1 = ks_distances(mc_te, da_te, shapes, mc_weight=w_te_rw)
    s.metrics.update({
        f"{prefix}.ks_max_before": max(ks0.values()), f"{prefix}.ks_max_after": max(ks1.values()),
        f"{prefix}.ks_mean_before": float(np.mean(list(ks0.values()))),
        f"{prefix}.ks_mean_after": float(np.mean(list(ks1.values()))),
        f"{prefix}.max_weight": float(c.w_rw.max() / np.mean(c.w_rw)),
    })  # fmt: skip
    info[f"{prefix}_ks"] = {"before": ks0, "after": ks1}


def train_models(
    config: Any,
    s: Samples,
    *,
    strength: float | None = None,
    seed: int,
    features: tuple[list[str], list[str]] | None = None,
) -> tuple[dict[str, Fitted], dict[str, Any]]:
    """Fit every model of ``config.models``; return them and JSON-able info.

    ``strength`` (default ``config.strength``) is λ; ``features`` = (baseline,
    shower-shape) columns (default :func:`feature_sets`).
    """
    lam = float(config.strength if strength is None else strength)
    specs = parse_models(config.models, config, RULES)
    base, shapes = features or feature_sets(config, s.mc_train, s.data_train)
    y = (s.mc_train["truth_e"] / s.mc_train["e"]).to_numpy(np.float64)
    w = s.mc_train["weight"].to_numpy(np.float64)
    n_dom = min(len(s.data_train), len(s.mc_train))
    dom_rows = np.sort(
        np.random.default_rng([int(seed), 0xD0]).permutation(len(s.data_train))[:n_dom]
    )
    c = _Context(config=config, s=s, base=base, shapes=shapes, strength=lam, seed=seed,
                 y=y, w=w, X_base=feature_matrix(s.mc_train, base),
                 X_shapes=feature_matrix(s.mc_train, shapes), dom_rows=dom_rows)  # fmt: skip
    info: dict[str, Any] = {"features": {"baseline": base, "shapes": shapes}}
    if any(spec.options["weights"] == "reweighted" for spec in specs):
        _reweight(c, info, "reweighting" if s.particle == "photon" else "zee_reweighting")
    out: dict[str, Fitted] = {}
    for spec in specs:
        out[spec.name] = SPECIAL_BUILDERS.get(spec.estimator, _estimator)(c, spec)
        if spec.estimator == "binned":
            key = "binned_table" if s.particle == "photon" else "zee_binned_table"
            info[key] = out[spec.name].estimator.to_dict()
    info["models"] = {spec.name: spec.describe(lam) for spec in specs}
    return out, info


def _domain_fit_inputs(s: Samples, shapes: list[str], seed: int) -> dict[str, Any]:
    """``fit`` keywords of a domain-penalised MLP: like-for-like MC and data rows.

    The main loss fits the ``mc_train`` rows only (``sample_weight`` 0 elsewhere);
    the penalty compares every ``mc_ref`` row (``penalty_weight``) with ``data_dom``,
    both isolated photon candidates, prompt or not: comparing truth-selected, ID'd
    MC with ID'd data (fakes included, ID cut on the mismodelled shapes) would make
    the penalty pull the MC output towards a physically different population.
    """
    ref, fit = s.mc_ref, np.asarray(s.mc_ref_fit, bool)
    w = ref["weight"].to_numpy(np.float64)
    truth, e = ref["truth_e"].to_numpy(np.float64), ref["e"].to_numpy(np.float64)
    y = np.where(fit, truth / np.where(fit, e, 1.0), 1.0)  # unfitted rows: weight 0
    n_dom = min(len(s.data_dom), len(ref))
    rows = np.sort(np.random.default_rng([int(seed), 0xD0]).permutation(len(s.data_dom))[:n_dom])
    return {
        "X": feature_matrix(ref, shapes),
        "y": y,
        "sample_weight": np.where(fit, w, 0.0),
        "penalty_weight": w,
        "domain_X": feature_matrix(s.data_dom.iloc[rows], shapes),
    }


def predict_correction(model: Fitted, s: Samples, which: str) -> np.ndarray:
    """Predicted ``E_true / E_raw`` on test rows: ``"mc"`` (prompt MC photons),
    ``"mc_all"`` (MC candidates, data selection) or ``"data"`` (data candidates)."""
    df = {"mc": s.mc_test, "mc_all": s.mc_test_all, "data": s.data_test_all}[which]
    return model.predict_df(df)

"""Samples and models of the calibration workflow (see :mod:`.calibration`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError, InputFileError, MissingBranchError
from decorr_af.workflows._data import feature_matrix, load_photons, train_test_split_idx
from decorr_af.workflows._photon_cuts import DEFAULT_ID_CUTS, DEFAULT_ISO_CUTS, cut_based_id

__all__ = ["BinnedCorrection", "Samples", "load_samples", "predict_correction", "train_models"]


@dataclasses.dataclass
class Samples:
    """MC (with truth) and data (inputs only, plus the validation truth energy)."""

    mc_train: Any
    mc_test: Any
    data_train: Any  # reco-selected data rows, no truth: unlabelled domain inputs
    data_test_all: Any  # isolated held-out data rows (no truth selection)
    data_test: Any  # held-out data rows that are prompt photons (validation only)
    data_truth_e: np.ndarray  # truth energy of data_test rows (validation only)
    metrics: dict[str, float]
    # domain penalties compare two populations with the SAME reco-level selection
    # (isolation: not mismodelled, and the evaluation selection); neither truth nor
    # the shower-shape ID (cut on the mismodelled shapes) may select only one side
    mc_ref: Any = None  # MC training-split rows, prompt and non-prompt, isolated
    mc_ref_fit: Any = None  # bool mask: the mc_ref rows that are mc_train rows
    data_dom: Any = None  # data training-split rows, isolated (no ID, no truth)


def _prepare(df: Any) -> Any:
    df = df.reset_index(drop=True)
    df["abs_eta"] = np.abs(df["eta"].to_numpy(np.float64))
    if "converted" not in df.columns:
        df["converted"] = df["conversionType"].to_numpy() > 0
    return df


def _finite(df: Any, cols: list[str]) -> np.ndarray:
    return np.isfinite(df[cols].to_numpy(np.float64)).all(axis=1)


def load_samples(config: Any, *, seed: int) -> Samples:
    """Read, select and split MC and data for :func:`calibration.run`."""
    feats = list(dict.fromkeys([*config.base_features, *config.shape_features]))
    mc = _prepare(load_photons(config.mc_files))
    data = _prepare(load_photons(config.data_files, drop_truth=True))
    for name, df, extra in (("mc_files", mc, ["truth_e", "is_prompt"]), ("data_files", data, [])):
        missing = [c for c in [*feats, "e", "pt", "weight", *extra] if c not in df.columns]
        if missing:
            raise MissingBranchError(f"parameter '{name}': table lacks column(s) {missing}")
    # truth of data, read separately and used ONLY for validation
    truth = load_photons(config.data_files)
    if "truth_e" not in truth.columns or len(truth) != len(data):
        raise InputFileError(
            "parameter 'data_files': validation needs the toy's truth_e column in data"
        )
    if not np.allclose(truth["pt"].to_numpy(), data["pt"].to_numpy()):
        raise InputFileError("parameter 'data_files': truth and reco rows do not align")
    truth_e, is_prompt = truth["truth_e"].to_numpy(np.float64), truth["is_prompt"].to_numpy(bool)
    del truth

    rng = np.random.default_rng([int(seed), 0xCA11])
    # evaluation population: isolated photons (isolation is not mismodelled, so MC and
    # data test sets are the same population and the gap measures only the calibration);
    # training (MC) and domain (data) rows additionally pass the shower-shape ID
    mc_sel = cut_based_id(mc, DEFAULT_ISO_CUTS) & _finite(mc, feats) & (mc["e"].to_numpy() > 0)
    mc_sel &= mc["truth_e"].to_numpy() > 0
    if config.prompt_only:
        mc_sel &= mc["is_prompt"].to_numpy(bool)
    da_sel = (
        cut_based_id(data, DEFAULT_ISO_CUTS) & _finite(data, feats) & (data["e"].to_numpy() > 0)
    )
    # MC rows of the reco-level population that the regression does not fit (fakes):
    # they join the MC side of the domain penalties, since data cannot be truth-selected
    ref_sel = cut_based_id(mc, DEFAULT_ISO_CUTS) & _finite(mc, feats) & (mc["e"].to_numpy() > 0)
    mc_idx, da_idx = np.flatnonzero(mc_sel), np.flatnonzero(da_sel)
    extra_idx = np.flatnonzero(ref_sel & ~mc_sel)
    if config.max_events:
        frac = min(1.0, config.max_events / max(len(mc_idx), 1))
        mc_idx = np.sort(rng.permutation(mc_idx)[: config.max_events])
        da_idx = np.sort(rng.permutation(da_idx)[: config.max_events])
        extra_idx = np.sort(rng.permutation(extra_idx)[: round(frac * len(extra_idx))])
    if len(mc_idx) < 20 or len(da_idx) < 20:
        raise ConfigError(
            f"too few selected photons (MC {len(mc_idx)}, data {len(da_idx)}) for calibration"
        )
    tr, te = train_test_split_idx(len(mc_idx), test_fraction=config.test_fraction, seed=seed)
    dtr, dte = train_test_split_idx(len(da_idx), test_fraction=config.test_fraction, seed=seed + 1)
    mc_tr, da_tr = mc_idx[tr], da_idx[dtr]
    ref = mc_idx[tr]
    if len(extra_idx) >= 2:
        etr, _ = train_test_split_idx(len(extra_idx), test_fraction=config.test_fraction,
                                      seed=seed + 2)  # fmt: skip
        ref = np.sort(np.r_[ref, extra_idx[etr]])
    mc_tr = mc_tr[cut_based_id(mc.iloc[mc_tr], DEFAULT_ID_CUTS)]
    da_tr = da_tr[cut_based_id(data.iloc[da_tr], DEFAULT_ID_CUTS)]
    data_test_all = data.iloc[da_idx[dte]]
    valid = is_prompt[da_idx[dte]] & (truth_e[da_idx[dte]] > 0)
    purity = float(is_prompt[da_tr].mean())
    return Samples(
        mc_train=mc.iloc[mc_tr].reset_index(drop=True),
        mc_test=mc.iloc[mc_idx[te]].reset_index(drop=True),
        data_train=data.iloc[da_tr].reset_index(drop=True),
        data_test_all=data_test_all.reset_index(drop=True),
        data_test=data_test_all[valid].reset_index(drop=True),
        data_truth_e=truth_e[da_idx[dte]][valid],
        metrics={
            "selection.data_purity": purity,
            "selection.domain_purity": float(is_prompt[da_idx[dtr]].mean()),
        },
        mc_ref=mc.iloc[ref].reset_index(drop=True),
        mc_ref_fit=np.isin(ref, mc_tr),
        data_dom=data.iloc[da_idx[dtr]].reset_index(drop=True),
    )


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


def _bdt(config: Any, seed: int, penalty: Any = None) -> Any:
    from decorr_af.models import DisCoXGBRegressor

    return DisCoXGBRegressor(**config.bdt, penalty=penalty, random_state=seed,
                             device=config.device)  # fmt: skip


def _mlp(config: Any, seed: int, penalty: Any = None) -> Any:
    from decorr_af.models import DecorrelatedRegressor

    return DecorrelatedRegressor(**config.mlp, penalty=penalty, random_state=seed,
                                 device=config.device)  # fmt: skip


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


def train_models(
    config: Any, s: Samples, *, strength: float, seed: int
) -> tuple[dict[str, Fitted], dict[str, Any]]:
    """Fit every model of ``config.models``; return them and JSON-able info."""
    from decorr_af.decorrelation.penalties import DomainAdversary, DomainDisCo
    from decorr_af.workflows.reweighting import LikelihoodRatioReweighter, ks_distances

    base = list(config.base_features)
    shapes = list(dict.fromkeys([*base, *config.shape_features]))
    y = (s.mc_train["truth_e"] / s.mc_train["e"]).to_numpy(np.float64)
    w = s.mc_train["weight"].to_numpy(np.float64)
    X_base, X_shapes = feature_matrix(s.mc_train, base), feature_matrix(s.mc_train, shapes)
    n_dom = min(len(s.data_train), len(s.mc_train))
    dom_rows = np.sort(
        np.random.default_rng([int(seed), 0xD0]).permutation(len(s.data_train))[:n_dom]
    )
    X_dom = feature_matrix(s.data_train.iloc[dom_rows], shapes)
    info: dict[str, Any] = {}
    out: dict[str, Fitted] = {}
    w_rw = None
    if any(m.startswith("reweighted") for m in config.models):
        rw = LikelihoodRatioReweighter(**{"random_state": seed, **config.reweight})
        rw.fit(X_shapes, feature_matrix(s.data_train, shapes), mc_weight=w)
        w_rw = rw.train_weights_
        mc_te = s.mc_test[cut_based_id(s.mc_test, DEFAULT_ID_CUTS)]
        da_te = s.data_test_all[cut_based_id(s.data_test_all, DEFAULT_ID_CUTS)]
        w_te = mc_te["weight"].to_numpy(np.float64)
        w_te_rw = rw.weights(feature_matrix(mc_te, shapes), sample_weight=w_te)
        ks0 = ks_distances(mc_te, da_te, shapes, mc_weight=w_te)
        ks1 = ks_distances(mc_te, da_te, shapes, mc_weight=w_te_rw)
        s.metrics.update({
            "reweighting.ks_max_before": max(ks0.values()), "reweighting.ks_max_after": max(ks1.values()),
            "reweighting.ks_mean_before": float(np.mean(list(ks0.values()))),
            "reweighting.ks_mean_after": float(np.mean(list(ks1.values()))),
            "reweighting.max_weight": float(w_rw.max() / np.mean(w_rw)),
        })  # fmt: skip
        info["reweighting_ks"] = {"before": ks0, "after": ks1}
    for name in config.models:
        if name == "binned":
            est = BinnedCorrection(eta_edges=config.binned_eta_edges, e_edges=config.binned_e_edges)
            out[name] = Fitted(est.fit(s.mc_train, y, w), None)
            info["binned_table"] = est.to_dict()
        elif name == "baseline_bdt":
            out[name] = Fitted(_bdt(config, seed).fit(X_base, y, sample_weight=w), base)
        elif name == "shapes_bdt":
            out[name] = Fitted(_bdt(config, seed).fit(X_shapes, y, sample_weight=w), shapes)
        elif name == "reweighted_bdt":
            out[name] = Fitted(_bdt(config, seed).fit(X_shapes, y, sample_weight=w_rw), shapes)
        elif name == "shapes_mlp":
            out[name] = Fitted(_mlp(config, seed).fit(X_shapes, y, sample_weight=w), shapes)
        elif name == "reweighted_mlp":
            out[name] = Fitted(_mlp(config, seed).fit(X_shapes, y, sample_weight=w_rw), shapes)
        elif name == "disco_bdt":
            est = _bdt(config, seed, DomainDisCo(strength=strength))
            out[name] = Fitted(est.fit(X_shapes, y, sample_weight=w, domain_X=X_dom), shapes)
        elif name in ("disco_mlp", "adversary_mlp"):
            pen = (
                DomainDisCo(strength=strength)
                if name == "disco_mlp"
                else DomainAdversary(strength=strength, **config.adversary)
            )
            if strength > 0:
                est = _mlp(config, seed, pen).fit(**_domain_fit_inputs(s, shapes, seed))
            else:  # no penalty: exactly the plain shapes MLP
                est = _mlp(config, seed, pen).fit(X_shapes, y, sample_weight=w, domain_X=X_dom)
            out[name] = Fitted(est, shapes)
        else:  # pragma: no cover - Config.validate rejects unknown names
            raise ConfigError(f"unknown calibration model {name!r}")
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
    """Predicted ``E_true / E_raw`` on the MC (``"mc"``) or data (``"data"``) test rows."""
    return model.predict_df(s.mc_test if which == "mc" else s.data_test)

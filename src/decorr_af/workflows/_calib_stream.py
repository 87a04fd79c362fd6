"""Streaming calibration run: the MC photon table is never held (issue #14).

:func:`decorr_af.workflows.calibration.run` hands over here when
``Config.streaming`` is ``True``, or ``"auto"`` above ``streaming_rows`` MC photons.
Only the **MC photon side** streams; the data photon candidates (``pred_ks``, the
``protected`` histogram, the data side of domain penalties) and the Z→ee samples
(line-shape fits, electron trainings) are read in memory as before: data and Z→ee
samples are much smaller than the MC. Memory of the MC side is O(chunk + shuffle
buffer + histograms + the bounded test subsample), independent of the MC size.

Steps
-----
1. **Spill** (:func:`decorr_af.workflows._stream.spill`): one read of the MC photons,
   ``chunk_rows`` entries at a time, with the in-memory run's derived columns and
   reco selection (calorimeter isolation, finite inputs, ``E > 0``), a hashed
   per-photon train/test split independent of the chunking, and the flags
   ``_target`` (truth ``E > 0``, prompt with ``prompt_only``) and ``_fit`` (target
   and shower-shape ID: the regression rows). ``max_events`` keeps a hashed fraction
   ``max_events / estimated photons`` of the photons (before the reco selection).
2. **Training** on the ``_fit`` training rows: torch regressors with ``fit_stream``
   (shuffle buffer ``buffer_rows``); a domain penalty (``DomainDisCo``,
   ``DomainAdversary``) streams every training candidate (main loss on the ``_fit``
   rows, penalty on all, as in memory) with the data candidates as ``domain``
   source; xgboost regressors with
   :func:`~decorr_af.models.xgb_scale.fit_external_memory`. The ``binned`` baseline
   is the weighted median of ``E_true/E_raw`` per |η| × E × conversion cell from
   :data:`BINNED_BINS`-bin histograms on ``[BINNED_LOW, BINNED_HIGH]`` (within one
   bin width, 7.5e-5, of the exact weighted median; same fallbacks as in memory).
   Cannot stream, refused with a :class:`ConfigError` naming the model before
   anything is read (:func:`refusal`): cell (graph) models, ``weights:
   reweighted`` models (the MC→data reweighter is fitted in memory), xgboost
   models with a domain penalty of strength > 0.
3. **Evaluation**, one pass over the MC test rows: per model, the response and IQR
   resolution overall and in |η|, pT bins from
   :class:`~decorr_af.models.stream_metrics.ResponseHistogram` (quantiles within
   one ratio-bin width, 5e-5, of the exact ones; same columns and errors as the
   in-memory ``binned`` table), ``hists["ratio"]`` and the MC side of
   ``hists["protected"]`` (exact fills). ``pred_ks`` is the KS distance between
   :data:`KS_BINS`-bin histograms of the MC and data corrections on ``[KS_LOW,
   KS_HIGH]`` (out-of-range values in the edge bins): the CDFs agree with the exact
   ones at every bin edge, so ``pred_ks <= exact <= pred_ks + pred_ks_err``, where
   ``pred_ks_err`` bounds the excursion inside one bin (at most the largest
   normalised weight of one bin of either sample; large only for models with a few
   discrete outputs, e.g. ``binned``, whose bins then hold single values).
4. ``arrays`` (per-photon, for the widgets) hold a seeded subsample of at most
   :data:`SAMPLE_ROWS` MC test candidates (their target rows).

The test set differs from the in-memory run's (hashed, not permuted), so a streamed
and an in-memory run on the same sample and seed agree within statistical noise.

Measured on the 2-core development machine (``binned`` + ``baseline_bdt`` with 20
trees + a 16-unit ``shapes_mlp``, 1 epoch; ``chunk_rows=50_000``,
``buffer_rows=100_000``; 20k data events; peak RSS of the process): 0.4M generated
MC events (92k regression / 123k test photons) 0.76 GiB streamed, 0.98 GiB in
memory; 1.6M events (369k / 492k) 0.89 GiB streamed, 2.21 GiB in memory (wall 52 s
vs 25 s). Resolution at 1.6M events, streamed / in memory: ``binned`` 0.02201 /
0.02201, ``baseline_bdt`` 0.01965 / 0.01962, ``shapes_mlp`` 0.01723 / 0.01725
(± 0.00003-0.00004). The test subsample (:data:`SAMPLE_ROWS`) fills up near 1M
events, so the peak should stay flat beyond (not measured above 1.6M; xgboost
external memory adds ~40 bytes per training row).
"""

from __future__ import annotations

import inspect
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError, InputFileError, MissingBranchError
from decorr_af.models.stream_metrics import ResponseHistogram
from decorr_af.models.streaming import ArraySource, Chunk
from decorr_af.workflows import _calib_models as cm
from decorr_af.workflows import _stream
from decorr_af.workflows import calibration as C
from decorr_af.workflows._cells import takes_cells
from decorr_af.workflows._data import feature_matrix, load_photons, train_test_split_idx
from decorr_af.workflows._photon_cuts import DEFAULT_ID_CUTS, DEFAULT_ISO_CUTS, cut_based_id
from decorr_af.workflows.base import RunResult
from decorr_af.workflows.specs import parse_models
from decorr_af.workflows.vocabulary import PROTECTED

__all__ = ["BINNED_BINS", "KS_BINS", "SAMPLE_ROWS", "refusal", "run"]

#: MC test candidates kept in ``arrays``
SAMPLE_ROWS = 200_000
#: bins of the ``E_true/E_raw`` histograms of the streamed ``binned`` model
BINNED_BINS, BINNED_LOW, BINNED_HIGH = 20_000, 0.5, 2.0
#: bins of the correction histograms of the streamed ``pred_ks``
KS_BINS, KS_LOW, KS_HIGH = 30_000, 0.5, 2.0


# ----------------------------------------------------------------------------- models
def _kind(config: Any, spec: Any, seed: int) -> tuple[str, Any]:
    """``("binned" | "torch" | "xgboost", estimator)``; ConfigError if it cannot stream."""
    from decorr_af.models import DisCoXGBRegressor

    what = f"model {spec.name!r}"
    if takes_cells(spec, "regression"):
        raise ConfigError(f"{what} reads calorimeter cells (in memory only)")
    if spec.options["weights"] == "reweighted":
        raise ConfigError(f"{what} uses weights 'reweighted' (the reweighter fits in memory)")
    if spec.estimator in cm.SPECIAL_BUILDERS:
        if spec.estimator != "binned":
            raise ConfigError(f"{what} ({spec.estimator}) has no streaming form")
        return "binned", None
    est = cm.make_model(config, spec, seed=seed, strength=config.strength)
    if hasattr(est, "fit_stream"):
        if getattr(est, "early_stopping", False):
            raise ConfigError(f"{what}: early_stopping=True does not stream (fixed epochs)")
        return "torch", est
    if isinstance(est, DisCoXGBRegressor):
        lam = spec.penalty_strength(config.strength)
        if lam is not None and lam > 0:
            raise ConfigError(f"{what}: xgboost external memory has no domain penalty")
        if getattr(est, "early_stopping_rounds", None) is not None:
            raise ConfigError(f"{what}: early_stopping_rounds does not stream")
        return "xgboost", est
    raise ConfigError(f"{what} ({type(est).__name__}) cannot train from a stream")


def refusal(config: Any, *, seed: int = 0) -> str | None:
    """Why this config cannot stream (names the model), or ``None``; reads nothing.

    Examples
    --------
    >>> from decorr_af.workflows.calibration import Config
    >>> refusal(Config(models=("binned", "reweighted_mlp")))
    "model 'reweighted_mlp' uses weights 'reweighted' (the reweighter fits in memory)"
    """
    for spec in parse_models(config.models, config, cm.RULES):
        try:
            _kind(config, spec, seed)
        except ConfigError as err:
            return str(err)
    return None


class _RegressionSource(_stream.TableChunkSource):
    """Spilled training rows as regression chunks: ``y = truth_e / e``.

    ``domain=False``: the ``_fit`` rows with their event weights. ``domain=True``:
    every training candidate, weight 0 outside the ``_fit`` rows and
    ``penalty_weight`` the event weight (the in-memory domain-penalty inputs).
    """

    def __init__(self, path: Path, columns: list[str], groups: list[int], *, domain: bool) -> None:
        select = None if domain else (lambda df: df["_fit"].to_numpy(bool))
        super().__init__(path, tuple(columns), "truth_e", "", select=select, groups=groups)
        self.protected = ()
        self.domain = domain

    def read(self, i: int) -> Chunk:
        df = self.frame(i)
        fit = df["_fit"].to_numpy(bool)
        e, t = df["e"].to_numpy(np.float64), df["truth_e"].to_numpy(np.float64)
        y = np.where(fit, t / np.where(fit, e, 1.0), 1.0)
        w = df["weight"].to_numpy(np.float64)
        X = np.ascontiguousarray(df[list(self.feature_columns)].to_numpy(np.float64))
        if self.domain:
            return Chunk(X=X, y=y, weight=np.where(fit, w, 0.0), penalty_weight=w)
        return Chunk(X=X, y=y, weight=w)


def _binned(config: Any, train: Path, groups: list[int]) -> cm.Fitted:
    """:class:`~._calib_models.BinnedCorrection` from streamed histograms (module notes)."""
    est = cm.BinnedCorrection(eta_edges=config.binned_eta_edges, e_edges=config.binned_e_edges)
    ne, na = len(est.eta_edges) - 1, len(est.e_edges) - 1
    kw = {"bins": BINNED_BINS, "low": BINNED_LOW, "high": BINNED_HIGH}
    cells = ResponseHistogram(edges=tuple(np.arange(ne * na * 2 + 1) - 0.5), **kw)
    rows = ResponseHistogram(edges=tuple(np.arange(ne * 2 + 1) - 0.5), **kw)
    glob = ResponseHistogram(**kw)
    for i in groups:
        df = _stream.read_group(train, i)
        df = df[df["_fit"].to_numpy(bool)]
        ie, ia, ic = est._index(df)
        y = (df["truth_e"] / df["e"]).to_numpy(np.float64)
        w = df["weight"].to_numpy(np.float64)
        cells.update(y, (ie * na + ia) * 2 + ic, w)
        rows.update(y, ie * 2 + ic, w)
        glob.update(y, None, w)
    tc, tr = cells.table(), rows.table()
    g = float(glob.table()["response"].iloc[0])
    table = np.full((ne, na, 2), np.nan)
    for i in range(ne):
        for c in (0, 1):
            r = i * 2 + c
            fallback = float(tr["response"].iloc[r]) if tr["n"].iloc[r] else g
            for j in range(na):
                k = (i * na + j) * 2 + c
                table[i, j, c] = (
                    float(tc["response"].iloc[k]) if tc["n"].iloc[k] >= 10 else fallback
                )
    est.table_ = table
    return cm.Fitted(est, None)


# --------------------------------------------------------------------------- metrics
class _HistKS:
    """Weighted KS distance of two samples from fine histograms (bound in module notes)."""

    def __init__(self) -> None:
        self.h = np.zeros((2, KS_BINS))

    def update(self, side: int, x: np.ndarray, w: np.ndarray) -> None:
        width = (KS_HIGH - KS_LOW) / KS_BINS
        x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
        ok = np.isfinite(x)
        b = np.clip(np.floor((x[ok] - KS_LOW) / width), 0, KS_BINS - 1).astype(np.int64)
        self.h[side] += np.bincount(b, w[ok], minlength=KS_BINS)

    def value(self) -> tuple[float, float]:
        """(binned KS ``D``, ``err``): the exact distance lies in ``[D, D + err]``.

        Inside a bin of masses ``p`` (MC) and ``q`` (data) starting at CDF difference
        ``d``, the difference stays within ``[d - q, d + p]``; ``err`` is the largest
        such excursion beyond ``D`` (at most the largest bin mass).
        """
        tot = self.h.sum(axis=1, keepdims=True)
        if not (tot > 0).all():
            return float("nan"), float("nan")
        p = self.h / tot
        cdf = np.cumsum(p, axis=1)
        d_hi = cdf[0] - cdf[1]
        d_lo = d_hi - p[0] + p[1]  # the difference at each bin's lower edge
        binned = float(np.abs(d_hi).max())
        upper = float(np.maximum(d_lo + p[0], p[1] - d_lo).max())
        return binned, max(upper - binned, 0.0)


def _rows(name: str, h: ResponseHistogram, var: str) -> list[dict[str, Any]]:
    """Rows of the ``binned`` table of one model and variable (in-memory columns)."""
    out = []
    for bm in h.table().to_dict("records"):
        row = {"model": name, "variable": var, "low": bm["low"], "high": bm["high"]}
        for k in ("response", "response_err", "resolution", "resolution_err", "n"):
            row[f"{k}_mc"] = bm[k]
        out.append(row)
    return out


# ------------------------------------------------------------------------------ data
def _load_data(config: Any) -> Any:
    """The data photon candidates (in memory, no truth)."""
    from decorr_af.data.schema import TRUTH_COLUMNS

    data = cm._prepare(load_photons(config.data_files, drop_truth=True))
    leaked = [c for c in TRUTH_COLUMNS if c in data.columns]
    if leaked:
        raise InputFileError(f"parameter 'data_files': data table holds truth column(s) {leaked}")
    return data


def _split_data(config: Any, data: Any, feats: list[str], seed: int) -> tuple[Any, Any, Any]:
    """(ID'd training, training domain, test) data candidates, split as in memory."""
    missing = [c for c in [*feats, "e", "pt", "weight"] if c not in data.columns]
    if missing:
        raise MissingBranchError(f"parameter 'data_files': table lacks column(s) {missing}")
    ok = cut_based_id(data, DEFAULT_ISO_CUTS) & cm._finite(data, feats) & (data["e"].to_numpy() > 0)
    da_idx = np.flatnonzero(ok)
    if config.max_events:
        rng = np.random.default_rng([int(seed), 0xCA11, 1])
        da_idx = np.sort(rng.permutation(da_idx)[: config.max_events])
    if len(da_idx) < 20:
        raise ConfigError(f"too few selected data photons ({len(da_idx)}) for calibration")
    dtr, dte = train_test_split_idx(len(da_idx), test_fraction=config.test_fraction, seed=seed + 1)
    dom = data.iloc[da_idx[dtr]].reset_index(drop=True)
    train = dom[cut_based_id(dom, DEFAULT_ID_CUTS)].reset_index(drop=True)
    return train, dom, data.iloc[da_idx[dte]].reset_index(drop=True)


# ------------------------------------------------------------------------------- run
def run(config: Any, *, seed: int, out: Any, decision: _stream.Decision) -> RunResult:
    """The streamed :func:`decorr_af.workflows.calibration.run` (module notes)."""
    t_start = time.perf_counter()
    specs = parse_models(config.models, config, cm.RULES)
    kinds = {spec.name: _kind(config, spec, seed) for spec in specs}  # refuse before reading
    data = _load_data(config)
    feats: dict[str, list[str]] = {}

    def derive(df: Any) -> Any:
        df = cm._prepare(df)
        if not feats:
            base, shapes = cm.feature_sets(config, df, data)
            feats.update(base=base, shapes=shapes)
        need = [*feats["shapes"], "e", "pt", "weight", "truth_e", "is_prompt"]
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise MissingBranchError(f"parameter 'mc_files': table lacks column(s) {missing}")
        reco = cut_based_id(df, DEFAULT_ISO_CUTS) & cm._finite(df, feats["shapes"])
        df = df[reco & (df["e"].to_numpy() > 0)].reset_index(drop=True)
        target = df["truth_e"].to_numpy() > 0
        if config.prompt_only:
            target &= df["is_prompt"].to_numpy(bool)
        idok = cut_based_id(df, DEFAULT_ID_CUTS)
        return df.assign(_target=target, _id=idok, _fit=target & idok)

    keep = decision.keep_fraction("mc_files", config.mc_files, config.max_events)
    with tempfile.TemporaryDirectory(prefix="decorr_af_cstream_") as folder:
        tmp = Path(folder)
        sp = _stream.spill(
            "mc_files", config.mc_files, tmp, features=None, derive=derive, seed=seed,
            test_fraction=config.test_fraction, chunk_rows=int(config.chunk_rows), menu_rows=1,
            sample_rows=SAMPLE_ROWS, keep_fraction=keep, require=("truth_e", "is_prompt"),
            menu_columns=["e"],
        )  # fmt: skip
        if sp.n_train < 1 or sp.n_test < 1:
            raise ConfigError(
                f"calibration: streaming found {sp.n_train} training and {sp.n_test} test "
                "MC photons passing the selection"
            )
        base, shapes = feats["base"], feats["shapes"]
        data_train, data_dom, data_test = _split_data(config, data, shapes, seed)
        # counting pass: training groups, regression rows, purities
        groups, fit_groups, n_fit, n_ref, prompt = [], [], 0, 0, [0.0, 0.0, 0]
        for i in range(_stream.row_groups(sp.train)):
            df = _stream.read_group(sp.train, i, ["_fit", "_id", "is_prompt"])
            fit, idok = df["_fit"].to_numpy(bool), df["_id"].to_numpy(bool)
            pr = df["is_prompt"].to_numpy(bool)
            n_fit, n_ref = n_fit + int(fit.sum()), n_ref + len(df)
            prompt[0] += float(pr.sum())
            prompt[1] += float(pr[idok].sum())
            prompt[2] += int(idok.sum())
            if len(df):
                groups.append(i)
            if fit.any():
                fit_groups.append(i)
        n_test = sum(
            int(_stream.read_group(sp.test, i, ["_target"])["_target"].sum())
            for i in range(_stream.row_groups(sp.test))
        )
        if n_fit < 20 or n_test < 1 or len(data_test) < 20:
            raise ConfigError(
                f"too few photons for calibration (MC regression rows {n_fit}, "
                f"MC test {n_test}, data test {len(data_test)})"
            )
        lam = float(config.strength)
        n_dom = min(len(data_dom), n_ref)
        dom_rows = np.sort(np.random.default_rng([int(seed), 0xD0]).permutation(len(data_dom))[:n_dom])  # fmt: skip
        models: dict[str, cm.Fitted] = {}
        seconds: dict[str, float] = {}
        info: dict[str, Any] = {"features": {"baseline": base, "shapes": shapes}}
        for spec in specs:
            kind, est = kinds[spec.name]
            t0 = time.perf_counter()
            if kind == "binned":
                models[spec.name] = _binned(config, sp.train, fit_groups)
                info["binned_table"] = models[spec.name].estimator.to_dict()
            else:
                cols = base if spec.options["inputs"] == "baseline" else shapes
                pen = spec.penalty_strength(lam)
                domain = pen is not None and kind == "torch"
                penalised = domain and pen > 0 and "penalty_weight" in inspect.signature(est.fit).parameters  # fmt: skip
                source = _RegressionSource(sp.train, cols, groups if penalised else fit_groups,
                                           domain=penalised)  # fmt: skip
                if kind == "torch":
                    dsrc = None
                    if domain:
                        X_dom = feature_matrix(data_dom.iloc[dom_rows], cols)
                        dsrc = ArraySource(X_dom, chunk_rows=int(config.chunk_rows))
                    est.fit_stream(source, domain=dsrc, buffer_rows=int(config.buffer_rows))
                else:
                    from decorr_af.models.xgb_scale import fit_external_memory

                    fit_external_memory(est, source, cache_dir=tmp)
                models[spec.name] = cm.Fitted(est, cols)
            _stream.release_memory()
            seconds[spec.name] = time.perf_counter() - t0
        info["models"] = {spec.name: spec.describe(lam) for spec in specs}
        ev = _evaluate(config, sp, models, data_test)
    return _result(config, seed, out, decision, sp, models, ev, info, seconds, keep,
                   counts={"n_mc_train": n_fit, "n_mc_test": n_test, "n_mc_domain": n_ref,
                           "n_data_train": len(data_train), "n_data_test": len(data_test),
                           "n_data_domain": n_dom},
                   purity=prompt, feats=(base, shapes), t_start=t_start)  # fmt: skip


def _evaluate(config: Any, sp: Any, models: dict[str, Any], data_test: Any) -> dict[str, Any]:
    """One pass over the MC test rows: response histograms, hists, KS (module notes)."""
    names = list(models)
    overall = {n: ResponseHistogram() for n in names}
    binned = {n: {"abs_eta": ResponseHistogram(edges=tuple(config.eta_edges)),
                  "pt": ResponseHistogram(edges=tuple(config.pt_edges))} for n in names}  # fmt: skip
    ks = {n: _HistKS() for n in names}
    ratio_h = C._new_ratio_hist(names)
    prot = C._new_protected_hist(names)
    w_da = data_test["weight"].to_numpy()
    for n in names:
        c_da = models[n].predict_df(data_test)
        ks[n].update(1, c_da, w_da)
        prot.fill(model=n, selection="data", response=c_da, weight=w_da)
    for i in range(_stream.row_groups(sp.test)):
        _stream.release_memory()
        df = _stream.read_group(sp.test, i)
        if not len(df):
            continue
        w = df["weight"].to_numpy(np.float64)
        tgt = df["_target"].to_numpy(bool)
        for n in names:
            c = models[n].predict_df(df)
            ks[n].update(0, c, w)
            prot.fill(model=n, selection="mc", response=c, weight=w)
            r = c[tgt] * df["e"].to_numpy()[tgt] / df["truth_e"].to_numpy()[tgt]
            ok = np.isfinite(r)
            r, wt = r[ok], w[tgt][ok]
            overall[n].update(r, None, wt)
            for var, h in binned[n].items():
                h.update(r, df[var].to_numpy(np.float64)[tgt][ok], wt)
            ratio_h.fill(model=n, dataset="mc", ratio=r, weight=wt)
    metrics: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    for n in names:
        t = overall[n].table().iloc[0]
        metrics.update({f"{n}.response_mc": t["response"], f"{n}.response_mc_err": t["response_err"],
                        f"{n}.resolution_mc": t["resolution"],
                        f"{n}.resolution_mc_err": t["resolution_err"]})  # fmt: skip
        for var, h in binned[n].items():
            rows += _rows(n, h, var)
        metrics[f"{n}.pred_ks"], metrics[f"{n}.pred_ks_err"] = ks[n].value()
    return {"metrics": {k: float(v) for k, v in metrics.items()}, "rows": rows,
            "hists": {"ratio": ratio_h, PROTECTED: prot}}  # fmt: skip


def _result(config: Any, seed: int, out: Any, decision: _stream.Decision, sp: Any,
            models: dict[str, Any], ev: dict[str, Any], info: dict[str, Any],
            seconds: dict[str, float], keep: float, *, counts: dict[str, int],
            purity: list[float], feats: tuple[list[str], list[str]],
            t_start: float) -> RunResult:  # fmt: skip
    import pandas as pd

    result = RunResult(
        workflow=config.workflow, config=config.to_dict(), seed=seed, strength=config.strength
    )
    result.metrics["selection.mc_purity_id"] = purity[1] / purity[2] if purity[2] else 0.0
    result.metrics["selection.mc_purity_domain"] = purity[0] / max(counts["n_mc_domain"], 1)
    result.metrics.update(ev["metrics"])
    for n, s in seconds.items():
        result.metrics[f"{n}.train_seconds"] = float(s)
    result.tables["binned"] = pd.DataFrame(ev["rows"])
    result.hists.update(ev["hists"])
    sub = sp.test_sample
    sub = sub[sub["_target"].to_numpy(bool)].reset_index(drop=True)
    for n, model in models.items():
        r = model.predict_df(sub) * sub["e"].to_numpy() / sub["truth_e"].to_numpy()
        result.arrays[f"{n}.ratio_mc"] = r.astype(np.float32)
        if model.features is not None:
            result.estimators[n] = model.estimator
    for key in ("abs_eta", "pt", "weight"):
        result.arrays[f"{key}_mc"] = sub[key].to_numpy(np.float32)
    if config.zee_mc_files:
        C.zee_scales(config, models, feats, seed=seed, result=result)
    result.info.update(info)
    result.info.update(counts)
    result.info["seconds"] = time.perf_counter() - t_start
    result.info["streaming"] = {
        **decision.to_dict(),
        "chunk_rows": int(config.chunk_rows),
        "buffer_rows": int(config.buffer_rows),
        "keep_fraction": float(keep),
        "n_subsample": len(sub),
        "sample_rows": SAMPLE_ROWS,
        "ratio_bin_width": ResponseHistogram().width,
        "ks_bins": KS_BINS,
        "streamed": True,
        "in_memory": ["data_files", "zee_mc_files", "zee_data_files"],
    }
    if out is not None:
        result.save(out)
    return result

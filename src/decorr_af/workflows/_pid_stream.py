"""Streaming photon-ID run: the whole table is never held (issue #14).

:func:`decorr_af.workflows.photon_id.run` hands over here when
``Config.streaming`` is ``True``, or ``"auto"`` above ``streaming_rows`` photons.
Memory is O(chunk + shuffle buffer + histograms + the bounded samples below),
independent of the number of photons.

Steps
-----
1. **Spill** (:func:`decorr_af.workflows._stream.spill`): one read of the inputs,
   ``chunk_rows`` entries at a time, with the derived columns and ``min_pt``; a
   hashed per-photon train/test split independent of the chunking; train and test
   rows written to temporary Parquet files. ``max_events`` keeps a hashed fraction
   ``max_events / estimated rows`` (approximately ``max_events`` photons).
2. **Menus**: Loose/Tight are quantiles per conversion × |η| × E_T cell, tuned on a
   seeded uniform reservoir of :data:`MENU_ROWS` training photons (500k: ≥ 10⁴
   prompt photons per cell on the default 56-cell grid for ordinary samples, i.e.
   cut quantiles within ~1 % of their all-row values; the whole training set when
   it is smaller).
3. **Training**: torch models with ``fit_stream`` (shuffle buffer ``buffer_rows``),
   xgboost models with :func:`~decorr_af.models.xgb_scale.fit_external_memory`
   (1-D columns of ~40 bytes per row stay in memory); balanced class weights from
   a counting pass. Cell (graph) models cannot stream (:class:`ConfigError`).
4. **Evaluation**, two passes over the test rows:

   - pass 1 predicts and fills, per model, weighted score histograms of
     :data:`SCORE_BINS` bins per class (on all photons and on the Loose ones) over
     the score range of the stored subsample (scores outside it count in the edge
     bins). ``auc`` comes from them with its bound ``auc_err``
     (:class:`~decorr_af.models.stream_metrics.HistogramAUC`); every threshold
     (R50, working point, fixed rejection, Tight rejection/efficiency) is a
     histogram quantile, **within one bin width** (score range / 20000) of the
     exact weighted quantile. ``dcor`` (Loose fakes) is exact while those rows fit
     :data:`DCOR_EXACT_ROWS` (``dcor_err = 0``), else the mean of
     :class:`~decorr_af.models.stream_metrics.SubsampledDCor2` over 5 groups of
     200k rows with ``dcor_err`` its standard error (delta method on the square
     root).
   - pass 2 applies the thresholds row by row: the efficiencies/rejections at them,
     the ABCD yields, the protected-variable pass/fail histograms of the 1/JSD
     (binned in ``ISO_BINS`` anyway, so exact given the threshold) and the result's
     ``hists``, all exact sums.

   Metrics without a streaming form are computed on the stored subsample of
   :data:`SAMPLE_ROWS` test photons (the same metric code as in memory):
   ``inv_jsd_multi``, ``cvm_flatness``, ``dcor_pvalue`` (less power than on all
   rows) and the random-cut ceiling ``inv_jsd_ceiling`` (``_lo``/``_hi``), which is
   rescaled by ``(1/n_pass + 1/n_fail)_subsample / (1/n_pass + 1/n_fail)_all``
   (Kish effective counts): the JSD of a random cut is a χ²-like statistic
   proportional to that sum. The ``tight_efficiency`` table is also measured on it.
5. ``arrays`` (per-photon, for the widgets) hold that subsample only.

The test set differs from the in-memory run's (hashed, not permuted), so a streamed
and an in-memory run on the same sample and seed agree within statistical noise.

Measured on the 2-core development machine (``cutbased`` + a 16-unit MLP, 1 epoch,
``chunk_rows=100_000``, ``buffer_rows=200_000``; peak RSS of the process): 0.71 GiB
for 0.11M photons, 1.06 GiB for 1.67M (in memory: 2.25 GiB), 1.19 GiB for 4.0M;
the bounded samples (menu reservoir, test subsample, dCor groups) fill up between
1M and 4M photons, so the peak should stay flat beyond (not measured above 4.0M;
xgboost external memory adds ~40 bytes per training row). Test AUC/R50 of
the MLP at 1.67M photons: 0.9494/39.7 streamed, 0.9496/39.5 in memory.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from decorr_af.columnar.isolation import get_isolation_wp
from decorr_af.errors import ConfigError
from decorr_af.metrics import AbcdResult, inverse_jsd
from decorr_af.models.stream_metrics import HistogramAUC, SubsampledDCor2, histogram_jsd
from decorr_af.workflows import _classify, _stream
from decorr_af.workflows import photon_id as P
from decorr_af.workflows._data import feature_matrix
from decorr_af.workflows.base import RunResult
from decorr_af.workflows.cutbased import loose_prime_variables
from decorr_af.workflows.vocabulary import PROTECTED, array_key

__all__ = ["DCOR_EXACT_ROWS", "MENU_ROWS", "SAMPLE_ROWS", "SCORE_BINS", "run"]

#: training photons of the menu-tuning reservoir
MENU_ROWS = 500_000
#: test photons stored in ``arrays`` and used for the subsample metrics
SAMPLE_ROWS = 200_000
#: bins per class of the score histograms (thresholds within one bin width)
SCORE_BINS = 20_000
#: Loose test fakes up to which dCor is exact; above, subsampled
DCOR_EXACT_ROWS = 1_000_000
DCOR_ROWS, DCOR_GROUPS = 200_000, 5
#: metrics taken from the subsample (no streaming form)
SUBSAMPLE_METRICS = ("inv_jsd_multi", "cvm_flatness", "dcor_pvalue")
CEILING_METRICS = ("inv_jsd_ceiling", "inv_jsd_ceiling_lo", "inv_jsd_ceiling_hi")


def _streamable(est: Any, name: str) -> str:
    """``"torch"`` or ``"xgboost"``: how ``est`` trains from a stream; else ConfigError."""
    from decorr_af.models import DisCoXGBClassifier

    if hasattr(est, "fit_stream"):
        return "torch"
    if isinstance(est, DisCoXGBClassifier):
        return "xgboost"
    raise ConfigError(
        f"parameter 'models': {name!r} ({type(est).__name__}) cannot train from a stream "
        "(neither fit_stream nor xgboost external memory); set streaming=False"
    )


def _fit(est: Any, name: str, source: _stream.TableChunkSource, config: Any, tmp: Path) -> None:
    """Train ``est`` from the stream: ``fit_stream`` (torch) or xgboost external memory."""
    if _streamable(est, name) == "torch":
        est.fit_stream(source, buffer_rows=int(config.buffer_rows))
    else:
        from decorr_af.models.xgb_scale import fit_external_memory

        fit_external_memory(est, source, cache_dir=tmp)


class _Flags:
    """Menu, isolation and truth columns of a test frame."""

    def __init__(self, df: Any, menu: Any, config: Any, wp: Any) -> None:
        self.y = df["is_prompt"].to_numpy().astype(np.int64)
        self.w = df["weight"].to_numpy(np.float64) if "weight" in df else np.ones(len(df))
        self.iso = df[config.protected].to_numpy(np.float64)
        self.mu = df["mu"].to_numpy(np.float64)
        self.tight = menu.passes(df)
        self.loose = menu.parent.passes(df)
        self.loose_prime = menu.loose_prime(df, config.loose_prime)
        self.is_iso = wp.passes(df)
        self.is_noniso = wp.non_isolated(df, gap=config.iso_gap)
        self.sig, self.fake = self.y == 1, self.y == 0

    def arrays(self) -> dict[str, np.ndarray]:
        return {"label": self.y, "isolation": self.iso, "mu": self.mu, "weight": self.w}


class _Abcd:
    """Running ABCD yields (Σw, Σw²) of the fakes, the prompt and every photon."""

    def __init__(self) -> None:
        self.n = np.zeros((3, 4))
        self.v = np.zeros((3, 4))

    def add(self, id_pass: np.ndarray, id_fail: np.ndarray, f: _Flags) -> None:
        regions = (id_pass & f.is_iso, id_pass & f.is_noniso, id_fail & f.is_iso,
                   id_fail & f.is_noniso)  # fmt: skip
        for g, sel in enumerate((f.fake, f.sig, np.ones(len(f.w), bool))):
            for r, mask in enumerate(regions):
                ww = f.w[mask & sel]
                self.n[g, r] += ww.sum()
                self.v[g, r] += (ww**2).sum()

    def results(self) -> tuple[AbcdResult, AbcdResult, AbcdResult]:
        return tuple(AbcdResult(tuple(self.n[g]), tuple(self.v[g])) for g in range(3))  # type: ignore[return-value]


def _add_hists(total: dict[str, Any], new: dict[str, Any]) -> None:
    for k, h in new.items():
        total[k] = h if k not in total else total[k] + h


def _n_eff(w: np.ndarray) -> float:
    s2 = float((w**2).sum())
    return float(w.sum()) ** 2 / s2 if s2 > 0 else 0.0


def run(config: Any, *, seed: int, out: Any, decision: _stream.Decision) -> RunResult:
    """The streamed :func:`decorr_af.workflows.photon_id.run` (module notes)."""
    specs = config.model_specs()
    graph = [s.name for s in specs if P._takes_cells(s)]
    if graph:
        raise ConfigError(
            f"parameter 'models': {graph} read calorimeter cells; set streaming=False"
        )
    built = {s.name: _classify.build_model(s, config, seed=seed) for s in specs if s.estimator != "cutbased"}  # fmt: skip
    for name, est in built.items():  # refuse before reading anything
        _streamable(est, name)
    wp = get_isolation_wp(config.isolation_wp)

    def derive(df: Any) -> Any:
        df = df[df["pt"].to_numpy() >= config.min_pt]
        return df.assign(abs_eta=np.abs(df["eta"].to_numpy()), iso_excess=wp.excess(df))

    keep = decision.keep_fraction("mc_files", config.mc_files, config.max_events)
    names = [s.name for s in specs]
    with tempfile.TemporaryDirectory(prefix="decorr_af_stream_") as folder:
        tmp = Path(folder)
        sp = _stream.spill(
            "mc_files", config.mc_files, tmp, features=P.table_features(config), derive=derive,
            seed=seed, test_fraction=config.test_fraction, chunk_rows=int(config.chunk_rows),
            menu_rows=MENU_ROWS, sample_rows=SAMPLE_ROWS, keep_fraction=keep,
            require=("is_prompt",), menu_columns=_menu_columns(config),
        )  # fmt: skip
        if sp.n_train < 1 or sp.n_test < 1:
            raise ConfigError(
                f"photon_id: streaming found {sp.n_train} training and {sp.n_test} test photons"
            )
        if sp.menu_sample["is_prompt"].nunique() < 2:
            raise ConfigError("photon_id: the training sample needs both prompt and fake photons")
        t0 = time.perf_counter()
        menu = P._menus(config, sp.menu_sample)
        menu_seconds = time.perf_counter() - t0
        source = _fit_source(config, sp.train, menu)
        estimators: dict[str, Any] = {}
        seconds: dict[str, float] = {}
        for spec in specs:
            if spec.estimator == "cutbased":
                seconds[spec.name] = menu_seconds
                continue
            est = built[spec.name]
            t0 = time.perf_counter()
            _fit(est, spec.name, source, config, tmp)
            _stream.release_memory()
            seconds[spec.name] = time.perf_counter() - t0
            estimators[spec.name] = est

        def scores(df: Any, f: _Flags) -> dict[str, np.ndarray]:
            X = feature_matrix(df, config.features) if estimators else None
            res = {}
            for spec in specs:
                if spec.estimator == "cutbased":
                    res[spec.name] = np.asarray(menu.score(df), np.float64)
                    continue
                s = np.asarray(estimators[spec.name].predict_proba(X))
                s = (s[:, -1] if s.ndim == 2 else s).astype(np.float64)
                res[spec.name] = np.where(f.loose, s, s - 2.0) if config.ml_preselection else s
            return res

        sub = sp.test_sample
        fsub = _Flags(sub, menu, config, wp)
        ssub = scores(sub, fsub)
        iso_label = (
            f"Isolation above {wp.name} [GeV]"
            if config.protected == "iso_excess"
            else f"{config.protected} [GeV]"
        )
        result = _evaluate(config, sp, menu, wp, names, specs, scores, fsub, ssub, seed, iso_label)
    m = result["metrics"]
    for name in names:
        m[f"{name}.train_seconds"] = float(seconds[name])
    arrays: dict[str, np.ndarray] = {
        **fsub.arrays(),
        "pt": sub["pt"].to_numpy(np.float64),
        "eta": sub["eta"].to_numpy(np.float64),
        "is_iso": fsub.is_iso,
        "is_noniso": fsub.is_noniso,
        "pass_loose": fsub.loose,
        "pass_tight": fsub.tight,
        "pass_loose_prime": fsub.loose_prime,
    }
    for name in names:
        arrays[array_key(name, "score")] = ssub[name].astype(np.float32)
    hists = result["hists"]
    info = {
        "cut_sides": menu.cut_sides(),
        "menu": menu.to_dict(),
        "n_train": int(sp.n_train),
        "n_test": int(sp.n_test),
        **result["counts"],
        "isolation_wp": wp.to_dict(),
        "iso_definition": (
            f"iso: {wp.name}; non-iso: a cut of {wp.name} failed by more than {config.iso_gap} GeV"
        ),
        "loose_prime": list(loose_prime_variables(config.loose_prime)),
        "models": _classify.describe_models(specs, config.strength),
        "streaming": {
            **decision.to_dict(),
            "chunk_rows": int(config.chunk_rows),
            "buffer_rows": int(config.buffer_rows),
            "keep_fraction": float(keep),
            "menu_rows": min(MENU_ROWS, int(sp.n_train)),
            "n_subsample": len(sub),
            "score_bins": SCORE_BINS,
            "dcor": result["dcor_mode"],
            "thresholds": result["thresholds"],
            "bin_width": result["bin_width"],
            "subsample_metrics": [*SUBSAMPLE_METRICS, *CEILING_METRICS, "tight_efficiency"],
        },
    }
    res = RunResult(
        workflow=P.WORKFLOW,
        config=config.to_dict(),
        seed=int(seed),
        strength=config.strength,
        metrics=m,
        arrays=arrays,
        hists=hists,
        tables={
            "cutbased_thresholds": menu.thresholds_table(),
            "loose_thresholds": menu.parent.thresholds_table(),
            "tight_efficiency": menu.efficiency_table(sub, mask=fsub.sig),
        },
        info=info,
        estimators=estimators,
    )
    if out is not None:
        res.save(out)
    return res


def _menu_columns(config: Any) -> list[str]:
    """What menu tuning reads: the cut variables of the menu chain, cells, truth, weight."""
    from decorr_af.workflows.cutbased import get_menu_spec

    cols = ["pt", "eta", "abs_eta", "conversionType", "converted", "is_prompt", "weight"]
    spec = get_menu_spec(config.tight_menu)
    while spec is not None:
        cols += list(spec.variables)
        spec = get_menu_spec(spec.parent) if spec.parent is not None else None
    return list(dict.fromkeys(cols))


def _fit_source(config: Any, train: Path, menu: Any) -> _stream.TableChunkSource:
    """The training rows (Loose with ``ml_preselection``) with balanced class weights."""
    select = menu.parent.passes if config.ml_preselection else None
    groups, wsum, n_fit = [], {0: 0.0, 1: 0.0}, 0
    for i in range(_stream.row_groups(train)):
        df = _stream.read_group(train, i)
        if select is not None:
            df = df[np.asarray(select(df), bool)]
        if not len(df):
            continue
        groups.append(i)
        y = df["is_prompt"].to_numpy().astype(np.int64)
        w = df["weight"].to_numpy(np.float64) if "weight" in df else np.ones(len(df))
        for c in (0, 1):
            wsum[c] += float(w[y == c].sum())
        n_fit += len(df)
    if not (wsum[0] > 0 and wsum[1] > 0):
        raise ConfigError("photon_id: no Loose prompt or fake training photon")
    scale = {c: n_fit / (2.0 * wsum[c]) for c in (0, 1)}  # as _classify.balanced_weights
    return _stream.TableChunkSource(train, tuple(config.features), "is_prompt", config.protected,
                                    select=select, class_scale=scale, groups=groups)  # fmt: skip


def _score_range(s: np.ndarray) -> tuple[float, float]:
    lo, hi = (float(s.min()), float(s.max())) if len(s) else (0.0, 1.0)
    pad = 0.01 * (hi - lo) if hi > lo else 0.5
    return lo - pad, hi + pad


def _evaluate(config: Any, sp: Any, menu: Any, wp: Any, names: list[str], specs: Any,
              scores: Any, fsub: _Flags, ssub: dict[str, np.ndarray], seed: int,
              iso_label: str) -> dict[str, Any]:  # fmt: skip
    """The two passes over the test rows; metrics, hists and counts."""
    from decorr_af.decorrelation import distance_correlation

    n_groups = _stream.row_groups(sp.test)
    ranges = {n: _score_range(ssub[n]) for n in names}
    h_all = {n: HistogramAUC(SCORE_BINS, *ranges[n]) for n in names}
    h_loose = {n: HistogramAUC(SCORE_BINS, *ranges[n]) for n in names}
    dsub = {n: SubsampledDCor2(DCOR_ROWS, DCOR_GROUPS, seed=seed * 1000 + k) for k, n in enumerate(names)}  # fmt: skip
    exact: dict[str, list[np.ndarray]] | None = {n: [] for n in names}
    n_lf = 0
    tot = dict.fromkeys(("sig", "fake", "tight_sig", "tight_fake", "loose_sig", "loose_fake",
                         "lp_fake"), 0.0)  # fmt: skip
    counts = {"n_prompt_test": 0, "n_fake_test": 0}
    # -- pass 1: histograms, menu efficiencies, dCor
    for i in range(n_groups):
        _stream.release_memory()
        df = _stream.read_group(sp.test, i)
        f = _Flags(df, menu, config, wp)
        s = scores(df, f)
        w = f.w
        for key, mask in (("sig", f.sig), ("fake", f.fake), ("tight_sig", f.tight & f.sig),
                          ("tight_fake", f.tight & f.fake), ("loose_sig", f.loose & f.sig),
                          ("loose_fake", f.loose & f.fake), ("lp_fake", f.loose_prime & f.fake)):  # fmt: skip
            tot[key] += float(w[mask].sum())
        counts["n_prompt_test"] += int(f.sig.sum())
        counts["n_fake_test"] += int(f.fake.sum())
        lf = f.loose & f.fake
        n_lf += int(lf.sum())
        if exact is not None and n_lf > DCOR_EXACT_ROWS:
            exact = None
        for n in names:
            h_all[n].update(s[n], f.y, w)
            h_loose[n].update(s[n][f.loose], f.y[f.loose], w[f.loose])
            dsub[n].update(s[n][lf], f.iso[lf], w[lf])
            if exact is not None:
                exact[n].append(np.column_stack([s[n][lf], f.iso[lf], w[lf]]))
    metrics = P._menu_metrics(tot)
    tight_eff, tight_rej = metrics["tight.eff"], metrics["tight.rej"]
    cutbased = {s.name for s in specs if s.estimator == "cutbased"}
    thr: dict[str, dict[str, float]] = {}
    for n in names:
        h = h_all[n]
        thr[n] = {
            "r50": h.quantile(0.5, signal=True),
            "wp": h.quantile(1.0 - config.wp_efficiency, signal=True),
            "rej": h.quantile(1.0 - 1.0 / config.fixed_rejection, signal=False),
            "tight_rej": h.quantile(1.0 - 1.0 / tight_rej, signal=False),
            "tight_eff": h.quantile(1.0 - min(tight_eff, 1 - 1e-9), signal=True),
            "wp_loose": h_loose[n].quantile(1.0 - config.wp_efficiency, signal=True),
        }
    # -- pass 2: sums at the thresholds, ABCD, JSD and the result histograms
    above = {n: {k: [0.0, 0.0] for k in thr[n]} for n in names}  # [signal, background]
    abcd = {n: _Abcd() for n in names}
    jsd_h = {n: [np.zeros(len(P.ISO_BINS) - 1), np.zeros(len(P.ISO_BINS) - 1)] for n in names}
    jsd_w = {n: [[0.0, 0.0], [0.0, 0.0]] for n in names}  # pass/fail: Σw, Σw² in range
    hists: dict[str, Any] = {}
    for i in range(n_groups):
        _stream.release_memory()
        df = _stream.read_group(sp.test, i)
        f = _Flags(df, menu, config, wp)
        s = scores(df, f)
        passed = {}
        for n in names:
            for k, t in thr[n].items():
                if k == "wp_loose":
                    continue
                ok = s[n] > t
                above[n][k][0] += float(f.w[ok & f.sig].sum())
                above[n][k][1] += float(f.w[ok & f.fake].sum())
            if n in cutbased:
                id_pass, id_fail = f.tight, f.loose_prime
            else:
                t = thr[n]["tight_rej" if config.ml_match == "rejection" else "tight_eff"]
                id_pass = s[n] > t
                id_fail = ~id_pass & f.loose
            passed[n] = id_pass
            abcd[n].add(id_pass, id_fail, f)
            lf = f.loose & f.fake
            ok = s[n][lf] > thr[n]["wp_loose"]
            z, ww = f.iso[lf], f.w[lf]
            inr = (z >= P.ISO_BINS[0]) & (z <= P.ISO_BINS[-1])
            for j, sel in enumerate((ok, ~ok)):
                jsd_h[n][j] += np.histogram(z[sel], bins=P.ISO_BINS, weights=ww[sel])[0]
                jsd_w[n][j][0] += float(ww[sel & inr].sum())
                jsd_w[n][j][1] += float((ww[sel & inr] ** 2).sum())
        arrays = f.arrays()
        _add_hists(hists, P._hists(names, arrays, passed, iso_label))
        prot = P._protected_hist(names, arrays, passed, config.protected, iso_label)
        _add_hists(hists, {PROTECTED: prot})
    # -- metrics
    W_s, W_b = tot["sig"], tot["fake"]
    cm_kw = {"wp_efficiency": config.wp_efficiency, "fixed_rejection": config.fixed_rejection,
             "jsd_bins": P.ISO_BINS}  # fmt: skip
    dcor_mode = "exact" if exact is not None else f"subsampled ({DCOR_GROUPS} x {DCOR_ROWS} rows)"
    for k, n in enumerate(names):
        a = above[n]
        m: dict[str, float] = {}
        m["auc"] = h_all[n].value()
        m["auc_err"] = h_all[n].max_error()
        eb = a["r50"][1] / W_b
        m["r50"] = 1.0 / eb if eb > 0 else float("inf")
        m["eff_at_rej"] = a["rej"][0] / W_s
        m["threshold"] = thr[n]["wp"]
        m["wp_eff"] = a["wp"][0] / W_s
        eb = a["wp"][1] / W_b
        m["wp_rej"] = 1.0 / eb if eb > 0 else float("inf")
        if exact is not None:
            rows = np.concatenate(exact[n]) if exact[n] else np.empty((0, 3))
            dc = float(distance_correlation(rows[:, 0], rows[:, 1], weights=rows[:, 2])) if len(rows) >= 3 else float("nan")  # fmt: skip
            m["dcor"], m["dcor_err"] = dc, 0.0
        else:
            d2, se = dsub[n].value()
            dc = math.sqrt(max(d2, 0.0))
            m["dcor"], m["dcor_err"] = dc, (se / (2.0 * dc) if dc > 0 else float(se))
        m["inv_dcor"] = 1.0 / dc if dc > 0 else float("inf")
        m["jsd"] = histogram_jsd(*jsd_h[n])
        m["inv_jsd"] = float(inverse_jsd(m["jsd"]))
        # subsample metrics (the in-memory code on the bounded test sample)
        full, _ = _classify.classifier_metrics(ssub[n], fsub.y, fsub.w, fsub.iso, **cm_kw, ceiling_seed=seed * 1000 + k, n_permutations=1)  # fmt: skip
        m.update({key: full[key] for key in SUBSAMPLE_METRICS})
        lo = fsub.loose
        dep, _ = _classify.classifier_metrics(
            ssub[n][lo], fsub.y[lo], fsub.w[lo], fsub.iso[lo], **cm_kw,
            ceiling_seed=seed * 1000 + k, n_permutations=config.jsd_permutations,
        )  # fmt: skip
        scale = _ceiling_scale(jsd_w[n], fsub, ssub[n], thr[n]["wp_loose"], len(fsub.y) == sp.n_test)  # fmt: skip
        m.update({key: dep[key] * scale for key in CEILING_METRICS})
        if n in cutbased:
            m.update(wp_eff=tight_eff, wp_rej=tight_rej, eff_at_tight_rej=tight_eff)
            m["rej_at_tight_eff"] = tight_rej
        else:
            m["eff_at_tight_rej"] = a["tight_rej"][0] / W_s
            m["rej_at_tight_eff"] = 1.0 / max(a["tight_eff"][1] / W_b, 1e-300)
        m.update(P.abcd_figures(*abcd[n].results()))
        metrics.update({f"{n}.{key}": float(v) for key, v in m.items()})
    return {"metrics": metrics, "hists": hists, "counts": counts, "dcor_mode": dcor_mode,
            "thresholds": thr, "bin_width": {n: h_all[n].width for n in names}}  # fmt: skip


def _ceiling_scale(full_w: list[list[float]], fsub: _Flags, s: np.ndarray, t: float, whole: bool) -> float:  # fmt: skip
    """``(1/n_pass + 1/n_fail)`` of the subsample over that of all Loose test fakes."""
    if whole:
        return 1.0
    lf = fsub.loose & fsub.fake
    z, w, ok = fsub.iso[lf], fsub.w[lf], s[lf] > t
    inr = (z >= P.ISO_BINS[0]) & (z <= P.ISO_BINS[-1])
    ns = [_n_eff(w[sel & inr]) for sel in (ok, ~ok)]
    nf = [fw[0] ** 2 / fw[1] if fw[1] > 0 else 0.0 for fw in full_w]
    if min(ns) <= 0 or min(nf) <= 0:
        return float("nan")
    return (1.0 / ns[0] + 1.0 / ns[1]) / (1.0 / nf[0] + 1.0 / nf[1])

"""Workflow 4: clustering photons into calibration bins (vs the manual η×pT grid).

Photons are grouped in standardised (|η|, log pT, conversion, μ) space by k-means
or a diagonal Gaussian mixture (scikit-learn, fixed seed) and compared with the
standard |η| × pT grid. For each binning, fitted on one half of the MC, the other
half of MC and data give per-bin

* ID efficiency scale factors ``ε_data / ε_MC`` of a cut-based ID (or of a given
  score column ``>= id_threshold``) among prompt photons,
* energy scale ``R_data / R_MC`` with ``R = median(E_raw / E_true)``,
* the spread of the true correction ``E_true / E_raw`` (IQR/2 per bin, averaged
  with the event weights; lower is better).

The data truth (prompt flag, E_true) is used only for these validation numbers.
The *closure* is the χ²/ndf between the data ID efficiency and the MC efficiency
corrected by the per-bin scale factors in fine validation cells (|η| × pT ×
conversion × μ): ≈1 when the binning captures how the scale factors vary.
Scanning k gives the number of clusters needed to reach the grid's closure.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError
from decorr_af.workflows._binning import Binning, assign_bins, fit_binning, prepare
from decorr_af.workflows.base import RunResult, WorkflowConfig

__all__ = [
    "DEFAULT_PARETO",
    "PRIMARY_MODEL",
    "Binning",
    "Config",
    "Method",
    "assign_bins",
    "bin_table",
    "fit_binning",
    "prepare",
    "run",
]

PRIMARY_MODEL = "kmeans"
#: both axes are minimised (number of bins vs closure χ²/ndf / spread)
DEFAULT_PARETO = [("kmeans.n_bins", "kmeans.closure"), ("kmeans.n_bins", "kmeans.spread")]
PARETO_MAXIMIZE = (False, False)


class Method(str, enum.Enum):
    """Binning methods."""

    KMEANS = "kmeans"
    GMM = "gmm"
    GRID = "grid"


@dataclasses.dataclass(frozen=True)
class Config(WorkflowConfig):
    """Configuration of the clustering workflow.

    ``strength`` is accepted for the common workflow interface and not used.

    Examples
    --------
    >>> Config(n_clusters=8, methods=("kmeans", "grid")).n_clusters
    8
    """

    workflow = "clustering"
    mc_files: tuple[str, ...] = ("samples/photons_mc/*.root",)
    data_files: tuple[str, ...] = ("samples/photons_data/*.root",)
    features: tuple[str, ...] = ("abs_eta", "log_pt", "converted", "mu")
    methods: tuple[str, ...] = ("kmeans", "gmm", "grid")
    n_clusters: int = 16
    k_scan: tuple[int, ...] = (4, 8, 16, 24, 32)
    eta_edges: tuple[float, ...] = (0.0, 0.6, 1.37, 1.81, 2.37)
    pt_edges: tuple[float, ...] = (0.0, 30.0, 45.0, 80.0, 1e5)
    closure_eta_edges: tuple[float, ...] = (0.0, 0.3, 0.6, 0.9, 1.2, 1.37, 1.7, 2.0, 2.37)
    closure_pt_edges: tuple[float, ...] = (0.0, 25.0, 30.0, 40.0, 60.0, 1e5)
    closure_mu_edges: tuple[float, ...] = (0.0, 52.0, 200.0)
    id_cuts: dict = dataclasses.field(default_factory=dict)
    id_column: str = ""
    id_threshold: float = 0.5
    min_bin_count: int = 10
    test_fraction: float = 0.5
    max_events: int = 0
    strength: float = 0.0

    def validate(self) -> None:
        for m in self.methods:
            if m not in {x.value for x in Method}:
                raise ConfigError(f"parameter 'methods': unknown method {m!r}")
        if self.n_clusters < 1 or any(k < 1 for k in self.k_scan):
            raise ConfigError("parameters 'n_clusters' and 'k_scan' must be >= 1")
        self.check(fraction=("test_fraction",))
        for name in (
            "eta_edges",
            "pt_edges",
            "closure_eta_edges",
            "closure_pt_edges",
            "closure_mu_edges",
        ):
            e = np.asarray(getattr(self, name))
            if len(e) < 2 or np.any(np.diff(e) <= 0):
                raise ConfigError(f"parameter '{name}' must be increasing with >= 2 edges")


def _id_pass(df: Any, config: Config) -> np.ndarray:
    from decorr_af.workflows._photon_cuts import cut_based_id

    if config.id_column:
        if config.id_column not in df.columns:
            raise ConfigError(
                f"parameter 'id_column': column {config.id_column!r} not in the table"
            )
        return df[config.id_column].to_numpy(np.float64) >= config.id_threshold
    return cut_based_id(df, config.id_cuts or None)


def _ratio_err(a: float, ea: float, b: float, eb: float) -> tuple[float, float]:
    if not (a > 0 and b > 0):
        return float("nan"), float("nan")
    r = a / b
    return r, r * float(np.hypot(ea / a, eb / b))


def bin_table(binning: Binning, mc: Any, data: Any, *, id_mc: Any, id_data: Any) -> Any:
    """Per-bin ID scale factors, energy scale and true-correction spread.

    ``mc``/``data`` are prepared tables of prompt photons with ``truth_e``
    (for data: validation only); ``id_*`` the boolean ID decisions.

    Examples
    --------
    >>> tab = bin_table(binning, mc, data, id_mc=pass_mc, id_data=pass_data)  # doctest: +SKIP
    """
    import pandas as pd

    from decorr_af.metrics import weighted_quantile

    bm, bd = assign_bins(binning, mc), assign_bins(binning, data)
    wm, wd = mc["weight"].to_numpy(np.float64), data["weight"].to_numpy(np.float64)
    cm = (mc["truth_e"] / mc["e"]).to_numpy(np.float64)
    cd = (data["truth_e"] / data["e"]).to_numpy(np.float64)
    rows = []
    for b in range(binning.n_bins):
        sm, sd = bm == b, bd == b
        row: dict[str, float] = {"bin": b, "n_mc": int(sm.sum()), "n_data": int(sd.sum())}
        for f in ("abs_eta", "pt", "converted", "mu"):
            row[f"mean_{f}"] = float(np.average(mc[f][sm], weights=wm[sm])) if sm.any() else np.nan
        if sm.sum() >= 4:
            q25, q50, q75 = weighted_quantile(cm[sm], [0.25, 0.5, 0.75], wm[sm])
            row["spread"], row["correction"] = 0.5 * (q75 - q25) / q50, float(q50)
        else:
            row["spread"] = row["correction"] = np.nan
        effs = []
        for sel, idp, w in ((sm, id_mc, wm), (sd, id_data, wd)):
            n_eff = w[sel].sum() ** 2 / max((w[sel] ** 2).sum(), 1e-30)
            eff = float(np.average(idp[sel], weights=w[sel])) if sel.any() else np.nan
            effs.append((eff, np.sqrt(max(eff * (1 - eff), 1.0 / max(n_eff, 1)) / max(n_eff, 1))))
        row["eff_mc"], row["eff_mc_err"] = effs[0]
        row["eff_data"], row["eff_data_err"] = effs[1]
        row["id_sf"], row["id_sf_err"] = _ratio_err(*effs[1], *effs[0])
        resp = []
        for sel, c, w in ((sm, cm, wm), (sd, cd, wd)):
            if sel.sum() >= 4:
                q25, q50, q75 = weighted_quantile(1.0 / c[sel], [0.25, 0.5, 0.75], w[sel])
                n_eff = w[sel].sum() ** 2 / (w[sel] ** 2).sum()
                resp.append((float(q50), 1.2533 * (q75 - q25) / 1.349 / np.sqrt(n_eff)))
            else:
                resp.append((np.nan, np.nan))
        row["energy_scale"], row["energy_scale_err"] = _ratio_err(*resp[1], *resp[0])
        rows.append(row)
    return pd.DataFrame(rows)


def _closure(config: Config, binning: Binning, tab: Any, mc: Any, data: Any, id_mc: Any, id_data: Any) -> float:  # fmt: skip
    """χ²/ndf of data ID efficiency vs SF-corrected MC efficiency in fine cells."""
    sf = np.nan_to_num(tab["id_sf"].to_numpy(np.float64), nan=1.0)
    sf_mc = sf[assign_bins(binning, mc)]

    def cell(df: Any) -> np.ndarray:
        idx = []
        for col, edges in (("abs_eta", config.closure_eta_edges), ("pt", config.closure_pt_edges),
                           ("mu", config.closure_mu_edges)):  # fmt: skip
            e = np.asarray(edges)
            idx.append(np.clip(np.searchsorted(e, df[col].to_numpy(), "right") - 1, 0, len(e) - 2))
        idx.append(df["converted"].to_numpy().astype(int))
        dims = (len(config.closure_eta_edges) - 1, len(config.closure_pt_edges) - 1,
                len(config.closure_mu_edges) - 1, 2)  # fmt: skip
        return np.ravel_multi_index(tuple(idx), dims)

    cm_, cd_ = cell(mc), cell(data)
    wm, wd = mc["weight"].to_numpy(np.float64), data["weight"].to_numpy(np.float64)
    chi2, ndf = 0.0, 0
    for c in np.unique(cd_):
        sm, sd = cm_ == c, cd_ == c
        if sm.sum() < config.min_bin_count or sd.sum() < config.min_bin_count:
            continue
        pred = float(np.sum(wm[sm] * id_mc[sm] * sf_mc[sm]) / wm[sm].sum())
        eff = float(np.average(id_data[sd], weights=wd[sd]))
        n_m = wm[sm].sum() ** 2 / (wm[sm] ** 2).sum()
        p = min(max(0.5 * (pred + eff), 1.0 / sd.sum()), 1 - 1.0 / sd.sum())
        var = p * (1 - p) * (1.0 / sd.sum() + 1.0 / n_m)
        chi2, ndf = chi2 + (eff - pred) ** 2 / var, ndf + 1
    return float(chi2 / ndf) if ndf else float("nan")


def _spread(tab: Any) -> float:
    ok = np.isfinite(tab["spread"].to_numpy(np.float64))
    return float(np.average(tab["spread"][ok], weights=tab["n_mc"][ok])) if ok.any() else np.nan


def run(
    config: Config, *, strength: float | None = None, seed: int = 0, out: Any = None
) -> RunResult:
    """Fit the binnings on MC and compare them (see the module docstring).

    Returns
    -------
    RunResult
        ``metrics`` ``"<method>.n_bins"``, ``".spread"``, ``".closure"``,
        ``".id_sf_mean"``, ``".id_sf_std"``, ``".energy_scale_mean"``, and
        ``"kmeans.bins_for_grid_closure"`` / ``"kmeans.bins_for_grid_spread"``;
        ``tables`` ``"bins_<method>"`` and ``"k_scan"``; ``info["binnings"]`` the
        JSON of each fitted :class:`Binning`.

    Examples
    --------
    >>> res = run(Config(methods=("kmeans", "grid")), seed=2)  # doctest: +SKIP
    >>> res.metrics["kmeans.spread"] < res.metrics["grid.spread"]  # doctest: +SKIP
    """
    import pandas as pd

    from decorr_af.workflows._data import load_photons, train_test_split_idx

    if not isinstance(config, Config):
        raise ConfigError(f"run() needs a clustering Config, got {type(config).__name__}")
    t0 = time.perf_counter()
    mc = prepare(load_photons(config.mc_files))
    data_truth = prepare(load_photons(config.data_files))  # truth: validation only
    mc = mc[mc["is_prompt"].to_numpy(bool) & (mc["truth_e"].to_numpy() > 0)].reset_index(drop=True)
    data = data_truth[
        data_truth["is_prompt"].to_numpy(bool) & (data_truth["truth_e"].to_numpy() > 0)
    ]
    data = data.reset_index(drop=True)
    rng = np.random.default_rng([int(seed), 0xC1])
    if config.max_events:
        mc = mc.iloc[np.sort(rng.permutation(len(mc))[: config.max_events])].reset_index(drop=True)
        data = data.iloc[np.sort(rng.permutation(len(data))[: config.max_events])].reset_index(
            drop=True
        )
    tr, te = train_test_split_idx(len(mc), test_fraction=config.test_fraction, seed=seed)
    fit_df, mc_te = mc.iloc[tr].reset_index(drop=True), mc.iloc[te].reset_index(drop=True)
    dtr, dte = train_test_split_idx(len(data), test_fraction=config.test_fraction, seed=seed + 1)
    data_sf, data_te = data.iloc[dtr].reset_index(drop=True), data.iloc[dte].reset_index(drop=True)
    id_fit, id_mc_te = _id_pass(fit_df, config), _id_pass(mc_te, config)
    id_data_sf, id_data_te = _id_pass(data_sf, config), _id_pass(data_te, config)

    res = RunResult(workflow=config.workflow, config=config.to_dict(), seed=seed,
                    strength=float(config.strength if strength is None else strength))  # fmt: skip
    res.info["binnings"] = {}

    def evaluate(method: str, k: int) -> tuple[Binning, Any, float]:
        b = fit_binning(fit_df, method=method, n_bins=k, features=config.features, seed=seed,
                        eta_edges=config.eta_edges, pt_edges=config.pt_edges)  # fmt: skip
        # scale factors from the fit halves, closure on the held-out halves
        tab = bin_table(b, fit_df, data_sf, id_mc=id_fit, id_data=id_data_sf)
        return b, tab, _closure(config, b, tab, mc_te, data_te, id_mc_te, id_data_te)

    for method in config.methods:
        b, tab, clos = evaluate(method, config.n_clusters)
        b = dataclasses.replace(b, scale_factors={
            "id_sf": tab["id_sf"].tolist(), "energy_scale": tab["energy_scale"].tolist()})  # fmt: skip
        test_tab = bin_table(b, mc_te, data_te, id_mc=id_mc_te, id_data=id_data_te)
        res.tables[f"bins_{method}"] = tab
        res.info["binnings"][method] = b.to_dict()
        sf = tab["id_sf"].to_numpy(np.float64)
        res.metrics.update({
            f"{method}.n_bins": float(b.n_bins), f"{method}.spread": _spread(test_tab),
            f"{method}.closure": clos, f"{method}.id_sf_mean": float(np.nanmean(sf)),
            f"{method}.id_sf_std": float(np.nanstd(sf)),
            f"{method}.energy_scale_mean": float(np.nanmean(tab["energy_scale"])),
            f"{method}.empty_bins": float((tab["n_mc"] == 0).sum()),
        })  # fmt: skip
    scan_rows = []
    for method in [m for m in ("kmeans", "gmm") if m in config.methods]:
        for k in config.k_scan:
            b, tab, clos = evaluate(method, k)
            test_tab = bin_table(b, mc_te, data_te, id_mc=id_mc_te, id_data=id_data_te)
            scan_rows.append({"method": method, "k": k, "n_bins": b.n_bins,
                              "spread": _spread(test_tab), "closure": clos})  # fmt: skip
    scan = pd.DataFrame(scan_rows, columns=["method", "k", "n_bins", "spread", "closure"])
    res.tables["k_scan"] = scan
    if "grid" in config.methods and "kmeans" in config.methods and len(scan):
        km = scan[scan.method == "kmeans"].sort_values("k")
        for what in ("closure", "spread"):
            ok = km[km[what] <= res.metrics[f"grid.{what}"]]
            res.metrics[f"kmeans.bins_for_grid_{what}"] = float(ok.k.min()) if len(ok) else np.nan
    res.info["n_fit"], res.info["n_mc_test"], res.info["n_data"] = (
        len(fit_df),
        len(mc_te),
        len(data),
    )
    res.info["seconds"] = time.perf_counter() - t0
    if out is not None:
        res.save(out)
    return res

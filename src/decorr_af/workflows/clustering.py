"""Workflow 4: clustering photons into calibration bins (vs the manual η×pT×conversion grid).

Photons are grouped in standardised (|η|, log pT, conversion, μ) space by k-means
or a diagonal Gaussian mixture (scikit-learn, fixed seed) and compared with the
ATLAS-like |η| × pT grid split into unconverted and converted photons. Every
data-side number is data-driven:

* **ID efficiency scale factors** ``SF = ε_data / ε_MC`` per bin from radiative
  Z→μμγ tag-and-probe: events with two opposite-charge muons, 40 < m_μμ < 83 GeV and
  m_μμ + m_μμγ < 180 GeV (FSR topology), probe photons with m_μμγ in 80–100 GeV; the
  residual Z+jets background is removed by fitting m_μμγ of passing and failing
  probes with signal and background shapes from MC (``tp_method="template"``) or by
  sideband interpolation (``"sideband"``). The same procedure runs on data and MC;
  MC truth only validates it (``eff_mc_truth``, ``tp_closure_mc``).
* **Energy scales** ``1 + α`` per bin from the Z→ee line-shape α_i(|η|)
  (:func:`decorr_af.egamma.extract_scales`; optional, ``zee_*_files``), averaged over
  the bin's probe photons.
* the spread of the true correction ``E_true / E_raw`` (IQR/2 per bin, MC truth,
  averaged with the event weights; lower is better).

The binnings are fitted on one half of the MC probes (reco-level features only),
the scale factors measured on that half and on one half of the data; the
*closure* is the χ²/ndf between the data tag-and-probe efficiency and the
SF-corrected MC efficiency in fine held-out cells (|η| × pT × conversion × μ):
≈1 when the binning captures how the scale factors vary. Scanning k gives the
number of clusters needed to reach the grid's closure.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from typing import Any

import numpy as np

from decorr_af.data.schema import TRUTH_COLUMNS
from decorr_af.errors import ConfigError, InputFileError
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
    "probes",
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


class TagProbeMethod(str, enum.Enum):
    """Background treatment of the radiative-Z tag-and-probe."""

    TEMPLATE = "template"
    SIDEBAND = "sideband"


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
    zmumug_mc_files: tuple[str, ...] = ("samples/zmumug_mc/*.root",)
    zmumug_data_files: tuple[str, ...] = ("samples/zmumug_data/*.root",)
    zee_mc_files: tuple[str, ...] = ()
    zee_data_files: tuple[str, ...] = ()
    features: tuple[str, ...] = ("abs_eta", "log_pt", "converted", "mu")
    methods: tuple[str, ...] = ("kmeans", "gmm", "grid")
    n_clusters: int = 16
    k_scan: tuple[int, ...] = (4, 8, 16, 24)
    eta_edges: tuple[float, ...] = (0.0, 0.6, 1.37, 1.81, 2.37)
    pt_edges: tuple[float, ...] = (10.0, 15.0, 1e5)
    closure_eta_edges: tuple[float, ...] = (0.0, 0.6, 1.37, 1.81, 2.37)
    closure_pt_edges: tuple[float, ...] = (10.0, 13.0, 17.0, 1e5)
    closure_mu_edges: tuple[float, ...] = (0.0, 40.0, 200.0)
    id_cuts: dict = dataclasses.field(default_factory=dict)
    mumu_range: tuple[float, float] = (40.0, 83.0)
    max_mass_sum: float = 180.0
    probe_min_pt: float = 10.0
    tp_method: str = "template"
    tp_split_templates: bool = False  # separate MC shapes for ID-passing/failing probes
    tp_window: tuple[float, float] = (80.0, 100.0)
    tp_fit_range: tuple[float, float] = (60.0, 130.0)
    tp_sidebands: tuple[tuple[float, float], tuple[float, float]] = ((65.0, 80.0), (100.0, 115.0))
    zee_eta_edges: tuple[float, ...] = (0.0, 0.8, 1.37, 1.52, 2.47)
    min_bin_count: int = 20
    test_fraction: float = 0.5
    max_events: int = 0
    strength: float = 0.0

    def validate(self) -> None:
        for m in self.methods:
            if m not in {x.value for x in Method}:
                raise ConfigError(f"parameter 'methods': unknown method {m!r}")
        if self.tp_method not in {x.value for x in TagProbeMethod}:
            raise ConfigError(
                f"parameter 'tp_method' must be 'template' or 'sideband', got {self.tp_method!r}"
            )
        if self.n_clusters < 1 or any(k < 1 for k in self.k_scan):
            raise ConfigError("parameters 'n_clusters' and 'k_scan' must be >= 1")
        if bool(self.zee_mc_files) != bool(self.zee_data_files):
            raise ConfigError("parameters 'zee_mc_files' and 'zee_data_files' go together")
        self.check(fraction=("test_fraction",))
        for name in ("eta_edges", "pt_edges", "closure_eta_edges", "closure_pt_edges",
                     "closure_mu_edges", "mumu_range", "tp_window", "tp_fit_range",
                     "zee_eta_edges"):  # fmt: skip
            e = np.asarray(getattr(self, name))
            if len(e) < 2 or np.any(np.diff(e) <= 0):
                raise ConfigError(f"parameter '{name}' must be increasing with >= 2 edges")


def probes(config: Config, *, data: bool) -> Any:
    """Radiative-Z probe photons (prepared table) passing the tag selection.

    Data is read with ``drop_truth=True``; a data table that holds a truth column
    is refused.

    Examples
    --------
    >>> probes(Config(), data=True)[["pt", "m_mumugamma"]].head()  # doctest: +SKIP
    """
    from decorr_af.workflows._data import load_radiative_z

    name = "zmumug_data_files" if data else "zmumug_mc_files"
    df = load_radiative_z(getattr(config, name), drop_truth=data)
    leaked = [c for c in TRUTH_COLUMNS if c in df.columns]
    if data and leaked:
        raise InputFileError(f"parameter '{name}': data table holds truth column(s) {leaked}")
    need = ["m_mumu", "m_mumugamma", "pt", "eta", "weight", "mu", "conversionType"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputFileError(f"parameter '{name}': table lacks column(s) {missing}")
    m2, m3 = df["m_mumu"].to_numpy(), df["m_mumugamma"].to_numpy()
    lo, hi = config.mumu_range
    sel = (m2 > lo) & (m2 < hi) & (m2 + m3 < config.max_mass_sum)
    sel &= (df["pt"].to_numpy() > config.probe_min_pt) & np.isfinite(m3)
    return prepare(df[sel])


class _TagProbe:
    """Efficiencies with the configured background treatment (templates from MC).

    The template method takes signal (prompt) and background (fake) m_μμγ shapes
    from the MC probes; with ``tp_split_templates`` separately for ID-passing and
    ID-failing probes (a split template with fewer than 50 entries falls back to the
    inclusive one). Measured on MC (seeds 21–23): inclusive shapes close per bin
    (MC tag-and-probe minus truth-matched efficiency ≈ 0.1 % on average over the grid
    bins, −1.5 % inclusively); split shapes close inclusively (−0.5 %) but not per bin
    (+1 %), as the failing photons' shape varies between bins. Default: inclusive.
    """

    def __init__(self, config: Config, mc: Any) -> None:
        self.config = config
        m, w = mc["m_mumugamma"].to_numpy(), mc["weight"].to_numpy(np.float64)
        prompt = mc["is_prompt"].to_numpy(bool)  # MC truth: template shapes only
        ident = _id_pass(mc, config)

        def shape(sel: np.ndarray, fallback: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            use = sel if sel.sum() >= 50 else fallback
            return m[use], w[use]

        split = bool(config.tp_split_templates)
        self.templates = {
            ok: (
                shape(prompt & ((ident == ok) | (not split)), prompt),
                shape(~prompt & ((ident == ok) | (not split)), ~prompt),
            )
            for ok in (True, False)
        }

    def __call__(self, df: Any, passed: np.ndarray) -> Any:
        from decorr_af.egamma import tag_probe_efficiency, template_efficiency

        c = self.config
        m, w = df["m_mumugamma"].to_numpy(), df["weight"].to_numpy(np.float64)
        if c.tp_method == TagProbeMethod.TEMPLATE.value:
            (sig, bkg), fail = self.templates[True], self.templates[False]
            return template_efficiency(m, passed, w, sig_template=sig, bkg_template=bkg,
                                       fail_templates=fail, fit_range=tuple(c.tp_fit_range),
                                       window=tuple(c.tp_window))  # fmt: skip
        return tag_probe_efficiency(m, passed, w, window=tuple(c.tp_window),
                                    sidebands=tuple(map(tuple, c.tp_sidebands)))  # fmt: skip


def _id_pass(df: Any, config: Config) -> np.ndarray:
    from decorr_af.workflows._photon_cuts import cut_based_id

    return cut_based_id(df, config.id_cuts or None)


def _ratio_err(a: float, ea: float, b: float, eb: float) -> tuple[float, float]:
    if not (a > 0 and b > 0):
        return float("nan"), float("nan")
    r = a / b
    return r, r * float(np.hypot(ea / a, eb / b))


def _alpha_of(df: Any, zee: dict[str, Any] | None, key: str = "alpha") -> np.ndarray:
    """Z→ee α(|η|) (or its error) of every probe (NaN outside the bins / without Z→ee)."""
    if zee is None:
        return np.full(len(df), np.nan)
    edges, alpha = np.asarray(zee["eta_edges"]), np.asarray(zee[key], np.float64)
    b = np.searchsorted(edges, df["abs_eta"].to_numpy(), side="right") - 1
    ok = (b >= 0) & (b < len(alpha))
    return np.where(ok, alpha[np.clip(b, 0, len(alpha) - 1)], np.nan)


def bin_table(
    binning: Binning, mc: Any, data: Any, *, tp: Any, config: Config, zee: Any = None
) -> Any:
    """Per-bin tag-and-probe efficiencies, ID scale factors, energy scale and spread.

    ``mc``/``data`` are probe tables (:func:`probes`); MC truth enters only the
    validation columns (``eff_mc_truth``, ``spread``, ``correction``).

    Examples
    --------
    >>> tab = bin_table(binning, mc, data, tp=tp, config=cfg)  # doctest: +SKIP
    """
    import pandas as pd

    from decorr_af.metrics import weighted_quantile

    bm, bd = assign_bins(binning, mc), assign_bins(binning, data)
    wm = mc["weight"].to_numpy(np.float64)
    id_mc, id_da = _id_pass(mc, config), _id_pass(data, config)
    prompt = mc["is_prompt"].to_numpy(bool)
    m3 = mc["m_mumugamma"].to_numpy()
    inw = (m3 >= config.tp_window[0]) & (m3 < config.tp_window[1]) & prompt
    cm = (mc["truth_e"] / mc["e"]).to_numpy(np.float64)
    alpha, alpha_err = _alpha_of(mc, zee), _alpha_of(mc, zee, "alpha_err")
    rows = []
    for b in range(binning.n_bins):
        sm, sd = bm == b, bd == b
        row: dict[str, float] = {"bin": b, "n_mc": int(sm.sum()), "n_data": int(sd.sum())}
        for f in ("abs_eta", "pt", "converted", "mu"):
            row[f"mean_{f}"] = float(np.average(mc[f][sm], weights=wm[sm])) if sm.any() else np.nan
        tm = sm & prompt & (cm > 0)
        if tm.sum() >= 4:
            q25, q50, q75 = weighted_quantile(cm[tm], [0.25, 0.5, 0.75], wm[tm])
            row["spread"], row["correction"] = 0.5 * (q75 - q25) / q50, float(q50)
        else:
            row["spread"] = row["correction"] = np.nan
        ok = min(sm.sum(), sd.sum()) >= config.min_bin_count
        e_mc = tp(mc[sm], id_mc[sm]) if ok else None
        e_da = tp(data[sd], id_da[sd]) if ok else None
        row["eff_mc"], row["eff_mc_err"] = (e_mc.eff, e_mc.err) if ok else (np.nan, np.nan)
        row["eff_data"], row["eff_data_err"] = (e_da.eff, e_da.err) if ok else (np.nan, np.nan)
        row["purity_data"] = e_da.purity if ok else np.nan
        t = sm & inw
        row["eff_mc_truth"] = float(np.average(id_mc[t], weights=wm[t])) if t.any() else np.nan
        row["id_sf"], row["id_sf_err"] = (
            _ratio_err(e_da.eff, e_da.err, e_mc.eff, e_mc.err) if ok else (np.nan, np.nan)
        )
        a = sm & np.isfinite(alpha)
        row["energy_scale"] = float(1.0 + alpha[a].mean()) if a.any() else np.nan
        row["energy_scale_err"] = float(alpha_err[a].mean()) if a.any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _closure(config: Config, binning: Binning, tab: Any, mc: Any, data: Any, tp: Any) -> float:
    """χ²/ndf of data T&P efficiency vs SF-corrected MC T&P efficiency in fine cells."""
    sf = np.nan_to_num(tab["id_sf"].to_numpy(np.float64), nan=1.0)
    sf_mc = sf[assign_bins(binning, mc)]
    id_mc, id_da = _id_pass(mc, config), _id_pass(data, config)

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
    wm = mc["weight"].to_numpy(np.float64)
    chi2, ndf = 0.0, 0
    for c in np.unique(cd_):
        sm, sd = cm_ == c, cd_ == c
        if sm.sum() < config.min_bin_count or sd.sum() < config.min_bin_count:
            continue
        e_mc, e_da = tp(mc[sm], id_mc[sm]), tp(data[sd], id_da[sd])
        k = float(np.average(sf_mc[sm], weights=wm[sm]))
        pred, var = e_mc.eff * k, e_da.err**2 + (k * e_mc.err) ** 2
        if np.isfinite(pred) and np.isfinite(e_da.eff) and var > 0:
            chi2, ndf = chi2 + (e_da.eff - pred) ** 2 / var, ndf + 1
    return float(chi2 / ndf) if ndf else float("nan")


def _spread(tab: Any) -> float:
    ok = np.isfinite(tab["spread"].to_numpy(np.float64))
    return float(np.average(tab["spread"][ok], weights=tab["n_mc"][ok])) if ok.any() else np.nan


def _zee_alpha(config: Config, seed: int) -> dict[str, Any] | None:
    """Z→ee α_i(|η|) of the raw energies (× one MC constant) — no truth in data."""
    if not config.zee_mc_files:
        return None
    from decorr_af.egamma import extract_scales
    from decorr_af.metrics import weighted_quantile
    from decorr_af.workflows._data import load_electrons

    mc = load_electrons(config.zee_mc_files)
    da = load_electrons(config.zee_data_files, drop_truth=True)
    k = 1.0 / float(weighted_quantile((mc["e"] / mc["truth_e"]).to_numpy(), 0.5))
    res = extract_scales(
        da["m_ee"].to_numpy()[::2] * k, da["eta"].to_numpy().reshape(-1, 2),
        mc["m_ee"].to_numpy()[::2] * k, mc["eta"].to_numpy().reshape(-1, 2),
        eta_edges=config.zee_eta_edges, w_data=da["weight"].to_numpy()[::2],
        w_mc=mc["weight"].to_numpy()[::2],
    )  # fmt: skip
    return res.to_dict()


def run(
    config: Config, *, strength: float | None = None, seed: int = 0, out: Any = None
) -> RunResult:
    """Fit the binnings on MC probes and compare them (see the module docstring).

    Returns
    -------
    RunResult
        ``metrics`` ``"<method>.n_bins"``, ``".spread"``, ``".closure"``,
        ``".id_sf_mean"``, ``".id_sf_std"``, ``".energy_scale_mean"`` (NaN without
        Z→ee), ``".tp_closure_mc"`` (MC T&P minus truth efficiency, mean over bins),
        ``"kmeans.bins_for_grid_closure"`` / ``"kmeans.bins_for_grid_spread"`` and
        ``"tagprobe.eff_data"``, ``".eff_mc"``, ``".eff_mc_truth"``, ``".sf"``
        (inclusive); ``tables`` ``"bins_<method>"`` and ``"k_scan"``;
        ``info["binnings"]`` the JSON of each fitted :class:`Binning`.

    Examples
    --------
    >>> res = run(Config(methods=("kmeans", "grid")), seed=2)  # doctest: +SKIP
    >>> res.metrics["kmeans.closure"], res.metrics["grid.closure"]  # doctest: +SKIP
    """
    import pandas as pd

    from decorr_af.egamma import scale_factor
    from decorr_af.workflows._data import train_test_split_idx

    if not isinstance(config, Config):
        raise ConfigError(f"run() needs a clustering Config, got {type(config).__name__}")
    config = config.with_strength(strength)
    t0 = time.perf_counter()
    mc, data = probes(config, data=False), probes(config, data=True)
    rng = np.random.default_rng([int(seed), 0xC1])
    if config.max_events:
        mc = mc.iloc[np.sort(rng.permutation(len(mc))[: config.max_events])].reset_index(drop=True)
        data = data.iloc[np.sort(rng.permutation(len(data))[: config.max_events])]
        data = data.reset_index(drop=True)
    tr, te = train_test_split_idx(len(mc), test_fraction=config.test_fraction, seed=seed)
    fit_df, mc_te = mc.iloc[tr].reset_index(drop=True), mc.iloc[te].reset_index(drop=True)
    dtr, dte = train_test_split_idx(len(data), test_fraction=config.test_fraction, seed=seed + 1)
    data_sf, data_te = data.iloc[dtr].reset_index(drop=True), data.iloc[dte].reset_index(drop=True)
    tp = _TagProbe(config, fit_df)  # MC shapes from the fit half
    zee = _zee_alpha(config, seed)

    res = RunResult(workflow=config.workflow, config=config.to_dict(), seed=seed,
                    strength=config.strength)  # fmt: skip
    res.info["binnings"] = {}
    if zee is not None:
        res.info["zee"] = zee
    e_da, e_mc = tp(data, _id_pass(data, config)), tp(mc, _id_pass(mc, config))
    m3, prompt = mc["m_mumugamma"].to_numpy(), mc["is_prompt"].to_numpy(bool)
    t = prompt & (m3 >= config.tp_window[0]) & (m3 < config.tp_window[1])
    sf, sf_err = scale_factor(e_da, e_mc)
    res.metrics.update({
        "tagprobe.eff_data": e_da.eff, "tagprobe.eff_data_err": e_da.err,
        "tagprobe.eff_mc": e_mc.eff, "tagprobe.eff_mc_err": e_mc.err,
        "tagprobe.eff_mc_truth": float(np.average(_id_pass(mc, config)[t],
                                                  weights=mc["weight"].to_numpy()[t])),
        "tagprobe.sf": sf, "tagprobe.sf_err": sf_err, "tagprobe.purity_data": e_da.purity,
        "tagprobe.n_probes_data": float(len(data)), "tagprobe.n_probes_mc": float(len(mc)),
    })  # fmt: skip

    def evaluate(method: str, k: int) -> tuple[Binning, Any, float]:
        b = fit_binning(fit_df, method=method, n_bins=k, features=config.features, seed=seed,
                        eta_edges=config.eta_edges, pt_edges=config.pt_edges)  # fmt: skip
        # scale factors from the fit halves, closure on the held-out halves
        tab = bin_table(b, fit_df, data_sf, tp=tp, config=config, zee=zee)
        return b, tab, _closure(config, b, tab, mc_te, data_te, tp)

    for method in config.methods:
        b, tab, clos = evaluate(method, config.n_clusters)
        b = dataclasses.replace(b, scale_factors={
            "id_sf": tab["id_sf"].tolist(), "energy_scale": tab["energy_scale"].tolist()})  # fmt: skip
        test_tab = bin_table(b, mc_te, data_te, tp=tp, config=config, zee=zee)
        res.tables[f"bins_{method}"] = tab
        res.info["binnings"][method] = b.to_dict()
        sfs = tab["id_sf"].to_numpy(np.float64)
        diff = (tab["eff_mc"] - tab["eff_mc_truth"]).to_numpy(np.float64)
        res.metrics.update({
            f"{method}.n_bins": float(b.n_bins), f"{method}.spread": _spread(test_tab),
            f"{method}.closure": clos,
            f"{method}.id_sf_mean": float(np.nanmean(sfs)) if np.isfinite(sfs).any() else np.nan,
            f"{method}.id_sf_std": float(np.nanstd(sfs)) if np.isfinite(sfs).any() else np.nan,
            f"{method}.energy_scale_mean": float(np.nanmean(tab["energy_scale"]))
            if np.isfinite(tab["energy_scale"]).any() else np.nan,
            f"{method}.tp_closure_mc": float(np.nanmean(diff)) if np.isfinite(diff).any() else np.nan,
            f"{method}.empty_bins": float((tab["n_mc"] == 0).sum()),
        })  # fmt: skip
    scan_rows = []
    for method in [m for m in ("kmeans", "gmm") if m in config.methods]:
        for k in config.k_scan:
            b, tab, clos = evaluate(method, k)
            test_tab = bin_table(b, mc_te, data_te, tp=tp, config=config, zee=zee)
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

"""Execute every story notebook in ``notebooks/`` with small parameters (papermill).

Each notebook runs top to bottom in a fresh ``python3`` kernel (ipykernel of this
environment) with ``MPLBACKEND=agg``, its working directory and every output in a
temporary directory; any exception in a cell fails the test, naming the notebook.

Notebooks tell the truth: a notebook whose narrative depends on numbers writes
its text from the results (Markdown built in the cell) and ends with a cell
tagged ``figures`` that displays those numbers as ``application/json``; the
checks in :data:`CHECKS` read them back from the executed notebook and assert
the claims of the narrative (no model worse than random, DisCo reduces dCor at a
bounded cost in rejection, a trade-off rather than a cliff, ...).
"""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
DATA_DIR = Path(__file__).resolve().parent / "data"

#: tiny parameters per notebook (on top of ``quick=True`` and ``workdir``)
SMALL: dict[str, dict[str, object]] = {
    # 20k events per sample: the smallest data/MC shift checked (conversion fraction,
    # +1.5 % absolute) is then > 3 sigma; a seed the toy was not tuned on
    "01_physlite_tour": {"events": 20_000, "seed": 2027, "real_dir": str(DATA_DIR)},
    # 20k events: R_bkg of the ML IDs to ~0.15-0.2 (r_bkg_err); a seed the notebook was not tuned on
    "02_photon_id_disco": {"events": 20_000, "epochs": 10, "n_estimators": 10, "seed": 2029},
    # 5000 events, 5 epochs, 50 trees: the shape regressions trained enough to resolve better
    # than the binned calibration beyond the errors; a seed the notebook was not tuned on
    "03_energy_calibration_datamc": {"events": 5000, "epochs": 5, "n_estimators": 50, "seed": 2043},
    "04_adversarial_vs_disco": {"events": 8000, "epochs": 10},
    "05_tth_myy_sculpting": {
        "events": 8000,
        "epochs": 1,
        "n_estimators": 10,
        "wp_efficiency": 0.9,
    },
    "06_scaling_scans_dask": {
        "events": 2000,
        "epochs": 1,
        "cluster_spec": "local:workers=1,threads=1",
    },
    # 12k radiative-Z events: converted vs unconverted SFs resolved; k = 16 = the grid's bins
    "07_clustering_calibration_bins": {
        "events": 12_000,
        "n_clusters": 16,
        "k_scan": [8, 16],
        "seed": 2039,
    },
    "08_teaching_decorrelation": {"n": 3000, "epochs": 10},
    # 12k diphoton events: enough MC per category for 2 categories; 8k ttH events to unfold
    "11_tth_measurement": {
        "events": 12_000,
        "epochs": 3,
        "n_categories": 2,
        "unfold_events": 8000,
        "omnifold_iterations": 3,
        "seed": 2047,
    },
    "09_cells": {"events": 3000, "epochs": 8, "seed": 2041},
}

NOTEBOOKS = sorted(p.stem for p in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def test_every_notebook_has_small_parameters():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"
    assert sorted(SMALL) == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_parameters_cell(name):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: expected exactly one cell tagged 'parameters'"
    source = tagged[0].source
    for key in ("workdir", "quick", *SMALL[name]):
        assert f"{key} =" in source, f"{name}: parameter '{key}' missing from the parameters cell"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        f"{name}: committed with outputs"
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes(name, tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("MPLBACKEND", "agg")
    monkeypatch.delenv("DECORR_AF_CLUSTER", raising=False)
    params = {"workdir": str(tmp_path / "work"), "quick": True, **SMALL[name]}
    t0 = time.perf_counter()
    papermill.execute_notebook(
        str(NOTEBOOK_DIR / f"{name}.ipynb"),
        str(tmp_path / f"{name}.out.ipynb"),
        parameters=params,
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
        log_output=False,
        execution_timeout=600,
    )
    print(f"{name}: {time.perf_counter() - t0:.1f} s")
    if name in CHECKS:
        CHECKS[name](figures_of(tmp_path / f"{name}.out.ipynb"), tmp_path / "work")


def figures_of(path: Path) -> dict:
    """The ``application/json`` output of the cell tagged ``figures``."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "figures" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: expected one cell tagged 'figures'"
    data = [o["data"]["application/json"] for o in cells[0].outputs if "data" in o]
    assert data, f"{path.name}: the 'figures' cell displayed no application/json"
    return dict(data[-1])


def _smooth(values, *, up: float = 1.2) -> bool:
    """Non-increasing within noise: no step up by more than ``up``."""
    return all(b <= up * a for a, b in itertools.pairwise(values))


def check_01(fig: dict, workdir: Path) -> None:
    """Notebook 01: no truth in data; data differ from MC for the stated physical causes."""
    truth = fig["truth"]
    assert truth["data_truth_columns"] == [], truth  # the data table has no truth column
    assert truth["data_truth_branches"] == [], truth  # ... nor the data file a truth branch
    assert truth["data_is_simulation"] is False, truth  # the bitmask says data
    assert truth["mc_is_simulation"] is True, truth
    assert {"truthType", "truth_e", "is_prompt"} <= set(truth["mc_truth_columns"]), truth
    assert fig["zmumug"]["data_truth_columns"] == [], fig["zmumug"]
    dcor = fig["dcor_iso"]  # "fakes more dependent than prompt photons" (the wide shapes)
    assert all(dcor["fake"][v] > dcor["prompt"][v] for v in ("Reta", "weta2", "Rhad")), dcor
    assert max(dcor["fake"].values()) > max(dcor["prompt"].values()), dcor
    dm = fig["data_mc"]
    for var, higher in (("converted", True), ("f1", True), ("E0", True), ("mu", True),
                        ("weta2", True), ("topoetcone20", True), ("ptcone20", True),
                        ("Reta", False), ("Rphi", False), ("pt", False)):  # fmt: skip
        assert (dm[var]["data"] > dm[var]["mc"]) == higher, (var, dm[var])
    for var in ("Reta", "weta2", "mu", "E0"):  # clearly different, not within noise
        assert dm[var]["ks_p"] < 0.01, (var, dm[var])
    zee = fig["zee"]  # raw Z->ee peak lower in data (material), significantly
    assert zee["peak_data"] < zee["peak_mc"] - 3 * zee["alpha_err"] * zee["peak_mc"], zee
    assert -0.05 < zee["alpha"] < 0.0, zee
    assert zee["shapes"]["Reta"]["data"] < zee["shapes"]["Reta"]["mc"], zee["shapes"]
    rz = fig["zmumug"]  # the mass window selects prompt photons (checked with MC truth)
    assert rz["prompt_fraction_fsr_mc"] > 0.9 > rz["prompt_fraction_all_mc"], rz
    assert rz["n_fsr_data"] > 0, rz
    assert rz["n_fsr_mc"] > 0, rz
    assert rz["shapes"]["Reta"]["data"] < rz["shapes"]["Reta"]["mc"], rz["shapes"]


def _binomial(eff: float, n: float) -> float:
    return math.sqrt(max(eff * (1.0 - eff), 0.0) / max(n, 1.0))


def check_02(fig: dict, workdir: Path) -> None:
    """Notebook 02: menus on target, ML beats Tight at its rejection, DisCo moves R_bkg to 1.

    Margins are statistical: binomial errors on efficiencies, ``r_bkg_err`` on R_bkg.
    """
    assert min(fig["auc"].values()) > 0.5, fig["auc"]  # "no model has AUC below ..."
    menus, mods = fig["menus"], fig["models"]
    # Loose/Tight tuned on the training half keep their targets on the test half
    tol = 0.04 + 2.0 * menus["tight_eff_err"]
    assert abs(menus["tight_eff"] - menus["tight_target"]) < tol, menus
    assert abs(menus["loose_eff"] - menus["loose_target"]) < tol, menus
    assert menus["loose_eff"] > menus["tight_eff"], menus
    assert menus["tight_rej"] > menus["loose_rej"] > 1.0, menus
    for row in menus["by_et"]:  # per E_T bin, where the bin has the statistics
        if row["prompt"] >= 200:
            assert abs(row["Tight eff"] - row["Tight target"]) < 0.06 + 3.0 * row["± (stat)"], row
    assert mods["cutbased"]["eff_at_tight_rej"] == menus["tight_eff"], mods["cutbased"]
    # the ML ID at Tight's fake rejection: a gain beyond the statistical error
    e_ml = mods["plain_mlp"]["eff_at_tight_rej"]
    assert e_ml > menus["tight_eff"] + 2.0 * _binomial(e_ml, fig["n_prompt_test"]), (e_ml, menus)
    # ABCD on MC fakes: the plain MLP sculpts (R_bkg > 1), DisCo brings R_bkg towards 1
    plain, disco = mods["plain_mlp"], mods["disco_mlp"]
    assert plain["r_bkg"] > 1.0, plain
    margin = 0.5 * math.hypot(plain["r_bkg_err"], disco["r_bkg_err"])
    assert abs(disco["r_bkg"] - 1.0) < abs(plain["r_bkg"] - 1.0) + margin, (disco, plain)
    assert disco["dcor"] < 0.8 * plain["dcor"], (disco, plain)
    assert disco["auc"] > 0.75, disco
    assert disco["r50"] >= 0.2 * plain["r50"], (disco, plain)
    for name, row in mods.items():  # 1/JSD and its random-cut ceiling are well formed
        lo, c, hi = (row[f"inv_jsd_ceiling{k}"] for k in ("_lo", "", "_hi"))
        assert row["inv_jsd"] > 0, (name, row)
        assert 0 < lo <= c <= hi, (name, row)
    # the λ scan is a trade-off: efficiency at Tight's rejection falls, R_bkg approaches 1
    scan = sorted(fig["scan"], key=lambda r: r["lambda"])
    assert scan[0]["lambda"] == 0.0, scan
    assert scan[-1]["lambda"] >= fig["strength"], scan
    eff = [r["eff_at_tight_rej"] for r in scan]
    assert _smooth(eff, up=1.05), scan  # no step up beyond noise
    assert eff[-1] < eff[0], scan
    assert scan[-1]["dcor"] < scan[0]["dcor"], scan
    last = scan[-1]
    assert abs(last["r_bkg"] - 1.0) < 3.0 * last["r_bkg_err"], last
    # the command the notebook prints is a real one: its scan file loads
    from decorr_af.cli.scan import load_scan_config

    spec = load_scan_config(workdir / "scan.yaml")
    assert spec["scan"]["strengths"] == [r["lambda"] for r in scan]


def check_03(fig: dict, workdir: Path) -> None:
    """Notebook 03: no data/MC gap without mismodelling; material lowers the data peak;
    shower shapes follow it; the Conclusions name what the numbers show."""
    zero = [g for g in fig["gaps"] if g["mismodelling"] == 0.0]
    assert zero, fig["gaps"]
    assert max(abs(g["gap"]) / g["gap_err"] for g in zero) < 3.0, zero  # α ≈ 0 at zero mismodelling
    mods = fig["models"]
    raw, base = mods["raw"], mods["baseline_bdt"]
    assert fig["mismodelling"] > 0, fig["mismodelling"]
    assert raw["alpha"] < -2.0 * raw["alpha_err"], raw  # more material in data: a lower raw peak
    assert base["alpha"] < -2.0 * base["alpha_err"], base  # ... which the MVA inputs do not follow
    # the shower-shape regressions follow the material: |α| shrinks beyond the errors
    for name in ("shapes_bdt", "shapes_mlp"):
        row = mods[name]
        margin = math.hypot(row["alpha_err"], base["alpha_err"])
        assert abs(row["alpha"]) < abs(base["alpha"]) - margin, (name, row, base)
    # the domain penalty removes that adaptation: DisCo is nearer the baseline than the shape MLP
    disco = mods["disco_mlp"]
    d_base = abs(disco["alpha"] - base["alpha"])
    d_shape = abs(disco["alpha"] - mods["shapes_mlp"]["alpha"])
    assert d_base + math.hypot(disco["alpha_err"], base["alpha_err"]) < d_shape, (disco, mods)
    # a shower-shape regression resolves better in MC than the binned calibration
    best, binned = mods[fig["best_shape_resolution"]], mods["binned"]
    margin = math.hypot(best["resolution_mc_err"], binned["resolution_mc_err"])
    assert best["resolution_mc"] < binned["resolution_mc"] - margin, (best, binned)
    assert all(r["resolution_mc"] > 0 for n, r in mods.items() if n != "raw"), mods
    # the Conclusions state what these numbers show
    fitted = [n for n in mods if n != "raw" and mods[n]["alpha"] is not None]
    argmin = min(fitted, key=lambda n: abs(mods[n]["alpha"]))
    text = fig["conclusions"]
    assert fig["best_alpha"] == argmin, (fig["best_alpha"], argmin)
    assert f"Smallest |α| of the regressions: **{argmin}**" in text, text
    closer = "baseline_bdt" if d_base < d_shape else "shapes_mlp"
    assert fig["disco_closer_to"] == closer, fig["disco_closer_to"]
    assert f"closer to\n  **{closer}**" in text, text
    shapes = [n for n in ("shapes_bdt", "shapes_mlp") if n in mods]
    assert fig["best_shape_resolution"] == min(shapes, key=lambda n: mods[n]["resolution_mc"])
    gain = 1.0 - best["resolution_mc"] / base["resolution_mc"]
    assert math.isclose(fig["resolution_gain"], gain, rel_tol=1e-9), (fig["resolution_gain"], gain)
    assert ("better" if gain > 0 else "worse") in text.split("MC photon resolution")[1], text
    assert "compatible with no data/MC difference" in text, text
    assert "lower in data than" in text, text


def check_07(fig: dict, workdir: Path) -> None:
    """Notebook 07: tag-and-probe closes in MC; scale factors physical and lower for
    converted photons; the Conclusions' k-means vs grid verdict matches the numbers."""
    tp = fig["tagprobe"]
    # MC tag-and-probe vs the truth-matched efficiency: within 3 statistical sigma
    assert abs(tp["eff_mc"] - tp["eff_mc_truth"]) < 3.0 * tp["eff_mc_err"], tp
    assert 0.0 < tp["sf"] <= 1.2, tp
    assert tp["sf"] < 1.0, tp  # more material in data: a lower ID efficiency
    assert tp["purity_data"] > 0.9, tp
    for row in fig["grid_bins"]:  # per bin, where the bin has the statistics
        if row["id_sf"] is not None and row["n_data"] >= 50:
            assert 0.0 < row["id_sf"] <= 1.2 + 2.0 * row["id_sf_err"], row
    # converted photons: lower scale factors on average
    assert fig["sf_converted"] < fig["sf_unconverted"], fig
    assert fig["converted_lower"] is True, fig
    for meth, row in fig["methods"].items():  # each binning's per-bin MC T&P closure
        assert abs(row["tp_closure_mc"]) < 3.0 * tp["eff_mc_err"] + 0.02, (meth, row)
        assert 0.0 < row["closure"] < 3.0, (meth, row)
    # the verdict of the Conclusions follows the numbers at equal (or fewer) bins
    grid = fig["methods"]["grid"]
    eq = fig["equal_bins"]
    assert eq["n_bins"] <= grid["n_bins"], eq
    km = [r for r in fig["k_scan"] if r["method"] == "kmeans" and r["n_bins"] == eq["n_bins"]]
    if km:
        assert math.isclose(km[0]["closure"], eq["closure"]), (km, eq)
    beats = eq["closure"] < grid["closure"]
    assert fig["kmeans_beats_grid"] is beats, (eq, grid)
    text = fig["conclusions"]
    verdict = "k-means beats the grid" if beats else "k-means does **not** beat the grid"
    assert verdict in text, text
    assert f"SF = {tp['sf']:.3f} ± {tp['sf_err']:.3f}" in text, text


def check_04(fig: dict, workdir: Path) -> None:
    """Notebook 04: no model worse than random; DisCo reduces dCor in both sections."""
    hood = fig["under_the_hood"]
    assert min(r["AUC"] for r in hood) > 0.5, hood
    none = next(r for r in hood if r["penalty"] == "None")
    disco = next(r for r in hood if r["penalty"].startswith("DisCo"))
    assert disco["dCor(score, iso) fakes"] < 0.8 * none["dCor(score, iso) fakes"], hood
    rows = fig["workflow"]
    assert min(r["auc"] for r in rows) > 0.5, rows
    lam = max(r["lambda"] for r in rows)
    last = {r["model"]: r for r in rows if r["lambda"] == lam}
    assert last["disco_mlp"]["dcor"] < last["plain_mlp"]["dcor"], last


def check_08(fig: dict, workdir: Path) -> None:
    """Notebook 08: the teaching claims hold for the numbers the notebook shows."""
    toys = {r["toy"]: r for r in fig["toys"]}
    for name in ("quadratic", "ring"):  # ρ ≈ 0 although dependent; dCor sees it
        assert abs(toys[name]["pearson"]) < 0.1, toys[name]
        assert toys[name]["dCor"] > 0.15, toys[name]
    assert toys["linear"]["dCor"] > 0.5, toys
    assert toys["independent"]["dCor"] < 0.1, toys
    null = [fig["null_dcor"][k] for k in ("100", "1000", "10000")]
    assert null[0] > null[1] > null[2], null  # ~ 1/sqrt(N): about 10x over 100x in N
    assert 4.0 < null[0] / null[2] < 25.0, null
    table = sorted(fig["lambda_table"], key=lambda r: r["λ"])
    assert min(r["AUC"] for r in table) > 0.5, table
    dcor = [r["dCor(score, m) bkg"] for r in table]
    assert _smooth(dcor), table  # "dCor falls steadily with λ ..."
    assert dcor[-1] < 0.5 * dcor[0], table
    assert _smooth([r["R50"] for r in table]), table  # "... while R50 decreases"
    step = fig["gradient_step"]
    assert step["after"] < step["before"], step


#: claim checks per notebook (figures from the cell tagged ``figures``)
def check_11(fig: dict, workdir: Path) -> None:
    """Notebook 11: a finite measurement per λ; the unfoldings move to the data truth and agree."""
    for lam, m in fig["metrics"].items():
        assert m["expected_significance"] > 0, (lam, m)
        assert 0 < m["mu_uncertainty"] < 10, (lam, m)
        assert m["kappa_t_lo"] <= 1.0 <= m["kappa_t_hi"], (lam, m)
    assert fig["best_lambda"] in [float(k) for k in fig["metrics"]], fig["best_lambda"]
    pt = fig["unfolding"]["pt"]  # the tilt is visible in p_T and the unfoldings correct it
    assert pt["chi2_omnifold"] < 0.3 * pt["chi2_prior"], pt
    assert pt["chi2_ibu"] < 0.3 * pt["chi2_prior"], pt
    for var, u in fig["unfolding"].items():
        assert u["max_pull_ibu_omnifold"] < 3, (var, u)


def check_09(fig: dict, workdir: Path) -> None:
    """Notebook 09: the cell models learn; DisCo decorrelates the cell classifier."""
    ids = {r["index"]: r for r in fig["photon_id"]}
    assert min(r["auc"] for r in ids.values()) > 0.6, ids
    assert ids["cells_gnn"]["dcor"] < ids["plain_gnn"]["dcor"], ids
    calib = {r["index"]: r for r in fig["calibration"]}
    assert calib["cells Deep Sets"]["resolution"] < calib["raw"]["resolution"], calib


CHECKS = {
    "01_physlite_tour": check_01,
    "02_photon_id_disco": check_02,
    "03_energy_calibration_datamc": check_03,
    "04_adversarial_vs_disco": check_04,
    "07_clustering_calibration_bins": check_07,
    "08_teaching_decorrelation": check_08,
    "11_tth_measurement": check_11,
    "09_cells": check_09,
}

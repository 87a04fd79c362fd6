"""The main job, ``decorr-af demo``: generate toys, run λ scans on Dask, write a report.

Stages (each with a banner and a progress bar):

1. start the Dask cluster (a LocalCluster sized to the machine by default);
2. generate MC and data toys (photons, diphotons) into ``OUT/data/``, one Dask
   task per sample; samples already there with the same settings are reused;
3. one λ scan per workflow (photon ID, energy calibration, ttH(γγ) in the full
   run) into ``OUT/scans/<workflow>/``; finished points are reused;
4. the workflows' own plots for the reference λ (``OUT/scans/<wf>/figures/``),
   ``OUT/metrics.json`` and ``OUT/report.html``.

``quick=True`` is a small version (under two minutes on two cores) used by the
tests; the default aims at about ten minutes on two cores.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from decorr_af.errors import ConfigError

__all__ = ["DEFAULT_WORKFLOWS", "demo_plan", "run_demo"]

DEFAULT_WORKFLOWS = ("photon_id", "calibration", "tth")
QUICK_WORKFLOWS = ("photon_id", "calibration")


def demo_plan(*, quick: bool = False, events: int | None = None, seed: int = 0) -> dict[str, Any]:
    """The datasets and scans of the demo (sizes for ``quick`` or the full run).

    Examples
    --------
    >>> demo_plan(quick=True)["scans"]["photon_id"]["strengths"]
    [0.0, 3.0, 30.0]
    """
    n = int(events or (8_000 if quick else 100_000))
    if n < 1000:
        raise ConfigError(f"demo: 'events' must be at least 1000, got {n}")
    files = 1 if quick else 2
    data = [
        {"name": "photons_mc", "sample": "photons", "kind": "mc", "events": n, "files": files,
         "seed": seed + 101, "mismodelling": 0.0},
        {"name": "photons_data", "sample": "photons", "kind": "data", "events": n, "files": files,
         "seed": seed + 202, "mismodelling": 1.0},
        {"name": "diphoton_mc", "sample": "diphoton", "kind": "mc", "events": n, "files": files,
         "seed": seed + 303, "mismodelling": 0.0},
        # Z->ee: the data-driven energy scale (alpha) and resolution (c') check
        {"name": "zee_mc", "sample": "zee", "kind": "mc", "events": n, "files": files,
         "seed": seed + 404, "mismodelling": 0.0},
        {"name": "zee_data", "sample": "zee", "kind": "data", "events": n, "files": files,
         "seed": seed + 505, "mismodelling": 1.0},
    ]  # fmt: skip
    epochs = 3 if quick else 10
    seeds = [seed] if quick else [seed, seed + 1]
    scans = {
        "photon_id": {
            "config": {
                "mc_files": ["{data}/photons_mc/*.root"],
                "models": ["cutbased", "plain_mlp", "disco_mlp"]
                + ([] if quick else ["plain_bdt", "disco_bdt"]),
                "hidden": [32, 32] if quick else [64, 64],
                "epochs": epochs,
                "n_estimators": 100,
                "device": "cpu",
            },
            "strengths": [0.0, 3.0, 30.0] if quick else [0.0, 1.0, 3.0, 10.0, 30.0, 100.0],
            "reference": 30.0,
            "seeds": seeds,
        },
        "calibration": {
            "config": {
                "mc_files": ["{data}/photons_mc/*.root"],
                "data_files": ["{data}/photons_data/*.root"],
                "zee_mc_files": ["{data}/zee_mc/*.root"],
                "zee_data_files": ["{data}/zee_data/*.root"],
                "models": ["binned", "baseline_bdt", "shapes_mlp", "disco_mlp"]
                + ([] if quick else ["shapes_bdt", "reweighted_mlp"]),
                "mlp": {
                    "hidden": [32, 32] if quick else [64, 64],
                    "loss": "huber",
                    "epochs": epochs,
                    "batch_size": 256,
                    "lr": 2e-3,
                },
                "bdt": {"n_estimators": 100, "max_depth": 4, "learning_rate": 0.1},
                "device": "cpu",
            },
            # the gap/resolution knee of the domain penalty lies at λ ≈ 10-30
            "strengths": [0.0, 3.0, 20.0] if quick else [0.0, 3.0, 10.0, 30.0, 100.0],
            "reference": 20.0 if quick else 30.0,
            "seeds": seeds,
        },
        "tth": {
            "config": {
                "diphoton_files": ["{data}/diphoton_mc/*.root"],
                "models": ["plain_mlp", "disco_mlp", "plain_bdt", "disco_bdt"],
                "hidden": [32, 32] if quick else [64, 64],
                "epochs": epochs,
                "n_estimators": 100,
                "device": "cpu",
            },
            "strengths": [0.0, 1.0, 10.0] if quick else [0.0, 1.0, 3.0, 10.0, 30.0],
            "reference": 10.0,
            "seeds": [seed],
        },
    }
    return {"events": n, "data": data, "scans": scans}


def _banner(i: int, n: int, text: str) -> None:
    print(f"\n=== [{i}/{n}] {text} ===", flush=True)


def _generate_data(client: Any, data_dir: Path, datasets: list[dict], progress: bool) -> None:
    """Generate the samples on the cluster; reuse those whose manifest matches."""
    from distributed import as_completed

    from decorr_af.data import generate

    data_dir.mkdir(parents=True, exist_ok=True)
    manifest = data_dir / "manifest.json"
    done = json.loads(manifest.read_text()) if manifest.exists() else {}
    todo = []
    for d in datasets:
        expected = [data_dir / d["name"] / f"{d['sample']}_{d['kind']}_{i:03d}.root"
                    for i in range(d["files"])]  # fmt: skip
        if done.get(d["name"]) == d and all(p.is_file() for p in expected):
            print(f"  reusing {d['name']} ({d['events']} events)")
        else:
            todo.append(d)
    futures = {
        client.submit(
            generate, str(data_dir / d["name"]), sample=d["sample"], kind=d["kind"],
            events=d["events"], files=d["files"], seed=d["seed"],
            mismodelling=d["mismodelling"], pure=False,
        ): d
        for d in todo
    }  # fmt: skip
    bar = None
    if progress and futures:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(futures), desc="generate", unit="sample", dynamic_ncols=True)
    for fut in as_completed(list(futures)):
        fut.result()
        d = futures[fut]
        done[d["name"]] = d
        tmp = manifest.with_name(".manifest.json.tmp")
        tmp.write_text(json.dumps(done, indent=1))
        os.replace(tmp, manifest)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    return path


def _workflow_figures(name: str, result: Any, scan_result: Any, fig_dir: Path, ref: float) -> None:
    """The workflow's own plots for the reference λ, with captions in figures.json."""
    from matplotlib.figure import Figure

    from decorr_af.plot.style import use_style

    use_style()  # before the first axes exists: its tick sizes are fixed when it is made

    def fig_ax() -> tuple[Any, Any]:
        fig = Figure(figsize=(7, 5.6))
        return fig, fig.add_subplot()

    jobs: list[tuple[str, str, Any]] = []
    if name == "photon_id":
        from decorr_af.plot import photon_id as p

        jobs = [
            ("roc", "ROC curves (test photons)", lambda ax: p.plot_roc(result, ax=ax)),
            ("isolation_pass_fail_disco", "Isolation of fakes passing/failing the DisCo MLP",
             lambda ax: p.plot_isolation_pass_fail(result, "disco_mlp", ax=ax)),
            ("isolation_pass_fail_plain", "Isolation of fakes passing/failing the plain MLP",
             lambda ax: p.plot_isolation_pass_fail(result, "plain_mlp", ax=ax)),
            ("efficiency_vs_isolation", "ID efficiency versus isolation",
             lambda ax: p.plot_efficiency_vs_isolation(result, ax=ax)),
            ("inv_jsd", "1/JSD of the fakes' isolation against its random-cut ceiling",
             lambda ax: p.plot_inv_jsd(result, ax=ax)),
            ("abcd_closure", "ABCD correlation factor R_bkg per model (Loose′, isolation WP)",
             lambda ax: p.plot_abcd_closure(result, ax=ax)),
        ]  # fmt: skip
    elif name == "calibration":
        from decorr_af.plot import calibration as p

        jobs = [
            ("zee_alpha", "Z→ee energy-scale factors α per |η| bin (data vs MC), per regression",
             lambda ax: p.plot_zee_scales(result, quantity="alpha", ax=ax)),
            ("zee_cprime", "Z→ee resolution constant-term corrections c′ per |η| bin, per regression",
             lambda ax: p.plot_zee_scales(result, quantity="cprime", ax=ax)),
            ("mee_disco", "Z→ee m_ee in data and MC after the domain-DisCo regression",
             lambda ax: p.plot_mee(result, model="disco_mlp", ax=ax)),
            ("mee_shapes", "Z→ee m_ee in data and MC after the shower-shape regression",
             lambda ax: p.plot_mee(result, model="shapes_mlp", ax=ax)),
            ("response_eta", "Photon response versus |η| in MC (truth)",
             lambda ax: p.plot_response(result, variable="abs_eta", ax=ax)),
            ("resolution_pt", "Photon resolution versus pT in MC (truth)",
             lambda ax: p.plot_response(result, variable="pt", quantity="resolution", ax=ax)),
        ]  # fmt: skip
    elif name == "tth":
        from decorr_af.plot import measurement as pm
        from decorr_af.plot import tth as p

        refs = [scan_result.result(i) for i in scan_result.table.sort_values("strength")["id"]]
        jobs = [
            ("background_myy_disco", "Background m_γγ after the DisCo MLP cut",
             lambda ax: p.plot_background_myy(result, "disco_mlp", ax=ax)),
            ("background_myy_plain", "Background m_γγ after the plain MLP cut",
             lambda ax: p.plot_background_myy(result, "plain_mlp", ax=ax)),
            ("significance_vs_strength", "Expected significance versus λ",
             lambda ax: p.plot_significance_vs_strength(refs, ax=ax)),
            ("categories_disco", "Score categories of the DisCo MLP (boundaries from the validation half)",
             lambda ax: pm.plot_categories(result, "disco_mlp", ax=ax)),
            ("category_fits_disco", "Toy data and the S+B m_γγ fit per score category (DisCo MLP)",
             lambda ax: _category_fits(pm, result, "disco_mlp", ax)),
            ("kappa_t_disco", "Expected κ_t profile likelihood (κ_W = 1), DisCo MLP categories",
             lambda ax: pm.plot_kappa_t_scan(result, "disco_mlp", ax=ax)),
            ("mu_uncertainty_vs_strength", "Expected μ_ttH uncertainty (pyhf, categories) versus λ",
             lambda ax: pm.plot_metric_vs_strength(refs, model="disco_mlp", ax=ax)),
        ]  # fmt: skip
    captions = {}
    for stem, caption, draw in jobs:
        fig, ax = fig_ax()
        try:
            draw(ax)
        except (ConfigError, KeyError, ValueError, IndexError) as err:
            print(f"  skipped plot {name}/{stem}: {err}")
            continue
        _save(fig, fig_dir / f"{stem}.png")
        captions[f"{stem}.png"] = f"{caption} (λ = {ref:g}, seed {result.seed})"
    (fig_dir / "figures.json").write_text(json.dumps(captions, indent=1))


def _category_fits(pm: Any, result: Any, model: str, ax: Any) -> None:
    """One panel per score category in the figure of ``ax`` (which it replaces)."""
    n = len(pm.measurement_summary(result, model)["categories"])
    fig = ax.figure
    fig.delaxes(ax)
    fig.set_size_inches(5.5 * n, 4.5)
    pm.plot_category_fits(result, model, axes=list(fig.subplots(1, n, squeeze=False)[0]))


def _command(
    out: Path, spec: Any, quick: bool, seed: int, events: Any, names: list, own: bool
) -> str:
    parts = ["decorr-af demo", f"--out {out}"]
    parts += [f"--cluster {spec}"] if own else []
    parts += ["--quick"] if quick else []
    parts += [f"--seed {seed}", f"--workflows {','.join(names)}"]
    parts += [f"--events {events}"] if events else []
    return " ".join(parts)


def run_demo(
    out: str | os.PathLike[str] = "demo-output",
    *,
    cluster: Any = None,
    quick: bool = False,
    seed: int = 0,
    events: int | None = None,
    workflows: Sequence[str] | None = None,
    progress: bool = True,
    client: Any = None,
) -> Path:
    """Run the main job and return the path of ``OUT/report.html``.

    Parameters
    ----------
    out
        Output directory (``data/``, ``scans/``, ``metrics.json``, ``report.html``).
    cluster
        Cluster spec (default ``DECORR_AF_CLUSTER`` or ``"local"``); ignored when
        ``client`` is given.
    quick
        The small version (< 2 min on 2 cores).
    seed, events
        Base seed of data and trainings; events per generated sample.
    workflows
        Subset of ``photon_id``, ``calibration``, ``tth``.

    Examples
    --------
    >>> run_demo("demo-output", quick=True)  # doctest: +SKIP
    PosixPath('demo-output/report.html')
    """
    from decorr_af.report import write_report
    from decorr_af.scan import load_scan, scan
    from decorr_af.scan.clusters import ClusterSpec
    from decorr_af.scan.clusters import cluster as make_cluster
    from decorr_af.workflows import get_workflow

    out = Path(out)
    plan = demo_plan(quick=quick, events=events, seed=seed)
    names = list(workflows or (QUICK_WORKFLOWS if quick else DEFAULT_WORKFLOWS))
    for name in names:
        if name not in plan["scans"]:
            raise ConfigError(
                f"demo: unknown workflow '{name}' (choose from {list(plan['scans'])})"
            )
    needed = {"photons_mc", "photons_data"} if {"photon_id", "calibration"} & set(names) else set()
    if "calibration" in names:
        needed |= {"zee_mc", "zee_data"}
    if "tth" in names:
        needed.add("diphoton_mc")
    datasets = [d for d in plan["data"] if d["name"] in needed]
    n_stages = 3 + len(names)
    timings: dict[str, float] = {}
    out.mkdir(parents=True, exist_ok=True)
    spec = ClusterSpec.parse(cluster)
    t_all = time.perf_counter()

    _banner(1, n_stages, f"Dask cluster ({spec if client is None else 'given client'})")
    t0 = time.perf_counter()
    cm = make_cluster(spec) if client is None else contextlib.nullcontext(client)
    with cm as cl:
        workers = cl.scheduler_info().get("workers", {})
        print(f"  {len(workers)} workers, {sum(w['nthreads'] for w in workers.values())} threads")
        with contextlib.suppress(Exception):
            print(f"  dashboard: {cl.dashboard_link}")
        timings["cluster start"] = time.perf_counter() - t0

        _banner(2, n_stages, f"Generating toy data into {out / 'data'}")
        t0 = time.perf_counter()
        _generate_data(cl, out / "data", datasets, progress)
        timings["data generation"] = time.perf_counter() - t0

        results = {}
        for i, name in enumerate(names):
            s = plan["scans"][name]
            _banner(3 + i, n_stages, f"λ scan of {name}: λ in {s['strengths']}, seeds {s['seeds']}")
            t0 = time.perf_counter()
            data_dir = str((out / "data").resolve())
            cfg = json.loads(json.dumps(s["config"]).replace("{data}", data_dir))
            wf = get_workflow(name)
            results[name] = scan(
                wf, wf.Config.from_dict(cfg), strengths=s["strengths"], seeds=s["seeds"],
                client=cl, out=out / "scans" / name, progress=progress,
            )  # fmt: skip
            timings[f"scan {name}"] = time.perf_counter() - t0

    _banner(n_stages, n_stages, "Plots, metrics.json and report")
    t0 = time.perf_counter()
    metrics: dict[str, Any] = {}
    for name in names:
        res = load_scan(out / "scans" / name)
        ref = plan["scans"][name]["reference"]
        ids = res.ids(strength=ref)
        if ids:
            _workflow_figures(name, res.result(ids[0]), res, res.directory / "figures", ref)
        summary = res.summary()
        metrics[name] = {
            "reference_strength": ref,
            "points": len(res.table),
            "summary": json.loads(summary.to_json(orient="records")),
            "pareto": {
                f"{x} vs {y}": res.pareto(x, y, maximize=tuple(res.info.get("pareto_maximize",
                                          (True, True))))["strength"].tolist()
                for x, y in res.info.get("pareto", []) if x in res.metrics and y in res.metrics
            },
        }  # fmt: skip
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    timings["plots and report"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_all
    demo = {
        "title": "decorr_af demo: decorrelated photon ID, energy calibration and ttH(γγ)",
        "description": (
            "Toy PHYSLITE-like MC and data samples were generated, then λ scans of the "
            "DisCo decorrelation strength were run on Dask for each workflow. Tables give "
            "mean ± std over seeds; the workflow plots are for the reference λ."
        ),
        "command": _command(out, spec, quick, seed, events, names, client is None),
        "cluster": str(spec) if client is None else "given client",
        "quick": quick,
        "data": datasets,
        "timings": timings,
    }
    (out / "demo.json").write_text(json.dumps(demo, indent=1))
    report = write_report(out)
    timings["plots and report"] = time.perf_counter() - t0
    print(f"\nDone in {time.perf_counter() - t_all:.0f} s. Report: {report.resolve()}")
    return report

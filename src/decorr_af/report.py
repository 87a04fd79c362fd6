"""A one-page HTML report of a scan directory (or of a demo directory of scans).

:func:`write_report` reads only saved results, so ``decorr-af report DIR``
rebuilds the page at any time. The page shows what was run (workflow, base
config, points, seeds, cluster, timings), the metrics per parameter point (mean
± std over seeds), Pareto and metric-vs-λ plots (PNG files written next to the
page, linked relatively) and the workflow's own plots found in
``<scan>/figures/`` (captions from ``figures/figures.json``).

A demo directory holds ``demo.json`` (stages, data, timings) and one scan per
workflow under ``scans/<workflow>/``.
"""

from __future__ import annotations

import datetime
import html
import json
import math
import os
from pathlib import Path
from typing import Any

from decorr_af.errors import InputFileError
from decorr_af.scan.results import SCAN_FILE, ScanResult, load_scan

__all__ = ["find_scans", "write_report"]

REPORT_FILE = "report.html"
MAX_METRIC_PLOTS = 4
#: order of the sections: the story's order (photon ID first); other workflows follow
WORKFLOW_ORDER = ("photon_id", "calibration", "tth", "clustering")

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { border-bottom: 2px solid #1f77b4; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
th { background: #eef; } .scroll { overflow-x: auto; }
.figs { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; width: 48%; min-width: 380px; } figure img { width: 100%; }
figcaption { font-size: 0.85em; color: #555; } pre { background: #f6f6f6; padding: 0.5em; }
th .key { font-weight: normal; font-size: 0.8em; color: #777; font-family: monospace; }
.bad { color: #b00; }
"""


def find_scans(directory: str | os.PathLike[str]) -> list[Path]:
    """Scan directories in ``directory``: itself, ``scans/*`` or ``*`` holding ``scan.json``."""
    directory = Path(directory)
    if (directory / SCAN_FILE).exists():
        return [directory]
    found = sorted(p.parent for p in directory.glob(f"scans/*/{SCAN_FILE}"))
    return found or sorted(p.parent for p in directory.glob(f"*/{SCAN_FILE}"))


def _fmt(x: Any, digits: int = 4) -> str:
    if isinstance(x, float):
        if math.isnan(x):
            return "–"
        return f"{x:.{digits}g}"
    if isinstance(x, tuple):
        return "[" + ", ".join(_fmt(v) for v in x) + "]"
    return html.escape(str(x))


#: metric names (after the ``"<model>."`` prefix) shown in the main table
KEY_METRICS = (
    "auc",
    "r50",
    "eff_at_rej",
    "eff_at_tight_rej",
    "r_bkg",
    "dcor",
    "inv_jsd",
    "inv_jsd_ceiling",
    "abcd_nonclosure",
    "significance",
    "resolution_mc",
    "resolution_data",
    "data_mc_gap",
    "gap_significance",
    "spread",
    "closure",
)


def key_metrics(res: ScanResult) -> list[str]:
    """The metrics worth a first look: the primary model's key metrics and the Pareto axes."""
    primary = res.info.get("primary_model")
    pareto = [m for plane in res.info.get("pareto", []) for m in plane]
    keys = []
    if primary:
        tidy = res.metrics_table()
        have = set(tidy.loc[tidy["model"] == primary, "metric"])
        keys = [res.column(primary, k) for k in KEY_METRICS if k in have]
    chosen = [m for m in dict.fromkeys([*keys, *pareto]) if m in res.metrics]
    return chosen or list(res.metrics)


def _label(key: str) -> str:
    from decorr_af.plot.labels import metric_label

    return metric_label(key)


def _header(key: str, label: str) -> str:
    """A table header: the readable label, the raw key as a tooltip and in small print."""
    if label == key:
        return f"<th>{html.escape(key)}</th>"
    return (
        f"<th title='{html.escape(key)}'>{html.escape(label)}"
        f"<br><span class='key'>{html.escape(key)}</span></th>"
    )


def _summary_table(res: ScanResult, metrics: list[str]) -> str:
    from decorr_af.plot.labels import param_label

    summary = res.summary()
    if summary.empty:
        return "<p class='bad'>No finished points yet.</p>"
    head = [(p, param_label(p)) for p in res.params]
    head += [("seeds", "seeds"), *((m, _label(m)) for m in metrics)]
    rows = []
    for _, r in summary.iterrows():
        cells = [_fmt(r[p]) for p in res.params] + [str(int(r["n_seeds"]))]
        for m in metrics:
            mean, std = float(r[m]), float(r[f"{m}_std"])
            cells.append(_fmt(mean) + ("" if math.isnan(std) else f" ± {std:.2g}"))
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    header = "".join(_header(key, label) for key, label in head)
    return f"<div class='scroll'><table><tr>{header}</tr>{''.join(rows)}</table></div>"


def _figure(fig_dir: Path, name: str, draw: Any) -> Path | None:
    from matplotlib.figure import Figure

    try:
        from decorr_af.plot.style import use_style

        use_style()
    except ImportError:  # pragma: no cover
        pass
    fig = Figure(figsize=(7, 5.2))
    ax = fig.add_subplot()
    try:
        draw(ax)
    except (ValueError, KeyError) as err:  # e.g. a metric missing from old results
        print(f"report: skipped plot {name}: {err}")
        return None
    fig_dir.mkdir(parents=True, exist_ok=True)
    path = fig_dir / f"{name}.png"
    _save_png(fig, path)
    return path


def _save_png(fig: Any, path: Path) -> None:
    """Save a report figure; a picture problem (overlapping text, ...) is reported, not hidden."""
    from decorr_af.plot.check import check_figure

    check = check_figure(fig)
    for problem in check.problems:
        print(f"report: figure {path.name}: {problem.kind}: {problem.message}")
    fig.savefig(path, dpi=90, bbox_inches="tight")


def _plots(res: ScanResult, fig_dir: Path) -> list[tuple[Path, str]]:
    from decorr_af.plot.scan import metric_vs_param, pareto_plot

    out: list[tuple[Path, str]] = []
    planes = [tuple(p) for p in res.info.get("pareto", []) if all(m in res.metrics for m in p)]
    if not planes and len(res.metrics) >= 2:
        planes = [(res.metrics[0], res.metrics[1])]
    maximize = tuple(bool(m) for m in res.info.get("pareto_maximize", (True, True)))
    annotate = "strength" if "strength" in res.params else (res.params[0] if res.params else None)
    for i, (x, y) in enumerate(planes):

        def draw(ax: Any, x: str = x, y: str = y) -> None:
            pareto_plot(res, x, y, maximize=maximize, annotate=annotate, ax=ax)

        path = _figure(fig_dir, f"pareto_{i}", draw)
        if path is not None:
            goal = " / ".join("higher is better" if m else "lower is better" for m in maximize)
            out.append(
                (path, f"Pareto plane {_label(x)} vs {_label(y)} ({goal}; mean ± std over seeds)")
            )
    if "strength" in res.params:
        metrics = list(dict.fromkeys(m for plane in planes for m in plane))
        if not metrics:  # no Pareto planes: the primary model's metrics
            primary = res.info.get("primary_model")
            tidy = res.metrics_table()
            names = tidy.loc[tidy["model"] == primary, "metric"] if primary else []
            metrics = [res.column(primary, n) for n in dict.fromkeys(names)]
        for i, m in enumerate(list(dict.fromkeys(metrics))[:MAX_METRIC_PLOTS]):
            path = _figure(fig_dir, f"metric_{i}", lambda ax, m=m: metric_vs_param(res, m, ax=ax))
            if path is not None:
                out.append((path, f"{_label(m)} versus λ (band: std over seeds)"))
    return out


def _figures_html(figs: list[tuple[Path, str]], base: Path) -> str:
    items = [
        f"<figure><img src='{html.escape(os.path.relpath(p, base))}' alt='{html.escape(c)}'>"
        f"<figcaption>{html.escape(c)}</figcaption></figure>"
        for p, c in figs
    ]
    return "<div class='figs'>" + "".join(items) + "</div>" if items else ""


def _workflow_figures(scan_dir: Path) -> list[tuple[Path, str]]:
    fig_dir = scan_dir / "figures"
    captions: dict[str, str] = {}
    if (fig_dir / "figures.json").exists():
        try:
            captions = json.loads((fig_dir / "figures.json").read_text())
        except ValueError:
            captions = {}
    return [
        (p, captions.get(p.name, p.stem.replace("_", " "))) for p in sorted(fig_dir.glob("*.png"))
    ]


def _scan_section(res: ScanResult, base: Path) -> str:
    import yaml

    info = res.info
    last = info.get("last_run", {})
    seeds = sorted({int(p["seed"]) for p in res.points})
    n_param = len({json.dumps(p["params"], sort_keys=True) for p in res.points})
    rows = [
        ("workflow", res.workflow),
        ("directory", str(res.directory)),
        ("scanned parameters", ", ".join(res.params) or "(none)"),
        ("points", f"{n_param} parameter points × {len(seeds)} seeds = {len(res.points)} runs"),
        ("seeds", ", ".join(map(str, seeds))),
        ("finished", f"{len(res.table)} of {len(res.points)}"),
        ("cluster", f"{info.get('cluster', '?')} ({last.get('workers', '?')} workers)"),
        ("last run", f"{last.get('computed', 0)} computed, {last.get('reused', 0)} reused, "
                     f"wall time {last.get('wall_s', math.nan):.1f} s"),
        ("time per point", _time_per_point(res)),
    ]  # fmt: skip
    if last.get("failed"):
        rows.append(("failed", "; ".join(f"{f['id']}: {f['error']}" for f in last["failed"])))
    meta = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    config = html.escape(yaml.safe_dump(res.config, sort_keys=False))
    plots = _plots(res, base / "report_files" / res.directory.name)
    extra = _workflow_figures(res.directory)
    out = [
        f"<h2 id='{html.escape(res.workflow)}'>{html.escape(res.workflow)}</h2>",
        f"<table>{meta}</table>",
        f"<details><summary>base configuration</summary><pre>{config}</pre></details>",
        "<h3>Metrics per point (mean ± std over seeds)</h3>",
        _summary_table(res, key_metrics(res)),
        "<details><summary>all metrics</summary>",
        _summary_table(res, list(res.metrics)),
        "</details>",
    ]
    if plots:
        out += ["<h3>Pareto fronts and metrics versus λ</h3>", _figures_html(plots, base)]
    if extra:
        out += ["<h3>Workflow plots</h3>", _figures_html(extra, base)]
    return "\n".join(out)


def _last_run_runtimes(res: ScanResult) -> list[float]:
    """Worker run times of the points written by the last run (result.json not older than it)."""
    started = float(res.info.get("last_run", {}).get("started", math.inf))
    out = []
    for pid, runtime in zip(res.timings["id"], res.timings["runtime_s"].astype(float)):
        path = Path(res.directory) / "points" / str(pid) / "result.json"
        try:
            written = path.stat().st_mtime
        except OSError:
            continue
        if written >= started - 1.0 and math.isfinite(runtime):
            out.append(runtime)
    return out


def _time_per_point(res: ScanResult) -> str:
    """Wall time per computed point of the last run, and the workers' own run times.

    The two agree only when the points ran one at a time per worker slot; when the
    workers' run times add up to more than the wall time allows, the page says so
    instead of printing two numbers that contradict each other.

    Examples
    --------
    >>> _time_per_point(load_scan("demo-output/scans/photon_id"))  # doctest: +SKIP
    '2.9 s wall per point (3 points in 8.7 s on 1 worker); ...'
    """
    last = res.info.get("last_run", {})
    computed, wall = int(last.get("computed", 0) or 0), float(last.get("wall_s", math.nan))
    workers = last.get("workers")
    runtimes = _last_run_runtimes(res)
    parts = []
    if computed > 0 and math.isfinite(wall):
        on = f" on {workers} worker{'s' if workers != 1 else ''}" if workers else ""
        parts.append(
            f"{wall / computed:.1f} s wall per point ({computed} points in {wall:.1f} s{on})"
        )
    if runtimes:
        total = sum(runtimes)
        parts.append(
            f"worker run time per point {total / len(runtimes):.1f} s "
            f"(min {min(runtimes):.1f}, max {max(runtimes):.1f})"
        )
        slots = int(workers) if isinstance(workers, int) and workers > 0 else 1
        if math.isfinite(wall) and total > 1.1 * wall * slots:
            parts.append(
                f"points overlapped: Σ worker time {total:.1f} s > {wall:.1f} s wall × {slots} "
                "worker(s), so each point's run time includes waiting for a shared CPU"
            )
    if not parts:
        runtime = res.timings["runtime_s"].astype(float)
        runtime = runtime[runtime.notna()]
        if len(runtime) == 0:
            return "–"
        return f"worker run time per point {runtime.mean():.1f} s (earlier runs)"
    return "; ".join(parts)


def _story_order(results: list[ScanResult]) -> list[ScanResult]:
    """Scans in the story's workflow order (photon ID first), others after by name."""
    rank = {name: i for i, name in enumerate(WORKFLOW_ORDER)}
    return sorted(results, key=lambda r: (rank.get(r.workflow, len(rank)), r.workflow))


def write_report(directory: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """Write ``directory/report.html`` for a scan directory or a demo directory.

    Parameters
    ----------
    directory
        A scan directory (with ``scan.json``) or a directory of scans
        (``scans/<name>/scan.json``, e.g. ``demo-output``).
    title
        Page title (default from ``demo.json`` or the workflow name).

    Returns
    -------
    Path
        The written HTML file; its PNG plots are in ``report_files/``.

    Examples
    --------
    >>> write_report("demo-output")  # doctest: +SKIP
    PosixPath('demo-output/report.html')
    """
    directory = Path(directory)
    scans = find_scans(directory)
    if not scans:
        raise InputFileError(f"{directory}: no scan.json found (not a scan or demo directory)")
    demo: dict[str, Any] = {}
    if (directory / "demo.json").exists():
        try:
            demo = json.loads((directory / "demo.json").read_text())
        except ValueError as err:
            raise InputFileError(f"{directory / 'demo.json'}: corrupt JSON ({err})") from err
    results = _story_order([load_scan(s) for s in scans])
    title = title or demo.get("title") or f"decorr_af scan: {results[0].workflow}"
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<p>Generated {stamp}. Sections: "
        + ", ".join(
            f"<a href='#{html.escape(r.workflow)}'>{html.escape(r.workflow)}</a>" for r in results
        )
        + "</p>",
    ]
    if demo:
        parts.append(_demo_section(demo))
    parts += [_scan_section(r, directory) for r in results]
    parts.append("</body></html>")
    path = directory / REPORT_FILE
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text("\n".join(parts), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _demo_section(demo: dict[str, Any]) -> str:
    rows = [("command", demo.get("command", "")), ("cluster", demo.get("cluster", ""))]
    for item in demo.get("data", []):
        rows.append((f"data: {item.get('name')}", f"{item.get('events')} events, "
                     f"{item.get('files')} files, mismodelling {item.get('mismodelling', 0)}"))  # fmt: skip
    for name, sec in demo.get("timings", {}).items():
        rows.append((f"time: {name}", f"{sec:.1f} s"))
    body = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<h2>What was run</h2><p>{html.escape(demo.get('description', ''))}</p><table>{body}</table>"

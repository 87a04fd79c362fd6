"""``decorr-af scan CONFIG.yaml``: run a λ / hyper-parameter scan described in YAML.

The YAML file has four sections::

    workflow: photon_id            # or a module path ("mypkg.my_workflow")
    config: {...}                  # the workflow config (or a path to its YAML)
    scan:
      strengths: [0, 1, 10]        # or grid: {...} / points: [{...}, ...]
      seeds: [0, 1, 2]
      retries: 2
      overwrite: false             # the same as --overwrite
      progress: true               # false: the same as --no-progress
      report: true                 # false: the same as --no-report
      performance_report: false    # the same as --performance-report
    cluster: local                 # or tcp://…, {kind: htcondor, cores: 4, ...}
    out: scan-photon-id            # optional (--out wins)

Command-line flags win over the YAML. Every point is checked (λ, config,
input files) before the cluster starts.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

from decorr_af.errors import ConfigError, InputFileError

__all__ = ["add_parser", "load_scan_config", "run"]

_SCAN_FLAGS = {"overwrite": False, "progress": True, "report": True, "performance_report": False}
_SCAN_KEYS = {"strengths", "seeds", "grid", "points", "retries", *_SCAN_FLAGS}
_TOP_KEYS = {"workflow", "config", "scan", "cluster", "out"}


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Register the arguments of ``decorr-af scan``."""
    parser.add_argument("config", type=Path, help="scan YAML (workflow, config, scan, cluster)")
    parser.add_argument("--out", type=Path, default=None, help="scan directory")
    parser.add_argument("--cluster", default=None, help="cluster spec (overrides the YAML)")
    parser.add_argument("--overwrite", action="store_true", help="discard an incompatible scan")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-report", action="store_true", help="do not write report.html")
    parser.add_argument(
        "--performance-report", action="store_true", help="write out/dask-report.html"
    )


def _workflow(name: Any, path: Path) -> ModuleType:
    from decorr_af.workflows import WORKFLOWS, get_workflow

    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path}: 'workflow' must name a workflow ({', '.join(WORKFLOWS)})")
    if name in WORKFLOWS:
        return get_workflow(name)
    try:
        module = importlib.import_module(name)
    except ImportError as err:
        raise ConfigError(
            f"{path}: unknown workflow '{name}' (choose from {', '.join(WORKFLOWS)} "
            f"or give an importable module; {err})"
        ) from err
    if not hasattr(module, "Config") or not hasattr(module, "run"):
        raise ConfigError(f"{path}: module '{name}' has no Config and run (not a workflow)")
    return module


def load_scan_config(path: str | Path) -> dict[str, Any]:
    """Read and check a scan YAML; return ``workflow`` (module), ``config``, ``scan``, ``cluster``, ``out``.

    Examples
    --------
    >>> spec = load_scan_config("examples/scan_photon_id.yaml")  # doctest: +SKIP
    """
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as err:
        raise InputFileError(f"scan config {path} does not exist") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"scan config {path} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"scan config {path} must hold a mapping")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(
            f"{path}: unknown section(s) {sorted(unknown)} (allowed: {sorted(_TOP_KEYS)})"
        )
    wf = _workflow(data.get("workflow"), path)
    config = data.get("config") or {}
    if isinstance(config, str):
        config = wf.Config.from_yaml(path.parent / config)
    elif isinstance(config, dict):
        config = wf.Config.from_dict(config)
    else:
        raise ConfigError(f"{path}: 'config' must be a mapping or a YAML path")
    scan = data.get("scan") or {}
    if not isinstance(scan, dict):
        raise ConfigError(f"{path}: 'scan' must be a mapping")
    bad = set(scan) - _SCAN_KEYS
    if bad:
        raise ConfigError(
            f"{path}: unknown scan option(s) {sorted(bad)} (allowed: {sorted(_SCAN_KEYS)})"
        )
    for key in _SCAN_FLAGS:
        if key in scan and not isinstance(scan[key], bool):
            raise ConfigError(f"{path}: scan.{key} must be true or false, got {scan[key]!r}")
    retries = scan.get("retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigError(f"{path}: scan.retries must be an integer >= 0, got {retries!r}")
    out = data.get("out")
    if out is not None and not isinstance(out, str):
        raise ConfigError(f"{path}: 'out' must be a directory path, got {out!r}")
    return {
        "workflow": wf,
        "config": config,
        "scan": scan,
        "cluster": data.get("cluster"),
        "out": data.get("out"),
    }


def run(args: argparse.Namespace) -> int:
    """Run the scan, print the seed-averaged table and where the report is."""
    from decorr_af.report import write_report
    from decorr_af.scan import scan
    from decorr_af.scan.engine import workflow_name

    spec = load_scan_config(args.config)
    out = args.out or Path(spec["out"] or f"scan-{workflow_name(spec['workflow'])}")
    cluster = args.cluster or spec["cluster"]
    s = spec["scan"]
    flags = {k: s.get(k, default) for k, default in _SCAN_FLAGS.items()}
    result = scan(
        spec["workflow"],
        spec["config"],
        strengths=s.get("strengths"),
        seeds=s.get("seeds", (0,)),
        grid=s.get("grid"),
        points=s.get("points"),
        cluster=cluster,
        out=out,
        retries=int(s.get("retries", 2)),
        progress=flags["progress"] and not args.no_progress,
        performance_report=flags["performance_report"] or args.performance_report,
        overwrite=flags["overwrite"] or args.overwrite,
    )
    print_summary(result.summary())
    print(f"scan results: {out}")
    if flags["report"] and not args.no_report:
        print(f"report: {write_report(out)}")
    return 0


def print_summary(summary: Any) -> None:
    """Print the seed-averaged table; ``_std`` columns only where some point has >= 2 seeds."""
    import pandas as pd

    empty_std = [c for c in summary.columns if c.endswith("_std") and summary[c].isna().all()]
    with pd.option_context("display.width", 160, "display.max_columns", 12):
        print(summary.drop(columns=empty_std).to_string(index=False))

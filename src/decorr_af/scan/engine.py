"""Distributed λ / hyper-parameter scans on Dask, with progress and resume.

:func:`scan` submits one Dask task per (parameters, seed) point. Each task runs
the workflow (which reads its input files itself, on the worker) and writes its
:class:`~decorr_af.workflows.base.RunResult` atomically to
``out/points/<id>/`` as soon as it finishes. ``out/scan.json`` is written
before anything runs. Re-running the same scan skips points whose result loads
fine and recomputes missing, partial or corrupt ones.

Point ids are ``"p"`` + 8 hex digits of a hash of ``(params, seed)``, so they do
not change when points are added to a scan.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import socket
import time
import traceback
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from decorr_af.errors import ConfigError, DecorrAFError, InputFileError
from decorr_af.scan.results import POINTS_DIR, SCAN_FILE, ScanResult, load_scan, read_scan_json

__all__ = ["ScanError", "expand_points", "point_id", "scan"]

FORMAT_VERSION = 1


class ScanError(DecorrAFError, RuntimeError):
    """Some scan points failed (after retries); the others are saved."""


# -- point definitions ---------------------------------------------------------
def _plain(value: Any) -> Any:
    import numpy as np

    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def point_id(params: Mapping[str, Any], seed: int) -> str:
    """Stable id of a scan point: ``"p"`` + 8 hex digits of a hash of (params, seed).

    Examples
    --------
    >>> point_id({"strength": 1.0}, 0) == point_id({"strength": 1.0}, 0)
    True
    """
    text = json.dumps({"params": _plain(params), "seed": int(seed)}, sort_keys=True)
    return "p" + hashlib.sha256(text.encode()).hexdigest()[:8]


def _lookup(config: dict[str, Any], key: str) -> Any:
    head, _, rest = key.partition(".")
    value = config[head]
    return value.get(rest) if rest and isinstance(value, dict) else value


def expand_points(
    config: Any,
    *,
    strengths: Iterable[float] | None = None,
    seeds: Iterable[int] = (0,),
    grid: Mapping[str, Sequence[Any]] | None = None,
    points: Sequence[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """List the scan points ``{"id", "params", "seed"}`` (validated against ``config``).

    ``strengths`` is a shortcut for ``grid={"strength": strengths}``; ``grid``
    is expanded as a cartesian product (in key order); ``points`` lists explicit
    parameter sets. Each is combined with every seed. Parameter values are
    normalised through the config's types (``1`` becomes ``1.0`` for a float
    field), so equal points get equal ids.

    Examples
    --------
    >>> pts = expand_points(cfg, grid={"strength": [0, 1], "lr": [1e-3]}, seeds=[0, 1])  # doctest: +SKIP
    >>> len(pts)  # doctest: +SKIP
    4
    """
    if grid is not None and points is not None:
        raise ConfigError("scan: give either 'grid' or 'points', not both")
    grid = dict(grid or {})
    if strengths is not None:
        if "strength" in grid or points is not None:
            raise ConfigError("scan: 'strengths' given together with a strength grid or points")
        grid["strength"] = list(strengths)
    if points is None:
        for key, values in grid.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
                raise ConfigError(f"scan grid '{key}' must be a list of values, got {values!r}")
            if len(values) == 0:
                raise ConfigError(f"scan grid '{key}' is empty")
        keys = list(grid)
        param_sets = [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())]
    else:
        param_sets = []
        for i, p in enumerate(points):
            if not isinstance(p, Mapping):
                raise ConfigError(f"scan points[{i}] must be a mapping, got {p!r}")
            param_sets.append(dict(p))
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ConfigError("scan: 'seeds' is empty")
    out, seen = [], {}
    for params in param_sets:
        normal = _normalise(config, params)
        for seed in seeds:
            pid = point_id(normal, seed)
            if pid in seen:
                raise ConfigError(f"scan: duplicate point {normal} seed {seed}")
            seen[pid] = True
            out.append({"id": pid, "params": normal, "seed": seed})
    return out


def _normalise(config: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    changes = {k: v for k, v in params.items() if k != "strength"}
    cfg = config.replace(**changes) if changes else config  # raises ConfigError naming a key
    plain = cfg.to_dict()
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key == "strength":
            if value is None:
                out[key] = None
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"scan: strength must be a number, got {value!r}")
            out[key] = float(value)
        else:
            out[key] = _plain(_lookup(plain, key))
    return out


def _point_config(config: Any, params: Mapping[str, Any]) -> tuple[Any, float | None]:
    changes = {k: v for k, v in params.items() if k != "strength"}
    return (config.replace(**changes) if changes else config), params.get("strength")


# -- the task that runs on a worker --------------------------------------------
def _run_point(
    payload: bytes,
    strength: float | None,
    seed: int,
    point: dict[str, Any],
    directory: str | None,
) -> Any:
    """Run one point; save it to ``directory`` (on the worker) or return the result.

    ``payload`` is ``cloudpickle.dumps((run, config))``: cloudpickle (unlike the
    plain pickle Dask tries first) honours ``register_pickle_by_value``, so
    workflows defined in notebooks or shipped by value reach the workers.
    """
    import cloudpickle

    t0 = time.perf_counter()
    run, config = cloudpickle.loads(payload)
    result = run(config, strength=strength, seed=seed)
    worker = None
    with contextlib.suppress(ImportError, ValueError):
        from distributed import get_worker

        worker = get_worker().address
    result.info = {
        **dict(result.info or {}),
        "scan": {
            "id": point["id"],
            "params": point["params"],
            "runtime_s": time.perf_counter() - t0,
            "worker": worker,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        },
    }
    if directory is None:
        return result
    result.save(directory)
    return {"id": point["id"], "metrics": dict(result.metrics)}


# -- scan directory bookkeeping ------------------------------------------------
def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def _finished(directory: Path, point: dict[str, Any]) -> bool:
    """Whether ``directory`` holds a complete result of ``point`` (loads fine)."""
    from decorr_af.workflows.base import RunResult

    if not directory.exists():
        return False
    try:
        res = RunResult.load(directory)
    except InputFileError:
        return False
    return int(res.seed) == int(point["seed"])


def _prepare(
    out: Path, header: dict[str, Any], points: list[dict[str, Any]], overwrite: bool
) -> list[dict[str, Any]]:
    """Write ``scan.json`` (merging with an existing compatible one); return all points."""
    out.mkdir(parents=True, exist_ok=True)
    (out / POINTS_DIR).mkdir(exist_ok=True)
    all_points = list(points)
    if (out / SCAN_FILE).exists():
        try:
            old = read_scan_json(out)
        except InputFileError:
            old = None
        if old is not None and not overwrite:
            for key in ("workflow", "config"):
                if old.get(key) != header[key]:
                    raise ConfigError(
                        f"{out / SCAN_FILE}: existing scan has a different {key} "
                        f"({_diff(old.get(key), header[key])}); use another 'out' "
                        "directory or overwrite=True"
                    )
            ids = {p["id"] for p in points}
            all_points = [p for p in old["points"] if p["id"] not in ids] + list(points)
        elif overwrite:
            shutil.rmtree(out / POINTS_DIR)
            (out / POINTS_DIR).mkdir()
    for stale in (out / POINTS_DIR).glob(".*.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    _write_json(out / SCAN_FILE, {**header, "points": all_points})
    return all_points


def _diff(old: Any, new: Any) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        return ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys[:5])
    return f"{old!r} -> {new!r}"


def _workflow_name(wf: ModuleType) -> str:
    prefix = "decorr_af.workflows."
    return wf.__name__[len(prefix) :] if wf.__name__.startswith(prefix) else wf.__name__


def _progress_bar(total: int, initial: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="point", dynamic_ncols=True)


# -- the scan ------------------------------------------------------------------
def scan(
    workflow: str | ModuleType,
    config: Any = None,
    *,
    strengths: Iterable[float] | None = None,
    seeds: Iterable[int] = (0,),
    grid: Mapping[str, Sequence[Any]] | None = None,
    points: Sequence[Mapping[str, Any]] | None = None,
    client: Any = None,
    cluster: Any = "local",
    out: str | os.PathLike[str],
    retries: int = 2,
    progress: bool = True,
    performance_report: bool = False,
    overwrite: bool = False,
    save_on_worker: bool = True,
) -> ScanResult:
    """Run a workflow over parameter points and seeds on a Dask cluster.

    Parameters
    ----------
    workflow
        Workflow name (``"photon_id"``) or module with ``Config`` and ``run``.
    config
        Base config (a ``Config``, a mapping, or ``None`` for the defaults).
    strengths, grid, points
        What to scan, see :func:`expand_points`; ``strength`` goes to
        ``run(..., strength=...)``, every other key to ``config.replace``.
    seeds
        Seeds run for every parameter point.
    client, cluster
        An existing ``distributed.Client``, else a cluster spec started (and
        stopped) for this scan (see :mod:`decorr_af.scan.clusters`).
    out
        Scan directory (must be reachable from the workers when
        ``save_on_worker``; otherwise the client saves the results).
    retries
        Times a failing point is retried; a worker that dies costs only its
        running points, which the scheduler reruns elsewhere.
    progress
        Show a progress bar (``tqdm.auto``: a widget in notebooks).
    performance_report
        Write Dask's ``out/dask-report.html``.
    overwrite
        Discard an existing scan in ``out`` whose workflow or base config differ.

    Returns
    -------
    ScanResult
        :func:`~decorr_af.scan.load_scan` of ``out``.

    Raises
    ------
    ScanError
        After all other points finished, if some points failed after retries.

    Examples
    --------
    >>> res = scan("photon_id", strengths=[0, 1, 10], seeds=[0, 1], out="scan-out")  # doctest: +SKIP
    >>> res.summary()  # doctest: +SKIP
    """
    from decorr_af.workflows import get_workflow

    wf = get_workflow(workflow)
    if config is None:
        config = wf.Config()
    elif isinstance(config, Mapping):
        config = wf.Config.from_dict(config)
    elif not isinstance(config, wf.Config):
        raise ConfigError(f"scan: config must be a {wf.__name__}.Config or a mapping")
    if int(retries) < 0:
        raise ConfigError(f"scan: retries must be >= 0, got {retries}")
    out = Path(out)
    definition = expand_points(config, strengths=strengths, seeds=seeds, grid=grid, points=points)
    header = {
        "format": FORMAT_VERSION,
        "workflow": _workflow_name(wf),
        "workflow_module": wf.__name__,
        "config": config.to_dict(),
        "primary_model": getattr(wf, "PRIMARY_MODEL", None),
        "pareto": [list(p) for p in getattr(wf, "DEFAULT_PARETO", [])],
        "pareto_maximize": list(getattr(wf, "PARETO_MAXIMIZE", (True, True))),
    }
    all_points = _prepare(out, header, definition, overwrite)
    todo = [p for p in definition if not _finished(out / POINTS_DIR / p["id"], p)]

    owned = None
    if client is None:
        from decorr_af.scan.clusters import cluster as _cluster

        owned = _cluster(cluster)
        client = owned.__enter__()
    else:
        from decorr_af.scan.clusters import ensure_package

        ensure_package(client)
    started = time.time()
    n_workers = len(client.scheduler_info().get("workers", {}))
    failures: list[tuple[dict[str, Any], BaseException]] = []
    try:
        report_cm: Any = None
        if performance_report:
            from distributed import performance_report as _perf

            report_cm = _perf(filename=str(out / "dask-report.html"))
            report_cm.__enter__()
        try:
            failures = _submit(client, wf, config, out, todo, definition, retries=int(retries),
                               progress=progress, save_on_worker=save_on_worker)  # fmt: skip
        finally:
            if report_cm is not None:
                try:
                    report_cm.__exit__(None, None, None)
                except Exception as err:  # the report is optional, results are saved
                    warnings.warn(f"could not write {out / 'dask-report.html'}: {err!r}",
                                  RuntimeWarning, stacklevel=2)  # fmt: skip
    finally:
        if owned is not None:
            owned.__exit__(None, None, None)
    header["cluster"] = str(cluster) if owned is not None else "client"
    header["last_run"] = {
        "started": started,
        "wall_s": time.time() - started,
        "computed": len(todo) - len(failures),
        "reused": len(definition) - len(todo),
        "failed": [
            {"id": p["id"], "error": "".join(traceback.format_exception_only(err)).strip()}
            for p, err in failures
        ],
        "workers": n_workers,
    }
    _write_json(out / SCAN_FILE, {**header, "points": all_points})
    if failures:
        point, err = failures[0]
        raise ScanError(
            f"{len(failures)} of {len(definition)} scan points failed, e.g. {point['id']} "
            f"(params {point['params']}, seed {point['seed']}): {type(err).__name__}: {err}. "
            f"The other points are saved in {out}; re-run the scan to retry."
        ) from err
    return load_scan(out)


def _submit(
    client: Any,
    wf: ModuleType,
    config: Any,
    out: Path,
    todo: list[dict[str, Any]],
    definition: list[dict[str, Any]],
    *,
    retries: int,
    progress: bool,
    save_on_worker: bool,
) -> list[tuple[dict[str, Any], BaseException]]:
    import cloudpickle
    from distributed import as_completed

    tag = uuid.uuid4().hex[:6]
    futures = {}
    for p in todo:
        cfg, strength = _point_config(config, p["params"])
        directory = str((out / POINTS_DIR / p["id"]).resolve()) if save_on_worker else None
        fut = client.submit(
            _run_point, cloudpickle.dumps((wf.run, cfg)), strength, p["seed"], p, directory,
            key=f"decorr-af-{p['id']}-{tag}", retries=retries, pure=False,
        )  # fmt: skip
        futures[fut] = p
    bar = _progress_bar(len(definition), len(definition) - len(todo), _workflow_name(wf), progress)
    failures = []
    try:
        for fut in as_completed(list(futures)):
            point = futures[fut]
            if fut.status == "error":
                failures.append((point, fut.exception()))
            else:
                value = fut.result()
                if not save_on_worker:
                    value.save(out / POINTS_DIR / point["id"])
            if bar is not None:
                bar.update(1)
                if failures:
                    bar.set_postfix(failed=len(failures))
            fut.release()
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        if bar is not None:
            bar.close()
    return failures

"""Distributed λ / hyper-parameter scans on Dask, with progress and resume.

:func:`scan` submits one Dask task per (parameters, seed) point. Each task runs
the workflow (which reads its input files itself, on the worker) and writes its
:class:`~decorr_af.workflows.base.RunResult` atomically to
``out/points/<id>/`` as soon as it finishes. ``out/scan.json`` is written
before anything runs.

Integrity rules:

* every point is validated in the client before anything is submitted (λ
  finite and >= 0, the config, every input glob and file);
* one writer per scan directory (:func:`~decorr_af.scan.lock.scan_lock`); the
  index is merged under the lock;
* a point id is ``"p"`` + 8 hex digits of a hash of ``(params, seed)`` and of
  the point's full config, its input files (resolved path, size, mtime) and the
  package version: points of another config or of changed inputs can never be
  reused; a changed input recomputes the scan and says why;
* a reused point must match its manifest (sizes + sha256), otherwise it is
  recomputed with one line ``point p0003 is incomplete (arrays.npz): recomputing``;
* configuration and input errors (:data:`~decorr_af.errors.DETERMINISTIC`) are
  not retried; nested Dask computations of a point run in its own thread, so a
  worker with ``threads=1`` runs one point at a time;
* an error while shutting the cluster down is one warning: the points are saved.

λ is a plain config field: a point's config is ``config.replace(**params)`` for
every key, ``strength`` included (:func:`point_config`), and the task calls
``run(config, seed=...)``, so each saved ``RunResult.config`` is what was trained.
A workflow whose ``Config`` has no ``strength`` field (one written before λ was
a field) still gets ``run(config, strength=λ, seed=...)``.  The point id hashes
``params`` (λ included) with the config *without* the scanned λ, so the ids of
scans written before stay the same and their points are reused.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import shutil
import socket
import sys
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from decorr_af import errors as _errors
from decorr_af._version import __version__
from decorr_af.errors import ConfigError, DecorrAFError, InputFileError
from decorr_af.scan.lock import scan_lock
from decorr_af.scan.results import POINTS_DIR, SCAN_FILE, ScanResult, load_scan, read_scan_json

__all__ = ["ScanError", "expand_points", "point_config", "point_id", "scan", "workflow_name"]

FORMAT_VERSION = 2


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


def point_id(params: Mapping[str, Any], seed: int, context: str = "") -> str:
    """Stable id of a scan point: ``"p"`` + 8 hex digits of a hash of (params, seed, context).

    ``context`` is the point's run fingerprint (:func:`run_fingerprint`: full
    config, input files, package version); :func:`expand_points` always sets it.

    Examples
    --------
    >>> point_id({"strength": 1.0}, 0) == point_id({"strength": 1.0}, 0)
    True
    >>> point_id({"strength": 1.0}, 0, "a") == point_id({"strength": 1.0}, 0, "b")
    False
    """
    data: dict[str, Any] = {"params": _plain(params), "seed": int(seed)}
    if context:
        data["context"] = str(context)
    text = json.dumps(data, sort_keys=True)
    return "p" + hashlib.sha256(text.encode()).hexdigest()[:8]


def run_fingerprint(config: Any) -> str:
    """Hash of what a run depends on besides λ and seed: config, inputs, version.

    Resolving the inputs checks them (globs match, files readable; errors name
    the config key), see :func:`decorr_af.workflows.inputs.input_fingerprint`.

    Examples
    --------
    >>> run_fingerprint(cfg) == run_fingerprint(cfg)  # doctest: +SKIP
    True
    """
    from decorr_af.workflows.inputs import input_fingerprint

    data = {
        "config": _plain(config.to_dict()),
        "inputs": input_fingerprint(config),
        "decorr_af": __version__,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


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
    """List the scan points ``{"id", "params", "seed"}``, each validated.

    ``strengths`` is a shortcut for ``grid={"strength": strengths}``; ``grid``
    is expanded as a cartesian product (in key order); ``points`` lists explicit
    parameter sets. Each is combined with every seed. Parameter values are
    normalised through the config's types (``1`` becomes ``1.0`` for a float
    field), so equal points get equal ids.

    Every point is checked here, in the client, before anything runs: λ must be
    finite and >= 0, the point's config must validate (layer sizes > 0, ...),
    and its input globs must match readable files. The id depends on the
    point's full config and input files (:func:`run_fingerprint`).

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
        if isinstance(strengths, (str, bytes)) or not isinstance(strengths, Iterable):
            raise ConfigError(f"scan 'strengths' must be a list of numbers, got {strengths!r}")
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
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise ConfigError(f"scan 'seeds' must be a list of integers, got {seeds!r}")
    seeds = [_seed(s) for s in seeds]
    if not seeds:
        raise ConfigError("scan: 'seeds' is empty")
    out, seen = [], {}
    fingerprints: dict[str, str] = {}
    for params in param_sets:
        cfg, normal = _normalise(config, params)
        key = json.dumps(_plain(cfg.to_dict()), sort_keys=True, default=str)
        if key not in fingerprints:
            fingerprints[key] = run_fingerprint(cfg)
        for seed in seeds:
            pid = point_id(normal, seed, fingerprints[key])
            if pid in seen:
                raise ConfigError(f"scan: duplicate point {normal} seed {seed}")
            seen[pid] = True
            out.append({"id": pid, "params": normal, "seed": seed})
    return out


def _seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ConfigError(f"scan seeds must be integers, got {value!r}")
    if int(value) < 0:
        raise ConfigError(f"scan seeds must be >= 0, got {value!r}")
    return int(value)


def _normalise(config: Any, params: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """(config to fingerprint: the point's without its λ, normalised params)."""
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
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"scan: strength (λ) must be finite and >= 0, got {value!r}")
            out[key] = float(value)
        else:
            out[key] = _plain(_lookup(plain, key))
    point_config(cfg, {k: v for k, v in out.items() if k == "strength"})  # validates λ
    return cfg, out


def _has_strength(config: Any) -> bool:
    import dataclasses

    return dataclasses.is_dataclass(config) and any(
        f.name == "strength" for f in dataclasses.fields(config)
    )


def point_config(config: Any, params: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The config of a scan point and the extra keywords of its ``run`` call.

    Every parameter, ``strength`` included, goes through ``config.replace``; the
    keywords are empty unless the config has no ``strength`` field (an older
    custom workflow: then ``{"strength": λ}``). A ``strength`` of None keeps the
    config's own λ.

    Examples
    --------
    >>> from decorr_af.workflows import calibration
    >>> cfg, kw = point_config(calibration.Config(), {"strength": 3.0, "max_events": 10})
    >>> cfg.strength, cfg.max_events, kw
    (3.0, 10, {})
    """
    changes = {k: v for k, v in params.items() if not (k == "strength" and v is None)}
    if "strength" in changes and not _has_strength(config):
        legacy = {"strength": changes.pop("strength")}
        return (config.replace(**changes) if changes else config), legacy
    return (config.replace(**changes) if changes else config), {}


# -- the task that runs on a worker --------------------------------------------
def _run_point(
    payload: bytes,
    seed: int,
    point: dict[str, Any],
    directory: str | None,
) -> Any:
    """Run one point; save it to ``directory`` (on the worker) or return the result.

    ``payload`` is ``cloudpickle.dumps((run, config, kwargs))`` (``kwargs``: see
    :func:`point_config`): cloudpickle (unlike the plain pickle Dask tries first)
    honours ``register_pickle_by_value``, so workflows defined in notebooks or
    shipped by value reach the workers.
    """
    import cloudpickle

    t0 = time.perf_counter()
    run, config, kwargs = cloudpickle.loads(payload)
    try:
        result = _run_in_this_thread(run, config, seed, **kwargs)
    except _errors.DETERMINISTIC as err:  # a retry cannot fix these: report, do not raise
        return {"id": point["id"], "error": type(err).__name__, "message": str(err)}
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


def _run_in_this_thread(run: Callable[..., Any], config: Any, seed: int, **kwargs: Any) -> Any:
    """Run a point with nested Dask computations on the synchronous scheduler.

    Otherwise a ``dask.compute`` inside the task goes through the worker's
    client and secedes from the thread pool, and a ``threads=1`` worker starts
    a second point meanwhile.
    """
    try:
        import dask
    except ImportError:  # pragma: no cover - the scan runs on Dask
        return run(config, seed=seed, **kwargs)
    with dask.config.set(scheduler="synchronous"):
        return run(config, seed=seed, **kwargs)


def _rebuild_error(value: Mapping[str, Any]) -> DecorrAFError:
    cls = getattr(_errors, str(value.get("error")), None)
    if not (isinstance(cls, type) and issubclass(cls, DecorrAFError)):
        cls = DecorrAFError
    try:
        return cls(str(value.get("message")))
    except TypeError:  # pragma: no cover - all package errors take a message
        return DecorrAFError(str(value.get("message")))


# -- scan directory bookkeeping ------------------------------------------------
def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _reusable(directory: Path, point: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether ``directory`` holds a complete result of ``point``; else why not.

    Returns ``(True, None)`` for a verified result, ``(False, None)`` when the
    point never ran and ``(False, "<file>")`` naming the missing or damaged file.
    """
    from decorr_af.errors import IncompleteResultError
    from decorr_af.workflows.base import RESULT_FILE, verify_result

    if not directory.exists():
        return False, None
    try:
        verify_result(directory)
        payload = json.loads((directory / RESULT_FILE).read_text())
    except IncompleteResultError as err:
        return False, err.member
    except (OSError, ValueError) as err:
        return False, f"{RESULT_FILE}: {err}"
    ran = payload.get("info", {}).get("scan", {}).get("id") if isinstance(payload, dict) else None
    if ran != point["id"] or int(payload.get("seed", -1)) != int(point["seed"]):
        return False, f"{RESULT_FILE} belongs to another point"
    return True, None


def _changes(old: Mapping[str, Any], header: Mapping[str, Any]) -> list[str]:
    """Why the points of an existing scan.json cannot be reused (empty: they can)."""
    if old.get("format") != header["format"]:
        return [f"scan directory format {old.get('format')} -> {header['format']}"]
    why = []
    if old.get("decorr_af_version") != header["decorr_af_version"]:
        why.append(f"decorr_af {old.get('decorr_af_version')} -> {header['decorr_af_version']}")
    before, now = old.get("inputs") or {}, header["inputs"]
    for key in sorted(set(before) | set(now)):
        a = {p: (size, mtime) for p, size, mtime in before.get(key, [])}
        b = {p: (size, mtime) for p, size, mtime in now.get(key, [])}
        changed = sorted(Path(p).name for p in set(a) & set(b) if a[p] != b[p])
        added = sorted(Path(p).name for p in set(b) - set(a))
        removed = sorted(Path(p).name for p in set(a) - set(b))
        for what, names in (("changed", changed), ("new", added), ("gone", removed)):
            if names:
                shown = ", ".join(names[:3]) + (f" (+{len(names) - 3})" if len(names) > 3 else "")
                why.append(f"{key}: {what} {shown}")
    return why


def _prepare(
    out: Path, header: dict[str, Any], points: list[dict[str, Any]], overwrite: bool
) -> list[dict[str, Any]]:
    """Write ``scan.json`` (merged with an existing compatible one); return all points.

    Called under the scan lock. Points of an earlier run with other inputs or
    another package version are dropped from the index and their directories
    removed (their ids can never come back).
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / POINTS_DIR).mkdir(exist_ok=True)
    all_points = list(points)
    if (out / SCAN_FILE).exists():
        try:
            old = read_scan_json(out)
        except InputFileError as err:
            _say(f"{err}: starting a new index")
            old = None
        if old is not None and not overwrite:
            for key in ("workflow", "config"):
                if old.get(key) != header[key]:
                    raise ConfigError(
                        f"{out / SCAN_FILE}: existing scan has a different {key} "
                        f"({_diff(old.get(key), header[key])}); use another output "
                        "directory or overwrite (--overwrite, overwrite=True)"
                    )
            why = _changes(old, header)
            if why:
                _say(f"scan {out}: inputs changed since the last run ({'; '.join(why)}): "
                     f"recomputing")  # fmt: skip
            else:
                ids = {p["id"] for p in points}
                all_points = [p for p in old["points"] if p["id"] not in ids] + list(points)
    keep = {p["id"] for p in all_points}
    for child in (out / POINTS_DIR).iterdir():
        if child.name not in keep:  # stale temporaries, points of other inputs/configs
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    _write_json(out / SCAN_FILE, {**header, "points": all_points})
    return all_points


def _diff(old: Any, new: Any) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        return ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys[:5])
    return f"{old!r} -> {new!r}"


def workflow_name(wf: ModuleType) -> str:
    """The short name of a workflow module (``"photon_id"``; a custom module's own name).

    Examples
    --------
    >>> from decorr_af.workflows import tth
    >>> workflow_name(tth)
    'tth'
    """
    prefix = "decorr_af.workflows."
    return wf.__name__[len(prefix) :] if wf.__name__.startswith(prefix) else wf.__name__


_workflow_name = workflow_name  # the name before it was public


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
        What to scan, see :func:`expand_points`; every key, ``strength``
        included, goes to ``config.replace`` (:func:`point_config`).
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
    if out.exists() and not out.is_dir():
        raise ConfigError(f"scan output {out} exists and is not a directory")
    definition = expand_points(config, strengths=strengths, seeds=seeds, grid=grid, points=points)
    from decorr_af.workflows.inputs import input_fingerprint

    header = {
        "format": FORMAT_VERSION,
        "workflow": workflow_name(wf),
        "workflow_module": wf.__name__,
        "decorr_af_version": __version__,
        "config": config.to_dict(),
        "inputs": input_fingerprint(config),
        "primary_model": getattr(wf, "PRIMARY_MODEL", None),
        "pareto": [list(p) for p in getattr(wf, "DEFAULT_PARETO", [])],
        "pareto_maximize": list(getattr(wf, "PARETO_MAXIMIZE", (True, True))),
    }
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputFileError(f"cannot create the scan directory {out}: {err.strerror}") from err
    if not os.access(out, os.W_OK | os.X_OK):
        raise InputFileError(f"cannot write to the scan directory {out} (permission denied)")
    with scan_lock(out):
        return _scan_locked(
            wf, config, out, header, definition, client=client, cluster=cluster,
            retries=int(retries), progress=progress, performance_report=performance_report,
            overwrite=overwrite, save_on_worker=save_on_worker,
        )  # fmt: skip


def _scan_locked(
    wf: ModuleType,
    config: Any,
    out: Path,
    header: dict[str, Any],
    definition: list[dict[str, Any]],
    *,
    client: Any,
    cluster: Any,
    retries: int,
    progress: bool,
    performance_report: bool,
    overwrite: bool,
    save_on_worker: bool,
) -> ScanResult:
    all_points = _prepare(out, header, definition, overwrite)
    todo = []
    for p in definition:
        ok, why = _reusable(out / POINTS_DIR / p["id"], p)
        if not ok:
            if why is not None:
                _say(f"point {p['id']} is incomplete ({why}): recomputing")
                shutil.rmtree(out / POINTS_DIR / p["id"], ignore_errors=True)
            todo.append(p)

    owned = None
    if not todo:
        pass  # nothing to run: no cluster needed
    elif client is None:
        from decorr_af.scan.clusters import cluster as _cluster

        owned = _cluster(cluster)
        client = owned.__enter__()
    else:
        from decorr_af.scan.clusters import ensure_package

        ensure_package(client)
    started = time.time()
    n_workers = len(client.scheduler_info().get("workers", {})) if client is not None else 0
    failures: list[tuple[dict[str, Any], BaseException]] = []
    try:
        report_cm: Any = None
        if performance_report and todo:
            from distributed import performance_report as _perf

            report_cm = _perf(filename=str(out / "dask-report.html"))
            report_cm.__enter__()
        try:
            if todo:
                failures = _submit(client, wf, config, out, todo, definition, retries=retries,
                                   progress=progress, save_on_worker=save_on_worker)  # fmt: skip
        finally:
            if report_cm is not None:
                try:
                    report_cm.__exit__(None, None, None)
                except Exception as err:  # the report is optional, results are saved
                    warnings.warn(f"could not write {out / 'dask-report.html'}: {err!r}",
                                  RuntimeWarning, stacklevel=3)  # fmt: skip
    finally:
        if owned is not None:
            _close_owned(owned, out)
    header["cluster"] = (str(cluster) if owned is not None else "client") if todo else "none"
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
        fixable = all(isinstance(e, _errors.DETERMINISTIC) for _, e in failures)
        then = "fix the configuration or input and re-run" if fixable else "re-run to retry"
        raise ScanError(
            f"{len(failures)} of {len(definition)} scan points failed, e.g. {point['id']} "
            f"(params {point['params']}, seed {point['seed']}): {type(err).__name__}: {err}. "
            f"The other points are saved in {out}; {then}."
        ) from err
    return load_scan(out)


def _close_owned(owned: Any, out: Path) -> None:
    """Stop a cluster the scan started; a failure to stop is one warning, not an error."""
    try:
        owned.__exit__(None, None, None)
    except Exception as err:
        warnings.warn(
            f"the Dask cluster did not shut down cleanly ({type(err).__name__}: {err}); "
            f"the scan points are saved in {out}",
            RuntimeWarning,
            stacklevel=4,
        )


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
        cfg, kwargs = point_config(config, p["params"])
        directory = str((out / POINTS_DIR / p["id"]).resolve()) if save_on_worker else None
        fut = client.submit(
            _run_point, cloudpickle.dumps((wf.run, cfg, kwargs)), p["seed"], p, directory,
            key=f"decorr-af-{p['id']}-{tag}", retries=retries, pure=False,
        )  # fmt: skip
        futures[fut] = p
    bar = _progress_bar(len(definition), len(definition) - len(todo), workflow_name(wf), progress)
    failures = []
    try:
        for fut in as_completed(list(futures)):
            point = futures[fut]
            if fut.status == "error":
                failures.append((point, fut.exception()))
            else:
                value = fut.result()
                if isinstance(value, Mapping) and "error" in value:
                    failures.append((point, _rebuild_error(value)))
                elif not save_on_worker:
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

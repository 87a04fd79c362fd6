"""Reading a scan directory: the metrics table, seed averages and Pareto fronts.

See "Scan directory format" in ``docs/architecture.md``::

    out/scan.json        workflow, base config, points [{"id", "params", "seed"}]
    out/points/<id>/     one RunResult directory per finished point
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError, InputFileError

__all__ = ["ScanResult", "load_scan", "pareto_front"]

SCAN_FILE = "scan.json"
POINTS_DIR = "points"
#: a point id is a directory name: letters, digits, '_' and '-' only (no '..', no '/')
POINT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _metric(value: Any) -> float:
    if isinstance(value, str):
        return float(value)  # "nan" / "inf" / "-inf"
    return math.nan if value is None else float(value)


@dataclasses.dataclass
class ScanResult:
    """The finished points of a scan directory.

    Attributes
    ----------
    directory
        The scan directory.
    workflow
        Workflow name (``"photon_id"``) or module name of a user workflow.
    config
        The base workflow config (plain dict).
    points
        Every point of the scan definition: ``{"id", "params", "seed"}``.
    table
        pandas DataFrame, one row per finished point: ``id, seed, <param
        columns>, <metric columns>`` (list-valued parameters become tuples).
    params, metrics
        Names of the parameter and metric columns of :attr:`table`.
    info
        The rest of ``scan.json`` (cluster, timings, Pareto planes, ...).
    timings
        DataFrame ``id, runtime_s, worker`` of the finished points.
    """

    directory: Path
    workflow: str
    config: dict[str, Any]
    points: list[dict[str, Any]]
    table: Any
    params: list[str]
    metrics: list[str]
    info: dict[str, Any]
    timings: Any

    # -- typed access (the vocabulary of decorr_af.workflows.vocabulary) ------
    @property
    def models(self) -> tuple[str, ...]:
        """Models of the scan: the base config's ``models`` (or ``methods``), else the
        metric prefixes of the table."""
        from decorr_af.workflows.vocabulary import split_key

        names = self.config.get("models") or self.config.get("methods")
        if isinstance(names, (list, tuple)) and names:
            return tuple(str(n) for n in names)
        return tuple(dict.fromkeys(m for m, _ in map(split_key, self.metrics) if m))

    def column(self, model: str | None, metric: str) -> str:
        """The table column of ``metric`` of ``model``; ConfigError listing what exists.

        Examples
        --------
        >>> load_scan("out").column("disco_mlp", "r50")  # doctest: +SKIP
        'disco_mlp.r50'
        """
        from decorr_af.workflows.vocabulary import UnknownMetricError, metric_key, split_key

        key = metric_key(model, metric)
        if key in self.metrics:
            return key
        have = sorted(n for m, n in map(split_key, self.metrics) if m == (model or ""))
        if have:
            raise UnknownMetricError(
                f"scan {self.directory}: model '{model}' has no metric '{metric}' "
                f"(have: {', '.join(have)})"
            )
        raise UnknownMetricError(
            f"scan {self.directory}: no metric of model '{model}' "
            f"(models and groups with metrics: {', '.join(self.prefixes()) or 'none'})"
        )

    def prefixes(self) -> list[str]:
        """Every metric prefix of the table (models and reference groups)."""
        from decorr_af.workflows.vocabulary import split_key

        return list(dict.fromkeys(m for m, _ in map(split_key, self.metrics) if m))

    def models_with(self, metric: str) -> list[str]:
        """Prefixes (models, references) that have a ``metric`` column, in column order."""
        from decorr_af.workflows.vocabulary import split_key

        return [m for m, n in map(split_key, self.metrics) if m and n == metric]

    def values(self, model: str | None, metric: str) -> Any:
        """The per-point values (pandas Series aligned with :attr:`table`) of one metric."""
        return self.table[self.column(model, metric)]

    def metrics_table(self) -> Any:
        """Tidy table: ``id, seed, <param columns>, model, metric, value`` (one row per value).

        Run-level metrics have ``model == ""``.
        """
        from decorr_af.workflows.vocabulary import split_key

        keys = ["id", "seed", *self.params]
        long = self.table.melt(
            id_vars=keys, value_vars=self.metrics, var_name="key", value_name="value"
        )
        parts = [split_key(k) for k in long["key"]]
        long.insert(len(keys), "model", [m for m, _ in parts])
        long.insert(len(keys) + 1, "metric", [n for _, n in parts])
        return long.drop(columns="key").reset_index(drop=True)

    @property
    def missing(self) -> list[str]:
        """Ids of points of the definition that have no finished result."""
        done = set(self.table["id"])
        return [p["id"] for p in self.points if p["id"] not in done]

    def summary(self, by: Sequence[str] | str | None = None) -> Any:
        """Mean and standard deviation of every metric over seeds.

        Parameters
        ----------
        by
            Columns to group by (default: all parameter columns).

        Returns
        -------
        pandas.DataFrame
            One row per parameter point: the ``by`` columns, ``n_seeds``, and for
            each metric ``<metric>`` (mean) and ``<metric>_std`` (NaN for one seed).

        Examples
        --------
        >>> load_scan("out").summary()[["strength", "disco_mlp.r50"]]  # doctest: +SKIP
        """
        import pandas as pd

        by = [by] if isinstance(by, str) else list(self.params if by is None else by)
        for col in by:
            if col not in self.table.columns:
                raise ConfigError(f"summary(by=...): unknown column '{col}' (have {self.params})")
        metrics = [m for m in self.metrics if m not in by]
        if self.table.empty:
            return pd.DataFrame(columns=[*by, "n_seeds", *metrics])
        if not by:
            grouped = self.table.assign(_all=0).groupby("_all", sort=True)
        else:
            grouped = self.table.groupby(by, sort=True, dropna=False)
        mean = grouped[metrics].mean()
        std = grouped[metrics].std(ddof=1).add_suffix("_std")
        n = grouped.size().rename("n_seeds")
        out = pd.concat([n, mean, std], axis=1).copy()
        order = ["n_seeds"] + [c for m in metrics for c in (m, f"{m}_std")]
        out = out[order].reset_index()
        return out.drop(columns="_all") if not by else out

    def pareto(
        self,
        x: str,
        y: str,
        maximize: tuple[bool, bool] = (True, True),
        *,
        per_seed: bool = False,
    ) -> Any:
        """The non-dominated points in the plane of metrics ``x`` and ``y``.

        Parameters
        ----------
        x, y
            Metric names, e.g. ``"disco_mlp.r50"``, ``"disco_mlp.inv_jsd"``.
        maximize
            Whether larger is better along ``x`` and ``y``.
        per_seed
            Use every (point, seed) row instead of the seed averages.

        Returns
        -------
        pandas.DataFrame
            Rows of :meth:`summary` (or :attr:`table`) on the front, sorted by ``x``.

        Examples
        --------
        >>> load_scan("out").pareto("disco_mlp.r50", "disco_mlp.inv_jsd")  # doctest: +SKIP
        """
        for name in (x, y):
            if name not in self.metrics:
                raise ConfigError(f"pareto: unknown metric '{name}' (have {self.metrics})")
        df = self.table if per_seed else self.summary()
        if df.empty:
            return df
        mask = pareto_front(df[x].to_numpy(float), df[y].to_numpy(float), maximize=maximize)
        return df[mask].sort_values(x).reset_index(drop=True)

    def workflow_module(self) -> Any:
        """The registered workflow module this scan ran (for adding points to it).

        Only workflows registered in :data:`decorr_af.workflows.WORKFLOWS` are
        returned: a module named in ``scan.json`` (a data file) is never imported.

        Raises
        ------
        ConfigError
            If the scan ran an unregistered (user) workflow; pass that module
            to :func:`~decorr_af.scan.scan` yourself.
        """
        from decorr_af.workflows import WORKFLOWS, get_workflow

        module = str(self.info.get("workflow_module") or "")
        name = self.workflow
        if name in WORKFLOWS and module in ("", f"decorr_af.workflows.{name}"):
            return get_workflow(name)
        raise ConfigError(
            f"{self.directory / SCAN_FILE}: workflow {module or name!r} is not a registered "
            f"workflow ({', '.join(WORKFLOWS)}); pass its module to scan() yourself"
        )

    def result(self, id: str) -> Any:
        """Load the :class:`~decorr_af.workflows.base.RunResult` of point ``id``."""
        from decorr_af.workflows.base import RunResult

        if id not in {p["id"] for p in self.points}:
            raise ConfigError(f"scan {self.directory}: no point with id '{id}'")
        return RunResult.load(self.directory / POINTS_DIR / id)

    def ids(self, **params: Any) -> list[str]:
        """Ids of finished points whose parameters equal ``params`` (e.g. ``strength=1.0``)."""
        df = self.table
        mask = np.ones(len(df), dtype=bool)
        for key, value in params.items():
            if key not in df.columns:
                raise ConfigError(f"ids(): unknown parameter '{key}' (have {self.params})")
            mask &= np.array([_hashable(v) == _hashable(value) for v in df[key]], dtype=bool)
        return list(df["id"][mask])


def pareto_front(
    x: np.ndarray, y: np.ndarray, *, maximize: tuple[bool, bool] = (True, True)
) -> np.ndarray:
    """Boolean mask of the non-dominated points (NaN points are never on the front).

    A point is dominated when another is at least as good in both coordinates
    and strictly better in one.

    Examples
    --------
    >>> pareto_front(np.array([1.0, 2.0, 1.5]), np.array([2.0, 1.0, 0.5])).tolist()
    [True, True, False]
    """
    x = np.asarray(x, float) * (1 if maximize[0] else -1)
    y = np.asarray(y, float) * (1 if maximize[1] else -1)
    ok = np.isfinite(x) & np.isfinite(y)
    xs, ys = x[:, None], y[:, None]
    geq = (x[None, :] >= xs) & (y[None, :] >= ys)
    gt = (x[None, :] > xs) | (y[None, :] > ys)
    dominated = (geq & gt & ok[None, :]).any(axis=1)
    return ok & ~dominated


def read_scan_json(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``scan.json``; raise InputFileError naming a missing or corrupt file."""
    path = Path(directory) / SCAN_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise InputFileError(f"{path}: missing (not a scan directory)") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputFileError(f"{path}: corrupt JSON ({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        raise InputFileError(f"{path}: no 'points' list (not a decorr_af scan file)")
    for i, p in enumerate(data["points"]):
        if not isinstance(p, dict) or not isinstance(p.get("params"), dict) or "seed" not in p:
            raise InputFileError(f"{path}: points[{i}] is not a {{id, params, seed}} mapping")
        if not isinstance(p.get("id"), str) or not POINT_ID.fullmatch(p["id"]):
            raise InputFileError(
                f"{path}: points[{i}] has an invalid id {p.get('id')!r} (letters, digits, "
                "'_' and '-' only)"
            )
    return data


def load_scan(directory: str | os.PathLike[str]) -> ScanResult:
    """Read a scan directory written by :func:`decorr_af.scan.scan`.

    Only each point's ``result.json`` is read (fast); unfinished or corrupt
    points are left out of :attr:`ScanResult.table` and listed in
    :attr:`ScanResult.missing`.

    Examples
    --------
    >>> res = load_scan("demo-output/scans/photon_id")  # doctest: +SKIP
    >>> res.table.columns[:3].tolist()  # doctest: +SKIP
    ['id', 'seed', 'strength']
    """
    import pandas as pd

    directory = Path(directory)
    data = read_scan_json(directory)
    points = data["points"]
    params: list[str] = []
    for p in points:
        params.extend(k for k in p["params"] if k not in params)
    rows, timing_rows, metrics = [], [], []
    for p in points:
        path = directory / POINTS_DIR / p["id"] / "result.json"
        try:
            payload = json.loads(path.read_text())
            values = {k: _metric(v) for k, v in payload["metrics"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        metrics.extend(k for k in values if k not in metrics)
        row = {"id": p["id"], "seed": int(p["seed"])}
        row.update({k: _hashable(p["params"].get(k)) for k in params})
        rows.append({**row, **values})
        scan_info = payload.get("info", {}).get("scan", {})
        timing_rows.append(
            {
                "id": p["id"],
                "runtime_s": scan_info.get("runtime_s", math.nan),
                "worker": scan_info.get("worker"),
            }
        )
    table = pd.DataFrame(rows, columns=["id", "seed", *params, *metrics])
    table = table.astype(dict.fromkeys(metrics, float)).copy()  # copy() consolidates blocks
    info = {k: v for k, v in data.items() if k not in ("workflow", "config", "points")}
    return ScanResult(
        directory=directory,
        workflow=str(data.get("workflow", "")),
        config=dict(data.get("config", {})),
        points=points,
        table=table,
        params=params,
        metrics=metrics,
        info=info,
        timings=pd.DataFrame(timing_rows, columns=["id", "runtime_s", "worker"]),
    )

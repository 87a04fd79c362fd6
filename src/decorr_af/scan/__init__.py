"""λ / hyper-parameter scans on Dask clusters and their results (the HTML report is :mod:`decorr_af.report`).

``scan``            run a workflow over parameter points and seeds (resumable)
``load_scan``       read a scan directory into a :class:`ScanResult`
``get_client``      start/connect a Dask cluster from a spec (``cluster`` as context manager)
``ClusterSpec``     typed cluster description (``"local"``, ``"tcp://…"``, ``"htcondor"``, ``"gateway"``)

Dask is imported only when these are used.
"""

from __future__ import annotations

from decorr_af._lazy import lazy_exports

__all__ = [
    "ClusterKind",
    "ClusterSpec",
    "ScanError",
    "ScanResult",
    "cluster",
    "ensure_package",
    "expand_points",
    "get_client",
    "load_scan",
    "pareto_front",
    "parse_cluster_spec",
    "point_id",
    "scan",
]

_WHERE = {
    "ClusterKind": "clusters",
    "ClusterSpec": "clusters",
    "cluster": "clusters",
    "ensure_package": "clusters",
    "get_client": "clusters",
    "parse_cluster_spec": "clusters",
    "ScanError": "engine",
    "expand_points": "engine",
    "point_id": "engine",
    "scan": "engine",
    "ScanResult": "results",
    "load_scan": "results",
    "pareto_front": "results",
}

__getattr__, __dir__, _ = lazy_exports(__name__, _WHERE)

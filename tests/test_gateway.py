"""A λ scan through ``--cluster gateway`` on a real dask-gateway-server (local backend).

The server (``tests/_servers.py``) runs on 127.0.0.1 with password
authentication; the command finds it through the usual ``DASK_GATEWAY__*``
variables. Its workers cannot import an installed decorr_af (a
``sitecustomize`` hides it, as on a facility whose image lacks the package), so
the scan succeeds only if the client ships the package, as on coffea-casa.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.facility, pytest.mark.slow]  # real daemons: whole suite only


def _env(gateway_server) -> dict[str, str]:
    src = str(Path(__import__("decorr_af").__file__).parents[1])
    pythonpath = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    return {**os.environ, **gateway_server.env(), "PYTHONPATH": pythonpath}


def test_gateway_workers_lack_the_installed_package(gateway_server):
    site = gateway_server.base / "worker_site"
    env = {**os.environ, "PYTHONPATH": str(site)}
    res = subprocess.run([sys.executable, "-c", "import decorr_af"], env=env,
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert res.returncode == 1
    assert "No module named 'decorr_af' (not in this image)" in res.stderr


def test_scan_through_gateway_ships_the_package(gateway_server, photon_scan, tmp_path):
    cfg = photon_scan.yaml(tmp_path, "gateway:workers=1,timeout=180")
    out = tmp_path / "scan"
    cmd = [sys.executable, "-m", "decorr_af", "scan", str(cfg), "--out", str(out),
           "--no-progress", "--no-report"]  # fmt: skip
    res = subprocess.run(
        cmd, env=_env(gateway_server), capture_output=True, text=True, timeout=480, check=False
    )
    assert res.returncode == 0, res.stderr[-3000:]
    points = photon_scan.points(out)
    assert len(points) == 2
    assert all(len(p["metrics"]) > 20 for p in points)
    workers = {p["info"]["scan"]["worker"] for p in points}
    assert all(w and w.startswith(("tls://", "tcp://")) for w in workers)
    header = json.loads((out / "scan.json").read_text())
    assert str(header.get("cluster", "")).startswith("gateway")

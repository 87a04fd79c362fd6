"""A λ scan through ``--cluster slurm:...`` on a real one-node Slurm (dask-jobqueue SLURMCluster).

``tests/_servers.py`` starts ``munged``, ``slurmctld`` and ``slurmd`` (Debian
``slurm-wlm`` 22.05, ``munge``) on localhost; the Dask workers are real
``sbatch`` jobs. Skips (with the reason) where those binaries are missing.
"""

from __future__ import annotations

import pytest

from decorr_af.cli import main

pytestmark = [pytest.mark.facility, pytest.mark.slow]  # real daemons: whole suite only


def test_scan_runs_on_slurm_jobs(slurm_cluster, photon_scan, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SLURM_CONF", str(slurm_cluster.conf))
    logs = tmp_path / "slurm-logs"
    spec = (
        f"slurm:cores=1,memory=3GB,jobs=1,walltime=00:20:00,queue=debug,interface=lo,"
        f"timeout=120,log_directory={logs}"
    )
    cfg = photon_scan.yaml(tmp_path, "local")
    out = tmp_path / "scan"
    rc = main(["scan", str(cfg), "--out", str(out), "--cluster", spec, "--no-progress",
               "--no-report"])  # fmt: skip
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    points = photon_scan.points(out)
    assert len(points) == 2
    assert all(len(p["metrics"]) > 20 for p in points)
    # the workers that ran the points were Slurm jobs: their addresses are in the job logs
    job_logs = "\n".join(p.read_text() for p in logs.glob("*.[eo][ru][rt]"))  # .err, .out
    assert job_logs, f"no Slurm job output in {logs}"
    for point in points:
        assert point["info"]["scan"]["worker"] in job_logs

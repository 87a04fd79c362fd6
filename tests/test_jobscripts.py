"""Job scripts dask-jobqueue renders for HTCondor, Slurm and PBS specs carry the user's options.

No batch daemons are needed: :func:`decorr_af.scan.clusters.job_script` renders
the script of one worker job without submitting anything (a real Slurm runs in
``tests/test_slurm.py``).
"""

from __future__ import annotations

import pytest

from decorr_af.errors import ConfigError
from decorr_af.scan.batch import BACKENDS, get_backend
from decorr_af.scan.clusters import ClusterKind, ClusterSpec, job_script

pytest.importorskip("dask_jobqueue", reason="dask-jobqueue is not installed (extra [jobqueue])")


def _lines(script: str) -> list[str]:
    return [line.strip() for line in script.splitlines() if line.strip()]


def test_htcondor_script_carries_requirements_memory_disk_group_container_getenv():
    spec = ClusterSpec.parse(
        {
            "kind": "htcondor",
            "cores": 4,
            "memory": "8GB",
            "disk": "12GB",
            "requirements": 'OpSysAndVer == "AlmaLinux9"',
            "accounting_group": "group_u_ATLAS.alice",
            "container": "/cvmfs/unpacked.cern.ch/registry.hub.docker.com/atlas/analysisbase:25.2",
            "getenv": True,
            "job_extra_directives": {"+JobFlavour": '"espresso"'},
            "job_script_prologue": ["source /srv/venv/bin/activate"],
            "python": "/srv/venv/bin/python",
        }
    )
    lines = _lines(job_script(spec))
    assert lines[0] == "#!/usr/bin/env condor_submit"
    assert "MY.DaskWorkerCores = 4" in lines
    assert "MY.DaskWorkerMemory = 8000000000" in lines
    assert "MY.DaskWorkerDisk = 12000000000" in lines
    assert "RequestMemory = floor(MY.DaskWorkerMemory / 1048576)" in lines
    assert 'requirements = OpSysAndVer == "AlmaLinux9"' in lines
    assert '+AccountingGroup = "group_u_ATLAS.alice"' in lines
    assert (
        'MY.SingularityImage = "/cvmfs/unpacked.cern.ch/registry.hub.docker.com/'
        'atlas/analysisbase:25.2"' in lines
    )
    assert "getenv = True" in lines
    assert '+JobFlavour = "espresso"' in lines
    arguments = next(line for line in lines if line.startswith("Arguments"))
    assert "source /srv/venv/bin/activate" in arguments
    assert "/srv/venv/bin/python -m distributed.cli.dask_worker" in arguments


def test_htcondor_string_spec_and_quoting():
    script = job_script("htcondor:cores=2,memory=4GB,accounting_group=group_x,getenv=false")
    lines = _lines(script)
    assert '+AccountingGroup = "group_x"' in lines
    assert "getenv = False" in lines
    assert "MY.DaskWorkerDisk = 4000000000" in lines  # the default disk


def test_slurm_script_carries_partition_account_resources():
    spec = ClusterSpec.parse(
        {
            "kind": "slurm",
            "cores": 8,
            "memory": "16GB",
            "walltime": "01:30:00",
            "queue": "shared",
            "account": "m1234",
            "processes_per_job": 2,
            "interface": "lo",
            "job_extra_directives": ["--constraint=cpu", "--qos=debug"],
            "job_script_prologue": "module load python",
        }
    )
    lines = _lines(job_script(spec))
    for expected in (
        "#SBATCH -p shared",
        "#SBATCH -A m1234",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=15G",
        "#SBATCH -t 01:30:00",
        "#SBATCH --constraint=cpu",
        "#SBATCH --qos=debug",
        "module load python",
    ):
        assert expected in lines, expected
    worker = next(line for line in lines if "dask_worker" in line)
    assert "--nworkers 2" in worker
    assert "--interface lo" in worker


def test_pbs_polaris_script():
    spec = ClusterSpec.parse(
        "pbs:cores=32,memory=400GB,queue=debug,account=MyProject,walltime=00:30:00,"
        "resource_spec=select=1:system=polaris,job_extra_directives=-l filesystems=home:eagle"
    )
    assert spec.kind is ClusterKind.PBS
    lines = _lines(job_script(spec))
    for expected in (
        "#PBS -q debug",
        "#PBS -A MyProject",
        "#PBS -l select=1:system=polaris",
        "#PBS -l walltime=00:30:00",
        "#PBS -l filesystems=home:eagle",
    ):
        assert expected in lines, expected


def test_default_pbs_resources_come_from_cores_and_memory():
    lines = _lines(job_script("pbs:cores=4,memory=8GB"))  # 8 GB = 7630 MiB, written MB
    assert "#PBS -l select=1:ncpus=4:mem=7630MB" in lines


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("slurm:disk=4GB", "'disk' does not apply to cluster kind 'slurm'"),
        ("pbs:requirements=x", "'requirements' does not apply to cluster kind 'pbs'"),
        ("htcondor:queue=short", "'queue' does not apply to cluster kind 'htcondor'"),
        ("slurm:resource_spec=x", "'resource_spec' does not apply to cluster kind 'slurm'"),
        ({"kind": "slurm", "job_extra_directives": {"a": 1}}, "must be a list of strings"),
        ("htcondor:getenv=maybe", "'getenv' must be true or false"),
    ],
)
def test_options_are_checked_per_batch_system(spec, match):
    with pytest.raises(ConfigError, match=match):
        ClusterSpec.parse(spec)


def test_job_script_of_a_non_batch_kind_is_refused():
    with pytest.raises(ConfigError, match="'local' is not a batch system"):
        job_script("local")


def test_every_backend_is_a_cluster_kind():
    assert set(BACKENDS) == {"htcondor", "slurm", "pbs"}
    for name, backend in BACKENDS.items():
        assert ClusterKind(name).value == name
        assert get_backend(name) is backend

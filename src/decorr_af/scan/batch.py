"""Batch-system Dask clusters (dask-jobqueue): HTCondor, Slurm, PBS.

Each batch system is a registered :class:`JobQueueBackend` that turns the
options of a cluster spec (``cores``, ``memory``, ``jobs``, ``queue``, ...) into
the keyword arguments of its dask-jobqueue cluster class. :func:`job_script`
renders the job script a spec would submit without starting anything, so a
spec can be checked on a laptop before it reaches a submit node.

Convenience options (translated into batch directives):

=================  ===========================================================
HTCondor           ``requirements`` (ClassAd expression), ``accounting_group``
                   (``+AccountingGroup``), ``container`` (``MY.SingularityImage``,
                   an apptainer image such as ``/cvmfs/unpacked.cern.ch/...``),
                   ``getenv`` (copy the submitting environment)
Slurm              ``queue`` (partition), ``account``, ``walltime``
PBS                ``queue``, ``account``, ``walltime``, ``resource_spec``
                   (``select=1:system=polaris``)
=================  ===========================================================

Anything else goes verbatim through ``job_extra_directives`` (a mapping for
HTCondor, a list of lines for Slurm and PBS) and ``job_script_prologue``.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import Any, ClassVar

from decorr_af.errors import ClusterError, ConfigError

__all__ = [
    "BACKENDS",
    "HTCondorBackend",
    "JobQueueBackend",
    "PBSBackend",
    "SlurmBackend",
    "get_backend",
    "register_backend",
]

#: scheduler address written into scripts rendered by :func:`job_script`
PLACEHOLDER_SCHEDULER = "tcp://scheduler:8786"


class JobQueueBackend:
    """One batch system: its dask-jobqueue classes, submit command and option mapping.

    Subclasses set the class attributes and may extend :meth:`extra_kwargs`.
    """

    #: spec kind (``"slurm"``)
    name: ClassVar[str] = ""
    #: dask-jobqueue module and class names
    module: ClassVar[str] = ""
    cluster_class: ClassVar[str] = ""
    job_class: ClassVar[str] = ""
    #: command that must be on PATH to submit jobs
    submit_command: ClassVar[str] = ""
    #: cluster option -> dask-jobqueue keyword, passed when the option is set
    passthrough: ClassVar[Mapping[str, str]] = {
        "cores": "cores",
        "memory": "memory",
        "processes_per_job": "processes",
        "log_directory": "log_directory",
        "python": "python",
        "walltime": "walltime",
        "interface": "interface",
        "job_extra_directives": "job_extra_directives",
        "job_script_prologue": "job_script_prologue",
    }
    #: dask-jobqueue keywords used when the spec leaves them out
    defaults: ClassVar[Mapping[str, Any]] = {"cores": 1, "memory": "4GB"}

    def kwargs(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """dask-jobqueue keyword arguments for ``options`` (a checked spec's options).

        Examples
        --------
        >>> SlurmBackend().kwargs({"cores": 2, "queue": "debug"})
        {'cores': 2, 'memory': '4GB', 'queue': 'debug'}
        """
        out: dict[str, Any] = dict(self.defaults)
        for src, dst in self.passthrough.items():
            if src in options:
                value = options[src]
                out[dst] = list(value) if isinstance(value, tuple) else value
        out.update(self.extra_kwargs(options, out))
        return out

    def extra_kwargs(self, options: Mapping[str, Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Keywords built from the convenience options (none by default)."""
        return {}

    def _import(self, attr: str) -> Any:
        import importlib

        from decorr_af._compat import optional_import

        optional_import("dask_jobqueue", "jobqueue")
        return getattr(importlib.import_module(self.module), attr)

    def job_script(self, options: Mapping[str, Any]) -> str:
        """The job script one worker job of ``options`` would run (nothing is submitted)."""
        job = self._import(self.job_class)
        return str(
            job(
                scheduler=PLACEHOLDER_SCHEDULER, name="decorr-af", **self.kwargs(options)
            ).job_script()
        )

    def start(self, options: Mapping[str, Any], label: str) -> Any:
        """Start the dask-jobqueue cluster (scheduler here, workers as batch jobs)."""
        from decorr_af._compat import optional_import

        jobqueue = optional_import("dask_jobqueue", "jobqueue")
        if shutil.which(self.submit_command) is None:
            raise ClusterError(
                f"cluster '{label}': {self.name} is not available here (no "
                f"{self.submit_command} on PATH); run on a submit node or choose another --cluster"
            )
        return getattr(jobqueue, self.cluster_class)(**self.kwargs(options))


class HTCondorBackend(JobQueueBackend):
    """HTCondor pools (lxplus, coffea-casa's condor pool, Tier-3s)."""

    name = "htcondor"
    module = "dask_jobqueue.htcondor"
    cluster_class = "HTCondorCluster"
    job_class = "HTCondorJob"
    submit_command = "condor_submit"
    passthrough: ClassVar[Mapping[str, str]] = {
        **JobQueueBackend.passthrough,
        "disk": "disk",
    }
    defaults: ClassVar[Mapping[str, Any]] = {"cores": 1, "memory": "4GB", "disk": "4GB"}

    def extra_kwargs(self, options: Mapping[str, Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """``requirements``, ``accounting_group``, ``container``, ``getenv`` as submit commands.

        Examples
        --------
        >>> HTCondorBackend().extra_kwargs({"accounting_group": "group_u_ATLAS.me"}, {})
        {'job_extra_directives': {'+AccountingGroup': '"group_u_ATLAS.me"'}}
        """
        directives = dict(kwargs.get("job_extra_directives") or {})
        if "requirements" in options:
            directives["requirements"] = options["requirements"]
        if "accounting_group" in options:
            directives["+AccountingGroup"] = _classad_string(options["accounting_group"])
        if "container" in options:
            directives["MY.SingularityImage"] = _classad_string(options["container"])
        if "getenv" in options:
            directives["getenv"] = "True" if options["getenv"] else "False"
        return {"job_extra_directives": directives} if directives else {}


class SlurmBackend(JobQueueBackend):
    """Slurm clusters (NERSC, most university HPC)."""

    name = "slurm"
    module = "dask_jobqueue.slurm"
    cluster_class = "SLURMCluster"
    job_class = "SLURMJob"
    submit_command = "sbatch"
    passthrough: ClassVar[Mapping[str, str]] = {
        **JobQueueBackend.passthrough,
        "queue": "queue",
        "account": "account",
    }


class PBSBackend(JobQueueBackend):
    """PBS Pro / Torque (ALCF Polaris)."""

    name = "pbs"
    module = "dask_jobqueue.pbs"
    cluster_class = "PBSCluster"
    job_class = "PBSJob"
    submit_command = "qsub"
    passthrough: ClassVar[Mapping[str, str]] = {
        **JobQueueBackend.passthrough,
        "queue": "queue",
        "account": "account",
        "resource_spec": "resource_spec",
    }


def _classad_string(value: Any) -> str:
    text = str(value)
    return text if text.startswith('"') else '"' + text.replace('"', '\\"') + '"'


#: spec kind -> backend
BACKENDS: dict[str, JobQueueBackend] = {}


def register_backend(backend: JobQueueBackend) -> JobQueueBackend:
    """Register a batch backend under ``backend.name`` (returns it)."""
    if not backend.name:
        raise ConfigError("a batch backend needs a name")
    BACKENDS[backend.name] = backend
    return backend


for _backend in (HTCondorBackend(), SlurmBackend(), PBSBackend()):
    register_backend(_backend)


def get_backend(kind: str) -> JobQueueBackend:
    """The backend registered for ``kind`` (``"htcondor"``, ``"slurm"``, ``"pbs"``).

    Examples
    --------
    >>> get_backend("pbs").cluster_class
    'PBSCluster'
    """
    try:
        return BACKENDS[str(getattr(kind, "value", kind))]
    except KeyError as err:
        raise ConfigError(
            f"cluster kind '{kind}' is not a batch system (choose from {', '.join(BACKENDS)})"
        ) from err

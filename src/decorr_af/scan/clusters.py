"""Dask clusters for λ scans: local, an existing scheduler, Dask Gateway, HTCondor, Slurm, PBS.

A :class:`ClusterSpec` is parsed from a short string (CLI ``--cluster``, the
``DECORR_AF_CLUSTER`` environment variable), a mapping (the ``cluster:`` section
of a YAML scan config) or built directly:

``"local"``                               LocalCluster sized to the machine
``"local:workers=2,threads=1"``           LocalCluster with options
``"tcp://host:8786"`` / ``"tls://…"``     an existing scheduler (e.g. coffea-casa)
``"htcondor:cores=4,memory=8GB,jobs=10"`` dask-jobqueue ``HTCondorCluster``
``"slurm:cores=2,memory=4GB,jobs=2"``     dask-jobqueue ``SLURMCluster``
``"pbs:cores=32,queue=debug,account=X"``  dask-jobqueue ``PBSCluster`` (ALCF Polaris)
``"gateway"`` / ``"gateway:workers=4"``   dask-gateway cluster (address and auth
                                          from ``DASK_GATEWAY__*`` / dask config)

Options in the string form are ``key=value`` pairs separated by commas; a key
with a dot sets one entry of a mapping option, e.g.
``"htcondor:job_extra_directives.+JobFlavour=espresso"``. The batch kinds are
built by :mod:`decorr_af.scan.batch` (its docstring lists their convenience
options); :func:`job_script` shows the script a spec would submit.

Shipping the package to workers
-------------------------------
Workers must import :mod:`decorr_af`. :func:`ensure_package` checks it with
``client.run``; where it is missing (a shared analysis facility whose worker
image lacks it) it zips the installed package and sends it with
``client.upload_file`` (``ship="upload"``, also registered for workers that join
later), or registers it with ``cloudpickle.register_pickle_by_value``
(``ship="pickle"``; only for code without lazy imports). Its dependencies
(torch, xgboost, coffea) must be in the worker image.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import os
import tempfile
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from decorr_af.errors import ClusterError, ConfigError

__all__ = [
    "ClusterKind",
    "ClusterSpec",
    "ShipMode",
    "cluster",
    "ensure_package",
    "get_client",
    "job_script",
    "parse_cluster_spec",
]

ENV_VAR = "DECORR_AF_CLUSTER"
#: seconds to reach an existing scheduler
CONNECT_TIMEOUT = 10
#: seconds for the first worker of a batch (HTCondor, gateway) cluster to arrive
WORKER_TIMEOUT = 300


class ClusterKind(str, enum.Enum):
    """Where the scan's Dask workers come from."""

    LOCAL = "local"
    ADDRESS = "address"
    HTCONDOR = "htcondor"
    SLURM = "slurm"
    PBS = "pbs"
    GATEWAY = "gateway"


class ShipMode(str, enum.Enum):
    """How :mod:`decorr_af` reaches workers that cannot import it."""

    AUTO = "auto"  # upload a zip only where workers lack the package
    UPLOAD = "upload"  # always upload a zip (client.upload_file)
    PICKLE = "pickle"  # cloudpickle.register_pickle_by_value
    NEVER = "never"


#: kinds whose workers are batch jobs submitted through dask-jobqueue
BATCH_KINDS = (ClusterKind.HTCONDOR, ClusterKind.SLURM, ClusterKind.PBS)
_CONDOR = (ClusterKind.HTCONDOR,)
_SLURM_PBS = (ClusterKind.SLURM, ClusterKind.PBS)
_REMOTE = (ClusterKind.ADDRESS, *BATCH_KINDS, ClusterKind.GATEWAY)

#: option name -> (type, kinds it applies to)
_OPTIONS: dict[str, tuple[type, tuple[ClusterKind, ...]]] = {
    "workers": (int, (ClusterKind.LOCAL, ClusterKind.GATEWAY)),
    "threads": (int, (ClusterKind.LOCAL,)),
    "processes": (bool, (ClusterKind.LOCAL,)),
    "memory": (str, (ClusterKind.LOCAL, *BATCH_KINDS)),
    "dashboard": (str, (ClusterKind.LOCAL,)),
    "cores": (int, BATCH_KINDS),
    "disk": (str, _CONDOR),
    "jobs": (int, BATCH_KINDS),
    "processes_per_job": (int, BATCH_KINDS),
    "log_directory": (str, BATCH_KINDS),
    "python": (str, BATCH_KINDS),
    "walltime": (str, BATCH_KINDS),
    "interface": (str, BATCH_KINDS),
    "job_extra_directives": (dict, BATCH_KINDS),  # a list of lines for Slurm/PBS
    "job_script_prologue": (tuple, BATCH_KINDS),
    "requirements": (str, _CONDOR),
    "accounting_group": (str, _CONDOR),
    "container": (str, _CONDOR),
    "getenv": (bool, _CONDOR),
    "queue": (str, _SLURM_PBS),
    "account": (str, _SLURM_PBS),
    "resource_spec": (str, (ClusterKind.PBS,)),
    "cluster_options": (dict, (ClusterKind.GATEWAY,)),
    "adapt": (bool, (*BATCH_KINDS, ClusterKind.GATEWAY)),
    "minimum": (int, (*BATCH_KINDS, ClusterKind.GATEWAY)),
    "maximum": (int, (*BATCH_KINDS, ClusterKind.GATEWAY)),
    "tls_ca_file": (str, (ClusterKind.ADDRESS,)),
    "tls_client_cert": (str, (ClusterKind.ADDRESS,)),
    "tls_client_key": (str, (ClusterKind.ADDRESS,)),
    "ship": (ShipMode, tuple(ClusterKind)),
    "timeout": (int, _REMOTE),
}

#: (kind, option) -> type, where an option's type differs between kinds
_KIND_TYPES: dict[tuple[ClusterKind, str], type] = {
    (kind, "job_extra_directives"): tuple for kind in _SLURM_PBS
}


@dataclasses.dataclass(frozen=True)
class ClusterSpec:
    """Validated description of a Dask cluster (see the module docstring).

    Parameters
    ----------
    kind
        A :class:`ClusterKind`.
    address
        Scheduler address (``tcp://``/``tls://``) for ``ADDRESS``; gateway
        server address for ``GATEWAY`` (default: dask config).
    options
        Kind-specific options (``workers``, ``threads``, ``memory``, ``cores``,
        ``jobs``, ``adapt``, ``minimum``, ``maximum``, ...); unknown ones or ones
        that do not apply to ``kind`` raise :class:`~decorr_af.errors.ConfigError`.

    Examples
    --------
    >>> ClusterSpec.parse("htcondor:cores=4,memory=8GB,jobs=10").options["jobs"]
    10
    """

    kind: ClusterKind = ClusterKind.LOCAL
    address: str | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            kind = ClusterKind(self.kind)
        except ValueError as err:
            allowed = ", ".join(k.value for k in ClusterKind)
            raise ConfigError(
                f"cluster kind '{self.kind}' unknown (choose from {allowed})"
            ) from err
        object.__setattr__(self, "kind", kind)
        if kind is ClusterKind.ADDRESS and not self.address:
            raise ConfigError(
                "cluster kind 'address' needs a scheduler 'address' (tcp://host:8786)"
            )
        if kind is ClusterKind.ADDRESS and "://" not in str(self.address):
            raise ConfigError(f"cluster address '{self.address}' must look like tcp://host:8786")
        clean = {name: _check_option(kind, name, value) for name, value in self.options.items()}
        for name in ("workers", "threads", "cores", "jobs", "minimum", "maximum", "timeout"):
            if name in clean and clean[name] < (0 if name in ("minimum", "jobs") else 1):
                raise ConfigError(f"cluster option '{name}' must be positive, got {clean[name]}")
        if clean.get("minimum", 0) > clean.get("maximum", clean.get("minimum", 0)):
            raise ConfigError("cluster option 'minimum' is larger than 'maximum'")
        object.__setattr__(self, "options", clean)

    # -- parsing ----------------------------------------------------------
    @classmethod
    def parse(cls, spec: str | Mapping[str, Any] | ClusterSpec | None = None) -> ClusterSpec:
        """Build a spec from a string, a mapping, a spec, or ``None`` (environment/local)."""
        if isinstance(spec, ClusterSpec):
            return spec
        if spec is None:
            spec = os.environ.get(ENV_VAR) or "local"
        if isinstance(spec, Mapping):
            return cls._from_mapping(spec)
        if not isinstance(spec, str):
            raise ConfigError(f"cluster spec must be a string or mapping, got {spec!r}")
        text = spec.strip()
        scheme, sep, _ = text.partition("://")
        if sep and scheme.lower() in ("tcp", "tls", "ucx", "inproc", "ws", "wss"):
            return cls(ClusterKind.ADDRESS, address=text)
        head, _, rest = text.partition(":")
        options: dict[str, Any] = {}
        for item in filter(None, (s.strip() for s in rest.split(","))):
            key, eq, value = item.partition("=")
            if not eq:
                raise ConfigError(f"cluster option '{item}' in '{spec}' must be key=value")
            key = key.strip()
            if "." in key:
                outer, inner = key.split(".", 1)
                options.setdefault(outer, {})
                if not isinstance(options[outer], dict):
                    raise ConfigError(f"cluster option '{outer}' given twice in '{spec}'")
                options[outer][inner] = _parse_scalar(value)
            else:
                options[key] = _parse_scalar(value)
        address = options.pop("address", None)
        return cls(head.strip().lower() or "local", address=address, options=options)

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any]) -> ClusterSpec:
        data = dict(data)
        kind = data.pop("kind", None)
        address = data.pop("address", None)
        if kind is None:
            kind = "address" if address and "://" in str(address) else "local"
        return cls(kind, address=address, options=data)

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping (``cluster:`` YAML section)."""
        opts = {
            k: (v.value if isinstance(v, enum.Enum) else list(v) if isinstance(v, tuple) else v)
            for k, v in self.options.items()
        }
        out: dict[str, Any] = {"kind": self.kind.value, **opts}
        if self.address:
            out["address"] = self.address
        return out

    def __str__(self) -> str:
        if self.kind is ClusterKind.ADDRESS:
            return str(self.address)
        opts = [f"{k}={v}" for k, v in self.options.items() if not isinstance(v, (dict, tuple))]
        return self.kind.value + (":" + ",".join(opts) if opts else "")


def parse_cluster_spec(spec: str | Mapping[str, Any] | ClusterSpec | None = None) -> ClusterSpec:
    """Alias of :meth:`ClusterSpec.parse`.

    Examples
    --------
    >>> parse_cluster_spec("local:workers=2,threads=1").options
    {'workers': 2, 'threads': 1}
    """
    return ClusterSpec.parse(spec)


def _parse_scalar(text: str) -> Any:
    text = text.strip()
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    with contextlib.suppress(ValueError):
        return int(text)
    return text


def _check_option(kind: ClusterKind, name: str, value: Any) -> Any:
    if name not in _OPTIONS:
        raise ConfigError(
            f"unknown cluster option '{name}' (allowed for '{kind.value}': "
            f"{', '.join(n for n, (_, k) in _OPTIONS.items() if kind in k)})"
        )
    typ, kinds = _OPTIONS[name]
    typ = _KIND_TYPES.get((kind, name), typ)
    if kind not in kinds:
        raise ConfigError(
            f"cluster option '{name}' does not apply to cluster kind '{kind.value}' "
            f"(it is for {', '.join(k.value for k in kinds)})"
        )
    if typ is ShipMode:
        try:
            return ShipMode(value)
        except ValueError as err:
            allowed = ", ".join(m.value for m in ShipMode)
            raise ConfigError(f"cluster option 'ship' must be one of {allowed}") from err
    if typ is tuple:
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"cluster option '{name}' must be a list of strings")
        return tuple(str(v) for v in value)
    if typ is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"cluster option '{name}' must be an integer, got {value!r}")
    if typ is bool and not isinstance(value, bool):
        raise ConfigError(f"cluster option '{name}' must be true or false, got {value!r}")
    if typ is dict and not isinstance(value, Mapping):
        raise ConfigError(f"cluster option '{name}' must be a mapping, got {value!r}")
    if typ is str:
        value = str(value)
    return dict(value) if typ is dict else value


# -- starting clusters -------------------------------------------------------
def _local_kwargs(spec: ClusterSpec) -> dict[str, Any]:
    import psutil

    o = spec.options
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = o.get("threads", 1)
    workers = o.get("workers", max(1, (cores or 1) // threads))
    memory = o.get("memory")
    if memory is None:  # an equal share of 90% of the machine's memory
        memory = int(0.9 * psutil.virtual_memory().total / workers)
    processes = o.get("processes", True)
    kwargs = {
        "n_workers": workers,
        "threads_per_worker": threads,
        "processes": processes,
        "memory_limit": memory,
        "dashboard_address": o.get("dashboard", "127.0.0.1:0"),
    }
    if processes:  # threads-only clusters talk in-process, without a TCP host
        kwargs["host"] = "127.0.0.1"
    return kwargs


def _batch_cluster(spec: ClusterSpec) -> Any:
    """A dask-jobqueue cluster (HTCondor, Slurm, PBS) scaled as the spec says."""
    from decorr_af.scan.batch import get_backend

    cl = get_backend(spec.kind.value).start(spec.options, str(spec))
    _scale(cl, spec.options, jobs_key="jobs")
    return cl


def job_script(spec: str | Mapping[str, Any] | ClusterSpec) -> str:
    """The job script a batch spec (``htcondor``, ``slurm``, ``pbs``) would submit.

    Nothing is started or submitted, so a spec can be checked anywhere.

    Examples
    --------
    >>> print(job_script("slurm:cores=2,memory=4GB,queue=debug"))  # doctest: +ELLIPSIS
    #!/usr/bin/env bash
    ...
    #SBATCH -p debug
    ...
    """
    from decorr_af.scan.batch import get_backend

    spec = ClusterSpec.parse(spec)
    return get_backend(spec.kind.value).job_script(spec.options)


def _gateway_cluster(spec: ClusterSpec) -> Any:
    from decorr_af._compat import optional_import

    dg = optional_import("dask_gateway", "gateway")
    try:
        gateway = dg.Gateway(address=spec.address) if spec.address else dg.Gateway()
    except ValueError as err:  # no address anywhere
        raise ClusterError(
            f"cluster '{spec}': {err}; set DASK_GATEWAY__ADDRESS (and DASK_GATEWAY__AUTH__TYPE) "
            "or give gateway:address=https://..."
        ) from None
    try:
        options = gateway.cluster_options()
    except OSError as err:  # aiohttp connection errors are OSErrors
        gateway.close()
        raise ClusterError(
            f"cluster '{spec}': cannot reach the dask-gateway at {gateway.address} ({err})"
        ) from None
    for key, value in spec.options.get("cluster_options", {}).items():
        try:
            options[key] = value
        except (AttributeError, KeyError, ValueError) as err:
            raise ConfigError(f"dask-gateway cluster option '{key}': {err}") from err
    cl = gateway.new_cluster(options)
    _scale(cl, spec.options, jobs_key="workers")
    return cl


def _scale(cl: Any, o: Mapping[str, Any], *, jobs_key: str) -> None:
    if o.get("adapt") or "maximum" in o:
        cl.adapt(minimum=o.get("minimum", 0), maximum=o.get("maximum", o.get(jobs_key, 10)))
    else:
        n = o.get(jobs_key, 1)
        if jobs_key == "jobs":
            cl.scale(jobs=n)
        else:
            cl.scale(n)


def _security(spec: ClusterSpec) -> Any | None:
    o = spec.options
    names = ("tls_ca_file", "tls_client_cert", "tls_client_key")
    if not any(n in o for n in names):
        return None  # dask config / DASK_DISTRIBUTED__COMM__TLS__* apply
    from distributed.security import Security

    return Security(require_encryption=True, **{n: o[n] for n in names if n in o})


def get_client(spec: str | Mapping[str, Any] | ClusterSpec | None = None) -> Any:
    """Start (or connect to) the cluster described by ``spec`` and return a Client.

    ``None`` reads ``DECORR_AF_CLUSTER`` (default ``"local"``). A local cluster
    is owned by the client (``client.close()`` stops it); for HTCondor/gateway
    clusters close ``client.cluster`` too, or use :func:`cluster`.

    Examples
    --------
    >>> client = get_client("local:workers=2,threads=1")  # doctest: +SKIP
    """
    from decorr_af._compat import optional_import

    distributed = optional_import("distributed", "dask")
    spec = ClusterSpec.parse(spec)
    if spec.kind is ClusterKind.LOCAL:
        client = distributed.Client(**_local_kwargs(spec))
    elif spec.kind is ClusterKind.ADDRESS:
        security = _security(spec)
        kw = {"security": security} if security is not None else {}
        timeout = spec.options.get("timeout", CONNECT_TIMEOUT)
        try:
            client = distributed.Client(spec.address, timeout=timeout, **kw)
        except (OSError, TimeoutError) as err:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {spec.address} within {timeout} s "
                f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
                "check the address and that the scheduler runs"
            ) from None
    else:
        cl = _gateway_cluster(spec) if spec.kind is ClusterKind.GATEWAY else _batch_cluster(spec)
        client = distributed.Client(cl)
        _wait_for_workers(client, cl, spec)
    ensure_package(client, ship=spec.options.get("ship", ShipMode.AUTO))
    return client


def _wait_for_workers(client: Any, cl: Any, spec: ClusterSpec) -> None:
    """Wait for the first worker of a batch cluster; stop it and raise if none arrives."""
    timeout = spec.options.get("timeout", WORKER_TIMEOUT)
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError) as err:
        _close_quietly(client, cl, warn=False)
        raise ClusterError(
            f"cluster '{spec}': no workers arrived within {timeout} s; check that the batch "
            "system accepts the jobs (condor_q, squeue, qstat) or raise the 'timeout' cluster option"
        ) from err


def _close_quietly(client: Any, cl: Any, *, warn: bool = True) -> None:
    """Close a client and its batch cluster; failures become one warning."""
    problems = []
    for obj in (client, cl):
        if obj is None:
            continue
        try:
            obj.close()
        except Exception as err:
            problems.append(f"{type(err).__name__}: {err}")
    if problems and warn:
        warnings.warn(
            "the Dask cluster did not shut down cleanly (" + "; ".join(problems) + ")",
            RuntimeWarning,
            stacklevel=4,
        )


@contextlib.contextmanager
def cluster(spec: str | Mapping[str, Any] | ClusterSpec | None = None) -> Iterator[Any]:
    """Context manager: a Client for ``spec``, closed (with its cluster) on exit.

    Examples
    --------
    >>> with cluster("local:workers=2") as client:  # doctest: +SKIP
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    client = get_client(spec)
    try:
        yield client
    finally:
        kind = ClusterSpec.parse(spec).kind
        cl = getattr(client, "cluster", None)
        batch = kind in (*BATCH_KINDS, ClusterKind.GATEWAY)
        _close_quietly(client, cl if batch else None)


# -- package shipping -------------------------------------------------------
def _make_probe() -> Any:
    """A function returning the worker's decorr_af version (None when it cannot import it).

    It is made inside a function so that Dask pickles it by value: a
    module-level function would be pickled by reference and fail to unpickle on
    exactly the workers that lack the package.
    """

    def probe() -> str | None:
        try:
            import decorr_af

            return decorr_af.__version__
        except ImportError:
            return None

    return probe


def package_zip(directory: str | os.PathLike[str] | None = None) -> Path:
    """Zip the installed :mod:`decorr_af` package (sources only) for ``upload_file``.

    Without ``directory`` a new temporary directory is made; the caller removes it.
    """
    import decorr_af

    root = Path(decorr_af.__file__).parent
    directory = Path(directory or tempfile.mkdtemp(prefix="decorr_af-ship-"))
    path = directory / "decorr_af.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(root.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                zf.write(file, Path("decorr_af") / file.relative_to(root))
    return path


def ensure_package(client: Any, *, ship: ShipMode | str = ShipMode.AUTO) -> dict[str, Any]:
    """Make :mod:`decorr_af` importable on every worker of ``client``.

    Returns
    -------
    dict
        ``{"workers": n, "missing": n_without_package, "action": "none"|"upload"|"pickle"}``.

    Examples
    --------
    >>> ensure_package(client)  # doctest: +SKIP
    {'workers': 2, 'missing': 0, 'action': 'none'}
    """
    import decorr_af

    ship = ShipMode(ship)
    versions = client.run(_make_probe()) if ship is not ShipMode.NEVER else {}
    missing = [w for w, v in versions.items() if v != decorr_af.__version__]
    action = "none"
    if ship is ShipMode.UPLOAD or (ship is ShipMode.AUTO and missing):
        with tempfile.TemporaryDirectory(prefix="decorr_af-ship-") as tmp:
            client.upload_file(str(package_zip(tmp)))  # sent in full before it returns
        action = "upload"
    elif ship is ShipMode.PICKLE:
        import cloudpickle

        cloudpickle.register_pickle_by_value(decorr_af)
        action = "pickle"
    return {"workers": len(versions), "missing": len(missing), "action": action}

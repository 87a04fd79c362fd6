"""Real facility services for tests: XRootD, a one-node Slurm (with munge), dask-gateway.

A pytest plugin: test modules load it with ``pytest_plugins = ["_servers"]``.
Each fixture starts the daemons itself on 127.0.0.1 (free ports, a private
temporary directory), waits until they answer and stops exactly the processes
it started. Where a binary is missing the fixture skips with the reason and
the package that provides it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

#: seconds a daemon gets to answer
START_TIMEOUT = 60


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, what: str) -> None:
    """Wait until ``port`` accepts connections; fail with the log if ``proc`` dies."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    pytest.fail(f"{what} did not listen on port {port} within {START_TIMEOUT} s:\n{_tail(log)}")


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def stop(proc: subprocess.Popen | None, timeout: float = 15) -> None:
    """Terminate one process we started (then kill it if it lingers)."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


#: set (as .ci/run does) to make a missing facility service fail instead of skip
REQUIRE = "DECORR_AF_REQUIRE_FACILITY"


def skip(reason: str) -> None:
    """Skip with ``reason``, or fail where the environment requires the facility tests."""
    if os.environ.get(REQUIRE):
        pytest.fail(f"{reason} ({REQUIRE} is set: the facility tests must run)")
    pytest.skip(reason)


def _processes_under(directory: Path) -> list[int]:
    """Processes whose working directory lies in ``directory`` (ours: a private temp dir)."""
    out = []
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if os.readlink(entry / "cwd").startswith(str(directory)):
                out.append(int(entry.name))
    return out


def _wait_gone(pids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        if Path(f"/proc/{pid}").exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def need(binary: str, package: str) -> str:
    """Path of ``binary`` or skip naming the Debian package that has it."""
    path = shutil.which(binary)
    if path is None:
        skip(f"'{binary}' is not installed (apt-get install -y {package}; see .ci/run)")
    return str(path)


def need_module(module: str, reason: str) -> None:
    """Skip (or fail, see :data:`REQUIRE`) unless ``module`` imports."""
    try:
        __import__(module)
    except ImportError:
        skip(reason)


def need_root(what: str) -> None:
    """Skip unless we are root (daemons switch users)."""
    if os.geteuid() != 0:
        skip(f"{what} needs root here (its daemons run as other users)")


def _shared_tmpdir(prefix: str) -> Path:
    """A temporary directory other users may enter and read (for daemons run as them)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


# -- XRootD -------------------------------------------------------------------
@dataclass
class XRootDServer:
    """An ``xrootd`` serving ``export`` on 127.0.0.1:``port``."""

    export: Path
    port: int
    log: Path

    def url(self, path: str | os.PathLike[str]) -> str:
        """``root://127.0.0.1:PORT//abs/path`` of a path under :attr:`export`."""
        path = Path(path)
        if not path.is_absolute():
            path = self.export / path
        return f"root://127.0.0.1:{self.port}/{path}"


@pytest.fixture(scope="session")
def xrootd_server() -> Iterator[XRootDServer]:
    """XRootD 5 (Debian ``xrootd-server``) exporting a fresh directory, run as ``nobody``."""
    binary = need("xrootd", "xrootd-server")
    need_root("the XRootD server")
    need_module("XRootD", "the 'xrootd' wheel is not installed (extra [xrootd])")
    need_module("fsspec_xrootd", "'fsspec-xrootd' is not installed (extra [xrootd])")
    base = _shared_tmpdir("decorr-af-xrootd-")
    export, admin = base / "export", base / "admin"
    export.mkdir(mode=0o755)
    admin.mkdir(mode=0o755)
    shutil.chown(admin, "nobody")
    port = free_port()
    cfg = base / "xrootd.cfg"
    cfg.write_text(
        f"all.export {export}\nxrd.port {port}\nall.adminpath {admin}\nall.pidpath {admin}\n"
    )
    log = base / "xrootd.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [binary, "-c", str(cfg)],
            user="nobody",
            group="nogroup",
            extra_groups=[],
            cwd=admin,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, proc, log, "xrootd")
        yield XRootDServer(export=export, port=port, log=log)
    finally:
        stop(proc)
        shutil.rmtree(base, ignore_errors=True)


# -- Slurm ----------------------------------------------------------------------
@dataclass
class SlurmCluster:
    """A one-node Slurm on localhost: ``conf`` is its slurm.conf (``SLURM_CONF``)."""

    conf: Path
    base: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """The environment in which ``sbatch``/``squeue`` talk to this Slurm."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}


_SLURM_CONF = """\
ClusterName=decorraf
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CredType=cred/munge
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
SlurmctldPidFile={base}/slurmctld.pid
SlurmdPidFile={base}/slurmd.pid
SlurmctldLogFile={base}/slurmctld.log
SlurmdLogFile={base}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
KillWait=5
NodeName=facility NodeHostname={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory}
PartitionName=debug Nodes=facility Default=YES MaxTime=INFINITE State=UP
"""


def _wait_for_node(env: dict[str, str], procs: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    state = ""
    while time.monotonic() < deadline:
        for proc, log in zip(procs, logs):
            if proc.poll() is not None:
                pytest.fail(f"{proc.args[0]} exited with {proc.returncode}:\n{_tail(log)}")
        res = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%t"], env=env, capture_output=True, text=True, check=False
        )
        state = res.stdout.strip()
        if state in ("idle", "mix", "alloc"):
            return
        time.sleep(0.5)
    pytest.fail(f"the Slurm node is not idle after {START_TIMEOUT} s (state {state!r})")


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """``munged`` + ``slurmctld`` + ``slurmd`` (Debian ``slurm-wlm``, ``munge``) on localhost."""
    munged = need("munged", "munge")
    ctld = need("slurmctld", "slurm-wlm")
    slurmd = need("slurmd", "slurm-wlm")
    need("sbatch", "slurm-client")
    need_module("dask_jobqueue", "dask-jobqueue is not installed (extra [jobqueue])")
    need_root("the Slurm cluster")
    base = _shared_tmpdir("decorr-af-slurm-")
    munge_dir = base / "munge"
    munge_dir.mkdir(mode=0o755)
    key = munge_dir / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    for path in (munge_dir, key):
        shutil.chown(path, "munge", "munge")
    socket_path = munge_dir / "munge.socket"
    env: dict[str, str] | None = None
    procs: list[subprocess.Popen] = []
    logs: list[Path] = []

    def start(cmd: list[str], log: Path, **kwargs: object) -> subprocess.Popen:
        with log.open("w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **kwargs)
        procs.append(proc)
        logs.append(log)
        return proc

    try:
        munge_log = base / "munged.out"
        mproc = start(
            [munged, "-F", f"--key-file={key}", f"--socket={socket_path}",
             f"--pid-file={munge_dir / 'munged.pid'}", f"--log-file={munge_dir / 'munged.log'}",
             f"--seed-file={munge_dir / 'munged.seed'}"],
            munge_log, user="munge", group="munge", extra_groups=[], cwd=munge_dir,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not socket_path.exists():
            if mproc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"munged did not start:\n{_tail(munge_log)}")
            time.sleep(0.1)
        for sub in ("state", "spool"):
            (base / sub).mkdir()
        conf = base / "slurm.conf"
        import psutil

        conf.write_text(
            _SLURM_CONF.format(
                host=socket.gethostname().split(".")[0],
                ctld_port=free_port(),
                d_port=free_port(),
                munge_socket=socket_path,
                base=base,
                cpus=os.cpu_count() or 1,
                memory=int(psutil.virtual_memory().total / 2**20 * 0.8),
            )
        )
        env = {**os.environ, "SLURM_CONF": str(conf)}
        start([ctld, "-D", "-f", str(conf)], base / "slurmctld.out", env=env)
        start([slurmd, "-D", "-f", str(conf), "-N", "facility"], base / "slurmd.out", env=env)
        _wait_for_node(env, procs, logs)
        yield SlurmCluster(conf=conf, base=base, procs=procs)
    finally:
        if env is not None:  # cancel what is left before the daemons go
            subprocess.run(["scancel", "--user", "root"], env=env, capture_output=True, check=False)
        for proc in reversed(procs):
            stop(proc)
        shutil.rmtree(base, ignore_errors=True)


# -- dask-gateway ---------------------------------------------------------------
@dataclass
class GatewayServer:
    """A ``dask-gateway-server`` on 127.0.0.1 (local backend, simple password auth)."""

    address: str
    proxy_address: str
    password: str
    base: Path

    def env(self) -> dict[str, str]:
        """``DASK_GATEWAY__*`` variables a client uses to reach and log in to it."""
        return {
            "DASK_GATEWAY__ADDRESS": self.address,
            "DASK_GATEWAY__PROXY_ADDRESS": self.proxy_address,
            "DASK_GATEWAY__AUTH__TYPE": "basic",
            "DASK_GATEWAY__AUTH__KWARGS__USERNAME": "analyst",
            "DASK_GATEWAY__AUTH__KWARGS__PASSWORD": self.password,
        }


_GATEWAY_CONFIG = """\
c.DaskGateway.address = "127.0.0.1:{port}"
c.Proxy.address = "127.0.0.1:{proxy_port}"
c.DaskGateway.backend_class = "dask_gateway_server.backends.local.UnsafeLocalBackend"
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
c.SimpleAuthenticator.password = "{password}"
c.LocalBackend.clusters_directory = "{base}/clusters"
c.ClusterConfig.scheduler_cmd = ["{python}", "-m", "distributed.cli.dask_scheduler"]
c.ClusterConfig.worker_cmd = ["{python}", "-m", "distributed.cli.dask_worker"]
c.ClusterConfig.worker_cores = 1
c.ClusterConfig.worker_threads = 1
c.ClusterConfig.worker_memory = "2 G"
c.ClusterConfig.idle_timeout = 600
# the workers' "image" lacks decorr_af (see WORKER_SITE): the client must ship it
c.LocalBackend.inherited_environment = ["PATH", "OMP_NUM_THREADS", "MPLBACKEND"]
c.ClusterConfig.environment = {{"PYTHONPATH": "{site}"}}
c.DaskGateway.log_level = "INFO"
"""


#: ``sitecustomize`` of the gateway's scheduler and workers: an image without decorr_af
WORKER_SITE = '''\
"""Hide an installed decorr_af, as on a facility whose worker image lacks it.

Only a copy shipped by the client (``decorr_af.zip`` put on sys.path by
``Client.upload_file``) imports.
"""
import sys


class _NoInstalledDecorrAF:
    def find_spec(self, name, path=None, target=None):
        shipped = any(str(p).endswith("decorr_af.zip") for p in sys.path)
        if name.partition(".")[0] == "decorr_af" and not shipped:
            raise ModuleNotFoundError(f"No module named {name!r} (not in this image)", name=name)
        return None


sys.meta_path.insert(0, _NoInstalledDecorrAF())
'''


@pytest.fixture(scope="session")
def gateway_server() -> Iterator[GatewayServer]:
    """dask-gateway-server (PyPI) with its local backend on 127.0.0.1."""
    need_module("dask_gateway", "'dask-gateway' is not installed (extra [gateway])")
    need_module(
        "dask_gateway_server.backends.local",
        "'dask-gateway-server[local]' is not installed (test extra)",
    )
    base = Path(tempfile.mkdtemp(prefix="decorr-af-gateway-"))
    (base / "clusters").mkdir()
    site = base / "worker_site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(WORKER_SITE)
    port, proxy_port = free_port(), free_port()
    password = os.urandom(8).hex()
    cfg = base / "dask_gateway_config.py"
    cfg.write_text(
        _GATEWAY_CONFIG.format(
            port=port,
            proxy_port=proxy_port,
            password=password,
            base=base,
            python=sys.executable,
            site=site,
        )
    )
    log = base / "gateway.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dask_gateway_server", "-f", str(cfg)],
            cwd=base,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, proc, log, "dask-gateway-server")
        wait_for_port(proxy_port, proc, log, "dask-gateway-server (proxy)")
        yield GatewayServer(
            address=f"http://127.0.0.1:{port}",
            proxy_address=f"tcp://127.0.0.1:{proxy_port}",
            password=password,
            base=base,
        )
    finally:
        stop(proc, timeout=10)
        # the gateway starts schedulers/workers in their own sessions under base/clusters;
        # end the ones still running (a scheduler can outlive a stopped cluster)
        for pid in _processes_under(base / "clusters"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        _wait_gone(_processes_under(base / "clusters"), timeout=10)
        shutil.rmtree(base, ignore_errors=True)


# -- a small scan every cluster backend runs ---------------------------------------
def small_photon_scan(directory: Path, cluster: str) -> Path:
    """A two-point photon-ID scan YAML on a freshly generated sample; its path."""
    from decorr_af.data import generate

    generate(directory / "photons_mc", sample="photons", kind="mc", events=3000, files=2, seed=5)
    cfg = directory / "scan.yaml"
    cfg.write_text(
        "workflow: photon_id\n"
        "config:\n"
        f"  mc_files: ['{directory / 'photons_mc' / '*.root'}']\n"
        "  models: [cutbased, plain_bdt]\n"
        "  n_estimators: 10\n"
        "  max_depth: 2\n"
        "  jsd_permutations: 5\n"
        "scan: {strengths: [0, 1], seeds: [0], retries: 0}\n"
        f"cluster: {cluster}\n"
    )
    return cfg


def finished_points(out: Path) -> list[dict]:
    """``result.json`` of every point of a scan directory."""
    return [json.loads(p.read_text()) for p in sorted(out.glob("points/*/result.json"))]


@pytest.fixture
def photon_scan() -> Any:
    """The helpers of a backend scan test: ``.yaml(directory, cluster)``, ``.points(out)``."""
    return SimpleNamespace(yaml=small_photon_scan, points=finished_points)

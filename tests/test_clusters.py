"""Tests of decorr_af.scan.clusters: spec parsing for every kind, the local kind for real."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from unittest import mock

import pytest

from decorr_af.errors import ConfigError
from decorr_af.scan import clusters
from decorr_af.scan.clusters import ClusterKind, ClusterSpec, ShipMode, parse_cluster_spec


@pytest.mark.parametrize(
    ("text", "kind", "options"),
    [
        ("local", ClusterKind.LOCAL, {}),
        ("local:workers=2,threads=1", ClusterKind.LOCAL, {"workers": 2, "threads": 1}),
        ("LOCAL:processes=false,memory=2GB", ClusterKind.LOCAL, {"processes": False, "memory": "2GB"}),
        ("htcondor:cores=4,memory=8GB,jobs=10", ClusterKind.HTCONDOR,
         {"cores": 4, "memory": "8GB", "jobs": 10}),
        ("htcondor:adapt=true,minimum=1,maximum=20,job_extra_directives.+JobFlavour=espresso",
         ClusterKind.HTCONDOR,
         {"adapt": True, "minimum": 1, "maximum": 20,
          "job_extra_directives": {"+JobFlavour": "espresso"}}),
        ("slurm:cores=2,memory=4GB,jobs=3,queue=debug", ClusterKind.SLURM,
         {"cores": 2, "memory": "4GB", "jobs": 3, "queue": "debug"}),
        ("pbs:cores=32,account=MyProject,resource_spec=select=1:system=polaris", ClusterKind.PBS,
         {"cores": 32, "account": "MyProject", "resource_spec": "select=1:system=polaris"}),
        ("htcondor:container=/cvmfs/img,getenv=true", ClusterKind.HTCONDOR,
         {"container": "/cvmfs/img", "getenv": True}),
        ("gateway", ClusterKind.GATEWAY, {}),
        ("gateway:workers=4,cluster_options.worker_cores=2", ClusterKind.GATEWAY,
         {"workers": 4, "cluster_options": {"worker_cores": 2}}),
    ],
)  # fmt: skip
def test_parse_strings(text, kind, options):
    spec = parse_cluster_spec(text)
    assert spec.kind is kind
    assert dict(spec.options) == options
    assert ClusterSpec.parse(str(spec)).kind is kind


@pytest.mark.parametrize("address", ["tcp://10.0.0.1:8786", "tls://dask.coffea.casa:8786"])
def test_parse_address(address):
    spec = ClusterSpec.parse(address)
    assert spec.kind is ClusterKind.ADDRESS
    assert spec.address == address
    assert str(spec) == address


def test_parse_mapping_and_env(monkeypatch):
    spec = ClusterSpec.parse(
        {"kind": "htcondor", "cores": 2, "memory": "4GB", "log_directory": "/tmp/logs",
         "job_script_prologue": "source venv/bin/activate", "ship": "upload"}
    )  # fmt: skip
    assert spec.options["job_script_prologue"] == ("source venv/bin/activate",)
    assert spec.options["ship"] is ShipMode.UPLOAD
    assert spec.to_dict()["kind"] == "htcondor"
    assert ClusterSpec.parse({"address": "tls://h:8786", "tls_ca_file": "ca.pem"}).kind is (
        ClusterKind.ADDRESS
    )
    monkeypatch.setenv("DECORR_AF_CLUSTER", "local:workers=3")
    assert ClusterSpec.parse(None).options == {"workers": 3}
    monkeypatch.delenv("DECORR_AF_CLUSTER")
    assert ClusterSpec.parse(None).kind is ClusterKind.LOCAL


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("local:cores=4", "'cores' does not apply to cluster kind 'local'"),
        ("local:bogus=1", "unknown cluster option 'bogus'"),
        ("lsf", "cluster kind 'lsf' unknown"),
        ("local:workers=0", "'workers' must be positive"),
        ("local:workers=two", "'workers' must be an integer"),
        ("htcondor:minimum=5,maximum=2", "'minimum' is larger"),
        ("local:workers", "must be key=value"),
        ({"kind": "address"}, "needs a scheduler 'address'"),
        ({"kind": "local", "ship": "telepathy"}, "'ship' must be one of"),
        (42, "must be a string or mapping"),
    ],
)
def test_bad_specs_name_the_option(spec, match):
    with pytest.raises(ConfigError, match=match):
        ClusterSpec.parse(spec)


def test_htcondor_constructor_options():
    fake = mock.MagicMock()
    with (
        mock.patch("decorr_af._compat.optional_import", return_value=fake),
        mock.patch("shutil.which", return_value="/usr/bin/condor_submit"),
    ):
        spec = ClusterSpec.parse(
            {"kind": "htcondor", "cores": 4, "memory": "8GB", "disk": "10GB", "jobs": 5,
             "job_extra_directives": {"+JobFlavour": '"longlunch"'}, "log_directory": "logs",
             "python": "/env/bin/python"}
        )  # fmt: skip
        clusters._batch_cluster(spec)
    kwargs = fake.HTCondorCluster.call_args.kwargs
    assert kwargs == {
        "cores": 4,
        "memory": "8GB",
        "disk": "10GB",
        "log_directory": "logs",
        "python": "/env/bin/python",
        "job_extra_directives": {"+JobFlavour": '"longlunch"'},
    }
    fake.HTCondorCluster.return_value.scale.assert_called_once_with(jobs=5)


def test_htcondor_adapt_and_gateway_options():
    fake = mock.MagicMock()
    with (
        mock.patch("decorr_af._compat.optional_import", return_value=fake),
        mock.patch("shutil.which", return_value="/usr/bin/condor_submit"),
    ):
        clusters._batch_cluster(ClusterSpec.parse("htcondor:adapt=true,minimum=1,maximum=7"))
        fake.HTCondorCluster.return_value.adapt.assert_called_once_with(minimum=1, maximum=7)
        options = {}
        fake.Gateway.return_value.cluster_options.return_value = options
        spec = ClusterSpec.parse(
            {"kind": "gateway", "address": "https://gw.example", "workers": 3,
             "cluster_options": {"worker_memory": 4}}
        )  # fmt: skip
        clusters._gateway_cluster(spec)
    fake.Gateway.assert_called_once_with(address="https://gw.example")
    assert options == {"worker_memory": 4}
    fake.Gateway.return_value.new_cluster.return_value.scale.assert_called_once_with(3)


def test_address_client_uses_tls_security():
    fake_client = mock.MagicMock()
    fake_client.run.return_value = {}
    with mock.patch("distributed.Client", return_value=fake_client) as client_cls:
        clusters.get_client(
            {"address": "tls://casa:8786", "tls_ca_file": "ca.pem", "tls_client_cert": "c.pem"}
        )
    args, kwargs = client_cls.call_args
    assert args == ("tls://casa:8786",)
    sec = kwargs["security"]
    assert sec.tls_ca_file == "ca.pem"
    assert sec.tls_client_cert == "c.pem"
    assert sec.require_encryption


def test_package_zip_is_importable(tmp_path):
    path = clusters.package_zip(tmp_path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert "decorr_af/__init__.py" in names
    assert "decorr_af/scan/engine.py" in names
    assert not any("__pycache__" in n for n in names)
    code = f"import sys; sys.path.insert(0, {str(path)!r}); import decorr_af; print(decorr_af.__file__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert str(path) in out.stdout


@pytest.mark.dask
def test_local_cluster_for_real():
    with clusters.cluster("local:workers=1,threads=1,dashboard=127.0.0.1:0") as client:
        info = client.scheduler_info()
        assert len(info["workers"]) == 1
        worker = next(iter(info["workers"].values()))
        assert worker["nthreads"] == 1
        assert worker["memory_limit"] > 0
        assert client.submit(sum, [1, 2, 3]).result() == 6
        assert clusters.ensure_package(client) == {"workers": 1, "missing": 0, "action": "none"}
        assert client.dashboard_link.startswith("http://127.0.0.1:")
    assert client.status == "closed"


def test_ensure_package_uploads_where_missing():
    import decorr_af

    fake = mock.MagicMock()
    fake.run.return_value = {"tcp://w1": None, "tcp://w2": decorr_af.__version__}
    assert clusters.ensure_package(fake)["action"] == "upload"
    path = fake.upload_file.call_args.args[0]
    assert path.endswith("decorr_af.zip")
    fake.reset_mock()
    assert clusters.ensure_package(fake, ship="never")["action"] == "none"
    fake.upload_file.assert_not_called()


def test_timeout_option_applies_to_remote_kinds():
    assert ClusterSpec.parse({"address": "tcp://h:8786", "timeout": 5}).options["timeout"] == 5
    assert parse_cluster_spec("htcondor:timeout=30").options["timeout"] == 30
    with pytest.raises(ConfigError, match="'timeout' does not apply to cluster kind 'local'"):
        parse_cluster_spec("local:timeout=3")
    with pytest.raises(ConfigError, match="'timeout' must be positive"):
        parse_cluster_spec("gateway:timeout=0")


def test_unreachable_scheduler_is_a_cluster_error():
    from decorr_af.errors import ClusterError

    with (
        mock.patch("distributed.Client", side_effect=OSError("Timed out trying to connect")),
        pytest.raises(
            ClusterError, match=r"cannot reach the Dask scheduler at tcp://h:1 within 4 s"
        ),
    ):
        clusters.get_client({"address": "tcp://h:1", "timeout": 4})


def test_closing_errors_become_one_warning():
    client = mock.MagicMock()
    client.close.side_effect = TimeoutError("scheduler did not answer")
    with (
        mock.patch.object(clusters, "get_client", return_value=client),
        pytest.warns(RuntimeWarning, match="did not shut down cleanly") as record,
        clusters.cluster("local") as got,
    ):
        assert got is client
    assert len(record) == 1


def test_version_probe_unpickles_where_the_package_is_missing(tmp_path):
    """The probe travels by value: a worker without decorr_af answers None instead of failing."""
    import cloudpickle

    payload = tmp_path / "probe.pkl"
    payload.write_bytes(cloudpickle.dumps(clusters._make_probe()))
    code = (
        "import sys, pickle\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] == 'decorr_af':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        f"probe = pickle.loads(open({str(payload)!r}, 'rb').read())\n"
        "print(repr(probe()))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "None"


@pytest.mark.parametrize(
    ("spec", "cls", "expected"),
    [
        ("slurm:cores=2,memory=4GB,jobs=3,queue=debug,account=m1",
         "SLURMCluster", {"cores": 2, "memory": "4GB", "queue": "debug", "account": "m1"}),
        ("pbs:cores=8,memory=16GB,jobs=2,resource_spec=select=1:system=polaris",
         "PBSCluster", {"cores": 8, "memory": "16GB", "resource_spec": "select=1:system=polaris"}),
    ],
)  # fmt: skip
def test_slurm_and_pbs_constructor_options(spec, cls, expected):
    fake = mock.MagicMock()
    with (
        mock.patch("decorr_af._compat.optional_import", return_value=fake),
        mock.patch("shutil.which", return_value="/usr/bin/submit"),
    ):
        clusters._batch_cluster(ClusterSpec.parse(spec))
    assert getattr(fake, cls).call_args.kwargs == expected
    getattr(fake, cls).return_value.scale.assert_called_once_with(
        jobs=int(spec.split("jobs=")[1][0])
    )


def test_batch_kind_without_its_submit_command_is_a_cluster_error():
    from decorr_af.errors import ClusterError

    with (
        mock.patch("shutil.which", return_value=None),
        pytest.raises(ClusterError, match="Slurm is not available here \\(no sbatch on PATH\\)"),
    ):
        clusters._batch_cluster(ClusterSpec.parse("slurm:cores=1"))


def test_gateway_without_address_or_server_is_a_cluster_error():
    pytest.importorskip("dask_gateway")
    import dask

    from decorr_af.errors import ClusterError

    with (
        dask.config.set({"gateway.address": None}),
        pytest.raises(ClusterError, match="set DASK_GATEWAY__ADDRESS"),
    ):
        clusters._gateway_cluster(ClusterSpec.parse("gateway"))
    # in a subprocess: the gateway client's event-loop thread, still importing, upsets
    # CPython 3.11's AST state in pytest's assertion rewriter
    code = (
        "from decorr_af.errors import ClusterError\n"
        "from decorr_af.scan import clusters\n"
        "try:\n"
        "    clusters.get_client('gateway:address=http://127.0.0.1:9')\n"
        "except ClusterError as err:\n"
        "    print(err)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert "cannot reach the dask-gateway at http://127.0.0.1:9" in res.stdout, res.stderr

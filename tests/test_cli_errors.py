"""The CLI as a user hits it: one-line errors (exit 2) in its own language (issues 10, 18).

Commands run in a subprocess (``python -m decorr_af``) unless a fault has to be
injected (a failing cluster shutdown, a directory made unreadable for a root user).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import yaml
from conftest import ClosingFails

from decorr_af.cli import main

TESTS = Path(__file__).parent


def _cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    full = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(TESTS), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "decorr_af", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=timeout,
    )


def _one_error_line(proc: subprocess.CompletedProcess, command: str) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    errors = [ln for ln in lines if ln.startswith(f"decorr-af {command}: error: ")]
    assert len(errors) == 1, proc.stderr
    # anything else is a one-line warning (e.g. a busy dashboard port)
    assert all(ln.startswith(f"decorr-af {command}: warning: ") for ln in lines if ln not in errors)
    return errors[0]


def _toy_yaml(tmp_path: Path, *, files: list[str] | None = None, **scan_section) -> Path:
    samples = tmp_path / "mc"
    samples.mkdir(exist_ok=True)
    (samples / "a.root").write_bytes(b"root" + b"x" * 100)
    spec = {
        "workflow": "toy_workflow",
        "config": {"mc_files": files or [str(samples / "*.root")]},
        "scan": {"strengths": [0, 1], "seeds": [3], **scan_section},
    }
    path = tmp_path / "scan.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


LOCAL = "local:workers=1,threads=1,processes=false"


# -- scan ----------------------------------------------------------------------------------
@pytest.mark.dask
def test_scan_one_seed_prints_no_empty_std_columns(tmp_path):
    proc = _cli("scan", str(_toy_yaml(tmp_path, report=False, progress=False)),
                "--out", str(tmp_path / "out"), "--cluster", LOCAL)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    header = proc.stdout.splitlines()[0].split()
    assert header[:3] == ["strength", "n_seeds", "toy.acc"]
    assert not [c for c in header if c.endswith("_std")]
    assert "report:" not in proc.stdout  # scan.report: false in the YAML


@pytest.mark.dask
def test_scan_shutdown_error_is_a_warning_and_exit_0(tmp_path, dask_client, capsys):
    import cloudpickle
    import toy_workflow

    cloudpickle.register_pickle_by_value(toy_workflow)
    try:
        with mock.patch(
            "decorr_af.scan.clusters.get_client", return_value=ClosingFails(dask_client)
        ):
            rc = main(["scan", str(_toy_yaml(tmp_path)), "--out", str(tmp_path / "o"),
                       "--no-progress", "--no-report"])  # fmt: skip
    finally:
        cloudpickle.unregister_pickle_by_value(toy_workflow)
    captured = capsys.readouterr()
    assert rc == 0
    warned = [ln for ln in captured.err.splitlines() if "did not shut down cleanly" in ln]
    assert len(warned) == 1
    assert warned[0].startswith("decorr-af scan: warning: ")
    assert "scan results:" in captured.out


def test_unreachable_scheduler_fails_fast_in_one_line(tmp_path):
    proc = _cli("scan", str(_toy_yaml(tmp_path)), "--out", str(tmp_path / "o"),
                "--cluster", "tcp://127.0.0.1:1", timeout=120)  # fmt: skip
    line = _one_error_line(proc, "scan")
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in line


def test_htcondor_without_condor_fails_in_one_line(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    proc = _cli("scan", str(_toy_yaml(tmp_path)), "--out", str(tmp_path / "o"),
                "--cluster", "htcondor:cores=1,memory=1GB,jobs=2",
                env={"PATH": str(empty)}, timeout=120)  # fmt: skip
    line = _one_error_line(proc, "scan")
    assert "HTCondor is not available here (no condor_submit on PATH)" in line


def test_htcondor_without_workers_fails_in_bounded_time(tmp_path):
    """condor_submit accepts the job but no worker ever starts: 'no workers arrived'."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "condor_submit").write_text(
        "#!/bin/sh\ncat > /dev/null\necho '1 job(s) submitted to cluster 42.'\necho 42.0\n"
    )
    (fake / "condor_rm").write_text("#!/bin/sh\nexit 0\n")
    for f in fake.iterdir():
        f.chmod(0o755)
    spec = _toy_yaml(tmp_path)
    data = yaml.safe_load(spec.read_text())
    data["cluster"] = {"kind": "htcondor", "cores": 1, "memory": "1GB", "jobs": 1, "timeout": 3}
    spec.write_text(yaml.safe_dump(data))
    path = f"{fake}{os.pathsep}{os.environ.get('PATH', '')}"
    proc = _cli("scan", str(spec), "--out", str(tmp_path / "o"), env={"PATH": path}, timeout=180)
    line = _one_error_line(proc, "scan")
    assert "no workers arrived within 3 s" in line


@pytest.mark.parametrize(
    ("scan_section", "files", "match"),
    [
        ({}, ["/nonexistent/photons/*.root"], "mc_files: no file matches '/nonexistent/photons/*.root'"),
        ({"strengths": [1, -1]}, None, "strength (λ) must be finite and >= 0, got -1"),
        ({"retries": -1}, None, "scan.retries must be an integer >= 0"),
        ({"overwrite": "yes"}, None, "scan.overwrite must be true or false"),
    ],
)  # fmt: skip
def test_bad_scan_input_is_refused_before_the_cluster(tmp_path, scan_section, files, match):
    """The unreachable scheduler shows that nothing was submitted: validation comes first."""
    proc = _cli("scan", str(_toy_yaml(tmp_path, files=files, **scan_section)),
                "--out", str(tmp_path / "o"), "--cluster", "tcp://127.0.0.1:1")  # fmt: skip
    line = _one_error_line(proc, "scan")
    assert match in line
    assert "scheduler" not in line


# -- generate / export --------------------------------------------------------------------
def test_generate_refuses_mismodelling_for_mc(tmp_path):
    proc = _cli("generate", "--kind", "mc", "--mismodelling", "1", "--events", "10",
                "--out", str(tmp_path / "g"))  # fmt: skip
    assert "--mismodelling applies to --kind data only" in _one_error_line(proc, "generate")
    assert not (tmp_path / "g").exists()


def test_export_speaks_flags_not_api(tmp_path):
    proc = _cli("export", str(TESTS / "data" / "PHYSLITE_example.root"), "--out",
                str(tmp_path / "table.csv"))  # fmt: skip
    line = _one_error_line(proc, "export")
    assert "--format parquet|hdf5" in line
    assert "format=" not in line


def test_export_nonfinite_hint_names_the_flag(tmp_path, capsys):
    from decorr_af.data.validate import format_nonfinite
    from decorr_af.errors import NonFiniteValueError

    err = NonFiniteValueError(format_nonfinite({"a.root": {"Reta": 3}}))
    with mock.patch("decorr_af.data.export.export_table", side_effect=err):
        rc = main(["export", str(TESTS / "data" / "PHYSLITE_example.root"), "--out",
                   str(tmp_path / "t.parquet")])  # fmt: skip
    line = capsys.readouterr().err.strip()
    assert rc == 2
    assert "Pass --nonfinite drop to drop those rows or --nonfinite keep" in line
    assert "nonfinite='" not in line


@pytest.mark.parametrize(
    ("selection", "match"),
    [
        ("pt >", "--selection 'pt >' is not a valid expression"),
        ("ptt > 25", "--selection 'ptt > 25': unknown column 'ptt'"),
    ],
)
def test_export_bad_selection_is_one_line(tmp_path, selection, match):
    proc = _cli("export", str(TESTS / "data" / "PHYSLITE_example.root"), "--out",
                str(tmp_path / "t.parquet"), "--selection", selection)  # fmt: skip
    assert match in _one_error_line(proc, "export")
    assert list(tmp_path.iterdir()) == []


def _deny(monkeypatch, blocked: Path) -> None:
    real = os.access

    def access(path, mode, *args, **kwargs):
        p = Path(path)
        return (
            False if (p == blocked or blocked in p.parents) else real(path, mode, *args, **kwargs)
        )

    monkeypatch.setattr(os, "access", access)


def test_export_unreadable_directory_and_unwritable_out(tmp_path, monkeypatch, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "a.root").write_bytes((TESTS / "data" / "PHYSLITE_example.root").read_bytes())
    _deny(monkeypatch, locked)
    assert main(["export", str(locked), "--out", str(tmp_path / "t.parquet")]) == 2
    assert f"FILES: cannot read directory {locked}" in capsys.readouterr().err
    assert main(["export", str(locked / "*.root"), "--out", str(tmp_path / "t.parquet")]) == 2
    assert f"FILES: cannot read directory {locked}" in capsys.readouterr().err
    source = str(TESTS / "data" / "PHYSLITE_example.root")
    assert main(["export", source, "--out", str(locked / "t.parquet")]) == 2
    assert f"directory {locked} is not writable" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_generate_and_export_into_unwritable_directory_for_real(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        proc = _cli("generate", "--events", "10", "--out", str(ro / "g"))
        _one_error_line(proc, "generate")
        proc = _cli("export", str(TESTS / "data" / "PHYSLITE_example.root"), "--out",
                    str(ro / "t.parquet"))  # fmt: skip
        assert "not writable" in _one_error_line(proc, "export")
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize(
    ("argv", "target"),
    [
        (["generate", "--events", "10", "--out", "/ro/samples"], "decorr_af.data.writer.generate"),
        (["report", "/ro/scan"], "decorr_af.report.write_report"),
    ],
)
def test_file_system_errors_are_one_line(argv, target, capsys):
    """An unwritable --out or unreadable directory (as a non-root user meets it): one line, exit 2."""
    err = PermissionError(13, "Permission denied", argv[-1])
    with mock.patch(target, side_effect=err):
        assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"decorr-af {argv[0]}: error: {argv[-1]}: Permission denied"]

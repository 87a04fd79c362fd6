"""Scans notice changed inputs (issue 18) and check inputs before submitting (issue 10).

The toy workflow's metric ``toy.input_bytes`` is the total size of its input
files, so a point computed on old inputs is visible in the table.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from decorr_af.errors import ConfigError, InputFileError
from decorr_af.scan import expand_points, scan
from decorr_af.workflows.inputs import (
    check_weights,
    input_fingerprint,
    naming_inputs,
    resolve_inputs,
)


@pytest.fixture(scope="module")
def toy():
    import cloudpickle
    import toy_workflow

    cloudpickle.register_pickle_by_value(toy_workflow)
    yield toy_workflow
    cloudpickle.unregister_pickle_by_value(toy_workflow)


def _starts(log: Path) -> int:
    return sum(ln.startswith("start") for ln in log.read_text().splitlines()) if log.exists() else 0


def _files(directory: Path, n: int, size: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (directory / f"photons_mc_{i:03d}.root").write_bytes(b"root" + b"x" * size)
    return directory


@pytest.mark.dask
def test_regenerated_inputs_recompute_and_say_why(toy, dask_client, tmp_path, capsys):
    samples, log, out = _files(tmp_path / "mc", 2, 2000), tmp_path / "runs.log", tmp_path / "scan"
    cfg = {"mc_files": [str(samples / "*.root")], "log": str(log)}
    kwargs = {"strengths": [0.0, 1.0], "seeds": [5, 6], "client": dask_client, "out": out}
    first = scan(toy, cfg, progress=False, **kwargs)
    assert set(first.table["toy.input_bytes"]) == {2 * 2004.0}
    scan(toy, cfg, progress=False, **kwargs)
    assert _starts(log) == 4  # unchanged inputs: all reused
    # regenerate the inputs with fewer events (as notebook 06 with -p events 5000 did)
    _files(samples, 2, 500)
    capsys.readouterr()
    again = scan(toy, cfg, progress=False, **kwargs)
    err = capsys.readouterr().err
    assert "inputs changed since the last run (mc_files: changed photons_mc_000.root" in err
    assert "recomputing" in err
    assert _starts(log) == 8
    assert set(again.table["toy.input_bytes"]) == {2 * 504.0}
    assert len(again.table) == 4  # the stale points left the index
    spec = json.loads((out / "scan.json").read_text())
    assert spec["last_run"]["computed"] == 4
    assert spec["last_run"]["reused"] == 0
    assert len(list((out / "points").iterdir())) == 4
    # a new file matching the glob also counts as a change
    (samples / "photons_mc_009.root").write_bytes(b"root")
    capsys.readouterr()
    scan(toy, cfg, progress=False, **kwargs)
    assert "mc_files: new photons_mc_009.root" in capsys.readouterr().err


@pytest.mark.dask
def test_another_package_version_recomputes(toy, dask_client, tmp_path, capsys, monkeypatch):
    from decorr_af.scan import engine

    out, log = tmp_path / "scan", tmp_path / "runs.log"
    kwargs = {"strengths": [1.0], "client": dask_client, "out": out, "progress": False}
    scan(toy, {"log": str(log)}, **kwargs)
    monkeypatch.setattr(engine, "__version__", "99.0")
    capsys.readouterr()
    scan(toy, {"log": str(log)}, **kwargs)
    assert "-> 99.0" in capsys.readouterr().err
    assert _starts(log) == 2


def test_point_ids_follow_the_input_files(toy, tmp_path):
    samples = _files(tmp_path / "mc", 1, 100)
    cfg = toy.Config(mc_files=(str(samples / "*.root"),))
    before = expand_points(cfg, strengths=[1.0])[0]["id"]
    assert expand_points(cfg, strengths=[1.0])[0]["id"] == before
    path = samples / "photons_mc_000.root"
    path.write_bytes(b"root" + b"y" * 100)  # same size, new mtime
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert expand_points(cfg, strengths=[1.0])[0]["id"] != before


# -- resolving and checking inputs ---------------------------------------------------------
def test_resolve_inputs_messages_name_the_key(tmp_path):
    samples = _files(tmp_path / "mc", 2, 10)
    assert resolve_inputs(str(samples), key="mc_files") == sorted(samples.glob("*.root"))
    assert len(resolve_inputs([str(samples / "*.root"), str(samples / "*_000.root")], key="k")) == 2
    with pytest.raises(InputFileError, match=r"data_files: no file matches '.*nothing\*\.root'"):
        resolve_inputs(str(tmp_path / "nothing*.root"), key="data_files")
    with pytest.raises(ConfigError, match="mc_files: empty"):
        resolve_inputs([], key="mc_files")
    fp = input_fingerprint(__import__("toy_workflow").Config(mc_files=(str(samples / "*.root"),)))
    assert [Path(p).name for p, _, _ in fp["mc_files"]] == [
        "photons_mc_000.root",
        "photons_mc_001.root",
    ]


def _deny(monkeypatch, blocked: Path) -> None:
    """Make ``blocked`` unreadable as for an unprivileged user (tests may run as root)."""
    real_access, real_open = os.access, Path.open

    def access(path, mode, *args, **kwargs):
        p = Path(path)
        if p == blocked or blocked in p.parents:
            return False
        return real_access(path, mode, *args, **kwargs)

    def open_(self, *args, **kwargs):
        if self == blocked or blocked in self.parents:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(Path, "open", open_)


@pytest.mark.parametrize("form", ["glob", "file", "directory"])
def test_unreadable_directory_is_named(tmp_path, monkeypatch, form):
    samples = _files(tmp_path / "locked", 1, 10)
    target = {
        "glob": samples / "*.root",
        "file": samples / "photons_mc_000.root",
        "directory": samples,
    }[form]
    _deny(monkeypatch, samples)
    with pytest.raises(InputFileError, match=rf"mc_files: cannot read directory {samples}"):
        resolve_inputs(str(target), key="mc_files")


def test_unreadable_file_is_named(tmp_path, monkeypatch):
    samples = _files(tmp_path / "mc", 1, 10)
    bad = samples / "photons_mc_000.root"
    _deny(monkeypatch, bad)
    with pytest.raises(InputFileError, match=rf"mc_files: cannot read {bad} \(permission denied\)"):
        resolve_inputs(str(samples / "*.root"), key="mc_files")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable files")
def test_unreadable_directory_for_real(tmp_path):
    samples = _files(tmp_path / "locked", 1, 10)
    samples.chmod(0)
    try:
        with pytest.raises(InputFileError, match="cannot read directory"):
            resolve_inputs(str(samples / "*.root"), key="mc_files")
    finally:
        samples.chmod(0o755)


def test_check_weights_names_weights_and_files():
    import numpy as np

    check_weights(np.array([0.5, 1.0, 2.0]), key="mc_files", files=["a.root"])
    with pytest.raises(InputFileError, match=r"mc_files \['a.root'\]: event weights \('weight'\)"):
        check_weights(np.array([1.0, -0.5]), key="mc_files", files=["a.root"])
    with pytest.raises(InputFileError, match=r"1 zero, 0 negative, 1 NaN/inf"):
        check_weights(np.array([0.0, np.nan, 1.0]), key="data_files")


def test_naming_inputs_adds_key_and_files():
    from decorr_af.errors import MissingBranchError

    with (
        pytest.raises(MissingBranchError, match=r"^mc_files \['/d/a.root'\]: branch 'x' missing$"),
        naming_inputs("mc_files", ["/d/a.root"]),
    ):
        raise MissingBranchError("branch 'x' missing")
    with (  # already names the file: the key is still added
        pytest.raises(MissingBranchError, match=r"^mc_files: /d/a.root: branch 'x' missing$"),
        naming_inputs("mc_files", ["/d/a.root"]),
    ):
        raise MissingBranchError("/d/a.root: branch 'x' missing")
    with (  # already names key and file: unchanged
        pytest.raises(MissingBranchError, match=r"^mc_files: /d/a.root: branch 'x' missing$"),
        naming_inputs("mc_files", ["/d/a.root"]),
    ):
        raise MissingBranchError("mc_files: /d/a.root: branch 'x' missing")

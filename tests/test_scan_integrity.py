"""Scan directories that never lose or mix results (issue 10).

Manifest-verified resume, one writer per directory (a real second process holds
the lock), points of another config never reused, validated ids and workflow
names, deterministic errors not retried, one point at a time per single-thread
worker, cluster shutdown errors as one warning, no temporary directories left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from unittest import mock

import pytest
from conftest import ClosingFails

from decorr_af.errors import (
    ConfigError,
    IncompleteResultError,
    InputFileError,
    ScanLockedError,
)
from decorr_af.scan import ScanError, load_scan, scan
from decorr_af.workflows.base import RunResult, verify_result

TESTS = Path(__file__).parent


@pytest.fixture(scope="module")
def toy():
    """tests/toy_workflow.py, pickled by value so the workers need not import it."""
    import cloudpickle
    import toy_workflow

    cloudpickle.register_pickle_by_value(toy_workflow)
    yield toy_workflow
    cloudpickle.unregister_pickle_by_value(toy_workflow)


def _starts(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [ln.split() for ln in log.read_text().splitlines() if ln.startswith("start")]


def _wait_for(path: Path, proc: subprocess.Popen, what: str) -> None:
    """Wait until ``path`` exists (written by ``proc``); fail if ``proc`` dies first."""
    deadline = time.monotonic() + 120  # a generous bound, not a timing assumption
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"{what} exited early: {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} never signalled {path}")
        time.sleep(0.02)


# -- manifest-verified resume ---------------------------------------------------------
def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CORRUPTIONS = {
    "arrays.npz": _truncate,
    "result.json": _truncate,
    "hists.json": lambda p: p.write_text('{"x": 1}'),
    "manifest.json": lambda p: p.unlink(),
    "models/toy/weights.pt": _truncate,
    "models/toy/metadata.json": lambda p: p.unlink(),
}


@pytest.mark.dask
@pytest.mark.parametrize("member", sorted(CORRUPTIONS))
def test_resume_recomputes_a_damaged_point_and_says_so(toy, dask_client, tmp_path, member, capsys):
    out, log = tmp_path / "scan", tmp_path / "runs.log"
    kwargs = {"strengths": [0.0, 2.0], "seeds": [31], "client": dask_client, "out": out}
    first = scan(toy, {"log": str(log)}, progress=False, **kwargs)
    bad, _ = list(first.table["id"])
    CORRUPTIONS[member](out / "points" / bad / member)
    log.write_text("")
    capsys.readouterr()
    again = scan(toy, {"log": str(log)}, progress=False, **kwargs)
    assert f"point {bad} is incomplete ({member}): recomputing" in capsys.readouterr().err
    assert [s[1] for s in _starts(log)] == ["0.0"]
    assert again.missing == []
    verify_result(out / "points" / bad)
    assert again.result(bad).metrics == again.result(bad).metrics  # loads, manifest verified


def test_load_model_of_a_damaged_point_names_the_file(tmp_path):
    import toy_workflow

    res = toy_workflow.run(toy_workflow.Config(), strength=1.0, seed=4, out=tmp_path / "r")
    _truncate(tmp_path / "r" / "models" / "toy" / "weights.pt")
    loaded = RunResult.load(tmp_path / "r", verify=False)
    with pytest.raises(IncompleteResultError, match=r"models/toy/weights\.pt: size"):
        loaded.load_model("toy")
    with pytest.raises(IncompleteResultError, match=r"weights\.pt"):
        RunResult.load(tmp_path / "r")
    assert res.metrics["toy.acc"] > 0


@pytest.mark.parametrize("kind", ["torch", "xgboost"])
@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_io_load_model_raises_typed_errors(tmp_path, kind, damage):
    """A truncated or missing weights file gives InputFileError naming it (not a torch/xgboost error)."""
    import numpy as np

    from decorr_af.models.io import TORCH_WEIGHTS_FILE, XGB_MODEL_FILE, load_model

    rng = np.random.default_rng(7719)
    X, y = rng.normal(size=(200, 3)), rng.integers(0, 2, size=200)
    if kind == "torch":
        pytest.importorskip("torch")
        from decorr_af.models import DecorrelatedClassifier

        model = DecorrelatedClassifier(hidden=(4,), epochs=1, random_state=3)
        name = TORCH_WEIGHTS_FILE
    else:
        pytest.importorskip("xgboost")
        from decorr_af.models import DisCoXGBClassifier

        model = DisCoXGBClassifier(n_estimators=3, max_depth=2, random_state=3)
        name = XGB_MODEL_FILE
    model.fit(X, y)
    model.save(tmp_path / "m")
    load_model(tmp_path / "m")  # intact: loads
    target = tmp_path / "m" / name
    if damage == "truncate":
        _truncate(target)
    else:
        target.unlink()
    with pytest.raises(InputFileError, match=rf"{name}: (damaged|missing)"):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "metadata.json").write_text('{"format": "decorr_af-mo')
    with pytest.raises(InputFileError, match=r"metadata\.json: not valid JSON"):
        load_model(tmp_path / "m")


# -- one writer per directory ----------------------------------------------------------
HOLDER = """
import sys, time
from pathlib import Path
from decorr_af.scan.lock import scan_lock
out, ready, go = map(Path, sys.argv[1:4])
with scan_lock(out):
    ready.write_text("locked")
    while not go.exists():
        time.sleep(0.02)
"""


@pytest.mark.dask
def test_second_writer_is_refused_and_a_dead_holder_is_stale(toy, dask_client, tmp_path):
    out, ready, go = tmp_path / "scan", tmp_path / "ready", tmp_path / "go"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out), str(ready), str(go)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(ready, holder, "lock holder")
        kwargs = {"strengths": [1.0], "client": dask_client, "out": out, "progress": False}
        with pytest.raises(ScanLockedError, match=rf"pid {holder.pid} on host"):
            scan(toy, {"log": str(tmp_path / "a.log")}, **kwargs)
        assert not (out / "scan.json").exists()  # refused before touching the index
        # the holder dies without releasing: its lock file stays, but the lock is stale
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert json.loads((out / ".scan.lock").read_text())["pid"] == holder.pid
        res = scan(toy, {"log": str(tmp_path / "a.log")}, **kwargs)
        assert len(res.table) == 1
        assert json.loads((out / ".scan.lock").read_text())["pid"] == os.getpid()
    finally:
        go.write_text("go")
        if holder.poll() is None:
            holder.kill()
        holder.wait()


@pytest.mark.dask
def test_index_merges_runs_and_never_mixes_configs(toy, dask_client, tmp_path, capsys):
    out, log = tmp_path / "scan", tmp_path / "runs.log"
    common = {"client": dask_client, "out": out, "progress": False}
    scan(toy, {"log": str(log)}, strengths=[0.0, 1.0], **common)
    res = scan(toy, {"log": str(log)}, strengths=[3.0], **common)
    assert sorted(res.table["strength"]) == [0.0, 1.0, 3.0]
    old_ids = set(res.table["id"])
    kept = tmp_path / "kept"
    shutil.copytree(out / "points", kept)
    # another base config with overwrite: new ids, every point recomputed
    log.write_text("")
    new = scan(
        toy, {"log": str(log), "lr": 0.5}, strengths=[0.0, 1.0, 3.0], overwrite=True, **common
    )
    assert len(_starts(log)) == 3
    assert not old_ids & set(new.table["id"])
    assert new.table["toy.acc"].min() > 0.5
    # a late write of the old config (e.g. a worker of a killed run) lands in points/:
    # it is never listed nor reused, and the next run clears it
    for child in kept.iterdir():
        shutil.copytree(child, out / "points" / child.name)
    assert set(load_scan(out).table["id"]) == set(new.table["id"])
    log.write_text("")
    again = scan(toy, {"log": str(log), "lr": 0.5}, strengths=[0.0, 1.0, 3.0], **common)
    assert _starts(log) == []
    assert again.table.equals(new.table)
    assert {p.name for p in (out / "points").iterdir()} == set(new.table["id"])


def test_point_ids_and_workflow_names_from_scan_json_are_checked(tmp_path):
    for bad in ["../../etc", "a/b", "", ".hidden", "p" * 80]:
        (tmp_path / "scan.json").write_text(
            json.dumps(
                {"workflow": "x", "config": {}, "points": [{"id": bad, "params": {}, "seed": 0}]}
            )
        )
        with pytest.raises(InputFileError, match="invalid id"):
            load_scan(tmp_path)
    (tmp_path / "scan.json").write_text(
        json.dumps({"workflow": "os", "workflow_module": "os", "config": {}, "points": []})
    )
    with pytest.raises(ConfigError, match="'os' is not a registered workflow"):
        load_scan(tmp_path).workflow_module()
    (tmp_path / "scan.json").write_text(
        json.dumps(
            {
                "workflow": "clustering",
                "workflow_module": "decorr_af.workflows.clustering",
                "config": {},
                "points": [],
            }
        )
    )
    with mock.patch("decorr_af.workflows.get_workflow", return_value="module") as get:
        assert load_scan(tmp_path).workflow_module() == "module"
    get.assert_called_once_with("clustering")


# -- validation before submission, no retries of deterministic errors ---------------------
@pytest.mark.parametrize(
    ("config", "kwargs", "error", "match"),
    [
        ({}, {"strengths": [1.0, -1.0]}, ConfigError, r"strength \(λ\) must be finite and >= 0"),
        ({}, {"strengths": [float("nan")]}, ConfigError, "must be finite"),
        ({}, {"strengths": [float("inf")]}, ConfigError, "must be finite"),
        ({"hidden": [8, 0]}, {}, ConfigError, "'hidden' must hold positive layer sizes"),
        ({}, {"grid": {"hidden": [[4], [-2]]}}, ConfigError, "positive layer sizes"),
        (
            {"mc_files": ["/nonexistent/dir/*.root"]},
            {},
            InputFileError,
            "mc_files: no file matches",
        ),
        ({}, {"seeds": [-1]}, ConfigError, "seeds must be >= 0"),
    ],
)
def test_bad_points_fail_in_the_client_before_any_cluster(
    toy, tmp_path, config, kwargs, error, match
):
    """An unreachable scheduler proves nothing was submitted: validation comes first."""
    with pytest.raises(error, match=match):
        scan(toy, config, cluster="tcp://127.0.0.1:1", out=tmp_path / "s", progress=False, **kwargs)
    assert not (tmp_path / "s" / "scan.json").exists()


def test_cutbased_only_photon_id_refuses_negative_strength(tmp_path):
    from decorr_af.scan import expand_points
    from decorr_af.workflows import photon_id

    (tmp_path / "mc.root").write_bytes(b"root")
    cfg = photon_id.Config(mc_files=(str(tmp_path / "mc.root"),), models=("cutbased",))
    with pytest.raises(ConfigError, match="must be finite and >= 0"):
        expand_points(cfg, strengths=[-1.0])


@pytest.mark.dask
def test_config_errors_on_workers_are_not_retried(toy, dask_client, tmp_path):
    out, log = tmp_path / "scan", tmp_path / "runs.log"
    (tmp_path / "runs.log.fail").write_text("2.0 ConfigError\n")
    with pytest.raises(ScanError, match=r"1 of 2 scan points failed.*ConfigError: toy failure"):
        scan(toy, {"log": str(log)}, strengths=[0.0, 2.0], retries=3, client=dask_client,
             out=out, progress=False)  # fmt: skip
    assert [s[1] for s in _starts(log)].count("2.0") == 1
    failed = load_scan(out).info["last_run"]["failed"]
    assert "ConfigError: toy failure" in failed[0]["error"]


@pytest.mark.dask
def test_single_thread_worker_runs_nested_computes_inline(toy, dask_client, tmp_path):
    res = scan(toy, {"nested": True}, strengths=[0.0, 1.0, 2.0, 3.0], client=dask_client,
               out=tmp_path / "scan", progress=False)  # fmt: skip
    assert res.table["toy.same_thread"].tolist() == [1.0] * 4


# -- cluster shutdown and package shipping ------------------------------------------------
@pytest.mark.dask
def test_shutdown_error_is_one_warning_and_the_scan_succeeds(toy, dask_client, tmp_path):
    out = tmp_path / "scan"
    with (
        mock.patch("decorr_af.scan.clusters.get_client", return_value=ClosingFails(dask_client)),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        res = scan(toy, {}, strengths=[0.0, 1.0], cluster="local", out=out, progress=False)
    shutdown = [w for w in caught if "did not shut down cleanly" in str(w.message)]
    assert len(shutdown) == 1
    assert issubclass(shutdown[0].category, RuntimeWarning)
    assert len(res.table) == 2
    assert json.loads((out / "scan.json").read_text())["last_run"]["computed"] == 2


def test_shipping_the_package_leaves_no_temporary_directory(tmp_path, monkeypatch):
    import tempfile

    import decorr_af
    from decorr_af.scan import clusters

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    uploaded = []
    fake = mock.MagicMock()
    fake.run.return_value = {"tcp://w1": None}
    fake.upload_file.side_effect = lambda p: uploaded.append((p, Path(p).stat().st_size))
    assert clusters.ensure_package(fake)["action"] == "upload"
    assert len(uploaded) == 1
    assert uploaded[0][1] > 0
    assert uploaded[0][0].endswith("decorr_af.zip")
    assert list(tmp_path.iterdir()) == []
    assert decorr_af.__version__

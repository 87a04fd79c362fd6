"""Tests of decorr_af.scan: point expansion, distributed scans, resume, results, report, CLI."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import types
import warnings

import numpy as np
import pytest

from decorr_af.errors import ConfigError, InputFileError
from decorr_af.scan import ScanError, expand_points, load_scan, pareto_front, point_id, scan

TOY_SOURCE = """
from __future__ import annotations
import dataclasses, os, time
from pathlib import Path
import numpy as np
from decorr_af.workflows.base import RunResult, WorkflowConfig

PRIMARY_MODEL = "toy"
DEFAULT_PARETO = [("toy.acc", "toy.inv_corr")]

@dataclasses.dataclass(frozen=True)
class Config(WorkflowConfig):
    workflow = "toy_scan_workflow"
    lr: float = 0.01
    hidden: tuple[int, ...] = (8,)
    sleep: float = 0.02
    log: str = ""
    opts: dict = dataclasses.field(default_factory=lambda: {"a": 1})

def _log(config, text):
    if config.log:
        with open(config.log, "a") as f:
            f.write(text + "\\n")

def run(config, *, strength=None, seed=0, out=None):
    _log(config, f"start {strength} {seed} {os.getpid()}")
    fail = Path(config.log + ".fail") if config.log else None
    if fail is not None and fail.exists() and str(strength) in fail.read_text().split():
        raise RuntimeError(f"toy failure at strength {strength}")
    time.sleep(config.sleep)
    s = 0.0 if strength is None else strength
    rng = np.random.default_rng(seed)
    metrics = {
        "toy.acc": 1.0 / (1.0 + s) + 0.01 * rng.normal() + config.lr,
        "toy.inv_corr": s / (1.0 + s) + 0.01 * rng.normal() + sum(config.hidden) / 1000,
    }
    res = RunResult(workflow="toy_scan_workflow", config=config.to_dict(), seed=seed,
                    strength=strength, metrics=metrics, arrays={"score": rng.normal(size=20)})
    _log(config, f"done {strength} {seed} {os.getpid()}")
    if out is not None:
        res.save(out)
    return res
"""


@pytest.fixture(scope="module")
def toy():
    """A tiny workflow module, pickled by value so the workers need not import it."""
    import cloudpickle

    mod = types.ModuleType("toy_scan_workflow")
    sys.modules[mod.__name__] = mod
    exec(compile(TOY_SOURCE, "toy_scan_workflow.py", "exec"), mod.__dict__)
    cloudpickle.register_pickle_by_value(mod)
    yield mod
    cloudpickle.unregister_pickle_by_value(mod)
    del sys.modules[mod.__name__]


def _starts(log):
    if not log.exists():
        return []
    return [line.split() for line in log.read_text().splitlines() if line.startswith("start")]


# -- point expansion ------------------------------------------------------------
def test_expand_grid_points_and_ids(toy):
    cfg = toy.Config()
    pts = expand_points(
        cfg,
        grid={"strength": [0, 1], "hidden": [[32], [64, 64]], "opts.a": [1, 2, 3]},
        seeds=[0, 5],
    )
    assert len(pts) == 2 * 2 * 3 * 2
    assert {tuple(p["params"]["hidden"]) for p in pts} == {(32,), (64, 64)}
    assert len({p["id"] for p in pts}) == len(pts)
    assert all(isinstance(p["params"]["strength"], float) for p in pts)
    # equal points written differently get the same id; ids depend on seed
    a = expand_points(cfg, strengths=[1], grid={"lr": [1]})
    b = expand_points(cfg, points=[{"strength": 1.0, "lr": 1.0}])
    assert a[0]["id"] == b[0]["id"]
    assert point_id({"strength": 1.0}, 0) != point_id({"strength": 1.0}, 1)
    # the id depends on the base config too (not only on the scanned parameters)
    other = expand_points(toy.Config(hidden=(4,)), points=[{"strength": 1.0, "lr": 1.0}])
    assert other[0]["id"] != a[0]["id"]
    assert other[0]["params"] == a[0]["params"]
    explicit = expand_points(cfg, points=[{"lr": 0.1}, {"lr": 0.2, "hidden": [4]}], seeds=[3])
    assert [p["params"] for p in explicit] == [{"lr": 0.1}, {"lr": 0.2, "hidden": [4]}]
    assert expand_points(cfg)[0]["params"] == {}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"grid": {"lr": [1]}, "points": [{}]}, "either 'grid' or 'points'"),
        ({"grid": {"nonsense": [1]}}, "unknown parameter 'nonsense'"),
        ({"grid": {"lr": []}}, "'lr' is empty"),
        ({"grid": {"lr": 0.1}}, "must be a list"),
        ({"grid": {"lr": ["fast"]}}, "'lr' must be a number"),
        ({"strengths": [1], "grid": {"strength": [2]}}, "strengths"),
        ({"points": [{"lr": 1}, {"lr": 1.0}]}, "duplicate point"),
        ({"strengths": ["big"]}, "strength must be a number"),
        ({"seeds": []}, "'seeds' is empty"),
    ],
)
def test_expand_errors_name_the_parameter(toy, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        expand_points(toy.Config(), **kwargs)


def test_pareto_front_matches_brute_force():
    rng = np.random.default_rng(20240611)
    x, y = rng.normal(size=60), rng.normal(size=60)
    x[3] = np.nan
    for maximize in [(True, True), (True, False), (False, False)]:
        mask = pareto_front(x, y, maximize=maximize)
        sx = x * (1 if maximize[0] else -1)
        sy = y * (1 if maximize[1] else -1)
        for i in range(len(x)):
            dominated = any(
                sx[j] >= sx[i] and sy[j] >= sy[i] and (sx[j] > sx[i] or sy[j] > sy[i])
                for j in range(len(x))
                if np.isfinite(sx[j]) and np.isfinite(sy[j])
            )
            assert mask[i] == (np.isfinite(sx[i]) and not dominated)
    assert mask.sum() >= 1


# -- distributed scans --------------------------------------------------------------
@pytest.mark.dask
def test_scan_table_summary_pareto_and_report(toy, dask_client, tmp_path):
    out = tmp_path / "scan"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = scan(
            toy,
            {"lr": 0.02},
            strengths=[0.0, 1.0, 10.0],
            seeds=[11, 12],
            client=dask_client,
            out=out,
            progress=False,
            performance_report=True,
        )
    spec = json.loads((out / "scan.json").read_text())
    assert spec["workflow"] == "toy_scan_workflow"
    assert spec["config"]["lr"] == 0.02
    assert len(spec["points"]) == 6
    # the Dask report is best effort (it needs matching bokeh/distributed versions)
    report = out / "dask-report.html"
    assert (report.is_file() and report.stat().st_size > 0) or any(
        "dask-report.html" in str(w.message) for w in caught
    )
    table = res.table
    assert list(table.columns) == ["id", "seed", "strength", "toy.acc", "toy.inv_corr"]
    assert len(table) == 6
    assert res.missing == []
    for p in spec["points"]:
        r = res.result(p["id"])
        assert r.seed == p["seed"]
        assert r.strength == p["params"]["strength"]
        assert r.info["scan"]["id"] == p["id"]
        row = table[table["id"] == p["id"]].iloc[0]
        assert row["toy.acc"] == pytest.approx(r.metrics["toy.acc"])
    summary = res.summary()
    assert list(summary["strength"]) == [0.0, 1.0, 10.0]
    assert (summary["n_seeds"] == 2).all()
    for _, row in summary.iterrows():
        vals = table[table["strength"] == row["strength"]]["toy.acc"]
        assert row["toy.acc"] == pytest.approx(vals.mean())
        assert row["toy.acc_std"] == pytest.approx(vals.std(ddof=1))
    # acc falls and inv_corr rises with λ: every point is on the front
    front = res.pareto("toy.acc", "toy.inv_corr")
    assert len(front) == 3
    # minimising both: only the point best in both directions can survive
    front_min = res.pareto("toy.acc", "toy.inv_corr", maximize=(False, False))
    mask = pareto_front(-summary["toy.acc"], -summary["toy.inv_corr"])
    assert len(front_min) == mask.sum()
    assert len(res.pareto("toy.acc", "toy.inv_corr", per_seed=True)) >= 3
    with pytest.raises(ConfigError, match="unknown metric"):
        res.pareto("toy.acc", "nope")
    again = load_scan(out)
    assert again.table.equals(res.table)

    from decorr_af.report import write_report

    page = write_report(out)
    text = page.read_text()
    assert "toy_scan_workflow" in text
    assert "± " in text
    for src in [s.split("'")[0] for s in text.split("<img src='")[1:]]:
        assert (out / src).is_file()
    assert text.count("<img") >= 3  # one Pareto plane + two metric-vs-λ plots


@pytest.mark.dask
def test_resume_recomputes_only_missing_and_corrupt(toy, dask_client, tmp_path):
    out, log = tmp_path / "scan", tmp_path / "runs.log"
    kwargs = {"strengths": [0.0, 0.5, 2.0], "seeds": [7, 8], "client": dask_client, "out": out}
    res = scan(toy, {"log": str(log)}, progress=False, **kwargs)
    assert len(_starts(log)) == 6
    ids = list(res.table["id"])
    mtimes = {i: (out / "points" / i / "result.json").stat().st_mtime_ns for i in ids}
    # a deleted, a truncated, a partial (no arrays) and a stale temporary directory
    import shutil

    shutil.rmtree(out / "points" / ids[0])
    (out / "points" / ids[1] / "result.json").write_text('{"workflow": "toy", "met')
    (out / "points" / ids[2] / "arrays.npz").unlink()
    (out / "points" / f".{ids[3]}.tmp-99999").mkdir()
    partial = load_scan(out)
    assert set(partial.missing) == {ids[0], ids[1]}
    log.write_text("")
    res2 = scan(toy, {"log": str(log)}, progress=False, **kwargs)
    rerun = {(float(s[1]), int(s[2])) for s in _starts(log)}
    expected = {(p["params"]["strength"], p["seed"]) for p in res.points if p["id"] in ids[:3]}
    assert rerun == expected
    assert len(res2.table) == 6
    for i in ids[3:]:
        assert (out / "points" / i / "result.json").stat().st_mtime_ns == mtimes[i]
    assert not list((out / "points").glob(".*"))
    assert json.loads((out / "scan.json").read_text())["last_run"]["reused"] == 3
    # a changed base config is refused, unless overwrite=True
    with pytest.raises(ConfigError, match="different config"):
        scan(toy, {"log": str(log), "lr": 0.5}, progress=False, **kwargs)
    res3 = scan(toy, {"log": str(log), "lr": 0.5}, progress=False, overwrite=True, **kwargs)
    assert res3.config["lr"] == 0.5
    assert len(res3.table) == 6


@pytest.mark.dask
def test_failed_points_raise_then_resume(toy, dask_client, tmp_path):
    out, log = tmp_path / "scan", tmp_path / "runs.log"
    (tmp_path / "runs.log.fail").write_text("1.0")
    kwargs = {"strengths": [0.0, 1.0, 3.0], "client": dask_client, "out": out, "progress": False}
    with pytest.raises(ScanError, match=r"1 of 3 scan points failed.*toy failure at strength 1.0"):
        scan(toy, {"log": str(log)}, retries=1, **kwargs)
    assert len([s for s in _starts(log) if s[1] == "1.0"]) == 2  # one retry
    partial = load_scan(out)
    assert sorted(partial.table["strength"]) == [0.0, 3.0]
    assert partial.info["last_run"]["failed"][0]["error"].startswith("RuntimeError")
    (tmp_path / "runs.log.fail").unlink()
    log.write_text("")
    res = scan(toy, {"log": str(log)}, **kwargs)
    assert [s[1] for s in _starts(log)] == ["1.0"]
    assert sorted(res.table["strength"]) == [0.0, 1.0, 3.0]


@pytest.mark.dask
def test_grid_scan_save_on_client(toy, dask_client, tmp_path):
    res = scan(
        toy,
        grid={"hidden": [[4], [16, 16]], "opts.a": [1, 2]},
        seeds=[3],
        client=dask_client,
        out=tmp_path / "grid",
        progress=False,
        save_on_worker=False,
    )
    assert res.params == ["hidden", "opts.a"]
    assert set(res.table["hidden"]) == {(4,), (16, 16)}
    by = res.summary(by="hidden")
    assert list(by["n_seeds"]) == [2, 2]
    assert (
        by.loc[by["hidden"] == (16, 16), "toy.inv_corr"].item()
        > by.loc[by["hidden"] == (4,), "toy.inv_corr"].item()
    )
    assert len(res.ids(hidden=[4])) == 2
    assert res.result(res.ids(hidden=[4], **{"opts.a": 2})[0]).config["opts"] == {"a": 2}


def test_load_scan_errors(tmp_path):
    with pytest.raises(InputFileError, match=r"scan\.json: missing"):
        load_scan(tmp_path)
    (tmp_path / "scan.json").write_text("{not json")
    with pytest.raises(InputFileError, match="corrupt JSON"):
        load_scan(tmp_path)


@pytest.mark.slow
@pytest.mark.dask
def test_killed_worker_costs_only_its_point(toy, tmp_path):
    distributed = pytest.importorskip("distributed")
    out, log = tmp_path / "scan", tmp_path / "runs.log"
    import dask

    # generous timeouts: on a loaded machine starting and stopping workers is slow, and
    # that is not what this test is about
    slow = {"distributed.comm.timeouts.connect": "180s", "distributed.comm.timeouts.tcp": "180s"}
    with (
        dask.config.set(slow),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
            timeout="180s",
        ) as cl,
        distributed.Client(cl, timeout="180s") as client,
    ):
        killed: list[int] = []

        def killer():
            # kill a worker process while it runs a point (started, not done)
            deadline = time.time() + 60
            while time.time() < deadline:
                lines = log.read_text().splitlines() if log.exists() else []
                finished = [ln for ln in lines if ln.startswith("done")]
                balance: dict[str, int] = {}
                for ln in lines:
                    pid = ln.split()[3]
                    balance[pid] = balance.get(pid, 0) + (1 if ln.startswith("start") else -1)
                running = [pid for pid, n in balance.items() if n > 0]
                if finished and running:
                    pid = int(sorted(running)[0])
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
                time.sleep(0.02)

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        res = scan(
            toy,
            {"log": str(log), "sleep": 0.6},
            strengths=[0.0, 0.1, 1.0, 2.0, 5.0, 10.0],
            client=client,
            out=out,
            progress=False,
        )
        thread.join(5)
    assert killed, "no worker was killed"
    assert len(res.table) == 6
    assert res.missing == []
    starts = _starts(log)
    # the killed process started a point it never finished; that point ran again
    done = {
        tuple(line.split()[1:]) for line in log.read_text().splitlines() if line.startswith("done")
    }
    lost = [s for s in starts if int(s[3]) == killed[0] and tuple(s[1:]) not in done]
    assert len(lost) == 1
    # besides the lost point, at most a result finished on the dying worker but not yet
    # fetched by the client can be recomputed
    assert 7 <= len(starts) <= 8


def test_summary_of_many_metrics_warns_nothing(tmp_path):
    """A workflow with hundreds of metrics (calibration) once made pandas warn about
    fragmented frames on every summary()."""
    import json
    import warnings

    from decorr_af.workflows.base import RunResult

    points = []
    for i, (strength, seed) in enumerate([(0.0, 0), (0.0, 1), (1.0, 0), (1.0, 1)]):
        pid = f"p{i:08x}"
        metrics = {f"m{k}.value": float(k * strength + seed) for k in range(150)}
        RunResult("toy", {}, seed, strength, metrics=metrics).save(tmp_path / "points" / pid)
        points.append({"id": pid, "params": {"strength": strength}, "seed": seed})
    (tmp_path / "scan.json").write_text(
        json.dumps({"workflow": "toy", "config": {}, "points": points})
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = load_scan(tmp_path).summary()
    assert summary["n_seeds"].tolist() == [2, 2]
    assert summary["m3.value"].tolist() == [0.5, 3.5]

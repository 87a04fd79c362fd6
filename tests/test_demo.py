"""End-to-end tests of the main job (``decorr-af demo --quick``) and the scan/report CLI."""

from __future__ import annotations

import json
import shutil
import sys
import types

import pytest

from decorr_af.cli import main
from decorr_af.demo import demo_plan
from decorr_af.errors import ConfigError

TOY = """
import dataclasses
from decorr_af.workflows.base import RunResult, WorkflowConfig

DEFAULT_PARETO = [("toy.a", "toy.b")]

@dataclasses.dataclass(frozen=True)
class Config(WorkflowConfig):
    workflow = "toy_cli_workflow"
    offset: float = 0.0

def run(config, *, strength=None, seed=0, out=None):
    s = strength or 0.0
    return RunResult(workflow="toy_cli_workflow", config=config.to_dict(), seed=seed,
                     strength=strength, metrics={"toy.a": 1 / (1 + s) + config.offset + seed,
                                                 "toy.b": s + config.offset})
"""


@pytest.fixture
def toy_module():
    mod = types.ModuleType("toy_cli_workflow")
    sys.modules[mod.__name__] = mod
    exec(compile(TOY, "toy_cli_workflow.py", "exec"), mod.__dict__)
    yield mod
    del sys.modules[mod.__name__]


def test_demo_plan_sizes():
    quick, full = demo_plan(quick=True), demo_plan(seed=4)
    assert quick["events"] < full["events"]
    for name, s in full["scans"].items():
        assert s["reference"] in s["strengths"], name
    assert full["data"][0]["seed"] != demo_plan()["data"][0]["seed"]
    with pytest.raises(ConfigError, match="'events'"):
        demo_plan(events=10)


def test_cli_scan_and_report(toy_module, tmp_path, capsys):
    cfg = tmp_path / "scan.yaml"
    cfg.write_text(
        "workflow: toy_cli_workflow\n"
        "config: {offset: 0.5}\n"
        "scan: {strengths: [0, 2], seeds: [1, 2]}\n"
        "cluster: local:workers=1,threads=2,processes=false\n"
    )
    out = tmp_path / "scan-out"
    assert main(["scan", str(cfg), "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "report:" in text
    spec = json.loads((out / "scan.json").read_text())
    assert spec["config"] == {"offset": 0.5}
    assert len(spec["points"]) == 4
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "report.html").read_text().count("<img") >= 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("workflow: toy_cli_workflow\nscan: {lambdas: [1]}\n")
    assert main(["scan", str(bad), "--out", str(out)]) == 2
    assert "unknown scan option(s) ['lambdas']" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nothing")]) == 2


@pytest.mark.dask
@pytest.mark.slow
def test_demo_quick_end_to_end(tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "demo"
    args = ["demo", "--quick", "--out", str(out), "--cluster", "local:workers=2,threads=1"]
    assert main([*args, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"Report: {(out / 'report.html').resolve()}" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"photon_id", "calibration"}
    for name, m in metrics.items():
        strengths = [row["strength"] for row in m["summary"]]
        assert strengths == demo_plan(quick=True)["scans"][name]["strengths"]
        assert m["pareto"], name
    pid = {row["strength"]: row for row in metrics["photon_id"]["summary"]}
    # the plain MLP ignores λ; DisCo at large λ is less correlated with isolation than at 0
    top = max(demo_plan(quick=True)["scans"]["photon_id"]["strengths"])
    assert pid[top]["disco_mlp.dcor"] < pid[0.0]["disco_mlp.dcor"]
    page = (out / "report.html").read_text()
    for needed in ("photon_id", "calibration", "Pareto", "roc.png", "zee_alpha.png", "± "):
        assert needed in page
    srcs = [s.split("'")[0] for s in page.split("<img src='")[1:]]
    assert len(srcs) >= 8
    assert all((out / s).is_file() for s in srcs)
    # a re-run reuses data and finished points; a removed point is recomputed
    shutil.rmtree(next((out / "scans" / "calibration" / "points").glob("p*")))
    assert main([*args, "--no-progress", "--workflows", "calibration"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("reusing") == 4  # photons and Z->ee, MC and data
    last = json.loads((out / "scans" / "calibration" / "scan.json").read_text())["last_run"]
    assert (last["computed"], last["reused"]) == (1, 2)

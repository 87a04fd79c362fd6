from __future__ import annotations

import dataclasses
import json

import hist
import numpy as np
import pandas as pd
import pytest

from decorr_af.errors import ConfigError, IncompleteResultError, InputFileError
from decorr_af.workflows import get_workflow
from decorr_af.workflows.base import (
    RunResult,
    WorkflowConfig,
    hist_from_dict,
    hist_to_dict,
    verify_result,
)


@dataclasses.dataclass(frozen=True)
class ToyConfig(WorkflowConfig):
    workflow = "toy"
    events: int = 100
    strength: float = 0.0
    hidden: tuple[int, ...] = (8, 8)
    model: dict = dataclasses.field(default_factory=lambda: {"epochs": 2})
    files: str | None = None

    def validate(self) -> None:
        if self.events <= 0:
            raise ConfigError(f"parameter 'events' must be positive, got {self.events}")


def test_config_coercion_and_yaml_roundtrip(tmp_path):
    cfg = ToyConfig.from_dict({"events": 10, "strength": 1, "hidden": [4, 2]})
    assert cfg.strength == 1.0
    assert isinstance(cfg.strength, float)
    assert cfg.hidden == (4, 2)
    cfg.to_yaml(tmp_path / "c.yaml")
    assert ToyConfig.from_yaml(tmp_path / "c.yaml") == cfg
    assert cfg.replace(**{"model.epochs": 5}).model == {"epochs": 5}


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"nope": 1}, "unknown parameter 'nope'"),
        ({"events": "many"}, "'events' must be an integer"),
        ({"events": -1}, "'events' must be positive"),
        ({"hidden": "8,8"}, "'hidden' must be a list"),
        ({"events.x": 1}, "'events' is not a mapping"),
    ],
)
def test_config_errors_name_the_parameter(changes, match):
    with pytest.raises(ConfigError, match=match):
        ToyConfig.from_dict(changes)


def test_config_yaml_errors(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        ToyConfig.from_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        ToyConfig.from_yaml(bad)


def test_hist_roundtrip():
    h = hist.Hist(
        hist.axis.Regular(5, 0, 1, name="x", label="x"),
        hist.axis.Variable([0, 1, 3], name="y"),
        hist.axis.StrCategory(["a", "b"], name="c"),
        storage=hist.storage.Weight(),
    )
    rng = np.random.default_rng(3)
    h.fill(x=rng.uniform(size=50), y=rng.uniform(0, 3, size=50), c="a", weight=rng.uniform(size=50))
    h2 = hist_from_dict(hist_to_dict(h))
    assert h2 == h
    assert np.allclose(h2.variances(flow=True), h.variances(flow=True))


def test_result_roundtrip_and_corruption(tmp_path):
    h = hist.Hist.new.Reg(4, 0, 4, name="m").Double().fill([0.5, 1.5, 1.5])
    res = RunResult(
        workflow="toy",
        config={"events": 3},
        seed=7,
        strength=0.5,
        metrics={"r50": 12.5, "inv_jsd": float("inf")},
        arrays={"score": np.arange(3.0)},
        hists={"m": h},
        tables={"bins": pd.DataFrame({"lo": [0.0, 1.0], "n": [3, 4]})},
    )
    out = res.save(tmp_path / "point")
    back = RunResult.load(out)
    assert back.metrics == res.metrics
    assert back.strength == 0.5
    assert np.array_equal(back.arrays["score"], res.arrays["score"])
    assert back.hists["m"] == h
    assert back.tables["bins"].equals(res.tables["bins"])
    assert not list(tmp_path.glob(".*tmp*"))
    (out / "result.json").write_text("{truncated")
    with pytest.raises(IncompleteResultError, match=r"result\.json: size \d+ differs"):
        RunResult.load(out)
    with pytest.raises(InputFileError, match="corrupt JSON"):
        RunResult.load(out, verify=False)
    with pytest.raises(InputFileError, match="missing"):
        RunResult.load(tmp_path / "nothing")


def test_get_workflow_unknown():
    with pytest.raises(ConfigError, match="unknown workflow 'nope'"):
        get_workflow("nope")


def test_check_rules_name_the_field():
    cfg = ToyConfig()
    cfg.check(nonnegative=("strength",), positive=("events",))
    with pytest.raises(ConfigError, match=r"parameter 'strength' must be positive, got 0\.0"):
        cfg.check(positive=("strength",))
    with pytest.raises(ConfigError, match=r"parameter 'events' must be in \(0, 1\)"):
        cfg.check(fraction=("events",))


def test_manifest_catches_every_damaged_file(tmp_path):
    res = RunResult("toy", {}, seed=3, metrics={"m": 1.0}, arrays={"a": np.arange(100.0)})
    out = res.save(tmp_path / "p")
    manifest = json.loads((out / "manifest.json").read_text())["files"]
    assert sorted(manifest) == ["arrays.npz", "hists.json", "result.json"]
    verify_result(out)
    # same size, other content
    data = bytearray((out / "arrays.npz").read_bytes())
    data[-30] ^= 0xFF
    (out / "arrays.npz").write_bytes(bytes(data))
    with pytest.raises(IncompleteResultError, match=r"arrays\.npz: content differs") as err:
        verify_result(out)
    assert err.value.member == "arrays.npz"
    (out / "manifest.json").unlink()
    with pytest.raises(IncompleteResultError, match=r"manifest\.json: missing"):
        verify_result(out)


def test_truncated_arrays_without_manifest_is_an_input_file_error(tmp_path):
    """A truncated arrays.npz once raised zipfile.BadZipFile (not a package error)."""
    out = RunResult("toy", {}, seed=3, arrays={"a": np.arange(1000.0)}).save(tmp_path / "p")
    (out / "manifest.json").unlink()
    data = (out / "arrays.npz").read_bytes()
    (out / "arrays.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match=r"arrays\.npz: unreadable"):
        RunResult.load(out)


@pytest.mark.parametrize("hidden", [[0], [8, -1]])
def test_layer_sizes_must_be_positive(hidden):
    with pytest.raises(ConfigError, match="'hidden' must hold positive layer sizes"):
        ToyConfig(hidden=tuple(hidden))

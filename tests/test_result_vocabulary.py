"""The result vocabulary: typed metric access, array names, the protected histogram, UHI I/O.

``tests/data/legacy_result`` was written by the code before this vocabulary
(hand-written histogram JSON, ``score_<model>`` arrays, no ``hists["protected"]``):
it must load, answer the typed accessors and plot.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import hist
import numpy as np
import pytest

from decorr_af.errors import ConfigError
from decorr_af.workflows.base import RunResult, hist_from_dict, hist_to_dict
from decorr_af.workflows.vocabulary import (
    ResultArrays,
    UnknownMetricError,
    legacy_protected,
    metric_key,
    protected_hist,
    split_key,
)

LEGACY = Path(__file__).parent / "data" / "legacy_result"


def _result(**kw):
    metrics = {"a.r50": 4.0, "a.inv_jsd": 10.0, "b.r50": 5.0, "tight.eff": 0.8, "seconds": 2.0}
    return RunResult("photon_id", {"models": ["a", "b"]}, seed=0, metrics=metrics, **kw)


def test_metric_access_and_tidy_table():
    res = _result()
    assert res.models == ("a", "b")
    assert res.metric("a", "inv_jsd") == 10.0
    assert res.metric(None, "seconds") == 2.0
    assert res.metric("tight", "eff") == 0.8  # reference groups share the key layout
    assert res.metric("b", "inv_jsd", default=None) is None
    with pytest.raises(UnknownMetricError, match=r"model 'b' has no metric 'dcor' \(have: r50\)"):
        res.metric("b", "dcor")
    with pytest.raises(KeyError, match="models and groups with metrics: a, b, tight"):
        res.metric("c", "r50")
    with pytest.raises(ConfigError):  # the same error is a ConfigError
        res.metric("c", "r50")
    tab = res.metrics_table()
    assert list(tab.columns) == ["model", "metric", "value"]
    assert tab.loc[(tab.model == "b") & (tab.metric == "r50"), "value"].item() == 5.0
    assert tab.loc[tab.metric == "seconds", "model"].item() == ""
    assert res.metrics_table("a")["metric"].tolist() == ["r50", "inv_jsd"]
    # models of a result without a config list: the metric prefixes
    bare = RunResult("toy", {}, seed=0, metrics={"x.m": 1.0, "y.m": 2.0, "n": 3.0})
    assert bare.models == ("x", "y")


def test_key_helpers_round_trip():
    for model, name in (("disco_mlp", "inv_jsd"), ("", "seconds"), ("raw", "alpha_err")):
        assert split_key(metric_key(model, name)) == (model, name)


def test_arrays_use_the_vocabulary_and_answer_legacy_names():
    res = _result(arrays={"score_a": np.arange(3.0), "label": np.ones(3), "b.score": np.zeros(3)})
    assert sorted(res.arrays) == ["a.score", "b.score", "label"]
    assert res.models_with("score") == ["a", "b"]
    assert np.array_equal(res.array("a", "score"), np.arange(3.0))
    assert np.array_equal(res.arrays["score_a"], np.arange(3.0))  # old code still reads
    assert "score_a" in res.arrays
    assert "score_c" not in res.arrays
    assert res.arrays.get("score_c") is None
    with pytest.raises(UnknownMetricError, match=r"no array 'c\.score'"):
        res.array("c", "score")
    a = ResultArrays()
    a["score_x"] = 1
    a.setdefault("score_x", 2)
    assert dict(a) == {"x.score": 1}


def test_legacy_result_loads_with_typed_access_and_protected_hist(tmp_path):
    raw = json.loads((LEGACY / "hists.json").read_text())
    assert "uhi_schema" not in raw["id_vs_iso"]  # really the old layout
    res = RunResult.load(LEGACY)
    assert res.models == ("plain_mlp", "disco_mlp")
    assert sorted(k for k in res.arrays if k.endswith(".score")) == [
        "disco_mlp.score",
        "plain_mlp.score",
    ]
    assert res.metric("disco_mlp", "inv_jsd") == 30.0
    old = res.hists["id_vs_iso"]
    assert isinstance(old.axes["iso"], hist.axis.Variable)
    assert isinstance(res.hists["counts"].axes["i"], hist.axis.Integer)
    h = res.hists["protected"]
    assert [a.name for a in h.axes] == ["model", "selection", "iso"]
    assert list(h.axes["selection"]) == ["pass", "fail"]
    for model in ("plain_mlp", "disco_mlp"):
        for sel, passed in (("pass", 1), ("fail", 0)):
            got = h[{"model": model, "selection": sel}]
            want = old[{"model": model, "prompt": 0, "passed": passed}]
            assert np.array_equal(got.values(flow=True), want.values(flow=True))
            assert np.array_equal(got.variances(flow=True), want.variances(flow=True))
    # saved again: UHI format, same content, no legacy names on disk
    back = RunResult.load(res.save(tmp_path / "again"))
    saved = json.loads((tmp_path / "again" / "hists.json").read_text())
    assert all(d["uhi_schema"] == 1 for d in saved.values())
    assert back.hists["id_vs_iso"] == old
    assert back.hists["protected"] == h
    with np.load(tmp_path / "again" / "arrays.npz") as npz:
        assert "disco_mlp.score" in npz.files
        assert "score_disco_mlp" not in npz.files


def test_legacy_hist_layouts_are_detected():
    h = hist.Hist(
        hist.axis.Regular(3, 0, 3, name="x", label="x [GeV]"),
        hist.axis.IntCategory([0, 1], name="c"),
        storage=hist.storage.Weight(),
    )
    h.fill(x=[0.5, 2.5, 2.5, 7.0], c=[0, 1, 1, 0], weight=[1.0, 2.0, 0.5, 3.0])
    legacy = json.loads((LEGACY / "hists.json").read_text())["counts"]
    assert legacy["storage"] == "double"  # the old layout, read through the same door
    assert hist_from_dict(legacy).sum() == 3.0
    d = json.loads(json.dumps(hist_to_dict(h)))
    back = hist_from_dict(d)
    assert back == h
    assert back.axes["x"].label == "x [GeV]"
    assert np.array_equal(back.variances(flow=True), h.variances(flow=True))


def test_legacy_protected_from_tth_and_zee_layouts():
    edges = np.linspace(105, 160, 12)
    myy = hist.Hist(
        hist.axis.StrCategory(["m"], name="model"),
        hist.axis.IntCategory([0, 1], name="signal"),
        hist.axis.IntCategory([0, 1], name="passed"),
        hist.axis.Variable(edges, name="myy", label=r"$m_{\gamma\gamma}$ [GeV]"),
        storage=hist.storage.Weight(),
    )
    rng = np.random.default_rng(2)
    x = rng.uniform(105, 160, 300)
    sig, passed = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    myy.fill(model="m", signal=sig, passed=passed, myy=x)
    p = legacy_protected({"myy": myy})
    assert np.array_equal(
        p[{"model": "m", "selection": "fail"}].values(),
        np.histogram(x[(sig == 0) & (passed == 0)], edges)[0],
    )
    mee = hist.Hist(
        hist.axis.StrCategory(["raw"], name="model"),
        hist.axis.StrCategory(["mc", "data"], name="dataset"),
        hist.axis.Regular(10, 80, 100, name="mee"),
        storage=hist.storage.Weight(),
    )
    mee.fill(model="raw", dataset="data", mee=[85.0, 91.0, 91.5])
    p = legacy_protected({"mee": mee})
    assert list(p.axes["selection"]) == ["mc", "data"]
    assert p[{"model": "raw", "selection": "data"}].sum().value == 3.0
    assert legacy_protected({"protected": p, "mee": mee}) is None
    assert legacy_protected({"other": mee}) is None


def test_protected_hist_refuses_other_selections():
    with pytest.raises(ConfigError, match="selections"):
        protected_hist(["m"], [0, 1], variable="x", label="x", selections=("a", "b"))


def test_plots_read_a_legacy_result(tmp_path):
    """plot_roc and plot_protected draw the legacy result's content."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from decorr_af.metrics import roc_curve
    from decorr_af.plot import plot_protected, plot_roc, select_models

    path = shutil.copytree(LEGACY, tmp_path / "legacy")
    res = RunResult.load(path)
    assert select_models(res) == ["plain_mlp", "disco_mlp"]
    with pytest.raises(ConfigError, match=r"not in the result.*have: plain_mlp, disco_mlp"):
        select_models(res, ["nope"])
    art = plot_roc(path, ax=Figure().add_subplot(), min_efficiency=0.0)
    eff_b, _eff_s, _ = roc_curve(res.arrays["label"], res.array("plain_mlp", "score").astype(float),
                                res.arrays["weight"])  # fmt: skip
    keep = eff_b > 0
    assert np.allclose(art.curves["plain_mlp"].get_ydata(), 1 / eff_b[keep])
    p = plot_protected(res, "disco_mlp", notes=["note line"])
    old = res.hists["id_vs_iso"]
    fail = old[{"model": "disco_mlp", "prompt": 0, "passed": 0}].values()
    assert np.allclose(p.values["fail"], fail / fail.sum() / 4.0)
    passing = old[{"model": "disco_mlp", "prompt": 0, "passed": 1}].values()
    assert np.allclose(p.ratio_values, (passing / passing.sum()) / (fail / fail.sum()))
    assert p.rax.get_ylabel() == "Pass / fail"
    assert "note line" in p.ax.get_legend().get_title().get_text()


def test_scan_tables_in_tidy_form(tmp_path):
    from decorr_af.scan import load_scan

    points = []
    for i, lam in enumerate((0.0, 1.0)):
        metrics = {"a.r50": 4.0 + lam, "b.r50": 5.0, "a.dcor": 0.1 / (1 + lam), "seconds": 3.0}
        RunResult("toy", {"models": ["a", "b"]}, seed=0, strength=lam, metrics=metrics).save(
            tmp_path / "points" / f"p{i}"
        )
        points.append({"id": f"p{i}", "params": {"strength": lam}, "seed": 0})
    (tmp_path / "scan.json").write_text(
        json.dumps({"workflow": "toy", "config": {"models": ["a", "b"]}, "points": points})
    )
    scan = load_scan(tmp_path)
    assert scan.models == ("a", "b")
    assert scan.models_with("dcor") == ["a"]
    assert scan.column("a", "r50") == "a.r50"
    assert scan.values("a", "r50").tolist() == [4.0, 5.0]
    with pytest.raises(UnknownMetricError, match=r"model 'b' has no metric 'dcor' \(have: r50\)"):
        scan.column("b", "dcor")
    with pytest.raises(ConfigError, match="models and groups with metrics: a, b"):
        scan.column("c", "r50")
    tidy = scan.metrics_table()
    assert list(tidy.columns) == ["id", "seed", "strength", "model", "metric", "value"]
    assert len(tidy) == 2 * 4
    row = tidy[(tidy.id == "p1") & (tidy.model == "a") & (tidy.metric == "dcor")]
    assert row["value"].item() == pytest.approx(0.05)
    assert set(tidy.loc[tidy.metric == "seconds", "model"]) == {""}

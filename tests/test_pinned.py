"""End-to-end figures pinned before the redesign (issue #11): refactoring keeps them.

Three small workflow runs (photon ID, ttH(γγ), calibration) on seeds nothing was
tuned on; their headline metrics must equal the values recorded in
``tests/data/pinned_figures.json`` when the code was last *meant* to change
behaviour. Regenerate deliberately, never to make a failure go away::

    python tests/test_pinned.py --update

The tolerance (relative 2e-3) absorbs floating-point reordering (BLAS threads,
summation order) but not a change of a model, a penalty, a split or a selection.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

PINNED = Path(__file__).parent / "data" / "pinned_figures.json"
RTOL = 2e-3
ATOL = 1e-6

#: Metric keys pinned per workflow (model-prefixed keys as the results hold them).
KEYS = {
    "photon_id": [
        f"{m}.{k}"
        for m in ("plain_mlp", "disco_mlp", "adv_mlp", "disco_bdt")
        for k in ("auc", "r50", "inv_jsd", "dcor")
    ],
    "tth": [f"{m}.{k}" for m in ("plain_mlp", "disco_mlp", "disco_bdt") for k in ("auc", "dcor")],
    "calibration": [
        f"{m}.{k}" for m in ("shapes_mlp", "disco_mlp") for k in ("resolution_mc", "alpha")
    ],
}


def _generate(work: Path) -> None:
    from decorr_af.data import generate

    specs = (
        ("photons", "mc", 5000, 60611),
        ("photons", "data", 5000, 60617),
        ("diphoton", "mc", 5000, 60623),
        ("zee", "mc", 8000, 60629),
        ("zee", "data", 8000, 60631),
    )
    for sample, kind, n, seed in specs:
        generate(work / f"{sample}_{kind}", sample=sample, kind=kind, events=n, files=1,
                 seed=seed, mismodelling=1.0 if kind == "data" else 0.0)  # fmt: skip


def compute(work: Path) -> dict[str, dict[str, float]]:
    """Run the three workflows on fresh toys in ``work``; the pinned metrics."""
    from decorr_af.workflows import calibration, photon_id, tth

    _generate(work)
    small = {"hidden": (16, 16), "epochs": 3, "batch_size": 256, "lr": 3e-3,
             "n_estimators": 20, "max_depth": 3, "device": "cpu"}  # fmt: skip
    pid = photon_id.Config(
        mc_files=(str(work / "photons_mc" / "*.root"),),
        models=("plain_mlp", "disco_mlp", "adv_mlp", "disco_bdt"),
        **small,
    )
    tt = tth.Config(
        diphoton_files=(str(work / "diphoton_mc" / "*.root"),),
        models=("plain_mlp", "disco_mlp", "disco_bdt"),
        myy_bins=22,
        measurement=False,
        **small,
    )
    cal = calibration.Config(
        mc_files=(str(work / "photons_mc" / "*.root"),),
        data_files=(str(work / "photons_data" / "*.root"),),
        zee_mc_files=(str(work / "zee_mc" / "*.root"),),
        zee_data_files=(str(work / "zee_data" / "*.root"),),
        models=("shapes_mlp", "disco_mlp"),
        mlp={"hidden": [16, 16], "loss": "huber", "epochs": 3, "batch_size": 256, "lr": 2e-3},
        zee_min_pairs=100,
        device="cpu",
    )
    runs = {
        "photon_id": photon_id.run(pid, strength=20.0, seed=3),
        "tth": tth.run(tt, strength=10.0, seed=5),
        "calibration": calibration.run(cal, strength=10.0, seed=7),
    }
    return {wf: {k: float(runs[wf].metrics[k]) for k in keys} for wf, keys in KEYS.items()}


def test_pinned_end_to_end_figures(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("xgboost")
    pinned = json.loads(PINNED.read_text())
    got = compute(tmp_path)
    bad = []
    for wf, values in pinned.items():
        for key, want in values.items():
            have = got[wf][key]
            same = (math.isnan(want) and math.isnan(have)) or math.isclose(
                have, want, rel_tol=RTOL, abs_tol=ATOL
            )
            if not same:
                bad.append(f"{wf} {key}: pinned {want!r}, now {have!r}")
    assert not bad, "end-to-end figures changed:\n" + "\n".join(bad)


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import tempfile

    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_pinned.py --update")
    with tempfile.TemporaryDirectory() as tmp:
        figures = compute(Path(tmp))
    PINNED.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
    print(json.dumps(figures, indent=1))

"""The HTML report (:mod:`decorr_af.report`): figures, labels, order, timings.

Scans are fabricated in the scan-directory format (see ``test_widgets``) with run
metadata, so the expected numbers on the page are known exactly.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("mplhep")

from test_widgets import make_calibration_result, make_photon_scan

from decorr_af.plot import check_figure


def make_report_dir(root: Path) -> Path:
    """A demo-like directory: a photon-ID scan and a calibration scan with run metadata."""
    started = time.time() - 5.0  # the last run started before the points were written
    pid = make_photon_scan(
        root / "scans" / "photon_id", seeds=(0, 1), n=1500, seed=6021, runtime_s=6.0
    )
    calib = root / "scans" / "calibration"
    points = []
    for i, lam in enumerate((0.0, 3.0)):
        make_calibration_result(
            calib / "points" / f"c{i}", strength=lam, seed=77 + i, runtime_s=3.0
        )
        points.append({"id": f"c{i}", "params": {"strength": lam}, "seed": 0})
    for scan_dir, pts in ((pid, None), (calib, points)):
        data = json.loads((scan_dir / "scan.json").read_text()) if pts is None else {}
        data.setdefault("workflow", "calibration")
        data["points"] = data.get("points", pts)
        data["primary_model"] = "disco_mlp"
        data["pareto"] = [["disco_mlp.r50", "disco_mlp.inv_jsd"]] if pts is None else []
        n = len(data["points"])
        data["last_run"] = {"started": started, "wall_s": 2.0 * n, "computed": n, "reused": 0,
                            "failed": [], "workers": 2}  # fmt: skip
        (scan_dir / "scan.json").write_text(json.dumps(data))
    return root


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    return make_report_dir(tmp_path_factory.mktemp("report"))


@pytest.mark.slow
def test_report_figures_labels_order_and_timing(report_dir, monkeypatch):
    from decorr_af import report

    checked = []
    save = report._save_png

    def checking_save(fig, path):
        checked.append((path.name, check_figure(fig)))
        save(fig, path)

    monkeypatch.setattr(report, "_save_png", checking_save)
    page = report.write_report(report_dir).read_text()
    assert checked, "the report drew no figure"
    for name, check in checked:
        assert check.ok, f"{name}:\n{check}"
    # sections in the story's order: photon ID first, whatever the directory order
    assert page.index("id='photon_id'") < page.index("id='calibration'")
    # readable labels: captions and table headers name the metric, not its key
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page)
    assert any("DisCo MLP: R50" in c and "DisCo MLP: 1/JSD" in c for c in captions), captions
    assert not any("disco_mlp." in c for c in captions)
    assert "DisCo MLP: 1/JSD<br><span class='key'>disco_mlp.inv_jsd</span>" in page
    # time per point agrees with the wall time: 8 runs in 16 s wall = 2.0 s per point,
    # while 8 × 6 s of worker time > 16 s × 2 workers is reported as overlapping points
    text = re.sub("<[^>]+>", " ", page)
    pid = text[text.index("scans/photon_id") :]
    assert "2.0 s wall per point (8 points in 16.0 s on 2 workers)" in pid
    assert "worker run time per point 6.0 s" in pid
    assert "points overlapped" in pid[: pid.index("base configuration")]
    calib = text[text.index("scans/calibration") :]
    assert "2.0 s wall per point (2 points in 4.0 s on 2 workers)" in calib
    assert "worker run time per point 3.0 s" in calib
    assert "points overlapped" not in calib[: calib.index("base configuration")]


def test_report_of_a_missing_directory_names_it(tmp_path):
    from decorr_af.errors import InputFileError
    from decorr_af.report import write_report

    with pytest.raises(InputFileError, match=r"no scan\.json"):
        write_report(tmp_path / "nothing-here")

"""``decorr-af generate`` and ``decorr-af inspect``."""

from __future__ import annotations

from pathlib import Path

import pytest

from decorr_af.cli import main

DATA = Path(__file__).parent / "data"


def test_generate_prints_files_and_inspect(tmp_path, capsys):
    rc = main(
        ["generate", "--sample", "photons", "--kind", "data", "--events", "400", "--files", "2",
         "--seed", "3", "--mismodelling", "0.5", "--out", str(tmp_path)]
    )  # fmt: skip
    assert rc == 0
    lines = capsys.readouterr().out.split()
    assert [Path(x).name for x in lines] == ["photons_data_000.root", "photons_data_001.root"]
    assert all(Path(x).is_file() for x in lines)
    assert main(["inspect", lines[0]]) == 0
    out = capsys.readouterr().out
    assert "CollectionTree (TTree)" in out
    assert "entries: 200" in out
    assert "AnalysisPhotons [" in out
    assert "Reta" in out
    assert "mean mu:" in out
    assert "prompt fraction" not in out  # data: no truth in the file
    assert "kind: data" in out
    assert "truthType" not in out


def test_generate_diphoton_cli(tmp_path, capsys):
    rc = main(["generate", "--sample", "diphoton", "--events", "100", "--out", str(tmp_path)])
    assert rc == 0
    (path,) = capsys.readouterr().out.split()
    assert main(["inspect", path, "--max-fields", "0"]) == 0
    out = capsys.readouterr().out
    for coll in ("AnalysisJets", "AnalysisElectrons", "AnalysisMuons", "EventInfo"):
        assert coll in out
    assert "isBTagged" in out
    assert "photons: 200" in out
    assert "kind: simulation" in out
    assert "prompt fraction" in out


@pytest.mark.parametrize(("sample", "collections"), [("zee", ("AnalysisElectrons",)),
                                                     ("zmumug", ("AnalysisMuons", "AnalysisPhotons"))])  # fmt: skip
def test_generate_z_samples_cli(tmp_path, capsys, sample, collections):
    rc = main(["generate", "--sample", sample, "--kind", "data", "--events", "150",
               "--seed", "41", "--mismodelling", "1", "--out", str(tmp_path)])  # fmt: skip
    assert rc == 0
    (path,) = capsys.readouterr().out.split()
    assert path.endswith(f"{sample}_data_000.root")
    assert main(["inspect", path, "--max-fields", "0"]) == 0
    out = capsys.readouterr().out
    for coll in collections:
        assert coll in out
    assert "truth" not in out
    assert "kind: data" in out
    assert ("electrons: 300" if sample == "zee" else "photons: 150") in out


@pytest.mark.parametrize(
    ("name", "store"),
    [("PHYSLITE_example.root", "CollectionTree (TTree)"),
     ("PHYSLITE_rntuple_example.root", "EventData (RNTuple)")],
)  # fmt: skip
def test_inspect_real_files(capsys, name, store):
    assert main(["inspect", str(DATA / name)]) == 0
    out = capsys.readouterr().out
    assert store in out
    assert "entries: 100" in out
    assert "AnalysisPhotons [" in out
    assert "photons:" in out
    assert "mean mu:" in out


def test_generate_bad_argument(tmp_path, capsys):
    rc = main(["generate", "--events", "5", "--files", "6", "--out", str(tmp_path)])
    assert rc == 2
    assert "files" in capsys.readouterr().err


def test_inspect_missing_and_corrupt(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nope.root")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.root"
    bad.write_bytes(b"not a root file at all" * 10)
    assert main(["inspect", str(bad)]) == 2
    assert "bad.root" in capsys.readouterr().err

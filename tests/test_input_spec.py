"""One input spec: paths, globs, lists, coffea filesets (dict / JSON / YAML), spec files."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from decorr_af.data import generate, photon_table
from decorr_af.data.filesets import input_groups, preprocess_fileset, spec_sources
from decorr_af.errors import ConfigError, InputFileError
from decorr_af.workflows.inputs import input_fingerprint, resolve_inputs

pytest.importorskip("uproot")


@pytest.fixture(scope="module")
def two_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("spec")
    return generate(out, sample="photons", kind="mc", events=800, files=2, seed=6061)


@pytest.fixture(scope="module")
def reference(two_files):
    return photon_table([str(p) for p in two_files], mode="eager")


def _fileset(files, tree="CollectionTree"):
    return {"photons_mc": {"files": {str(p): tree for p in files}}}


def test_fileset_mapping_gives_the_table_of_its_files(two_files, reference):
    got = photon_table(_fileset(two_files), mode="eager")
    pd.testing.assert_frame_equal(got, reference)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_fileset_file_in_a_workflow_config(two_files, reference, tmp_path, suffix):
    import yaml

    spec = tmp_path / f"fileset{suffix}"
    relative = {"mc": {"files": {p.name: "CollectionTree" for p in two_files}}}
    for p in two_files:  # relative paths are relative to the spec file
        (tmp_path / p.name).symlink_to(p)
    dump = json.dumps if suffix == ".json" else yaml.safe_dump
    spec.write_text(dump(relative))
    pd.testing.assert_frame_equal(photon_table(str(spec), mode="eager"), reference)

    @dataclasses.dataclass(frozen=True)
    class Cfg:
        mc_files: tuple[str, ...] = (str(spec),)

    assert resolve_inputs(str(spec), key="mc_files") == [spec.resolve()]
    stamps = input_fingerprint(Cfg())["mc_files"]
    assert [s[0] for s in stamps] == [str(spec.resolve())] + [
        str(tmp_path / p.name) for p in two_files
    ]


def test_fileset_with_an_absent_file_names_key_and_dataset(two_files, tmp_path):
    spec = tmp_path / "fs.json"
    spec.write_text(json.dumps(_fileset([*two_files, tmp_path / "gone.root"])))
    with pytest.raises(
        InputFileError, match=r"mc_files \(photons_mc\): no file matches .*gone\.root"
    ):
        resolve_inputs(str(spec), key="mc_files")


def test_wrong_tree_in_a_fileset_is_named(two_files):
    with pytest.raises(InputFileError, match="Events"):
        photon_table(_fileset(two_files, tree="Events"), mode="eager")


def test_bad_specs_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="neither an input spec"):
        input_groups({"a": 1})
    with pytest.raises(ConfigError, match="unknown key"):
        input_groups({"files": "a.root", "colums": {}})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputFileError, match="not valid json"):
        input_groups(str(bad))


def test_plain_specs_keep_their_old_path():
    assert not spec_sources(["a/*.root", "root://host//b.root"])
    (group,) = input_groups(["a/*.root", "root://host//b.root"])
    assert group.files == ["a/*.root", "root://host//b.root"]
    assert group.tree is None
    assert group.columns is None


def test_preprocess_fileset_gives_coffea_steps(two_files):
    pytest.importorskip("coffea.dataset_tools")
    available = preprocess_fileset(_fileset(two_files), step_size=150)
    files = available["photons_mc"]["files"]
    assert sorted(files) == sorted(str(p) for p in two_files)
    for info in files.values():
        assert info["object_path"] == "CollectionTree"
        assert info["steps"][0][0] == 0
        assert max(b - a for a, b in info["steps"]) <= 150
        assert info["steps"][-1][1] == info["num_entries"]


def test_cli_export_reads_a_flat_ntuple_through_columns(reference, tmp_path, capsys):
    import yaml

    from decorr_af.cli import main
    from decorr_af.data.export import read_table

    stored = [c for c in reference.columns if c not in ("e", "converted", "is_prompt")]
    flat = tmp_path / "flat.parquet"
    reference[stored].rename(columns=lambda c: f"x_{c}").to_parquet(flat)
    cmap = tmp_path / "map.yaml"
    cmap.write_text(
        yaml.safe_dump({"columns": {c: f"x_{c}" for c in stored}, "energy_unit": "GeV"})
    )
    out = tmp_path / "table.parquet"
    assert main(["export", str(flat), "--columns", str(cmap), "--out", str(out)]) == 0
    assert f"wrote {len(reference)} rows" in capsys.readouterr().out
    pd.testing.assert_frame_equal(read_table(out), reference, check_dtype=False)


def test_cli_inspect_shows_the_column_map(reference, tmp_path, capsys):
    import yaml

    from decorr_af.cli import main

    flat = tmp_path / "flat.parquet"
    reference[["pt", "eta", "phi", "Reta"]].rename(columns=lambda c: f"x_{c}").to_parquet(flat)
    cmap = tmp_path / "map.yaml"
    cmap.write_text(yaml.safe_dump({c: f"x_{c}" for c in ("pt", "eta", "phi", "Reta")}))
    assert main(["inspect", str(flat), "--columns", str(cmap)]) == 0
    out = capsys.readouterr().out
    assert "photon table: readable" in out
    assert "Reta <- x_Reta" in out
    assert "diphoton table: missing ['myy'" in out

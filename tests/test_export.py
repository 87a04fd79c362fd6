"""Tests of streaming flat tables to Parquet/HDF5 (decorr_af.data.export) and the CLI."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from decorr_af.cli import main
from decorr_af.data.export import export_table, read_table
from decorr_af.data.table import diphoton_table, photon_table
from decorr_af.errors import ConfigError


@pytest.mark.parametrize("suffix", [".parquet", ".h5"])
def test_round_trip_streamed(sample_dir, tmp_path, suffix):
    src = sample_dir / "photons_data"
    out = export_table(src, tmp_path / f"t{suffix}", chunk_size=700)
    expected = photon_table(src, mode="eager")
    got = read_table(out)
    pd.testing.assert_frame_equal(got, expected, check_dtype=True)
    if suffix == ".parquet":
        assert pq.ParquetFile(out).num_row_groups >= 6000 // 700  # written chunk by chunk
    assert list(read_table(out, columns=["pt", "eta"]).columns) == ["pt", "eta"]


def test_diphoton_export_hdf5(sample_dir, tmp_path):
    src = sample_dir / "diphoton_mc"
    out = export_table(src, tmp_path / "yy.hdf5", table="diphoton", drop_truth=True)
    pd.testing.assert_frame_equal(
        read_table(out), diphoton_table(src, mode="eager", drop_truth=True)
    )


def test_cli_export(sample_dir, tmp_path, capsys):
    out = tmp_path / "cli.parquet"
    rc = main(
        [
            "export",
            str(sample_dir / "photons_mc"),
            "--out",
            str(out),
            "--drop-truth",
            "--features",
            "Reta",
            "Rphi",
        ]
    )
    assert rc == 0
    df = read_table(out)
    assert "Rphi" in df.columns
    assert "truthType" not in df.columns
    assert f"wrote {len(df)} rows" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_reports_missing_feature(tmp_path, capsys):
    from conftest import REAL_RNTUPLE

    rc = main(["export", str(REAL_RNTUPLE), "--out", str(tmp_path / "x.h5"), "--features", "Reta"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "Reta" in err
    assert REAL_RNTUPLE.name in err
    assert not (tmp_path / "x.h5").exists()


def test_bad_suffix(sample_dir, tmp_path):
    with pytest.raises(ConfigError, match="suffix"):
        export_table(sample_dir / "photons_mc", tmp_path / "t.csv")


@pytest.mark.parametrize("suffix", [".parquet", ".h5"])
def test_failing_reexport_keeps_the_previous_table(sample_dir, tmp_path, suffix, monkeypatch):
    """A re-export that fails half-way (or is killed) never touches the final name."""
    from decorr_af.data import export as export_mod

    src = sample_dir / "photons_mc"
    out = export_table(src, tmp_path / f"t{suffix}", chunk_size=2000)
    good = out.read_bytes()
    real_iter = export_mod.iter_table

    def failing(*args, **kwargs):
        chunks = real_iter(*args, **kwargs)
        yield next(chunks)
        yield next(chunks)
        # mid-export: the previous table is still whole under its name
        assert out.read_bytes() == good
        raise OSError("disk full")

    monkeypatch.setattr(export_mod, "iter_table", failing)
    with pytest.raises(OSError, match="disk full"):
        export_table(src, out, chunk_size=1000)
    assert out.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_selection_errors_name_the_selection(sample_dir, tmp_path):
    with pytest.raises(ConfigError, match=r"selection='pt >>' is not a valid expression"):
        export_table(sample_dir / "photons_mc", tmp_path / "t.parquet", selection="pt >>")
    with pytest.raises(ConfigError, match=r"selection='nope > 1': unknown column 'nope'"):
        export_table(sample_dir / "photons_mc", tmp_path / "t.parquet", selection="nope > 1")
    assert list(tmp_path.iterdir()) == []


def test_output_that_is_a_directory(sample_dir, tmp_path):
    (tmp_path / "t.parquet").mkdir()
    with pytest.raises(ConfigError, match="is a directory"):
        export_table(sample_dir / "photons_mc", tmp_path / "t.parquet")

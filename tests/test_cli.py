"""Every ``decorr-af`` sub-command answers ``--help``; errors exit cleanly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from decorr_af.cli import COMMANDS, build_parser, main


def test_all_commands_registered():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: decorr-af " + command in capsys.readouterr().out


def test_console_script_help():
    out = subprocess.run(
        [sys.executable, "-m", "decorr_af", "--help"], capture_output=True, text=True, check=True
    )
    for command in COMMANDS:
        assert command in out.stdout


def test_api_spellings_become_flags():
    from decorr_af.cli import speak

    parser = build_parser()
    export = next(a for a in parser._actions if a.dest == "command").choices["export"]
    msg = "Pass nonfinite='drop' or nonfinite='keep'; pass format='parquet'|'hdf5'; tree=..."
    assert speak(msg, export) == (
        "Pass --nonfinite drop or --nonfinite keep; pass --format parquet|hdf5; --tree ..."
    )
    assert speak("unknown='x' stays", export) == "unknown='x' stays"

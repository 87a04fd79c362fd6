"""The ``decorr-af`` command line.

Each sub-command lives in its own module of this package and exposes
``add_parser(subparsers)`` (registering its arguments) and ``run(args) -> int``.
Modules are imported lazily, so ``decorr-af --help`` is fast.

Errors of the package (:class:`~decorr_af.errors.DecorrAFError`) and file
system errors print one line and exit with code 2; messages written for the
Python API (``nonfinite='drop'``) are rephrased with the command's own flags
(``--nonfinite drop``); warnings print as one line each.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import warnings
from collections.abc import Iterator, Sequence

from decorr_af._version import __version__
from decorr_af.errors import DecorrAFError

__all__ = ["main"]

#: sub-command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("decorr_af.cli.generate", "generate PHYSLITE-like toy ROOT files"),
    "inspect": ("decorr_af.cli.inspect", "summarise a PHYSLITE(-like) ROOT file"),
    "export": ("decorr_af.cli.export", "export the flat photon table to Parquet/HDF5"),
    "export-model": ("decorr_af.cli.export_model", "export a trained model to ONNX"),
    "scan": ("decorr_af.cli.scan", "run a λ / hyper-parameter scan from a YAML config"),
    "report": ("decorr_af.cli.report", "rebuild the HTML report of a scan or demo directory"),
    "demo": ("decorr_af.cli.demo", "the main job: generate, scan on Dask, write a report"),
}


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="decorr-af",
        description="Decorrelated ML for HEP analysis facilities.",
    )
    parser.add_argument("--version", action="version", version=f"decorr_af {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name == module:  # sub-command not built yet
                continue
            raise
        p = sub.add_parser(name, help=help_, description=help_)
        mod.add_parser(p)
        p.set_defaults(_module=mod, _parser=p)
    return parser


_API_OPTION = re.compile(r"\b([a-z_]+)=((?:'[^']*'(?:\|'[^']*')*)|True|False|\.\.\.)")


def _options(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        longs = [o for o in action.option_strings if o.startswith("--")]
        if longs:
            yield action.dest, action


def speak(message: str, parser: argparse.ArgumentParser | None) -> str:
    """Rephrase API spellings (``nonfinite='drop'``) with the command's flags (``--nonfinite drop``).

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> _ = p.add_argument("--nonfinite")
    >>> speak("Pass nonfinite='drop' to drop those rows", p)
    'Pass --nonfinite drop to drop those rows'
    >>> speak("nonfinite='a b' is unknown", p)
    "--nonfinite 'a b' is unknown"
    """
    if parser is None:
        return message
    flags = dict(_options(parser))

    def repl(m: re.Match[str]) -> str:
        action = flags.get(m.group(1))
        if action is None:
            return m.group(0)
        flag = next(o for o in action.option_strings if o.startswith("--"))
        value = m.group(2)
        if value in ("True", "False"):
            return flag if value == "True" and action.nargs == 0 else m.group(0)
        values = [v[1:-1] if v.startswith("'") else v for v in value.split("|")]
        shown = "|".join(v if v.isidentifier() or v == "..." else repr(v) for v in values)
        return f"{flag} {shown}"

    return _API_OPTION.sub(repl, message)


def _one_line_warnings(command: str) -> None:
    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: object = None,
        line: str | None = None,
    ) -> None:
        text = " ".join(str(message).split())  # one line, even for multi-line warnings
        print(f"decorr-af {command}: warning: {text}", file=file or sys.stderr)

    warnings.showwarning = show


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``decorr-af`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    sub = getattr(args, "_parser", None)
    saved = warnings.showwarning
    _one_line_warnings(args.command)
    try:
        return int(args._module.run(args) or 0)
    except DecorrAFError as err:
        print(f"decorr-af {args.command}: error: {speak(str(err), sub)}", file=sys.stderr)
        return 2
    except OSError as err:  # file system errors the library did not anticipate
        what = f"{err.filename}: " if err.filename else ""
        print(f"decorr-af {args.command}: error: {what}{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"decorr-af {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = saved


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

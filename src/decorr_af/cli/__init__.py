"""The ``decorr-af`` command line.

Each sub-command lives in its own module of this package and exposes
``add_parser(subparsers)`` (registering its arguments) and ``run(args) -> int``.
Modules are imported lazily, so ``decorr-af --help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from decorr_af._version import __version__
from decorr_af.errors import DecorrAFError

__all__ = ["main"]

#: sub-command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("decorr_af.cli.generate", "generate PHYSLITE-like toy ROOT files"),
    "inspect": ("decorr_af.cli.inspect", "summarise a PHYSLITE(-like) ROOT file"),
    "export": ("decorr_af.cli.export", "export the flat photon table to Parquet/HDF5"),
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
        p.set_defaults(_module=mod)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``decorr-af`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args._module.run(args) or 0)
    except DecorrAFError as err:
        print(f"decorr-af {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"decorr-af {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

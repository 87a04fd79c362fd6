"""``decorr-af report DIR``: rebuild the HTML report of a scan or demo directory."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Register the arguments of ``decorr-af report``."""
    parser.add_argument("directory", type=Path, help="scan directory or demo output directory")
    parser.add_argument("--title", default=None, help="page title")


def run(args: argparse.Namespace) -> int:
    """Write ``DIR/report.html`` from the saved results and print its path."""
    from decorr_af.report import write_report

    path = write_report(args.directory, title=args.title)
    print(f"report: {path.resolve()}")
    return 0

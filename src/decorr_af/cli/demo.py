"""``decorr-af demo``: the main job (toy data, λ scans on Dask, HTML report)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Register the arguments of ``decorr-af demo``."""
    parser.add_argument("--out", type=Path, default=Path("demo-output"), help="output directory")
    parser.add_argument(
        "--cluster", default=None, help="cluster spec (default: $DECORR_AF_CLUSTER or local)"
    )
    parser.add_argument("--quick", action="store_true", help="small version (< 2 min)")
    parser.add_argument("--seed", type=int, default=0, help="base seed of data and training")
    parser.add_argument("--events", type=int, default=None, help="events per generated sample")
    parser.add_argument(
        "--workflows",
        default=None,
        help="comma-separated subset of photon_id,calibration,tth",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    """Run the demo; the report path is printed at the end."""
    from decorr_af.demo import run_demo

    workflows = (
        [w.strip() for w in args.workflows.split(",") if w.strip()] if args.workflows else None
    )
    run_demo(
        args.out,
        cluster=args.cluster,
        quick=args.quick,
        seed=args.seed,
        events=args.events,
        workflows=workflows,
        progress=not args.no_progress,
    )
    return 0

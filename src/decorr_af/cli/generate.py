"""``decorr-af generate``: write PHYSLITE-like toy ROOT files."""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Register the arguments of ``decorr-af generate``."""
    parser.add_argument(
        "--sample", choices=("photons", "diphoton", "zee", "zmumug"), default="photons"
    )
    parser.add_argument("--kind", choices=("mc", "data"), default="mc")
    parser.add_argument("--events", type=int, required=True, help="total number of events")
    parser.add_argument("--files", type=int, default=1, help="number of output files")
    parser.add_argument("--seed", type=int, default=0, help="random seed (>= 0)")
    parser.add_argument(
        "--mismodelling",
        type=float,
        default=0.0,
        help="strength of the physical data/MC detector differences (kind=data only)",
    )
    parser.add_argument(
        "--chunk-size", type=int, default=100_000, help="events generated per write"
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    parser.add_argument(
        "--cells",
        action="store_true",
        help="photons only: also write the calorimeter cells of every photon candidate"
        " (AnalysisPhotonCellsAuxDyn.*) and compute its shower shapes from them",
    )


def run(args: argparse.Namespace) -> int:
    """Generate the files and print their paths, one per line."""
    from decorr_af.data.writer import generate
    from decorr_af.errors import ConfigError

    if args.kind != "data" and args.mismodelling != 0:
        raise ConfigError("--mismodelling applies to --kind data only (MC is the reference)")
    paths = generate(
        args.out,
        sample=args.sample,
        kind=args.kind,
        events=args.events,
        files=args.files,
        seed=args.seed,
        mismodelling=args.mismodelling,
        chunk_size=args.chunk_size,
        progress=args.progress,
        cells=args.cells,
    )
    for path in paths:
        print(path)
    return 0

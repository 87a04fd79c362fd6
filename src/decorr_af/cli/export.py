"""``decorr-af export FILES... --out table.parquet|table.h5``: stream a flat table to disk."""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Register the arguments of ``decorr-af export``."""
    parser.add_argument(
        "files",
        nargs="+",
        help="input spec: ROOT files, globs, directories, URLs, fileset/input-spec .json/.yaml",
    )
    parser.add_argument(
        "--columns",
        default=None,
        metavar="MAP",
        help="column map (YAML/JSON: columns, energy_unit, tree) to read FILES as flat "
        "ntuples (ROOT TTree, Parquet, HDF5)",
    )
    parser.add_argument("--out", required=True, help="output table (.parquet/.pq or .h5/.hdf5)")
    parser.add_argument(
        "--table",
        choices=("photon", "diphoton"),
        default="photon",
        help="one row per photon (default) or per diphoton event",
    )
    parser.add_argument("--drop-truth", action="store_true", help="leave out truth columns")
    parser.add_argument(
        "--features",
        nargs="+",
        default=None,
        metavar="FEATURE",
        help="photon features to export (default: every standard feature present)",
    )
    parser.add_argument("--selection", default=None, help="row selection, e.g. 'pt > 25'")
    parser.add_argument(
        "--nonfinite",
        choices=("raise", "drop", "keep"),
        default="raise",
        help="policy for NaN/inf values (default: raise)",
    )
    parser.add_argument("--tree", default=None, help="TTree/RNTuple name")
    parser.add_argument("--chunk-size", type=int, default=200_000, help="events per chunk")
    parser.add_argument("--format", choices=("parquet", "hdf5"), default=None)


def run(args: argparse.Namespace) -> int:
    """Export the table and print where it went."""
    from decorr_af.data.export import export_table, read_table
    from decorr_af.workflows.inputs import resolve_inputs

    resolve_inputs(args.files, key="FILES")  # unreadable or empty paths: one clear line
    source = args.files
    if args.columns is not None:
        from decorr_af.data.filesets import column_mapped

        source = column_mapped(args.files, args.columns)
    path = export_table(
        source,
        args.out,
        format=args.format,
        table=args.table,
        features=args.features,
        selection=args.selection,
        drop_truth=args.drop_truth,
        nonfinite=args.nonfinite,
        tree=args.tree,
        chunk_size=args.chunk_size,
    )
    n = len(read_table(path, columns=["eta1" if args.table == "diphoton" else "eta"]))
    print(f"wrote {n} rows to {path}")
    return 0

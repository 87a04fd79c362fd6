"""``decorr-af inspect FILE``: summarise a PHYSLITE(-like) ROOT file.

Prints the event store (TTree ``CollectionTree`` or RNTuple ``EventData``),
its number of entries, the collections with their fields (branches named
``<Collection>AuxDyn.<field>``, or ``:`` in ATLAS RNTuples) and a short
physics summary: simulation or data (``EventInfo.eventTypeBitmask``), the
numbers of photons, electrons and muons, mean μ and, for simulation with truth,
the fraction of prompt photons (MCTruthClassifier ``truthType == 14``).
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from typing import Any

import numpy as np

__all__ = ["add_parser", "collections_of", "run", "summarise"]

_AUX = re.compile(r"^(?P<coll>[A-Za-z0-9_]+?Aux(?:Dyn)?)[.:](?P<field>[^/.:]+)$")


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Register the arguments of ``decorr-af inspect``."""
    parser.add_argument("file", help="ROOT file (TTree CollectionTree or RNTuple EventData)")
    parser.add_argument("--tree", default=None, help="TTree/RNTuple name (default: auto)")
    parser.add_argument(
        "--max-fields",
        type=int,
        default=25,
        help="fields listed per collection (0 = all)",
    )
    parser.add_argument(
        "--columns",
        default=None,
        metavar="MAP",
        help="column map (YAML/JSON): inspect FILE as a flat ntuple (ROOT, Parquet, HDF5) "
        "and show which table column each file column gives",
    )
    parser.add_argument(
        "--readiness",
        action="store_true",
        help="also say what each workflow (photon_id, calibration, tth) lacks in this file",
    )


def collections_of(keys: Any) -> tuple[dict[str, list[str]], list[str]]:
    """Group branch/field names into ``{collection: [fields]}`` and the other names.

    Examples
    --------
    >>> collections_of(["AnalysisPhotonsAuxDyn.pt", "nAnalysisPhotonsAuxDyn"])
    ({'AnalysisPhotons': ['pt']}, ['nAnalysisPhotonsAuxDyn'])
    """
    groups: dict[str, list[str]] = defaultdict(list)
    other = []
    for key in keys:
        m = _AUX.match(key)
        if m is None:
            if "/" not in key and not any(key.startswith(g) for g in groups):
                other.append(key)
            continue
        coll = re.sub(r"Aux(Dyn)?$", "", m["coll"])
        if m["field"] not in groups[coll]:
            groups[coll].append(m["field"])
    return dict(groups), [k for k in other if not _AUX.match(k)]


def _read(obj: Any, name: str, rntuple: bool) -> Any:
    if rntuple:
        return obj.arrays([name])[name]
    return obj[name].array(library="ak")


_COUNTED = (("AnalysisPhotons", "photons"), ("AnalysisElectrons", "electrons"),
            ("AnalysisMuons", "muons"))  # fmt: skip


def summarise(obj: Any, keys: frozenset[str], *, rntuple: bool) -> dict[str, float]:
    """Object counts, mean μ, simulation flag and (MC only) the prompt-photon fraction."""
    import awkward as ak

    sep = ":" if rntuple else "."
    out: dict[str, float] = {}
    for container, label in _COUNTED:
        pt = f"{container}AuxDyn{sep}pt"
        if pt in keys:
            out[label] = float(ak.sum(ak.num(_read(obj, pt, rntuple), axis=1)))
    mu = f"EventInfoAuxDyn{sep}averageInteractionsPerCrossing"
    if mu in keys:
        out["mean_mu"] = float(np.mean(ak.to_numpy(_read(obj, mu, rntuple))))
    for bits in (
        f"EventInfoAuxDyn{sep}eventTypeBitmask",
        "EventInfoAux./EventInfoAux.eventTypeBitmask",
    ):
        if bits in keys:
            flags = ak.to_numpy(_read(obj, bits, rntuple))
            if len(flags):
                out["simulation"] = float(np.all(flags & 1))  # xAOD IS_SIMULATION
            break
    tt = f"AnalysisPhotonsAuxDyn{sep}truthType"
    if tt in keys and out.get("simulation", 1.0):
        flat = ak.to_numpy(ak.flatten(_read(obj, tt, rntuple)))
        if len(flat):
            out["prompt_fraction"] = float(np.mean(flat == 14))
    return out


def run(args: argparse.Namespace) -> int:
    """Print the summary of one file."""
    import uproot

    from decorr_af.data.validate import inspect_file
    from decorr_af.errors import InputFileError

    if getattr(args, "columns", None) is not None:
        return _run_flat(args)
    info = inspect_file(args.file, tree=args.tree)
    kind = "RNTuple" if info.rntuple else "TTree"
    print(f"file:    {info.path}")
    print(f"tree:    {info.tree} ({kind})")
    print(f"entries: {info.num_entries}")
    groups, other = collections_of(sorted(info.keys))
    print(f"collections ({len(groups)}):")
    for coll in sorted(groups):
        fields = groups[coll]
        shown = fields if args.max_fields <= 0 else fields[: args.max_fields]
        more = f", ... (+{len(fields) - len(shown)})" if len(shown) < len(fields) else ""
        print(f"  {coll} [{len(fields)}]: {', '.join(shown)}{more}")
    if other:
        shown = other if args.max_fields <= 0 else other[: args.max_fields]
        more = f", ... (+{len(other) - len(shown)})" if len(shown) < len(other) else ""
        print(f"other branches [{len(other)}]: {', '.join(shown)}{more}")
    try:
        with uproot.open(info.path) as handle:
            summary = summarise(handle[info.tree], info.keys, rntuple=info.rntuple)
    except Exception as err:
        raise InputFileError(f"cannot read the summary branches of {info.path}: {err}") from err
    print("summary:")
    if "simulation" in summary:
        print(f"  kind: {'simulation' if summary['simulation'] else 'data'}")
    for _, label in _COUNTED:
        if label in summary:
            print(f"  {label}: {int(summary[label])}")
    if "mean_mu" in summary:
        print(f"  mean mu: {summary['mean_mu']:.2f}")
    if "prompt_fraction" in summary:
        print(f"  prompt fraction (truthType 14): {summary['prompt_fraction']:.3f}")
    if not summary:
        print("  (no photon or EventInfo branches)")
    if getattr(args, "readiness", False):
        from decorr_af.workflows.inputs import input_readiness

        print("workflows:")
        for line in input_readiness(str(info.path), tree=args.tree).values():
            print(f"  {line}")
    return 0


def _run_flat(args: argparse.Namespace) -> int:
    """Print how a column map reads a flat ntuple: table column <- file column."""
    from decorr_af.data.columnmap import FLAT_TABLES, ColumnMap, file_columns
    from decorr_af.data.filesets import column_mapped
    from decorr_af.data.tableplan import EVENT_COLUMNS

    spec = column_mapped([args.file], args.columns)
    if args.tree is not None:
        spec["tree"] = args.tree
    cmap = ColumnMap.from_dict(spec)
    have = set(file_columns(args.file, cmap))
    print(f"file:    {args.file}")
    print(f"columns: {len(have)}; energy unit {cmap.energy_unit}")
    for name, table in FLAT_TABLES.items():
        rows = [(c, "required") for c in table.required]
        rows += [(c, "optional") for c in (*EVENT_COLUMNS, *table.features, *table.truth)]
        found = [(c, k) for c, k in rows if cmap.file_column(c) in have]
        missing = [c for c, k in rows if k == "required" and cmap.file_column(c) not in have]
        state = "readable" if not missing else f"missing {missing}"
        print(f"{name} table: {state}")
        for col, _ in found:
            source = cmap.file_column(col)
            print(f"  {col}" + ("" if source == col else f" <- {source}"))
    return 0

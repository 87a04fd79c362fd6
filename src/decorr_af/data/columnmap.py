"""Bring your own ntuple: flat ROOT TTrees, Parquet and HDF5 read through a column map.

A flat ntuple holds one row per table row (one per photon for the photon table,
one per event for the diphoton table) under its own column names and units.
A :class:`ColumnMap` says which file column holds each table column
(``{"Reta": "ph_Reta", "truth_e": "ph_truth_E"}``; a table column left out is
looked up under its own name) and in which unit the energy-like columns are
stored (``"MeV"`` or ``"GeV"``; tables are always in GeV).
:func:`read_flat_table` returns the same columns, in the same order and with the
same derived columns (``e``, ``converted``, ``is_prompt``), as
:func:`~decorr_af.data.photon_table` / :func:`~decorr_af.data.diphoton_table`
give for a PHYSLITE file. Missing required columns raise one
:class:`~decorr_af.errors.MissingBranchError` listing them all with the map used.

Formats, from the file suffix: ``.root`` (a TTree, or an RNTuple, of flat
branches; ``tree`` or the file's only one), ``.parquet``/``.pq`` (pyarrow), ``.h5``/``.hdf5``/``.hdf``
(h5py: one 1-d dataset per column, at the root or under the group ``tree``).
Remote URLs (``https://``, ``root://``, ``s3://``) are opened through fsspec.

Examples
--------
>>> cmap = ColumnMap({"pt": "ph_pt", "Reta": "ph_Reta"}, energy_unit="MeV")
>>> cmap.file_column("Reta"), cmap.file_column("eta")
('ph_Reta', 'eta')
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from decorr_af._compat import optional_import
from decorr_af.data.layout import PHYSLITE
from decorr_af.data.readers import ReadMode, parse_mode
from decorr_af.data.remote import is_remote, source_path
from decorr_af.data.schema import DIPHOTON_EVENT_FEATURES, TRUTH_TYPE
from decorr_af.data.tableplan import EVENT_COLUMNS, STANDARD_FEATURES
from decorr_af.data.validate import NonFinitePolicy, format_nonfinite, parse_policy
from decorr_af.errors import ConfigError, InputFileError, MissingBranchError, NonFiniteValueError

__all__ = ["FLAT_TABLES", "FORMATS", "ColumnMap", "FlatTable", "file_columns", "read_flat_table"]

#: file suffix -> format
FORMATS = {
    ".root": "root",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
}
_UNITS = ("MeV", "GeV")


@dataclass(frozen=True)
class ColumnMap:
    """Table column -> file column, the energy unit and where the rows live.

    Parameters
    ----------
    columns
        Table column -> column (branch, dataset) name in the file. Columns not
        named are looked up under their table name.
    energy_unit
        ``"MeV"`` or ``"GeV"``: unit of the energy-like columns in the file.
    tree
        ROOT: TTree name (default: the file's only TTree); HDF5: group holding
        the datasets (default: the file root).
    format
        ``"root"``, ``"parquet"`` or ``"hdf5"``; default: from the file suffix.
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    energy_unit: str = "GeV"
    tree: str | None = None
    format: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.columns, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.columns.items()
        ):
            raise ConfigError(
                f"columns must map table columns to file columns, got {self.columns!r}"
            )
        if self.energy_unit not in _UNITS:
            raise ConfigError(
                f"energy_unit must be one of {list(_UNITS)}, got {self.energy_unit!r}"
            )
        if self.format is not None and self.format not in set(FORMATS.values()):
            raise ConfigError(
                f"format must be one of {sorted(set(FORMATS.values()))}, got {self.format!r}"
            )
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> ColumnMap:
        """From a spec mapping (``columns``, ``energy_unit`` or ``units``, ``tree``, ``format``).

        Examples
        --------
        >>> ColumnMap.from_dict({"columns": {"pt": "ph_pt"}, "units": "MeV"}).energy_unit
        'MeV'
        """
        unit = spec.get("energy_unit", spec.get("units", "GeV"))
        return cls(dict(spec.get("columns") or {}), unit, spec.get("tree"), spec.get("format"))

    def file_column(self, name: str) -> str:
        """The file column of a table column."""
        return self.columns.get(name, name)

    def describe(self) -> str:
        """The map as errors show it."""
        return f"columns={dict(self.columns)}, energy_unit={self.energy_unit!r}"


@dataclass(frozen=True)
class FlatTable:
    """The columns of a flat table read from a flat ntuple.

    Attributes
    ----------
    name
        Table name (``"photon"``, ``"diphoton"``).
    required
        Columns that must be in the file, in table order.
    features
        Optional feature columns (all present ones read when ``features=None``).
    truth
        Truth columns (read in simulation unless ``drop_truth``).
    energy
        Columns stored in the file's energy unit.
    finish
        ``finish(columns) -> columns``: adds the derived columns, sets the order.
    """

    name: str
    required: tuple[str, ...]
    features: tuple[str, ...]
    truth: tuple[str, ...]
    energy: tuple[str, ...]
    finish: Callable[[dict[str, np.ndarray], tuple[str, ...]], dict[str, np.ndarray]]


def _photon_finish(cols: dict[str, np.ndarray], feats: tuple[str, ...]) -> dict[str, np.ndarray]:
    out = {c: cols[c] for c in EVENT_COLUMNS}
    for c in ("pt", "eta", "phi"):
        out[c] = cols[c]
    out["e"] = cols["pt"] * np.cosh(cols["eta"])
    for f in feats:
        out[f] = cols[f]
        if f == "conversionType":
            out["converted"] = cols[f] > 0
    for f in PHYSLITE.truth_fields:
        if f in cols:
            out[f] = cols[f]
    if "truthType" in out:
        out["is_prompt"] = out["truthType"] == TRUTH_TYPE["IsoPhoton"]
    return out


def _diphoton_finish(cols: dict[str, np.ndarray], feats: tuple[str, ...]) -> dict[str, np.ndarray]:
    out = {c: cols[c] for c in EVENT_COLUMNS}
    for c in (*DIPHOTON_EVENT_FEATURES, "pt1", "eta1", "phi1", "pt2", "eta2", "phi2"):
        out[c] = cols[c]
    for c in ("is_prompt1", "is_prompt2", "is_signal"):
        if c in cols:
            out[c] = np.asarray(cols[c], dtype=bool)
    return out


#: flat-table kinds a column-mapped ntuple can give
FLAT_TABLES: dict[str, FlatTable] = {
    "photon": FlatTable(
        "photon",
        ("pt", "eta", "phi"),
        tuple(f for f in STANDARD_FEATURES if f != "converted"),
        PHYSLITE.truth_fields,
        PHYSLITE.energy_fields,
        _photon_finish,
    ),
    "diphoton": FlatTable(
        "diphoton",
        (*DIPHOTON_EVENT_FEATURES, "pt1", "eta1", "phi1", "pt2", "eta2", "phi2"),
        (),
        ("is_prompt1", "is_prompt2", "is_signal"),
        ("myy", "pt_yy", "ht", "lead_jet_pt", "pt1", "pt2"),
        _diphoton_finish,
    ),
}


# -- formats -------------------------------------------------------------------------


def _format(path: Any, cmap: ColumnMap) -> str:
    if cmap.format is not None:
        return cmap.format
    suffix = Path(str(path)).suffix.lower()
    if suffix not in FORMATS:
        raise InputFileError(
            f"{path}: cannot tell the format of a flat ntuple from {suffix!r}; use one of "
            f"{sorted(FORMATS)} or set format: root|parquet|hdf5 in the input spec"
        )
    return FORMATS[suffix]


def _root_tree(handle: Any, path: Any, tree: str | None) -> Any:
    if tree is not None:
        if tree not in handle:
            have = sorted(handle.keys(cycle=False))
            raise InputFileError(f"{path}: no TTree/RNTuple {tree!r} (has {have})")
        return handle[tree]
    stores = ("TTree", "ROOT::RNTuple")
    trees = [k for k, c in handle.classnames(cycle=False).items() if c in stores]
    if len(trees) != 1:
        raise InputFileError(f"{path}: give tree: (the file holds the trees {trees})")
    return handle[trees[0]]


@contextlib.contextmanager
def _opened(path: Any) -> Iterator[Any]:
    """A local path as is, a remote URL as an fsspec file object (closed afterwards)."""
    if not is_remote(path):
        yield os.fspath(path)
        return
    with source_path(path).open("rb") as handle:
        yield handle


def file_columns(path: str | os.PathLike, cmap: ColumnMap) -> list[str]:
    """The column names a flat ntuple holds (reads only its metadata).

    Raises
    ------
    InputFileError
        The file cannot be opened, or the TTree/HDF5 group is absent.
    """
    fmt = _format(path, cmap)
    try:
        if fmt == "root":
            uproot = optional_import("uproot", "io")
            with uproot.open(str(path)) as handle:  # uproot reads root:// and https:// itself
                return list(_root_tree(handle, path, cmap.tree).keys())
        if fmt == "parquet":
            pq = optional_import("pyarrow.parquet", "io")
            with _opened(path) as source:
                return list(pq.read_schema(source).names)
        h5py = optional_import("h5py", "io")
        with _opened(path) as source, h5py.File(source, "r") as handle:
            return sorted(_h5_group(handle, path, cmap.tree).keys())
    except (InputFileError, ConfigError):
        raise
    except Exception as err:
        raise InputFileError(f"{path}: cannot read as {fmt} ({err})") from err


def _h5_group(handle: Any, path: Any, group: str | None) -> Any:
    if group is None:
        return handle
    if group not in handle:
        raise InputFileError(f"{path}: no HDF5 group {group!r} (has {sorted(handle.keys())})")
    return handle[group]


def _read_columns(path: Any, cmap: ColumnMap, names: Sequence[str]) -> dict[str, np.ndarray]:
    fmt = _format(path, cmap)
    if fmt == "root":
        uproot = optional_import("uproot", "io")
        with uproot.open(str(path)) as handle:
            arrays = _root_tree(handle, path, cmap.tree).arrays(list(names), library="np")
        return {n: np.asarray(arrays[n]) for n in names}
    if fmt == "parquet":
        pq = optional_import("pyarrow.parquet", "io")
        with _opened(path) as source:
            table = pq.read_table(source, columns=list(names))
        return {n: table.column(n).to_numpy() for n in names}
    h5py = optional_import("h5py", "io")
    with _opened(path) as source, h5py.File(source, "r") as handle:
        group = _h5_group(handle, path, cmap.tree)
        return {n: np.asarray(group[n][()]) for n in names}


# -- reading -------------------------------------------------------------------------


def _missing_error(path: Any, missing: list[str], cmap: ColumnMap, have: list[str], kind: str):
    named = [f"{c} (file column {cmap.file_column(c)!r})" for c in missing]
    return MissingBranchError(
        f"{path}: the {kind} table needs column(s) {named}, absent from the file; "
        f"column map used: {cmap.describe()}; the file holds {have}"
    )


def _plan(
    path: Any,
    have: list[str],
    cmap: ColumnMap,
    table: FlatTable,
    features: Sequence[str] | None,
    drop_truth: bool,
) -> tuple[list[str], tuple[str, ...]]:
    present = set(have)

    def there(col: str) -> bool:
        return cmap.file_column(col) in present

    if features is None:
        feats = tuple(f for f in table.features if there(f))
    else:
        wanted = [f for f in dict.fromkeys(features) if f not in ("converted", "e")]
        if "converted" in features and "conversionType" not in wanted:
            wanted.insert(0, "conversionType")
        feats = tuple(wanted)
    missing = [c for c in (*table.required, *feats) if not there(c)]
    if missing:
        raise _missing_error(path, missing, cmap, have, table.name)
    optional = [c for c in EVENT_COLUMNS if there(c)]
    truth = [] if drop_truth else [c for c in table.truth if there(c)]
    return list(dict.fromkeys((*optional, *table.required, *feats, *truth))), feats


def _defaults(cols: dict[str, np.ndarray], n: int) -> None:
    for col in EVENT_COLUMNS:
        if col not in cols:
            cols[col] = np.ones(n, np.float32) if col == "weight" else np.zeros(n, np.uint32)


def _flat_frame(
    path: Any,
    cmap: ColumnMap,
    table: str,
    wanted: list[str],
    feats: tuple[str, ...],
    selection: Any,
    policy: NonFinitePolicy,
) -> tuple[Any, dict[str, int]]:
    """Read one flat ntuple into a table frame: ``(frame, non-finite counts)``."""
    pd = optional_import("pandas", "io")
    from decorr_af.data.frames import _finish

    spec = FLAT_TABLES[table]
    raw = _read_columns(path, cmap, [cmap.file_column(c) for c in wanted])
    cols = {c: raw[cmap.file_column(c)] for c in wanted}
    to_gev = PHYSLITE.__class__(energy_unit=cmap.energy_unit).to_gev
    for c in spec.energy:
        if c in cols and to_gev != 1.0 and cols[c].dtype.kind == "f":
            cols[c] = cols[c] * cols[c].dtype.type(to_gev)
    _defaults(cols, len(next(iter(cols.values()))))
    frame = pd.DataFrame(spec.finish(cols, feats), copy=False)
    return _finish(frame, selection, policy, str(path))


def read_flat_table(
    files: str | os.PathLike | Sequence[str | os.PathLike],
    columns: ColumnMap | Mapping[str, Any],
    *,
    table: str = "photon",
    features: Sequence[str] | None = None,
    drop_truth: bool = False,
    selection: Any = None,
    nonfinite: NonFinitePolicy | str = NonFinitePolicy.RAISE,
    mode: ReadMode | str = ReadMode.EAGER,
    client: Any = None,
) -> Any:
    """A flat table (pandas, GeV) from flat ntuples through a column map.

    Parameters
    ----------
    files
        Flat-ntuple files (paths or URLs; no globs, see
        :func:`decorr_af.workflows.inputs.resolve_inputs`).
    columns
        A :class:`ColumnMap` or its spec mapping (``{"columns": {...},
        "energy_unit": "MeV"}``).
    table
        ``"photon"`` (one row per photon) or ``"diphoton"`` (one row per event).
    features
        Photon features to read (None: every standard feature present).
    drop_truth
        Leave out the truth columns.
    selection, nonfinite
        As in :func:`decorr_af.data.photon_table`.
    mode, client
        ``"eager"`` reads here; ``"dask"`` reads each file in a Dask task (on
        ``client``'s workers, or the current scheduler). The columns are checked
        here first, from the files' metadata.

    Raises
    ------
    MissingBranchError
        Required or requested columns absent: all of them, with the map used.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> path = tempfile.mkdtemp() + "/ph.parquet"
    >>> pd.DataFrame({"ph_pt": [30e3, 45e3], "eta": [0.1, -1.2], "phi": [0.0, 2.0]}).to_parquet(path)
    >>> df = read_flat_table(path, ColumnMap({"pt": "ph_pt"}, energy_unit="MeV"))
    >>> df["pt"].tolist(), list(df.columns)[:6]
    ([30.0, 45.0], ['eventNumber', 'runNumber', 'mcChannelNumber', 'mu', 'weight', 'pt'])
    >>> read_flat_table(path, {"columns": {"pt": "ph_pt", "Reta": "ph_Reta"}}, features=["Reta"])
    Traceback (most recent call last):
    ...
    decorr_af.errors.MissingBranchError: ...: the photon table needs column(s) ["Reta (file column 'ph_Reta')"], absent from the file; column map used: columns={'pt': 'ph_pt', 'Reta': 'ph_Reta'}, energy_unit='GeV'; the file holds ['ph_pt', 'eta', 'phi']
    """
    pd = optional_import("pandas", "io")
    cmap = columns if isinstance(columns, ColumnMap) else ColumnMap.from_dict(columns)
    if table not in FLAT_TABLES:
        raise ConfigError(f"table={table!r}: flat ntuples give one of {sorted(FLAT_TABLES)}")
    spec = FLAT_TABLES[table]
    policy = parse_policy(nonfinite)
    items = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    if not items:
        raise ConfigError("read_flat_table: no file given")
    mode = parse_mode(mode)
    plans = []  # checked in the caller: every missing column of every file, before reading
    for path in items:
        wanted, feats = _plan(path, file_columns(path, cmap), cmap, spec, features, drop_truth)
        plans.append((path, wanted, feats))
    if mode is ReadMode.EAGER:
        results = [_flat_frame(p, cmap, table, w, f, selection, policy) for p, w, f in plans]
    else:  # one task per file, read on the Dask workers
        dask = optional_import("dask", "dask")
        task = dask.delayed(_flat_frame, pure=True)
        tasks = [task(p, cmap, table, w, f, selection, policy) for p, w, f in plans]
        results = client.gather(client.compute(tasks)) if client else dask.compute(*tasks)
    frames = [frame for frame, _ in results]
    bad = {str(p): counts for (p, _, _), (_, counts) in zip(plans, results) if counts}
    if bad and policy is NonFinitePolicy.RAISE:
        raise NonFiniteValueError(format_nonfinite(bad))
    columns_ = frames[0].columns
    if any(list(f.columns) != list(columns_) for f in frames[1:]):
        raise InputFileError(
            f"flat ntuples {[str(p) for p in items]} give different columns; "
            "pass features= to read the same ones from every file"
        )
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

"""Cheap, eager checks of input files before any Dask graph is built.

Every reader of :mod:`decorr_af.data` resolves its ``files`` argument with
:func:`expand_sources` and opens each file once with :func:`inspect_file`,
which only reads the ROOT header and the tree/RNTuple metadata. Problems are
reported as typed errors naming the file:

* :class:`~decorr_af.errors.InputFileError` - missing file, empty glob or
  directory, not a ROOT file, truncated or corrupt file, wrong tree name (the
  message lists the trees that exist), tree with zero entries;
* :class:`~decorr_af.errors.MissingBranchError` - see :func:`require_branches`;
* :class:`~decorr_af.errors.NonFiniteValueError` - see :func:`check_finite`.
"""

from __future__ import annotations

import enum
import glob
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from decorr_af.data.layout import PHYSLITE, PhysliteLayout
from decorr_af.errors import ConfigError, InputFileError, MissingBranchError, NonFiniteValueError

__all__ = [
    "FileInfo",
    "NonFinitePolicy",
    "check_finite",
    "expand_sources",
    "inspect_file",
    "require_branches",
    "validate_files",
]

#: classnames of the containers an event store can live in
_TTREE = "TTree"
_RNTUPLE = "ROOT::RNTuple"


class NonFinitePolicy(str, enum.Enum):
    """What to do with rows that hold NaN or ±inf values."""

    RAISE = "raise"
    DROP = "drop"
    KEEP = "keep"


@dataclass(frozen=True)
class FileInfo:
    """Metadata of one validated input file.

    Attributes
    ----------
    path
        Absolute path of the file.
    tree
        Name of the TTree or RNTuple holding the events.
    rntuple
        True for RNTuple event stores, False for TTrees.
    num_entries
        Number of events (always > 0).
    keys
        Every branch (TTree) or field (RNTuple) name of the event store.
    """

    path: Path
    tree: str
    rntuple: bool
    num_entries: int
    keys: frozenset[str]

    @property
    def sep(self) -> str:
        """Separator between collection and field: ``:`` (ATLAS RNTuple) or ``.``."""
        return ":" if any("AuxDyn:" in k for k in self.keys) else "."

    def has(self, name: str) -> bool:
        """Whether ``name`` is a branch/field of the event store."""
        return name in self.keys


def expand_sources(files: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Resolve a path, a glob, a directory or a list of them to existing files.

    A directory stands for the ``*.root`` files inside it (sorted).

    Examples
    --------
    >>> expand_sources("tests/data/PHYSLITE_example.root")
    [PosixPath('tests/data/PHYSLITE_example.root')]
    """
    if isinstance(files, (str, os.PathLike)):
        items: list[str | os.PathLike] = [files]
    else:
        items = list(files)
    if not items:
        raise InputFileError("no input files given (empty list)")
    out: list[Path] = []
    from decorr_af.data.remote import expand_remote, is_remote

    for item in items:
        if is_remote(item):  # root://… URLs (and globs of them)
            out.extend(expand_remote(str(item)))
            continue
        text = os.fspath(item)
        path = Path(text).expanduser()
        if path.is_dir():
            found = sorted(path.glob("*.root"))
            if not found:
                raise InputFileError(f"directory {path} holds no *.root files")
            out.extend(found)
        elif path.exists():
            out.append(path)
        elif glob.has_magic(text):
            found = sorted(Path(p) for p in glob.glob(os.path.expanduser(text)))
            if not found:
                raise InputFileError(f"no files match the pattern {text!r}")
            out.extend(found)
        else:
            raise InputFileError(f"input file {path} does not exist")
    return out


def _open(path: Path) -> Any:
    import uproot

    try:
        size = path.stat().st_size
    except OSError as err:
        raise InputFileError(f"cannot access input file {path}: {err}") from err
    if size == 0:
        raise InputFileError(f"input file {path} is empty (0 bytes), not a ROOT file")
    try:
        handle = uproot.open(path)
    except Exception as err:  # uproot raises ValueError/OSError/others on garbage
        raise InputFileError(
            f"input file {path} is not a readable ROOT file (corrupt or truncated?): {err}"
        ) from err
    end = int(getattr(handle.file, "fEND", 0) or 0)
    if end > size:
        handle.close()
        raise InputFileError(
            f"input file {path} is truncated: the ROOT header says it ends at byte "
            f"{end:,} but the file holds only {size:,} bytes"
        )
    return handle


def _containers(handle: Any) -> dict[str, str]:
    """Name -> classname of every TTree/RNTuple at the top of a file."""
    try:
        classes = handle.classnames(recursive=False)
    except Exception as err:
        raise InputFileError(
            f"cannot read the directory of {handle.file_path} (corrupt file?): {err}"
        ) from err
    return {k.split(";")[0]: v for k, v in classes.items() if v in (_TTREE, _RNTUPLE)}


def inspect_file(
    path: str | os.PathLike, *, tree: str | None = None, layout: PhysliteLayout = PHYSLITE
) -> FileInfo:
    """Open one file cheaply and return its :class:`FileInfo`.

    Parameters
    ----------
    path
        The ROOT file.
    tree
        Name of the TTree/RNTuple; by default the layout's ``CollectionTree``
        (TTree) or ``EventData`` (RNTuple), whichever exists.
    layout
        The file layout naming the default event stores.

    Raises
    ------
    InputFileError
        Missing, empty, corrupt or truncated file; wrong tree name (the message
        lists the trees that exist); event store with zero entries.

    Examples
    --------
    >>> info = inspect_file("tests/data/PHYSLITE_example.root")
    >>> info.tree, info.num_entries
    ('CollectionTree', 100)
    """
    from decorr_af.data.remote import source_path

    path = source_path(path)  # a Path, or a RemotePath for root:// URLs
    if not path.exists():
        raise InputFileError(f"input file {path} does not exist")
    with _open(path) as handle:
        containers = _containers(handle)
        listing = ", ".join(f"{k} ({v})" for k, v in containers.items()) or "none"
        if tree is None:
            name = next((n for n in (layout.tree, layout.rntuple) if n in containers), None)
            if name is None:
                raise InputFileError(
                    f"{path} has neither a '{layout.tree}' TTree nor an '{layout.rntuple}' "
                    f"RNTuple; trees in the file: {listing} (pass tree=... to choose one)"
                )
        elif tree not in containers:
            raise InputFileError(f"{path} has no tree named '{tree}'; trees in the file: {listing}")
        else:
            name = tree
        try:
            obj = handle[name]
            rntuple = containers[name] == _RNTUPLE
            # RNTuple: top-level fields only (uproot's recursive listing is very slow)
            keys = frozenset(obj.keys(recursive=False) if rntuple else obj.keys())
            num_entries = int(obj.num_entries)
        except Exception as err:
            raise InputFileError(
                f"cannot read the metadata of '{name}' in {path} (corrupt file?): {err}"
            ) from err
    if num_entries == 0:
        raise InputFileError(f"'{name}' in {path} has 0 entries (empty file)")
    return FileInfo(path, name, containers[name] == _RNTUPLE, num_entries, keys)


def validate_files(
    files: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    tree: str | None = None,
    layout: PhysliteLayout = PHYSLITE,
) -> list[FileInfo]:
    """Expand ``files`` and :func:`inspect_file` each one.

    All files must be of the same kind (all TTree or all RNTuple).

    Examples
    --------
    >>> files = ["tests/data/DAOD_PHYSLITE_21.2.108.0.art.pool.root", "tests/data/PHYSLITE_example.root"]
    >>> [i.num_entries for i in validate_files(files)]
    [40, 100]
    """
    infos = [inspect_file(p, tree=tree, layout=layout) for p in expand_sources(files)]
    kinds = {i.rntuple for i in infos}
    if len(kinds) > 1:
        listing = ", ".join(f"{i.path.name} ({'RNTuple' if i.rntuple else 'TTree'})" for i in infos)
        raise InputFileError(f"cannot mix TTree and RNTuple files in one read: {listing}")
    return infos


def require_branches(info: FileInfo, branches: Sequence[str], *, hint: str = "") -> None:
    """Raise :class:`MissingBranchError` naming the file and every absent branch."""
    missing = [b for b in branches if not info.has(b)]
    if missing:
        msg = f"{info.path}: '{info.tree}' lacks the branch(es) {', '.join(missing)}"
        raise MissingBranchError(f"{msg}. {hint}".strip() if hint else msg)


def count_nonfinite(columns: Mapping[str, Any]) -> dict[str, int]:
    """Number of NaN/±inf values per floating-point column (zeros left out)."""
    counts: dict[str, int] = {}
    for name, values in columns.items():
        arr = np.asarray(values)
        if arr.dtype.kind == "f":
            n = int(arr.size - np.count_nonzero(np.isfinite(arr)))
            if n:
                counts[name] = n
    return counts


def check_finite(
    frame: Any,
    *,
    policy: NonFinitePolicy | str = NonFinitePolicy.RAISE,
    source: str = "input",
) -> tuple[Any, dict[str, int]]:
    """Apply the NaN/inf ``policy`` to a pandas DataFrame.

    Returns the (possibly filtered) frame and the per-column counts of
    non-finite values found. With ``policy="raise"`` a non-empty count raises
    :class:`NonFiniteValueError` listing the counts per column.

    Examples
    --------
    >>> import pandas as pd
    >>> check_finite(pd.DataFrame({"x": [1.0, float("nan")]}), policy="drop")[1]
    {'x': 1}
    """
    policy = parse_policy(policy)
    counts = count_nonfinite({c: frame[c].to_numpy() for c in frame.columns})
    if not counts or policy is NonFinitePolicy.KEEP:
        return frame, counts
    if policy is NonFinitePolicy.RAISE:
        raise NonFiniteValueError(format_nonfinite({source: counts}))
    floats = [c for c in frame.columns if frame[c].dtype.kind == "f"]
    good = np.isfinite(frame[floats].to_numpy()).all(axis=1)
    return frame.loc[good].reset_index(drop=True), counts


def format_nonfinite(per_source: Mapping[str, Mapping[str, int]]) -> str:
    """Human-readable message for non-finite counts per file and column."""
    parts = []
    for src, counts in per_source.items():
        cols = ", ".join(f"{c}: {n}" for c, n in sorted(counts.items()))
        parts.append(f"{src} ({cols})")
    return (
        "non-finite (NaN/inf) values found in " + "; ".join(parts) + ". Pass "
        "nonfinite='drop' to drop those rows or nonfinite='keep' to keep them."
    )


def parse_policy(policy: NonFinitePolicy | str) -> NonFinitePolicy:
    """Validate the ``nonfinite`` keyword."""
    try:
        return NonFinitePolicy(policy)
    except ValueError:
        allowed = ", ".join(repr(p.value) for p in NonFinitePolicy)
        raise ConfigError(f"nonfinite={policy!r} is not one of {allowed}") from None

"""Stream flat tables to Parquet or HDF5, chunk by chunk.

The table is produced by :func:`decorr_af.data.table.iter_table` (uproot
chunks of ``chunk_size`` events) and each chunk is appended to the output
(``pyarrow.parquet.ParquetWriter`` row groups, or resizable ``h5py``
datasets, one per column), so the whole table is never held in memory.

The output is written to a temporary file next to the target and renamed onto
it at the end: a failing or killed export leaves an earlier table untouched and
never leaves a partial file under the final name.
"""

from __future__ import annotations

import ast
import contextlib
import enum
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from decorr_af._compat import optional_import
from decorr_af.data.table import Selection, Source, iter_table
from decorr_af.data.validate import NonFinitePolicy
from decorr_af.errors import ConfigError, InputFileError

__all__ = ["ExportFormat", "export_table", "read_table"]

_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".h5": "hdf5", ".hdf5": "hdf5"}
#: HDF5 group holding one dataset per column
H5_GROUP = "table"


class ExportFormat(str, enum.Enum):
    """Output formats of :func:`export_table`."""

    PARQUET = "parquet"
    HDF5 = "hdf5"


def _format(path: Path, fmt: ExportFormat | str | None) -> ExportFormat:
    if fmt is None:
        guess = _SUFFIXES.get(path.suffix.lower())
        if guess is None:
            raise ConfigError(
                f"cannot tell the format of {path} from its suffix; use one of "
                f"{', '.join(_SUFFIXES)} or pass format='parquet'|'hdf5'"
            )
        return ExportFormat(guess)
    try:
        return ExportFormat(fmt)
    except ValueError:
        raise ConfigError(f"format={fmt!r} is not one of 'parquet', 'hdf5'") from None


class _ParquetSink:
    def __init__(self, path: Path, compression: str) -> None:
        self.pa = optional_import("pyarrow", "io")
        self.pq = optional_import("pyarrow.parquet", "io")
        self.path, self.compression, self.writer = path, compression, None

    def write(self, frame: Any) -> None:
        table = self.pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.writer = self.pq.ParquetWriter(
                self.path, table.schema, compression=self.compression
            )
        self.writer.write_table(table.cast(self.writer.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class _HDF5Sink:
    def __init__(self, path: Path, compression: str) -> None:
        h5py = optional_import("h5py", "io")
        self.file = h5py.File(path, "w")
        self.group = self.file.create_group(H5_GROUP)
        self.compression = "gzip" if compression not in ("lzf", "gzip", None) else compression
        self.n = 0

    def write(self, frame: Any) -> None:
        if not self.group.keys():
            self.group.attrs["columns"] = list(frame.columns)
            for col in frame.columns:
                arr = frame[col].to_numpy()
                self.group.create_dataset(
                    col,
                    shape=(0,),
                    maxshape=(None,),
                    dtype=arr.dtype,
                    chunks=(65536,),
                    compression=self.compression,
                )
        m = len(frame)
        for col in frame.columns:
            ds = self.group[col]
            ds.resize((self.n + m,))
            ds[self.n :] = frame[col].to_numpy()
        self.n += m

    def close(self) -> None:
        self.group.attrs["n_rows"] = self.n
        self.file.close()


def export_table(
    source: Source,
    path: str | os.PathLike,
    *,
    format: ExportFormat | str | None = None,
    table: str = "photon",
    features: Sequence[str] | None = None,
    selection: Selection = None,
    drop_truth: bool = False,
    nonfinite: NonFinitePolicy | str = NonFinitePolicy.RAISE,
    tree: str | None = None,
    chunk_size: int = 200_000,
    compression: str = "zstd",
    **options: Any,
) -> Path:
    """Write the flat photon (or diphoton) table of ``source`` to Parquet or HDF5.

    Parameters
    ----------
    source
        Files (path, glob, directory or list) or opened events.
    path
        Output file; the format comes from its suffix (``.parquet``/``.pq``,
        ``.h5``/``.hdf5``) unless ``format`` is given.
    table
        ``"photon"`` (one row per photon) or ``"diphoton"`` (one row per event).
    compression
        Parquet codec (``"zstd"``, ``"snappy"``, ...); HDF5 uses ``gzip`` unless
        ``"lzf"`` is given.
    features, selection, drop_truth, nonfinite, tree, chunk_size, options
        As in :func:`decorr_af.data.photon_table` / :func:`~decorr_af.data.diphoton_table`.

    Returns
    -------
    pathlib.Path
        The written file. On error the partial output is removed.

    Examples
    --------
    >>> import tempfile
    >>> from decorr_af.data import generate
    >>> (path,) = generate(tempfile.mkdtemp(), sample="photons", kind="mc", events=300, seed=1)
    >>> out = export_table(path, f"{tempfile.mkdtemp()}/photons.parquet", features=["Reta"])
    >>> out.name, read_table(out).columns[-5:].tolist()
    ('photons.parquet', ['Reta', 'truthType', 'truthOrigin', 'truth_e', 'is_prompt'])
    """
    path = Path(path)
    fmt = _format(path, format)
    _check_output(path)
    if isinstance(selection, str):
        _check_selection(selection)
    chunks = iter_table(
        source,
        table=table,
        features=features,
        selection=selection,
        drop_truth=drop_truth,
        nonfinite=nonfinite,
        tree=tree,
        chunk_size=chunk_size,
        **options,
    )
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{path.suffix}")
    sink = None
    try:
        with _selection_errors(selection):
            first = next(chunks)  # validation errors surface before the output is created
            try:
                sink = (_ParquetSink if fmt is ExportFormat.PARQUET else _HDF5Sink)(
                    tmp, compression
                )
            except PermissionError as err:
                raise InputFileError(f"cannot write {path} (permission denied)") from err
            sink.write(first)
            del first
            for frame in chunks:
                sink.write(frame)
        sink.close()
        sink = None
        os.replace(tmp, path)
    except BaseException:
        if sink is not None:
            sink.close()
        tmp.unlink(missing_ok=True)
        raise
    return path


def _check_output(path: Path) -> None:
    parent = path.parent
    if not parent.exists():
        raise InputFileError(f"output directory {parent} does not exist")
    if path.is_dir():
        raise ConfigError(f"output {path} is a directory; give a file name ending in .parquet/.h5")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputFileError(f"cannot write {path}: directory {parent} is not writable")


def _check_selection(selection: str) -> None:
    try:
        ast.parse(selection.strip(), mode="eval")
    except SyntaxError as err:
        raise ConfigError(
            f"selection={selection!r} is not a valid expression ({err.msg}); "
            "write e.g. 'pt > 25 and abs(eta) < 2.37'"
        ) from None


@contextlib.contextmanager
def _selection_errors(selection: Selection) -> Iterator[None]:
    """Turn pandas' error on an unknown name in a selection into a ConfigError."""
    try:
        yield
    except (NameError, SyntaxError) as err:
        if not isinstance(selection, str):
            raise
        m = re.search(r"name '([^']+)' is not defined", str(err))
        what = f"unknown column '{m.group(1)}'" if m else str(err)
        raise ConfigError(f"selection={selection!r}: {what}") from err


def read_table(path: str | os.PathLike, *, columns: Sequence[str] | None = None) -> Any:
    """Read a table written by :func:`export_table` back into pandas.

    Examples
    --------
    >>> df = read_table("/tmp/photons.parquet", columns=["pt", "eta"])  # doctest: +SKIP
    """
    pd = optional_import("pandas", "io")
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"table file {path} does not exist")
    fmt = _format(path, None)
    if fmt is ExportFormat.PARQUET:
        return pd.read_parquet(path, columns=list(columns) if columns else None)
    h5py = optional_import("h5py", "io")
    with h5py.File(path, "r") as f:
        group = f[H5_GROUP]
        names = [str(c) for c in group.attrs["columns"]]
        if columns:
            missing = [c for c in columns if c not in names]
            if missing:
                raise ConfigError(f"{path} has no column(s) {missing}; columns: {names}")
            names = list(columns)
        return pd.DataFrame({c: np.asarray(group[c][...]) for c in names})

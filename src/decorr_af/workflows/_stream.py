"""Chunked inputs of the streaming workflows: options, size decision, seeded split, spill.

A workflow streams when its config says ``streaming=True``, or ``"auto"`` and the
input holds more than ``streaming_rows`` photons (:func:`decide`). The photon
count comes cheaply: the entries of every file from its metadata
(``num_entries``, no basket read) times the photons per event of the first small
chunk of the first file (:func:`estimate_rows`). Fileset / input-spec files have
no cheap count: ``"auto"`` keeps them in memory (``streaming=True`` still streams,
one chunk per group).

**Split.** Every photon gets uniform numbers ``u`` from a hash (splitmix64) of
``(seed, stream, file position, runNumber, eventNumber, photon index in the
event)`` (:func:`row_uniform`): ``u_split < test_fraction`` puts it in the test
set, other streams give the menu reservoir and the stored subsample priorities.
The split therefore does not depend on ``chunk_rows`` (a read chunk holds whole
events) nor on the order chunks are read; it is a different (equally random)
split than the in-memory ``train_test_split_idx`` permutation, so a streamed run
agrees with an in-memory one within statistical noise, not row by row.

**Spill.** :func:`spill` reads the ROOT inputs once (``iter_table``, ``chunk_rows``
entries per read), derives the workflow's columns, applies ``min_pt`` and the
split and writes the train and test rows to two Parquet files in a temporary
folder (one row group per read chunk), so the epochs and evaluation passes re-read
compact columnar pages instead of decoding ROOT each time. Memory:
one chunk plus the bounded reservoirs (:class:`BottomK`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from decorr_af._compat import optional_import
from decorr_af.errors import ConfigError, InputFileError
from decorr_af.models.streaming import Chunk, ChunkSource
from decorr_af.workflows.inputs import check_weights, naming_inputs, resolve_inputs

__all__ = [
    "STREAMING_CHOICES",
    "BottomK",
    "Decision",
    "SpillResult",
    "TableChunkSource",
    "check_options",
    "decide",
    "estimate_rows",
    "release_memory",
    "row_uniform",
    "spill",
]

STREAMING_CHOICES = (True, False, "auto")
#: events read for the photons-per-event estimate of :func:`estimate_rows`
_PROBE_EVENTS = 2000
#: hash streams of :func:`row_uniform`
SPLIT, MENU, SUBSAMPLE, KEEP = 0, 1, 2, 3


# ----------------------------------------------------------------------------- options
def check_options(config: Any) -> None:
    """Validate ``streaming``, ``streaming_rows``, ``chunk_rows``, ``buffer_rows``.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> check_options(NS(streaming="sometimes", streaming_rows=1, chunk_rows=1, buffer_rows=1))
    Traceback (most recent call last):
    ...
    decorr_af.errors.ConfigError: parameter 'streaming' must be True, False or 'auto', got 'sometimes'
    """
    value = config.streaming
    if not (isinstance(value, bool) or value == "auto"):
        raise ConfigError(f"parameter 'streaming' must be True, False or 'auto', got {value!r}")
    for name in ("streaming_rows", "chunk_rows", "buffer_rows"):
        v = getattr(config, name)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(f"parameter '{name}' must be an integer >= 1, got {v!r}")


@dataclass(frozen=True)
class Decision:
    """Whether a run streams, why, and the photon count estimate it used (or None)."""

    streamed: bool
    reason: str
    n_estimate: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``RunResult.info["streaming"]``."""
        return {"streamed": self.streamed, "reason": self.reason, "n_estimate": self.n_estimate}

    def keep_fraction(self, key: str, patterns: Any, max_events: int | None) -> float:
        """The hashed fraction of rows a run keeps for ``max_events`` (1 without a cap).

        The rows are counted as :func:`estimate_rows` does (the estimate this decision
        used, when it made one).
        """
        if not max_events:
            return 1.0
        n_est = self.n_estimate if self.n_estimate is not None else estimate_rows(key, patterns)
        return max_events / n_est if n_est and n_est > max_events else 1.0


def estimate_rows(key: str, patterns: Any) -> int | None:
    """Photon rows of an input spec from file metadata; ``None`` for fileset/spec inputs.

    ``Σ num_entries`` (file metadata) × photons per event of the first
    ``≤ 2000`` entries of the first file.
    """
    from decorr_af.data.filesets import is_spec_file

    files = resolve_inputs(patterns, key=key)
    if any(is_spec_file(f) for f in files):
        return None
    stamp = tuple((str(f), *_stat(f)) for f in files)
    if stamp in _ESTIMATES:  # a scan runs many points on the same files
        return _ESTIMATES[stamp]
    n = _estimate(key, files)
    if len(_ESTIMATES) > 64:
        _ESTIMATES.clear()
    _ESTIMATES[stamp] = n
    return n


_ESTIMATES: dict[tuple[Any, ...], int] = {}


def _stat(path: Any) -> tuple[int, int]:
    """(mtime, size) of a local file; (0, 0) for a remote one."""
    try:
        st = Path(path).stat()
    except (OSError, TypeError, ValueError):
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


def _estimate(key: str, files: Sequence[Any]) -> int:
    """``Σ num_entries`` × photons per event of the first probe chunk (see :func:`estimate_rows`)."""
    from decorr_af.data.table import iter_table
    from decorr_af.data.validate import validate_files

    with naming_inputs(key, files):
        infos = validate_files([str(f) for f in files])
        entries = sum(int(i.num_entries) for i in infos)
        if entries == 0:
            return 0
        first = infos[0]
        probe = min(_PROBE_EVENTS, int(first.num_entries))
        if probe == 0:
            return 0
        # iter_table splits a file into ceil(n / chunk) equal ranges: the first has this many
        n_steps = -(-int(first.num_entries) // probe)
        events = round(int(first.num_entries) / n_steps)
        chunks = iter_table(str(first.path), features=["pt"], chunk_size=probe)
        try:
            photons = len(next(chunks))
        finally:
            chunks.close()
    return math.ceil(entries * photons / max(events, 1))


def decide(config: Any, *, key: str, patterns: Any, refuse: str | None = None) -> Decision:
    """Stream or not: ``config.streaming`` (True/False/"auto") and the row estimate.

    ``refuse`` names why this run cannot stream (e.g. a cells model): with
    ``streaming=True`` it raises :class:`ConfigError`, with ``"auto"`` the run stays
    in memory and says so.
    """
    mode = config.streaming
    if mode is False:
        return Decision(False, "streaming=False")
    if mode is True:
        if refuse:
            raise ConfigError(f"parameter 'streaming': cannot stream this run: {refuse}")
        return Decision(True, "streaming=True")
    try:
        n = estimate_rows(key, patterns)
    except Exception as err:  # the in-memory reader reports a bad input in its own words
        return Decision(False, f"auto: no row count ({type(err).__name__}); in memory")
    if n is None:
        return Decision(False, "auto: no cheap row count for fileset/spec inputs; in memory")
    size = min(n, int(config.max_events)) if getattr(config, "max_events", 0) else n
    limit = int(config.streaming_rows)
    if size <= limit:
        return Decision(False, f"auto: ~{size} photons <= streaming_rows={limit}", n)
    if refuse:
        return Decision(False, f"auto: ~{size} photons > streaming_rows={limit} but {refuse}", n)
    return Decision(True, f"auto: ~{size} photons > streaming_rows={limit}", n)


# ----------------------------------------------------------------------------- split
def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (uint64, wrapping)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def row_uniform(seed: int, stream: int, parts: Sequence[Any]) -> np.ndarray:
    """Uniform ``[0, 1)`` numbers hashed from ``seed``, ``stream`` and per-row integer keys.

    Examples
    --------
    >>> u = row_uniform(1, 0, [np.zeros(4, int), np.arange(4)])
    >>> u.shape, bool(((u >= 0) & (u < 1)).all())
    ((4,), True)
    >>> bool((row_uniform(1, 0, [np.zeros(4, int), np.arange(4)]) == u).all())
    True
    """
    n = len(np.asarray(parts[0])) if parts else 0
    golden = np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        h = _mix(np.full(n, np.uint64(int(seed) & (2**64 - 1))) + golden)
        h = _mix(h ^ (np.uint64(int(stream)) + golden))
        for p in parts:
            h = _mix(h ^ (np.asarray(p).astype(np.int64).astype(np.uint64) + golden))
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _row_keys(df: Any, file_index: int) -> list[np.ndarray]:
    """(file position, runNumber, eventNumber, photon index in its event) per row."""
    n = len(df)
    cols = getattr(df, "columns", ())
    run = df["runNumber"].to_numpy() if "runNumber" in cols else np.zeros(n, np.int64)
    if "eventNumber" in cols:
        event = df["eventNumber"].to_numpy()
        index = df.groupby(["eventNumber", *(["runNumber"] if "runNumber" in cols else [])],
                           sort=False).cumcount().to_numpy()  # fmt: skip
    else:  # no event numbers: the row position in the file's stream of chunks is the key
        event, index = np.zeros(n, np.int64), np.arange(n)
    return [np.full(n, file_index), run, event, index]


# ------------------------------------------------------------------------- reservoir
class BottomK:
    """The ``k`` rows of lowest priority seen so far (a seeded uniform sample, bounded).

    Priorities come from :func:`row_uniform`, so the sample does not depend on the
    chunking. Rows are pandas frames; memory ``≤ k + one chunk`` rows.

    Examples
    --------
    >>> import pandas as pd
    >>> r = BottomK(2)
    >>> r.add(pd.DataFrame({"a": [1, 2, 3]}), np.array([0.5, 0.1, 0.9]))
    >>> r.add(pd.DataFrame({"a": [4]}), np.array([0.2]))
    >>> r.frame()["a"].tolist(), r.seen
    ([2, 4], 4)
    """

    def __init__(self, k: int) -> None:
        self.k = int(k)
        self.seen = 0
        self._df: Any = None
        self._key = np.empty(0)

    def add(self, df: Any, key: np.ndarray) -> None:
        """Offer rows ``df`` with priorities ``key``."""
        import pandas as pd

        self.seen += len(df)
        if not len(df):
            return
        df = df.reset_index(drop=True)
        both = df if self._df is None else pd.concat([self._df, df], ignore_index=True)
        key = np.concatenate([self._key, np.asarray(key, np.float64)])
        if len(key) > self.k:
            keep = np.sort(np.argpartition(key, self.k - 1)[: self.k])
            both, key = both.iloc[keep].reset_index(drop=True), key[keep]
        self._df, self._key = both, key

    def frame(self) -> Any:
        """The kept rows in priority order (deterministic)."""
        if self._df is None:
            return None
        order = np.argsort(self._key, kind="stable")
        return self._df.iloc[order].reset_index(drop=True)


# ----------------------------------------------------------------------------- memory
def release_memory() -> None:
    """Collect reference cycles and hand freed heap pages back to the OS (glibc).

    A read chunk leaves reference cycles (awkward/uproot objects) that the cyclic
    collector frees late, and glibc keeps freed arenas: without this, the resident
    memory of a pass over many chunks grows by ~25 MB per 100k-entry chunk.
    """
    import contextlib
    import ctypes
    import gc
    import sys

    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc (e.g. musl)
            ctypes.CDLL("libc.so.6").malloc_trim(0)


# ----------------------------------------------------------------------------- spill
@dataclass
class SpillResult:
    """What :func:`spill` wrote and kept."""

    train: Path
    test: Path
    n_train: int
    n_test: int
    menu_sample: Any
    test_sample: Any
    reservoirs: dict[str, int] = field(default_factory=dict)


class _Writer:
    """A Parquet file written one row group per chunk (schema of the first chunk)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._writer: Any = None
        self._schema: Any = None

    def write(self, df: Any) -> None:
        if not len(df):
            return
        pa = optional_import("pyarrow", "pyarrow")
        pq = optional_import("pyarrow.parquet", "pyarrow")
        if self._writer is None:
            table = pa.Table.from_pandas(df, preserve_index=False)
            self._schema = table.schema
            self._writer = pq.ParquetWriter(str(self.path), self._schema)
        else:
            table = pa.Table.from_pandas(df, schema=self._schema, preserve_index=False)
        self._writer.write_table(table, row_group_size=max(len(df), 1))
        self.rows += len(df)

    def close(self, columns: Sequence[str]) -> None:
        if self._writer is None:  # no row: an empty file with the columns, zero row groups
            pa = optional_import("pyarrow", "pyarrow")
            pq = optional_import("pyarrow.parquet", "pyarrow")
            pq.write_table(pa.table({c: np.empty(0) for c in columns}), str(self.path))
            return
        self._writer.close()


def _chunks(key: str, files: Sequence[Path], *, features: Sequence[str] | None, chunk_rows: int) -> Iterator[tuple[int, Path, Any]]:  # fmt: skip
    """``(file position, file, chunk)`` over the files; read errors name key and file.

    ``features=None`` reads every feature of the photon table.
    """
    from decorr_af.data.table import iter_table

    feats = None if features is None else list(features)
    for k, path in enumerate(files):
        with naming_inputs(key, [path]):
            try:
                for chunk in iter_table(str(path), features=feats, chunk_size=chunk_rows):
                    yield k, path, chunk
            except (InputFileError, ConfigError) as err:
                if str(err).startswith((f"{key}:", f"{key} ", f"parameter '{key}'")):
                    raise
                raise type(err)(f"{key}: {err}") from err
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise InputFileError(f"{key}: cannot read {path}: {err}") from err


def spill(
    key: str,
    patterns: Any,
    folder: Path,
    *,
    features: Sequence[str] | None,
    derive: Callable[[Any], Any],
    seed: int,
    test_fraction: float,
    chunk_rows: int,
    menu_rows: int,
    sample_rows: int,
    keep_fraction: float = 1.0,
    require: Sequence[str] = (),
    menu_columns: Sequence[str] | None = None,
) -> SpillResult:
    """Read the inputs of config key ``key`` once; write train/test Parquet files.

    Parameters
    ----------
    features
        Photon-table features to read (``None``: all of them).
    derive
        ``chunk -> chunk``: the workflow's cuts and derived columns (after the row keys
        are taken, so photon indices count every photon of an event).
    keep_fraction
        Keep rows with ``u_keep < keep_fraction`` (``max_events`` in streaming, applied
        as a hashed fraction of the estimated row count).
    require
        Columns every chunk must have (e.g. the truth ``is_prompt``).
    menu_rows, sample_rows
        Sizes of the train reservoir (menu tuning) and of the test subsample.
    menu_columns
        The columns the train reservoir keeps (default: all).
    """
    files = resolve_inputs(patterns, key=key)
    train_w, test_w = _Writer(folder / "train.parquet"), _Writer(folder / "test.parquet")
    menu, sample = BottomK(menu_rows), BottomK(sample_rows)
    columns: list[str] = []
    for k, path, chunk in _chunks(key, files, features=features, chunk_rows=chunk_rows):
        missing = [c for c in require if c not in chunk.columns]
        if missing:
            raise ConfigError(f"parameter '{key}': {path} has no {', '.join(missing)} (truth)")
        keys = _row_keys(chunk, k)
        chunk = chunk.assign(
            _u_split=row_uniform(seed, SPLIT, keys),
            _u_menu=row_uniform(seed, MENU, keys),
            _u_sub=row_uniform(seed, SUBSAMPLE, keys),
            _u_keep=row_uniform(seed, KEEP, keys),
        )
        chunk = derive(chunk)
        if keep_fraction < 1.0:
            chunk = chunk[chunk["_u_keep"].to_numpy() < keep_fraction]
        chunk = chunk.reset_index(drop=True)
        if "weight" in chunk.columns and len(chunk):
            check_weights(chunk["weight"], key=key, files=[path])
        obj = [c for c in chunk.columns if chunk[c].dtype == object]
        chunk = chunk.drop(columns=obj)
        columns = list(chunk.columns) or columns
        test = chunk["_u_split"].to_numpy() < test_fraction
        tr, te = chunk[~test], chunk[test]
        train_w.write(tr)
        test_w.write(te)
        cols = list(tr.columns) if menu_columns is None else [c for c in menu_columns if c in tr]
        menu.add(tr[cols], tr["_u_menu"].to_numpy())
        sample.add(te, te["_u_sub"].to_numpy())
        del chunk, tr, te
        release_memory()
    train_w.close(columns)
    test_w.close(columns)
    return SpillResult(
        train=train_w.path,
        test=test_w.path,
        n_train=train_w.rows,
        n_test=test_w.rows,
        menu_sample=menu.frame(),
        test_sample=sample.frame(),
        reservoirs={"menu_rows": int(menu_rows), "sample_rows": int(sample_rows)},
    )


def row_groups(path: Path) -> int:
    """Number of row groups (read chunks) of a spilled Parquet file."""
    pq = optional_import("pyarrow.parquet", "pyarrow")
    return int(pq.ParquetFile(str(path)).metadata.num_row_groups)


def read_group(path: Path, i: int, columns: Sequence[str] | None = None) -> Any:
    """Row group ``i`` of a spilled Parquet file as a pandas frame."""
    pq = optional_import("pyarrow.parquet", "pyarrow")
    cols = None if columns is None else list(dict.fromkeys(columns))
    return pq.ParquetFile(str(path)).read_row_group(i, columns=cols).to_pandas()


# ------------------------------------------------------------------ training source
@dataclass
class TableChunkSource(ChunkSource):
    """Training rows of a spilled Parquet file as a :class:`ChunkSource`.

    Parameters
    ----------
    path
        The spilled train file.
    feature_columns
        Feature columns (model inputs, in order; not ``features``, so the fit, like the
        in-memory one on arrays, records no feature names).
    label, protected_column
        Label column and protected-variable column.
    select
        ``frame -> mask`` of the rows to train on (e.g. Loose); ``None``: every row.
    class_scale
        Per-class factors of the event weight (``{0: f0, 1: f1}``, balanced weights).
    groups
        The row groups to serve (default: every one).
    """

    path: Path
    feature_columns: Sequence[str]
    label: str
    protected_column: str
    select: Callable[[Any], np.ndarray] | None = None
    class_scale: dict[int, float] = field(default_factory=lambda: {0: 1.0, 1: 1.0})
    groups: Sequence[int] | None = None

    def __post_init__(self) -> None:
        if self.groups is None:
            self.groups = list(range(row_groups(self.path)))
        self.n_chunks = len(self.groups)
        #: protected names seen by ``fit_streaming`` (``protected_names_``)
        self.protected = (self.protected_column,)

    def frame(self, i: int) -> Any:
        """The selected rows of chunk ``i`` (pandas)."""
        df = read_group(self.path, int(self.groups[i]))  # type: ignore[index]
        if self.select is not None:
            df = df[np.asarray(self.select(df), bool)]
        return df

    def read(self, i: int) -> Chunk:
        df = self.frame(i)
        y = df[self.label].to_numpy().astype(np.int64)
        w = df["weight"].to_numpy(np.float64) if "weight" in df else np.ones(len(df))
        w = w * np.where(y == 1, self.class_scale[1], self.class_scale[0])
        return Chunk(
            X=np.ascontiguousarray(df[list(self.feature_columns)].to_numpy(np.float64)),
            y=y,
            weight=w,
            protected=df[self.protected_column].to_numpy(np.float64)[:, None],
        )

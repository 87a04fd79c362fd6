"""Data helpers shared by the workflows: cached table loading, splits, feature matrices.

Workflow configs name their inputs as file globs (a string, a path, or a list of
either). :func:`load_photons` / :func:`load_diphotons` expand them, read the flat
tables through :mod:`decorr_af.data` and keep a small per-process cache keyed on
the resolved paths, their modification times and the reading options, so a λ scan
running many points in one worker process reads each file once.
"""

from __future__ import annotations

import glob
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from decorr_af.data.remote import expand_remote, is_remote, sort_sources
from decorr_af.errors import ConfigError, InputFileError, MissingBranchError

__all__ = [
    "clear_cache",
    "expand_files",
    "feature_matrix",
    "load_diphotons",
    "load_electrons",
    "load_photons",
    "load_radiative_z",
    "subsample",
    "train_test_split_idx",
]

FileSpec = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]

_CACHE_SIZE = 8
_cache: OrderedDict[Hashable, Any] = OrderedDict()
_lock = threading.Lock()


def expand_files(files: FileSpec, *, name: str = "files") -> list[Path]:
    """Expand globs (and ``~``) into a sorted, de-duplicated list of existing files.

    Parameters
    ----------
    files
        A path or glob, or a sequence of them.
    name
        Parameter name used in error messages (e.g. ``"mc_files"``).

    Raises
    ------
    InputFileError
        If a pattern matches nothing.

    Examples
    --------
    >>> expand_files("/data/photons_mc_*.root")  # doctest: +SKIP
    [PosixPath('/data/photons_mc_000.root'), PosixPath('/data/photons_mc_001.root')]
    """
    if files is None or (not isinstance(files, (str, os.PathLike)) and len(files) == 0):
        raise ConfigError(f"parameter '{name}' is empty: give at least one file or glob")
    patterns = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    out: list[Path] = []
    for pat in patterns:
        if is_remote(pat):  # root://… URLs (and globs of them)
            out.extend(expand_remote(str(pat), key=f"parameter '{name}'"))
            continue
        text = os.path.expanduser(os.fspath(pat))
        matches = sorted(glob.glob(text)) if glob.has_magic(text) else [text]
        matches = [m for m in matches if Path(m).is_file()]
        if not matches:
            raise InputFileError(f"parameter '{name}': no file matches {text!r}")
        out.extend(Path(m).resolve() for m in matches)
    return sort_sources(out)


def _key(kind: str, paths: list[Path], options: tuple[Any, ...]) -> tuple[Any, ...]:
    stamps = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    return (kind, stamps, options)


def _cached(key: Hashable, load: Callable[[], Any]) -> Any:
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key].copy()
    table = load()
    with _lock:
        _cache[key] = table
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return table.copy()


def clear_cache() -> None:
    """Forget every cached table (e.g. after rewriting files in place)."""
    with _lock:
        _cache.clear()


def load_photons(
    files: FileSpec,
    *,
    drop_truth: bool = False,
    features: Sequence[str] | None = None,
) -> Any:
    """Per-photon table (pandas, GeV) of the files matching ``files``, cached per process.

    Parameters
    ----------
    files
        Path(s) or glob(s) of photon ROOT files.
    drop_truth
        Drop the truth columns (``truthType``, ``is_prompt``, ...), as for real data.
    features
        Restrict the table to these feature columns (book-keeping columns are kept),
        passed on to :func:`decorr_af.data.photon_table`.

    Returns
    -------
    pandas.DataFrame
        A fresh copy; callers may modify it.

    Examples
    --------
    >>> df = load_photons("samples/photons_mc/*.root")  # doctest: +SKIP
    >>> df[["pt", "Reta", "topoetcone20", "is_prompt"]].head()  # doctest: +SKIP
    """
    paths = expand_files(files, name="files")
    from decorr_af.data import photon_table

    feats = None if features is None else tuple(features)
    key = _key("photons", paths, (bool(drop_truth), feats))
    kwargs: dict[str, Any] = {"drop_truth": drop_truth}
    if feats is not None:
        kwargs["features"] = list(feats)
    return _cached(key, lambda: photon_table([str(p) for p in paths], **kwargs))


def _table_function(name: str, sample: str) -> Callable[..., Any]:
    import decorr_af.data as data

    try:
        return getattr(data, name)
    except AttributeError as err:
        raise ConfigError(
            f"decorr_af.data.{name} is not available: this installation cannot read "
            f"{sample} samples"
        ) from err


def load_electrons(files: FileSpec, *, drop_truth: bool = False) -> Any:
    """Per-electron Z→ee table (pandas, GeV) of the files matching ``files``, cached.

    One row per electron of events with an opposite-charge pair, the two rows of
    an event consecutive (``pair`` 0/1), with ``m_ee`` (see
    :func:`decorr_af.data.electron_table`). ``drop_truth=True`` for data: no truth
    column is ever requested.

    Examples
    --------
    >>> df = load_electrons("samples/zee_data/*.root", drop_truth=True)  # doctest: +SKIP
    >>> df[["pair", "eta", "e", "m_ee"]].head(2)  # doctest: +SKIP
    """
    paths = expand_files(files, name="files")
    table = _table_function("electron_table", "Z->ee")
    key = _key("electrons", paths, (bool(drop_truth),))
    return _cached(key, lambda: table([str(p) for p in paths], drop_truth=drop_truth))


def load_radiative_z(files: FileSpec, *, drop_truth: bool = False) -> Any:
    """Per-photon-candidate radiative-Z (Z→μμγ) table (pandas, GeV), cached.

    Columns of :func:`decorr_af.data.radiative_z_table`: the photon columns plus
    ``m_mumu``, ``m_mumugamma`` and ``dr_min_mu_gamma`` (MC: ``is_prompt`` unless
    ``drop_truth``).

    Examples
    --------
    >>> df = load_radiative_z("samples/zmumug_data/*.root", drop_truth=True)  # doctest: +SKIP
    >>> df[["m_mumu", "m_mumugamma"]].describe()  # doctest: +SKIP
    """
    paths = expand_files(files, name="files")
    table = _table_function("radiative_z_table", "radiative Z")
    key = _key("radiative_z", paths, (bool(drop_truth),))
    return _cached(key, lambda: table([str(p) for p in paths], drop_truth=drop_truth))


def load_diphotons(files: FileSpec) -> Any:
    """Per-event diphoton table (pandas, GeV) of the files matching ``files``, cached.

    Columns: ``DIPHOTON_EVENT_FEATURES`` + ``mu, weight, is_signal``.

    Examples
    --------
    >>> df = load_diphotons("samples/diphoton_mc/*.root")  # doctest: +SKIP
    >>> df.groupby("is_signal").myy.mean()  # doctest: +SKIP
    """
    paths = expand_files(files, name="files")
    from decorr_af.data import diphoton_table

    key = _key("diphotons", paths, ())
    return _cached(key, lambda: diphoton_table([str(p) for p in paths]))


def train_test_split_idx(
    n: int, *, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic random split of ``range(n)`` into sorted (train, test) index arrays.

    Examples
    --------
    >>> train, test = train_test_split_idx(10, test_fraction=0.3, seed=1)
    >>> len(train), len(test)
    (7, 3)
    """
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"parameter 'test_fraction' must be in (0, 1), got {test_fraction}")
    if n < 2:
        raise ConfigError(f"cannot split {n} rows into train and test sets")
    n_test = min(max(1, round(n * test_fraction)), n - 1)
    perm = np.random.default_rng([int(seed), 0x5EED]).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def subsample(df: Any, max_events: int | None, *, seed: int) -> Any:
    """Seeded random subset of at most ``max_events`` rows, original order kept (0/None: all)."""
    if max_events is None or max_events <= 0 or len(df) <= max_events:
        return df
    idx = np.sort(
        np.random.default_rng([int(seed), 0xCAB]).choice(len(df), max_events, replace=False)
    )
    return df.iloc[idx].reset_index(drop=True)


def feature_matrix(df: Any, features: Sequence[str], *, dtype: Any = np.float32) -> np.ndarray:
    """``(n, len(features))`` array of the named columns; a missing one raises.

    Examples
    --------
    >>> import pandas as pd
    >>> feature_matrix(pd.DataFrame({"a": [1, 2], "b": [3, 4]}), ["b", "a"]).tolist()
    [[3.0, 1.0], [4.0, 2.0]]
    """
    missing = [f for f in features if f not in df.columns]
    if missing:
        raise MissingBranchError(
            f"feature(s) {missing} not in the table (have: {', '.join(map(str, df.columns))})"
        )
    return np.ascontiguousarray(df[list(features)].to_numpy(dtype=dtype))

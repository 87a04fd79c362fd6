"""Input files of a workflow config: checked early, fingerprinted, named in errors.

A workflow config names its inputs in fields ending in ``_files`` (``mc_files``,
``data_files``, ``diphoton_files``): globs, paths or lists of them. This module
resolves them with errors that name the config key and the path (a glob that
matches nothing, a directory or file that cannot be read), fingerprints them
(resolved path, size, modification time) so a scan notices changed inputs, and
offers two checks workflows call on what they read: :func:`check_weights` and
:func:`naming_inputs`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from decorr_af.data.remote import expand_remote, is_remote, sort_sources
from decorr_af.errors import ConfigError, InputFileError, MissingBranchError

__all__ = [
    "check_weights",
    "input_fields",
    "input_fingerprint",
    "naming_inputs",
    "read_inputs",
    "resolve_inputs",
]


def input_fields(config: Any) -> list[str]:
    """Names of the config fields that hold input files (``*_files``).

    Examples
    --------
    >>> @dataclasses.dataclass(frozen=True)
    ... class Cfg:
    ...     mc_files: tuple[str, ...] = ("samples/*.root",)
    ...     epochs: int = 3
    >>> input_fields(Cfg())
    ['mc_files']
    """
    return [f.name for f in dataclasses.fields(config) if f.name.endswith("_files")]


def _unreadable_parent(text: str) -> Path | None:
    """The first directory on the way to ``text`` that cannot be entered (or listed, for a glob)."""
    parts = Path(text).parts
    n = next((i for i, p in enumerate(parts) if glob.has_magic(p)), len(parts))
    fixed = Path(*parts[:n]) if n else Path(".")
    for directory in [*reversed(fixed.parents), fixed]:
        try:
            is_dir = directory.is_dir()
        except PermissionError:
            return directory.parent
        if not is_dir:
            return None
        listed = directory == fixed and n < len(parts)  # a glob lists this one
        if not os.access(directory, (os.R_OK | os.X_OK) if listed else os.X_OK):
            return directory
    return None


def _check_readable(path: Path, key: str) -> None:
    try:
        with path.open("rb") as f:
            f.read(1)
    except PermissionError as err:
        raise InputFileError(f"{key}: cannot read {path} (permission denied)") from err
    except OSError as err:
        raise InputFileError(f"{key}: cannot read {path} ({err.strerror or err})") from err
    if not os.access(path, os.R_OK):
        raise InputFileError(f"{key}: cannot read {path} (permission denied)")


def resolve_inputs(patterns: Any, *, key: str) -> list[Path]:
    """Expand one input field into existing, readable files (sorted, absolute).

    Parameters
    ----------
    patterns
        A path or glob, or a list of them (``~`` expanded; a directory means its
        ``*.root`` files).
    key
        The config key for messages (``"mc_files"``).

    Raises
    ------
    ConfigError
        If nothing is given.
    InputFileError
        Naming ``key`` and the path: a glob or path that matches no file, a
        directory that cannot be read, a file that cannot be read.

    Examples
    --------
    >>> resolve_inputs("/nonexistent/*.root", key="mc_files")
    Traceback (most recent call last):
    ...
    decorr_af.errors.InputFileError: mc_files: no file matches '/nonexistent/*.root'
    """
    if patterns is None or isinstance(patterns, (str, os.PathLike)):
        patterns = [] if patterns is None else [patterns]
    patterns = list(patterns)
    if not patterns:
        raise ConfigError(f"{key}: empty, give at least one file or glob")
    out: list[Path] = []
    for pattern in patterns:
        if is_remote(pattern):  # root://… URLs (and globs of them): asked of the server
            out.extend(expand_remote(str(pattern), key=key))
            continue
        text = os.path.expanduser(os.fspath(pattern))
        blocked = _unreadable_parent(text)
        if blocked is not None:
            raise InputFileError(f"{key}: cannot read directory {blocked} (permission denied)")
        if Path(text).is_dir():
            text = os.path.join(text, "*.root")
        matches = sorted(glob.glob(text)) if glob.has_magic(text) else [text]
        files = [Path(m) for m in matches if Path(m).is_file()]
        if not files:
            raise InputFileError(f"{key}: no file matches {text!r}")
        for file in files:
            _check_readable(file, key)
        out.extend(f.resolve() for f in files)
    return sort_sources(out)


def input_fingerprint(config: Any) -> dict[str, list[list[Any]]]:
    """``{field: [[resolved path, size, mtime_ns], ...]}`` of every input field.

    Checks every input on the way (see :func:`resolve_inputs`), so a scan
    fails in the client, before anything is submitted.

    Examples
    --------
    >>> @dataclasses.dataclass(frozen=True)
    ... class Cfg:
    ...     mc_files: tuple[str, ...] = ("/nope/*.root",)
    >>> input_fingerprint(Cfg())
    Traceback (most recent call last):
    ...
    decorr_af.errors.InputFileError: mc_files: no file matches '/nope/*.root'
    """
    out: dict[str, list[list[Any]]] = {}
    for key in input_fields(config):
        value = getattr(config, key)
        if value is None or (isinstance(value, Sequence) and len(value) == 0):
            out[key] = []  # an optional input left empty
            continue
        stamps = []
        for path in resolve_inputs(value, key=key):
            st = path.stat()
            stamps.append([str(path), int(st.st_size), int(st.st_mtime_ns)])
        out[key] = stamps
    return out


def check_weights(weights: Any, *, key: str, files: Any = None, column: str = "weight") -> None:
    """Raise when event weights are not finite and positive.

    Workflows call it on what they read: a zero or negative weight (e.g. an NLO
    generator's negative weights, not supported by the efficiency and
    resolution estimators) otherwise surfaces later as a NaN metric.

    Parameters
    ----------
    weights
        The per-event (or per-photon) weights.
    key
        The config key of the input (``"mc_files"``).
    files
        The input files (resolved or patterns), named in the message.
    column
        The table column of the weights.

    Examples
    --------
    >>> check_weights(np.array([1.0, 0.0, -2.0]), key="mc_files", files=["a.root"])
    Traceback (most recent call last):
    ...
    decorr_af.errors.InputFileError: mc_files ['a.root']: event weights ('weight') must be finite and > 0; 2 of 3 are not (1 zero, 1 negative, 0 NaN/inf; first at row 1)
    """
    w = np.asarray(weights, dtype=float)
    bad = ~(np.isfinite(w) & (w > 0))
    if not bad.any():
        return
    nonfinite = int((~np.isfinite(w)).sum())
    zero, negative = int((w == 0).sum()), int((w < 0).sum())
    where = key if files is None else f"{key} {_names(files)}"
    raise InputFileError(
        f"{where}: event weights ('{column}') must be finite and > 0; {int(bad.sum())} of "
        f"{w.size} are not ({zero} zero, {negative} negative, {nonfinite} NaN/inf; first at "
        f"row {int(np.argmax(bad))})"
    )


def _names(files: Any) -> list[str]:
    files = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    return [os.fspath(f) for f in files]


@contextlib.contextmanager
def naming_inputs(key: str, files: Any) -> Iterator[None]:
    """Add the config key and files to a :class:`MissingBranchError` raised inside.

    Examples
    --------
    >>> with naming_inputs("mc_files", ["a.root"]):
    ...     raise MissingBranchError("branch 'AnalysisPhotonsAuxDyn.Reta' is missing")
    Traceback (most recent call last):
    ...
    decorr_af.errors.MissingBranchError: mc_files ['a.root']: branch 'AnalysisPhotonsAuxDyn.Reta' is missing
    """
    try:
        yield
    except MissingBranchError as err:
        text = str(err)
        if text.startswith((f"{key} ", f"{key}:")):
            raise
        names = _names(files)
        where = f"{key}:" if any(n in text for n in names) else f"{key} {names}:"
        raise MissingBranchError(f"{where} {text}") from err


def read_inputs(
    key: str, patterns: Any, reader: Any, *, weights: str | None = "weight", **kwargs: Any
) -> Any:
    """Read the files of config key ``key`` with ``reader``; errors name the key and file.

    The patterns are resolved (:func:`resolve_inputs`), read inside
    :func:`naming_inputs`, and the event weights of the table are checked
    (:func:`check_weights`) when the column is there.

    Examples
    --------
    >>> read_inputs("mc_files", ["no/such/*.root"], print)
    Traceback (most recent call last):
    ...
    decorr_af.errors.InputFileError: mc_files: no file matches 'no/such/*.root'
    """
    files = resolve_inputs(patterns, key=key)
    with naming_inputs(key, patterns):
        table = reader(files, **kwargs)
    if weights is not None and weights in getattr(table, "columns", ()):
        check_weights(table[weights], key=key, files=files)
    return table

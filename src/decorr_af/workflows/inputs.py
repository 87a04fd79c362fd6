"""Input files of a workflow config: checked early, fingerprinted, named in errors.

A workflow config names its inputs in fields ending in ``_files`` (``mc_files``,
``data_files``, ``diphoton_files``), each one input spec (see
:mod:`decorr_af.data.filesets`): globs, paths, URLs, lists of them, or coffea
fileset / input-spec files (``.json``/``.yaml``, e.g. a column-mapped flat
ntuple). This module resolves them with errors that name the config key and the
path (a glob that matches nothing, a directory or file that cannot be read),
fingerprints them (resolved path, size, modification time) so a scan notices
changed inputs, says what a sample lacks for each workflow
(:func:`input_readiness`) and offers two checks workflows call on what they
read: :func:`check_weights` and :func:`naming_inputs`.
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

from decorr_af.data.filesets import expand_group_files, input_groups, is_spec_file
from decorr_af.data.remote import expand_remote, is_remote, sort_sources
from decorr_af.errors import ConfigError, InputFileError, MissingBranchError

__all__ = [
    "Readiness",
    "check_weights",
    "input_fields",
    "input_fingerprint",
    "input_readiness",
    "naming_inputs",
    "read_inputs",
    "resolve_inputs",
    "spec_members",
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
        ``*.root`` files); ``root://`` URLs and globs of them; fileset or
        input-spec files (``.json``/``.yaml``: returned themselves, after every
        file they name is found).
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
        if is_spec_file(pattern):  # fileset / input-spec file: its files checked now
            spec = Path(os.path.expanduser(os.fspath(pattern)))
            _check_readable(spec, key)
            spec_members(spec, key=key)
            out.append(spec.resolve())
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


def spec_members(spec: Any, *, key: str) -> list[Any]:
    """The data files an input-spec/fileset file (or mapping) names, globs expanded.

    Raises
    ------
    InputFileError
        A file or glob of the spec matches nothing (naming ``key``).
    """
    out: list[Any] = []
    for group in input_groups([spec] if not isinstance(spec, dict) else spec, key=key):
        where = f"{key} ({group.dataset})" if group.dataset else key
        out.extend(expand_group_files(group, key=where))
    return out


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
            members = spec_members(path, key=key) if is_spec_file(path) else []
            for item in [path, *members]:
                st = item.stat()
                stamps.append([str(item), int(st.st_size), int(st.st_mtime_ns)])
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


# -- what a sample supports (real PHYSLITE lacks the shower shapes) -------------------

#: table columns computed from others (never branches of a file)
_DERIVED = frozenset({"e", "abs_eta", "converted", "iso_excess", "is_prompt"})


@dataclasses.dataclass(frozen=True)
class Readiness:
    """Whether a workflow can run on a sample, and what is missing.

    Attributes
    ----------
    workflow
        ``"photon_id"``, ``"calibration"`` or ``"tth"``.
    ready
        True when the workflow can train on the sample.
    missing
        Missing photon fields (with their branch) or missing sample content.
    detail
        One line saying what the sample gives and what is missing.
    """

    workflow: str
    ready: bool
    missing: tuple[str, ...]
    detail: str

    def __str__(self) -> str:
        return f"{self.workflow}: {'ready' if self.ready else 'NOT ready'} - {self.detail}"


def _photon_readiness(
    name: str, needed: Sequence[str], have: set[str], layout: Any, sep: str = "."
) -> Readiness:
    missing = [f for f in dict.fromkeys(needed) if f not in have and f not in _DERIVED]
    if not missing:
        return Readiness(name, True, (), f"every photon field it reads is present ({len(needed)})")
    branches = [layout.branch("Photons", f, sep=sep) for f in missing]
    return Readiness(
        name,
        False,
        tuple(missing),
        f"missing photon field(s) {missing} (branches {branches}); real PHYSLITE does not "
        "carry the calorimeter shower shapes - use a sample (or a column-mapped ntuple) that has them",
    )


def _tth_readiness(files: Any, tree: str | None) -> Readiness:
    from decorr_af.data import diphoton_table, signal_dsids

    try:
        df = diphoton_table(files, mode="eager", tree=tree, nonfinite="drop")
    except MissingBranchError as err:
        return Readiness("tth", False, ("diphoton table",), f"no diphoton table: {err}")
    missing, notes = [], [f"diphoton table: {len(df)} events with two photons"]
    if "is_signal" not in df.columns:
        missing.append("simulation")
        notes.append("data (no truth, no is_signal): score with a trained model, no training")
    else:
        n_sig = int(df["is_signal"].sum())
        channels = sorted({int(c) for c in df["mcChannelNumber"]})
        notes.append(f"mcChannelNumber {channels}, {n_sig} signal")
        if n_sig == 0:
            missing.append("signal sample")
            notes.append(
                f"training needs a ttH(yy) signal sample (mcChannelNumber in "
                f"{list(signal_dsids('diphoton'))}, or pass signal_dsids) next to the background"
            )
        if len(df) and n_sig == len(df):
            missing.append("background sample")
    w = df["weight"].to_numpy() if len(df) else np.ones(0)
    if (w <= 0).any():
        missing.append("positive weights")
        notes.append(f"{int((w <= 0).sum())} of {len(w)} weights <= 0 (NLO generator)")
    if len(df) == 0:
        missing.append("diphoton events")
    return Readiness("tth", not missing, tuple(missing), "; ".join(notes))


def input_readiness(files: Any, *, tree: str | None = None) -> dict[str, Readiness]:
    """What each workflow can do with a PHYSLITE sample (e.g. a real ATLAS file).

    Checks the photon fields photon-ID and calibration read (from the file's
    branch list, nothing is read), and builds the diphoton table to see whether
    the ttH training has signal, background and positive weights.

    Parameters
    ----------
    files
        PHYSLITE files (any input spec a table function takes).
    tree
        TTree/RNTuple name (default ``CollectionTree`` / ``EventData``).

    Examples
    --------
    >>> ready = input_readiness("tests/data/PHYSLITE_example.root")  # doctest: +SKIP
    >>> ready["photon_id"].missing[:3]  # doctest: +SKIP
    ('Rhad', 'Reta', 'Rphi')
    """
    from decorr_af.data.layout import PHYSLITE
    from decorr_af.data.validate import validate_files
    from decorr_af.workflows import calibration, photon_id

    infos = validate_files(files, tree=tree)
    have = set.intersection(*(PHYSLITE.available(i).get("Photons", set()) for i in infos))
    pid = photon_id.Config()
    sep = infos[0].sep
    cal = calibration.Config()
    out = {
        "photon_id": _photon_readiness(
            "photon_id", [*photon_id.table_features(pid), "truthType"], have, PHYSLITE, sep
        ),
        "calibration": _photon_readiness(
            "calibration",
            [*cal.base_features, *cal.shape_features, "truth_e", "truthType"],
            have,
            PHYSLITE,
            sep,
        ),
    }
    out["tth"] = _tth_readiness(files, tree)
    return out

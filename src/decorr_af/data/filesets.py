"""One input spec: paths, globs, URLs, coffea filesets and column-mapped ntuples.

Every ``*_files`` field of a workflow config, every CLI ``FILES`` argument and
every table function takes one *input spec*:

* a path, a glob, a directory (its ``*.root`` files) or a URL (``root://``,
  ``https://``, ``s3://``: anything fsspec/uproot opens; globs over ``root://``
  use the XRootD filesystem of ``fsspec-xrootd``), or a list of them;
* a **coffea fileset** ``{dataset: {"files": {url: treename}}}`` (a mapping in
  Python, or a ``.json``/``.yaml`` file holding it), as used by
  ``coffea.dataset_tools`` (:func:`preprocess_fileset` splits it into steps);
* an **input-spec file** (``.yaml``/``.yml``/``.json``) with ``files`` (any of
  the above), and optionally ``tree``, and, for a bring-your-own flat ntuple
  (ROOT TTree, Parquet, HDF5), ``columns`` (table column -> file column) with
  ``energy_unit`` (``MeV``/``GeV``), see :mod:`~decorr_af.data.columnmap`.
  A dataset of a fileset may carry ``columns``/``energy_unit`` the same way.

Relative paths inside a spec file are relative to the spec file.
:func:`input_groups` turns any spec into :class:`InputGroup` s (files read
together: one tree, one column map).

Examples
--------
>>> fileset = {"ttH": {"files": {"root://host//a.root": "CollectionTree"}}}
>>> [(g.files, g.tree) for g in input_groups(fileset)]
[(['root://host//a.root'], 'CollectionTree')]
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from decorr_af.data.columnmap import ColumnMap
from decorr_af.data.remote import is_remote
from decorr_af.errors import ConfigError, InputFileError

__all__ = [
    "SPEC_SUFFIXES",
    "InputGroup",
    "column_mapped",
    "input_groups",
    "is_spec_file",
    "load_spec_file",
    "preprocess_fileset",
    "spec_sources",
]

#: suffixes of input-spec / fileset files
SPEC_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class InputGroup:
    """Files read together.

    Attributes
    ----------
    files
        Paths, globs or URLs (as given; resolved by the reader).
    tree
        TTree/RNTuple name (None: the default of the layout or the file).
    columns
        Column map of a flat ntuple (None: PHYSLITE layout).
    dataset
        Dataset name of a coffea fileset (None otherwise).
    """

    files: list[str]
    tree: str | None = None
    columns: ColumnMap | None = None
    dataset: str | None = None


def is_spec_file(item: Any) -> bool:
    """Whether ``item`` names a local input-spec/fileset file (``.yaml``, ``.yml``, ``.json``).

    Examples
    --------
    >>> is_spec_file("inputs/mc.yaml"), is_spec_file("mc.root"), is_spec_file({"a": 1})
    (True, False, False)
    """
    if not isinstance(item, (str, os.PathLike)) or is_remote(item):
        return False
    return Path(os.fspath(item)).suffix.lower() in SPEC_SUFFIXES


def load_spec_file(path: str | os.PathLike) -> Any:
    """The mapping held by a ``.json``/``.yaml`` spec file (never executes anything)."""
    p = Path(os.fspath(path)).expanduser()
    try:
        text = p.read_text()
    except OSError as err:
        raise InputFileError(f"cannot read input spec {p} ({err.strerror or err})") from err
    try:
        if p.suffix.lower() == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except ValueError as err:  # json.JSONDecodeError and yaml.YAMLError subclass it or not
        raise InputFileError(f"input spec {p}: not valid {p.suffix[1:]} ({err})") from err
    except Exception as err:  # yaml.YAMLError
        raise InputFileError(f"input spec {p}: not valid {p.suffix[1:]} ({err})") from err


def _relative(item: str, base: Path | None) -> str:
    if base is None or is_remote(item) or os.path.isabs(os.path.expanduser(item)):
        return item
    return str(base / item)


def _is_fileset(spec: Mapping[str, Any]) -> bool:
    return bool(spec) and all(isinstance(v, Mapping) and "files" in v for v in spec.values())


def _files_of(value: Any, where: str, base: Path | None) -> list[tuple[str, str | None]]:
    """``files`` of a spec: a string, a list, or ``{url: tree}`` -> ``[(file, tree)]``."""
    if isinstance(value, (str, os.PathLike)):
        return [(_relative(os.fspath(value), base), None)]
    if isinstance(value, Mapping):
        out = []
        for url, tree in value.items():
            if isinstance(tree, Mapping):  # coffea: {url: {"object_path": tree, "steps": ...}}
                tree = tree.get("object_path")
            if tree is not None and not isinstance(tree, str):
                raise ConfigError(f"{where}: tree of {url!r} must be a string, got {tree!r}")
            out.append((_relative(str(url), base), tree))
        return out
    if (
        isinstance(value, Sequence)
        and value
        and all(isinstance(v, (str, os.PathLike)) for v in value)
    ):
        return [(_relative(os.fspath(v), base), None) for v in value]
    raise ConfigError(f"{where}: 'files' must be a path, a list or {{url: tree}}, got {value!r}")


_SPEC_KEYS = {"files", "tree", "columns", "energy_unit", "units", "format", "metadata"}


def _group_spec(spec: Mapping[str, Any], where: str, base: Path | None, dataset: str | None):
    unknown = set(spec) - _SPEC_KEYS - {"form", "uproot_options"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {sorted(unknown)} (an input spec has {sorted(_SPEC_KEYS)})"
        )
    columns = None
    if spec.get("columns") is not None or "energy_unit" in spec or "units" in spec:
        columns = ColumnMap.from_dict(spec)
    files = _files_of(spec["files"], where, base)
    default = spec.get("tree")
    groups: dict[str | None, list[str]] = {}
    for f, tree in files:
        groups.setdefault(tree or default, []).append(f)
    return [InputGroup(fs, tree, columns, dataset) for tree, fs in groups.items()]


def _mapping_groups(spec: Mapping[str, Any], where: str, base: Path | None) -> list[InputGroup]:
    if "files" in spec:
        return _group_spec(spec, where, base, None)
    if _is_fileset(spec):
        out = []
        for name, ds in spec.items():
            out += _group_spec(ds, f"{where} dataset {name!r}", base, str(name))
        return out
    raise ConfigError(
        f"{where}: neither an input spec (a 'files' key) nor a coffea fileset "
        "({dataset: {'files': {url: tree}}})"
    )


def input_groups(spec: Any, *, key: str = "files") -> list[InputGroup]:
    """Any input spec as :class:`InputGroup` s (files not expanded yet).

    Plain paths, globs and URLs given together form one group; every spec file
    or fileset dataset gives its own.

    Examples
    --------
    >>> [g.files for g in input_groups(["a/*.root", "root://h//b.root"])]
    [['a/*.root', 'root://h//b.root']]
    >>> g, = input_groups({"files": "nt.parquet", "columns": {"pt": "ph_pt"}, "energy_unit": "MeV"})
    >>> g.columns.energy_unit, g.files
    ('MeV', ['nt.parquet'])
    """
    if isinstance(spec, Mapping):
        return _mapping_groups(spec, key, None)
    items = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec or ())
    plain: list[str] = []
    out: list[InputGroup] = []
    for item in items:
        if isinstance(item, Mapping):
            out += _mapping_groups(item, key, None)
        elif is_spec_file(item):
            path = Path(os.fspath(item)).expanduser()
            loaded = load_spec_file(path)
            if not isinstance(loaded, Mapping):
                raise ConfigError(f"{key}: input spec {path} must hold a mapping")
            out += _mapping_groups(loaded, f"{key}: {path}", path.parent.absolute())
        else:
            plain.append(item if isinstance(item, str) else os.fspath(item))
    return ([InputGroup(plain)] if plain else []) + out


def spec_sources(spec: Any) -> bool:
    """Whether a spec needs the input-spec machinery (a fileset, a spec file, a map).

    Examples
    --------
    >>> spec_sources(["a.root"]), spec_sources("mc.yaml")
    (False, True)
    """
    if isinstance(spec, Mapping):
        return True
    items = [spec] if isinstance(spec, (str, os.PathLike)) else spec
    try:
        return any(isinstance(i, Mapping) or is_spec_file(i) for i in items)
    except TypeError:
        return False


def preprocess_fileset(
    fileset: Any, *, step_size: int = 100_000, skip_bad_files: bool = False, **kwargs: Any
) -> Any:
    """Run ``coffea.dataset_tools.preprocess`` on a fileset (mapping or spec file).

    Returns coffea's *available* fileset: every file with its ``object_path``,
    ``steps`` (entry ranges of at most ``step_size``), ``num_entries`` and
    ``uuid``, ready for ``coffea.dataset_tools.apply_to_fileset`` or
    ``uproot.dask``. Extra keywords go to ``preprocess`` (e.g. ``uproot_options``
    with the XRootD ``timeout``).
    """
    if isinstance(fileset, (str, os.PathLike)):
        fileset = load_spec_file(fileset)
    if not isinstance(fileset, Mapping) or not _is_fileset(fileset):
        raise ConfigError(
            "preprocess_fileset needs a coffea fileset {dataset: {'files': {url: tree}}}"
        )
    from decorr_af._compat import optional_import

    dataset_tools = optional_import("coffea.dataset_tools", "dask")
    dask = optional_import("dask", "dask")
    plain = {
        name: {"files": {str(u): t for u, t in ds["files"].items()}} for name, ds in fileset.items()
    }
    with dask.config.set(scheduler="sync"):
        available, _ = dataset_tools.preprocess(
            plain, step_size=step_size, skip_bad_files=skip_bad_files, **kwargs
        )
    return available


def expand_group_files(group: InputGroup, *, key: str = "files") -> list[Any]:
    """The files of a group: globs expanded (local, or over ``root://`` via fsspec), sorted.

    Raises
    ------
    InputFileError
        A pattern matches nothing, naming ``key``.
    """
    import glob

    from decorr_af.data.remote import expand_remote, sort_sources

    out: list[Any] = []
    for item in group.files:
        if is_remote(item):
            out.extend(expand_remote(item, key=key))
            continue
        text = os.path.expanduser(item)
        if os.path.isdir(text) and group.columns is None:
            text = os.path.join(text, "*.root")
        matches = sorted(glob.glob(text)) if glob.has_magic(text) else [text]
        files = [Path(m).absolute() for m in matches if Path(m).is_file()]
        if not files:
            raise InputFileError(f"{key}: no file matches {text!r}")
        out.extend(files)
    return sort_sources(out)


def read_spec_table(kind: str, spec: Any, **kwargs: Any) -> Any:
    """The table ``kind`` of every group of an input spec, concatenated.

    PHYSLITE groups are read by the table functions (with the group's tree);
    column-mapped groups by :func:`~decorr_af.data.columnmap.read_flat_table`
    (``selection``, ``features``, ``drop_truth``, ``nonfinite``, ``mode`` and
    ``client`` are passed on: one Dask task per file; ``chunk_size`` and ``tree``
    do not apply to flat ntuples, whose tree is the map's).
    """
    from decorr_af.data import table as tables
    from decorr_af.data.columnmap import read_flat_table

    pd = __import__("pandas")
    frames = []
    for group in input_groups(spec):
        if group.columns is not None:
            flat = {
                k: kwargs[k]
                for k in ("features", "drop_truth", "selection", "nonfinite", "mode", "client")
                if k in kwargs
            }
            frames.append(
                read_flat_table(expand_group_files(group), group.columns, table=kind, **flat)
            )
            continue
        options = dict(kwargs)
        if group.tree is not None:
            options["tree"] = group.tree
        function = {"photon": tables.photon_table, "diphoton": tables.diphoton_table}.get(kind)
        if function is None:
            from decorr_af.data import ztables

            function = {
                "electron": ztables.electron_table,
                "radiative_z": ztables.radiative_z_table,
            }[kind]
        frames.append(function([str(f) for f in expand_group_files(group)], **options))
    if len(frames) > 1 and any(list(f.columns) != list(frames[0].columns) for f in frames[1:]):
        raise InputFileError(
            "the inputs give tables with different columns: "
            + "; ".join(str(list(f.columns)) for f in frames)
        )
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def column_mapped(files: Any, columns: str | os.PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """An input spec: ``files`` read through a column map (a mapping or a YAML/JSON file).

    The map file holds ``columns``, ``energy_unit`` and optionally ``tree``/``format``
    (its ``files``, if any, are ignored: ``files`` wins). Relative paths in
    ``files`` stay relative to the working directory.

    Examples
    --------
    >>> column_mapped(["nt.parquet"], {"columns": {"pt": "ph_pt"}, "energy_unit": "MeV"})
    {'columns': {'pt': 'ph_pt'}, 'energy_unit': 'MeV', 'files': ['nt.parquet']}
    """
    spec = load_spec_file(columns) if isinstance(columns, (str, os.PathLike)) else columns
    if not isinstance(spec, Mapping):
        raise ConfigError(f"column map {columns}: must hold a mapping with 'columns'")
    if "columns" not in spec and "files" not in spec:  # a bare {table column: file column}
        spec = {"columns": dict(spec)}
    items = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    out = {k: v for k, v in spec.items() if k != "files"}
    out["files"] = [os.fspath(f) for f in items]
    ColumnMap.from_dict(out)  # checked now
    return out

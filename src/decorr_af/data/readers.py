"""Open PHYSLITE(-like) files as event records with coffea's collection names.

* **TTree** files (``CollectionTree``, branches ``AnalysisPhotonsAuxDyn.pt``)
  are read with coffea's ``NanoEventsFactory.from_root(...,
  schemaclass=PHYSLITESchema)``: ``events.Photons.pt``,
  ``events.EventInfo.mcChannelNumber``, ``events.Jets``, ... on dask-awkward
  (``mode="dask"``) or eagerly (``mode="eager"``).
* **RNTuple** files (``EventData``, fields ``AnalysisPhotonsAuxDyn:pt``) are
  read with uproot (``uproot.dask`` or ``uproot.open(...).arrays``) and
  arranged into the *same* names: each ``Analysis<X>AuxDyn:<field>`` becomes
  ``events.<X>.<field>`` (``Photons``, ``Jets``, ``Electrons``, ``Muons``, ...)
  and ``EventInfoAuxDyn:<field>`` becomes ``events.EventInfo.<field>``. Only
  numeric fields are mirrored (element links and nested vectors are left
  out) and no coffea behaviours are attached: the result is a plain awkward
  record array, so ``events.Photons.pt`` works but ``events.Photons.energy``
  (a coffea method) does not. Values stay in MeV, as in the file.

Truth is never returned for data: when ``EventInfo.eventTypeBitmask`` lacks
IS_SIMULATION (bit 0), the truth fields (``truthType, truthOrigin,
truth_e``) are projected out of every collection, even if a file holds them
(the toy never writes them for data; a projected collection is a plain
record without coffea methods).
"""

from __future__ import annotations

import enum
import itertools
import os
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

from decorr_af._compat import optional_import
from decorr_af.data.layout import PHYSLITE, PhysliteLayout
from decorr_af.data.validate import FileInfo, validate_files
from decorr_af.errors import ConfigError, InputFileError, MissingBranchError

__all__ = ["COLLECTIONS", "ReadMode", "check_schema_branches", "is_simulation", "open_events"]

#: coffea collection name -> PHYSLITE container name (from :data:`~decorr_af.data.layout.PHYSLITE`)
COLLECTIONS = dict(PHYSLITE.collections)


#: coordinates coffea's Lorentz-vector mixins need: (what, accepted fields); the first
#: accepted field is the PHYSLITE branch named in errors. ``Muon`` gets ``m`` from coffea.
_FOUR_VECTOR = (
    ("transverse momentum", ("pt", "rho")),
    ("azimuth", ("phi",)),
    ("longitudinal coordinate", ("eta", "theta", "z", "pz")),
    ("temporal coordinate", ("m", "mass", "M", "tau", "e", "E", "energy", "t")),
)
_FOUR_VECTOR_MIXINS = ("Particle", "Electron", "Muon")
_AZIMUTHAL = ("transverse momentum", "azimuth")  # or x/px and y/py


class ReadMode(str, enum.Enum):
    """How events are materialised."""

    DASK = "dask"
    EAGER = "eager"


def parse_mode(mode: ReadMode | str) -> ReadMode:
    """Validate a ``mode`` keyword."""
    try:
        return ReadMode(mode)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in ReadMode)
        raise ConfigError(f"mode={mode!r} is not one of {allowed}") from None


def open_events(
    files: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    mode: ReadMode | str = ReadMode.DASK,
    tree: str | None = None,
    collections: Sequence[str] | None = None,
    steps_per_file: int = 1,
) -> Any:
    """Open PHYSLITE(-like) files as events with coffea collection names.

    Parameters
    ----------
    files
        A path, a glob, a directory (its ``*.root`` files) or a list of them.
    mode
        ``"dask"`` (lazy dask-awkward array) or ``"eager"`` (awkward array).
    tree
        Name of the TTree/RNTuple; by default ``CollectionTree`` or ``EventData``.
    collections
        RNTuple only: coffea names of the collections to mirror (default: the
        keys of :data:`COLLECTIONS` present in the file). TTree files always
        expose every collection through coffea (read lazily).
    steps_per_file
        Dask partitions per file.

    Returns
    -------
    dask_awkward.Array or awkward.Array
        Events with ``events.Photons.pt``, ``events.EventInfo.eventNumber``, ...

    Raises
    ------
    InputFileError
        Missing/corrupt/empty files or wrong tree name (checked eagerly).

    Examples
    --------
    >>> events = open_events("tests/data/PHYSLITE_example.root", mode="eager")  # doctest: +SKIP
    >>> int(ak.sum(ak.num(events.Photons.pt)))  # doctest: +SKIP
    292
    """
    mode = parse_mode(mode)
    if steps_per_file < 1:
        raise ConfigError(f"steps_per_file must be >= 1, got {steps_per_file}")
    infos = validate_files(files, tree=tree)
    if infos[0].rntuple:
        events = _open_rntuple(infos, mode=mode, collections=collections, steps=steps_per_file)
    else:
        events = _open_coffea(infos, mode=mode, steps=steps_per_file)
    return events if is_simulation(infos) else _without_truth(events, mode)


def is_simulation(infos: Sequence[FileInfo], *, layout: PhysliteLayout = PHYSLITE) -> bool:
    """False when a file's ``eventTypeBitmask`` (first event) lacks IS_SIMULATION.

    Files without the bitmask count as simulation (their truth, if any, is kept).

    Examples
    --------
    >>> import tempfile
    >>> from decorr_af.data import generate
    >>> from decorr_af.data.validate import validate_files
    >>> (path,) = generate(tempfile.mkdtemp(), sample="photons", kind="data", events=100, seed=1)
    >>> is_simulation(validate_files(path))
    False
    """
    uproot = optional_import("uproot", "io")
    for info in infos:
        name = layout.bitmask_branch(info)
        if name is None:
            continue
        with uproot.open(info.path) as handle:
            raw = handle[info.tree].arrays(filter_name=[name], entry_stop=1)
        value = raw[name if name in raw.fields else name.split("/")[-1]]
        if not layout.simulated([int(value[0])]):
            return False
    return True


def _without_truth(events: Any, mode: ReadMode, layout: PhysliteLayout = PHYSLITE) -> Any:
    """Project the truth fields out of every collection (data events)."""
    lib = optional_import("dask_awkward" if mode is ReadMode.DASK else "awkward", "io")
    behavior = getattr(events, "behavior", None)
    truth = set(layout.truth_fields)
    for coll in events.fields:
        fields = events[coll].fields
        if set(fields) & truth:
            kept = events[coll][[f for f in fields if f not in truth]]
            events = lib.with_field(events, kept, coll)
    if mode is ReadMode.EAGER and behavior is not None:
        ak = optional_import("awkward", "io")
        events = ak.Array(events, behavior=behavior)
    return events


def check_schema_branches(info: FileInfo, mixins: dict[str, str]) -> None:
    """Raise when a collection lacks a branch its coffea four-vector mixin needs.

    coffea's ``PHYSLITESchema`` groups ``Analysis<X>AuxDyn.<field>`` branches into
    collections and gives ``Photons``, ``Electrons``, ``Jets``, ... Lorentz-vector
    behaviour; a collection without, e.g., ``eta`` otherwise fails deep inside
    coffea ("ParticleArray: missing longitudinal coordinate").

    Parameters
    ----------
    info
        The validated file.
    mixins
        coffea collection name -> mixin (``PHYSLITESchema.mixins``).

    Raises
    ------
    MissingBranchError
        Naming the file, the collection and the missing branch.

    Examples
    --------
    >>> from pathlib import Path
    >>> keys = frozenset(f"AnalysisPhotonsAuxDyn.{f}" for f in ("pt", "phi", "m"))
    >>> info = FileInfo(Path("/d/a.root"), "CollectionTree", False, 10, keys)
    >>> check_schema_branches(info, {"Photons": "Particle"})
    Traceback (most recent call last):
    ...
    decorr_af.errors.MissingBranchError: /d/a.root: collection 'Photons' lacks branch(es) ['AnalysisPhotonsAuxDyn.eta'], needed by coffea's PHYSLITESchema for its four-vectors (tree 'CollectionTree')
    """
    fields: dict[str, dict[str, set[str]]] = {}
    for key in info.keys:
        top, _, sub = key.split("/")[-1].partition(".")
        if not sub or "." in sub:
            continue
        coll = top.replace("Analysis", "").replace("AuxDyn", "").replace("Aux", "")
        fields.setdefault(coll, {}).setdefault(top, set()).add(sub)
    for coll, containers in sorted(fields.items()):
        if mixins.get(coll) not in _FOUR_VECTOR_MIXINS:
            continue
        have = set().union(*containers.values())
        top = max(containers, key=lambda c: len(containers[c]))
        cartesian = bool(have & {"x", "px"}) and bool(have & {"y", "py"})
        missing = [
            f"{top}.{names[0]}"
            for what, names in _FOUR_VECTOR
            if not have & set(names)
            and not (cartesian and what in _AZIMUTHAL)
            and not (mixins[coll] == "Muon" and "m" in names)
        ]
        if missing:
            raise MissingBranchError(
                f"{info.path}: collection '{coll}' lacks branch(es) {missing}, needed by "
                f"coffea's PHYSLITESchema for its four-vectors (tree '{info.tree}')"
            )


def _open_coffea(infos: list[FileInfo], *, mode: ReadMode, steps: int) -> Any:
    nanoevents = optional_import("coffea.nanoevents", "dask")
    factory = nanoevents.NanoEventsFactory
    schema = nanoevents.PHYSLITESchema
    for info in infos:
        check_schema_branches(info, schema.mixins)
    with warnings.catch_warnings():
        # coffea warns for every trigger branch it cannot represent
        warnings.filterwarnings("ignore", message=".*cannot be represented as an Awkward array")
        if mode is ReadMode.DASK:
            spec = {str(i.path): i.tree for i in infos}
            return factory.from_root(
                spec, schemaclass=schema, mode="dask", steps_per_file=steps
            ).events()
        if len(infos) > 1:
            ak = optional_import("awkward", "dask")
            parts = [_open_coffea([i], mode=mode, steps=steps) for i in infos]
            return ak.concatenate(parts)
        info = infos[0]
        return factory.from_root(
            {str(info.path): info.tree}, schemaclass=schema, mode="eager"
        ).events()


def collection_fields(
    info: FileInfo, container: str, *, layout: PhysliteLayout = PHYSLITE
) -> list[str]:
    """Field names of ``<container>AuxDyn<sep><field>`` branches (no sub-branches)."""
    prefix = layout.container_branch(container, "", sep=info.sep)
    return sorted(
        k[len(prefix) :]
        for k in info.keys
        if k.startswith(prefix) and "." not in k[len(prefix) :] and "/" not in k
    )


def _is_numeric(form: Any, *, jagged: bool) -> bool:
    """True for ``number`` (event level) or ``var * number`` (collections)."""
    content = form
    if jagged:
        if not hasattr(form, "content") or form.__class__.__name__ not in (
            "ListOffsetForm",
            "ListForm",
        ):
            return False
        content = form.content
    return content.__class__.__name__ == "NumpyForm"


def _open_rntuple(
    infos: list[FileInfo],
    *,
    mode: ReadMode,
    collections: Sequence[str] | None,
    steps: int,
    layout: PhysliteLayout = PHYSLITE,
) -> Any:
    uproot = optional_import("uproot", "io")
    known = layout.collections
    wanted = list(collections) if collections is not None else list(known)
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise ConfigError(f"collections={unknown} unknown; choose from {', '.join(known)}")
    first = infos[0]
    names: dict[str, dict[str, str]] = {}
    for coll in wanted:
        fields = [f for f in layout.fields(first, coll) if "link" not in f.lower()]
        if fields:
            names[coll] = {f: layout.branch(coll, f, sep=first.sep) for f in fields}
    if not names:
        raise InputFileError(
            f"{first.path}: none of the collections {wanted} found in '{first.tree}'"
        )
    branches = [b for fields in names.values() for b in fields.values()]
    for info in infos[1:]:
        branches = [b for b in branches if info.has(b)]
    if mode is ReadMode.DASK:
        spec = {
            str(i.path): {"object_path": i.tree, "steps": _steps(i.num_entries, steps)}
            for i in infos
        }
        raw = uproot.dask(spec, filter_name=branches)
        lib = optional_import("dask_awkward", "dask")
        form = raw._meta.layout.form
    else:
        ak = optional_import("awkward", "io")
        chunks = []
        for info in infos:
            with uproot.open(info.path) as handle:
                chunks.append(handle[info.tree].arrays(filter_name=branches))
        raw = ak.concatenate(chunks) if len(chunks) > 1 else chunks[0]
        lib = ak
        form = raw.layout.form
    out = {}
    for coll, fields in names.items():
        event_level = coll == layout.event_collection
        keep = {}
        for field, b in fields.items():
            if b not in raw.fields:
                continue
            sub = form.content(b)
            # event level: scalars and vectors (mcEventWeights); collections: vectors
            if _is_numeric(sub, jagged=True) or (event_level and _is_numeric(sub, jagged=False)):
                keep[field] = raw[b]
        if keep:
            out[coll] = lib.zip(keep, depth_limit=1 if event_level else None)
    return lib.zip(out, depth_limit=1)


def _steps(num_entries: int, steps: int) -> list[list[int]]:
    """Split ``[0, num_entries)`` into ``steps`` contiguous ranges."""
    steps = max(1, min(steps, num_entries))
    edges = [round(i * num_entries / steps) for i in range(steps + 1)]
    return [[a, b] for a, b in itertools.pairwise(edges) if b > a]

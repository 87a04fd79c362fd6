"""Flat pandas tables: one row per photon, or one row per diphoton event.

Reading goes straight to the needed ``<Collection>AuxDyn.<field>`` branches
with uproot (``uproot.dask`` partitions on the Dask path, ``TTree.iterate``
chunks on the eager path) - coffea's NanoEvents is only used when you pass
already-opened events. Each chunk is arranged into coffea's collection names
(``Photons``, ``EventInfo``, ``Jets``, ...) and flattened with numpy, so both
paths and already-opened events share one implementation. Energies become GeV.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from decorr_af._compat import optional_import
from decorr_af.data.readers import (
    COLLECTIONS,
    ReadMode,
    collection_fields,
    is_simulation,
    parse_mode,
)
from decorr_af.data.schema import (
    CALO_VARIABLES,
    CONVERSION,
    DIPHOTON_CHANNELS,
    DIPHOTON_EVENT_FEATURES,
    IS_SIMULATION,
    ISOLATION,
    MEV_COLUMNS,
    SHOWER_SHAPES,
    TRUTH,
    TRUTH_COLUMNS,
    TRUTH_TYPE,
)
from decorr_af.data.validate import (
    FileInfo,
    NonFinitePolicy,
    check_finite,
    format_nonfinite,
    parse_policy,
    validate_files,
)
from decorr_af.errors import ConfigError, MissingBranchError, NonFiniteValueError

__all__ = [
    "EVENT_COLUMNS",
    "STANDARD_FEATURES",
    "TABLES",
    "TableSpec",
    "available_features",
    "diphoton_table",
    "iter_table",
    "object_columns",
    "photon_table",
    "register_table",
    "table_spec",
]

#: optional photon features, in table order
STANDARD_FEATURES = (*CONVERSION, *SHOWER_SHAPES, *ISOLATION, *CALO_VARIABLES)
#: per-event columns of both tables: column -> EventInfo field
EVENT_COLUMNS = {
    "eventNumber": "eventNumber",
    "runNumber": "runNumber",
    "mcChannelNumber": "mcChannelNumber",
    "mu": "averageInteractionsPerCrossing",
    "weight": None,  # mcEventWeight or mcEventWeights[0]; 1 when absent (data)
}
_OPTIONAL_EVENT = ("mcChannelNumber",)
_BITMASK = "eventTypeBitmask"
_SCALE = 1e-3  # MeV -> GeV

Source = Any  # files (path, glob, directory, list) or opened events
Selection = str | Callable[[Any], Any] | None


@dataclass(frozen=True)
class TableSpec:
    """What one kind of flat table reads and how it builds its rows.

    Attributes
    ----------
    name
        Table name (``iter_table(table=...)``).
    primary
        coffea collection of the candidates (``"Photons"``, ``"Electrons"``).
    features
        Optional standard features of the primary collection, in table order.
    required
        Extra primary fields that must exist (besides ``pt, eta, phi``).
    collections
        Other collections that must exist: name -> fields.
    frame
        ``frame(events, plan, options) -> DataFrame``, a module-level function
        (Dask ships it to the workers by reference).
    records
        Whether ``frame`` needs awkward records (else plain branch mappings).
    """

    name: str
    primary: str
    features: tuple[str, ...]
    frame: Callable[..., Any]
    required: tuple[str, ...] = ()
    collections: dict[str, tuple[str, ...]] = field(default_factory=dict)
    records: bool = False


@dataclass(frozen=True)
class _Plan:
    """Which logical fields to read: collection -> fields, plus event handling."""

    fields: dict[str, tuple[str, ...]]
    weight: str | None
    features: tuple[str, ...]
    truth: tuple[str, ...]
    branches: dict[tuple[str, str], str] = field(default_factory=dict)


# -- resolving fields ----------------------------------------------------------------


def _event_fields(info: FileInfo) -> set[str]:
    names = set(collection_fields(info, "EventInfo"))
    if not info.rntuple:  # Run-2 files keep these in the static aux store
        names |= {k.split("EventInfoAux.")[-1] for k in info.keys if "EventInfoAux./" in k}
    return names


def _event_branch(info: FileInfo, name: str) -> str:
    dyn = f"EventInfoAuxDyn{info.sep}{name}"
    return dyn if info.has(dyn) else f"EventInfoAux./EventInfoAux.{name}"


def _fields_of(info: FileInfo) -> dict[str, set[str]]:
    out = {c: set(collection_fields(info, p)) for c, p in COLLECTIONS.items() if c != "EventInfo"}
    out["EventInfo"] = _event_fields(info)
    return out


def _events_fields(events: Any) -> dict[str, set[str]]:
    return {c: set(events[c].fields) for c in COLLECTIONS if c in events.fields}


def _label(source: Any) -> str:
    return str(source.path) if isinstance(source, FileInfo) else "events"


def _resolve_features(
    available: dict[str, set[str]],
    where: str,
    features: Sequence[str] | None,
    spec: TableSpec,
) -> tuple[str, ...]:
    present = available.get(spec.primary, set())
    std = tuple(f for f in spec.features if f in present)
    if features is None:
        return std
    wanted = [f for f in dict.fromkeys(features) if f not in ("converted", "e")]
    if "converted" in features and "conversionType" not in wanted:
        wanted.insert(0, "conversionType")
    missing = [f for f in wanted if f not in present]
    if missing:
        container = COLLECTIONS[spec.primary]
        branches = ", ".join(f"{container}AuxDyn.{f}" for f in missing)
        what = spec.primary[:-1].lower()
        raise MissingBranchError(
            f"{where}: the requested {what} feature(s) {missing} are absent (no {branches}). "
            f"Features present in this file: features={list(std)}"
        )
    return tuple(wanted)


def _plan(
    sources: Sequence[Any],
    available: Sequence[dict[str, set[str]]],
    *,
    features: Sequence[str] | None,
    drop_truth: bool,
    spec: TableSpec,
    simulation: bool = True,
) -> _Plan:
    where = _label(sources[0])
    first = available[0]
    primary = spec.primary
    feats = _resolve_features(first, where, features, spec)
    for src, avail in zip(sources[1:], available[1:]):
        _resolve_features(avail, _label(src), feats, spec)
    keep_truth = simulation and not drop_truth
    truth = (
        tuple(f for f in TRUTH if all(f in a.get(primary, ()) for a in available))
        if keep_truth
        else ()
    )
    base = ("pt", "eta", "phi", *spec.required)
    ev_need = [f for c, f in EVENT_COLUMNS.items() if f and c not in _OPTIONAL_EVENT]
    for src, avail in zip(sources, available):
        missing = [f"{primary}.{f}" for f in base if f not in avail.get(primary, ())]
        for coll, names in spec.collections.items():
            missing += [f"{coll}.{f}" for f in names if f not in avail.get(coll, ())]
        missing += [f"EventInfo.{f}" for f in ev_need if f not in avail.get("EventInfo", ())]
        if missing:
            names = [f"{COLLECTIONS[m.split('.')[0]]}AuxDyn.{m.split('.')[1]}" for m in missing]
            raise MissingBranchError(
                f"{_label(src)}: required field(s) {missing} are absent (branches {names}); "
                f"is this a {spec.name} sample?"
            )
    ev = first["EventInfo"]
    weight = next((w for w in ("mcEventWeight", "mcEventWeights") if w in ev), None)
    event = tuple(f for c, f in EVENT_COLUMNS.items() if f and f in ev)
    event += (weight,) if weight else ()
    if truth and all(_BITMASK in a.get("EventInfo", ()) for a in available):
        event += (_BITMASK,)  # checked chunk by chunk as well
    fields: dict[str, tuple[str, ...]] = {
        "EventInfo": event,
        primary: tuple(dict.fromkeys((*base, *feats, *truth))),
        **spec.collections,
    }
    if spec.name == "diphoton":
        from decorr_af.columnar.features import BTAG_FIELDS

        for coll in ("Jets", "Electrons", "Muons"):
            if {"pt", "eta"} <= first.get(coll, set()):
                extra = (
                    tuple(f for f in BTAG_FIELDS if f in first[coll])[:1] if coll == "Jets" else ()
                )
                fields[coll] = ("pt", "eta", *extra)
    return _Plan(fields, weight, feats, truth)


def _with_branches(plan: _Plan, info: FileInfo) -> _Plan:
    br = {}
    for coll, names in plan.fields.items():
        for name in names:
            if coll == "EventInfo":
                br[(coll, name)] = _event_branch(info, name)
            else:
                br[(coll, name)] = f"{COLLECTIONS[coll]}AuxDyn{info.sep}{name}"
    return _Plan(plan.fields, plan.weight, plan.features, plan.truth, br)


# -- chunk -> frame ------------------------------------------------------------------


def _arrange(raw: Any, plan: _Plan, *, records: bool = True) -> Any:
    """Raw branch record -> ``{"EventInfo": ..., "Photons": ..., ...}`` (no copy).

    With ``records=False`` the jagged collections stay plain mappings of their
    branches (zipping them checks that every branch has the same offsets, which
    costs more than reading them) and the outer level is a dict; EventInfo (flat,
    cheap) is always zipped. The photon table needs only that form.
    """
    ak = optional_import("awkward", "io")
    names = set(raw.fields)
    out: dict[str, Any] = {}
    for coll, fields_ in plan.fields.items():
        cols = {}
        for f in fields_:
            b = plan.branches[(coll, f)]
            cols[f] = raw[b if b in names else b.split("/")[-1]]
        if coll == "EventInfo":
            out[coll] = ak.zip(cols, depth_limit=1)
        else:
            out[coll] = ak.zip(cols) if records else cols
    return ak.zip(out, depth_limit=1) if records else out


def _event_columns(ei: Any, plan: _Plan, n: int) -> dict[str, np.ndarray]:
    ak = optional_import("awkward", "io")
    out: dict[str, np.ndarray] = {}
    for col, name in EVENT_COLUMNS.items():
        if col == "weight":
            if plan.weight == "mcEventWeights":
                w = ak.fill_none(ak.firsts(ei.mcEventWeights, axis=1), 1.0)
            elif plan.weight:
                w = ei[plan.weight]
            else:
                w = np.ones(n, dtype=np.float32)
            out[col] = np.asarray(ak.to_numpy(w) if not isinstance(w, np.ndarray) else w)
        elif name in ei.fields:
            out[col] = ak.to_numpy(ei[name])
        else:  # optional (data has no mcChannelNumber)
            out[col] = np.zeros(n, dtype=np.uint32)
    return out


def _simulated(ei: Any) -> bool:
    """False when the chunk's ``eventTypeBitmask`` says data (truth is then never returned)."""
    ak = optional_import("awkward", "io")
    if _BITMASK not in ei.fields or len(ei) == 0:
        return True
    return bool(np.all(ak.to_numpy(ei[_BITMASK]) & IS_SIMULATION))


def object_columns(events: Any, plan: _Plan, coll: str) -> dict[str, np.ndarray]:
    """Flat per-object columns of ``coll`` (GeV) with the event columns repeated.

    Adds ``e`` (= pT·cosh η, the raw cluster energy) and, with
    ``conversionType``, ``converted``; leaves out every truth column when the
    chunk is data (``eventTypeBitmask`` without IS_SIMULATION).
    """
    ak = optional_import("awkward", "io")
    obj = events[coll]  # a record array or a mapping of jagged branches
    counts = ak.to_numpy(ak.num(obj["pt"], axis=1))
    ei = events["EventInfo"]
    cols = {c: np.repeat(v, counts) for c, v in _event_columns(ei, plan, len(counts)).items()}
    simulated = _simulated(ei)
    for f in plan.fields[coll]:
        if f in TRUTH and not simulated:
            continue
        v = ak.to_numpy(ak.flatten(obj[f], axis=1))
        if f in MEV_COLUMNS:
            v = v * v.dtype.type(_SCALE)
        cols[f] = v
        if f == "phi":
            cols["e"] = cols["pt"] * np.cosh(cols["eta"])
        elif f == "conversionType":
            cols["converted"] = v > 0
    if "truthType" in cols:
        cols["is_prompt"] = cols["truthType"] == TRUTH_TYPE["IsoPhoton"]
    return cols


def _photon_frame(events: Any, plan: _Plan, options: dict[str, Any]) -> Any:
    pd = optional_import("pandas", "io")
    return pd.DataFrame(object_columns(events, plan, "Photons"), copy=False)


def _diphoton_frame(events: Any, plan: _Plan, options: dict[str, Any]) -> Any:
    ak = optional_import("awkward", "io")
    pd = optional_import("pandas", "io")
    from decorr_af.columnar.features import diphoton_features

    truth = tuple(f for f in ("truthType",) if f in plan.truth)
    feats = diphoton_features(events, scale=_SCALE, photon_fields=truth, **options)
    mask = ak.to_numpy(feats.pop("mask"))
    ei = events.EventInfo[mask]
    cols = _event_columns(ei, plan, int(mask.sum()))
    for name in (*DIPHOTON_EVENT_FEATURES, "pt1", "eta1", "phi1", "pt2", "eta2", "phi2"):
        cols[name] = np.asarray(
            ak.to_numpy(feats[name]) if not np.isscalar(feats[name]) else feats[name]
        )
    for i in (1, 2):
        if f"truthType{i}" in feats:
            cols[f"is_prompt{i}"] = ak.to_numpy(feats[f"truthType{i}"]) == TRUTH_TYPE["IsoPhoton"]
    if _simulated(events.EventInfo):
        cols["is_signal"] = cols["mcChannelNumber"] == DIPHOTON_CHANNELS["ttH_yy"]
    else:
        for name in TRUTH_COLUMNS:
            cols.pop(name, None)
    return pd.DataFrame(cols, copy=False)


def _finish(
    frame: Any, selection: Selection, policy: NonFinitePolicy, label: str
) -> tuple[Any, dict]:
    """Apply the selection then the non-finite policy (raise is decided by the caller)."""
    if selection is not None and len(frame):
        mask = frame.eval(selection) if isinstance(selection, str) else selection(frame)
        frame = frame.loc[np.asarray(mask, dtype=bool)].reset_index(drop=True)
    inner = NonFinitePolicy.KEEP if policy is NonFinitePolicy.RAISE else policy
    frame, counts = check_finite(frame, policy=inner, source=label)
    return frame, counts


def _chunk(
    raw: Any,
    plan: _Plan,
    spec: TableSpec,
    options: dict,
    selection: Selection,
    policy: NonFinitePolicy,
    label: str,
    arranged: bool = False,
) -> tuple[Any, dict]:
    events = raw if arranged else _arrange(raw, plan, records=spec.records)
    return _finish(spec.frame(events, plan, options), selection, policy, label)


# -- drivers -------------------------------------------------------------------------


def _is_events(source: Any) -> bool:
    return hasattr(source, "fields") and "EventInfo" in getattr(source, "fields", ())


def _prepare(
    source: Source,
    *,
    tree: str | None,
    features: Sequence[str] | None,
    drop_truth: bool,
    spec: TableSpec,
) -> tuple[list[FileInfo] | None, _Plan]:
    if _is_events(source):
        plan = _plan(
            [source],
            [_events_fields(source)],
            features=features,
            drop_truth=drop_truth,
            spec=spec,
        )
        return None, plan
    infos = validate_files(source, tree=tree)
    plan = _plan(
        infos,
        [_fields_of(i) for i in infos],
        features=features,
        drop_truth=drop_truth,
        spec=spec,
        simulation=is_simulation(infos),
    )
    return infos, _with_branches(plan, infos[0])


def _iter_raw(infos: list[FileInfo], plan: _Plan, chunk_size: int) -> Iterator[tuple[Any, str]]:
    """Raw branch chunks of ``chunk_size`` entries, with a label naming file and entries."""
    uproot = optional_import("uproot", "io")
    branches = list(dict.fromkeys(plan.branches.values()))
    from decorr_af.data.readers import _steps

    for info in infos:
        with uproot.open(info.path) as handle:
            obj = handle[info.tree]
            n_steps = -(-info.num_entries // chunk_size)
            # explicit ranges: uproot's RNTuple iterate() rebuilds its field list (slow)
            for start, stop in _steps(info.num_entries, n_steps):
                raw = obj.arrays(filter_name=branches, entry_start=start, entry_stop=stop)
                yield raw, f"{info.path} [entries {start}:{stop}]"


def _events_subset(events: Any, plan: _Plan) -> Any:
    """Only the fields the plan needs, as a record with coffea collection names."""
    from decorr_af.columnar.features import array_library

    lib = array_library(events)
    out = {}
    for coll, names in plan.fields.items():
        sub = events[coll]
        cols = {f: sub[f] for f in names}
        out[coll] = lib.zip(cols, depth_limit=1 if coll == "EventInfo" else None)
    return lib.zip(out, depth_limit=1)


def iter_table(
    source: Source,
    *,
    table: str = "photon",
    features: Sequence[str] | None = None,
    selection: Selection = None,
    drop_truth: bool = False,
    nonfinite: NonFinitePolicy | str = NonFinitePolicy.RAISE,
    tree: str | None = None,
    chunk_size: int = 200_000,
    **options: Any,
) -> Iterator[Any]:
    """Yield the flat table chunk by chunk (``chunk_size`` events per chunk), eagerly.

    Used by :func:`decorr_af.data.export_table` to stream large inputs; with
    ``nonfinite="raise"`` the first chunk holding NaN/inf raises. ``table`` is
    ``"photon"``, ``"diphoton"``, ``"electron"`` or ``"radiative_z"`` (any
    registered :class:`TableSpec`); ``options`` go to the table's frame builder
    (e.g. :func:`decorr_af.columnar.features.diphoton_features`).

    Examples
    --------
    >>> for chunk in iter_table("tests/data/PHYSLITE_example.root", chunk_size=50):  # doctest: +SKIP
    ...     print(len(chunk))
    """
    spec = table_spec(table)
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
    policy = parse_policy(nonfinite)
    infos, plan = _prepare(source, tree=tree, features=features, drop_truth=drop_truth, spec=spec)
    for frame, counts, label in _iter_chunks(
        infos, source, plan, spec, options, selection, policy, chunk_size
    ):
        if counts and policy is NonFinitePolicy.RAISE:
            raise NonFiniteValueError(format_nonfinite({label: counts}))
        yield frame


def _iter_chunks(
    infos: list[FileInfo] | None,
    source: Any,
    plan: _Plan,
    spec: TableSpec,
    options: dict,
    selection: Selection,
    policy: NonFinitePolicy,
    chunk_size: int,
) -> Iterator[tuple[Any, dict[str, int], str]]:
    """Eager chunks as ``(frame, non-finite counts, label)``; never raises on NaN."""
    if infos is None:
        chunks: Iterable[tuple[Any, str]]
        sub = _events_subset(source, plan)
        if hasattr(sub, "to_delayed"):
            chunks = (
                (p.compute(), f"events partition {i}") for i, p in enumerate(sub.to_delayed())
            )
        else:
            chunks = [(sub, "events")]
        arranged = True
    else:
        chunks, arranged = _iter_raw(infos, plan, chunk_size), False
    for raw, label in chunks:
        frame, counts = _chunk(raw, plan, spec, options, selection, policy, label, arranged)
        yield frame, counts, label


def _dask_tasks(
    infos: list[FileInfo] | None, source: Any, plan: _Plan, chunk_size: int
) -> tuple[list[Any], list[str], bool]:
    if infos is None:
        sub = _events_subset(source, plan)
        if not hasattr(sub, "to_delayed"):
            raise ConfigError("mode='dask' needs dask-awkward events or files; got eager events")
        parts = sub.to_delayed()
        return parts, [f"events partition {i}" for i in range(len(parts))], True
    uproot = optional_import("uproot", "io")
    from decorr_af.data.readers import _steps

    spec, labels = {}, []
    for info in infos:
        steps = _steps(info.num_entries, -(-info.num_entries // chunk_size))
        spec[str(info.path)] = {"object_path": info.tree, "steps": steps}
        labels += [f"{info.path} [entries {a}:{b}]" for a, b in steps]
    raw = uproot.dask(spec, filter_name=list(dict.fromkeys(plan.branches.values())))
    parts = raw.to_delayed()
    if len(parts) != len(labels):  # pragma: no cover - uproot changed its partitioning
        labels = [f"partition {i}" for i in range(len(parts))]
    return parts, labels, False


def _table(
    kind: str | TableSpec,
    source: Source,
    *,
    features: Sequence[str] | None,
    selection: Selection,
    drop_truth: bool,
    nonfinite: NonFinitePolicy | str,
    mode: ReadMode | str,
    client: Any,
    chunk_size: int,
    tree: str | None,
    options: dict[str, Any],
) -> Any:
    mode = parse_mode(mode)
    policy = parse_policy(nonfinite)
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
    spec = table_spec(kind)
    infos, plan = _prepare(source, tree=tree, features=features, drop_truth=drop_truth, spec=spec)
    lazy_events = infos is None and hasattr(source, "to_delayed")
    if mode is ReadMode.EAGER and not lazy_events:
        chunks = list(
            _iter_chunks(infos, source, plan, spec, options, selection, policy, chunk_size)
        )
        results = [(f, c) for f, c, _ in chunks]
        labels = [lab for _, _, lab in chunks]
    else:
        dask = optional_import("dask", "dask")
        parts, labels, arranged = _dask_tasks(infos, source, plan, chunk_size)
        task = dask.delayed(_chunk, pure=True)
        tasks = [
            task(p, plan, spec, options, selection, policy, lab, arranged)
            for p, lab in zip(parts, labels)
        ]
        if client is not None:
            results = client.gather(client.compute(tasks))
        else:
            results = dask.compute(*tasks)
    bad = {lab: c for (_, c), lab in zip(results, labels) if c}
    if bad and policy is NonFinitePolicy.RAISE:
        raise NonFiniteValueError(format_nonfinite(bad))
    return _concat([f for f, _ in results])


def _concat(frames: list[Any]) -> Any:
    """Concatenate chunk frames column by column (one copy; pandas' block concat is slower)."""
    pd = optional_import("pandas", "io")
    if len(frames) == 1:
        return frames[0]
    return pd.DataFrame(
        {c: np.concatenate([f[c].to_numpy() for f in frames]) for c in frames[0].columns},
        copy=False,
    )


def photon_table(
    source: Source,
    *,
    features: Sequence[str] | None = None,
    selection: Selection = None,
    drop_truth: bool = False,
    nonfinite: NonFinitePolicy | str = NonFinitePolicy.RAISE,
    mode: ReadMode | str = ReadMode.DASK,
    client: Any = None,
    chunk_size: int = 200_000,
    tree: str | None = None,
) -> Any:
    """One row per photon, energies in GeV.

    Columns: ``eventNumber, runNumber, mcChannelNumber, mu, weight, pt, eta, phi,
    e`` (= pT·cosh η, the raw cluster energy), then the requested features
    (``conversionType, converted``, shower shapes, isolation, any other photon
    field by name) and, unless ``drop_truth``, the truth fields present
    (``truthType, truthOrigin, truth_e``) and ``is_prompt`` (truthType == 14).
    Truth columns are never returned for data (``EventInfo.eventTypeBitmask``
    without IS_SIMULATION), whatever ``drop_truth`` says.

    Parameters
    ----------
    source
        Files (a path, glob, directory or list) or events from
        :func:`~decorr_af.data.open_events` (eager or dask).
    features
        Photon features; ``None`` means every standard feature present in the
        files (see :func:`available_features`). An absent requested feature
        raises :class:`~decorr_af.errors.MissingBranchError`.
    selection
        Row selection applied chunk by chunk: a :meth:`pandas.DataFrame.eval`
        expression (``"pt > 25 and abs(eta) < 2.37"``) or a callable
        ``frame -> bool mask``.
    drop_truth
        Leave out the truth columns.
    nonfinite
        ``"raise"`` (:class:`~decorr_af.errors.NonFiniteValueError` with counts
        per file and column), ``"drop"`` (rows) or ``"keep"``.
    mode
        ``"dask"``: one dask-awkward partition per ``chunk_size`` events, run on
        ``client`` (or the current Dask scheduler); ``"eager"``: uproot chunks.
    client
        Optional ``distributed.Client``.
    chunk_size
        Events per partition / chunk.
    tree
        TTree/RNTuple name (default ``CollectionTree`` / ``EventData``).

    Examples
    --------
    >>> df = photon_table("tests/data/PHYSLITE_example.root", mode="eager")  # doctest: +SKIP
    >>> len(df)  # doctest: +SKIP
    292
    """
    return _table(
        "photon",
        source,
        features=features,
        selection=selection,
        drop_truth=drop_truth,
        nonfinite=nonfinite,
        mode=mode,
        client=client,
        chunk_size=chunk_size,
        tree=tree,
        options={},
    )


def diphoton_table(
    source: Source,
    *,
    selection: Selection = None,
    drop_truth: bool = False,
    nonfinite: NonFinitePolicy | str = NonFinitePolicy.RAISE,
    mode: ReadMode | str = ReadMode.DASK,
    client: Any = None,
    chunk_size: int = 200_000,
    tree: str | None = None,
    jet_pt_min: float = 25.0,
    jet_abs_eta_max: float = 2.5,
    lepton_pt_min: float = 10.0,
) -> Any:
    """One row per event with at least two photons, energies in GeV.

    Columns: ``eventNumber, runNumber, mcChannelNumber, mu, weight``, the
    :data:`~decorr_af.data.schema.DIPHOTON_EVENT_FEATURES` (``myy, pt_yy,
    abs_deta_yy, abs_costheta_star, pt1_over_myy, pt2_over_myy, n_jets,
    n_bjets, ht, lead_jet_pt, n_leptons``), the leading/subleading photon
    ``pt1, eta1, phi1, pt2, eta2, phi2``, unless ``drop_truth`` ``is_prompt1,
    is_prompt2``, and ``is_signal`` (mcChannelNumber of ttH(γγ), see
    :data:`~decorr_af.data.schema.DIPHOTON_CHANNELS`). Jets count with
    pT > ``jet_pt_min`` and |η| < ``jet_abs_eta_max``, leptons with pT >
    ``lepton_pt_min`` (GeV). Other keywords as in :func:`photon_table`.

    Examples
    --------
    >>> df = diphoton_table("tests/data/PHYSLITE_example.root", mode="eager")  # doctest: +SKIP
    >>> df[["myy", "n_jets"]].head()  # doctest: +SKIP
    """
    options = {
        "jet_pt_min": jet_pt_min,
        "jet_abs_eta_max": jet_abs_eta_max,
        "lepton_pt_min": lepton_pt_min,
    }
    return _table(
        "diphoton",
        source,
        features=(),
        selection=selection,
        drop_truth=drop_truth,
        nonfinite=nonfinite,
        mode=mode,
        client=client,
        chunk_size=chunk_size,
        tree=tree,
        options=options,
    )


def available_features(source: Source, *, tree: str | None = None) -> tuple[str, ...]:
    """The standard photon features present in every file (or in the events).

    Examples
    --------
    >>> available_features("tests/data/PHYSLITE_example.root")  # doctest: +SKIP
    ('f1', 'topoetcone20', 'topoetcone40', 'ptcone20')
    """
    if _is_events(source):
        avail = [_events_fields(source)]
    else:
        avail = [_fields_of(i) for i in validate_files(source, tree=tree)]
    return tuple(f for f in STANDARD_FEATURES if all(f in a.get("Photons", ()) for a in avail))


#: registered tables: name -> spec (``register_table`` adds more)
TABLES: dict[str, TableSpec] = {
    "photon": TableSpec("photon", "Photons", STANDARD_FEATURES, _photon_frame),
    "diphoton": TableSpec("diphoton", "Photons", (), _diphoton_frame, records=True),
}
#: modules that register further tables when first needed
_TABLE_MODULES = ("decorr_af.data.ztables",)


def register_table(spec: TableSpec) -> TableSpec:
    """Register a flat-table kind so ``iter_table(table=spec.name)`` and export know it.

    Examples
    --------
    >>> spec = TableSpec("my_photons", "Photons", STANDARD_FEATURES, _photon_frame)
    >>> register_table(spec).name in TABLES
    True
    >>> del TABLES["my_photons"]
    """
    if not isinstance(spec, TableSpec):
        raise ConfigError(f"register_table needs a TableSpec, got {type(spec).__name__}")
    TABLES[spec.name] = spec
    return spec


def table_spec(table: str | TableSpec) -> TableSpec:
    """The :class:`TableSpec` of a table name (or the spec itself)."""
    if isinstance(table, TableSpec):
        return table
    if table not in TABLES:
        import importlib

        for module in _TABLE_MODULES:
            importlib.import_module(module)
    if table not in TABLES:
        choices = ", ".join(repr(t) for t in TABLES)
        raise ConfigError(f"table={table!r} is not one of {choices}")
    return TABLES[table]

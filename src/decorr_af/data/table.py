"""Flat pandas tables: one row per photon, or one row per diphoton event.

Reading goes straight to the needed ``<Collection>AuxDyn.<field>`` branches
with uproot (``uproot.dask`` partitions on the Dask path, ``TTree.iterate``
chunks on the eager path) - coffea's NanoEvents is only used when you pass
already-opened events. Energies become GeV. This module drives the reading
(eager or Dask, files or opened events) and holds the public table functions;
which fields a table reads is planned in :mod:`~decorr_af.data.tableplan`, and
each chunk becomes a frame in :mod:`~decorr_af.data.frames`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from decorr_af._compat import optional_import
from decorr_af.data.filesets import read_spec_table, spec_sources
from decorr_af.data.frames import Selection, build_chunk, object_columns
from decorr_af.data.layout import PHYSLITE, PhysliteLayout
from decorr_af.data.readers import ReadMode, _steps, is_simulation, parse_mode
from decorr_af.data.tableplan import (
    EVENT_COLUMNS,
    STANDARD_FEATURES,
    TABLES,
    FieldPlan,
    TableSpec,
    events_fields,
    file_fields,
    plan_fields,
    register_table,
    table_spec,
    with_branches,
)
from decorr_af.data.validate import (
    FileInfo,
    NonFinitePolicy,
    format_nonfinite,
    parse_policy,
    validate_files,
)
from decorr_af.errors import ConfigError, NonFiniteValueError

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

Source = Any  # files (path, glob, directory, list) or opened events
#: the plan of a table (name kept for code written against the single-module table)
_Plan = FieldPlan


# -- drivers -------------------------------------------------------------------------


def _is_events(source: Any, layout: PhysliteLayout = PHYSLITE) -> bool:
    return hasattr(source, "fields") and layout.event_collection in getattr(source, "fields", ())


def _prepare(
    source: Source,
    *,
    tree: str | None,
    features: Sequence[str] | None,
    drop_truth: bool,
    spec: TableSpec,
    layout: PhysliteLayout = PHYSLITE,
) -> tuple[list[FileInfo] | None, FieldPlan]:
    """Validate the source and plan the fields (with branch names for files)."""
    if _is_events(source, layout):
        plan = plan_fields(
            [source],
            [events_fields(source, layout)],
            features=features,
            drop_truth=drop_truth,
            spec=spec,
            layout=layout,
        )
        return None, plan
    infos = validate_files(source, tree=tree, layout=layout)
    plan = plan_fields(
        infos,
        [file_fields(i, layout) for i in infos],
        features=features,
        drop_truth=drop_truth,
        spec=spec,
        simulation=is_simulation(infos, layout=layout),
        layout=layout,
    )
    return infos, with_branches(plan, infos[0])


def _iter_raw(infos: list[FileInfo], plan: FieldPlan, chunk_size: int) -> Iterator[tuple[Any, str]]:
    """Raw branch chunks of ``chunk_size`` entries, with a label naming file and entries."""
    uproot = optional_import("uproot", "io")
    branches = list(dict.fromkeys(plan.branches.values()))
    for info in infos:
        with uproot.open(info.path) as handle:
            obj = handle[info.tree]
            n_steps = -(-info.num_entries // chunk_size)
            # explicit ranges: uproot's RNTuple iterate() rebuilds its field list (slow)
            for start, stop in _steps(info.num_entries, n_steps):
                raw = obj.arrays(filter_name=branches, entry_start=start, entry_stop=stop)
                yield raw, f"{info.path} [entries {start}:{stop}]"


def _events_subset(events: Any, plan: FieldPlan) -> Any:
    """Only the fields the plan needs, as a record with coffea collection names."""
    from decorr_af.columnar.features import array_library

    lib = array_library(events)
    out = {}
    for coll, names in plan.fields.items():
        sub = events[coll]
        cols = {f: sub[f] for f in names}
        event_level = coll == plan.layout.event_collection
        out[coll] = lib.zip(cols, depth_limit=1 if event_level else None)
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
    >>> import tempfile
    >>> from decorr_af.data import generate
    >>> (path,) = generate(tempfile.mkdtemp(), sample="photons", kind="mc", events=500, seed=1)
    >>> chunks = list(iter_table(path, chunk_size=200))
    >>> len(chunks), sum(len(c) for c in chunks) == len(photon_table(path, mode="eager"))
    (3, True)
    """
    if spec_sources(source):  # fileset / input-spec file / column map: one chunk per group
        common = {"selection": selection, "drop_truth": drop_truth, "nonfinite": nonfinite}
        extra = {"features": features} if table == "photon" else options
        yield read_spec_table(table, source, mode="eager", tree=tree, **common, **extra)
        return
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
    plan: FieldPlan,
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
        frame, counts = build_chunk(raw, plan, spec, options, selection, policy, label, arranged)
        yield frame, counts, label


def _dask_tasks(
    infos: list[FileInfo] | None, source: Any, plan: FieldPlan, chunk_size: int
) -> tuple[list[Any], list[str], bool]:
    if infos is None:
        sub = _events_subset(source, plan)
        if not hasattr(sub, "to_delayed"):
            raise ConfigError("mode='dask' needs dask-awkward events or files; got eager events")
        parts = sub.to_delayed()
        return parts, [f"events partition {i}" for i in range(len(parts))], True
    uproot = optional_import("uproot", "io")
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
    layout: PhysliteLayout = PHYSLITE,
) -> Any:
    if spec_sources(source):  # fileset / input-spec file / column-mapped ntuple
        common = {
            "selection": selection,
            "drop_truth": drop_truth,
            "nonfinite": nonfinite,
            "mode": mode,
        }
        common.update(client=client, chunk_size=chunk_size, tree=tree)
        extra = {"features": features} if kind == "photon" else dict(options)
        return read_spec_table(str(kind), source, **common, **extra)
    mode = parse_mode(mode)
    policy = parse_policy(nonfinite)
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
    spec = table_spec(kind)
    infos, plan = _prepare(
        source, tree=tree, features=features, drop_truth=drop_truth, spec=spec, layout=layout
    )
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
        task = dask.delayed(build_chunk, pure=True)
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
    >>> import tempfile
    >>> from decorr_af.data import generate
    >>> (path,) = generate(tempfile.mkdtemp(), sample="photons", kind="mc", events=500, seed=1)
    >>> df = photon_table(path, features=["Reta"], selection="pt > 25", mode="eager")
    >>> list(df.columns)  # doctest: +NORMALIZE_WHITESPACE
    ['eventNumber', 'runNumber', 'mcChannelNumber', 'mu', 'weight', 'pt', 'eta', 'phi', 'e',
     'Reta', 'truthType', 'truthOrigin', 'truth_e', 'is_prompt']
    >>> bool((df["pt"] > 25).all())
    True

    The small real PHYSLITE file of the tests (292 photons, real files carry no
    full shower shapes):

    >>> len(photon_table("tests/data/PHYSLITE_example.root", mode="eager"))  # doctest: +SKIP
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
    signal_dsids: Sequence[int] | None = None,
) -> Any:
    """One row per event with at least two photons, energies in GeV.

    Columns: ``eventNumber, runNumber, mcChannelNumber, mu, weight``, the
    :data:`~decorr_af.data.schema.DIPHOTON_EVENT_FEATURES` (``myy, pt_yy,
    abs_deta_yy, abs_costheta_star, pt1_over_myy, pt2_over_myy, n_jets,
    n_bjets, ht, lead_jet_pt, n_leptons``), the leading/subleading photon
    ``pt1, eta1, phi1, pt2, eta2, phi2``, unless ``drop_truth`` ``is_prompt1,
    is_prompt2``, and in MC ``is_signal`` (``mcChannelNumber`` in
    ``signal_dsids``; by default the signal processes of the diphoton sample,
    ttH(γγ), see :func:`~decorr_af.data.samples.signal_dsids`). Jets count with
    pT > ``jet_pt_min`` and |η| < ``jet_abs_eta_max``, leptons with pT >
    ``lepton_pt_min`` (GeV). Other keywords as in :func:`photon_table`.

    Examples
    --------
    >>> import tempfile
    >>> from decorr_af.data import generate
    >>> (path,) = generate(tempfile.mkdtemp(), sample="diphoton", kind="mc", events=500, seed=1)
    >>> df = diphoton_table(path, mode="eager")
    >>> df[["myy", "n_jets", "is_signal"]].dtypes.tolist()
    [dtype('float32'), dtype('int64'), dtype('bool')]
    >>> bool(df["is_signal"].any()), bool(diphoton_table(path, mode="eager", signal_dsids=[1])["is_signal"].any())
    (True, False)
    """
    options = {
        "jet_pt_min": jet_pt_min,
        "jet_abs_eta_max": jet_abs_eta_max,
        "lepton_pt_min": lepton_pt_min,
    }
    if signal_dsids is not None:
        options["signal_dsids"] = tuple(int(d) for d in signal_dsids)
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
    >>> import tempfile
    >>> from decorr_af.data import generate
    >>> (path,) = generate(tempfile.mkdtemp(), sample="photons", kind="data", events=100, seed=1)
    >>> available_features(path)[:4]
    ('conversionType', 'Reta', 'Rphi', 'weta2')
    """
    if _is_events(source):
        avail = [events_fields(source)]
    else:
        avail = [file_fields(i) for i in validate_files(source, tree=tree)]
    return tuple(f for f in STANDARD_FEATURES if all(f in a.get("Photons", ()) for a in avail))

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
    "CELL_FEATURES",
    "CELL_GLOBALS",
    "EVENT_COLUMNS",
    "STANDARD_FEATURES",
    "TABLES",
    "TableSpec",
    "available_features",
    "cell_table",
    "diphoton_table",
    "iter_table",
    "object_columns",
    "photon_table",
    "read_cells",
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


# -- calorimeter cells -----------------------------------------------------------------

#: cell features of :func:`cell_table`'s CellSet (``e`` in GeV, ``t`` in ns)
CELL_FEATURES = ("layer", "deta", "dphi", "e", "t")
#: per-photon globals of :func:`cell_table`'s CellSet
CELL_GLOBALS = ("eta", "e_raw", "converted")


def _file_cells(info: FileInfo, layout: PhysliteLayout) -> tuple[np.ndarray, np.ndarray, dict]:
    """Photon (eta, phi, conversion flag) and cell columns of one file, flat, in file order."""
    from decorr_af.errors import MissingBranchError

    uproot = optional_import("uproot", "io")
    ak = optional_import("awkward", "io")
    sep = info.sep
    cell = {f: f"{layout.aux(layout.cell_container)}{sep}{f}" for f in layout.cell_fields}
    missing = [b for b in cell.values() if not info.has(b)]
    if missing:
        raise MissingBranchError(
            f"{info.path}: no calorimeter cells ({missing[0]!r} missing);"
            " generate the sample with `decorr-af generate --cells`"
        )
    pho = {f: layout.branch("Photons", f, sep=sep) for f in ("eta", "phi", "pt", "conversionType")}
    with uproot.open(info.path) as handle:
        arrays = handle[info.tree].arrays(
            filter_name=list(cell.values()) + [b for b in pho.values() if info.has(b)]
        )
    pho_eta = arrays[pho["eta"]]
    n_per_event = ak.num(pho_eta).to_numpy()
    first = np.concatenate([[0], np.cumsum(n_per_event)[:-1]])
    cells = {f: ak.flatten(arrays[b]).to_numpy() for f, b in cell.items()}
    cells_per_event = ak.num(arrays[cell["photonIndex"]]).to_numpy()
    owner = np.repeat(first, cells_per_event) + cells["photonIndex"].astype(np.int64)
    photons = {
        "eta": ak.flatten(pho_eta).to_numpy().astype(float),
        "phi": ak.flatten(arrays[pho["phi"]]).to_numpy().astype(float),
        "pt": layout.in_gev("pt", ak.flatten(arrays[pho["pt"]]).to_numpy().astype(float)),
        "converted": (
            ak.flatten(arrays[pho["conversionType"]]).to_numpy() > 0
            if pho["conversionType"] in arrays.fields
            else np.zeros(int(n_per_event.sum()), bool)
        ),
    }
    return owner, n_per_event, {"cells": cells, "photons": photons}


def read_cells(
    source: Source, *, tree: str | None = None, layout: PhysliteLayout = PHYSLITE
) -> Any:
    """Calorimeter cells of every photon of the files, as one :class:`~decorr_af.columnar.cells.CellSet`.

    Photons come in file order (files, events, photons within an event): the
    order of the rows of :func:`photon_table` without ``selection`` and with
    ``nonfinite="keep"``. Cell features :data:`CELL_FEATURES`: ``layer``
    (0 presampler, 1 strips, 2 middle, 3 back, 4 hadronic), ``deta`` /
    ``dphi`` relative to the photon's η/φ, ``e`` in GeV, ``t`` in ns; globals
    :data:`CELL_GLOBALS`: η, the raw cluster energy (GeV) and the conversion
    flag. Files without cells raise :class:`~decorr_af.errors.MissingBranchError`.
    """
    from decorr_af.columnar.cells import CellSet

    infos = validate_files(source, tree=tree, layout=layout)
    feats, globs, counts = [], [], []
    for info in infos:
        owner, n_per_event, cols = _file_cells(info, layout)
        c, p = cols["cells"], cols["photons"]
        n_pho = int(n_per_event.sum())
        if len(owner) and np.any(np.diff(owner) < 0):
            raise ConfigError(f"{info.path}: cells are not grouped photon by photon")
        counts.append(np.bincount(owner, minlength=n_pho))
        dphi = np.angle(np.exp(1j * (c["phi"] - p["phi"][owner])))
        energy = c["e"] * layout.to_gev if "e" in layout.cell_energy_fields else c["e"]
        feats.append(
            np.column_stack(
                [c["layer"].astype(np.float32), c["eta"] - p["eta"][owner], dphi, energy, c["t"]]
            ).astype(np.float32)
        )
        e_raw = p["pt"] * np.cosh(p["eta"])
        globs.append(np.column_stack([p["eta"], e_raw, p["converted"]]).astype(np.float32))
    cnt = np.concatenate(counts)
    return CellSet(
        np.concatenate([[0], np.cumsum(cnt)]),
        np.concatenate(feats),
        CELL_FEATURES,
        np.concatenate(globs),
        CELL_GLOBALS,
    )


def cell_table(
    source: Source,
    *,
    features: Sequence[str] | None = None,
    drop_truth: bool = False,
    tree: str | None = None,
    chunk_size: int = 200_000,
) -> tuple[Any, Any]:
    """Photon rows and their cells, aligned row by row: ``(DataFrame, CellSet)``.

    The DataFrame is :func:`photon_table` (eager, no selection, non-finite
    values kept so no row is dropped); ``cells[i]`` are the cells of row ``i``
    (see :func:`read_cells`). Select photons with one boolean mask on both:
    ``df[m], cells.take(m.to_numpy())``.

    Examples
    --------
    >>> import tempfile
    >>> from decorr_af.data import generate
    >>> (path,) = generate(tempfile.mkdtemp(), events=300, seed=1, cells=True)
    >>> df, cells = cell_table(path, features=["Reta"])
    >>> len(df) == len(cells), cells.names
    (True, ('layer', 'deta', 'dphi', 'e', 't'))
    """
    df = photon_table(
        source,
        features=features,
        drop_truth=drop_truth,
        nonfinite="keep",
        mode="eager",
        chunk_size=chunk_size,
        tree=tree,
    )
    cells = read_cells(source, tree=tree)
    if len(cells) != len(df):
        raise ConfigError(f"cell_table: {len(cells)} photons with cells for {len(df)} rows")
    return df, cells

"""Field planning of the flat tables: which collections, fields and branches a table reads.

A :class:`TableSpec` describes one kind of table (its candidate collection,
optional features, required fields, frame builder); :data:`TABLES` is the
registry (:func:`register_table`, :func:`table_spec`). :func:`plan_fields`
checks that every source holds what the spec needs and returns a
:class:`FieldPlan`; :func:`with_branches` names the branches of one file through
its :class:`~decorr_af.data.layout.PhysliteLayout`. Nothing here reads events.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from decorr_af.data.layout import PHYSLITE, PhysliteLayout
from decorr_af.data.schema import CALO_VARIABLES, CONVERSION, ISOLATION, SHOWER_SHAPES
from decorr_af.data.validate import FileInfo
from decorr_af.errors import ConfigError, MissingBranchError

__all__ = [
    "EVENT_COLUMNS",
    "STANDARD_FEATURES",
    "TABLES",
    "FieldPlan",
    "TableSpec",
    "events_fields",
    "file_fields",
    "plan_fields",
    "register_table",
    "source_label",
    "table_spec",
    "with_branches",
]

#: optional photon features, in table order
STANDARD_FEATURES = (*CONVERSION, *SHOWER_SHAPES, *ISOLATION, *CALO_VARIABLES)
#: per-event columns of every table: column -> EventInfo field
EVENT_COLUMNS = {
    "eventNumber": "eventNumber",
    "runNumber": "runNumber",
    "mcChannelNumber": "mcChannelNumber",
    "mu": "averageInteractionsPerCrossing",
    "weight": None,  # mcEventWeight or mcEventWeights[0]; 1 when absent (data)
}
_OPTIONAL_EVENT = ("mcChannelNumber",)


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
    frame
        ``frame(events, plan, options) -> DataFrame``, a module-level function
        (Dask ships it to the workers by reference).
    required
        Extra primary fields that must exist (besides ``pt, eta, phi``).
    collections
        Other collections that must exist: name -> fields.
    records
        Whether ``frame`` needs awkward records (else plain branch mappings).
    optional
        Other collections read when present (with at least ``pt, eta``):
        name -> fields to read; the first of a name's ``extra`` fields found
        is added (e.g. the b-tagging flag of ``Jets``).
    extra
        Optional fields of ``optional`` collections, the first present one read.
    """

    name: str
    primary: str
    features: tuple[str, ...]
    frame: Callable[..., Any]
    required: tuple[str, ...] = ()
    collections: dict[str, tuple[str, ...]] = field(default_factory=dict)
    records: bool = False
    optional: dict[str, tuple[str, ...]] = field(default_factory=dict)
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldPlan:
    """Which logical fields to read: collection -> fields, plus event handling.

    Attributes
    ----------
    fields
        Collection -> fields to read (``EventInfo`` first).
    weight
        The event-weight field read (None for data without weights).
    features
        The primary collection's optional features, in table order.
    truth
        The truth fields read (empty for data or ``drop_truth``).
    branches
        ``(collection, field)`` -> branch name in the files (empty for opened events).
    layout
        The file layout (branch naming, units, truth conventions).
    """

    fields: dict[str, tuple[str, ...]]
    weight: str | None
    features: tuple[str, ...]
    truth: tuple[str, ...]
    branches: dict[tuple[str, str], str] = field(default_factory=dict)
    layout: PhysliteLayout = PHYSLITE


# -- what the sources hold -----------------------------------------------------------


def file_fields(info: FileInfo, layout: PhysliteLayout = PHYSLITE) -> dict[str, set[str]]:
    """Collection -> fields present in a file."""
    return layout.available(info)


def events_fields(events: Any, layout: PhysliteLayout = PHYSLITE) -> dict[str, set[str]]:
    """Collection -> fields present in opened events."""
    return {c: set(events[c].fields) for c in layout.collections if c in events.fields}


def source_label(source: Any) -> str:
    """How errors name a source: the file path, or ``"events"``."""
    return str(source.path) if isinstance(source, FileInfo) else "events"


# -- planning ------------------------------------------------------------------------


def _resolve_features(
    available: dict[str, set[str]],
    where: str,
    features: Sequence[str] | None,
    spec: TableSpec,
    layout: PhysliteLayout,
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
        branches = ", ".join(layout.branch(spec.primary, f) for f in missing)
        what = spec.primary[:-1].lower()
        raise MissingBranchError(
            f"{where}: the requested {what} feature(s) {missing} are absent (no {branches}). "
            f"Features present in this file: features={list(std)}"
        )
    return tuple(wanted)


def plan_fields(
    sources: Sequence[Any],
    available: Sequence[dict[str, set[str]]],
    *,
    features: Sequence[str] | None,
    drop_truth: bool,
    spec: TableSpec,
    simulation: bool = True,
    layout: PhysliteLayout = PHYSLITE,
) -> FieldPlan:
    """Check the sources against a table spec and choose the fields to read.

    Parameters
    ----------
    sources
        Validated files (:class:`~decorr_af.data.validate.FileInfo`) or opened
        events, used to name the source in errors.
    available
        For each source, collection -> fields present (:func:`file_fields`).
    features
        Requested optional features (None: every standard feature present).
    drop_truth
        Read no truth field.
    spec
        The table kind.
    simulation
        False for data: no truth field is read.
    layout
        The file layout.

    Raises
    ------
    MissingBranchError
        A requested feature or a required field is absent, naming the branch.
    """
    where = source_label(sources[0])
    first = available[0]
    primary = spec.primary
    feats = _resolve_features(first, where, features, spec, layout)
    for src, avail in zip(sources[1:], available[1:]):
        _resolve_features(avail, source_label(src), feats, spec, layout)
    keep_truth = simulation and not drop_truth
    truth = (
        tuple(f for f in layout.truth_fields if all(f in a.get(primary, ()) for a in available))
        if keep_truth
        else ()
    )
    base = ("pt", "eta", "phi", *spec.required)
    event_coll = layout.event_collection
    ev_need = [f for c, f in EVENT_COLUMNS.items() if f and c not in _OPTIONAL_EVENT]
    for src, avail in zip(sources, available):
        missing = [(primary, f) for f in base if f not in avail.get(primary, ())]
        for coll, names in spec.collections.items():
            missing += [(coll, f) for f in names if f not in avail.get(coll, ())]
        missing += [(event_coll, f) for f in ev_need if f not in avail.get(event_coll, ())]
        if missing:
            raise MissingBranchError(
                f"{source_label(src)}: required field(s) {[f'{c}.{f}' for c, f in missing]} "
                f"are absent (branches {[layout.branch(c, f) for c, f in missing]}); "
                f"is this a {spec.name} sample?"
            )
    ev = first[event_coll]
    weight = next((w for w in layout.weight_fields if w in ev), None)
    event = tuple(f for c, f in EVENT_COLUMNS.items() if f and f in ev)
    event += (weight,) if weight else ()
    if truth and all(layout.bitmask_field in a.get(event_coll, ()) for a in available):
        event += (layout.bitmask_field,)  # checked chunk by chunk as well
    fields: dict[str, tuple[str, ...]] = {
        event_coll: event,
        primary: tuple(dict.fromkeys((*base, *feats, *truth))),
        **spec.collections,
    }
    for coll, names in spec.optional.items():
        if set(names) <= first.get(coll, set()):
            extra = tuple(f for f in spec.extra.get(coll, ()) if f in first[coll])[:1]
            fields[coll] = (*names, *extra)
    return FieldPlan(fields, weight, feats, truth, layout=layout)


def with_branches(plan: FieldPlan, info: FileInfo) -> FieldPlan:
    """The plan with the branch name of every field in the file ``info``."""
    layout = plan.layout
    branches = {
        (coll, name): layout.field_branch(info, coll, name)
        for coll, names in plan.fields.items()
        for name in names
    }
    return replace(plan, branches=branches)


# -- registry ------------------------------------------------------------------------

#: registered tables: name -> spec (``register_table`` adds more)
TABLES: dict[str, TableSpec] = {}
#: modules that register tables when first needed
_TABLE_MODULES = ("decorr_af.data.frames", "decorr_af.data.ztables")


def register_table(spec: TableSpec) -> TableSpec:
    """Register a flat-table kind so ``iter_table(table=spec.name)`` and export know it.

    Examples
    --------
    >>> from decorr_af.data.frames import photon_frame
    >>> spec = TableSpec("my_photons", "Photons", STANDARD_FEATURES, photon_frame)
    >>> register_table(spec).name in TABLES
    True
    >>> del TABLES["my_photons"]
    """
    if not isinstance(spec, TableSpec):
        raise ConfigError(f"register_table needs a TableSpec, got {type(spec).__name__}")
    TABLES[spec.name] = spec
    return spec


def table_spec(table: str | TableSpec) -> TableSpec:
    """The :class:`TableSpec` of a table name (or the spec itself).

    Examples
    --------
    >>> table_spec("diphoton").primary
    'Photons'
    """
    if isinstance(table, TableSpec):
        return table
    if table not in TABLES:
        for module in _TABLE_MODULES:
            importlib.import_module(module)
    if table not in TABLES:
        choices = ", ".join(repr(t) for t in TABLES)
        raise ConfigError(f"table={table!r} is not one of {choices}")
    return TABLES[table]

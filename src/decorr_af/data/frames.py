"""Frame building: one chunk of events -> one pandas frame of a flat table (GeV).

Each chunk (raw branches read by uproot, or already-opened events) is arranged
into coffea's collection names (``Photons``, ``EventInfo``, ``Jets``, ...) by
:func:`arrange`, then the table's frame builder flattens it with numpy
(:func:`photon_frame`, :func:`diphoton_frame`; the Z tables live in
:mod:`~decorr_af.data.ztables`). Units and truth conventions come from the plan's
:class:`~decorr_af.data.layout.PhysliteLayout`. The photon and diphoton
:class:`~decorr_af.data.tableplan.TableSpec` are registered here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from decorr_af._compat import optional_import
from decorr_af.columnar.features import BTAG_FIELDS
from decorr_af.data.samples import signal_dsids
from decorr_af.data.schema import DIPHOTON_EVENT_FEATURES, TRUTH_COLUMNS, TRUTH_TYPE
from decorr_af.data.tableplan import (
    EVENT_COLUMNS,
    STANDARD_FEATURES,
    FieldPlan,
    TableSpec,
    register_table,
)
from decorr_af.data.validate import NonFinitePolicy, check_finite

__all__ = [
    "DIPHOTON_TABLE",
    "PHOTON_TABLE",
    "Selection",
    "arrange",
    "build_chunk",
    "diphoton_frame",
    "event_columns",
    "object_columns",
    "photon_frame",
]

Selection = str | Callable[[Any], Any] | None


def arrange(raw: Any, plan: FieldPlan, *, records: bool = True) -> Any:
    """Raw branch record -> ``{"EventInfo": ..., "Photons": ..., ...}`` (no copy).

    With ``records=False`` the jagged collections stay plain mappings of their
    branches (zipping them checks that every branch has the same offsets, which
    costs more than reading them) and the outer level is a dict; EventInfo (flat,
    cheap) is always zipped. The photon table needs only that form.
    """
    ak = optional_import("awkward", "io")
    names = set(raw.fields)
    event_coll = plan.layout.event_collection
    out: dict[str, Any] = {}
    for coll, fields_ in plan.fields.items():
        cols = {}
        for f in fields_:
            b = plan.branches[(coll, f)]
            cols[f] = raw[b if b in names else b.split("/")[-1]]
        if coll == event_coll:
            out[coll] = ak.zip(cols, depth_limit=1)
        else:
            out[coll] = ak.zip(cols) if records else cols
    return ak.zip(out, depth_limit=1) if records else out


def event_columns(ei: Any, plan: FieldPlan, n: int) -> dict[str, np.ndarray]:
    """The per-event columns (:data:`~decorr_af.data.tableplan.EVENT_COLUMNS`) of ``n`` events."""
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


def _simulated(ei: Any, plan: FieldPlan) -> bool:
    """False when the chunk's ``eventTypeBitmask`` says data (truth is then never returned)."""
    ak = optional_import("awkward", "io")
    bitmask = plan.layout.bitmask_field
    if bitmask not in ei.fields or len(ei) == 0:
        return True
    return plan.layout.simulated(ak.to_numpy(ei[bitmask]))


def object_columns(events: Any, plan: FieldPlan, coll: str) -> dict[str, np.ndarray]:
    """Flat per-object columns of ``coll`` (GeV) with the event columns repeated.

    Adds ``e`` (= pT·cosh η, the raw cluster energy) and, with
    ``conversionType``, ``converted``; leaves out every truth column when the
    chunk is data (``eventTypeBitmask`` without IS_SIMULATION).
    """
    ak = optional_import("awkward", "io")
    layout = plan.layout
    obj = events[coll]  # a record array or a mapping of jagged branches
    counts = ak.to_numpy(ak.num(obj["pt"], axis=1))
    ei = events[layout.event_collection]
    cols = {c: np.repeat(v, counts) for c, v in event_columns(ei, plan, len(counts)).items()}
    simulated = _simulated(ei, plan)
    for f in plan.fields[coll]:
        if f in layout.truth_fields and not simulated:
            continue
        v = layout.in_gev(f, ak.to_numpy(ak.flatten(obj[f], axis=1)))
        cols[f] = v
        if f == "phi":
            cols["e"] = cols["pt"] * np.cosh(cols["eta"])
        elif f == "conversionType":
            cols["converted"] = v > 0
    if "truthType" in cols:
        cols["is_prompt"] = cols["truthType"] == TRUTH_TYPE["IsoPhoton"]
    return cols


def photon_frame(events: Any, plan: FieldPlan, options: dict[str, Any]) -> Any:
    """One row per photon (see :func:`decorr_af.data.photon_table`)."""
    pd = optional_import("pandas", "io")
    return pd.DataFrame(object_columns(events, plan, "Photons"), copy=False)


def diphoton_frame(events: Any, plan: FieldPlan, options: dict[str, Any]) -> Any:
    """One row per event with two photons (see :func:`decorr_af.data.diphoton_table`).

    ``options["signal_dsids"]`` (default: the diphoton sample's signal processes,
    :func:`~decorr_af.data.samples.signal_dsids`) sets ``is_signal`` in MC; the
    other options go to :func:`decorr_af.columnar.features.diphoton_features`.
    """
    ak = optional_import("awkward", "io")
    pd = optional_import("pandas", "io")
    from decorr_af.columnar.features import diphoton_features

    options = dict(options)
    dsids: Sequence[int] | None = options.pop("signal_dsids", None)
    layout = plan.layout
    truth = tuple(f for f in ("truthType",) if f in plan.truth)
    feats = diphoton_features(events, scale=layout.to_gev, photon_fields=truth, **options)
    mask = ak.to_numpy(feats.pop("mask"))
    ei_all = events[layout.event_collection]
    ei = ei_all[mask]
    cols = event_columns(ei, plan, int(mask.sum()))
    for name in (*DIPHOTON_EVENT_FEATURES, "pt1", "eta1", "phi1", "pt2", "eta2", "phi2"):
        cols[name] = np.asarray(
            ak.to_numpy(feats[name]) if not np.isscalar(feats[name]) else feats[name]
        )
    for i in (1, 2):
        if f"truthType{i}" in feats:
            cols[f"is_prompt{i}"] = ak.to_numpy(feats[f"truthType{i}"]) == TRUTH_TYPE["IsoPhoton"]
    if _simulated(ei_all, plan):
        signal = signal_dsids("diphoton") if dsids is None else tuple(dsids)
        cols["is_signal"] = np.isin(cols["mcChannelNumber"], np.asarray(signal))
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


def build_chunk(
    raw: Any,
    plan: FieldPlan,
    spec: TableSpec,
    options: dict,
    selection: Selection,
    policy: NonFinitePolicy,
    label: str,
    arranged: bool = False,
) -> tuple[Any, dict]:
    """One chunk -> ``(frame, non-finite counts)``: arrange, build, select, check."""
    events = raw if arranged else arrange(raw, plan, records=spec.records)
    return _finish(spec.frame(events, plan, options), selection, policy, label)


PHOTON_TABLE = register_table(TableSpec("photon", "Photons", STANDARD_FEATURES, photon_frame))
DIPHOTON_TABLE = register_table(
    TableSpec(
        "diphoton",
        "Photons",
        (),
        diphoton_frame,
        records=True,
        optional=dict.fromkeys(("Jets", "Electrons", "Muons"), ("pt", "eta")),
        extra={"Jets": BTAG_FIELDS},
    )
)

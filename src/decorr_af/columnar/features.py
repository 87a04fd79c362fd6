"""Photon and diphoton features on awkward or dask-awkward event records.

The functions take events with coffea PHYSLITE names (``events.Photons``,
``events.Jets``, ``events.Electrons``, ``events.Muons``, ``events.EventInfo``)
as returned by :func:`decorr_af.data.open_events`, or the per-chunk records
built by :mod:`decorr_af.data.table`. They work unchanged on eager
``awkward.Array`` and lazy ``dask_awkward.Array`` inputs: numpy ufuncs
dispatch on both, and the few array functions needed are taken from the
right library by :func:`array_library`.

Energies in files are in MeV; every function that returns an energy-like
quantity multiplies by ``scale`` (default ``1e-3``: GeV).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "BTAG_FIELDS",
    "CRACK",
    "array_library",
    "btag_field",
    "count_objects",
    "diphoton_features",
    "diphoton_kinematics",
    "object_mask",
    "pair_mass",
    "photon_mask",
    "sort_by_pt",
]

#: the barrel/end-cap transition region excluded for photons, in |η|
CRACK = (1.37, 1.52)
#: candidate names of a per-jet b-tag decision (first one present wins)
BTAG_FIELDS = (
    "isBTagged",
    "btag",
    "is_btagged",
    "btagged",
    "DFCommonJets_isBTagged",
    "GN2v01_FixedCutBEff_77_select",
    "ftag_select_GN2v01_FixedCutBEff_77",
)


def array_library(array: Any) -> ModuleType:
    """``dask_awkward`` for lazy arrays, ``awkward`` otherwise."""
    if type(array).__module__.startswith("dask_awkward"):
        import dask_awkward

        return dask_awkward
    import awkward

    return awkward


def pair_mass(m_raw: Any, c1: Any, c2: Any) -> Any:
    r"""Pair mass after per-object energy corrections, :math:`m_{raw}\sqrt{c_1 c_2}`.

    ``c_i = E_corr/E_raw``; the angles are unchanged by an energy correction,
    so for (nearly) massless objects :math:`m^2 = 2E_1E_2(1-\cos\theta)` scales
    with the product of the corrections. Used for the Z→ee line shape after a
    regression.

    Examples
    --------
    >>> import numpy as np
    >>> float(pair_mass(np.array([90.0]), np.array([1.02]), np.array([1.02]))[0])
    91.8
    """
    return m_raw * np.sqrt(np.asarray(c1) * np.asarray(c2))


def sort_by_pt(collection: Any) -> Any:
    """Sort each event's objects by decreasing ``pt``.

    Examples
    --------
    >>> import awkward as ak
    >>> sort_by_pt(ak.Array([[{"pt": 1.0}, {"pt": 3.0}]])).pt.tolist()
    [[3.0, 1.0]]
    """
    lib = array_library(collection)
    return collection[lib.argsort(collection.pt, axis=1, ascending=False)]


def object_mask(
    collection: Any,
    *,
    pt_min: float = 0.0,
    abs_eta_max: float = np.inf,
    exclude_crack: bool = False,
    scale: float = 1e-3,
) -> Any:
    """Per-object mask ``pt·scale > pt_min and |η| < abs_eta_max`` (optionally outside the crack).

    Examples
    --------
    >>> import awkward as ak
    >>> jets = ak.Array([[{"pt": 30e3, "eta": 0.1}, {"pt": 10e3, "eta": 3.0}]])
    >>> object_mask(jets, pt_min=25.0, abs_eta_max=2.5).tolist()
    [[True, False]]
    """
    abseta = abs(collection.eta)
    mask = (collection.pt * scale > pt_min) & (abseta < abs_eta_max)
    if exclude_crack:
        mask = mask & ((abseta < CRACK[0]) | (abseta > CRACK[1]))
    return mask


def photon_mask(
    photons: Any,
    *,
    pt_min: float = 25.0,
    abs_eta_max: float = 2.37,
    exclude_crack: bool = True,
    scale: float = 1e-3,
) -> Any:
    """The standard ATLAS photon acceptance: pT > 25 GeV, |η| < 2.37 outside 1.37-1.52."""
    return object_mask(
        photons,
        pt_min=pt_min,
        abs_eta_max=abs_eta_max,
        exclude_crack=exclude_crack,
        scale=scale,
    )


def count_objects(mask: Any) -> Any:
    """Number of selected objects per event (``sum(mask, axis=1)``)."""
    lib = array_library(mask)
    return lib.sum(mask, axis=1)


def btag_field(jets_fields: list[str] | tuple[str, ...]) -> str | None:
    """The first of :data:`BTAG_FIELDS` present among ``jets_fields`` (or None)."""
    return next((f for f in BTAG_FIELDS if f in jets_fields), None)


def diphoton_kinematics(
    pt1: Any, eta1: Any, phi1: Any, pt2: Any, eta2: Any, phi2: Any
) -> dict[str, Any]:
    """Kinematics of a massless photon pair (inputs and outputs in the same unit).

    Returns ``myy``, ``pt_yy``, ``abs_deta_yy``, ``abs_costheta_star`` (Collins-Soper
    frame, ``|sinh Δη| / sqrt(1 + (pT_γγ/m_γγ)²) · 2 pT1 pT2 / m_γγ²``),
    ``pt1_over_myy`` and ``pt2_over_myy``.

    Examples
    --------
    >>> k = diphoton_kinematics(62.5, 0.0, 0.0, 62.5, 0.0, np.pi)
    >>> round(float(k["myy"]), 6), round(float(k["pt_yy"]), 6)
    (125.0, 0.0)
    """
    deta = eta1 - eta2
    dphi = phi1 - phi2
    m2 = 2.0 * pt1 * pt2 * (np.cosh(deta) - np.cos(dphi))
    myy = np.sqrt(np.maximum(m2, 0.0))
    px = pt1 * np.cos(phi1) + pt2 * np.cos(phi2)
    py = pt1 * np.sin(phi1) + pt2 * np.sin(phi2)
    pt_yy = np.sqrt(px * px + py * py)
    costheta = (
        abs(np.sinh(deta)) / np.sqrt(1.0 + (pt_yy / myy) ** 2) * 2.0 * pt1 * pt2 / (myy * myy)
    )
    return {
        "myy": myy,
        "pt_yy": pt_yy,
        "abs_deta_yy": abs(deta),
        "abs_costheta_star": costheta,
        "pt1_over_myy": pt1 / myy,
        "pt2_over_myy": pt2 / myy,
    }


def diphoton_features(
    events: Any,
    *,
    jet_pt_min: float = 25.0,
    jet_abs_eta_max: float = 2.5,
    lepton_pt_min: float = 10.0,
    scale: float = 1e-3,
    photon_selection: Any = None,
    photon_fields: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Per-event diphoton features of the events holding at least two photons.

    Parameters
    ----------
    events
        Events with ``Photons`` (``pt, eta, phi``), optionally ``Jets``,
        ``Electrons``, ``Muons`` (``pt, eta``), in MeV.
    jet_pt_min, jet_abs_eta_max
        Jet selection (GeV) for ``n_jets``, ``n_bjets``, ``ht``, ``lead_jet_pt``.
    lepton_pt_min
        Lepton selection (GeV) for ``n_leptons``.
    scale
        Unit conversion of energies (``1e-3``: MeV → GeV).
    photon_selection
        Optional per-photon boolean mask applied before pairing.
    photon_fields
        Further photon fields returned for the two leading photons as
        ``<field>1`` and ``<field>2`` (values as stored, no unit change).

    Returns
    -------
    dict
        ``{"mask": per-event ≥2-photon mask, <feature>: array over selected events}``
        with the :data:`~decorr_af.data.schema.DIPHOTON_EVENT_FEATURES`, plus
        ``pt1, eta1, phi1, pt2, eta2, phi2`` of the two leading photons. Counts
        are 0 and ``lead_jet_pt`` is 0 when a collection is absent or empty.

    Examples
    --------
    >>> import awkward as ak
    >>> ev = ak.Array([{"Photons": [{"pt": 60e3, "eta": 0.0, "phi": 0.0},
    ...                             {"pt": 65e3, "eta": 0.0, "phi": 3.14159}]}])
    >>> round(float(diphoton_features(ev)["myy"][0]), 1)
    124.9
    """
    lib = array_library(events)
    photons = events.Photons
    if photon_selection is not None:
        photons = photons[photon_selection]
    two = lib.num(photons.pt, axis=1) >= 2
    sel = events[two]
    photons = sort_by_pt(photons[two])
    out: dict[str, Any] = {"mask": two}
    kin = {}
    for i in (1, 2):
        kin[f"pt{i}"] = photons.pt[:, i - 1] * scale
        kin[f"eta{i}"] = photons.eta[:, i - 1]
        kin[f"phi{i}"] = photons.phi[:, i - 1]
    out.update(
        diphoton_kinematics(
            kin["pt1"], kin["eta1"], kin["phi1"], kin["pt2"], kin["eta2"], kin["phi2"]
        )
    )
    fields = sel.fields
    if "Jets" in fields:
        jets = sel.Jets
        jmask = object_mask(jets, pt_min=jet_pt_min, abs_eta_max=jet_abs_eta_max, scale=scale)
        jet_pt = jets.pt[jmask] * scale
        out["n_jets"] = count_objects(jmask)
        tag = btag_field(jets.fields)
        if tag is not None:
            out["n_bjets"] = count_objects(jmask & (jets[tag] != 0))
        else:
            out["n_bjets"] = out["n_jets"] * 0
        out["ht"] = lib.sum(jet_pt, axis=1)
        out["lead_jet_pt"] = lib.fill_none(lib.max(jet_pt, axis=1), 0.0)
    else:
        zero = kin["pt1"] * 0
        out.update(n_jets=zero, n_bjets=zero, ht=zero, lead_jet_pt=zero)
    n_lep = None
    for name in ("Electrons", "Muons"):
        if name in fields:
            n = count_objects(object_mask(sel[name], pt_min=lepton_pt_min, scale=scale))
            n_lep = n if n_lep is None else n_lep + n
    out["n_leptons"] = n_lep if n_lep is not None else kin["pt1"] * 0
    out.update(kin)
    for field in photon_fields:
        for i in (1, 2):
            out[f"{field}{i}"] = photons[field][:, i - 1]
    return out

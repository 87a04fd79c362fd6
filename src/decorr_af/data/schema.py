"""Field-name vocabulary of the toy samples and the flat tables.

Branch naming, units and the truth/simulation conventions belong to
:class:`decorr_af.data.layout.PhysliteLayout` (the names ``TREE_NAME``,
``MEV_COLUMNS``, ``TRUTH``, ``IS_SIMULATION``, ``branch`` here are read from
:data:`~decorr_af.data.layout.PHYSLITE`); the processes and their
``mcChannelNumber`` belong to :mod:`decorr_af.data.samples` (re-exported here).
The flat tables returned by :func:`decorr_af.data.photon_table` use the short
field names below and **GeV** for every energy-like column.
"""

from __future__ import annotations

from decorr_af.data.layout import PHYSLITE
from decorr_af.data.samples import DIPHOTON_CHANNELS, ZEE_CHANNELS, ZMUMUG_CHANNELS

__all__ = [
    "CALO_VARIABLES",
    "DIPHOTON_CHANNELS",
    "DIPHOTON_EVENT_FEATURES",
    "ELECTRON_COLLECTION",
    "EVENTINFO",
    "ISOLATION",
    "IS_SIMULATION",
    "KINEMATICS",
    "MEV_COLUMNS",
    "MUON_COLLECTION",
    "PHOTON_COLLECTION",
    "RNTUPLE_NAME",
    "SHOWER_SHAPES",
    "TREE_NAME",
    "TRUTH",
    "TRUTH_TYPE",
    "ZEE_CHANNELS",
    "ZMUMUG_CHANNELS",
    "branch",
]

TREE_NAME = PHYSLITE.tree
RNTUPLE_NAME = PHYSLITE.rntuple
PHOTON_COLLECTION = PHYSLITE.container("Photons")
JET_COLLECTION = PHYSLITE.container("Jets")
ELECTRON_COLLECTION = PHYSLITE.container("Electrons")
MUON_COLLECTION = PHYSLITE.container("Muons")
EVENTINFO = PHYSLITE.container("EventInfo")

#: photon kinematics; pt is built from the *uncalibrated* cluster energy E_raw
KINEMATICS = ("pt", "eta", "phi", "m")
#: calorimeter shower shapes (absent from real PHYSLITE except f1)
SHOWER_SHAPES = (
    "Reta",
    "Rphi",
    "weta2",
    "weta1",
    "wtots1",
    "fracs1",
    "DeltaE",
    "Eratio",
    "f1",
    "Rhad",
)
ISOLATION = ("topoetcone20", "topoetcone40", "ptcone20")
#: calorimeter variables of the ATLAS MVA calibration (photons and electrons):
#: presampler/strip/middle/back layer energies (MeV in files, GeV in tables),
#: conversion radius (mm, 0 when unconverted), impact position within the
#: middle-layer cell in cell units (η and φ)
CALO_VARIABLES = (
    "E0",
    "E1",
    "E2",
    "E3",
    "conversionRadius",
    "cellEtaOffset",
    "cellPhiOffset",
)
#: conversionType: 0 unconverted, 1..5 converted (ATLAS xAOD::EgammaParameters)
CONVERSION = ("conversionType",)
#: truth information (MCTruthClassifier codes); written for MC only, never for data
TRUTH = PHYSLITE.truth_fields
#: every truth-derived column a table may hold (never returned for data)
TRUTH_COLUMNS = (*TRUTH, "is_prompt", "is_signal", "is_prompt1", "is_prompt2")
#: bit of ``EventInfo.eventTypeBitmask`` set for simulation (xAOD::EventInfo::IS_SIMULATION)
IS_SIMULATION = PHYSLITE.simulation_bit
EVENT_FIELDS = (
    "averageInteractionsPerCrossing",
    "eventNumber",
    "runNumber",
    "mcChannelNumber",
    "mcEventWeights",
    "eventTypeBitmask",
)
#: jet fields written by the diphoton toy (``isBTagged``: 0/1 flag, int8)
JET_FIELDS = ("pt", "eta", "phi", "m", "isBTagged")
#: lepton fields written by the diphoton toy
LEPTON_FIELDS = ("pt", "eta", "phi", "m")
#: muon fields of the radiative-Z toy
MUON_FIELDS = ("pt", "eta", "phi", "m", "charge")

#: MCTruthClassifier particle types used by the toy
TRUTH_TYPE = {"IsoPhoton": 14, "BkgPhoton": 16, "Hadron": 17}
#: MCTruthClassifier origins used by the toy
TRUTH_ORIGIN = {
    "PromptPhot": 38,
    "FSRPhot": 40,
    "PiZero": 42,
    "EtaMeson": 39,
    "LightMeson": 23,
    "Higgs": 14,
}

#: columns stored in MeV in files, converted to GeV in flat tables
MEV_COLUMNS = PHYSLITE.energy_fields

#: per-event features of the diphoton flat table (GeV)
DIPHOTON_EVENT_FEATURES = (
    "myy",
    "pt_yy",
    "abs_deta_yy",
    "abs_costheta_star",
    "pt1_over_myy",
    "pt2_over_myy",
    "n_jets",
    "n_bjets",
    "ht",
    "lead_jet_pt",
    "n_leptons",
)


def branch(collection: str, field: str, *, rntuple: bool = False) -> str:
    """Return the PHYSLITE branch name, e.g. ``AnalysisPhotonsAuxDyn.pt``.

    RNTuple files use ``:`` instead of ``.`` between collection and field.
    """
    return PHYSLITE.container_branch(collection, field, sep=":" if rntuple else ".")

"""Branch naming shared by the generator and the readers.

Generated files follow ATLAS DAOD_PHYSLITE conventions: one TTree
``CollectionTree``, branches ``<Collection>AuxDyn.<field>``, energies in MeV.
The flat tables returned by :func:`decorr_af.data.photon_table` use the short
field names below and **GeV** for every energy-like column.
"""

from __future__ import annotations

__all__ = [
    "CALO_VARIABLES",
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

TREE_NAME = "CollectionTree"
RNTUPLE_NAME = "EventData"
PHOTON_COLLECTION = "AnalysisPhotons"
JET_COLLECTION = "AnalysisJets"
ELECTRON_COLLECTION = "AnalysisElectrons"
MUON_COLLECTION = "AnalysisMuons"
EVENTINFO = "EventInfo"

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
TRUTH = ("truthType", "truthOrigin", "truth_e")
#: every truth-derived column a table may hold (never returned for data)
TRUTH_COLUMNS = (*TRUTH, "is_prompt", "is_signal", "is_prompt1", "is_prompt2")
#: bit of ``EventInfo.eventTypeBitmask`` set for simulation (xAOD::EventInfo::IS_SIMULATION)
IS_SIMULATION = 1
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
MEV_COLUMNS = (
    "pt",
    "m",
    "truth_e",
    "DeltaE",
    "topoetcone20",
    "topoetcone40",
    "ptcone20",
    "E0",
    "E1",
    "E2",
    "E3",
)

#: mcChannelNumber of the diphoton toy processes
DIPHOTON_CHANNELS = {
    "ttH_yy": 346525,
    "ttyy": 346526,
    "yy_continuum": 364352,
    "gamma_jet": 364353,
}
#: mcChannelNumber of the Z->ee toy processes (Powheg Z->ee-like id; continuum ee)
ZEE_CHANNELS = {"Zee": 361106, "ee_continuum": 361666}
#: mcChannelNumber of the radiative-Z toy processes (Z->mumu gamma FSR; Z(->mumu)+jets)
ZMUMUG_CHANNELS = {"Zmumugamma": 700771, "Zmumu_jets": 700323}
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
    sep = ":" if rntuple else "."
    return f"{collection}AuxDyn{sep}{field}"

"""Where an event-data file keeps things: the one place that knows branch naming.

:class:`PhysliteLayout` describes an ATLAS DAOD_PHYSLITE(-like) file: the event
store's name (TTree ``CollectionTree`` / RNTuple ``EventData``), the container of
each collection (``Photons`` -> ``AnalysisPhotons``), how a field's branch is
named (``AnalysisPhotonsAuxDyn.pt``; ``:`` in RNTuples; Run-2 ``EventInfoAux.``
static store), the unit of energy-like fields (MeV, turned into GeV in flat
tables), the truth fields and the ``EventInfo.eventTypeBitmask`` that tells
simulation from data. The generator (:mod:`~decorr_af.data.writer`), the readers
(:mod:`~decorr_af.data.readers`) and the flat tables
(:mod:`~decorr_af.data.tableplan`, :mod:`~decorr_af.data.frames`) all ask
:data:`PHYSLITE`; another file convention (flat ntuples, other branch names, GeV)
is another instance.

Examples
--------
>>> PHYSLITE.branch("Photons", "pt")
'AnalysisPhotonsAuxDyn.pt'
>>> PHYSLITE.branch("EventInfo", "mcChannelNumber", sep=":")
'EventInfoAuxDyn:mcChannelNumber'
>>> PHYSLITE.default_tree(rntuple=True), PHYSLITE.energy_unit
('EventData', 'MeV')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = ["PHYSLITE", "PhysliteLayout"]

_UNITS = {"MeV": 1e-3, "GeV": 1.0}


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class PhysliteLayout:
    """Branch naming, units and truth conventions of an event-data file.

    Attributes
    ----------
    tree, rntuple
        Default names of the TTree and RNTuple event stores.
    collections
        Collection name (coffea's, used by tables and readers) -> container name
        in the file (``"Photons"`` -> ``"AnalysisPhotons"``).
    aux_suffix
        Suffix of a container's dynamic aux store (``AnalysisPhotonsAuxDyn``).
    energy_unit
        Unit of the energy-like fields in the file (``"MeV"`` or ``"GeV"``);
        tables are always in GeV.
    energy_fields
        Fields stored in ``energy_unit`` (every other field is unitless or an
        angle/length and passes unchanged).
    truth_fields
        Truth fields (MCTruthClassifier codes, true energy); never returned for data.
    bitmask_field, simulation_bit
        ``EventInfo`` field whose ``simulation_bit`` is set for simulation
        (``xAOD::EventInfo::IS_SIMULATION``).
    weight_fields
        ``EventInfo`` fields holding the MC event weight, first found wins
        (``mcEventWeights`` is a vector: its first entry is used).
    event_collection
        Collection name of the per-event information.
    cell_container, cell_fields, cell_energy_fields
        Container of the photon candidates' calorimeter cells (written with
        ``generate --cells``), its fields (``photonIndex`` links a cell to the
        photon of that index in its event) and which of them are energies
        (in ``energy_unit``).
    """

    tree: str = "CollectionTree"
    rntuple: str = "EventData"
    collections: Mapping[str, str] = field(
        default_factory=lambda: _frozen(
            {
                "EventInfo": "EventInfo",
                "Photons": "AnalysisPhotons",
                "Electrons": "AnalysisElectrons",
                "Muons": "AnalysisMuons",
                "Jets": "AnalysisJets",
            }
        )
    )
    aux_suffix: str = "AuxDyn"
    energy_unit: str = "MeV"
    energy_fields: tuple[str, ...] = (
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
    truth_fields: tuple[str, ...] = ("truthType", "truthOrigin", "truth_e")
    bitmask_field: str = "eventTypeBitmask"
    simulation_bit: int = 1
    weight_fields: tuple[str, ...] = ("mcEventWeight", "mcEventWeights")
    event_collection: str = "EventInfo"
    cell_container: str = "AnalysisPhotonCells"
    cell_fields: tuple[str, ...] = ("photonIndex", "layer", "eta", "phi", "e", "t")
    cell_energy_fields: tuple[str, ...] = ("e",)

    def __post_init__(self) -> None:
        if self.energy_unit not in _UNITS:
            from decorr_af.errors import ConfigError

            raise ConfigError(
                f"energy_unit must be one of {sorted(_UNITS)}, got {self.energy_unit!r}"
            )
        object.__setattr__(self, "collections", _frozen(self.collections))

    # -- names ---------------------------------------------------------------------

    @property
    def to_gev(self) -> float:
        """Factor turning ``energy_unit`` into GeV (``1e-3`` for MeV)."""
        return _UNITS[self.energy_unit]

    def default_tree(self, *, rntuple: bool) -> str:
        """Name of the event store: the RNTuple's or the TTree's."""
        return self.rntuple if rntuple else self.tree

    def container(self, collection: str) -> str:
        """Container in the file of a collection (``"Photons"`` -> ``"AnalysisPhotons"``)."""
        return self.collections[collection]

    def aux(self, container: str) -> str:
        """Dynamic aux store of a *container* (``"AnalysisPhotons"`` -> ``"AnalysisPhotonsAuxDyn"``)."""
        return f"{container}{self.aux_suffix}"

    def container_branch(self, container: str, field: str, *, sep: str = ".") -> str:
        """Branch of a container's field (``AnalysisPhotonsAuxDyn.pt``); ``sep=":"`` in RNTuples."""
        return f"{self.aux(container)}{sep}{field}"

    def branch(self, collection: str, field: str, *, sep: str = ".") -> str:
        """Branch of a collection's field (``"Photons", "pt"`` -> ``AnalysisPhotonsAuxDyn.pt``)."""
        return self.container_branch(self.container(collection), field, sep=sep)

    def static_event_branch(self, field: str) -> str:
        """Run-2 static aux-store branch of an event field (``EventInfoAux./EventInfoAux.<f>``)."""
        store = f"{self.container(self.event_collection)}Aux."
        return f"{store}/{store}{field}"

    # -- what a file holds (``info`` is a validated FileInfo) -------------------------

    def fields(self, info: Any, collection: str) -> list[str]:
        """Sorted field names of a collection in a file (no sub-branches).

        Examples
        --------
        >>> from pathlib import Path
        >>> from decorr_af.data.validate import FileInfo
        >>> keys = frozenset({"AnalysisPhotonsAuxDyn.pt", "AnalysisPhotonsAuxDyn.eta", "x"})
        >>> PHYSLITE.fields(FileInfo(Path("a.root"), "CollectionTree", False, 1, keys), "Photons")
        ['eta', 'pt']
        """
        prefix = self.branch(collection, "", sep=info.sep)
        return sorted(
            k[len(prefix) :]
            for k in info.keys
            if k.startswith(prefix) and "." not in k[len(prefix) :] and "/" not in k
        )

    def event_fields(self, info: Any) -> set[str]:
        """Event fields of a file, the Run-2 static aux store included (TTrees)."""
        names = set(self.fields(info, self.event_collection))
        if not info.rntuple:
            store = f"{self.container(self.event_collection)}Aux."
            names |= {k.split(store)[-1] for k in info.keys if f"{store}/" in k}
        return names

    def available(self, info: Any) -> dict[str, set[str]]:
        """Collection -> fields present in a file, for every known collection."""
        out = {c: set(self.fields(info, c)) for c in self.collections if c != self.event_collection}
        out[self.event_collection] = self.event_fields(info)
        return out

    def event_branch(self, info: Any, field: str) -> str:
        """Branch of an event field: the dynamic store if present, else the static one."""
        dyn = self.branch(self.event_collection, field, sep=info.sep)
        return dyn if info.has(dyn) else self.static_event_branch(field)

    def field_branch(self, info: Any, collection: str, field: str) -> str:
        """Branch to read for a collection's field in a file."""
        if collection == self.event_collection:
            return self.event_branch(info, field)
        return self.branch(collection, field, sep=info.sep)

    def bitmask_branch(self, info: Any) -> str | None:
        """Branch holding ``bitmask_field`` in a file, or None."""
        for name in (
            self.branch(self.event_collection, self.bitmask_field, sep=info.sep),
            self.static_event_branch(self.bitmask_field),
        ):
            if info.has(name):
                return name
        return None

    # -- values ----------------------------------------------------------------------

    def simulated(self, bitmask: Iterable[int] | np.ndarray) -> bool:
        """Whether every ``eventTypeBitmask`` value has the simulation bit.

        Examples
        --------
        >>> PHYSLITE.simulated([1, 1]), PHYSLITE.simulated([0, 1])
        (True, False)
        """
        values = np.asarray(bitmask).astype(np.int64)
        return bool(np.all(values & self.simulation_bit))

    def bitmask(self, n: int, *, simulation: bool) -> np.ndarray:
        """``n`` ``eventTypeBitmask`` values as written for simulation or data (uint32)."""
        return np.full(n, self.simulation_bit if simulation else 0, dtype=np.uint32)

    def in_gev(self, field: str, values: np.ndarray) -> np.ndarray:
        """Values of a field in GeV (energy-like fields scaled, others unchanged, dtype kept).

        Examples
        --------
        >>> PHYSLITE.in_gev("pt", np.array([25000.0, 1500.0]))
        array([25. ,  1.5])
        >>> PHYSLITE.in_gev("eta", np.array([1.5]))
        array([1.5])
        """
        if field not in self.energy_fields or self.to_gev == 1.0:
            return values
        return values * values.dtype.type(self.to_gev)


#: the ATLAS DAOD_PHYSLITE layout written by the toy generator
PHYSLITE = PhysliteLayout()

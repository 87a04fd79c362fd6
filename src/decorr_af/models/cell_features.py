"""Registered per-cell and per-photon input features of the graph models.

The graph estimators (:mod:`decorr_af.models.graph`) read the raw columns of a
:class:`~decorr_af.columnar.cells.CellSet` (``layer, deta, dphi, e, t``) and its
per-photon ``globals`` (``eta, e_raw, converted``). The features an ATLAS
calorimeter physicist would feed a network are derived from them here, each a
registered :class:`CellFeature` (or :class:`GlobalFeature`) named in the
estimators' ``cell_features`` / ``global_features``:

==================  =====================================================  ===========
cell feature        definition                                             standardised
==================  =====================================================  ===========
``layer_onehot``    one column per layer 0-4 (presampler … hadronic)       no
``deta_units``      Δη to the cluster barycentre, in middle cells (0.025)  yes
``dphi_units``      Δφ to the barycentre, in middle cells (2π/256)         yes
``deta_hot``        Δη to the centre of the hottest middle cell, in middle  yes
                    cells (grid-aligned: with ``deta_units`` it gives the
                    impact point of the shower inside its cell)
``dphi_hot``        the same in φ                                          yes
``log_energy``      log(max(E, 1 MeV)) (E in GeV)                          yes
``energy_fraction`` E / Σ_photon E                                         no
``significance``    asinh(E / σ_noise(layer)): noise-normalised            yes
==================  =====================================================  ===========

The barycentre is the energy-weighted mean position of the middle-layer cells
with E > 0 (all positive cells when a photon has none there). σ_noise is the
nominal total noise per layer (electronic ⊕ pile-up at ⟨μ⟩ = 50, η = 0, as a
noise table from the conditions database would give it: :data:`NOMINAL_NOISE`).
Fractions and the one-hot layer are not standardised, so their sums per layer
(``layer_sum`` pooling with ``pool_inputs``) are the layer energy fractions and
cell counts exactly.

Global features: ``abs_eta`` (|η|), ``log_e_raw`` (log of the raw cluster energy),
and any raw global column by name (``converted``).

Examples
--------
>>> import numpy as np
>>> from decorr_af.columnar.cells import CellSet
>>> cs = CellSet(np.array([0, 3]), np.array([[2, 0.0, 0.0, 3.0, 0.0], [2, 0.025, 0.0, 1.0, 0.0],
...              [1, 0.0, 0.0, 0.0, 0.0]]), ("layer", "deta", "dphi", "e", "t"))
>>> ctx = CellContext(cs)
>>> CELL_FEATURES["deta_units"].compute(ctx)[:, 0].round(6).tolist()
[-0.25, 0.75, -0.25]
>>> CELL_FEATURES["deta_hot"].compute(ctx)[:, 0].tolist()
[0.0, 1.0, 0.0]
>>> CELL_FEATURES["energy_fraction"].compute(ctx)[:, 0].tolist()
[0.75, 0.25, 0.0]
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from decorr_af.columnar.cells import CellSet
from decorr_af.errors import ConfigError

__all__ = [
    "CELL_FEATURES",
    "GLOBAL_FEATURES",
    "NOMINAL_NOISE",
    "N_LAYERS",
    "PHYSICS_CELL_FEATURES",
    "PHYSICS_DESIGN",
    "PHYSICS_GLOBAL_FEATURES",
    "CellContext",
    "CellFeature",
    "GlobalFeature",
    "register_cell_feature",
    "register_global_feature",
]

#: calorimeter layers (0 presampler, 1 strips, 2 middle, 3 back, 4 hadronic)
N_LAYERS = 5
#: middle-layer cell size in η and φ (the unit of ``deta_units`` / ``dphi_units``)
MIDDLE_CELL = (0.025, 2.0 * np.pi / 256.0)
#: nominal total cell noise per layer in GeV (electronic ⊕ pile-up at ⟨μ⟩ = 50, η = 0)
NOMINAL_NOISE = (0.036, 0.0117, 0.032, 0.023, 0.050)
#: the cell inputs of the physics design (``cells_gnn`` presets)
PHYSICS_CELL_FEATURES = (
    "layer_onehot",
    "deta_units",
    "dphi_units",
    "log_energy",
    "energy_fraction",
    "significance",
)
#: the per-photon inputs the baseline calibration also reads: |η|, log E_raw, conversion
PHYSICS_GLOBAL_FEATURES = ("abs_eta", "log_e_raw", "converted")


class CellContext:
    """Lazily computed per-cell quantities of one :class:`CellSet` (shared by features)."""

    def __init__(self, cells: CellSet) -> None:
        self.cells = cells
        self.n = len(cells)

    def column(self, name: str, feature: str) -> np.ndarray:
        if name not in self.cells.names:
            raise ConfigError(
                f"cell feature {feature!r} needs the cell column {name!r} "
                f"(X has {list(self.cells.names)})"
            )
        return np.asarray(self.cells.column(name), dtype=np.float64)

    @functools.cached_property
    def seg(self) -> np.ndarray:
        return self.cells.segment_ids

    def photon_sum(self, x: np.ndarray) -> np.ndarray:
        """Σ of ``x`` over each photon's cells, ``(n,)``."""
        return np.bincount(self.seg, weights=x, minlength=self.n)

    @functools.cached_property
    def barycentre_weights(self) -> np.ndarray:
        e = np.clip(self.column("e", "barycentre"), 0.0, None)
        if "layer" not in self.cells.names:
            return e
        mid = e * (self.cells.column("layer") == 2)
        has_mid = self.photon_sum(mid) > 0
        return np.where(has_mid[self.seg], mid, e)

    @functools.cached_property
    def hottest_middle(self) -> np.ndarray:
        """Row of each photon's hottest middle-layer cell (its hottest cell without one)."""
        e = self.column("e", "hottest cell")
        layer = self.column("layer", "hottest cell")
        key = np.where(layer == 2, e, e - 1e9)  # a middle cell beats every other one
        order = np.lexsort((-key, self.seg))  # by photon, hottest first
        first = self.cells.offsets[:-1]
        has = np.diff(self.cells.offsets) > 0
        rows = np.zeros(self.n, dtype=np.int64)
        rows[has] = order[first[has]]
        return rows

    def to_hottest(self, name: str, unit: float) -> np.ndarray:
        """``name`` minus its value at the photon's hottest middle cell, over ``unit``."""
        x = self.column(name, f"{name}_hot")
        return (x - x[self.hottest_middle][self.seg]) / unit

    def relative(self, name: str, unit: float) -> np.ndarray:
        """``name`` minus the photon's energy-weighted barycentre, over ``unit``."""
        x = self.column(name, f"{name}_units")
        w = self.barycentre_weights
        sw = self.photon_sum(w)
        centre = self.photon_sum(w * x) / np.where(sw > 0, sw, 1.0)
        return (x - centre[self.seg]) / unit


@dataclasses.dataclass(frozen=True)
class CellFeature:
    """A derived cell input: ``compute(ctx) -> (n_cells, len(columns))``."""

    columns: tuple[str, ...]
    compute: Callable[[CellContext], np.ndarray]
    standardize: bool = True


@dataclasses.dataclass(frozen=True)
class GlobalFeature:
    """A derived per-photon input: ``compute(globals by name) -> (n,)``."""

    compute: Callable[[Callable[[str], np.ndarray]], np.ndarray]


#: Registered derived cell features by name.
CELL_FEATURES: dict[str, CellFeature] = {}
#: Registered derived per-photon features by name.
GLOBAL_FEATURES: dict[str, GlobalFeature] = {}


def register_cell_feature(name: str, feature: CellFeature) -> None:
    """Register (or replace) the derived cell feature ``name``."""
    CELL_FEATURES[name] = feature


def register_global_feature(name: str, feature: GlobalFeature) -> None:
    """Register (or replace) the derived per-photon feature ``name``."""
    GLOBAL_FEATURES[name] = feature


def _onehot(ctx: CellContext) -> np.ndarray:
    layer = ctx.column("layer", "layer_onehot").astype(np.int64)
    return (layer[:, None] == np.arange(N_LAYERS)[None, :]).astype(np.float64)


def _fraction(ctx: CellContext) -> np.ndarray:
    e = ctx.column("e", "energy_fraction")
    total = ctx.photon_sum(e)
    return (e / np.where(total > 0, total, 1.0)[ctx.seg])[:, None]


def _significance(ctx: CellContext) -> np.ndarray:
    e = ctx.column("e", "significance")
    layer = np.clip(ctx.column("layer", "significance").astype(np.int64), 0, N_LAYERS - 1)
    return np.arcsinh(e / np.asarray(NOMINAL_NOISE)[layer])[:, None]


register_cell_feature(
    "layer_onehot",
    CellFeature(tuple(f"layer_{i}" for i in range(N_LAYERS)), _onehot, standardize=False),
)
register_cell_feature(
    "deta_units",
    CellFeature(("deta_units",), lambda c: c.relative("deta", MIDDLE_CELL[0])[:, None]),
)
register_cell_feature(
    "dphi_units",
    CellFeature(("dphi_units",), lambda c: c.relative("dphi", MIDDLE_CELL[1])[:, None]),
)
register_cell_feature(
    "deta_hot",
    CellFeature(("deta_hot",), lambda c: c.to_hottest("deta", MIDDLE_CELL[0])[:, None]),
)
register_cell_feature(
    "dphi_hot",
    CellFeature(("dphi_hot",), lambda c: c.to_hottest("dphi", MIDDLE_CELL[1])[:, None]),
)
register_cell_feature(
    "log_energy",
    CellFeature(
        ("log_energy",),
        lambda c: np.log(np.clip(c.column("e", "log_energy"), 1e-3, None))[:, None],
    ),
)
register_cell_feature(
    "energy_fraction", CellFeature(("energy_fraction",), _fraction, standardize=False)
)
register_cell_feature("significance", CellFeature(("significance",), _significance))

register_global_feature("abs_eta", GlobalFeature(lambda g: np.abs(g("eta"))))
register_global_feature(
    "log_e_raw", GlobalFeature(lambda g: np.log(np.clip(g("e_raw"), 1e-3, None)))
)

#: The physics design of the ``cells_gnn`` presets (estimator keywords): Deep Sets
#: over the per-cell inputs an ATLAS calorimeter physicist would use (layer one-hot,
#: Δη/Δφ to the barycentre in cell units, log E, E/E_cluster, noise significance;
#: :data:`PHYSICS_CELL_FEATURES`), pooled per layer
#: (exact sums, the inputs included) and by attention, with the per-photon inputs of
#: the baseline calibration (|η|, log E_raw, conversion) — not the shower shapes.
PHYSICS_DESIGN: dict[str, Any] = {
    "architecture": "deepsets",
    "pooling": ["layer_sum", "attention"],
    "pool_inputs": True,
    "cell_features": list(PHYSICS_CELL_FEATURES),
    "global_features": list(PHYSICS_GLOBAL_FEATURES),
    "log_features": [],
}

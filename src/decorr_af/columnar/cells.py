"""Ragged calorimeter cells of photon candidates as flat numpy arrays plus offsets.

:class:`CellSet` is the one exchange format between the cell reader
(:mod:`decorr_af.data`) and the graph models (:mod:`decorr_af.models`): photon
``i`` owns rows ``offsets[i]:offsets[i + 1]`` of ``features`` (one row a cell,
columns named by ``names``), and optionally one row of ``globals`` (per-photon
inputs such as η, the raw energy or the conversion flag). No padding: models
batch photons with segment operations over :meth:`CellSet.segment_ids`.

Examples
--------
>>> import numpy as np
>>> cs = CellSet(offsets=np.array([0, 2, 5]), features=np.arange(10.0).reshape(5, 2),
...              names=("deta", "e"))
>>> len(cs), cs.counts.tolist(), cs.segment_ids.tolist()
(2, [2, 3], [0, 0, 1, 1, 1])
>>> sub = cs.take([1])
>>> sub.offsets.tolist(), sub.column("e").tolist()
([0, 3], [5.0, 7.0, 9.0])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError

__all__ = ["CellSet"]


@dataclasses.dataclass(frozen=True, eq=False)
class CellSet:
    """Cells of ``n`` photons: ``features[offsets[i]:offsets[i+1]]`` belong to photon ``i``.

    Parameters
    ----------
    offsets
        Non-decreasing integer array of length ``n + 1`` starting at 0.
    features
        ``(n_cells, len(names))`` float array, one row per cell.
    names
        Column names of ``features`` (e.g. ``("layer", "deta", "dphi", "e", "t")``).
    globals
        Optional ``(n, len(global_names))`` per-photon inputs.
    global_names
        Column names of ``globals``.
    """

    offsets: np.ndarray
    features: np.ndarray
    names: tuple[str, ...]
    globals: np.ndarray | None = None
    global_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        off = np.asarray(self.offsets, dtype=np.int64)
        feat = np.asarray(self.features)
        if feat.ndim == 1:
            feat = feat[:, None]
        object.__setattr__(self, "offsets", off)
        object.__setattr__(self, "features", feat)
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "global_names", tuple(self.global_names))
        if off.ndim != 1 or len(off) == 0 or off[0] != 0 or np.any(np.diff(off) < 0):
            raise ConfigError("CellSet 'offsets' must be non-decreasing and start at 0")
        if off[-1] != len(feat):
            raise ConfigError(
                f"CellSet 'offsets' end at {off[-1]} but 'features' has {len(feat)} rows"
            )
        if feat.shape[1] != len(self.names):
            raise ConfigError(
                f"CellSet 'names' has {len(self.names)} entries for {feat.shape[1]} columns"
            )
        if self.globals is not None:
            g = np.asarray(self.globals)
            g = g[:, None] if g.ndim == 1 else g
            object.__setattr__(self, "globals", g)
            if len(g) != len(off) - 1 or g.shape[1] != len(self.global_names):
                raise ConfigError(
                    f"CellSet 'globals' must be ({len(off) - 1}, {len(self.global_names)}),"
                    f" got {g.shape}"
                )

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_photons, n_cell_features)`` — what scikit-learn style checks read."""
        return (len(self), self.features.shape[1])

    @property
    def counts(self) -> np.ndarray:
        """Number of cells of each photon."""
        return np.diff(self.offsets)

    @property
    def segment_ids(self) -> np.ndarray:
        """Photon index of every cell (for segment sums / means / max)."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.counts)

    def column(self, name: str) -> np.ndarray:
        """One cell feature by name; ConfigError naming the known columns otherwise."""
        try:
            return self.features[:, self.names.index(name)]
        except ValueError:
            raise ConfigError(f"CellSet has no column {name!r} (has {list(self.names)})") from None

    def take(self, index: Sequence[int] | np.ndarray) -> CellSet:
        """The photons ``index`` (integer indices or a boolean mask), in that order."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            if len(idx) != len(self):
                raise ConfigError(f"CellSet mask has {len(idx)} entries for {len(self)} photons")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64)
        starts, counts = self.offsets[idx], self.counts[idx]
        offsets = np.concatenate([[0], np.cumsum(counts)])
        rows = np.repeat(starts - offsets[:-1], counts) + np.arange(offsets[-1])
        glob = None if self.globals is None else self.globals[idx]
        return CellSet(offsets, self.features[rows], self.names, glob, self.global_names)

    def __getitem__(self, index: Any) -> CellSet:
        if isinstance(index, slice):
            return self.take(np.arange(len(self))[index])
        return self.take(index)

"""Named photon isolation working points (ATLAS definitions) on flat tables.

A working point cuts a calorimeter isolation variable and, optionally, a track
isolation variable, each against ``slope·pT + offset`` (GeV)::

    FixedCutLoose         topoetcone20 < 0.065 pT            and ptcone20 < 0.05 pT
    FixedCutTight         topoetcone40 < 0.022 pT + 2.45 GeV and ptcone20 < 0.05 pT
    FixedCutTightCaloOnly topoetcone40 < 0.022 pT + 2.45 GeV

(ATLAS photon isolation working points, Eur. Phys. J. C 79 (2019) 205.)  The
working points live in a registry (:func:`register_isolation_wp`,
:func:`get_isolation_wp`), so a new one is a new entry, not a new branch.

For the ABCD ("2D sideband") background estimate the *non-isolated* control
region is separated from the isolated one by a gap: a candidate is non-isolated
when its calorimeter isolation exceeds the cut by more than ``gap`` GeV, or its
track isolation (where the working point has one) exceeds the track cut by more
than ``gap``.  Candidates in between belong to neither region.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"pt": [50.0, 50.0], "topoetcone20": [1.0, 9.0], "ptcone20": [0.0, 0.0]})
>>> get_isolation_wp("FixedCutLoose").passes(t).tolist()
[True, False]
>>> get_isolation_wp("FixedCutLoose").non_isolated(t, gap=2.0).tolist()
[False, True]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError, MissingBranchError

__all__ = [
    "IsolationWP",
    "available_isolation_wps",
    "get_isolation_wp",
    "register_isolation_wp",
]


def __dir__() -> list[str]:
    return __all__


def _column(table: Any, name: str, wp: str) -> np.ndarray:
    try:
        col = table[name]
    except (KeyError, IndexError, ValueError):
        col = None
    if col is None:
        raise MissingBranchError(f"isolation working point {wp!r} needs column {name!r}")
    return np.asarray(col, dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class IsolationWP:
    """An isolation working point: ``calo < calo_slope·pT + calo_offset`` (and track).

    Parameters
    ----------
    name
        Registry name (e.g. ``"FixedCutLoose"``).
    calo
        Calorimeter isolation column (``topoetcone20`` or ``topoetcone40``, GeV).
    calo_slope, calo_offset
        The calorimeter cut is ``calo_slope * pt + calo_offset`` (GeV).
    track
        Track isolation column (``ptcone20``) or ``None`` for calo-only points.
    track_slope, track_offset
        The track cut is ``track_slope * pt + track_offset`` (GeV).

    Examples
    --------
    >>> wp = IsolationWP("Demo", calo="topoetcone20", calo_slope=0.0, calo_offset=3.0)
    >>> wp.passes({"pt": [40.0, 40.0], "topoetcone20": [2.9, 3.1]}).tolist()
    [True, False]
    """

    name: str
    calo: str
    calo_slope: float
    calo_offset: float = 0.0
    track: str | None = None
    track_slope: float = 0.0
    track_offset: float = 0.0

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("IsolationWP: 'name' is empty")
        if self.calo_slope < 0 or self.track_slope < 0:
            raise ConfigError(f"IsolationWP {self.name!r}: slopes must be >= 0")
        if self.calo_slope == 0 and self.calo_offset <= 0:
            raise ConfigError(f"IsolationWP {self.name!r}: the calorimeter cut is never passed")

    @property
    def columns(self) -> tuple[str, ...]:
        """Table columns the working point reads."""
        return ("pt", self.calo) + ((self.track,) if self.track else ())

    def calo_cut(self, pt: Any) -> np.ndarray:
        """Calorimeter isolation cut value (GeV) at transverse momentum ``pt`` (GeV)."""
        return self.calo_slope * np.asarray(pt, dtype=np.float64) + self.calo_offset

    def track_cut(self, pt: Any) -> np.ndarray:
        """Track isolation cut value (GeV); ``inf`` for calo-only working points."""
        pt = np.asarray(pt, dtype=np.float64)
        if self.track is None:
            return np.full(pt.shape, np.inf)
        return self.track_slope * pt + self.track_offset

    def _values(self, table: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pt = _column(table, "pt", self.name)
        calo = _column(table, self.calo, self.name)
        track = _column(table, self.track, self.name) if self.track else np.zeros_like(pt)
        return pt, calo, track

    def passes(self, table: Any) -> np.ndarray:
        """Boolean mask of isolated candidates (every cut of the working point passed)."""
        return self.excess(table) < 0.0

    def excess(self, table: Any) -> np.ndarray:
        """Isolation excess over the working point (GeV): ``max(calo - calo cut, track - track cut)``.

        ``excess < 0`` is :meth:`passes`, ``excess > gap`` is :meth:`non_isolated`:
        the single variable along the isolation axis of an ABCD estimate.

        Examples
        --------
        >>> wp = get_isolation_wp("FixedCutLoose")
        >>> wp.excess({"pt": [40.0], "topoetcone20": [3.6], "ptcone20": [0.0]}).round(3).tolist()
        [1.0]
        """
        pt, calo, track = self._values(table)
        out = calo - self.calo_cut(pt)
        return np.maximum(out, track - self.track_cut(pt)) if self.track else out

    def non_isolated(self, table: Any, *, gap: float = 2.0) -> np.ndarray:
        """Mask of the non-isolated control region: a cut failed by more than ``gap`` GeV.

        With ``gap >= 0`` the region never overlaps :meth:`passes`.
        """
        if gap < 0:
            raise ConfigError(f"parameter 'gap' must be >= 0 GeV, got {gap}")
        return self.excess(table) > gap

    def to_dict(self) -> dict[str, Any]:
        """JSON-able definition (``IsolationWP(**d)`` rebuilds it)."""
        return dataclasses.asdict(self)


_REGISTRY: dict[str, IsolationWP] = {}


def register_isolation_wp(wp: IsolationWP, *, overwrite: bool = False) -> IsolationWP:
    """Add ``wp`` to the registry under ``wp.name`` and return it.

    Examples
    --------
    >>> wp = IsolationWP("MyCaloOnly", calo="topoetcone20", calo_slope=0.03, calo_offset=1.0)
    >>> register_isolation_wp(wp, overwrite=True).name
    'MyCaloOnly'
    """
    if not isinstance(wp, IsolationWP):
        raise ConfigError(f"register_isolation_wp needs an IsolationWP, got {type(wp).__name__}")
    if wp.name in _REGISTRY and not overwrite:
        raise ConfigError(f"isolation working point {wp.name!r} is already registered")
    _REGISTRY[wp.name] = wp
    return wp


def get_isolation_wp(name: str | IsolationWP | Mapping[str, Any]) -> IsolationWP:
    """The registered working point called ``name`` (an ``IsolationWP`` or dict passes through).

    Examples
    --------
    >>> get_isolation_wp("FixedCutTight").calo
    'topoetcone40'
    """
    if isinstance(name, IsolationWP):
        return name
    if isinstance(name, Mapping):
        return IsolationWP(**dict(name))
    if name not in _REGISTRY:
        raise ConfigError(
            f"unknown isolation working point {name!r} "
            f"(choose from {', '.join(available_isolation_wps())})"
        )
    return _REGISTRY[name]


def available_isolation_wps() -> tuple[str, ...]:
    """Names of the registered working points.

    Examples
    --------
    >>> "FixedCutLoose" in available_isolation_wps()
    True
    """
    return tuple(_REGISTRY)


for _wp in (
    IsolationWP("FixedCutLoose", calo="topoetcone20", calo_slope=0.065, track="ptcone20",
                track_slope=0.05),
    IsolationWP("FixedCutTight", calo="topoetcone40", calo_slope=0.022, calo_offset=2.45,
                track="ptcone20", track_slope=0.05),
    IsolationWP("FixedCutTightCaloOnly", calo="topoetcone40", calo_slope=0.022, calo_offset=2.45),
):  # fmt: skip
    register_isolation_wp(_wp)

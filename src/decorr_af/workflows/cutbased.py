"""Cut-based photon identification menus with ATLAS's structure (Loose, Tight, Loose′).

A menu cuts each of its shower-shape variables on its physical side — ``x <= t``
where prompt photons sit low (``Rhad``, ``weta2``, ``weta1`` = w_s3, ``wtots1``,
``fracs1`` = F_side, ``DeltaE``), ``x >= t`` where they sit high (``Reta``,
``Rphi``, ``Eratio``) — with one threshold per *cell*: conversion status
(unconverted / converted) × |η| bin (ATLAS edges 0, 0.6, 0.8, 1.15, 1.37, 1.52,
1.81, 2.01, 2.37) × E_T bin.

Menus are registered :class:`MenuSpec` definitions (:func:`register_menu`):

``loose``   Rhad, Reta, weta2 (hadronic leakage and middle layer), ~97 % efficient;
``tight``   every variable, strips included, tighter than ``loose`` (it requires
            it), efficiency rising with E_T from 84 % to 93 %.

:func:`tune_menu` fits a spec on prompt MC: in every cell it finds the common
per-variable prompt quantile ``q`` whose rectangular cuts keep the target
fraction of prompt photons (for a child menu, of those passing its parent).
Cells with fewer than ``min_prompt`` prompt photons borrow the thresholds tuned
on the cell's (conversion, |η|) row, then on its conversion class. A tuned
:class:`CutMenu` is saved / loaded as JSON (:meth:`CutMenu.save`,
:meth:`CutMenu.load`).

Loose′ (ATLAS's non-tight control region of the 2D-sideband method): a photon
passes Loose, fails at least one of the *released* strip cuts of Tight and passes
all the other Tight cuts.  The released sets are registered too
(:data:`LOOSE_PRIME`): ``loose_prime_2`` (w_s3, F_side), ``loose_prime_3``
(+ ΔE), ``loose_prime_4`` (+ E_ratio), ``loose_prime_5`` (+ w_tot).

Examples
--------
>>> menu = tune_menu("tight", mc_table)                  # doctest: +SKIP
>>> tight = menu.passes(mc_table)                        # doctest: +SKIP
>>> non_tight = menu.loose_prime(mc_table, "loose_prime_4")  # doctest: +SKIP
>>> menu.save("tight.json"); CutMenu.load("tight.json")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError, InputFileError, MissingBranchError

__all__ = [
    "ATLAS_ETA_BINS",
    "CUT_SIDES",
    "DEFAULT_ETA_BINS",
    "DEFAULT_ET_BINS",
    "LOOSE_PRIME",
    "LOOSE_VARIABLES",
    "TIGHT_VARIABLES",
    "CutMenu",
    "MenuSpec",
    "available_menus",
    "get_menu_spec",
    "loose_prime_variables",
    "register_loose_prime",
    "register_menu",
    "tune_menu",
]

#: ATLAS photon-ID |η| bin edges (the crack 1.37-1.52 is its own bin)
ATLAS_ETA_BINS = (0.0, 0.6, 0.8, 1.15, 1.37, 1.52, 1.81, 2.01, 2.37)
DEFAULT_ETA_BINS = ATLAS_ETA_BINS
#: E_T bin lower edges (GeV); the last bin is open, E_T below the first edge uses bin 0
DEFAULT_ET_BINS = (25.0, 30.0, 40.0, 50.0, 80.0)
LOOSE_VARIABLES = ("Rhad", "Reta", "weta2")
TIGHT_VARIABLES = ("Rhad", "Reta", "Rphi", "weta2", "weta1", "wtots1", "fracs1", "DeltaE", "Eratio")
#: +1: upper cut ``x <= t``; -1: lower cut ``x >= t``
CUT_SIDES = {
    "Rhad": 1,
    "Reta": -1,
    "Rphi": -1,
    "weta2": 1,
    "weta1": 1,
    "wtots1": 1,
    "fracs1": 1,
    "DeltaE": 1,
    "Eratio": -1,
}
#: released strip cuts of the Loose′ definitions
LOOSE_PRIME: dict[str, tuple[str, ...]] = {
    "loose_prime_2": ("weta1", "fracs1"),
    "loose_prime_3": ("weta1", "fracs1", "DeltaE"),
    "loose_prime_4": ("weta1", "fracs1", "DeltaE", "Eratio"),
    "loose_prime_5": ("weta1", "fracs1", "DeltaE", "Eratio", "wtots1"),
}


@dataclasses.dataclass(frozen=True)
class MenuSpec:
    """Definition of a cut menu before tuning.

    Parameters
    ----------
    name
        Registry name.
    variables
        Shower-shape columns the menu cuts (sides from :data:`CUT_SIDES`).
    efficiency
        Target prompt efficiency per E_T bin (one value: the same in every bin).
    parent
        Name of a looser menu this one requires (its cuts are never looser).
    eta_bins, et_bins
        |η| edges and E_T lower edges (GeV).
    min_prompt
        Fewest prompt photons a cell needs to be tuned on its own.
    """

    name: str
    variables: tuple[str, ...]
    efficiency: tuple[float, ...]
    parent: str | None = None
    eta_bins: tuple[float, ...] = ATLAS_ETA_BINS
    et_bins: tuple[float, ...] = DEFAULT_ET_BINS
    min_prompt: int = 200

    def __post_init__(self) -> None:
        bad = [v for v in self.variables if v not in CUT_SIDES]
        if bad or not self.variables:
            raise ConfigError(
                f"menu {self.name!r}: 'variables' {bad or '()'} not in {sorted(CUT_SIDES)}"
            )
        eff = tuple(float(e) for e in self.efficiency)
        if len(eff) not in (1, len(self.et_bins)) or not all(0 < e <= 1 for e in eff):
            raise ConfigError(
                f"menu {self.name!r}: 'efficiency' needs 1 or {len(self.et_bins)} values in (0, 1]"
            )
        _check_edges(self.eta_bins, "eta_bins", self.name, 2)
        _check_edges(self.et_bins, "et_bins", self.name, 1)
        if self.min_prompt < 1:
            raise ConfigError(f"menu {self.name!r}: 'min_prompt' must be >= 1")

    def target(self, i_et: int) -> float:
        """Target efficiency of E_T bin ``i_et``."""
        return float(self.efficiency[0] if len(self.efficiency) == 1 else self.efficiency[i_et])


def _check_edges(edges: Sequence[float], field: str, name: str, n_min: int) -> None:
    e = np.asarray(edges, dtype=float)
    if e.ndim != 1 or len(e) < n_min or np.any(np.diff(e) <= 0):
        raise ConfigError(f"menu {name!r}: {field!r} must be increasing edges, got {edges}")


_MENUS: dict[str, MenuSpec] = {}


def register_menu(spec: MenuSpec, *, overwrite: bool = False) -> MenuSpec:
    """Add a menu definition to the registry and return it.

    Examples
    --------
    >>> spec = MenuSpec("medium_demo", ("Rhad", "Reta", "weta2", "Rphi"), (0.93,), parent="loose")
    >>> register_menu(spec, overwrite=True).parent
    'loose'
    """
    if spec.name in _MENUS and not overwrite:
        raise ConfigError(f"menu {spec.name!r} is already registered")
    if spec.parent is not None and spec.parent not in _MENUS:
        raise ConfigError(f"menu {spec.name!r}: unknown parent menu {spec.parent!r}")
    _MENUS[spec.name] = spec
    return spec


def get_menu_spec(name: str | MenuSpec) -> MenuSpec:
    """The registered :class:`MenuSpec` called ``name``.

    Examples
    --------
    >>> get_menu_spec("loose").variables
    ('Rhad', 'Reta', 'weta2')
    """
    if isinstance(name, MenuSpec):
        return name
    if name not in _MENUS:
        raise ConfigError(f"unknown menu {name!r} (choose from {', '.join(available_menus())})")
    return _MENUS[name]


def available_menus() -> tuple[str, ...]:
    """Registered menu names.

    Examples
    --------
    >>> available_menus()[:2]
    ('loose', 'tight')
    """
    return tuple(_MENUS)


def register_loose_prime(name: str, released: Sequence[str], *, overwrite: bool = False) -> None:
    """Register a Loose′ definition: the Tight cuts it releases.

    Examples
    --------
    >>> register_loose_prime("loose_prime_demo", ("weta1",), overwrite=True)
    >>> loose_prime_variables("loose_prime_demo")
    ('weta1',)
    """
    bad = [v for v in released if v not in CUT_SIDES]
    if bad or not released:
        raise ConfigError(f"Loose' {name!r}: released cuts {bad or '()'} are not menu variables")
    if name in LOOSE_PRIME and not overwrite:
        raise ConfigError(f"Loose' definition {name!r} is already registered")
    LOOSE_PRIME[name] = tuple(released)


def loose_prime_variables(name: str | Sequence[str]) -> tuple[str, ...]:
    """Released cuts of the Loose′ definition ``name`` (or the given variables).

    Examples
    --------
    >>> loose_prime_variables("loose_prime_4")
    ('weta1', 'fracs1', 'DeltaE', 'Eratio')
    """
    if isinstance(name, str):
        if name not in LOOSE_PRIME:
            raise ConfigError(
                f"unknown Loose' definition {name!r} (choose from {', '.join(LOOSE_PRIME)})"
            )
        return LOOSE_PRIME[name]
    return tuple(name)


register_menu(MenuSpec("loose", LOOSE_VARIABLES, (0.97,)))
register_menu(MenuSpec("tight", TIGHT_VARIABLES, (0.84, 0.86, 0.88, 0.90, 0.93), parent="loose"))


# ------------------------------------------------------------------------ tables
def _col(table: Any, name: str) -> np.ndarray:
    if name not in getattr(table, "columns", table):
        raise MissingBranchError(f"photon ID menu needs column {name!r}, not in the table")
    return np.asarray(table[name], dtype=np.float64)


def _converted(table: Any) -> np.ndarray:
    cols = getattr(table, "columns", table)
    if "conversionType" in cols:
        return _col(table, "conversionType") > 0
    if "converted" in cols:
        return _col(table, "converted") > 0
    raise MissingBranchError("photon ID menu needs column 'conversionType' (or 'converted')")


def _cells(
    table: Any, eta_bins: Sequence[float], et_bins: Sequence[float]
) -> tuple[np.ndarray, ...]:
    eta_e, et_e = np.asarray(eta_bins, float), np.asarray(et_bins, float)
    ieta = np.clip(
        np.searchsorted(eta_e, np.abs(_col(table, "eta")), "right") - 1, 0, len(eta_e) - 2
    )
    iet = np.clip(np.searchsorted(et_e, _col(table, "pt"), "right") - 1, 0, len(et_e) - 1)
    return _converted(table).astype(int), ieta, iet


class _CDF:
    """Weighted midpoint-rule CDF of a reference sample (``np.interp`` lookup)."""

    def __init__(self, x: np.ndarray, w: np.ndarray) -> None:
        order = np.argsort(x, kind="stable")
        self.v, ww = x[order], w[order]
        cum = np.cumsum(ww)
        self.p = (cum - 0.5 * ww) / cum[-1]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.interp(x, self.v, self.p, left=0.0, right=1.0)

    def quantile(self, q: float) -> float:
        return float(np.interp(q, self.p, self.v))


# ------------------------------------------------------------------------- menu
class CutMenu:
    """A tuned menu: thresholds ``[converted, |η| bin, E_T bin, variable]``.

    ``NaN`` thresholds mean "no cut" (a cell whose target needs none).  Build one
    with :func:`tune_menu` or :meth:`from_dict` / :meth:`load`.
    """

    def __init__(
        self,
        spec: MenuSpec,
        thresholds: Any,
        *,
        parent: CutMenu | None = None,
    ) -> None:
        self.spec = spec
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        shape = (2, len(spec.eta_bins) - 1, len(spec.et_bins), len(spec.variables))
        if self.thresholds.shape != shape:
            raise ConfigError(
                f"menu {spec.name!r}: thresholds have shape {self.thresholds.shape}, need {shape}"
            )
        if (spec.parent is None) != (parent is None) or (
            parent is not None and parent.spec.name != spec.parent
        ):
            raise ConfigError(f"menu {spec.name!r} needs its parent menu {spec.parent!r}")
        self.parent = parent
        self._family: dict[tuple[int, int, int], tuple[list[_CDF], _CDF]] = {}

    name = property(lambda self: self.spec.name)
    variables = property(lambda self: self.spec.variables)

    def _cell_thresholds(self, table: Any) -> np.ndarray:
        conv, ieta, iet = _cells(table, self.spec.eta_bins, self.spec.et_bins)
        return self.thresholds[conv, ieta, iet]

    def passes_cuts(self, table: Any, variables: Sequence[str] | None = None) -> np.ndarray:
        """Mask passing this menu's own cuts on ``variables`` (default all; parent ignored)."""
        names = self.variables if variables is None else tuple(variables)
        thr = self._cell_thresholds(table)
        ok = np.ones(len(thr), dtype=bool)
        for v in names:
            if v not in self.variables:
                raise ConfigError(f"menu {self.name!r} does not cut {v!r}")
            j = self.variables.index(v)
            x, t = _col(table, v), thr[:, j]
            ok &= np.isnan(t) | ((x <= t) if CUT_SIDES[v] > 0 else (x >= t))
        return ok

    def passes(self, table: Any) -> np.ndarray:
        """Mask of photons passing the menu (and its parent menus)."""
        ok = self.passes_cuts(table)
        return ok & self.parent.passes(table) if self.parent is not None else ok

    def loose_prime(
        self, table: Any, released: str | Sequence[str] = "loose_prime_4"
    ) -> np.ndarray:
        """ATLAS Loose′: passes the parent, fails a released cut, passes the other cuts.

        Disjoint from :meth:`passes` by construction.
        """
        rel = loose_prime_variables(released)
        if self.parent is None:
            raise ConfigError(f"Loose' needs a menu with a parent (Loose); {self.name!r} has none")
        kept = [v for v in self.variables if v not in rel]
        return (
            self.parent.passes(table)
            & self.passes_cuts(table, kept)
            & ~self.passes_cuts(table, [v for v in rel if v in self.variables])
        )

    def score(self, table: Any) -> np.ndarray:
        """Continuous menu score in [-1, 1] whose cuts form a family of rectangular menus.

        In each cell ``u = G(1 - max_v F_v(x_v))`` with ``F_v`` the tuning prompt CDF
        of variable ``v`` (on its cut side) and ``G`` the prompt CDF of that
        quantity, so ``u > 1 - ε`` keeps a fraction ε of the prompt photons passing
        the parent; photons failing the parent get ``u - 1``.  Only available on
        a menu tuned in this session (the CDFs are not serialised).
        """
        if not self._family:
            raise ConfigError(f"menu {self.name!r} has no score family (loaded from JSON?)")
        conv, ieta, iet = _cells(table, self.spec.eta_bins, self.spec.et_bins)
        X = np.column_stack([_col(table, v) for v in self.variables])
        u = np.zeros(len(X))
        for key in set(zip(conv.tolist(), ieta.tolist(), iet.tolist())):
            sel = (conv == key[0]) & (ieta == key[1]) & (iet == key[2])
            cdfs, g = self._family[key]
            u[sel] = g(1.0 - _tightness(X[sel], cdfs, self.variables))
        if self.parent is not None:
            u = np.where(self.parent.passes(table), u, u - 1.0)
        return u

    def efficiency_table(self, table: Any, mask: Any = None, weight: str | None = "weight") -> Any:
        """Weighted pass fraction per cell of the rows in ``mask`` (pandas DataFrame)."""
        import pandas as pd

        conv, ieta, iet = _cells(table, self.spec.eta_bins, self.spec.et_bins)
        cols = getattr(table, "columns", table)
        w = _col(table, weight) if weight and weight in cols else np.ones(len(conv))
        sel = np.ones(len(conv), bool) if mask is None else np.asarray(mask, bool)
        ok = self.passes(table)
        rows = []
        for c in (0, 1):
            for i in range(len(self.spec.eta_bins) - 1):
                for k in range(len(self.spec.et_bins)):
                    m = sel & (conv == c) & (ieta == i) & (iet == k)
                    tot = w[m].sum()
                    rows.append(
                        {
                            "converted": c,
                            "abs_eta_lo": self.spec.eta_bins[i],
                            "abs_eta_hi": self.spec.eta_bins[i + 1],
                            "et_lo": self.spec.et_bins[k],
                            "n": int(m.sum()),
                            "efficiency": w[m & ok].sum() / tot if tot > 0 else np.nan,
                            "target": self.spec.target(k),
                        }
                    )
        return pd.DataFrame(rows)

    def thresholds_table(self) -> Any:
        """pandas table: one row per cell with the cut value of each variable."""
        import pandas as pd

        rows = []
        for c in (0, 1):
            for i in range(len(self.spec.eta_bins) - 1):
                for k in range(len(self.spec.et_bins)):
                    row = {
                        "converted": c,
                        "abs_eta_lo": self.spec.eta_bins[i],
                        "abs_eta_hi": self.spec.eta_bins[i + 1],
                        "et_lo": self.spec.et_bins[k],
                    }
                    row.update(zip(self.variables, self.thresholds[c, i, k].tolist()))
                    rows.append(row)
        return pd.DataFrame(rows)

    def cut_sides(self) -> dict[str, str]:
        """``{variable: "<=" or ">="}``."""
        return {v: ("<=" if CUT_SIDES[v] > 0 else ">=") for v in self.variables}

    # ------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (no-cut thresholds as ``None``); :meth:`from_dict` inverts it."""
        spec = dataclasses.asdict(self.spec)
        thr = np.where(np.isnan(self.thresholds), None, self.thresholds).tolist()
        return {
            "format": "decorr_af.cut_menu/1",
            "spec": spec,
            "thresholds": thr,
            "parent": None if self.parent is None else self.parent.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CutMenu:
        """Rebuild a menu from :meth:`to_dict` output."""
        if not isinstance(d, Mapping) or d.get("format") != "decorr_af.cut_menu/1":
            raise ConfigError("not a decorr_af cut menu (missing format 'decorr_af.cut_menu/1')")
        try:
            s = dict(d["spec"])
            spec = MenuSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in s.items()})
            thr = np.array(
                [
                    [[[np.nan if t is None else t for t in r] for r in e] for e in c]
                    for c in d["thresholds"]
                ],
                dtype=np.float64,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed cut menu: {exc}") from exc
        parent = None if d.get("parent") is None else cls.from_dict(d["parent"])
        return cls(spec, thr, parent=parent)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the menu (and its parents) as JSON."""
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, indent=1)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CutMenu:
        """Read a menu written by :meth:`save`."""
        try:
            with open(path, encoding="utf-8") as fh:
                payload = json.load(fh)
        except OSError as exc:
            raise InputFileError(f"{path}: cannot read cut menu ({exc.strerror})") from exc
        except json.JSONDecodeError as exc:
            raise InputFileError(f"{path}: not a JSON cut menu ({exc.msg})") from exc
        return cls.from_dict(payload)


def _tightness(X: np.ndarray, cdfs: list[_CDF], variables: Sequence[str]) -> np.ndarray:
    t = np.zeros(len(X))
    for j, (v, f) in enumerate(zip(variables, cdfs)):
        p = f(X[:, j])
        t = np.maximum(t, p if CUT_SIDES[v] > 0 else 1.0 - p)
    return t


def _tune_cell(
    X: np.ndarray, w: np.ndarray, variables: Sequence[str], target: float
) -> tuple[np.ndarray, list[_CDF], _CDF]:
    """Thresholds keeping ``target`` of the (weighted) rows, cross-fitted.

    The per-variable CDFs come from the even rows and the common quantile ``q``
    is chosen on the odd rows, so the efficiency of the rectangular cuts is not
    biased upwards by tuning them on the photons they are evaluated on.
    """
    even, odd = slice(0, None, 2), slice(1, None, 2)
    cdfs = [_CDF(X[even, j], w[even]) for j in range(X.shape[1])]
    t = _tightness(X[odd], cdfs, variables)
    g = _CDF(1.0 - t, w[odd])
    if target >= 1.0:
        return np.full(X.shape[1], np.nan), cdfs, g
    q = 1.0 - g.quantile(1.0 - target)
    thr = np.array(
        [f.quantile(q if CUT_SIDES[v] > 0 else 1.0 - q) for v, f in zip(variables, cdfs)]
    )
    return thr, cdfs, g


def tune_menu(
    spec: str | MenuSpec,
    table: Any,
    *,
    label: str = "is_prompt",
    weight: str | None = "weight",
    parent: CutMenu | None = None,
    eta_bins: Sequence[float] | None = None,
    et_bins: Sequence[float] | None = None,
) -> CutMenu:
    """Tune the menu ``spec`` on the prompt photons (``table[label]``) of an MC table.

    Parameters
    ----------
    spec
        A registered menu name or a :class:`MenuSpec`.
    table
        Flat photon table (GeV) with ``pt, eta, conversionType`` (or ``converted``),
        the menu's variables and the truth ``label`` (MC only).
    label, weight
        Truth column (prompt = 1) and event-weight column (``None``: unweighted).
    parent
        The tuned parent menu; tuned here on the same table when ``None``.
    eta_bins, et_bins
        Override the spec's bins (the parent is tuned with the same ones).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(5)
    >>> n = 4000
    >>> t = pd.DataFrame({"pt": rng.uniform(25, 60, n), "eta": rng.uniform(-2.3, 2.3, n),
    ...                   "conversionType": rng.integers(0, 2, n), "is_prompt": np.ones(n)})
    >>> for v in LOOSE_VARIABLES:
    ...     t[v] = rng.normal(size=n)
    >>> spec = MenuSpec("demo", LOOSE_VARIABLES, (0.9,), eta_bins=(0, 1.37, 2.37), et_bins=(25,))
    >>> round(float(tune_menu(spec, t).passes(t).mean()), 2)
    0.9
    """
    spec = get_menu_spec(spec)
    if eta_bins is not None or et_bins is not None:
        spec = dataclasses.replace(
            spec,
            eta_bins=tuple(eta_bins) if eta_bins is not None else spec.eta_bins,
            et_bins=tuple(et_bins) if et_bins is not None else spec.et_bins,
        )
    if spec.parent is not None and parent is None:
        parent = tune_menu(
            spec.parent,
            table,
            label=label,
            weight=weight,
            eta_bins=spec.eta_bins,
            et_bins=spec.et_bins,
        )
    if parent is not None and (parent.spec.eta_bins, parent.spec.et_bins) != (
        spec.eta_bins,
        spec.et_bins,
    ):
        raise ConfigError(f"menu {spec.name!r}: parent {parent.name!r} has different bins")
    cols = getattr(table, "columns", table)
    prompt = _col(table, label) > 0.5
    w = _col(table, weight) if weight and weight in cols else np.ones(len(prompt))
    if not (prompt & (w > 0)).any():
        raise ConfigError(f"tune_menu: no prompt photon (column {label!r}) with positive weight")
    X = np.column_stack([_col(table, v) for v in spec.variables])
    conv, ieta, iet = _cells(table, spec.eta_bins, spec.et_bins)
    base = prompt & (w > 0) & np.isfinite(X).all(axis=1)
    in_parent = parent.passes(table) if parent is not None else np.ones(len(w), bool)
    n_eta, n_et = len(spec.eta_bins) - 1, len(spec.et_bins)
    thr = np.full((2, n_eta, n_et, len(spec.variables)), np.nan)
    menu_family: dict[tuple[int, int, int], tuple[list[_CDF], _CDF]] = {}
    for c in (0, 1):
        for i in range(n_eta):
            for k in range(n_et):
                # widen the cell until it holds min_prompt prompt photons
                for sel in (
                    base & (conv == c) & (ieta == i) & (iet == k),
                    base & (conv == c) & (ieta == i) & (np.abs(iet - k) <= 1),
                    base & (conv == c) & (ieta == i),
                    base & (conv == c),
                    base,
                ):
                    if sel.sum() >= spec.min_prompt:
                        break
                eff_parent = w[sel & in_parent].sum() / w[sel].sum()
                target = min(1.0, spec.target(k) / eff_parent) if eff_parent > 0 else 1.0
                s = sel & in_parent
                thr[c, i, k], cdfs, g = _tune_cell(X[s], w[s], spec.variables, target)
                menu_family[(c, i, k)] = (cdfs, g)
    if parent is not None:  # never looser than the parent on shared variables
        for j, v in enumerate(spec.variables):
            if v in parent.variables:
                tp = parent.thresholds[..., parent.variables.index(v)]
                cmp = np.fmin if CUT_SIDES[v] > 0 else np.fmax
                thr[..., j] = cmp(thr[..., j], tp)
    menu = CutMenu(spec, thr, parent=parent)
    menu._family = menu_family
    return menu

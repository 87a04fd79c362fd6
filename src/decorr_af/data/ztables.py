"""Flat tables of the data-driven control samples: Z→ee pairs and radiative Z→μμγ.

Both are registered :class:`~decorr_af.data.tableplan.TableSpec` tables, read with
the same machinery as :func:`~decorr_af.data.photon_table` (eager or Dask,
files or opened events, non-finite policy, selection) and never return truth
for data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from decorr_af._compat import optional_import
from decorr_af.data.frames import Selection, object_columns
from decorr_af.data.readers import ReadMode
from decorr_af.data.schema import CALO_VARIABLES, SHOWER_SHAPES
from decorr_af.data.table import Source, _table
from decorr_af.data.tableplan import STANDARD_FEATURES, FieldPlan, TableSpec, register_table
from decorr_af.data.validate import NonFinitePolicy

__all__ = ["ELECTRON_FEATURES", "electron_table", "radiative_z_table"]

#: optional electron features, in table order
ELECTRON_FEATURES = (*SHOWER_SHAPES, *CALO_VARIABLES)
_MUON_MASS = 0.1056584  # GeV


def _counts(jagged: Any) -> np.ndarray:
    ak = optional_import("awkward", "io")
    return ak.to_numpy(ak.num(jagged, axis=1))


def _flat(jagged: Any) -> np.ndarray:
    ak = optional_import("awkward", "io")
    return ak.to_numpy(ak.flatten(jagged, axis=1))


def _opposite_pairs(coll: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-event mask of exactly two opposite-charge objects, and the counts."""
    counts = _counts(coll["pt"])
    charge = _flat(coll["charge"]).astype(np.int64)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    two = counts == 2
    prod = np.zeros(len(counts), dtype=np.int64)
    idx = start[two]
    prod[two] = charge[idx] * charge[idx + 1]
    return two & (prod < 0), counts


def _electron_frame(events: Any, plan: FieldPlan, options: dict[str, Any]) -> Any:
    pd = optional_import("pandas", "io")
    from decorr_af.columnar.features import pair_mass

    cols = object_columns(events, plan, "Electrons")
    ok, counts = _opposite_pairs(events["Electrons"])
    rows = np.repeat(ok, counts)
    cols = {k: v[rows] for k, v in cols.items()}
    n_pairs = int(ok.sum())
    pt = cols["pt"].reshape(n_pairs, 2)
    swap = pt[:, 1] > pt[:, 0]
    order = (np.arange(n_pairs)[:, None] * 2 + np.where(swap[:, None], [[1, 0]], [[0, 1]])).ravel()
    cols = {k: v[order] for k, v in cols.items()}
    cols["pair"] = np.tile(np.array([0, 1], dtype=np.int8), n_pairs)
    pt, eta, phi = (cols[k].reshape(n_pairs, 2).astype(np.float64) for k in ("pt", "eta", "phi"))
    dphi = phi[:, 0] - phi[:, 1]
    m2 = 2.0 * pt[:, 0] * pt[:, 1] * (np.cosh(eta[:, 0] - eta[:, 1]) - np.cos(dphi))
    m_raw = np.sqrt(np.maximum(m2, 0.0))
    cols["m_ee"] = np.repeat(pair_mass(m_raw, 1.0, 1.0), 2)
    return pd.DataFrame(cols, copy=False)


def _four(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, m: float | np.ndarray) -> np.ndarray:
    pz = pt * np.sinh(eta)
    e = np.sqrt(pt**2 + pz**2 + np.asarray(m) ** 2)
    return np.stack([e, pt * np.cos(phi), pt * np.sin(phi), pz], axis=-1)


def _mass(p: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(p[..., 0] ** 2 - np.sum(p[..., 1:] ** 2, axis=-1), 0.0))


def _radiative_z_frame(events: Any, plan: FieldPlan, options: dict[str, Any]) -> Any:
    pd = optional_import("pandas", "io")
    cols = object_columns(events, plan, "Photons")
    muons = events["Muons"]
    ok, mu_counts = _opposite_pairs(muons)
    ph_counts = _counts(events["Photons"]["pt"])
    rows = np.repeat(ok, ph_counts)
    cols = {k: v[rows] for k, v in cols.items()}
    mu_rows = np.repeat(ok, mu_counts)
    k = int(ok.sum())
    mu = {
        f: _flat(muons[f])[mu_rows].astype(np.float64).reshape(k, 2) for f in ("pt", "eta", "phi")
    }
    mu["pt"] = plan.layout.in_gev("pt", mu["pt"])
    per_photon = np.repeat(np.arange(k), ph_counts[ok])
    p_mu = _four(mu["pt"], mu["eta"], mu["phi"], _MUON_MASS)[per_photon]  # (rows, 2, 4)
    p_mumu = p_mu[:, 0] + p_mu[:, 1]
    pt_g = cols["pt"].astype(np.float64)
    p_g = _four(pt_g, cols["eta"].astype(np.float64), cols["phi"].astype(np.float64), 0.0)
    cols["m_mumu"] = _mass(p_mumu)
    cols["m_mumugamma"] = _mass(p_mumu + p_g)
    dphi = (cols["phi"][:, None] - mu["phi"][per_photon] + np.pi) % (2 * np.pi) - np.pi
    deta = cols["eta"][:, None] - mu["eta"][per_photon]
    cols["dr_min_mu_gamma"] = np.min(np.hypot(deta, dphi), axis=1)
    return pd.DataFrame(cols, copy=False)


ELECTRON_TABLE = register_table(
    TableSpec("electron", "Electrons", ELECTRON_FEATURES, _electron_frame, required=("charge",))
)
RADIATIVE_Z_TABLE = register_table(
    TableSpec(
        "radiative_z",
        "Photons",
        STANDARD_FEATURES,
        _radiative_z_frame,
        collections={"Muons": ("pt", "eta", "phi", "charge")},
    )
)


def electron_table(
    source: Source,
    *,
    features: Sequence[str] | None = None,
    selection: Selection = None,
    drop_truth: bool = False,
    nonfinite: NonFinitePolicy | str = NonFinitePolicy.RAISE,
    mode: ReadMode | str = ReadMode.DASK,
    client: Any = None,
    chunk_size: int = 200_000,
    tree: str | None = None,
) -> Any:
    """One row per electron of events with exactly two opposite-charge electrons (GeV).

    Rows of one event are consecutive, leading electron first. Columns:
    ``eventNumber, runNumber, mcChannelNumber, mu, weight, pt, eta, phi, e``
    (= raw cluster energy; η, φ from the track), ``charge``, the requested
    features (default: every shower shape and calorimeter variable present),
    ``truth_e`` in MC unless ``drop_truth`` (never in data), ``pair`` (0
    leading, 1 subleading) and ``m_ee`` (the pair's invariant mass from the raw
    cluster energies and the track angles). A ``selection`` applies to rows,
    so it can split pairs; select on pair-level columns (``m_ee``) to keep them.
    Other keywords as in :func:`~decorr_af.data.photon_table`.

    Examples
    --------
    >>> import tempfile
    >>> from decorr_af.data import generate
    >>> out = tempfile.mkdtemp()
    >>> _ = generate(out, sample="zee", kind="mc", events=200, seed=3)
    >>> df = electron_table(out, mode="eager")
    >>> bool((df.groupby("eventNumber").size() == 2).all()), sorted(set(df["pair"]))
    (True, [0, 1])
    """
    return _table(
        ELECTRON_TABLE,
        source,
        features=features,
        selection=selection,
        drop_truth=drop_truth,
        nonfinite=nonfinite,
        mode=mode,
        client=client,
        chunk_size=chunk_size,
        tree=tree,
        options={},
    )


def radiative_z_table(
    source: Source,
    *,
    features: Sequence[str] | None = None,
    selection: Selection = None,
    drop_truth: bool = False,
    nonfinite: NonFinitePolicy | str = NonFinitePolicy.RAISE,
    mode: ReadMode | str = ReadMode.DASK,
    client: Any = None,
    chunk_size: int = 200_000,
    tree: str | None = None,
) -> Any:
    """One row per photon candidate in events with exactly two opposite-charge muons (GeV).

    Columns as :func:`~decorr_af.data.photon_table` (in MC also
    ``truthType, truthOrigin, truth_e, is_prompt`` unless ``drop_truth``; never
    in data) plus ``m_mumu``, ``m_mumugamma`` (the photon taken massless with
    its raw cluster energy, the muons with their mass) and
    ``dr_min_mu_gamma`` (ΔR to the closer muon).

    Examples
    --------
    >>> import tempfile
    >>> from decorr_af.data import generate
    >>> out = tempfile.mkdtemp()
    >>> _ = generate(out, sample="zmumug", kind="data", events=300, seed=5)
    >>> df = radiative_z_table(out, mode="eager")
    >>> "is_prompt" in df.columns, bool((df["m_mumugamma"] > df["m_mumu"]).all())
    (False, True)
    """
    return _table(
        RADIATIVE_Z_TABLE,
        source,
        features=features,
        selection=selection,
        drop_truth=drop_truth,
        nonfinite=nonfinite,
        mode=mode,
        client=client,
        chunk_size=chunk_size,
        tree=tree,
        options={},
    )

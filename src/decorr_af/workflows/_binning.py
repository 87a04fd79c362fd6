"""Calibration binnings: k-means / Gaussian-mixture clusters or the |η| × pT × conversion grid.

A :class:`Binning` holds only numbers (standardisation, centres, mixture
parameters, grid edges, per-bin scale factors) and is saved as JSON; applying it
(:func:`assign_bins`) needs numpy only and gives every photon a valid bin.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError, InputFileError, MissingBranchError

__all__ = ["Binning", "assign_bins", "fit_binning", "prepare"]


def prepare(df: Any) -> Any:
    """Add the derived columns ``abs_eta``, ``log_pt`` and ``converted`` (0/1)."""
    df = df.reset_index(drop=True).copy()
    df["abs_eta"] = np.abs(df["eta"].to_numpy(np.float64))
    df["log_pt"] = np.log(np.maximum(df["pt"].to_numpy(np.float64), 1e-3))
    conv = df["converted"] if "converted" in df.columns else df["conversionType"] > 0
    df["converted"] = np.asarray(conv).astype(np.float64)
    return df


@dataclasses.dataclass(frozen=True)
class Binning:
    """A fitted binning (see :func:`fit_binning`); JSON round-trip via ``save``/``load``."""

    method: str
    features: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    centres: tuple[tuple[float, ...], ...] = ()
    variances: tuple[tuple[float, ...], ...] = ()  # gmm (diagonal)
    weights: tuple[float, ...] = ()  # gmm
    eta_edges: tuple[float, ...] = ()  # grid
    pt_edges: tuple[float, ...] = ()  # grid
    conversion_split: bool = True  # grid: separate unconverted / converted bins (ATLAS)
    scale_factors: dict = dataclasses.field(default_factory=dict)

    @property
    def n_bins(self) -> int:
        """Number of bins."""
        if self.method == "grid":
            n = (len(self.eta_edges) - 1) * (len(self.pt_edges) - 1)
            return 2 * n if self.conversion_split else n
        return len(self.centres)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        d = dataclasses.asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Binning:
        """Inverse of :meth:`to_dict`."""

        def tup(v: Any) -> Any:
            return tuple(tup(x) for x in v) if isinstance(v, list) else v

        try:
            return cls(**{k: (tup(v) if k != "scale_factors" else dict(v)) for k, v in d.items()})
        except TypeError as err:
            raise ConfigError(f"not a binning description: {err}") from err

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the binning as JSON (no pickle)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Binning:
        """Read a binning written by :meth:`save`."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except FileNotFoundError as err:
            raise InputFileError(f"binning file {path} does not exist") from err
        except json.JSONDecodeError as err:
            raise InputFileError(f"binning file {path} is not valid JSON: {err}") from err


def _matrix(table: Any, features: tuple[str, ...]) -> np.ndarray:
    missing = [f for f in features if f not in table.columns]
    if missing:
        raise MissingBranchError(f"binning feature(s) {missing} not in the table (use prepare())")
    x = table[list(features)].to_numpy(np.float64)
    return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)


def fit_binning(
    table: Any,
    *,
    method: str = "kmeans",
    n_bins: int = 16,
    features: tuple[str, ...] = ("abs_eta", "log_pt", "converted", "mu"),
    seed: int = 0,
    eta_edges: tuple[float, ...] = (0.0, 0.6, 1.37, 1.81, 2.37),
    pt_edges: tuple[float, ...] = (0.0, 30.0, 45.0, 80.0, 1e5),
    conversion_split: bool = True,
) -> Binning:
    """Fit a binning on a (prepared) photon table.

    ``"kmeans"``/``"gmm"`` cluster the standardised ``features`` into ``n_bins``;
    ``"grid"`` is the |η| × pT grid of ``eta_edges`` × ``pt_edges``, split into
    unconverted and converted photons unless ``conversion_split=False`` (``n_bins``
    ignored): ATLAS photon bins always separate conversions, so the grid a
    clustering is compared with must too.

    Examples
    --------
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> t = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    >>> b = fit_binning(t, method="kmeans", n_bins=3, features=("a", "b"))
    >>> sorted(set(assign_bins(b, t).tolist()))
    [0, 1, 2]
    """
    if method == "grid":
        return Binning(method="grid", eta_edges=tuple(map(float, eta_edges)),
                       pt_edges=tuple(map(float, pt_edges)),
                       conversion_split=bool(conversion_split))  # fmt: skip
    if method not in ("kmeans", "gmm"):
        raise ConfigError(f"parameter 'method' must be kmeans, gmm or grid, got {method!r}")
    x = _matrix(table, tuple(features))
    if len(x) < n_bins:
        raise ConfigError(f"cannot make {n_bins} bins from {len(x)} photons")
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    z = (x - mean) / scale
    common = {"method": method, "features": tuple(features), "mean": tuple(mean.tolist()),
              "scale": tuple(scale.tolist())}  # fmt: skip
    if method == "kmeans":
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=n_bins, n_init=4, random_state=seed).fit(z)
        return Binning(**common, centres=tuple(map(tuple, km.cluster_centers_.tolist())))
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(n_components=n_bins, covariance_type="diag", reg_covar=1e-3,
                         random_state=seed, n_init=1).fit(z)  # fmt: skip
    return Binning(**common, centres=tuple(map(tuple, gm.means_.tolist())),
                   variances=tuple(map(tuple, gm.covariances_.tolist())),
                   weights=tuple(gm.weights_.tolist()))  # fmt: skip


def assign_bins(model: Binning, table: Any) -> np.ndarray:
    """Bin index (``0 .. n_bins-1``) of every photon of ``table``.

    Grid values outside the edges go to the first/last bin (bin index
    ``2 × (i_η n_pT + i_pT) + converted`` with the conversion split); clusters use
    the nearest centre (k-means) or the most probable component (mixture).

    Examples
    --------
    >>> import pandas as pd
    >>> g = fit_binning(None, method="grid", eta_edges=(0, 1, 2), pt_edges=(0, 50, 100))
    >>> t = pd.DataFrame({"abs_eta": [0.5, 1.5, 9.0], "pt": [10, 60, 500], "converted": [0, 0, 1]})
    >>> assign_bins(g, t).tolist()
    [0, 6, 7]
    """
    if isinstance(model, dict):
        model = Binning.from_dict(model)
    if model.method == "grid":
        need = ("abs_eta", "pt", "converted") if model.conversion_split else ("abs_eta", "pt")
        cols = [c for c in need if c not in table.columns]
        if cols:
            raise MissingBranchError(f"grid binning needs column(s) {cols} (use prepare())")
        e, p = np.asarray(model.eta_edges), np.asarray(model.pt_edges)
        ie = np.clip(np.searchsorted(e, table["abs_eta"].to_numpy(), "right") - 1, 0, len(e) - 2)
        ip = np.clip(np.searchsorted(p, table["pt"].to_numpy(), "right") - 1, 0, len(p) - 2)
        idx = ie * (len(p) - 1) + ip
        if model.conversion_split:
            idx = 2 * idx + (table["converted"].to_numpy() > 0)
        return idx.astype(np.int64)
    z = (_matrix(table, model.features) - np.asarray(model.mean)) / np.asarray(model.scale)
    c = np.asarray(model.centres)
    d2 = (z[:, None, :] - c[None, :, :]) ** 2
    if model.method == "kmeans":
        return np.argmin(d2.sum(axis=2), axis=1).astype(np.int64)
    var = np.asarray(model.variances)
    logp = np.log(np.asarray(model.weights)) - 0.5 * (
        (d2 / var[None]).sum(axis=2) + np.log(2 * np.pi * var).sum(axis=1)[None]
    )
    return np.argmax(logp, axis=1).astype(np.int64)

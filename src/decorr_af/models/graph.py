"""Set / graph estimators over the calorimeter cells of each photon (a :class:`CellSet`).

:class:`GraphClassifier` (prompt vs fake) and :class:`GraphRegressor` (e.g.
``E_true / E_raw``) have the API of the MLP estimators —
``fit(X, y, protected=..., sample_weight=..., domain_X=..., penalty_weight=...)`` with
every penalty of :mod:`decorr_af.decorrelation.penalties` — but ``X`` (and
``domain_X``) is a :class:`~decorr_af.columnar.cells.CellSet`.

How the shared training loop is reused unchanged: the cells of all photons (the
training ones, then the ``domain_X`` ones) are standardised and kept once on the
device in a :class:`CellStore`; the loop's "features" are the photon *indices*
``(n, 1)``, and the trained module (:class:`IndexedCellModel`) gathers the cells of
the photons of each minibatch (a ragged batch: flat cells plus segment ids, no
padding) and runs the cell network of :mod:`decorr_af.nets_graph`. Minibatch
slicing, domain rows, penalty top-up rows and validation splits are all index
operations, so DisCo, domain-DisCo, the adversaries, the warm-up and early
stopping work as for the MLP.

Cell features (:class:`CellTransform`): the named columns, plus ``log_<name>`` of
``log_features`` (the energy, clipped at ``1e-6``), absolute ``eta`` / ``phi``
replaced by ``deta`` / ``dphi`` relative to the photon's energy-weighted centre,
all standardised with the training mean / std (stored); per-photon ``globals`` are
standardised and enter the head after pooling. EdgeConv's kNN graph (``k``
neighbours on the standardised ``graph_features``) is computed within each photon
once per fit / predict call (:func:`~decorr_af.nets_graph.knn_graph`) and gathered
per minibatch, ``n_cells × k`` indices.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin

from decorr_af._compat import optional_import
from decorr_af.columnar.cells import CellSet
from decorr_af.decorrelation.penalties import Penalty
from decorr_af.errors import ConfigError
from decorr_af.models._binary import BinaryClassifierOutput
from decorr_af.models._inputs import FitInputs, check_number
from decorr_af.models._regression import StandardizedTargetOutput
from decorr_af.models.cell_features import (
    CELL_FEATURES,
    GLOBAL_FEATURES,
    N_LAYERS,
    CellContext,
)

torch = optional_import("torch", "torch")

from decorr_af.models.estimators import _DecorrelatedMLP, _FitFeatures, _init_args  # noqa: E402
from decorr_af.models.training import LossName  # noqa: E402
from decorr_af.nets_graph import POOLINGS, check_pooling, graph_net_class, knn_graph  # noqa: E402

__all__ = [
    "CellStore",
    "CellTransform",
    "GraphClassifier",
    "GraphRegressor",
    "IndexedCellModel",
]

#: photons per forward pass at prediction time
PREDICT_PHOTONS = 2048
_DEFAULT_GRAPH = ("deta", "dphi", "layer")


def _segment_centre(x: np.ndarray, w: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    """Weighted mean of ``x`` per photon (plain mean where the weights sum to 0)."""
    sw = np.bincount(seg, weights=w, minlength=n)
    cnt = np.bincount(seg, minlength=n).astype(np.float64)
    mean_w = np.bincount(seg, weights=w * x, minlength=n) / np.where(sw > 0, sw, 1.0)
    mean = np.bincount(seg, weights=x, minlength=n) / np.maximum(cnt, 1.0)
    return np.where(sw > 0, mean_w, mean)


@dataclasses.dataclass
class CellTransform:
    """Cell (and global) input features of the graph models, standardised.

    Parameters
    ----------
    names
        The raw cell columns read from the :class:`CellSet` (by name).
    log_features
        Columns of ``names`` that also enter as ``log_<name>`` (clipped at 1e-6).
    global_names
        Raw per-photon ``globals`` columns read (by name).
    derived
        Registered derived cell features
        (:data:`~decorr_af.models.cell_features.CELL_FEATURES`), after the raw ones.
    global_derived
        Registered derived per-photon features
        (:data:`~decorr_af.models.cell_features.GLOBAL_FEATURES`), after the raw ones.
    mean, scale, global_mean, global_scale
        Standardisation (set by :meth:`fit`; 0 / 1 for the columns of derived
        features registered with ``standardize=False``).

    Examples
    --------
    >>> cs = CellSet(np.array([0, 2, 3]), np.array([[1.0, 0.1], [3.0, 0.3], [2.0, 0.0]]),
    ...              ("e", "deta"))
    >>> t = CellTransform.fit(cs, log_features=("e",))
    >>> t.columns
    ('e', 'deta', 'log_e')
    >>> t.apply(cs)[0].mean(axis=0).round(6).tolist()
    [0.0, 0.0, 0.0]
    >>> CellTransform.fit(cs, columns=("e", "energy_fraction"), log_features=()).columns
    ('e', 'energy_fraction')
    """

    names: tuple[str, ...]
    log_features: tuple[str, ...] = ()
    global_names: tuple[str, ...] = ()
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    global_mean: np.ndarray | None = None
    global_scale: np.ndarray | None = None
    derived: tuple[str, ...] = ()
    global_derived: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the model's cell inputs (after ``eta``/``phi`` → ``deta``/``dphi``)."""
        rel = {"eta": "deta", "phi": "dphi"}
        return (
            tuple(rel.get(c, c) for c in self.names)
            + tuple(f"log_{c}" for c in self.log_features)
            + tuple(c for d in self.derived for c in CELL_FEATURES[d].columns)
        )

    @property
    def global_columns(self) -> tuple[str, ...]:
        """Names of the model's per-photon inputs."""
        return self.global_names + self.global_derived

    @classmethod
    def fit(
        cls,
        cells: CellSet,
        *,
        log_features: Sequence[str] = ("e",),
        columns: Any = None,
        global_columns: Any = None,
    ) -> CellTransform:
        """Choose the columns of ``cells`` and fit the standardisation on them.

        ``columns`` / ``global_columns`` (default: every raw column) mix raw
        column names and registered derived features.
        """
        names = tuple(cells.names if columns is None else columns)
        known = set(cells.names) | set(CELL_FEATURES)
        missing = [c for c in names if c not in known]
        if missing:
            raise ConfigError(
                f"parameter 'cell_features': X has no cell column(s) {missing} and they are "
                f"no registered cell feature ({sorted(CELL_FEATURES)})"
            )
        gnames = tuple(cells.global_names if global_columns is None else global_columns)
        gknown = set(cells.global_names) | set(GLOBAL_FEATURES)
        gmissing = [c for c in gnames if c not in gknown]
        if gmissing:
            raise ConfigError(
                f"parameter 'global_features': X has no globals column(s) {gmissing} and they "
                f"are no registered global feature ({sorted(GLOBAL_FEATURES)})"
            )
        raw = tuple(c for c in names if c in cells.names)
        logs = tuple(c for c in log_features if c in raw)
        t = cls(
            raw,
            logs,
            tuple(c for c in gnames if c in cells.global_names),
            derived=tuple(c for c in names if c not in cells.names),
            global_derived=tuple(c for c in gnames if c not in cells.global_names),
        )
        x, glob = t._raw(cells)
        t.mean, t.scale = x.mean(axis=0), _safe(x.std(axis=0))
        keep = np.concatenate(
            [
                np.ones(len(raw) + len(logs), bool),
                *[
                    np.full(len(CELL_FEATURES[d].columns), CELL_FEATURES[d].standardize)
                    for d in t.derived
                ],
            ]
        )
        t.mean, t.scale = np.where(keep, t.mean, 0.0), np.where(keep, t.scale, 1.0)
        if glob is not None:
            t.global_mean, t.global_scale = glob.mean(axis=0), _safe(glob.std(axis=0))
        return t

    def _raw(self, cells: CellSet) -> tuple[np.ndarray, np.ndarray | None]:
        if not isinstance(cells, CellSet):
            raise ConfigError(f"X must be a decorr_af.columnar.cells.CellSet, got {type(cells)}")
        cols = [np.asarray(cells.column(c), dtype=np.float64) for c in self.names]
        if any(c in self.names for c in ("eta", "phi")):
            seg, n = cells.segment_ids, len(cells)
            w = np.clip(cells.column("e"), 0, None) if "e" in cells.names else np.ones(len(seg))
            for i, c in enumerate(self.names):
                if c == "eta":
                    cols[i] = cols[i] - _segment_centre(cols[i], w, seg, n)[seg]
                elif c == "phi":
                    # centre of the wrapped angle, then wrap the difference to (-π, π]
                    ref = cols[i][cells.offsets[:-1].clip(max=max(len(seg) - 1, 0))]
                    d = np.angle(np.exp(1j * (cols[i] - ref[seg])))
                    d = d - _segment_centre(d, w, seg, n)[seg]
                    cols[i] = np.angle(np.exp(1j * d))
        cols += [np.log(np.clip(cells.column(c), 1e-6, None)) for c in self.log_features]
        if self.derived:
            ctx = CellContext(cells)
            for d in self.derived:
                cols += list(CELL_FEATURES[d].compute(ctx).T)
        raw = np.column_stack(cols) if cols else np.zeros((len(cells.features), 0))
        glob = None
        if self.global_columns:
            if cells.globals is None:
                raise ConfigError(
                    f"X has no globals; the model was fitted with {self.global_columns}"
                )
            g_all = np.asarray(cells.globals, dtype=np.float64)

            def by_name(name: str) -> np.ndarray:
                where = "globals (parameter 'global_features')"
                return g_all[:, _index(cells.global_names, name, where)]

            glob = np.column_stack(
                [by_name(g) for g in self.global_names]
                + [GLOBAL_FEATURES[g].compute(by_name) for g in self.global_derived]
            )
        for name, arr in (("cell features", raw), ("globals", glob)):
            if arr is not None and not np.isfinite(arr).all():
                raise ConfigError(f"X: {name} contain NaN or infinite values")
        return raw, glob

    def apply(self, cells: CellSet) -> tuple[np.ndarray, np.ndarray | None]:
        """Standardised ``(cell features, globals)`` of ``cells`` as float32."""
        raw, glob = self._raw(cells)
        x = ((raw - self.mean) / self.scale).astype(np.float32)
        if glob is not None:
            glob = ((glob - self.global_mean) / self.global_scale).astype(np.float32)
        return x, glob

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        out: dict[str, Any] = {
            "names": list(self.names),
            "log_features": list(self.log_features),
            "global_names": list(self.global_names),
            "derived": list(self.derived),
            "global_derived": list(self.global_derived),
        }
        for key in ("mean", "scale", "global_mean", "global_scale"):
            val = getattr(self, key)
            out[key] = None if val is None else np.asarray(val).tolist()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CellTransform:
        """Inverse of :meth:`to_dict` (states saved before derived features load too)."""
        arr = {
            k: None if d.get(k) is None else np.asarray(d[k], dtype=np.float64)
            for k in ("mean", "scale", "global_mean", "global_scale")
        }
        return cls(
            tuple(d["names"]),
            tuple(d["log_features"]),
            tuple(d["global_names"]),
            derived=tuple(d.get("derived", ())),
            global_derived=tuple(d.get("global_derived", ())),
            **arr,
        )


def _safe(scale: np.ndarray) -> np.ndarray:
    return np.where(scale > 0, scale, 1.0)


def _index(names: Sequence[str], name: str, what: str) -> int:
    try:
        return list(names).index(name)
    except ValueError:
        raise ConfigError(f"X has no {what} column {name!r} (has {list(names)})") from None


def concat_cells(a: CellSet, b: CellSet) -> CellSet:
    """The photons of ``a`` followed by those of ``b`` (same column names)."""
    if a.names != b.names or a.global_names != b.global_names:
        raise ConfigError(
            f"domain_X cell columns {b.names}/{b.global_names} differ from X's "
            f"{a.names}/{a.global_names}"
        )
    glob = None if a.globals is None else np.concatenate([a.globals, b.globals])
    return CellSet(
        np.concatenate([a.offsets, b.offsets[1:] + a.offsets[-1]]),
        np.concatenate([a.features, b.features]),
        a.names,
        glob,
        a.global_names,
    )


class CellStore:
    """Standardised cells of a set of photons on one device, gathered by photon index.

    ``neighbours`` (when ``k`` is given) holds each cell's ``k`` nearest cells of
    the same photon, relative to the photon's first cell (int32). With ``layers``
    (the integer layer of every cell, ``0 … n_layers - 1``) each photon's cells are
    sorted by layer once, here, and ``layer_counts`` ``(n, n_layers)`` kept for the
    per-layer poolings.
    """

    def __init__(
        self,
        x: np.ndarray,
        offsets: np.ndarray,
        globals: np.ndarray | None,
        *,
        device: Any,
        k: int | None = None,
        graph_columns: Sequence[int] = (),
        layers: np.ndarray | None = None,
        n_layers: int = N_LAYERS,
    ) -> None:
        self.layer_counts = None
        if layers is not None:
            n = len(offsets) - 1
            lay = np.asarray(layers).astype(np.int64)
            if len(lay) and (lay.min() < 0 or lay.max() >= n_layers):
                raise ConfigError(
                    f"X: cell column 'layer' must hold integers 0..{n_layers - 1} "
                    f"(got {lay.min()}..{lay.max()})"
                )
            seg = np.repeat(np.arange(n), np.diff(offsets))
            order = np.lexsort((lay, seg))  # stable: by photon, then layer
            x = np.asarray(x)[order]
            counts = np.bincount(seg * n_layers + lay[order], minlength=n * n_layers)
            self.layer_counts = torch.as_tensor(
                counts.reshape(n, n_layers), dtype=torch.int64, device=device
            )
        self.x = torch.as_tensor(x, dtype=torch.float32, device=device)
        self.offsets = torch.as_tensor(offsets, dtype=torch.int64, device=device)
        self.counts = self.offsets[1:] - self.offsets[:-1]
        self.globals = (
            None
            if globals is None
            else torch.as_tensor(globals, dtype=torch.float32, device=device)
        )
        self.neighbours = None
        if k is not None:
            coords = self.x[:, list(graph_columns)]
            self.neighbours = knn_graph(coords, self.offsets, int(k), dtype=torch.int32)

    def __len__(self) -> int:
        return len(self.counts)

    def gather(self, idx: torch.Tensor) -> tuple[Any, ...]:
        """``(cells, cell counts, neighbour rows, globals, per-layer counts)`` of photons ``idx``.

        The cells of each photon stay contiguous, in the order of ``idx``;
        neighbour rows index the returned cells; per-layer counts are flat
        ``(len(idx) × n_layers,)`` (``None`` without ``layers``).
        """
        idx = idx.reshape(-1).long()
        counts = self.counts[idx]
        n = len(idx)
        seg = torch.repeat_interleave(torch.arange(n, device=idx.device), counts)
        new_start = torch.cumsum(counts, 0) - counts
        rows = torch.arange(len(seg), device=idx.device) + (self.offsets[idx] - new_start)[seg]
        nb = None
        if self.neighbours is not None:
            nb = self.neighbours[rows].long() + new_start[seg].unsqueeze(1)
        glob = None if self.globals is None else self.globals[idx]
        lc = None if self.layer_counts is None else self.layer_counts[idx].reshape(-1)
        return self.x[rows], counts, nb, glob, lc


class IndexedCellModel(torch.nn.Module):
    """``forward(photon_indices (b, 1)) -> (b, 1)``: gathers from ``store`` and runs ``net``.

    ``store`` is a plain attribute (not in the ``state_dict``), set before use.
    """

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net
        self.store: CellStore | None = None

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        if self.store is None:
            raise ConfigError("IndexedCellModel has no cell store attached")
        x, counts, nb, glob, layer_counts = self.store.gather(idx)
        return self.net(x, counts, nb, glob, layer_counts)


#: ``__init__`` parameters of the graph estimators that the MLP ones do not have
_GRAPH_PARAMS = (
    "architecture",
    "head",
    "pooling",
    "pool_inputs",
    "aggregate",
    "k",
    "cell_features",
    "global_features",
    "log_features",
    "graph_features",
)


class _GraphEstimator(_DecorrelatedMLP):
    """Shared logic of the cell-set estimators (see :class:`GraphClassifier`)."""

    _default_loss: ClassVar[str]
    #: what ``fit`` / ``predict`` take as ``X``: a CellSet (workflows dispatch on it)
    input_kind: ClassVar[str] = "cells"

    def __init__(
        self,
        *,
        architecture: str = "edgeconv",
        hidden: Sequence[int] = (32, 32),
        head: Sequence[int] = (64,),
        pooling: Sequence[str] = ("sum", "mean", "max"),
        pool_inputs: bool = False,
        aggregate: str = "mean",
        k: int = 8,
        cell_features: Sequence[str] | None = None,
        global_features: Sequence[str] | None = None,
        log_features: Sequence[str] = ("e",),
        graph_features: Sequence[str] | None = None,
        activation: str = "relu",
        dropout: float = 0.0,
        loss: str = "auto",
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        epochs: int = 20,
        batch_size: int = 512,
        early_stopping: bool = False,
        validation_fraction: float = 0.2,
        patience: int = 5,
        device: Any = "auto",
        random_state: int | None = None,
        penalty: Penalty | None = None,
        penalty_warmup: float = 0.3,
        min_penalty_rows: int = 1024,
        verbose: bool = False,
    ) -> None:
        args = _init_args(locals())
        own = {k: args.pop(k) for k in _GRAPH_PARAMS}
        super().__init__(**args)
        del self.standardize  # cells are always standardised (CellTransform)
        for key, value in own.items():
            setattr(self, key, value)

    # ------------------------------------------------------------------ checks
    def _loss_name(self) -> str:
        return self._default_loss if self.loss == "auto" else self.loss

    def _check_params(self) -> None:
        super()._check_params()
        graph_net_class(self.architecture)
        check_pooling(self.pooling)
        check_number("k", self.k, low=1, integer=True)

    def _make_net(self, n_in: int, n_global: int) -> torch.nn.Module:
        cls = graph_net_class(self.architecture)
        net = cls(
            n_in,
            n_global,
            hidden=tuple(self.hidden),
            head=tuple(self.head),
            pooling=tuple(self.pooling) if not isinstance(self.pooling, str) else self.pooling,
            activation=self.activation,
            dropout=float(self.dropout),
            aggregate=self.aggregate,
            n_layers=N_LAYERS,
            pool_inputs=bool(self.pool_inputs),
        )
        return IndexedCellModel(net)

    def _needs_layers(self) -> bool:
        return any(POOLINGS[p].needs_layers for p in check_pooling(self.pooling))

    def _graph_columns(self) -> list[int]:
        cols = self.transform_.columns
        wanted = self.graph_features
        if wanted is None:
            wanted = [c for c in _DEFAULT_GRAPH if c in cols] or list(cols)
        missing = [c for c in wanted if c not in cols]
        if missing:
            raise ConfigError(f"parameter 'graph_features': {missing} not among {list(cols)}")
        return [cols.index(c) for c in wanted]

    def _store(self, cells: CellSet, device: Any) -> CellStore:
        x, glob = self.transform_.apply(cells)
        needs = graph_net_class(self.architecture).needs_graph
        layers = None
        if self._needs_layers():
            if "layer" not in cells.names:
                raise ConfigError(
                    f"parameter 'pooling': {list(check_pooling(self.pooling))} needs the cell "
                    f"column 'layer' (X has {list(cells.names)})"
                )
            layers = cells.column("layer")
        return CellStore(
            x,
            cells.offsets,
            glob,
            device=device,
            k=int(self.k) if needs else None,
            graph_columns=self._graph_columns() if needs else (),
            layers=layers,
        )

    # --------------------------------------------------------------------- fit
    def fit(
        self,
        X: CellSet,
        y: Any,
        *,
        protected: Any = None,
        sample_weight: Any = None,
        domain_X: CellSet | None = None,
        penalty_weight: Any = None,
    ) -> _GraphEstimator:
        """Train on the cells ``X`` (a :class:`CellSet`, one entry per photon); returns ``self``.

        The other arguments are those of the MLP estimators' ``fit``; ``domain_X``
        is a :class:`CellSet` with the same columns.
        """
        return super().fit(
            X,
            y,
            protected=protected,
            sample_weight=sample_weight,
            domain_X=domain_X,
            penalty_weight=penalty_weight,
        )

    # ------------------------------------------------------------- fit hooks
    def _fit_inputs(
        self, X: Any, y: Any, *, protected: Any, sample_weight: Any, domain_X: Any
    ) -> FitInputs:
        if not isinstance(X, CellSet):
            raise ConfigError(f"X must be a decorr_af.columnar.cells.CellSet, got {type(X)}")
        if domain_X is not None and not isinstance(domain_X, CellSet):
            raise ConfigError(f"domain_X must be a CellSet, got {type(domain_X)}")
        # the loop's features are photon indices: placeholders of the right length
        return super()._fit_inputs(
            np.zeros((len(X), 1)),
            y,
            protected=protected,
            sample_weight=sample_weight,
            domain_X=None if domain_X is None else np.zeros((len(domain_X), 1)),
        )

    def _fit_features(
        self, X: CellSet, domain_X: CellSet | None, inputs: FitInputs, device: Any
    ) -> _FitFeatures:
        self.transform_ = CellTransform.fit(
            X,
            log_features=tuple(self.log_features),
            columns=self.cell_features,
            global_columns=self.global_features,
        )
        self.n_features_in_ = len(self.transform_.names)
        everything = X if domain_X is None else concat_cells(X, domain_X)
        n = len(X)
        i64 = {"dtype": torch.int64, "device": device}
        return _FitFeatures(
            rows=lambda rows: torch.as_tensor(rows[:, None], **i64),
            domain_rows=lambda drows: torch.as_tensor(n + drows[:, None], **i64),
            context=self._store(everything, device),
        )

    def _fit_network(self, features: _FitFeatures) -> torch.nn.Module:
        glob = features.context.globals
        return self._make_net(features.context.x.shape[1], 0 if glob is None else glob.shape[1])

    def _network(self) -> torch.nn.Module:
        t = self.transform_
        return self._make_net(len(t.columns), len(t.global_columns))

    @contextlib.contextmanager
    def _attached(self, features: _FitFeatures) -> Iterator[None]:
        self.model_.store = features.context
        try:
            yield
        finally:
            self.model_.store = None  # free the cells; predict attaches its own

    def _restore_params(self) -> None:
        for key in (
            "head",
            "pooling",
            "log_features",
            "cell_features",
            "global_features",
            "graph_features",
        ):
            value = getattr(self, key)
            if isinstance(value, list):
                setattr(self, key, tuple(value))

    def _raw(self, X: CellSet, *, photons_per_batch: int = PREDICT_PHOTONS) -> np.ndarray:
        """Raw network output (logit / standardised prediction) as float64."""
        self._check_fitted()
        device = next(self.model_.parameters()).device
        store = self._store(X, device)
        self.model_.eval()
        self.model_.store = store
        try:
            with torch.inference_mode():
                idx = torch.arange(len(X), device=device)
                out = [
                    self.model_(idx[i : i + photons_per_batch])[:, 0]
                    for i in range(0, len(X), photons_per_batch)
                ]
        finally:
            self.model_.store = None
        if not out:
            return np.zeros(0)
        return torch.cat(out).double().cpu().numpy()

    # -------------------------------------------------------------------- I/O
    def _state(self) -> dict[str, Any]:
        return {"cells": self.transform_.to_dict()}

    def _set_state(self, state: dict[str, Any]) -> None:
        self.transform_ = CellTransform.from_dict(state["cells"])


class GraphClassifier(BinaryClassifierOutput, ClassifierMixin, _GraphEstimator):
    """Binary classifier over each photon's cells (Deep Sets or EdgeConv), any penalty.

    Parameters
    ----------
    architecture
        Cell network of :data:`decorr_af.nets_graph.GRAPH_NETS`: ``"edgeconv"``
        (EdgeConv layers on a kNN graph of the cells of each photon) or ``"deepsets"``.
    hidden
        Widths of the per-cell layers (φ of Deep Sets, the EdgeConv layers).
    head
        Hidden widths of the MLP after pooling (and the standardised globals).
    pooling
        Per-photon pooling(s) of :data:`~decorr_af.nets_graph.POOLINGS`, concatenated:
        ``"sum"``, ``"mean"``, ``"max"``, ``"layer_sum"`` (per calorimeter layer;
        needs the cell column ``layer``), ``"attention"``.
    pool_inputs
        Pool the (standardised) cell inputs next to the embeddings, so sums of
        input columns (energy fractions, one-hot layers) reach the head exactly.
    aggregate
        EdgeConv message aggregation, ``"mean"`` or ``"max"``.
    k
        Neighbours per cell of the EdgeConv graph.
    cell_features
        Cell inputs: raw columns of ``X.names`` and registered derived features of
        :data:`~decorr_af.models.cell_features.CELL_FEATURES` (default: all raw
        columns; :data:`~decorr_af.models.cell_features.PHYSICS_CELL_FEATURES` is
        the physics design of the ``cells_gnn`` presets).
    global_features
        Per-photon inputs: raw ``X.global_names`` and registered derived ones
        (``abs_eta``, ``log_e_raw``; default: all raw globals).
    log_features
        Columns that also enter as their logarithm (default the energy ``"e"``).
    graph_features
        Standardised columns spanning the kNN distance (default those of
        ``deta, dphi, layer`` present, else all).
    loss
        ``"auto"`` (``"bce"``) or ``"bce"``.
    batch_size
        Photons per minibatch (default 512; cells per step ≈ 512 × cells per photon).
    others
        As for :class:`~decorr_af.models.estimators.DecorrelatedClassifier`
        (penalty, warm-up, early stopping, device ``"auto"`` …).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> counts = rng.integers(5, 15, size=200)
    >>> cs = CellSet(np.r_[0, np.cumsum(counts)], rng.normal(size=(counts.sum(), 3)),
    ...              ("deta", "dphi", "e"))
    >>> y = (counts > 9).astype(int)
    >>> clf = GraphClassifier(hidden=(8,), head=(8,), epochs=2, device="cpu", random_state=0)
    >>> clf.fit(cs, y).predict_proba(cs).shape
    (200, 2)
    """

    _task = "classification"
    _losses = ("auto", LossName.BCE.value)
    _default_loss = LossName.BCE.value

    @staticmethod
    def _score_fn(out: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(out)


class GraphRegressor(StandardizedTargetOutput, RegressorMixin, _GraphEstimator):
    """Regressor over each photon's cells (e.g. ``E_true / E_raw``), any penalty.

    Same parameters as :class:`GraphClassifier`, except ``loss``: ``"auto"``
    (``"mse"``), ``"mse"``, ``"mae"``, ``"huber"`` or ``"logcosh"``.
    ``score`` is R².
    """

    _task = "regression"
    _losses = ("auto", *(v.value for v in LossName if v is not LossName.BCE))
    _default_loss = LossName.MSE.value

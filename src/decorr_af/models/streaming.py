"""Streaming (out-of-core) training of the torch estimators: batches read from a source.

In-memory ``fit`` collects the whole flat table in one process. ``fit_streaming``
instead reads the training rows chunk by chunk (Parquet row groups, dask-awkward
partitions, or array slices) and never holds more than a bounded shuffle buffer:

1. **First pass** (:func:`scan_source`): row count, running (Chan/Welford) moments of
   the features for the standardisation (the same unweighted mean and population
   standard deviation as ``fit``), the weighted moments of a regression target and
   the class labels of a classifier.
2. **Epochs**: chunks are visited in a seeded random order and pushed into a
   :class:`ShuffleBuffer` of ``buffer_rows`` rows; minibatches are drawn from the
   shuffled buffer, so rows of different chunks mix in one batch (a bounded shuffle,
   not a global permutation). Memory: ``buffer_rows + chunk + batch`` rows.
3. Every penalty is computed per batch exactly as in
   :func:`~decorr_af.models.training.train_network`: the same warm-up schedule
   (from the first-pass row count), the same :class:`PenaltyBatch`, adversary
   steps, domain rows (a second source streamed alongside, ``ceil(n_domain /
   n_batches)`` rows per step) and penalty-only rows (``min_penalty_rows``: extra
   penalised rows drawn from the buffer, forwarded for the penalty only).
4. The per-epoch monitor (``dcor2_<name>``) and the better-than-random check use
   a **subsample**: the first ``monitor_rows`` rows the epoch's shuffled batches
   deliver (a random sample of the epoch); the exact dCor² of all rows would need
   every score in memory. The monitor figures are thus estimates with a
   statistical error of order ``1 / sqrt(monitor_rows)``.

Not supported in streaming: early stopping (``early_stopping=True`` is refused with a
:class:`~decorr_af.errors.ConfigError`; use a fixed number of epochs).

Examples
--------
>>> import numpy as np
>>> from decorr_af.models import DecorrelatedClassifier
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(3000, 3)); y = (X[:, 0] + rng.normal(size=3000) > 0).astype(int)
>>> src = ArraySource(X, y, chunk_rows=500)
>>> clf = DecorrelatedClassifier(hidden=(8,), epochs=2, batch_size=256, device="cpu",
...                              random_state=0)
>>> clf = fit_streaming(clf, src, buffer_rows=1000)
>>> bool(clf.score(X, y) > 0.7), clf.history_["epoch"]
(True, [0.0, 1.0])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from decorr_af._compat import optional_import
from decorr_af.decorrelation.penalties import PenaltyBatch
from decorr_af.errors import ConfigError

torch = optional_import("torch", "torch")

from decorr_af.models._warmup import WarmupSchedule  # noqa: E402
from decorr_af.models.device import resolve_device  # noqa: E402
from decorr_af.models.training import (  # noqa: E402
    default_monitor,
    make_optimizer,
    optimiser_step,
    penalised_loss,
    per_event_loss,
)
from decorr_af.nets import MLP  # noqa: E402

__all__ = [
    "ArraySource",
    "Chunk",
    "ChunkSource",
    "ParquetSource",
    "PartitionSource",
    "RunningMoments",
    "ShuffleBuffer",
    "SourceSummary",
    "fit_streaming",
    "scan_source",
]


# ----------------------------------------------------------------------------- data
@dataclass
class Chunk:
    """Rows of one chunk (numpy). ``X`` may be a feature-only (domain) chunk."""

    X: np.ndarray
    y: np.ndarray | None = None
    weight: np.ndarray | None = None
    protected: np.ndarray | None = None
    penalty_weight: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.X)

    def fields(self) -> dict[str, np.ndarray]:
        """The non-``None`` arrays by name."""
        names = ("X", "y", "weight", "protected", "penalty_weight")
        return {k: getattr(self, k) for k in names if getattr(self, k) is not None}


class ChunkSource:
    """A re-readable sequence of :class:`Chunk` (``n_chunks``, ``read(i)``)."""

    n_chunks: int

    def read(self, i: int) -> Chunk:
        """Chunk ``i`` (``0 <= i < n_chunks``)."""
        raise NotImplementedError


def _chunk_from_columns(
    cols: Any,
    features: Sequence[str],
    target: str | None,
    weight: str | None,
    protected: Sequence[str],
    penalty_weight: str | None,
    where: str,
) -> Chunk:
    def col(name: str) -> np.ndarray:
        try:
            return np.asarray(cols[name], dtype=np.float64)
        except (KeyError, ValueError) as err:
            msg = f"{where}: column {name!r} missing or not numeric ({err})"
            raise ConfigError(msg) from None

    X = np.column_stack([col(f) for f in features])
    return Chunk(
        X=X,
        y=None if target is None else np.asarray(cols[target]),
        weight=None if weight is None else col(weight),
        protected=np.column_stack([col(p) for p in protected]) if protected else None,
        penalty_weight=None if penalty_weight is None else col(penalty_weight),
    )


@dataclass
class ArraySource(ChunkSource):
    """In-memory arrays served in chunks of ``chunk_rows`` rows (tests, small data)."""

    X: np.ndarray
    y: np.ndarray | None = None
    weight: np.ndarray | None = None
    protected: np.ndarray | None = None
    penalty_weight: np.ndarray | None = None
    chunk_rows: int = 65536

    def __post_init__(self) -> None:
        self.X = np.asarray(self.X, np.float64)
        if self.X.ndim == 1:
            self.X = self.X[:, None]
        if self.protected is not None:
            self.protected = np.asarray(self.protected, np.float64).reshape(len(self.X), -1)
        if int(self.chunk_rows) < 1:
            msg = f"chunk_rows={self.chunk_rows!r} must be an integer >= 1"
            raise ConfigError(msg)
        self.n_chunks = max(1, math.ceil(len(self.X) / int(self.chunk_rows)))

    def read(self, i: int) -> Chunk:
        sl = slice(i * int(self.chunk_rows), (i + 1) * int(self.chunk_rows))

        def part(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else np.asarray(a)[sl]

        return Chunk(
            X=self.X[sl],
            y=part(self.y),
            weight=part(self.weight),
            protected=part(self.protected),
            penalty_weight=part(self.penalty_weight),
        )


@dataclass
class ParquetSource(ChunkSource):
    """Parquet files read one row group at a time (``pyarrow``).

    Parameters
    ----------
    paths
        Parquet files; every row group of every file is one chunk.
    features
        Feature column names (in order).
    target, weight, protected, penalty_weight
        Column names of the label/target, event weight, protected variable(s) and
        penalty weight (``None`` / empty: absent).
    """

    paths: Sequence[Any]
    features: Sequence[str]
    target: str | None = None
    weight: str | None = None
    protected: Sequence[str] = ()
    penalty_weight: str | None = None
    _index: list[tuple[int, int]] = field(init=False, repr=False, default_factory=list)

    def __post_init__(self) -> None:
        pq = optional_import("pyarrow.parquet", "pyarrow")
        self.paths = [str(p) for p in self.paths]
        if not self.paths:
            msg = "ParquetSource needs at least one file in paths"
            raise ConfigError(msg)
        for k, p in enumerate(self.paths):
            try:
                meta = pq.ParquetFile(p).metadata
            except (OSError, ValueError) as err:
                msg = f"ParquetSource: cannot read {p!r}: {err}"
                raise ConfigError(msg) from None
            self._index.extend((k, g) for g in range(meta.num_row_groups))
        self.n_chunks = len(self._index)

    def _columns(self) -> list[str]:
        names = [*self.features, *self.protected]
        names += [c for c in (self.target, self.weight, self.penalty_weight) if c is not None]
        return list(dict.fromkeys(names))

    def read(self, i: int) -> Chunk:
        pq = optional_import("pyarrow.parquet", "pyarrow")
        k, g = self._index[i]
        table = pq.ParquetFile(self.paths[k]).read_row_group(g, columns=self._columns())
        cols = {name: table.column(name).to_numpy() for name in table.column_names}
        where = f"{self.paths[k]} row group {g}"
        return _chunk_from_columns(
            cols, self.features, self.target, self.weight, self.protected, self.penalty_weight, where
        )  # fmt: skip


@dataclass
class PartitionSource(ChunkSource):
    """Chunks from a list of partitions (callables returning a mapping of columns).

    :meth:`from_dask_awkward` wraps a dask-awkward record array: partition ``i`` is
    computed on demand (``array.partitions[i].compute()``).
    """

    partitions: Sequence[Callable[[], Any]]
    features: Sequence[str]
    target: str | None = None
    weight: str | None = None
    protected: Sequence[str] = ()
    penalty_weight: str | None = None

    def __post_init__(self) -> None:
        self.n_chunks = len(self.partitions)
        if self.n_chunks == 0:
            msg = "PartitionSource needs at least one partition"
            raise ConfigError(msg)

    @classmethod
    def from_dask_awkward(cls, array: Any, features: Sequence[str], **columns: Any) -> PartitionSource:  # fmt: skip
        """Partitions of a dask-awkward record array (fields named as the columns)."""

        def loader(i: int) -> Callable[[], Any]:
            def load() -> Any:
                part = array.partitions[i].compute()
                return {name: np.asarray(part[name]) for name in part.fields}

            return load

        return cls([loader(i) for i in range(array.npartitions)], features, **columns)

    def read(self, i: int) -> Chunk:
        cols = self.partitions[i]()
        return _chunk_from_columns(
            cols, self.features, self.target, self.weight, self.protected, self.penalty_weight,
            f"partition {i}",
        )  # fmt: skip


# ------------------------------------------------------------------------ statistics
@dataclass
class RunningMoments:
    """Running weighted mean and variance per column (Chan et al. merge).

    Examples
    --------
    >>> x = np.arange(10.0).reshape(5, 2)
    >>> m = RunningMoments()
    >>> m.update(x[:2]); m.update(x[2:])
    >>> np.allclose(m.mean, x.mean(0)), np.allclose(m.std, x.std(0))
    (True, True)
    """

    total: float = 0.0
    mean: Any = 0.0
    m2: Any = 0.0

    def update(self, x: np.ndarray, w: np.ndarray | None = None) -> None:
        """Add rows ``x`` (``(n,)`` or ``(n, d)``) with optional weights ``w``."""
        x = np.asarray(x, np.float64)
        w = np.ones(len(x)) if w is None else np.asarray(w, np.float64)
        tb = float(w.sum())
        if tb <= 0:
            return
        wx = w.reshape(-1, *([1] * (x.ndim - 1)))
        mb = (wx * x).sum(axis=0) / tb
        m2b = (wx * (x - mb) ** 2).sum(axis=0)
        ta = self.total
        delta = mb - self.mean
        self.total = ta + tb
        self.mean = self.mean + delta * tb / self.total
        self.m2 = self.m2 + m2b + delta**2 * ta * tb / self.total

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation (``ddof=0``)."""
        return np.sqrt(np.asarray(self.m2) / max(self.total, 1e-300))


@dataclass
class SourceSummary:
    """What the first pass over a source learns."""

    n_rows: int
    n_features: int
    x: RunningMoments
    y: RunningMoments
    classes: np.ndarray | None
    n_protected: int
    sample: dict[str, np.ndarray] = field(default_factory=dict)


def scan_source(
    source: ChunkSource,
    *,
    classification: bool | None = None,
    sample_rows: int = 100_000,
    seed: int = 0,
) -> SourceSummary:
    """First streaming pass: counts, feature / target moments and class labels.

    ``sample`` holds a uniform random sample (priority sampling) of at most
    ``sample_rows`` rows of ``y``, ``weight``, ``protected`` and ``penalty_weight``,
    handed to ``penalty.setup`` (e.g. the adversary's protected-variable scale).
    """
    x, yw = RunningMoments(), RunningMoments()
    rng = np.random.default_rng([int(seed), 2718])
    sample: dict[str, np.ndarray] = {}
    n, d, k, labels = 0, None, 0, set()
    for i in range(source.n_chunks):
        c = source.read(i)
        if len(c) == 0:
            continue
        if d is not None and c.X.shape[1] != d:
            msg = f"chunk {i} has {c.X.shape[1]} features, the first chunk had {d}"
            raise ConfigError(msg)
        d = c.X.shape[1]
        if not np.isfinite(c.X).all():
            msg = f"chunk {i}: X contains NaN or infinite values"
            raise ConfigError(msg)
        x.update(c.X)
        if c.y is not None:
            if classification:
                labels.update(np.unique(c.y).tolist())
            else:
                w = np.ones(len(c)) if c.weight is None else c.weight
                yw.update(np.asarray(c.y, np.float64), w)
        k = 0 if c.protected is None else c.protected.shape[1]
        n += len(c)
        part = {name: v for name, v in c.fields().items() if name != "X"}
        part["key"] = rng.random(len(c))
        if sample:
            part = {name: np.concatenate([sample[name], part[name]]) for name in sample}
        if len(part["key"]) > sample_rows:
            keep = np.argpartition(part["key"], sample_rows - 1)[:sample_rows]
            part = {name: v[np.sort(keep)] for name, v in part.items()}
        sample = part
    if d is None:
        msg = "the source holds no rows"
        raise ConfigError(msg)
    classes = None
    if classification:
        classes = np.array(sorted(labels))
        if len(classes) != 2:
            msg = f"y must have exactly two classes, got {len(classes)}: {classes[:5]}"
            raise ConfigError(msg)
    sample.pop("key", None)
    return SourceSummary(n, d, x, yw, classes, k, sample)


# -------------------------------------------------------------------------- shuffle
class ShuffleBuffer:
    """Seeded, bounded shuffle across chunks; yields ``(batch, buffer)`` field dicts.

    Chunks are read in a random order; once the buffer holds ``buffer_rows +
    batch_size`` rows it is permuted and batches are taken from its front until
    ``buffer_rows // 2`` rows remain, which mix with the next chunks.

    Examples
    --------
    >>> src = ArraySource(np.arange(20.0), chunk_rows=5)
    >>> sb = ShuffleBuffer(src, batch_size=4, buffer_rows=8, seed=0)
    >>> rows = np.concatenate([b["X"][:, 0] for b, _ in sb.epoch(0)])
    >>> sorted(rows.tolist()) == list(range(20)), rows[:5].tolist() != [0, 1, 2, 3, 4]
    (True, True)
    """

    def __init__(self, source: ChunkSource, *, batch_size: int, buffer_rows: int, seed: int) -> None:  # fmt: skip
        if int(buffer_rows) < 1:
            msg = f"buffer_rows={buffer_rows!r} must be an integer >= 1"
            raise ConfigError(msg)
        self.source = source
        self.batch_size = int(batch_size)
        self.buffer_rows = int(buffer_rows)
        self.seed = int(seed)

    def epoch(self, epoch: int) -> Iterator[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
        """The shuffled batches of one pass (and the buffer left after each batch)."""
        rng = np.random.default_rng([self.seed, int(epoch)])
        buf: dict[str, np.ndarray] = {}
        keep = self.buffer_rows // 2
        for ci in rng.permutation(self.source.n_chunks):
            new = self.source.read(int(ci)).fields()
            buf = new if not buf else {k: np.concatenate([buf[k], new[k]]) for k in buf}
            if len(buf["X"]) >= self.buffer_rows + self.batch_size:
                perm = rng.permutation(len(buf["X"]))
                buf = {k: v[perm] for k, v in buf.items()}
                while len(buf["X"]) - self.batch_size >= keep:
                    batch = {k: v[: self.batch_size] for k, v in buf.items()}
                    buf = {k: v[self.batch_size :] for k, v in buf.items()}
                    yield batch, buf
        if buf and len(buf["X"]):
            perm = rng.permutation(len(buf["X"]))
            buf = {k: v[perm] for k, v in buf.items()}
            while len(buf["X"]):
                batch = {k: v[: self.batch_size] for k, v in buf.items()}
                buf = {k: v[self.batch_size :] for k, v in buf.items()}
                yield batch, batch if not len(buf["X"]) else buf


# ---------------------------------------------------------------------------- fit
def fit_streaming(
    estimator: Any,
    source: ChunkSource,
    *,
    domain: ChunkSource | None = None,
    buffer_rows: int = 262_144,
    monitor_rows: int = 100_000,
) -> Any:
    """Fit a :class:`~decorr_af.models.DecorrelatedClassifier` / ``Regressor`` from a stream.

    Parameters
    ----------
    estimator
        An (unfitted or fitted) torch estimator; its hyper-parameters are used and its
        fitted attributes set, as ``fit`` would (returned).
    source
        The training rows (:class:`ChunkSource` with ``y``; ``protected`` for
        protected-variable penalties).
    domain
        Unlabelled domain rows (features only) for domain penalties.
    buffer_rows
        Rows of the shuffle buffer (memory bound; larger mixes better).
    monitor_rows
        Rows of the per-epoch monitor subsample (module notes).
    """
    est = estimator
    est._check_params()
    if est.early_stopping:
        msg = "early_stopping=True is not supported by streaming fits; use a fixed number of epochs"
        raise ConfigError(msg)
    classification = est._task == "classification"
    summary = scan_source(
        source, classification=classification, sample_rows=int(monitor_rows), seed=int(est.random_state or 0)
    )  # fmt: skip
    pen = est.penalty
    if pen is not None:
        pen.validate()
        if pen.requires == "protected" and summary.n_protected == 0:
            msg = f"penalty {type(pen).__name__} needs protected columns in the source"
            raise ConfigError(msg)
        if pen.requires == "domain" and domain is None:
            msg = f"penalty {type(pen).__name__} needs a domain= source"
            raise ConfigError(msg)
    seed = (
        int(np.random.default_rng().integers(2**31))
        if est.random_state is None
        else int(est.random_state)
    )
    device = resolve_device(est.device)
    d = summary.n_features
    est.n_features_in_ = d
    est.protected_names_ = _names(
        getattr(source, "protected", None), summary.n_protected, "protected"
    )
    features = getattr(source, "features", None)
    if isinstance(features, list | tuple):
        est.feature_names_in_ = np.asarray([str(f) for f in features], dtype=object)
    elif hasattr(est, "feature_names_in_"):  # a refit: no stale names of an earlier fit
        del est.feature_names_in_
    est.x_mean_ = np.asarray(summary.x.mean) if est.standardize else np.zeros(d)
    scale = summary.x.std if est.standardize else np.ones(d)
    est.x_scale_ = np.where(scale > 0, scale, 1.0)
    if classification:
        est.classes_ = summary.classes
    else:
        est.y_mean_ = float(summary.y.mean)
        sd = float(summary.y.std)
        est.y_scale_ = sd if sd > 0 else 1.0

    def target(y: np.ndarray) -> np.ndarray:
        if classification:
            return (y == est.classes_[1]).astype(np.float64)
        return (np.asarray(y, np.float64) - est.y_mean_) / est.y_scale_

    torch.manual_seed(seed)
    model = MLP(d, 1, hidden=est.hidden, activation=est.activation, dropout=float(est.dropout))
    model = model.to(device)
    est.model_ = model
    active = pen is not None and float(pen.strength) > 0
    est.penalty_ = None
    if pen is not None:
        est.penalty_ = pen = pen.clone()
        # setup sees the first pass's random sample of rows (not all of them)
        smp = summary.sample
        pw = smp.get("penalty_weight", smp.get("weight"))
        pen.setup(
            output_dim=1,
            device=device,
            task=est._task,
            y=target(smp["y"]) if classification and "y" in smp else None,
            weight=np.ones(len(smp["y"])) if pw is None and "y" in smp else pw,
            protected=smp.get("protected"),
            seed=seed,
        )
    use_domain = active and pen.requires == "domain" and domain is not None
    monitor = pen
    if monitor is None and summary.n_protected:
        monitor = default_monitor(est._task)
    elif monitor is not None and monitor.requires == "domain" and not use_domain:
        monitor = None
    bs = int(est.batch_size)
    n_batches = max(1, math.ceil(summary.n_rows / bs))
    epochs = int(est.epochs)
    schedule = WarmupSchedule.build(float(est.penalty_warmup) if active else 0.0, n_batches=n_batches, epochs=epochs)  # fmt: skip
    stream = ShuffleBuffer(source, batch_size=bs, buffer_rows=buffer_rows, seed=seed)
    dstream = None
    if use_domain:
        n_dom = sum(len(domain.read(i)) for i in range(domain.n_chunks))
        dbs = max(1, math.ceil(n_dom / n_batches))
        dstream = ShuffleBuffer(domain, batch_size=dbs, buffer_rows=buffer_rows, seed=seed + 104729)  # fmt: skip
    per_step = 0
    if active and not use_domain and summary.n_protected and int(est.min_penalty_rows) > 0:
        per_step = int(est.min_penalty_rows)  # refined per batch below
    main_loss = per_event_loss(est._loss_name())
    opt = make_optimizer(est.optimizer, model.parameters(), lr=float(est.lr), weight_decay=float(est.weight_decay))  # fmt: skip
    rng = np.random.default_rng(seed + 7919)
    f32 = {"dtype": torch.float32, "device": device}
    history: dict[str, list[float]] = {}
    step = 0

    def log(key: str, value: float) -> None:
        history.setdefault(key, []).append(float(value))

    def tens(a: np.ndarray) -> Any:
        return torch.as_tensor(a, **f32)

    for epoch in range(epochs):
        model.train()
        if active:
            pen.start_epoch(epoch)
        sums = torch.zeros(4, device=device, dtype=torch.float64)
        mon: dict[str, list[np.ndarray]] = {}
        n_mon = 0
        dom_iter = None if dstream is None else dstream.epoch(epoch)
        nb = 0
        for batch, buf in stream.epoch(epoch):
            nb += 1
            xb = tens(est._scale(batch["X"]))
            tb = tens(target(batch["y"]))
            wb = tens(batch["weight"]) if "weight" in batch else torch.ones(len(xb), **f32)
            pwb = tens(batch["penalty_weight"]) if "penalty_weight" in batch else wb
            zb = tens(batch["protected"]) if "protected" in batch else None
            extra = None
            if per_step:
                extra = _extra_rows(pen, buf, target, per_step, len(xb), summary.n_rows, n_batches, rng)  # fmt: skip
            dom = None
            if dom_iter is not None:
                nxt = next(dom_iter, None)
                dom = None if nxt is None else tens(est._scale(nxt[0]["X"]))
            if dom is not None and len(dom):
                out = model(torch.cat([xb, dom]))[:, 0]
            elif extra is not None:
                out = model(torch.cat([xb, tens(est._scale(extra["X"]))]))[:, 0]
            else:
                out = model(xb)[:, 0]
            n_b = len(xb)
            out_mc = out[:n_b]
            total = main = (wb * main_loss(out_mc, tb)).sum() / wb.sum().clamp_min(1e-30)
            s = est._score_fn(out)
            if active:
                if dom is not None and len(dom):
                    nd = len(dom)
                    isd = torch.zeros(len(out), dtype=torch.bool, device=device)
                    isd[n_b:] = True
                    pb = PenaltyBatch(
                        weight=torch.cat([pwb, pwb.new_ones(nd)]),
                        y=torch.cat([tb, tb.new_zeros(nd)]) if classification else None,
                        is_domain=isd,
                    )
                else:
                    if extra is not None:
                        pwb = torch.cat([pwb, tens(extra["pw"])])
                        tb_all = torch.cat([tb, tens(extra["t"])])
                        zb = torch.cat([zb, tens(extra["protected"])])
                    else:
                        tb_all = tb
                    pb = PenaltyBatch(
                        weight=pwb, y=tb_all if classification else None, protected=zb
                    )
                total = penalised_loss(pen, s, pb, main, schedule.factor(step), sums)
            optimiser_step(opt, total, main, sums)
            step += 1
            if n_mon < int(monitor_rows):
                take = min(n_b, int(monitor_rows) - n_mon)
                part = {
                    "s": s[:take].detach().double().cpu().numpy(),
                    "out": out_mc[:take].detach().double().cpu().numpy(),
                    "t": tb[:take].double().cpu().numpy(),
                    "w": wb[:take].double().cpu().numpy(),
                    "pw": pwb[:take].double().cpu().numpy(),
                }
                if zb is not None:
                    part["z"] = zb[:take].double().cpu().numpy()
                for k, v in part.items():
                    mon.setdefault(k, []).append(v)
                n_mon += take
        if active:
            pen.end_epoch(epoch)
        means = (sums / max(nb, 1)).tolist()
        log("epoch", epoch)
        log("loss", means[0])
        log("main_loss", means[1])
        if active:
            log("penalty_loss", means[2])
            log("penalty_factor", schedule.factor(step - 1))
            if pen.adversarial:
                log("adversary_loss", means[3])
        sample = {k: np.concatenate(v) for k, v in mon.items()}
        if monitor is not None and monitor.requires != "domain" and "z" in sample:
            stats = monitor.monitor(
                sample["s"],
                y=sample["t"] if classification else None,
                weight=sample["pw"],
                protected=sample["z"],
                names=est.protected_names_,
            )
            for key, value in stats.items():
                log(key, value)
        if est.verbose:
            print(f"[decorr_af] streaming { {k: round(v[-1], 5) for k, v in history.items()} }")
    if active:
        history["warmup_epochs"] = [float(schedule.first_full_epoch)]
        history["monitor_rows"] = [float(min(int(monitor_rows), summary.n_rows))]
    model.eval()
    if active and classification:
        _warn_if_random(history, sample, float(pen.strength))
    est.history_ = history
    est.device_ = device
    return est


def _names(given: Any, k: int, stem: str) -> list[str] | None:
    """Column names of a source (``protected=("m",)``), else ``stem``/``stem<k>``."""
    if k == 0:
        return None
    if isinstance(given, list | tuple) and len(given) == k:
        return [str(g) for g in given]
    return [stem] if k == 1 else [f"{stem}{i}" for i in range(k)]


def _extra_rows(
    pen: Any,
    buf: dict[str, np.ndarray],
    target: Callable[[np.ndarray], np.ndarray],
    min_rows: int,
    n_batch: int,
    n_total: int,
    n_batches: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray] | None:
    """Penalty-only rows drawn from the shuffle buffer (``min_penalty_rows`` top-up)."""
    if "protected" not in buf or not len(buf["X"]):
        return None
    t = target(buf["y"])
    pw = buf["penalty_weight"] if "penalty_weight" in buf else buf.get("weight", np.ones(len(t)))
    mask = pen.rows(t, None, len(t))
    mask = (pw > 0) if mask is None else (np.asarray(mask, bool) & (pw > 0))
    frac = mask.mean()
    need = math.ceil(min_rows - frac * n_batch)
    eligible = np.flatnonzero(mask)
    if need <= 0 or not len(eligible):
        return None
    pick = eligible[rng.choice(len(eligible), size=min(need, len(eligible)), replace=False)]
    return {"X": buf["X"][pick], "t": t[pick], "pw": pw[pick], "protected": buf["protected"][pick]}


def _warn_if_random(history: dict[str, list[float]], sample: dict[str, np.ndarray], strength: float) -> None:  # fmt: skip
    """Training AUC of the last epoch's monitor subsample; warn if ≤ 0.5 (as ``fit``)."""
    import warnings

    from decorr_af.metrics import auc

    y, out, w = sample["t"], sample["out"], sample["w"]
    train_auc = float("nan") if y.min() == y.max() else float(auc(y, out, w))
    history["train_auc"] = [train_auc]
    if not train_auc > 0.5:
        msg = (
            f"the penalised classifier (λ = {strength:g}) is no better than random on its "
            f"training events (AUC {train_auc:.3f}); use a longer penalty_warmup or more epochs"
        )
        warnings.warn(msg, RuntimeWarning, stacklevel=3)

"""Penalty warm-up and penalty-row top-up of the torch training loop.

Why they exist (the DisCo-MLP collapse of notebook 02):

* dCor² is scale free, ``dCor²(a s, z) = dCor²(s, z)``, so its gradient with respect
  to the output grows like ``1 / std(s)``. A freshly initialised network has an
  almost constant output, hence a penalty gradient that dwarfs the cross-entropy
  gradient from the very first step: with λ = 20 the network never learns to
  classify (main loss stays above ln 2) and can end with an inverted score
  (AUC < 0.5). :class:`WarmupSchedule` multiplies the penalty by a factor that
  is 0 over the first half of the ``warmup`` fraction of the optimisation steps
  and ramps linearly to 1 over the second half, so the classifier has a
  spread-out output before the penalty takes over. That is the default λ
  schedule (:class:`HoldLinear`); ``penalty_warmup`` also takes ``"constant"``,
  ``"linear"`` and ``"exponential"`` schedules (:func:`make_schedule`), for every
  penalty of the torch loop.
* A minibatch of 512 events holds ~250 fakes; the batch estimate of dCor² then has
  a bias of order 1 / n_rows and a noisy gradient. :class:`PenaltyRowSampler` adds
  penalty-only rows (rows the penalty selects, e.g. the background, drawn without
  replacement from a cycling permutation) so that each step's penalty sees at least
  ``min_rows`` of them. Their main loss is not computed, so the classification
  gradient is that of the ordinary minibatch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from decorr_af.errors import ConfigError

if TYPE_CHECKING:  # the schedules serve the BDTs too, which need no torch import
    import torch

__all__ = [
    "Constant",
    "Exponential",
    "HoldLinear",
    "Linear",
    "PenaltyRowSampler",
    "Schedule",
    "WarmupSchedule",
    "make_schedule",
]


class Schedule:
    """Base class of the λ schedules: ``factor(u)`` of the warm-up progress ``u``.

    A schedule multiplies the penalty term by a factor that rises to 1 over the
    first ``fraction`` of the optimisation steps (``warm_steps = ceil(fraction ×
    n_batches × epochs)``) and stays at 1 after; :meth:`ramp` gives the factor at
    the progress ``u = step / warm_steps`` in [0, 1). Subclassing registers the
    schedule under its ``kind`` (see :func:`make_schedule`).

    Parameters
    ----------
    fraction
        Fraction of the training in [0, 1] spent warming up.
    """

    kind: ClassVar[str] = ""
    _registry: ClassVar[dict[str, type[Schedule]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Schedule._registry[cls.kind] = cls

    def __init__(self, fraction: float = 0.3) -> None:
        w = _as_float(fraction, "penalty_warmup.fraction")
        if not math.isfinite(w) or not 0.0 <= w <= 1.0:
            msg = f"penalty_warmup={fraction!r} must be a fraction of the training in [0, 1]"
            raise ConfigError(msg)
        self.fraction = w

    def ramp(self, u: float) -> float:
        """The factor at warm-up progress ``u`` in [0, 1)."""
        raise NotImplementedError

    def factor_at(self, step: int, warm_steps: int) -> float:
        """The factor at step ``step`` of a warm-up of ``warm_steps`` > ``step`` steps."""
        return float(self.ramp(step / warm_steps))

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": ..., "fraction": ...}`` (what :func:`make_schedule` reads back)."""
        return {"kind": self.kind, "fraction": self.fraction}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "kind")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def build(self, *, n_batches: int, epochs: int) -> WarmupSchedule:
        """The per-step schedule of one fit."""
        steps = 0 if self.kind == "constant" else math.ceil(self.fraction * n_batches * epochs)
        return WarmupSchedule(
            warm_steps=steps, first_full_epoch=math.ceil(steps / n_batches), shape=self
        )


def _as_float(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        msg = f"{name}={value!r} must be a number"
        raise ConfigError(msg) from None


class HoldLinear(Schedule):
    """Plain training over the first half of the warm-up, then a linear ramp (the default).

    ``factor = clip(2u - 1, 0, 1)``: a float ``penalty_warmup`` is this schedule.

    Examples
    --------
    >>> [HoldLinear(0.5).ramp(u) for u in (0.0, 0.5, 0.75)]
    [0.0, 0.0, 0.5]
    """

    kind = "hold_linear"

    def ramp(self, u: float) -> float:
        return min(1.0, max(0.0, 2.0 * u - 1.0))

    def factor_at(self, step: int, warm_steps: int) -> float:
        hold = warm_steps / 2.0  # the pre-schedule formula, bit for bit
        return min(1.0, max(0.0, (step - hold) / hold))


class Linear(Schedule):
    """A linear ramp from 0 over the whole warm-up: ``factor = u``.

    Examples
    --------
    >>> Linear(0.5).ramp(0.25)
    0.25
    """

    kind = "linear"

    def ramp(self, u: float) -> float:
        return min(1.0, max(0.0, u))


class Exponential(Schedule):
    """A geometric ramp from ``start`` to 1: ``factor = start^(1 - u)`` (log λ linear in u).

    Examples
    --------
    >>> round(Exponential(0.5, start=1e-2).ramp(0.5), 6)
    0.1
    """

    kind = "exponential"

    def __init__(self, fraction: float = 0.3, *, start: float = 1e-3) -> None:
        super().__init__(fraction)
        s = _as_float(start, "penalty_warmup.start")
        if not (math.isfinite(s) and 0.0 < s <= 1.0):
            msg = f"penalty_warmup.start={start!r} must be in (0, 1]"
            raise ConfigError(msg)
        self.start = s

    def ramp(self, u: float) -> float:
        return self.start ** (1.0 - min(1.0, max(0.0, u)))

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "start": self.start}


class Constant(Schedule):
    """The full λ from the first step (no warm-up; ``fraction`` is ignored).

    Examples
    --------
    >>> Constant().build(n_batches=3, epochs=2).factor(0)
    1.0
    """

    kind = "constant"

    def __init__(self, fraction: float = 0.0) -> None:
        super().__init__(fraction)

    def ramp(self, u: float) -> float:
        return 1.0


def make_schedule(spec: Any) -> Schedule:
    """The λ schedule of an estimator's ``penalty_warmup``.

    ``spec`` is a fraction (today's hold-then-linear warm-up, :class:`HoldLinear`),
    a schedule kind (``"constant"``, ``"hold_linear"``, ``"linear"``,
    ``"exponential"``) with the default fraction 0.3, ``"<kind>:<fraction>"``, a
    mapping ``{"kind": ..., "fraction": ..., ...}`` or a :class:`Schedule`.

    Examples
    --------
    >>> make_schedule(0.3)
    HoldLinear(fraction=0.3)
    >>> make_schedule("linear:0.5"), make_schedule({"kind": "exponential", "start": 0.01})
    (Linear(fraction=0.5), Exponential(fraction=0.3, start=0.01))
    >>> make_schedule("cosine")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    decorr_af.errors.ConfigError: penalty_warmup='cosine': kind 'cosine' is not one of ...
    """
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return HoldLinear(spec)
    if isinstance(spec, str):
        kind, _, frac = spec.partition(":")
        params: dict[str, Any] = {"kind": kind.strip()}
        if frac:
            params["fraction"] = frac
    elif isinstance(spec, Mapping):
        params = dict(spec)
    else:
        msg = f"penalty_warmup={spec!r} must be a fraction, a schedule kind or a mapping"
        raise ConfigError(msg)
    kind = str(params.pop("kind", "hold_linear")).lower()
    cls = Schedule._registry.get(kind)
    if cls is None:
        msg = f"penalty_warmup={spec!r}: kind {kind!r} is not one of {sorted(Schedule._registry)}"
        raise ConfigError(msg)
    try:
        return cls(**params)
    except TypeError as err:
        msg = f"penalty_warmup={spec!r}: {err}"
        raise ConfigError(msg) from None


@dataclass(frozen=True)
class WarmupSchedule:
    """Per-step factor of the penalty over ``warm_steps`` steps of one fit.

    ``shape`` is the :class:`Schedule` (default :class:`HoldLinear`: the first half
    of the warm-up is plain training (factor 0), the second half ramps the factor
    linearly to 1: ``factor(step) = clip((step - h) / h, 0, 1)`` with ``h =
    warm_steps / 2``). The plain half lets the output spread out (the dCor²
    gradient scales like ``1 / std(output)``); the ramp avoids a sudden jump of the
    loss that Adam's moment estimates would follow with a burst of large steps.
    ``first_full_epoch`` is the first epoch trained at the full λ throughout (early
    stopping and the checkpoint choice start there).

    Examples
    --------
    >>> sched = WarmupSchedule.build(0.5, n_batches=4, epochs=4)
    >>> [sched.factor(s) for s in (0, 4, 6, 8, 15)], sched.first_full_epoch
    ([0.0, 0.0, 0.5, 1.0, 1.0], 2)
    >>> lin = WarmupSchedule.build("linear:0.5", n_batches=4, epochs=4)
    >>> [lin.factor(s) for s in (0, 4, 6, 8)]
    [0.0, 0.5, 0.75, 1.0]
    """

    warm_steps: int
    first_full_epoch: int
    shape: Schedule = field(default_factory=HoldLinear)

    @classmethod
    def build(cls, warmup: Any, *, n_batches: int, epochs: int) -> WarmupSchedule:
        """Schedule of ``warmup`` (see :func:`make_schedule`) for this many steps."""
        return make_schedule(warmup).build(n_batches=n_batches, epochs=epochs)

    def factor(self, step: int) -> float:
        """Multiplier of the penalty term at optimisation step ``step`` (0-based)."""
        if self.warm_steps <= 0 or step >= self.warm_steps:
            return 1.0
        return self.shape.factor_at(step, self.warm_steps)


@dataclass
class PenaltyRowSampler:
    """Extra penalty rows per step so the penalty sees at least ``min_rows`` rows.

    ``eligible`` are the indices of the training rows the penalty is computed on
    (e.g. the background for ``DisCo(on="background")``); ``per_step`` extra rows
    are drawn each step, cycling through a seeded permutation of them. The number
    is fixed per fit from the expected count in a minibatch, so the loop needs no
    host synchronisation.

    Examples
    --------
    >>> import torch
    >>> s = PenaltyRowSampler(torch.arange(10), per_step=4, seed=0)
    >>> sorted(torch.cat([s.draw() for _ in range(5)]).tolist()) == sorted(list(range(10)) * 2)
    True
    """

    eligible: torch.Tensor
    per_step: int
    seed: int = 0
    _gen: torch.Generator = field(init=False, repr=False)
    _pool: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import torch

        self._gen = torch.Generator().manual_seed(int(self.seed) + 7919)
        self._pool = self.eligible[:0]

    @classmethod
    def build(
        cls, penalty: Any, train: Any, *, min_rows: int, n_batches: int, seed: int
    ) -> PenaltyRowSampler | None:
        """Sampler for ``penalty`` on ``train`` (:class:`TrainData`), or ``None``.

        ``None`` when ``min_rows`` is 0 or the minibatches already hold enough
        penalty rows on average. Uses the penalty's ``rows(y, is_domain, n)`` mask
        (``None``: all rows).
        """
        if int(min_rows) < 0:
            msg = f"min_penalty_rows={min_rows!r} must be an integer >= 0"
            raise ConfigError(msg)
        if min_rows == 0:
            return None
        n = len(train.X)
        mask = penalty.rows(train.target, None, n)
        weighted = train.pweight != 0  # signed weights: negative rows count too
        mask = weighted if mask is None else (mask & weighted)
        import torch

        eligible = torch.nonzero(mask).reshape(-1)
        per_batch = len(eligible) / max(n_batches, 1)
        per_step = min(math.ceil(min_rows - per_batch), len(eligible))
        if per_step <= 0:
            return None
        return cls(eligible, per_step=per_step, seed=seed)

    def draw(self) -> torch.Tensor:
        """The next ``per_step`` eligible row indices (on the rows' device)."""
        import torch

        while len(self._pool) < self.per_step:
            perm = torch.randperm(len(self.eligible), generator=self._gen)
            self._pool = torch.cat([self._pool, self.eligible[perm.to(self.eligible.device)]])
        out, self._pool = self._pool[: self.per_step], self._pool[self.per_step :]
        return out

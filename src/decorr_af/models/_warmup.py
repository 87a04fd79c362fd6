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
  spread-out output before the penalty takes over.
* A minibatch of 512 events holds ~250 fakes; the batch estimate of dCor² then has
  a bias of order 1 / n_rows and a noisy gradient. :class:`PenaltyRowSampler` adds
  penalty-only rows (rows the penalty selects, e.g. the background, drawn without
  replacement from a cycling permutation) so that each step's penalty sees at least
  ``min_rows`` of them. Their main loss is not computed, so the classification
  gradient is that of the ordinary minibatch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from decorr_af.errors import ConfigError

__all__ = ["PenaltyRowSampler", "WarmupSchedule"]


@dataclass(frozen=True)
class WarmupSchedule:
    """Hold-then-ramp schedule of the penalty factor over ``warm_steps`` steps.

    The first half of the warm-up is plain training (factor 0), the second half
    ramps the factor linearly to 1: ``factor(step) = clip((step - h) / h, 0, 1)``
    with ``h = warm_steps / 2`` (1 when ``warm_steps`` is 0). The plain half lets
    the output spread out (the dCor² gradient scales like ``1 / std(output)``); the
    ramp avoids a sudden jump of the loss that Adam's moment estimates would
    follow with a burst of large steps. ``first_full_epoch`` is the first epoch
    trained at the full λ throughout (early stopping and the checkpoint choice
    start there).

    Examples
    --------
    >>> sched = WarmupSchedule.build(0.5, n_batches=4, epochs=4)
    >>> [sched.factor(s) for s in (0, 4, 6, 8, 15)], sched.first_full_epoch
    ([0.0, 0.0, 0.5, 1.0, 1.0], 2)
    """

    warm_steps: int
    first_full_epoch: int

    @classmethod
    def build(cls, warmup: float, *, n_batches: int, epochs: int) -> WarmupSchedule:
        """Schedule ramping over ``ceil(warmup * n_batches * epochs)`` steps."""
        w = float(warmup)
        if not math.isfinite(w) or not 0.0 <= w <= 1.0:
            msg = f"penalty_warmup={warmup!r} must be a fraction of the training in [0, 1]"
            raise ConfigError(msg)
        steps = math.ceil(w * n_batches * epochs)
        return cls(warm_steps=steps, first_full_epoch=math.ceil(steps / n_batches))

    def factor(self, step: int) -> float:
        """Multiplier of the penalty term at optimisation step ``step`` (0-based)."""
        if self.warm_steps <= 0:
            return 1.0
        hold = self.warm_steps / 2.0
        return min(1.0, max(0.0, (step - hold) / hold))


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
        positive = train.pweight > 0
        mask = positive if mask is None else (mask & positive)
        eligible = torch.nonzero(mask).reshape(-1)
        per_batch = len(eligible) / max(n_batches, 1)
        per_step = min(math.ceil(min_rows - per_batch), len(eligible))
        if per_step <= 0:
            return None
        return cls(eligible, per_step=per_step, seed=seed)

    def draw(self) -> torch.Tensor:
        """The next ``per_step`` eligible row indices (on the rows' device)."""
        while len(self._pool) < self.per_step:
            perm = torch.randperm(len(self.eligible), generator=self._gen)
            self._pool = torch.cat([self._pool, self.eligible[perm.to(self.eligible.device)]])
        out, self._pool = self._pool[: self.per_step], self._pool[self.per_step :]
        return out

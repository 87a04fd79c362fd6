"""Adversarial penalties: Adversary (pivot) and DomainAdversary (gradient reversal).

The adversary is a small network with its own optimiser, trained inside the
torch loop through :meth:`~decorr_af.decorrelation.penalties.Penalty.adversary_step`.
These penalties have a torch loss only: no boosting terms (gradient boosting
rejects them with a :class:`~decorr_af.errors.ConfigError`), and the validation
term of the base class, ``λ Σ dCor²`` of the monitored figures.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from decorr_af.decorrelation.penalties._base import (
    DomainPenalty,
    Penalty,
    PenaltyBatch,
    ProtectedPenalty,
    check_enum,
    check_int,
    check_number,
    zero_like,
)
from decorr_af.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["AdversarialPenalty", "Adversary", "AdversaryKind", "DomainAdversary"]


class AdversaryKind(str, enum.Enum):
    """Adversary output model: Gaussian mixture density or classifier."""

    GMM = "gmm"
    CLASSIFIER = "classifier"


# -------------------------------------------------------------- adversary family
class AdversarialPenalty(Penalty, register=False):
    """Louppe-Kagan-Cranmer pivot machinery: an adversary net with its own optimiser.

    The model minimises ``L_model − λ L_adv``; the adversary minimises ``L_adv``
    (weighted negative log-likelihood of its target given the model output) with
    ``steps_per_batch`` Adam steps per model step, learning rate ``lr`` decayed by
    ``lr_decay`` per epoch. During the first ``pretrain_epochs`` epochs the
    adversarial term is off: the model trains plainly while the adversary learns
    to follow it (pre-training of both, as in the pivot paper).
    """

    adversarial: ClassVar[bool] = True
    hidden: Sequence[int]
    activation: str
    lr: float
    lr_decay: float
    pretrain_epochs: int
    steps_per_batch: int

    def validate(self) -> None:
        super().validate()
        check_number("lr", self.lr, low=0.0, strict=True)
        check_number("lr_decay", self.lr_decay, low=0.0, strict=True)
        check_int("pretrain_epochs", self.pretrain_epochs, low=0)
        check_int("steps_per_batch", self.steps_per_batch, low=1)

    # subclasses: build the network, pick rows/targets/weights, and the NLL
    def _build(self, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _rows_targets_weights(self, batch: PenaltyBatch) -> tuple[Any, Any, Any]:
        raise NotImplementedError

    def _nll(self, s: torch.Tensor, target: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def setup(self, *, device: Any = "cpu", seed: int = 0, **kwargs: Any) -> None:
        import torch

        super().setup(device=device, seed=seed, **kwargs)
        # own RNG stream: building the adversary never touches the model's RNG state
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed) + 7919)
            self.net_ = self._build(**kwargs).to(device)
        self.optimizer_ = torch.optim.Adam(self.net_.parameters(), lr=float(self.lr))
        self.scheduler_ = torch.optim.lr_scheduler.ExponentialLR(
            self.optimizer_, gamma=float(self.lr_decay)
        )

    def _inputs(self, output: torch.Tensor, batch: PenaltyBatch) -> tuple[Any, Any, Any]:
        mask, target, w = self._rows_targets_weights(batch)
        s = output if mask is None else output[mask]
        if mask is not None:
            target, w = target[mask], w[mask]
        return s.unsqueeze(1), target, w

    def adversary_step(self, output: torch.Tensor, batch: PenaltyBatch) -> torch.Tensor | None:
        s, target, w = self._inputs(output.detach(), batch)
        if len(s) < 2:
            return None
        loss = None
        for _ in range(int(self.steps_per_batch)):
            self.optimizer_.zero_grad(set_to_none=True)
            loss = self._nll(s, target, w)
            loss.backward()
            self.optimizer_.step()
        return None if loss is None else loss.detach()

    def loss(self, output: torch.Tensor, batch: PenaltyBatch) -> torch.Tensor:
        if self.epoch_ < int(self.pretrain_epochs):
            return zero_like(output)
        s, target, w = self._inputs(output, batch)
        if len(s) < 2:
            return zero_like(output)
        return -self.strength * self._nll(s, target, w)

    def end_epoch(self, epoch: int) -> None:
        self.scheduler_.step()


class Adversary(ProtectedPenalty, AdversarialPenalty):
    """Adversarial decorrelation (pivot): an adversary predicts z from the model output.

    Parameters
    ----------
    strength
        λ ≥ 0 in ``L_model − λ L_adv``.
    kind
        ``"gmm"``: Gaussian-mixture density of each (standardised) continuous
        protected variable; ``"classifier"``: classes of one discrete variable.
    n_components
        Mixture components per variable (``"gmm"``).
    hidden, activation
        Adversary network.
    lr, lr_decay
        Adversary Adam learning rate and per-epoch exponential decay.
    pretrain_epochs
        Epochs without the adversarial term at the start (adversary still learns).
    steps_per_batch
        Adversary updates per model update.
    on
        Events the adversary sees: ``"auto"`` (background for classifiers),
        ``"background"``, ``"signal"``, ``"all"``.

    Examples
    --------
    >>> Adversary(strength=1.0, kind="gmm", n_components=3).kind
    'gmm'
    """

    _params = (
        "strength",
        "kind",
        "n_components",
        "hidden",
        "activation",
        "lr",
        "lr_decay",
        "pretrain_epochs",
        "steps_per_batch",
        "on",
    )

    def __init__(
        self,
        strength: float = 1.0,
        *,
        kind: str = "gmm",
        n_components: int = 5,
        hidden: Sequence[int] = (32, 32),
        activation: str = "relu",
        lr: float = 1e-3,
        lr_decay: float = 1.0,
        pretrain_epochs: int = 1,
        steps_per_batch: int = 1,
        on: str = "auto",
    ) -> None:
        self.strength = strength
        self.kind = kind
        self.n_components = n_components
        self.hidden = hidden
        self.activation = activation
        self.lr = lr
        self.lr_decay = lr_decay
        self.pretrain_epochs = pretrain_epochs
        self.steps_per_batch = steps_per_batch
        self.on = on

    def validate(self) -> None:
        super().validate()
        check_enum("kind", self.kind, AdversaryKind)
        check_int("n_components", self.n_components, low=1)

    def _build(self, *, task: str = "classification", y=None, weight=None, protected=None, is_domain=None, **_: Any):  # fmt: skip
        import torch

        from decorr_af.nets import ClassifierAdversary, GaussianMixtureAdversary

        self._check_task(task)
        if protected is None:
            msg = f"{type(self).__name__} needs protected= variables"
            raise ConfigError(msg)
        z = np.asarray(protected, np.float64).reshape(len(protected), -1)
        mask = self.rows(y, is_domain, len(z))
        zs = z if mask is None else z[np.asarray(mask, bool)]
        kind = AdversaryKind(self.kind)
        if kind is AdversaryKind.GMM:
            self.z_mean_ = zs.mean(axis=0)
            self.z_scale_ = np.where(zs.std(axis=0) > 0, zs.std(axis=0), 1.0)
            return GaussianMixtureAdversary(
                1,
                n_targets=z.shape[1],
                n_components=int(self.n_components),
                hidden=self.hidden,
                activation=self.activation,
            )
        if z.shape[1] != 1:
            msg = f"Adversary(kind='classifier') takes one discrete protected variable, got {z.shape[1]}"
            raise ConfigError(msg)
        self.classes_ = np.unique(zs[:, 0])
        if len(self.classes_) > 1000:
            msg = f"protected variable has {len(self.classes_)} distinct values; use kind='gmm'"
            raise ConfigError(msg)
        self._classes_t = torch.as_tensor(self.classes_)
        return ClassifierAdversary(
            1, n_classes=len(self.classes_), hidden=self.hidden, activation=self.activation
        )

    def _rows_targets_weights(self, batch: PenaltyBatch) -> tuple[Any, Any, Any]:
        import torch

        mask = self.rows(batch.y, batch.is_domain, len(batch.weight))
        z = batch.protected
        if AdversaryKind(self.kind) is AdversaryKind.GMM:
            mean = torch.as_tensor(self.z_mean_, dtype=z.dtype, device=z.device)
            scale = torch.as_tensor(self.z_scale_, dtype=z.dtype, device=z.device)
            target = (z - mean) / scale
        else:
            classes = self._classes_t.to(device=z.device, dtype=z.dtype)
            idx = torch.searchsorted(classes, z[:, 0].contiguous())
            target = idx.clamp_(0, len(classes) - 1)
        return mask, target, batch.weight

    def _nll(self, s: torch.Tensor, target: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        if AdversaryKind(self.kind) is AdversaryKind.GMM:
            per_event = -self.net_.log_prob(s, target)
        else:
            per_event = F.cross_entropy(self.net_(s), target, reduction="none")
        return (w * per_event).sum() / w.sum().clamp_min(1e-30)


class DomainAdversary(DomainPenalty, AdversarialPenalty):
    """Domain-adversarial penalty: an adversary tells MC from data using the output.

    Equivalent to gradient reversal (Ganin et al.) with alternating updates: the
    model minimises ``L_model − λ L_adv`` where ``L_adv`` is the balanced binary
    cross-entropy of the domain classifier.

    Examples
    --------
    >>> DomainAdversary(strength=1.0, hidden=(16,)).hidden
    (16,)
    """

    _params = (
        "strength",
        "hidden",
        "activation",
        "lr",
        "lr_decay",
        "pretrain_epochs",
        "steps_per_batch",
    )

    def __init__(
        self,
        strength: float = 1.0,
        *,
        hidden: Sequence[int] = (32, 32),
        activation: str = "relu",
        lr: float = 1e-3,
        lr_decay: float = 1.0,
        pretrain_epochs: int = 1,
        steps_per_batch: int = 1,
    ) -> None:
        self.strength = strength
        self.hidden = hidden
        self.activation = activation
        self.lr = lr
        self.lr_decay = lr_decay
        self.pretrain_epochs = pretrain_epochs
        self.steps_per_batch = steps_per_batch

    def _build(self, **_: Any) -> Any:
        from decorr_af.nets import ClassifierAdversary

        return ClassifierAdversary(1, n_classes=2, hidden=self.hidden, activation=self.activation)

    def _rows_targets_weights(self, batch: PenaltyBatch) -> tuple[Any, Any, Any]:
        dom = batch.is_domain
        return None, dom.long(), self.balanced_weights(batch.weight, dom)

    def _nll(self, s: torch.Tensor, target: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        if not bool((target == 1).any()) or not bool((target == 0).any()):
            return s.sum() * 0.0
        per_event = F.cross_entropy(self.net_(s), target, reduction="none")
        return (w * per_event).sum() / w.sum().clamp_min(1e-30)

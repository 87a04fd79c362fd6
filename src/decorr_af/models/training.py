"""The torch training loop, kept apart from the networks (salt-style).

:func:`train_network` trains any ``nn.Module`` producing one output per event with
a weighted per-event loss and an optional decorrelation penalty following the
protocol of :mod:`decorr_af.decorrelation.penalties`. Data live on the device as
tensors; an epoch is a random permutation cut into ``batch_size`` slices, with no
per-step host synchronisation (losses are accumulated on the device).
"""

from __future__ import annotations

import copy
import enum
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from decorr_af.decorrelation.penalties import Penalty, PenaltyBatch, default_monitor
from decorr_af.errors import ConfigError
from decorr_af.models._warmup import PenaltyRowSampler, WarmupSchedule

__all__ = [
    "LossName",
    "OptimizerName",
    "TrainData",
    "make_optimizer",
    "optimiser_step",
    "penalised_loss",
    "per_event_loss",
    "train_network",
]


class LossName(str, enum.Enum):
    """Per-event losses (``bce`` on logits for classification)."""

    BCE = "bce"
    MSE = "mse"
    MAE = "mae"
    HUBER = "huber"
    LOGCOSH = "logcosh"


class OptimizerName(str, enum.Enum):
    """Model optimisers."""

    ADAM = "adam"
    ADAMW = "adamw"
    SGD = "sgd"


def per_event_loss(name: str | LossName) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Return ``f(output, target) -> per-event loss`` for a :class:`LossName`."""
    loss = LossName(name)
    if loss is LossName.BCE:
        return lambda o, t: F.binary_cross_entropy_with_logits(o, t, reduction="none")
    if loss is LossName.MSE:
        return lambda o, t: (o - t) ** 2
    if loss is LossName.MAE:
        return lambda o, t: (o - t).abs()
    if loss is LossName.HUBER:
        return lambda o, t: F.huber_loss(o, t, reduction="none", delta=1.0)
    # log(cosh(d)) = |d| + log1p(exp(-2|d|)) - log 2, stable for large |d|
    return lambda o, t: (o - t).abs() + torch.log1p(torch.exp(-2.0 * (o - t).abs())) - math.log(2.0)


def make_optimizer(
    name: str, params: Any, *, lr: float, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """Build the model optimiser (``adam``, ``adamw`` or ``sgd`` with momentum 0.9)."""
    opt = OptimizerName(name)
    if opt is OptimizerName.ADAM:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if opt is OptimizerName.ADAMW:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)


@dataclass
class TrainData:
    """Tensors of one split, on the training device.

    ``target`` holds 0/1 labels (classification) or standardised targets;
    ``domain_X`` the unlabelled domain rows (already standardised) or ``None``;
    ``penalty_weight`` the per-event weights of the penalty (``None``: ``weight``),
    so rows with ``weight`` 0 and a positive ``penalty_weight`` enter only the
    penalty (e.g. MC rows of a domain penalty that the main loss must not fit).
    """

    X: torch.Tensor
    target: torch.Tensor
    weight: torch.Tensor
    protected: torch.Tensor | None = None
    domain_X: torch.Tensor | None = None
    penalty_weight: torch.Tensor | None = None

    @property
    def pweight(self) -> torch.Tensor:
        """The penalty weights (``penalty_weight``, else ``weight``)."""
        return self.weight if self.penalty_weight is None else self.penalty_weight


def _forward(model: nn.Module, X: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(X[i : i + chunk])[:, 0] for i in range(0, len(X), chunk)])


def _monitor(
    monitor: Penalty | None,
    score: torch.Tensor,
    data: TrainData,
    dom_score: torch.Tensor | None,
    classification: bool,
    names: Sequence[str] | None,
) -> dict[str, float]:
    if monitor is None:
        return {}
    s = score.detach().double().cpu().numpy()
    w = data.pweight.double().cpu().numpy()
    y = data.target.cpu().numpy() if classification else None
    if monitor.requires == "domain":
        if dom_score is None:
            return {}
        d = dom_score.detach().double().cpu().numpy()
        is_dom = np.r_[np.zeros(len(s), bool), np.ones(len(d), bool)]
        return monitor.monitor(np.r_[s, d], weight=np.r_[w, np.ones(len(d))], is_domain=is_dom)
    z = data.protected.double().cpu().numpy()
    return monitor.monitor(s, y=y, weight=w, protected=z, names=names)


def penalised_loss(penalty: Any, s: Any, batch: Any, main: Any, factor: float, sums: Any) -> Any:
    """``main + factor × penalty`` for one minibatch, after the adversary's own step.

    Accumulates the penalty term in ``sums[2]`` and the adversary loss (if any) in
    ``sums[3]``; shared by the in-memory loop and :mod:`.streaming`.
    """
    adv = penalty.adversary_step(s.detach(), batch)
    term = penalty.loss(s, batch) * factor
    sums[2] += term.detach()
    if adv is not None:
        sums[3] += adv
    return main + term


def optimiser_step(opt: Any, total: Any, main: Any, sums: Any) -> None:
    """One optimiser step on ``total``; accumulates ``total`` and ``main`` in ``sums[:2]``."""
    opt.zero_grad(set_to_none=True)
    total.backward()
    opt.step()
    sums[0] += total.detach()
    sums[1] += main.detach()


def train_network(
    model: nn.Module,
    train: TrainData,
    *,
    loss: str,
    score: Callable[[torch.Tensor], torch.Tensor],
    penalty: Penalty | None = None,
    validation: TrainData | None = None,
    optimizer: str = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    epochs: int = 20,
    batch_size: int = 4096,
    patience: int | None = None,
    seed: int = 0,
    task: str = "classification",
    protected_names: Sequence[str] | None = None,
    verbose: bool = False,
    penalty_warmup: Any = 0.0,
    min_penalty_rows: int = 0,
) -> dict[str, list[float]]:
    """Train ``model`` in place; return the per-epoch history.

    Parameters
    ----------
    model
        Module mapping ``(n, d)`` inputs to ``(n, 1)`` raw outputs (logits).
    train, validation
        :class:`TrainData` splits; ``validation`` enables ``val_*`` history entries
        and early stopping when ``patience`` is set (best weights are restored).
    loss
        :class:`LossName` of the main per-event loss (event-weighted mean).
    score
        Map from raw output to the penalised output (sigmoid for classifiers).
    penalty
        An already ``setup`` penalty, or ``None``. ``strength == 0`` skips it
        entirely, so the fit equals the plain model for the same seed.
    seed
        Seeds the batch order (a private ``torch.Generator``) and domain sampling.
    penalty_warmup
        The λ schedule: a fraction of the steps for the penalty warm-up (first half
        plain, second half a linear ramp to the full λ;
        :class:`~decorr_af.models._warmup.WarmupSchedule`), or a schedule spec such as
        ``"linear:0.5"``, ``"constant"`` or ``{"kind": "exponential", "fraction":
        0.4, "start": 1e-3}`` (:func:`~decorr_af.models._warmup.make_schedule`).
        Checkpoints (early stopping) are chosen among the epochs at the full λ only,
        preferring any with validation AUC > 0.5 (classification).
    min_penalty_rows
        Penalty-only rows are added to each step so that the penalty sees at least
        this many of the rows it selects
        (:class:`~decorr_af.models._warmup.PenaltyRowSampler`; protected-variable
        penalties only).

    Returns
    -------
    dict
        ``epoch``, ``loss`` (total), ``main_loss``, ``penalty_loss``,
        ``adversary_loss`` (adversaries), ``dcor2_<name>`` (training outputs of the
        epoch), ``penalty_factor`` (warm-up factor at the end of the epoch),
        ``warmup_epochs`` (first epoch at the full λ), and for a validation split
        ``val_main_loss``, ``val_dcor2_<name>``, ``val_auc`` (classification) and
        ``val_objective`` (= val main loss + ``penalty.validation_term`` of the validation
        monitor, e.g. λ Σ val dCor²; used for early stopping).
    """
    device = train.X.device
    classification = task == "classification"
    main_loss = per_event_loss(loss)
    active = penalty is not None and float(penalty.strength) > 0
    use_domain = active and penalty.requires == "domain" and train.domain_X is not None
    monitor = penalty
    if monitor is None and train.protected is not None:
        monitor = default_monitor(task)
    elif monitor is not None and monitor.requires == "domain" and not use_domain:
        monitor = None
    opt = make_optimizer(optimizer, model.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(int(seed))
    dom_gen = torch.Generator().manual_seed(int(seed) + 104729)
    n = len(train.X)
    n_batches = max(1, math.ceil(n / batch_size))
    schedule = WarmupSchedule.build(
        penalty_warmup if active else 0.0, n_batches=n_batches, epochs=int(epochs)
    )
    # signed event weights (NLO MC, sWeights): a minibatch's weight sum may be ~0 or
    # negative, so each batch is normalised by its size x the mean weight of the set
    mean_weight = None
    if bool((train.weight < 0).any()):
        mean_weight = train.weight.sum().clamp_min(1e-30) / n
    topup = None
    if active and not use_domain and train.protected is not None:
        topup = PenaltyRowSampler.build(
            penalty, train, min_rows=int(min_penalty_rows), n_batches=n_batches, seed=int(seed)
        )
    history: dict[str, list[float]] = {}
    best: tuple[tuple[bool, float], int, Any] = ((True, math.inf), -1, None)
    since_best = 0
    step = 0

    def log(key: str, value: float) -> None:
        history.setdefault(key, []).append(float(value))

    for epoch in range(int(epochs)):
        model.train()
        if active:
            penalty.start_epoch(epoch)
        perm = torch.randperm(n, generator=gen).to(device)
        dom_chunks: list[torch.Tensor] = []
        if use_domain:
            dperm = torch.randperm(len(train.domain_X), generator=dom_gen).to(device)
            dom_chunks = list(torch.tensor_split(dperm, n_batches))
        sums = torch.zeros(4, device=device, dtype=torch.float64)
        scores = torch.empty(n, device=device)
        dom_scores = torch.empty(len(train.domain_X), device=device) if use_domain else None
        for b in range(n_batches):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            xb, tb, wb = train.X[idx], train.target[idx], train.weight[idx]
            extra = None if topup is None else topup.draw()
            if use_didx := (use_domain and len(dom_chunks[b]) > 0):
                didx = dom_chunks[b]
                out = model(torch.cat([xb, train.domain_X[didx]]))[:, 0]
            elif extra is not None:
                out = model(torch.cat([xb, train.X[extra]]))[:, 0]
            else:
                out = model(xb)[:, 0]
            out_mc = out[: len(idx)]
            norm = wb.sum().clamp_min(1e-30) if mean_weight is None else mean_weight * len(idx)
            total = main = (wb * main_loss(out_mc, tb)).sum() / norm
            s = score(out)
            scores[idx] = s[: len(idx)].detach()
            if use_didx:
                dom_scores[didx] = s[len(idx) :].detach()
            if active:
                rows = idx if extra is None else torch.cat([idx, extra])
                pwb = train.pweight[rows]
                tr = train.target[rows]
                pb = _penalty_batch(train, rows, tr, pwb, classification, use_didx, len(out))
                total = penalised_loss(penalty, s, pb, main, schedule.factor(step), sums)
            optimiser_step(opt, total, main, sums)
            step += 1
        if active:
            penalty.end_epoch(epoch)
        means = (sums / n_batches).tolist()
        log("epoch", epoch)
        log("loss", means[0])
        log("main_loss", means[1])
        if active:
            log("penalty_loss", means[2])
            log("penalty_factor", schedule.factor(step - 1))
            if penalty.adversarial:
                log("adversary_loss", means[3])
        for key, value in _monitor(
            monitor, scores, train, dom_scores, classification, protected_names
        ).items():
            log(key, value)
        if validation is not None:
            model.eval()
            vout = _forward(model, validation.X)
            vw = validation.weight
            vmain = float((vw * main_loss(vout, validation.target)).sum() / vw.sum())
            vdom = None
            if use_domain and validation.domain_X is not None:
                vdom = _forward(model, validation.domain_X)
            vstats = _monitor(
                monitor,
                score(vout),
                validation,
                None if vdom is None else score(vdom),
                classification,
                protected_names,
            )
            vobj = vmain + (penalty.validation_term(vstats) if active else 0.0)
            log("val_main_loss", vmain)
            for key, value in vstats.items():
                log(f"val_{key}", value)
            log("val_objective", vobj)
            # checkpoints count only once λ is fully ramped up (a near-constant output
            # of the warm-up epochs has a tiny penalty but is not the model asked for);
            # a checkpoint worse than random guessing ranks below every better one
            eligible = epoch >= schedule.first_full_epoch or epoch == int(epochs) - 1
            key: tuple[bool, float] = (False, vobj)
            if classification:
                vauc = _auc(validation, vout)
                log("val_auc", vauc)
                key = (not vauc > 0.5, vobj)
            if eligible and key < best[0]:
                best = (key, epoch, copy.deepcopy(model.state_dict()))
                since_best = 0
            elif eligible:
                since_best += 1
        if verbose:
            last = {k: round(v[-1], 5) for k, v in history.items()}
            print(f"[decorr_af] {last}")
        if patience is not None and validation is not None and since_best >= patience:
            break
    if active:
        history["warmup_epochs"] = [float(schedule.first_full_epoch)]
    if patience is not None and best[2] is not None:
        model.load_state_dict(best[2])
        history["best_epoch"] = [float(best[1])]
    model.eval()
    if active and classification:
        _check_better_than_random(history, model, train, float(penalty.strength))
    return history


#: rows used by the better-than-random check of a penalised classifier
_CHECK_ROWS = 16_384


def _check_better_than_random(
    history: dict[str, list[float]], model: nn.Module, train: TrainData, strength: float
) -> None:
    """Record the training AUC of the returned model; warn if it is ≤ 0.5.

    A penalised classifier whose score is inverted or constant is never what was
    asked for; without a validation split no better checkpoint can be chosen, so
    the fit says so instead of returning it silently.
    """
    from decorr_af.metrics import auc

    # a strided subset of at most _CHECK_ROWS rows: enough to tell AUC > 0.5, and a
    # fixed cost per fit (the full sample doubled the cost of a one-epoch fit)
    step = max(1, len(train.target) // _CHECK_ROWS)
    y = train.target[::step].cpu().numpy()
    out = _forward(model, train.X[::step]).double().cpu().numpy()
    w = train.weight[::step].double().cpu().numpy()
    train_auc = float("nan") if y.min() == y.max() else float(auc(y, out, w))
    history["train_auc"] = [train_auc]
    if not train_auc > 0.5:
        msg = (
            f"the penalised classifier (λ = {strength:g}) is no better than random on its "
            f"training events (AUC {train_auc:.3f}); use a longer penalty_warmup, more "
            "epochs or early_stopping=True (checkpoints worse than random are not chosen)"
        )
        warnings.warn(msg, RuntimeWarning, stacklevel=4)


def _auc(data: TrainData, out: torch.Tensor) -> float:
    """Event-weighted ROC AUC of the raw outputs of a labelled split."""
    from decorr_af.metrics import auc

    y = data.target.cpu().numpy()
    if y.min() == y.max():
        return float("nan")
    return float(auc(y, out.double().cpu().numpy(), data.weight.double().cpu().numpy()))


def _penalty_batch(
    train: TrainData,
    idx: torch.Tensor,
    tb: torch.Tensor,
    wb: torch.Tensor,
    classification: bool,
    with_domain: bool,
    n_rows: int,
) -> PenaltyBatch:
    if with_domain:
        extra = n_rows - len(idx)
        dom = torch.zeros(n_rows, dtype=torch.bool, device=wb.device)
        dom[len(idx) :] = True
        return PenaltyBatch(
            weight=torch.cat([wb, wb.new_ones(extra)]),
            y=torch.cat([tb, tb.new_zeros(extra)]) if classification else None,
            is_domain=dom,
        )
    z = None if train.protected is None else train.protected[idx]
    return PenaltyBatch(weight=wb, y=tb if classification else None, protected=z)


def check_choice(name: str, value: Any, enum_cls: type[enum.Enum]) -> None:
    """Raise :class:`ConfigError` naming ``name`` unless ``value`` is in ``enum_cls``."""
    try:
        enum_cls(value)
    except ValueError:
        choices = ", ".join(repr(e.value) for e in enum_cls)
        msg = f"{name}={value!r} is not one of {choices}"
        raise ConfigError(msg) from None

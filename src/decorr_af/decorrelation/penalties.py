"""Decorrelation penalties passed to the estimators (``penalty=``).

A penalty is a small object holding its hyper-parameters (explicit keywords,
stored unchanged, scikit-learn style). A new method is a new class. The torch
training loop (:mod:`decorr_af.models.training`) drives it through this
protocol, called in this order::

    penalty.setup(output_dim=1, device=dev, task="classification", y=..., weight=...,
                  protected=..., is_domain=..., seed=0)   # once per fit
    for epoch in range(epochs):
        penalty.start_epoch(epoch)
        for batch in batches:
            s = score(model(x))                     # probability / prediction, shape (n,)
            penalty.adversary_step(s.detach(), batch)   # adversaries only (else no-op)
            total = main_loss + penalty.loss(s, batch)  # penalty.loss includes λ
            total.backward(); optimiser.step()
        penalty.end_epoch(epoch)                    # adversary LR schedule
    penalty.monitor(s_val, y=..., weight=..., protected=..., is_domain=...)  # dCor² per variable

``batch`` is a :class:`PenaltyBatch`: event weights, labels (classification),
protected variables ``(n, K)`` and, for domain penalties, the ``is_domain`` mask
of unlabelled "data" rows mixed into the batch. The penalised output ``s`` is the
predicted probability for classifiers and the model prediction for regressors.

Conventions
-----------
* ``DisCo(power=1)`` adds ``λ Σ_k dCor²(s, z_k)`` - the DisCo paper's
  convention (Kasieczka & Shih, arXiv:2001.05310: their "dCor" is the squared
  distance correlation). ``power=p`` adds ``λ Σ_k (dCor²)^p`` (``power=0.5``
  penalises dCor itself).
* ``on="background"`` (the default for classifiers via ``"auto"``) computes the
  penalty on label-0 events only, ``"signal"`` on label-1 events, ``"all"`` on every
  event (the ``"auto"`` choice of regressors), always with the event weights.
* Domain penalties weight MC rows by their event weights and data rows equally,
  normalising each domain to the same total, so ``dCor²(s, domain)`` measures the
  difference of the two output distributions independent of the sample sizes.
* ``strength=0`` switches the penalty term off: the fit equals the plain model.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from decorr_af.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "Adversary",
    "AdversaryKind",
    "DisCo",
    "DomainAdversary",
    "DomainDisCo",
    "Penalty",
    "PenaltyBatch",
    "Selection",
    "make_penalty",
    "penalty_from_dict",
]


class Selection(str, enum.Enum):
    """Which events a protected-variable penalty is computed on."""

    AUTO = "auto"
    BACKGROUND = "background"
    SIGNAL = "signal"
    ALL = "all"


class AdversaryKind(str, enum.Enum):
    """Adversary output model: Gaussian mixture density or classifier."""

    GMM = "gmm"
    CLASSIFIER = "classifier"


@dataclass
class PenaltyBatch:
    """Per-batch inputs of a penalty (torch tensors on the training device).

    Attributes
    ----------
    weight
        Event weights, shape ``(n,)`` (MC weights; 1 for data rows).
    y
        Labels 0/1 as floats (classification) or ``None`` (regression).
    protected
        Protected variables, shape ``(n, K)``, or ``None``.
    is_domain
        Boolean mask of unlabelled domain ("data") rows, or ``None``.
    """

    weight: torch.Tensor
    y: torch.Tensor | None = None
    protected: torch.Tensor | None = None
    is_domain: torch.Tensor | None = None


_REGISTRY: dict[str, type[Penalty]] = {}


def _dcor2(s: Any, z: Any, w: Any, method: str) -> Any:
    from decorr_af.decorrelation.distance import distance_correlation

    return distance_correlation(s, z, weights=w, method=method, squared=True)


def _check_number(name: str, value: Any, *, low: float, strict: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        msg = f"{name}={value!r} must be a number"
        raise ConfigError(msg) from None
    if not np.isfinite(v) or v < low or (strict and v == low):
        op = ">" if strict else ">="
        msg = f"{name}={value!r} must be finite and {op} {low}"
        raise ConfigError(msg)
    return v


def _check_int(name: str, value: Any, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        msg = f"{name}={value!r} must be an integer >= {low}"
        raise ConfigError(msg)
    return int(value)


def _check_enum(name: str, value: Any, enum_cls: type[enum.Enum]) -> Any:
    try:
        return enum_cls(value)
    except ValueError:
        choices = ", ".join(repr(e.value) for e in enum_cls)
        msg = f"{name}={value!r} is not one of {choices}"
        raise ConfigError(msg) from None


class Penalty:
    """Base class: hyper-parameter handling, serialisation and the no-op protocol.

    Subclasses list their keyword hyper-parameters in ``_params`` and set
    ``requires`` to ``"protected"`` or ``"domain"`` (what ``fit`` must receive).
    """

    requires: ClassVar[str] = "protected"
    _params: ClassVar[tuple[str, ...]] = ("strength",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            _REGISTRY[cls.__name__] = cls

    # --- hyper-parameters -------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor keywords, unchanged (JSON-able apart from tuples)."""
        return {name: getattr(self, name) for name in self._params}

    def set_params(self, **params: Any) -> Penalty:
        """Set hyper-parameters (scikit-learn style); returns ``self``."""
        for key, value in params.items():
            if key not in self._params:
                msg = f"{type(self).__name__} has no parameter {key!r}"
                raise ConfigError(msg)
            setattr(self, key, value)
        return self

    def to_dict(self) -> dict[str, Any]:
        """``{"name": class name, "params": {...}}`` for JSON metadata."""
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self.get_params().items()}
        return {"name": type(self).__name__, "params": params}

    def clone(self) -> Penalty:
        """A fresh, unfitted copy with the same hyper-parameters."""
        return type(self)(**copy.deepcopy(self.get_params()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_params() == other.get_params()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid hyper-parameter."""
        _check_number("strength", self.strength, low=0.0)

    # --- protocol -----------------------------------------------------------
    def setup(
        self,
        *,
        output_dim: int = 1,
        device: Any = "cpu",
        task: str = "classification",
        y: np.ndarray | None = None,
        weight: np.ndarray | None = None,
        protected: np.ndarray | None = None,
        is_domain: np.ndarray | None = None,
        seed: int = 0,
    ) -> None:
        """Validate and prepare for one fit (arrays are the training rows)."""
        self.validate()
        if output_dim != 1:
            msg = (
                f"{type(self).__name__} supports a single model output, got output_dim={output_dim}"
            )
            raise ConfigError(msg)
        self.task_ = task
        self.epoch_ = 0

    def start_epoch(self, epoch: int) -> None:
        """Called before each training epoch."""
        self.epoch_ = epoch

    def adversary_step(self, output: torch.Tensor, batch: PenaltyBatch) -> torch.Tensor | None:
        """Update an adversary on the detached output; no-op by default."""
        return None

    def loss(self, output: torch.Tensor, batch: PenaltyBatch) -> torch.Tensor:
        """The penalty term (λ included) added to the model loss."""
        raise NotImplementedError

    def end_epoch(self, epoch: int) -> None:
        """Called after each training epoch (adversary LR schedules)."""

    def monitor(
        self,
        output: np.ndarray,
        *,
        y: np.ndarray | None = None,
        weight: np.ndarray | None = None,
        protected: np.ndarray | None = None,
        is_domain: np.ndarray | None = None,
        names: Sequence[str] | None = None,
    ) -> dict[str, float]:
        """dCor² of the output with what the penalty decorrelates from (numpy, exact)."""
        raise NotImplementedError


def penalty_from_dict(data: dict[str, Any]) -> Penalty:
    """Rebuild a penalty from :meth:`Penalty.to_dict` output.

    Examples
    --------
    >>> penalty_from_dict(DisCo(strength=2.0).to_dict())
    DisCo(strength=2.0, power=1.0, on='auto', method='auto')
    """
    try:
        cls = _REGISTRY[data["name"]]
    except KeyError:
        msg = f"penalty name {data.get('name')!r} is not one of {sorted(_REGISTRY)}"
        raise ConfigError(msg) from None
    params = dict(data.get("params", {}))
    for key in ("hidden",):
        if isinstance(params.get(key), list):
            params[key] = tuple(params[key])
    return cls(**params)


def make_penalty(kind: str, **params: Any) -> Penalty:
    """A penalty from its registered kind (class name, case-insensitive) and keywords.

    The form used by model specs (``penalty: {kind: DisCo, on: background}``).

    Examples
    --------
    >>> make_penalty("disco", strength=3.0, on="background")
    DisCo(strength=3.0, power=1.0, on='background', method='auto')
    """
    by_lower = {name.lower(): cls for name, cls in _REGISTRY.items()}
    cls = by_lower.get(str(kind).lower())
    if cls is None:
        msg = f"parameter 'penalty.kind': {kind!r} is not one of {sorted(_REGISTRY)}"
        raise ConfigError(msg)
    unknown = sorted(set(params) - set(cls._params))
    if unknown:
        msg = f"parameter 'penalty': {cls.__name__} has no parameter(s) {unknown} (has {list(cls._params)})"
        raise ConfigError(msg)
    for key in ("hidden",):
        if isinstance(params.get(key), list):
            params[key] = tuple(params[key])
    return cls(**params)


# --------------------------------------------------------------------- helpers
class _ProtectedMixin:
    """Row selection and monitoring for penalties against protected variables."""

    on: str
    requires: ClassVar[str] = "protected"

    def _selection(self) -> Selection:
        sel = _check_enum("on", self.on, Selection)
        if sel is Selection.AUTO:
            classification = getattr(self, "task_", "classification") == "classification"
            return Selection.BACKGROUND if classification else Selection.ALL
        return sel

    def _check_task(self, task: str) -> None:
        sel = _check_enum("on", self.on, Selection)
        if task != "classification" and sel in (Selection.BACKGROUND, Selection.SIGNAL):
            msg = f"on={self.on!r} needs class labels; use on='all' (or 'auto') for regression"
            raise ConfigError(msg)

    def rows(self, y: Any, is_domain: Any, n: int) -> Any:
        """Boolean mask (numpy or torch, like ``y``/``is_domain``) of penalised rows."""
        sel = self._selection()
        mask = None if is_domain is None else ~is_domain
        if sel is not Selection.ALL and y is not None:
            cls = (y > 0.5) if sel is Selection.SIGNAL else (y < 0.5)
            mask = cls if mask is None else (mask & cls)
        return mask

    def monitor(self, output, *, y=None, weight=None, protected=None, is_domain=None, names=None):
        if protected is None:
            return {}
        protected = np.asarray(protected, dtype=np.float64).reshape(len(output), -1)
        mask = self.rows(y, is_domain, len(output))
        mask = np.ones(len(output), bool) if mask is None else np.asarray(mask, bool)
        w = None if weight is None else np.asarray(weight, np.float64)[mask]
        s = np.asarray(output, np.float64)[mask]
        names = list(names) if names is not None else [f"z{k}" for k in range(protected.shape[1])]
        if mask.sum() < 3:
            return {f"dcor2_{nm}": float("nan") for nm in names}
        return {
            f"dcor2_{nm}": float(_dcor2(s, protected[mask, k], w, "auto"))
            for k, nm in enumerate(names)
        }


class _DomainMixin:
    """Balanced MC/data weights and monitoring for domain penalties."""

    requires: ClassVar[str] = "domain"

    @staticmethod
    def _balanced(weight: Any, is_domain: Any) -> Any:
        if isinstance(is_domain, np.ndarray):
            w = np.where(is_domain, 1.0, np.asarray(weight, np.float64))
            n_dom, w_mc = is_domain.sum(), w[~is_domain].sum()
            if n_dom == 0 or w_mc <= 0:
                return None
            return np.where(is_domain, 1.0 / n_dom, w / w_mc)
        w = weight.masked_fill(is_domain, 1.0)
        n_dom = is_domain.sum()
        w_mc = w.masked_fill(is_domain, 0.0).sum()
        return _torch_where(is_domain, 1.0 / n_dom.clamp_min(1), w / w_mc.clamp_min(1e-30))

    def monitor(self, output, *, y=None, weight=None, protected=None, is_domain=None, names=None):
        if is_domain is None:
            return {}
        is_domain = np.asarray(is_domain, bool)
        w = np.ones(len(output)) if weight is None else np.asarray(weight, np.float64)
        bw = self._balanced(w, is_domain)
        if bw is None:
            return {"dcor2_domain": float("nan")}
        s = np.asarray(output, np.float64)
        return {"dcor2_domain": float(_dcor2(s, is_domain.astype(np.float64), bw, "auto"))}


def _torch_where(cond: Any, a: Any, b: Any) -> Any:
    import torch

    return torch.where(cond, a, b)


def _zero(output: torch.Tensor) -> torch.Tensor:
    return output.sum() * 0.0


# ------------------------------------------------------------------ DisCo family
class DisCo(_ProtectedMixin, Penalty):
    """Distance-correlation penalty ``λ Σ_k (dCor²(s, z_k))^power`` (Kasieczka & Shih).

    Parameters
    ----------
    strength
        λ ≥ 0.
    power
        Exponent applied to dCor² (``1`` is the DisCo paper's convention).
    on
        ``"auto"``, ``"background"``, ``"signal"`` or ``"all"`` (see module notes).
    method
        Forwarded to :func:`~decorr_af.decorrelation.distance.distance_correlation`.

    Examples
    --------
    >>> DisCo(strength=10.0, on="background")
    DisCo(strength=10.0, power=1.0, on='background', method='auto')
    """

    _params = ("strength", "power", "on", "method")

    def __init__(
        self,
        strength: float = 1.0,
        *,
        power: float = 1.0,
        on: str = "auto",
        method: str = "auto",
    ) -> None:
        self.strength = strength
        self.power = power
        self.on = on
        self.method = method

    def validate(self) -> None:
        super().validate()
        _check_number("power", self.power, low=0.0, strict=True)
        _check_enum("on", self.on, Selection)

    def setup(self, *, task: str = "classification", **kwargs: Any) -> None:
        super().setup(task=task, **kwargs)
        self._check_task(task)

    def loss(self, output: torch.Tensor, batch: PenaltyBatch) -> torch.Tensor:
        mask = self.rows(batch.y, batch.is_domain, len(output))
        s, w, z = output, batch.weight, batch.protected
        if mask is not None:
            s, w, z = s[mask], w[mask], z[mask]
        if len(s) < 3:
            return _zero(output)
        total = _zero(output)
        for k in range(z.shape[1]):
            d2 = _dcor2(s, z[:, k], w, self.method)
            total = total + (d2 if self.power == 1 else d2.clamp_min(1e-12) ** self.power)
        return self.strength * total


class DomainDisCo(_DomainMixin, Penalty):
    """``λ (dCor²(s, domain))^power`` on batches mixing MC and unlabelled data rows.

    dCor with a binary variable vanishes iff the output distributions of the two
    domains agree, so this makes the MC output look like the data output.

    Examples
    --------
    >>> DomainDisCo(strength=5.0)
    DomainDisCo(strength=5.0, power=1.0, method='auto')
    """

    _params = ("strength", "power", "method")

    def __init__(self, strength: float = 1.0, *, power: float = 1.0, method: str = "auto") -> None:
        self.strength = strength
        self.power = power
        self.method = method

    def validate(self) -> None:
        super().validate()
        _check_number("power", self.power, low=0.0, strict=True)

    def loss(self, output: torch.Tensor, batch: PenaltyBatch) -> torch.Tensor:
        dom = batch.is_domain
        if dom is None or not bool(dom.any()) or bool(dom.all()):
            return _zero(output)
        w = self._balanced(batch.weight, dom)
        d2 = _dcor2(output, dom.to(output.dtype), w, self.method)
        return self.strength * (d2 if self.power == 1 else d2.clamp_min(1e-12) ** self.power)


# -------------------------------------------------------------- adversary family
class _AdversarialPenalty(Penalty):
    """Louppe-Kagan-Cranmer pivot machinery: an adversary net with its own optimiser.

    The model minimises ``L_model − λ L_adv``; the adversary minimises ``L_adv``
    (weighted negative log-likelihood of its target given the model output) with
    ``steps_per_batch`` Adam steps per model step, learning rate ``lr`` decayed by
    ``lr_decay`` per epoch. During the first ``pretrain_epochs`` epochs the
    adversarial term is off: the model trains plainly while the adversary learns
    to follow it (pre-training of both, as in the pivot paper).
    """

    hidden: Sequence[int]
    activation: str
    lr: float
    lr_decay: float
    pretrain_epochs: int
    steps_per_batch: int

    def validate(self) -> None:
        super().validate()
        _check_number("lr", self.lr, low=0.0, strict=True)
        _check_number("lr_decay", self.lr_decay, low=0.0, strict=True)
        _check_int("pretrain_epochs", self.pretrain_epochs, low=0)
        _check_int("steps_per_batch", self.steps_per_batch, low=1)

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
            return _zero(output)
        s, target, w = self._inputs(output, batch)
        if len(s) < 2:
            return _zero(output)
        return -self.strength * self._nll(s, target, w)

    def end_epoch(self, epoch: int) -> None:
        self.scheduler_.step()


class Adversary(_ProtectedMixin, _AdversarialPenalty):
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
        _check_enum("kind", self.kind, AdversaryKind)
        _check_int("n_components", self.n_components, low=1)
        _check_enum("on", self.on, Selection)

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


class DomainAdversary(_DomainMixin, _AdversarialPenalty):
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
        return None, dom.long(), self._balanced(batch.weight, dom)

    def _nll(self, s: torch.Tensor, target: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        if not bool((target == 1).any()) or not bool((target == 0).any()):
            return s.sum() * 0.0
        per_event = F.cross_entropy(self.net_(s), target, reduction="none")
        return (w * per_event).sum() / w.sum().clamp_min(1e-30)

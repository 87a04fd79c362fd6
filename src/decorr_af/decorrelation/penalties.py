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
        params = {
            k: list(v) if isinstance(v, tuple) else v for k, v in self.get_params().items()
        }
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
            msg = f"{type(self).__name__} supports a single model output, got output_dim={output_dim}"
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
        return torch_where(is_domain, 1.0 / n_dom.clamp_min(1), w / w_mc.clamp_min(1e-30))

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


def torch_where(cond: Any, a: Any, b: Any) -> Any:
    import torch

    return torch.where(cond, a, b)


def _zero(output: torch.Tensor) -> torch.Tensor:
    return output.sum() * 0.0

"""The penalty protocol: :class:`Penalty`, its registry and the shared base classes.

A penalty is a small object holding its hyper-parameters (explicit keywords,
stored unchanged, scikit-learn style). A new method is a new class: subclassing
:class:`Penalty` registers it under its class name, so :func:`make_penalty` and
:func:`penalty_from_dict` find it (abstract bases opt out with
``class Base(Penalty, register=False)``).

What a penalty owns
-------------------
(a) its **torch loss** for the MLP estimators (:meth:`Penalty.loss`, λ included),
(b) its **numpy value, gradient and Hessian** for gradient boosting
    (:meth:`Penalty.boost_terms`, in terms of the penalised output ``s``), or the
    clear :class:`~decorr_af.errors.ConfigError` of the base class saying it has none,
(c) its **monitor** (:meth:`Penalty.monitor`: named dependence figures, e.g.
    ``dcor2_<name>``) and the **validation term** built from it
    (:meth:`Penalty.validation_term`), added to the validation main loss for early
    stopping by both estimator families.

Call order of the torch loop (:func:`decorr_af.models.training.train_network`)::

    penalty.setup(output_dim=1, device=dev, task=..., y=..., weight=..., protected=...,
                  seed=0)                                 # once per fit (validates)
    for epoch in range(epochs):
        penalty.start_epoch(epoch)
        for batch in batches:                             # batch: PenaltyBatch
            s = score(model(x))                           # probability / prediction
            penalty.adversary_step(s.detach(), batch)     # adversaries only (else no-op)
            total = main_loss + penalty.loss(s, batch)    # penalty.loss includes λ
        penalty.end_epoch(epoch)                          # adversary LR schedule
        stats = penalty.monitor(s_train, ...)             # logged per epoch
        val_objective = val_main_loss + penalty.validation_term(penalty.monitor(s_val, ...))

Call order of gradient boosting (:class:`decorr_af.models.xgb.DisCoObjective`)::

    penalty.setup(task=...); penalty.require_boosting()   # once per fit
    value, grad_s, hess_s = penalty.boost_terms(s, y=..., weight=..., protected=...,
                                                is_domain=...)   # every boosting round
    # xgb applies the chain rule s'(f) and the total weight W; early stopping uses
    # main_loss + penalty.validation_term(penalty.monitor(s_val, ...))

``s`` is the predicted probability for classifiers and the (standardised)
prediction for regressors. ``rows(y, is_domain, n)`` says which rows a penalty is
computed on (``None``: all), used to add penalty-only rows to small minibatches.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from decorr_af.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "DomainPenalty",
    "Penalty",
    "PenaltyBatch",
    "ProtectedPenalty",
    "Selection",
    "make_penalty",
    "penalty_from_dict",
    "registered_penalties",
    "trust_region_hessian",
]


class Selection(str, enum.Enum):
    """Which events a protected-variable penalty is computed on."""

    AUTO = "auto"
    BACKGROUND = "background"
    SIGNAL = "signal"
    ALL = "all"


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


def registered_penalties() -> dict[str, type[Penalty]]:
    """A copy of the registry: class name to penalty class.

    Examples
    --------
    >>> import decorr_af.decorrelation.penalties  # registers the built-in penalties
    >>> {"DisCo", "Adversary", "DomainDisCo", "DomainAdversary"} <= set(registered_penalties())
    True
    """
    return dict(_REGISTRY)


def dcor2(s: Any, z: Any, w: Any, method: str = "auto") -> Any:
    """Weighted squared distance correlation (numpy or differentiable torch)."""
    from decorr_af.decorrelation.distance import distance_correlation

    return distance_correlation(s, z, weights=w, method=method, squared=True)


def check_number(name: str, value: Any, *, low: float, strict: bool = False) -> float:
    """``float(value)``; :class:`ConfigError` naming ``name`` unless finite and ≥ (>) ``low``."""
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


def check_int(name: str, value: Any, *, low: int) -> int:
    """``int(value)``; :class:`ConfigError` naming ``name`` unless an integer ≥ ``low``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        msg = f"{name}={value!r} must be an integer >= {low}"
        raise ConfigError(msg)
    return int(value)


def check_enum(name: str, value: Any, enum_cls: type[enum.Enum]) -> Any:
    """``enum_cls(value)``; :class:`ConfigError` naming ``name`` and the choices otherwise."""
    try:
        return enum_cls(value)
    except ValueError:
        choices = ", ".join(repr(e.value) for e in enum_cls)
        msg = f"{name}={value!r} is not one of {choices}"
        raise ConfigError(msg) from None


def zero_like(output: torch.Tensor) -> torch.Tensor:
    """A zero penalty connected to the graph of ``output``."""
    return output.sum() * 0.0


def trust_region_hessian(grad: np.ndarray, s: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Diagonal Hessian ``|g_i| / σ_s`` of a scale-free penalty, per row.

    With this curvature the Newton step of the penalty alone moves each output by
    at most one weighted standard deviation ``σ_s`` of ``s`` (a trust region:
    dCor² is scale invariant, so its curvature grows like 1/σ_s² and a fixed
    diagonal either freezes or overshoots). Rows without gradient get 0.

    Examples
    --------
    >>> trust_region_hessian(np.array([1.0, -2.0]), np.array([0.0, 2.0]), np.ones(2)).tolist()
    [1.0, 2.0]
    """
    sd = np.sqrt(np.average((s - np.average(s, weights=w)) ** 2, weights=w))
    return np.abs(grad) / max(sd, 1e-12)


class Penalty:
    """Base class: hyper-parameters, serialisation and the protocol's defaults.

    Subclasses list their keyword hyper-parameters in ``_params``, set ``requires``
    to ``"protected"`` or ``"domain"`` (what ``fit`` must receive) and implement
    :meth:`loss`; :meth:`boost_terms` (gradient boosting) and :meth:`monitor`
    (validation term) are optional. Subclassing registers the class under its
    name (``register=False`` in the class statement opts out, as do names
    starting with ``_``).
    """

    requires: ClassVar[str] = "protected"
    #: whether the penalty trains an adversary of its own (``adversary_loss`` history)
    adversarial: ClassVar[bool] = False
    _params: ClassVar[tuple[str, ...]] = ("strength",)

    strength: float

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if register and not cls.__name__.startswith("_"):
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
        check_number("strength", self.strength, low=0.0)

    # --- protocol: torch training -------------------------------------------
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

    def rows(self, y: Any, is_domain: Any, n: int) -> Any:
        """Boolean mask of the rows the penalty is computed on; ``None``: all ``n`` rows."""
        return None

    # --- protocol: gradient boosting ------------------------------------------
    def boost_terms(
        self,
        score: np.ndarray,
        *,
        y: np.ndarray | None = None,
        weight: np.ndarray | None = None,
        protected: np.ndarray | None = None,
        is_domain: np.ndarray | None = None,
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Value, gradient and diagonal Hessian of the penalty with respect to ``score``.

        Parameters
        ----------
        score
            The penalised output ``s`` per row (probability or prediction), float64.
        y
            0/1 labels (classification) or ``None`` (regression).
        weight
            Event weights per row (0 for unlabelled domain rows).
        protected
            ``(n, K)`` protected variables, or ``None``.
        is_domain
            Boolean mask of unlabelled domain rows, or ``None``.

        Returns
        -------
        tuple
            ``(value, grad, hess)``: the penalty (λ included), ``∂P/∂s_i`` and a
            non-negative curvature per row (arrays of length ``n``, 0 for rows the
            penalty does not use).

        Raises
        ------
        ConfigError
            In the base class: the penalty has no boosting gradient.
        """
        self.require_boosting()
        raise NotImplementedError  # pragma: no cover - require_boosting raised

    @classmethod
    def supports_boosting(cls) -> bool:
        """Whether the class implements :meth:`boost_terms`."""
        return cls.boost_terms is not Penalty.boost_terms

    def require_boosting(self) -> None:
        """Raise :class:`ConfigError` unless the penalty has boosting terms."""
        if not self.supports_boosting():
            name = type(self).__name__
            msg = f"penalty={name}: {name} has no boosting gradient; use estimator 'mlp'"
            raise ConfigError(msg)

    # --- protocol: monitoring and early stopping -------------------------------
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
        """Named dependence figures of ``output`` (numpy); none by default."""
        return {}

    def validation_term(self, monitored: Mapping[str, float]) -> float:
        """The penalty's part of the validation objective, from :meth:`monitor` output.

        ``λ Σ max(v, 0)`` over the finite figures by default; early stopping minimises
        ``validation main loss + validation_term(monitor(validation outputs))``.

        Examples
        --------
        >>> from decorr_af.decorrelation.penalties import Adversary
        >>> Adversary(strength=2.0).validation_term({"dcor2_m": 0.25, "dcor2_pt": float("nan")})
        0.5
        """
        return float(self.strength) * sum(max(v, 0.0) for v in monitored.values() if np.isfinite(v))


def _class_for(kind: str, where: str) -> type[Penalty]:
    by_lower = {name.lower(): cls for name, cls in _REGISTRY.items()}
    cls = by_lower.get(str(kind).lower())
    if cls is None:
        msg = f"{where}: {kind!r} is not one of {sorted(_REGISTRY)}"
        raise ConfigError(msg)
    return cls


def _tuples(params: dict[str, Any]) -> dict[str, Any]:
    for key in ("hidden",):
        if isinstance(params.get(key), list):
            params[key] = tuple(params[key])
    return params


def penalty_from_dict(data: dict[str, Any]) -> Penalty:
    """Rebuild a penalty from :meth:`Penalty.to_dict` output.

    Examples
    --------
    >>> from decorr_af.decorrelation.penalties import DisCo
    >>> penalty_from_dict(DisCo(strength=2.0).to_dict())
    DisCo(strength=2.0, power=1.0, on='auto', method='auto')
    """
    try:
        cls = _REGISTRY[data["name"]]
    except KeyError:
        msg = f"penalty name {data.get('name')!r} is not one of {sorted(_REGISTRY)}"
        raise ConfigError(msg) from None
    return cls(**_tuples(dict(data.get("params", {}))))


def make_penalty(kind: str, **params: Any) -> Penalty:
    """A penalty from its registered kind (class name, case-insensitive) and keywords.

    The form used by model specs (``penalty: {kind: DisCo, on: background}``).

    Examples
    --------
    >>> make_penalty("disco", strength=3.0, on="background")
    DisCo(strength=3.0, power=1.0, on='background', method='auto')
    """
    cls = _class_for(kind, "parameter 'penalty.kind'")
    unknown = sorted(set(params) - set(cls._params))
    if unknown:
        msg = f"parameter 'penalty': {cls.__name__} has no parameter(s) {unknown} (has {list(cls._params)})"
        raise ConfigError(msg)
    return cls(**_tuples(params))


# ------------------------------------------------------------ shared base classes
class ProtectedPenalty(Penalty, register=False):
    """Base of penalties against protected variables ``z`` (``requires="protected"``).

    Provides the row selection of the ``on`` hyper-parameter (``"auto"``,
    ``"background"``, ``"signal"``, ``"all"``; ``"auto"`` is the background for
    classifiers and all rows for regressors) and the dCor² monitor
    ``dcor2_<name>`` of the output with each protected variable.
    """

    requires: ClassVar[str] = "protected"
    on: str = "auto"

    def validate(self) -> None:
        super().validate()
        check_enum("on", self.on, Selection)

    def setup(self, *, task: str = "classification", **kwargs: Any) -> None:
        super().setup(task=task, **kwargs)
        self._check_task(task)

    def _selection(self) -> Selection:
        sel = check_enum("on", self.on, Selection)
        if sel is Selection.AUTO:
            classification = getattr(self, "task_", "classification") == "classification"
            return Selection.BACKGROUND if classification else Selection.ALL
        return sel

    def _check_task(self, task: str) -> None:
        sel = check_enum("on", self.on, Selection)
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

    def selected_rows(self, y: Any, is_domain: Any, n: int) -> np.ndarray:
        """Indices (numpy) of the rows :meth:`rows` selects."""
        mask = self.rows(y, is_domain, n)
        return np.arange(n) if mask is None else np.flatnonzero(np.asarray(mask, bool))

    def selected_batch(self, output: torch.Tensor, batch: PenaltyBatch) -> tuple[Any, Any, Any]:
        """Output, weights and protected values of the penalised rows of ``batch`` (torch)."""
        mask = self.rows(batch.y, batch.is_domain, len(output))
        s, w, z = output, batch.weight, batch.protected
        if mask is not None:
            s, w, z = s[mask], w[mask], z[mask]
        return s, w, z

    def host_inputs(
        self, score: Any, *, y: Any, weight: Any, protected: Any, is_domain: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(s, w, z, rows)`` of ``boost_terms`` (float64 numpy).

        ``w`` is ones when ``weight`` is None, ``z`` is ``(n, K)`` and ``rows`` the
        indices of the penalised rows (:meth:`selected_rows`).
        """
        s = np.asarray(score, np.float64)
        n = len(s)
        w = np.ones(n) if weight is None else np.asarray(weight, np.float64)
        z = np.asarray(protected, np.float64).reshape(n, -1)
        return s, w, z, self.selected_rows(y, is_domain, n)

    @staticmethod
    def column_names(names: Sequence[str] | None, k: int) -> list[str]:
        """``names`` as a list, or ``z0 … z<k-1>`` when None."""
        return list(names) if names is not None else [f"z{j}" for j in range(k)]

    def prefixed_term(self, monitored: Mapping[str, float], prefix: str) -> float:
        """``λ Σ`` of the finite monitored figures whose key starts with ``prefix``."""
        return float(self.strength) * sum(
            v for k, v in monitored.items() if k.startswith(prefix) and np.isfinite(v)
        )

    def monitor(self, output, *, y=None, weight=None, protected=None, is_domain=None, names=None):
        """``{"dcor2_<name>": dCor²(s, z_k)}`` and :meth:`figures` on the selected rows.

        The dCor² figures are NaN (and :meth:`figures` is not called) below 3 rows.
        """
        if protected is None:
            return {}
        protected = np.asarray(protected, dtype=np.float64).reshape(len(output), -1)
        mask = self.rows(y, is_domain, len(output))
        mask = np.ones(len(output), bool) if mask is None else np.asarray(mask, bool)
        w = None if weight is None else np.asarray(weight, np.float64)[mask]
        s = np.asarray(output, np.float64)[mask]
        names = self.column_names(names, protected.shape[1])
        if mask.sum() < 3:
            return {f"dcor2_{nm}": float("nan") for nm in names}
        out = {
            f"dcor2_{nm}": float(dcor2(s, protected[mask, k], w, "auto"))
            for k, nm in enumerate(names)
        }
        out.update(self.figures(s, np.ones(len(s)) if w is None else w, protected[mask], names))
        return out

    def figures(
        self, s: np.ndarray, w: np.ndarray, z: np.ndarray, names: list[str]
    ) -> dict[str, float]:
        """The penalty's own monitored figures on the selected rows (none by default).

        ``s``, ``w`` (ones when unweighted) and ``z`` ``(n, K)`` are those of the rows
        :meth:`rows` selects (three or more); :meth:`monitor` adds them after the
        ``dcor2_<name>`` figures.
        """
        return {}


class DomainPenalty(Penalty, register=False):
    """Base of domain penalties (``requires="domain"``): MC rows against unlabelled data.

    Provides :meth:`balanced_weights` (MC rows by their event weights, data rows
    equally, each domain normalised to the same total) and the monitor
    ``dcor2_domain`` = dCor²(s, is_domain) with those weights.
    """

    requires: ClassVar[str] = "domain"

    @staticmethod
    def balanced_weights(weight: Any, is_domain: Any) -> Any:
        """Per-row weights with each domain summing to 1 (numpy: ``None`` if a domain is empty).

        Examples
        --------
        >>> DomainPenalty.balanced_weights(np.array([1.0, 3.0, 0.0]), np.array([0, 0, 1], bool))
        array([0.25, 0.75, 1.  ])
        """
        if isinstance(is_domain, np.ndarray):
            w = np.where(is_domain, 1.0, np.asarray(weight, np.float64))
            n_dom, w_mc = is_domain.sum(), w[~is_domain].sum()
            if n_dom == 0 or w_mc <= 0:
                return None
            return np.where(is_domain, 1.0 / n_dom, w / w_mc)
        import torch

        w = weight.masked_fill(is_domain, 1.0)
        n_dom = is_domain.sum()
        w_mc = w.masked_fill(is_domain, 0.0).sum()
        return torch.where(is_domain, 1.0 / n_dom.clamp_min(1), w / w_mc.clamp_min(1e-30))

    _balanced = balanced_weights

    def monitor(self, output, *, y=None, weight=None, protected=None, is_domain=None, names=None):
        """``{"dcor2_domain": dCor²(s, is_domain)}`` with balanced weights."""
        if is_domain is None:
            return {}
        is_domain = np.asarray(is_domain, bool)
        w = np.ones(len(output)) if weight is None else np.asarray(weight, np.float64)
        bw = self.balanced_weights(w, is_domain)
        if bw is None:
            return {"dcor2_domain": float("nan")}
        s = np.asarray(output, np.float64)
        return {"dcor2_domain": float(dcor2(s, is_domain.astype(np.float64), bw, "auto"))}

"""Decorrelation-regularised gradient boosting: ``xgboost.train`` with a custom objective.

Objective (the same λ convention as the torch estimators)::

    J(f) = Σ_i w_i l(f_i, y_i) / Σ_i w_i  +  P(s)      e.g. P = λ Σ_k (dCor²(s, z_k))^power

* ``s`` is the penalised output: the signal **probability** ``σ(f)`` for the
  classifier (chain rule ``ds/df = σ(1-σ)``) and the standardised prediction ``f``
  for the regressor; ``l`` is the logistic loss or the squared error (targets are
  standardised internally).
* The penalty supplies its value, gradient ``∂P/∂s`` and a diagonal curvature
  ``H_s`` through the protocol method
  :meth:`~decorr_af.decorrelation.penalties.Penalty.boost_terms`; a penalty without
  it (an adversary) is rejected with a :class:`~decorr_af.errors.ConfigError`.
  This module applies the chain rule: ``∂P/∂f = ∂P/∂s · s'(f)`` and the
  Gauss-Newton curvature ``H_s · s'(f)²``.
* xgboost sums per-row gradients, so it receives ``W ∂J/∂f`` with ``W = Σ w``. For
  DisCo the penalty gradient is exact
  (:func:`~decorr_af.decorrelation.distance.distance_correlation_sq_grad`,
  O(N log N), on **all** selected rows - no sub-sampling cap).
* Hessian: the main-loss Hessian plus a positive diagonal term for the penalty.
  The DisCo family uses ``H_s = |g_s| / σ_s``, i.e. ``h_i = |g_i| s'(f_i) / σ_s``
  (``g_i`` the penalty gradient of row ``i`` with respect to ``f``, ``σ_s`` the
  weighted standard deviation of ``s`` over the penalised rows;
  :func:`~decorr_af.decorrelation.penalties.trust_region_hessian`). The Newton step
  of the penalty alone is then at most one output standard deviation per row (a
  trust region: dCor² is scale invariant, its curvature grows like 1/σ_s², so a
  fixed diagonal either freezes or overshoots); rows without penalty gradient keep
  the plain loss curvature, so a constant start (σ_s = 0, g = 0) trains normally.
* Domain penalties (``requires == "domain"``, e.g. ``DomainDisCo``): the unlabelled
  ``domain_X`` rows are appended with zero weight in the main loss; the penalty
  sees them through ``is_domain``.
* ``penalty_radius`` (default :data:`PENALTY_RADIUS` = 0.3) scales that trust
  region: the penalty curvature is divided by it, so the penalty's Newton step per
  row is at most ``penalty_radius · σ_s`` (times ``learning_rate``).
* **λ saturation and the default radius (issue #14).** Once the penalty dominates
  both the gradient and the Hessian (λ ≳ 10 on the toy of
  ``tests/test_xgb_monotonic.py``), a leaf value ``-ΣG/ΣH`` is invariant under
  ``λ → cλ`` (both sums scale with λ), so the update no longer depends on λ: the
  fit behaves like a sign-gradient descent with step
  ``learning_rate · penalty_radius · σ_s`` and dCor² stalls at a floor set by that
  step, fluctuating around it. With the former default radius 1 the floor was
  high and noisy: on the toy (60 trees, 9 seeds) dCor² was not monotonic over
  λ = 1, 10, 100 for any seed, λ = 100 ending up to +0.019 above λ = 10
  (e.g. 0.005 → 0.024). The default radius is therefore 0.3 (a smaller step on
  the penalty only; the main loss keeps its Newton step): on the same 9 seeds
  dCor² drops from λ = 1 to 10 every time and changes by -0.004 … +0.003 from
  λ = 10 to 100 (the floor's seed spread; floor 0.002-0.009), at a similar AUC;
  λ = 1 also reaches a lower dCor² on 8 of the 9 seeds. A smaller radius
  (0.1-0.2) needs more trees to reach the floor; an adaptive radius ``∝ dCor``
  was tried and did not lower it. On the toys of ``tests/test_pinned.py`` with the
  workflows' 200 trees (test-sample dCor, λ = 2 … 320) radius 0.3 reaches a lower
  minimum (photon ID 0.062 vs 0.066, ttH 0.107 vs 0.109) at a comparable AUC, and
  photon-ID dCor is flat-to-falling in λ (0.070 … 0.064; radius 1: 0.066 at
  λ = 20 rising to 0.079 at 320). With only 20 trees the smaller step may not reach
  the floor (pinned ttH DisCo-BDT dCor 0.146 against 0.129 with radius 1).
  ``penalty_radius=1`` restores the former behaviour (and figures).
* Early stopping monitors ``main loss + penalty.validation_term(penalty.monitor(s))``
  on the validation rows, the same objective as the torch estimators.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from decorr_af._compat import optional_import
from decorr_af.decorrelation.penalties import Penalty
from decorr_af.errors import ConfigError
from decorr_af.models import _persist, io
from decorr_af.models._binary import BinaryClassifierOutput, sigmoid
from decorr_af.models._inputs import (
    as_features,
    check_fraction,
    check_number,
    prepare_fit,
    split_indices,
)
from decorr_af.models._regression import StandardizedTargetOutput

__all__ = ["PENALTY_RADIUS", "DisCoObjective", "DisCoXGBClassifier", "DisCoXGBRegressor"]

#: Default trust-region radius of the penalty step, in units of ``σ_s`` (module
#: notes: 0.3 keeps dCor² non-increasing in λ where 1 saturated).
PENALTY_RADIUS = 0.3


class DisCoObjective:
    """Value, gradient and Hessian of ``W·J(f)`` (see the module notes) for one data set.

    Parameters
    ----------
    task
        ``"classification"`` or ``"regression"``.
    y, weight
        Targets (0/1 or standardised) and main-loss weights, per row (0 for domain rows).
    penalty
        ``None`` or a penalty with boosting terms (``setup`` already called).
    protected
        ``(n, K)`` protected variables or ``None``.
    is_domain
        Boolean mask of domain rows (domain penalties) or ``None``.
    radius
        Trust-region radius of the penalty step in units of ``σ_s``: the penalty
        curvature is divided by it (see the module notes; 1 keeps the plain
        ``|g| / σ_s`` curvature).
    schedule
        A λ warm-up schedule over boosting rounds, or ``None`` (λ constant).
    out_dtype
        dtype of the returned gradient and Hessian (computed in float64). xgboost
        stores them as float32, so ``np.float32`` trains the same trees with half the
        memory of the hand-over (external-memory fits).

    ``y``, ``weight`` and ``protected`` keep a floating dtype they arrive in
    (float32 inputs are not copied to float64; a read-only broadcast ``weight``
    such as ``np.broadcast_to(np.float32(1), n)`` costs no memory): every
    computation promotes them to float64 exactly, so the values are those of
    float64 copies.

    Examples
    --------
    >>> obj = DisCoObjective("regression", np.zeros(4), np.ones(4))
    >>> obj.gradient(np.ones(4))[0].tolist()
    [2.0, 2.0, 2.0, 2.0]
    """

    def __init__(
        self,
        task: str,
        y: np.ndarray,
        weight: np.ndarray,
        *,
        penalty: Penalty | None = None,
        protected: np.ndarray | None = None,
        is_domain: np.ndarray | None = None,
        radius: float = 1.0,
        schedule: Any = None,
        out_dtype: Any = np.float64,
    ) -> None:
        self.classification = task == "classification"
        self.radius = float(radius)
        self.schedule = schedule  # WarmupSchedule over boosting rounds, or None (λ constant)
        self.round = 0
        self.out_dtype = np.dtype(out_dtype)
        self.y = _floating(y)
        self.weight = _floating(weight)
        self.W = float(np.asarray(self.weight, np.float64).sum())
        self.penalty = penalty if penalty is not None and float(penalty.strength) > 0 else None
        if self.penalty is not None:
            self.penalty.require_boosting()
        n = len(self.y)
        self._inputs = {
            "y": self.y if self.classification else None,
            "weight": None if _is_unit(self.weight) else self.weight,  # None: ones, built per use
            "protected": None if protected is None else _floating(protected).reshape(n, -1),
            "is_domain": None if is_domain is None else np.asarray(is_domain, bool),
        }

    def _score(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.classification:
            s = sigmoid(f)
            return s, s * (1.0 - s)
        return f, np.ones_like(f)

    def main_loss(self, f: np.ndarray) -> float:
        """Event-weighted mean main loss (logistic or squared error)."""
        y = self.y.astype(np.float64, copy=False)  # a float32 y: the float64 values
        if self.classification:
            per = np.logaddexp(0.0, f) - y * f
        else:
            per = (f - y) ** 2
        return float((self.weight * per).sum() / self.W)

    def value(self, f: np.ndarray) -> float:
        """``J(f)``: mean main loss + the penalty's validation term (λ Σ (dCor²)^power)."""
        total = self.main_loss(f)
        if self.penalty is not None:
            s, _ = self._score(np.asarray(f, np.float64))
            total += self.penalty.validation_term(self.penalty.monitor(s, **self._inputs))
        return total

    def gradient(self, f: np.ndarray, factor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """``(W ∂J/∂f, Hessian approximation)`` per row; ``factor`` scales the penalty (λ schedule).

        Memory: the penalty (the exact dCor² kernel, the peak) runs first, when only
        the score ``s`` is held; the N-length arithmetic is in place, in the same
        operation order as the textbook expressions in the comments (same values).
        """
        s = np.array(f, np.float64)  # own float64 copy of xgboost's float32 margins
        if self.classification:  # the penalised score is the probability: computed once
            s = _sigmoid_inplace(s)
        penalty = self.penalty is not None and factor > 0.0
        g_s = h_s = None
        if penalty:
            _, g_s, h_s = self.penalty.boost_terms(s, **self._inputs)
        if self.classification:
            ds = np.subtract(1.0, s)
            ds *= s  # s (1 - s)
            grad = np.subtract(s, self.y)
            grad *= self.weight  # w (s - y)
            del s
            hess = np.maximum(ds, 1e-16)
            hess *= self.weight  # w max(ds, 1e-16)
        else:
            ds = None  # s = f, s'(f) = 1
            grad = np.subtract(s, self.y)
            del s
            grad *= 2.0
            grad *= self.weight  # 2 w (f - y): scaling by 2 is exact
            hess = np.multiply(self.weight, 2.0, dtype=np.float64)
        if penalty:
            g_s *= factor * self.W
            h_s *= factor * self.W
            if ds is not None:
                g_s *= ds  # chain rule: ∂P/∂f = ∂P/∂s · s'(f)
                h_s *= ds
                h_s *= ds  # Gauss-Newton: H_s · s'(f)²
            grad += g_s
            del g_s
            h_s /= self.radius
            hess += h_s
            del h_s
        if self.out_dtype != np.float64:
            grad = grad.astype(self.out_dtype)
            hess = hess.astype(self.out_dtype)
        return grad, hess

    def __call__(self, predt: np.ndarray, dtrain: Any) -> tuple[np.ndarray, np.ndarray]:
        factor = 1.0 if self.schedule is None else self.schedule.factor(self.round)
        self.round += 1  # xgboost calls the objective once per boosting round
        return self.gradient(predt, factor)


def _floating(a: Any) -> np.ndarray:
    """``a`` as an array, kept in its floating dtype (float32 stays float32), else float64."""
    arr = np.asarray(a)
    return arr if np.issubdtype(arr.dtype, np.floating) else arr.astype(np.float64)


def _is_unit(w: np.ndarray) -> bool:
    """Whether ``w`` is a broadcast constant 1 (stride 0): unit weights without memory."""
    return w.ndim == 1 and len(w) > 0 and w.strides == (0,) and float(w[0]) == 1.0


def _sigmoid_inplace(f: np.ndarray) -> np.ndarray:
    """:func:`~decorr_af.models._binary.sigmoid` of a float64 array, overwriting it.

    The same operations as ``0.5 * (1.0 + np.tanh(0.5 * f))`` (same values) without
    its three N-length temporaries.

    Examples
    --------
    >>> f = np.array([-1.0, 0.0, 2.0])
    >>> bool((_sigmoid_inplace(f.copy()) == sigmoid(f)).all())
    True
    """
    np.multiply(f, 0.5, out=f)
    np.tanh(f, out=f)
    f += 1.0
    f *= 0.5
    return f


def _schedule(spec: Any) -> Any:
    from decorr_af.models._warmup import make_schedule

    return make_schedule(spec)


def _xgb_device(device: Any) -> str:
    if str(device) == "auto":
        from decorr_af.models.device import cuda_available

        xgb = optional_import("xgboost", "xgboost")
        return "cuda" if xgb.build_info().get("USE_CUDA") and cuda_available() else "cpu"
    if str(device).split(":")[0] not in ("cpu", "cuda"):
        msg = f"device={device!r} is not one of 'auto', 'cpu', 'cuda'"
        raise ConfigError(msg)
    return str(device)


class _DisCoXGB(BaseEstimator):
    """Shared fit / predict / save of the DisCo-xgboost estimators."""

    _task: ClassVar[str]

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        max_depth: int = 6,
        learning_rate: float = 0.1,
        subsample: float = 1.0,
        min_child_weight: float = 1.0,
        reg_lambda: float = 1.0,
        tree_method: str = "hist",
        device: str = "auto",
        early_stopping_rounds: int | None = None,
        validation_fraction: float = 0.2,
        random_state: int | None = 0,
        n_jobs: int | None = None,
        penalty: Penalty | None = None,
        penalty_radius: float = PENALTY_RADIUS,
        penalty_warmup: Any = "constant",
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.tree_method = tree_method
        self.device = device
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.penalty = penalty
        self.penalty_radius = penalty_radius
        self.penalty_warmup = penalty_warmup

    def _check_params(self) -> None:
        check_number("n_estimators", self.n_estimators, low=1, integer=True)
        check_number("max_depth", self.max_depth, low=0, integer=True)
        check_number("learning_rate", self.learning_rate, low=0.0, strict=True)
        check_number("subsample", self.subsample, low=0.0, strict=True)
        check_number("min_child_weight", self.min_child_weight, low=0.0)
        check_number("reg_lambda", self.reg_lambda, low=0.0)
        if self.early_stopping_rounds is not None:
            check_number("early_stopping_rounds", self.early_stopping_rounds, low=1, integer=True)
        check_fraction("validation_fraction", self.validation_fraction)
        check_number("penalty_radius", self.penalty_radius, low=0.0, strict=True)
        _schedule(self.penalty_warmup)
        if self.penalty is not None:
            if not isinstance(self.penalty, Penalty):
                msg = f"penalty={self.penalty!r} must be a decorr_af penalty object or None"
                raise ConfigError(msg)
            self.penalty.require_boosting()

    def _booster_params(self, seed: int) -> dict[str, Any]:
        """The ``xgboost.train`` parameters of this estimator (shared with ``xgb_scale``)."""
        params = {
            "max_depth": int(self.max_depth),
            "eta": float(self.learning_rate),
            "subsample": float(self.subsample),
            "min_child_weight": float(self.min_child_weight),
            "lambda": float(self.reg_lambda),
            "tree_method": self.tree_method,
            "device": _xgb_device(self.device),
            "seed": seed,
            "base_score": 0.0,
            "disable_default_eval_metric": 1,
        }
        if self.n_jobs is not None:
            params["nthread"] = int(self.n_jobs)
        return params

    def _encode_target(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _base_margin(self, t: np.ndarray, w: np.ndarray) -> float:
        raise NotImplementedError

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        protected: Any = None,
        sample_weight: Any = None,
        domain_X: Any = None,
    ) -> _DisCoXGB:
        """Boost ``n_estimators`` trees on loss + λ·dCor² (see the module notes); returns ``self``."""
        xgb = optional_import("xgboost", "xgboost")
        self._check_params()
        inp = prepare_fit(
            X, y, protected=protected, sample_weight=sample_weight, domain_X=domain_X, penalty=self.penalty
        )  # fmt: skip
        if (inp.weight < 0).any():  # xgboost's DMatrix and the Newton steps need w >= 0
            msg = (f"sample_weight has {int((inp.weight < 0).sum())} negative value(s): gradient "
                   "boosting needs non-negative weights (xgboost's Hessian sums); use the 'mlp' "
                   "estimator for signed weights")  # fmt: skip
            raise ConfigError(msg)
        target = self._encode_target(inp.y, inp.weight)
        self.n_features_in_ = inp.X.shape[1]
        if inp.feature_names is not None:
            self.feature_names_in_ = np.asarray(inp.feature_names, dtype=object)
        self.protected_names_ = inp.protected_names
        self.base_margin_ = self._base_margin(target, inp.weight)
        seed = 0 if self.random_state is None else int(self.random_state)
        pen = None if self.penalty is None else self.penalty.clone()
        if pen is not None:
            pen.setup(task=self._task)
        use_domain = pen is not None and pen.requires == "domain" and float(pen.strength) > 0
        n = len(inp.X)
        rows, vrows = np.arange(n), None
        drows = dvrows = None if inp.domain_X is None else np.arange(len(inp.domain_X))
        if self.early_stopping_rounds is not None:
            rows, vrows = split_indices(n, float(self.validation_fraction), seed)
            if drows is not None:
                drows, dvrows = split_indices(len(drows), float(self.validation_fraction), seed)

        def dataset(r: np.ndarray, dr: np.ndarray | None) -> tuple[Any, DisCoObjective]:
            Xs, t, w = inp.X[r], target[r], inp.weight[r]
            z = None if inp.protected is None else inp.protected[r]
            dom = None
            if use_domain and dr is not None:
                nd = len(dr)
                Xs = np.vstack([Xs, inp.domain_X[dr]])
                t, w = np.r_[t, np.zeros(nd)], np.r_[w, np.zeros(nd)]
                dom = np.r_[np.zeros(len(r), bool), np.ones(nd, bool)]
            obj = DisCoObjective(
                self._task,
                t,
                w,
                penalty=pen,
                protected=z,
                is_domain=dom,
                radius=float(self.penalty_radius),
                schedule=_schedule(self.penalty_warmup).build(
                    n_batches=1, epochs=int(self.n_estimators)
                ),
            )
            dm = xgb.DMatrix(Xs, weight=w, base_margin=np.full(len(Xs), self.base_margin_))
            return dm, obj

        dtrain, objective = dataset(rows, drows)
        params = self._booster_params(seed)
        evals, metric, self.evals_result_ = [], None, {}
        if vrows is not None:
            dval, vobj = dataset(vrows, dvrows)
            evals = [(dval, "validation")]

            def metric(predt: np.ndarray, dm: Any) -> tuple[str, float]:
                return "objective", vobj.value(predt)

        booster = xgb.train(
            params,
            dtrain,
            num_boost_round=int(self.n_estimators),
            obj=objective,
            evals=evals,
            custom_metric=metric,
            early_stopping_rounds=self.early_stopping_rounds if evals else None,
            evals_result=self.evals_result_,
            verbose_eval=False,
        )
        if evals and getattr(booster, "best_iteration", None) is not None:
            self.best_iteration_ = int(booster.best_iteration)
            booster = booster[: self.best_iteration_ + 1]
        self.booster_ = booster
        self.penalty_ = pen
        return self

    def _raw(self, X: Any) -> np.ndarray:
        xgb = optional_import("xgboost", "xgboost")
        _persist.check_fitted(self, "booster_")
        names = getattr(self, "feature_names_in_", None)
        Xa, _ = as_features(
            X,
            feature_names=None if names is None else list(names),
            n_features=self.n_features_in_,
            owner=type(self).__name__,
        )
        dm = xgb.DMatrix(Xa, base_margin=np.full(len(Xa), self.base_margin_))
        return self.booster_.predict(dm, output_margin=True).astype(np.float64)

    def _state(self) -> dict[str, Any]:
        return {"base_margin": self.base_margin_}

    def _set_state(self, state: dict[str, Any]) -> None:
        self.base_margin_ = float(state["base_margin"])

    def save(self, path: str | Path) -> Path:
        """Save to directory ``path``: ``metadata.json`` + ``model.json`` (xgboost JSON)."""
        _persist.check_fitted(self, "booster_")
        meta = _persist.metadata(self)
        path = Path(path)
        io.write_metadata(path, meta)
        self.booster_.save_model(str(path / io.XGB_MODEL_FILE))
        return path

    @classmethod
    def load(cls, path: str | Path) -> _DisCoXGB:
        """Load a model saved with :meth:`save` (JSON only)."""
        xgb = optional_import("xgboost", "xgboost")
        est, _ = _persist.read_estimator(cls, path)
        booster = xgb.Booster()
        booster.load_model(str(Path(path) / io.XGB_MODEL_FILE))
        est.booster_ = booster
        return est


class DisCoXGBClassifier(BinaryClassifierOutput, ClassifierMixin, _DisCoXGB):
    """Binary gradient-boosted classifier with a DisCo (or DomainDisCo) penalty.

    The penalty acts on the signal probability; ``score`` is the weighted ROC AUC.
    Parameters follow xgboost (``n_estimators``, ``max_depth``, ``learning_rate``,
    ``subsample``, ``min_child_weight``, ``reg_lambda``, ``tree_method``,
    ``device="auto"``, ``random_state``, ``n_jobs``); ``early_stopping_rounds`` holds out
    ``validation_fraction`` of the events and monitors the validation objective.
    ``penalty_radius`` (default 0.3) is the trust-region radius of the penalty step in
    units of the output's standard deviation: at large λ the penalty's Newton step
    no longer depends on λ, and this radius sets the dCor² floor the fit reaches;
    0.3 keeps dCor² non-increasing over λ = 1, 10, 100 (module notes; 1 was the
    default before issue #14).
    ``penalty_warmup`` is the λ schedule over boosting rounds, as for the MLPs
    (``"constant"`` by default: full λ from the first tree; ``"linear:0.3"``,
    ``"exponential"``, a hold-then-linear fraction ...; see ``models._warmup.make_schedule``).

    Examples
    --------
    >>> import numpy as np
    >>> from decorr_af.decorrelation import DisCo
    >>> rng = np.random.default_rng(3)
    >>> X = rng.normal(size=(500, 2)); y = (X[:, 0] > 0).astype(int)
    >>> clf = DisCoXGBClassifier(n_estimators=5, device="cpu", penalty=DisCo(strength=1.0))
    >>> clf.fit(X, y, protected=X[:, 1]).predict_proba(X).shape
    (500, 2)
    """

    _task = "classification"

    def _base_margin(self, t: np.ndarray, w: np.ndarray) -> float:
        p = float(np.clip(np.average(t, weights=w), 1e-6, 1 - 1e-6))
        return float(np.log(p / (1 - p)))


class DisCoXGBRegressor(StandardizedTargetOutput, RegressorMixin, _DisCoXGB):
    """Gradient-boosted regressor (squared error on standardised targets) with DisCo.

    The penalty acts on the prediction (``on="all"`` by default); ``score`` is R².

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(4)
    >>> X = rng.normal(size=(500, 2)); y = X[:, 0] + 0.1 * rng.normal(size=500)
    >>> DisCoXGBRegressor(n_estimators=5, device="cpu").fit(X, y).predict(X).shape
    (500,)
    """

    _task = "regression"

    def _base_margin(self, t: np.ndarray, w: np.ndarray) -> float:
        return 0.0

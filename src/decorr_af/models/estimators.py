"""scikit-learn style torch estimators with a swappable decorrelation penalty.

``score`` is the event-weighted ROC AUC for :class:`DecorrelatedClassifier` and
the (weighted) coefficient of determination R² for :class:`DecorrelatedRegressor`.
Inputs are standardised with the training mean and standard deviation (stored);
regression targets too (predictions are transformed back). The penalised output is
the signal probability (classifier) or the prediction (regressor; dCor is
invariant under the affine target standardisation).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from decorr_af._compat import optional_import
from decorr_af.decorrelation.penalties import Penalty
from decorr_af.errors import ConfigError
from decorr_af.models import _persist, io
from decorr_af.models._binary import BinaryClassifierOutput
from decorr_af.models._inputs import (
    FitInputs,
    as_features,
    check_fraction,
    check_number,
    prepare_fit,
    split_indices,
)
from decorr_af.models._regression import StandardizedTargetOutput
from decorr_af.models._warmup import make_schedule

torch = optional_import("torch", "torch")

from decorr_af.models.device import resolve_device  # noqa: E402
from decorr_af.models.training import (  # noqa: E402
    LossName,
    OptimizerName,
    TrainData,
    check_choice,
    train_network,
)
from decorr_af.nets import MLP, make_activation  # noqa: E402

__all__ = ["DecorrelatedClassifier", "DecorrelatedRegressor"]


@dataclasses.dataclass(frozen=True)
class _FitFeatures:
    """What ``fit`` trains on, from :meth:`_DecorrelatedMLP._fit_features`.

    ``rows`` / ``domain_rows`` map row indices of ``X`` / ``domain_X`` to the
    network's input tensors; ``context`` is the estimator's own (the graph
    estimators' cell store).
    """

    rows: Callable[[np.ndarray], Any]
    domain_rows: Callable[[np.ndarray], Any]
    context: Any = None


class _DecorrelatedMLP(BaseEstimator):
    """Shared fit/predict/save logic (see the concrete classes for the parameters)."""

    _task: ClassVar[str]
    _losses: ClassVar[tuple[str, ...]]

    def __init__(
        self,
        *,
        hidden: Sequence[int] = (64, 64),
        activation: str = "relu",
        dropout: float = 0.0,
        loss: str = "mse",
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        epochs: int = 20,
        batch_size: int = 4096,
        early_stopping: bool = False,
        validation_fraction: float = 0.2,
        patience: int = 5,
        standardize: bool = True,
        device: Any = "auto",
        random_state: int | None = None,
        penalty: Penalty | None = None,
        penalty_warmup: float = 0.3,
        min_penalty_rows: int = 1024,
        verbose: bool = False,
    ) -> None:
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.loss = loss
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.standardize = standardize
        self.device = device
        self.random_state = random_state
        self.penalty = penalty
        self.penalty_warmup = penalty_warmup
        self.min_penalty_rows = min_penalty_rows
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        if self.loss not in self._losses:
            msg = f"loss={self.loss!r} is not one of {self._losses}"
            raise ConfigError(msg)
        check_choice("optimizer", self.optimizer, OptimizerName)
        make_activation(self.activation)
        check_number("lr", self.lr, low=0.0, strict=True)
        check_number("weight_decay", self.weight_decay, low=0.0)
        check_number("dropout", self.dropout, low=0.0)
        check_number("epochs", self.epochs, low=1, integer=True)
        check_number("batch_size", self.batch_size, low=1, integer=True)
        check_number("patience", self.patience, low=1, integer=True)
        check_fraction("validation_fraction", self.validation_fraction)
        make_schedule(self.penalty_warmup)  # a fraction in [0, 1] or a schedule spec
        check_number("min_penalty_rows", self.min_penalty_rows, low=0, integer=True)
        if self.penalty is not None and not isinstance(self.penalty, Penalty):
            msg = f"penalty={self.penalty!r} must be a decorr_af penalty object or None"
            raise ConfigError(msg)

    def _encode_target(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # --------------------------------------------------------------------- fit
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        protected: Any = None,
        sample_weight: Any = None,
        domain_X: Any = None,
        penalty_weight: Any = None,
    ) -> _DecorrelatedMLP:
        """Train the network (with the penalty when ``penalty`` is set); returns ``self``.

        Parameters
        ----------
        X
            Features ``(n, d)``, numpy or pandas (column names are recorded).
        y
            Labels (classifier, two classes) or targets (regressor), length ``n``.
        protected
            Variable(s) to decorrelate from, ``(n,)`` or ``(n, K)`` (DisCo / Adversary).
        sample_weight
            Event weights; signed weights (NLO MC, sWeights) are allowed, their sum
        must be positive (minibatches are then normalised by their size).
        domain_X
            Unlabelled "data" features for DomainDisCo / DomainAdversary.
        penalty_weight
            Non-negative per-event weights of the penalty (default: ``sample_weight``).
            Rows with ``sample_weight`` 0 then enter only the penalty, e.g. MC rows
            that a domain penalty must compare with ``domain_X`` (same selection as
            the data) but that the main loss must not fit.
        """
        self._check_params()
        inputs = self._fit_inputs(
            X, y, protected=protected, sample_weight=sample_weight, domain_X=domain_X
        )
        pweight = _penalty_weights(penalty_weight, inputs.weight)
        target = self._encode_target(inputs.y, inputs.weight)
        seed = (
            int(np.random.default_rng().integers(2**31))
            if self.random_state is None
            else int(self.random_state)
        )
        device = resolve_device(self.device)
        self.protected_names_ = inputs.protected_names
        features = self._fit_features(X, domain_X, inputs, device)

        def tensors(rows: np.ndarray, drows: np.ndarray | None) -> TrainData:
            f32 = {"dtype": torch.float32, "device": device}
            return TrainData(
                X=features.rows(rows),
                target=torch.as_tensor(target[rows], **f32),
                weight=torch.as_tensor(inputs.weight[rows], **f32),
                protected=None
                if inputs.protected is None
                else torch.as_tensor(inputs.protected[rows], **f32),
                domain_X=None if drows is None else features.domain_rows(drows),
                penalty_weight=None if pweight is None else torch.as_tensor(pweight[rows], **f32),
            )

        n = len(inputs.X)
        rows, vrows = np.arange(n), None
        drows = dvrows = None if inputs.domain_X is None else np.arange(len(inputs.domain_X))
        if self.early_stopping:
            rows, vrows = split_indices(n, float(self.validation_fraction), seed)
            if drows is not None:
                drows, dvrows = split_indices(len(drows), float(self.validation_fraction), seed)
        train = tensors(rows, drows)
        validation = None if vrows is None else tensors(vrows, dvrows)

        torch.manual_seed(seed)
        self.model_ = self._fit_network(features).to(device)
        self.penalty_ = None
        if self.penalty is not None:
            self.penalty_ = self.penalty.clone()
            self.penalty_.setup(
                output_dim=1,
                device=device,
                task=self._task,
                y=target[rows] if self._task == "classification" else None,
                weight=(inputs.weight if pweight is None else pweight)[rows],
                protected=None if inputs.protected is None else inputs.protected[rows],
                seed=seed,
            )
        with self._attached(features):
            self.history_ = train_network(
                self.model_,
                train,
                loss=self._loss_name(),
                score=self._score_fn,
                penalty=self.penalty_,
                validation=validation,
                optimizer=self.optimizer,
                lr=float(self.lr),
                weight_decay=float(self.weight_decay),
                epochs=int(self.epochs),
                batch_size=int(self.batch_size),
                patience=int(self.patience) if self.early_stopping else None,
                seed=seed,
                task=self._task,
                protected_names=inputs.protected_names,
                verbose=bool(self.verbose),
                penalty_warmup=self.penalty_warmup,
                min_penalty_rows=int(self.min_penalty_rows),
            )
        self.device_ = device
        return self

    # ------------------------------------------------------------- fit hooks
    def _fit_inputs(
        self, X: Any, y: Any, *, protected: Any, sample_weight: Any, domain_X: Any
    ) -> FitInputs:
        """Validated ``fit`` arguments (the graph estimators check their cell sets first)."""
        return prepare_fit(
            X,
            y,
            protected=protected,
            sample_weight=sample_weight,
            domain_X=domain_X,
            penalty=self.penalty,
        )

    def _fit_features(self, X: Any, domain_X: Any, inputs: FitInputs, device: Any) -> _FitFeatures:
        """Fit the input transform (sets ``n_features_in_``…); the tensors ``fit`` trains on."""
        Xa = inputs.X
        self.n_features_in_ = Xa.shape[1]
        if inputs.feature_names is not None:
            self.feature_names_in_ = np.asarray(inputs.feature_names, dtype=object)
        self.x_mean_ = Xa.mean(axis=0) if self.standardize else np.zeros(Xa.shape[1])
        scale = Xa.std(axis=0) if self.standardize else np.ones(Xa.shape[1])
        self.x_scale_ = np.where(scale > 0, scale, 1.0)
        f32 = {"dtype": torch.float32, "device": device}
        return _FitFeatures(
            rows=lambda rows: torch.as_tensor(self._scale(Xa[rows]), **f32),
            domain_rows=lambda drows: torch.as_tensor(self._scale(inputs.domain_X[drows]), **f32),
        )

    def _fit_network(self, features: _FitFeatures) -> torch.nn.Module:
        """The untrained network of ``fit`` (after ``_fit_features``)."""
        return self._network()

    def _network(self) -> torch.nn.Module:
        """The network of the fitted (or loaded) parameters, freshly initialised."""
        return MLP(
            self.n_features_in_,
            1,
            hidden=self.hidden,
            activation=self.activation,
            dropout=float(self.dropout),
        )

    @contextlib.contextmanager
    def _attached(self, features: _FitFeatures) -> Iterator[None]:
        """Context of the training loop (the graph estimators attach their cells)."""
        yield

    def _restore_params(self) -> None:
        """Fix up parameters read back from JSON by :meth:`load` (lists -> tuples…)."""

    def fit_stream(
        self,
        source: Any,
        *,
        domain: Any = None,
        buffer_rows: int = 262_144,
        monitor_rows: int = 100_000,
    ) -> _DecorrelatedMLP:
        """Train from a stream of chunks (out of core); returns ``self``.

        ``source`` is a :class:`~decorr_af.models.streaming.ChunkSource` (Parquet row
        groups, dask-awkward partitions, array slices); see
        :func:`~decorr_af.models.streaming.fit_streaming` for the shuffle buffer, the
        first-pass standardisation and the subsampled monitor.
        """
        from decorr_af.models.streaming import fit_streaming

        return fit_streaming(
            self, source, domain=domain, buffer_rows=buffer_rows, monitor_rows=monitor_rows
        )

    def _loss_name(self) -> str:
        return self.loss

    @staticmethod
    def _score_fn(out: torch.Tensor) -> torch.Tensor:
        return out

    def _scale(self, X: np.ndarray) -> np.ndarray:
        return (X - self.x_mean_) / self.x_scale_

    def _check_fitted(self) -> None:
        _persist.check_fitted(self, "model_")

    def _raw(self, X: Any) -> np.ndarray:
        """Raw network output (logit / standardised prediction) as float64."""
        self._check_fitted()
        names = getattr(self, "feature_names_in_", None)
        Xa, _ = as_features(
            X,
            feature_names=None if names is None else list(names),
            n_features=self.n_features_in_,
            owner=type(self).__name__,
        )
        device = next(self.model_.parameters()).device
        xt = torch.as_tensor(self._scale(Xa), dtype=torch.float32, device=device)
        self.model_.eval()
        with torch.inference_mode():
            out = [self.model_(xt[i : i + 65536])[:, 0] for i in range(0, len(xt), 65536)]
        return torch.cat(out).double().cpu().numpy()

    # -------------------------------------------------------------------- I/O
    def _state(self) -> dict[str, Any]:
        return {"x_mean": self.x_mean_, "x_scale": self.x_scale_}

    def _set_state(self, state: dict[str, Any]) -> None:
        self.x_mean_ = np.asarray(state["x_mean"], dtype=np.float64)
        self.x_scale_ = np.asarray(state["x_scale"], dtype=np.float64)

    def save(self, path: str | Path) -> Path:
        """Save to directory ``path``: ``metadata.json`` + ``weights.pt`` (state_dict).

        Examples
        --------
        >>> clf.save("model_dir")  # doctest: +SKIP
        >>> DecorrelatedClassifier.load("model_dir").predict_proba(X)  # doctest: +SKIP
        """
        self._check_fitted()
        meta = _persist.metadata(self, history=self.history_)
        path = Path(path)
        io.write_metadata(path, meta)
        state = {k: v.detach().cpu() for k, v in self.model_.state_dict().items()}
        torch.save(state, path / io.TORCH_WEIGHTS_FILE)
        return path

    @classmethod
    def load(cls, path: str | Path, *, device: Any = "cpu") -> _DecorrelatedMLP:
        """Load a model saved with :meth:`save` (JSON + ``torch.load(weights_only=True)``)."""
        est, meta = _persist.read_estimator(cls, path)
        est._restore_params()
        est.history_ = meta.get("history", {})
        dev = resolve_device(device)
        model = est._network()
        state = torch.load(
            Path(path) / io.TORCH_WEIGHTS_FILE, map_location="cpu", weights_only=True
        )
        model.load_state_dict(state)
        est.model_ = model.to(dev).eval()
        est.penalty_ = None
        est.device_ = dev
        return est


class DecorrelatedClassifier(BinaryClassifierOutput, ClassifierMixin, _DecorrelatedMLP):
    """Binary MLP classifier with an optional decorrelation penalty.

    Parameters
    ----------
    hidden, activation, dropout
        Network layout (:class:`~decorr_af.models.nets.MLP`).
    loss
        ``"bce"`` (binary cross-entropy on the logit, event-weighted).
    optimizer, lr, weight_decay
        ``"adam"``, ``"adamw"`` or ``"sgd"`` (momentum 0.9).
    epochs, batch_size
        Training length and minibatch size (large batches are fast and give a
        stable batch estimate of dCor).
    early_stopping, validation_fraction, patience
        Hold out ``validation_fraction`` of the events (and of ``domain_X``) and stop
        when the validation objective (main loss + λ Σ dCor², always at the full λ)
        has not improved for ``patience`` epochs; the best weights are restored.
        Only epochs trained at the full λ (after the warm-up) are candidates and
        count towards ``patience`` — during the warm-up a near-constant output has
        a small objective but is not the model asked for — and a checkpoint with
        validation AUC ≤ 0.5 (worse than random) is chosen only if no better one
        exists.
    penalty_warmup
        Fraction of the optimisation steps used to switch the penalty on: the
        first half of it trains without penalty, the second half ramps λ linearly
        to its full value (default 0.3; 0 turns the warm-up off). dCor² is scale
        free, so its gradient grows like 1 / std(output): on a freshly initialised,
        near-constant network the DisCo gradient is ~80x the cross-entropy one at
        λ = 20 and the classifier never learns (notebook 02's collapse to AUC 0.26).
        Other λ schedules: ``"constant"``, ``"linear:<fraction>"``,
        ``"exponential:<fraction>"`` or a mapping such as ``{"kind":
        "exponential", "fraction": 0.4, "start": 1e-3}``
        (:func:`~decorr_af.models._warmup.make_schedule`).
    min_penalty_rows
        Minimum number of rows the penalty sees per step (default 1024): when a
        minibatch holds fewer penalised rows on average (e.g. background events for
        ``DisCo(on="background")``), extra penalised rows, cycling through a seeded
        permutation, are forwarded for the penalty only. The batch estimate of
        dCor² has a bias and noise of order 1 / rows; 0 turns this off.
    standardize
        Standardise the inputs with the training mean / std (stored).
    device
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or a ``torch.device``.
    random_state
        Seed; the CPU fit is deterministic for a given seed.
    penalty
        ``None`` or a penalty (:class:`~decorr_af.decorrelation.penalties.DisCo`,
        ``Adversary``, ``DomainDisCo``, ``DomainAdversary``), cloned at fit.

    Examples
    --------
    >>> import numpy as np
    >>> from decorr_af.decorrelation import DisCo
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(2000, 3)); y = (X[:, 0] + rng.normal(size=2000) > 0).astype(int)
    >>> clf = DecorrelatedClassifier(hidden=(16,), epochs=10, batch_size=256, device="cpu",
    ...                              random_state=0, penalty=DisCo(strength=5.0))
    >>> clf.fit(X, y, protected=X[:, 1]).predict_proba(X).shape
    (2000, 2)
    >>> bool(clf.score(X, y) > 0.6)  # AUC (0.78 without the penalty)
    True
    """

    _task = "classification"
    _losses = (LossName.BCE.value,)

    def __init__(
        self,
        *,
        hidden: Sequence[int] = (64, 64),
        activation: str = "relu",
        dropout: float = 0.0,
        loss: str = "bce",
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        epochs: int = 20,
        batch_size: int = 4096,
        early_stopping: bool = False,
        validation_fraction: float = 0.2,
        patience: int = 5,
        standardize: bool = True,
        device: Any = "auto",
        random_state: int | None = None,
        penalty: Penalty | None = None,
        penalty_warmup: float = 0.3,
        min_penalty_rows: int = 1024,
        verbose: bool = False,
    ) -> None:
        super().__init__(**_init_args(locals()))  # only the default loss differs

    @staticmethod
    def _score_fn(out: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(out)


class DecorrelatedRegressor(StandardizedTargetOutput, RegressorMixin, _DecorrelatedMLP):
    """MLP regressor with an optional decorrelation penalty.

    Same parameters as :class:`DecorrelatedClassifier` except ``loss``: ``"mse"``,
    ``"mae"``, ``"huber"`` (δ = 1 in standardised target units) or ``"logcosh"``.
    ``score`` is R². For an energy calibration the target is typically the
    correction ``E_true / E_raw`` and the penalty decorrelates the prediction
    (``on="all"``, the ``"auto"`` default for regression) from e.g. μ.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> X = rng.normal(size=(1000, 2)); y = 2 * X[:, 0] + 0.1 * rng.normal(size=1000)
    >>> reg = DecorrelatedRegressor(hidden=(16,), epochs=3, device="cpu", random_state=0)
    >>> reg.fit(X, y).predict(X).shape
    (1000,)
    """

    _task = "regression"
    _losses = tuple(v.value for v in LossName if v is not LossName.BCE)
    # ``__init__`` is the shared one: its defaults (``loss="mse"``) are the regressor's


def _init_args(args: dict[str, Any]) -> dict[str, Any]:
    """An ``__init__``'s keyword arguments from its ``locals()`` (without ``self``).

    Subclasses that only change defaults forward their arguments with it.
    """
    return {k: v for k, v in args.items() if k not in ("self", "__class__")}


def _penalty_weights(penalty_weight: Any, weight: np.ndarray) -> np.ndarray | None:
    """Validated ``penalty_weight`` of ``fit`` (``None`` stays ``None``)."""
    if penalty_weight is None:
        return None
    pw = np.asarray(penalty_weight, dtype=np.float64).reshape(-1)
    if len(pw) != len(weight):
        msg = f"penalty_weight has length {len(pw)} but X has {len(weight)} rows"
        raise ConfigError(msg)
    if not np.isfinite(pw).all() or (pw < 0).any() or pw.sum() <= 0:
        msg = "penalty_weight must be finite, >= 0 and not all zero"
        raise ConfigError(msg)
    return pw

"""The DisCo family: distance-correlation penalties (Kasieczka & Shih, arXiv:2001.05310).

Conventions
-----------
* ``DisCo(power=1)`` adds ``λ Σ_k dCor²(s, z_k)`` - the DisCo paper's
  convention (their "dCor" is the squared distance correlation). ``power=p``
  adds ``λ Σ_k (dCor²)^p`` (``power=0.5`` penalises dCor itself).
* ``on="background"`` (the default for classifiers via ``"auto"``) computes the
  penalty on label-0 events only, ``"signal"`` on label-1 events, ``"all"`` on every
  event (the ``"auto"`` choice of regressors), always with the event weights.
* Domain penalties weight MC rows by their event weights and data rows equally,
  normalising each domain to the same total, so ``dCor²(s, domain)`` measures the
  difference of the two output distributions independent of the sample sizes.
* ``strength=0`` switches the penalty term off: the fit equals the plain model.

Both classes implement the whole protocol: the torch loss (differentiable dCor²),
the boosting terms (exact O(N log N) gradient of dCor² by
:func:`~decorr_af.decorrelation.distance.distance_correlation_sq_grad`, on all
selected rows, with the trust-region Hessian
:func:`~decorr_af.decorrelation.penalties._base.trust_region_hessian`) and the
validation term ``λ Σ (dCor²)^power``.

:class:`ConditionalDisCo` decorrelates within categories (one protected column is
the category: per η bin, conversion type, jet multiplicity) and
:class:`JointDisCo` against all protected variables as one multi-dimensional
variable. Signed event weights are used as they are (see
:mod:`decorr_af.decorrelation.distance`: the weight sum of the penalised rows must
be positive).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from decorr_af.decorrelation.penalties._base import (
    DomainPenalty,
    Penalty,
    PenaltyBatch,
    ProtectedPenalty,
    check_number,
    dcor2,
    trust_region_hessian,
    zero_like,
)
from decorr_af.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["ConditionalDisCo", "DisCo", "DomainDisCo", "JointDisCo", "default_monitor"]


class _PowerMixin:
    """``power`` handling shared by the DisCo family: ``λ (dCor²)^power``."""

    strength: float
    power: float

    def _check_power(self) -> None:
        check_number("power", self.power, low=0.0, strict=True)

    def _powered(self, d2: torch.Tensor) -> torch.Tensor:
        return d2 if self.power == 1 else d2.clamp_min(1e-12) ** self.power

    def _boost(
        self, s: np.ndarray, z: np.ndarray, w: np.ndarray | None
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """``(λ d2^p, ∂/∂s, trust-region Hessian)`` of one dCor² term on its rows.

        ``w`` None: unit weights (the ones are only built for the Hessian, after the
        dCor² kernel, whose peak memory is then one array lower).
        """
        from decorr_af.decorrelation.distance import distance_correlation_sq_grad

        lam, p = float(self.strength), float(self.power)
        d2, g = distance_correlation_sq_grad(s, z, w)
        factor = p * max(d2, 1e-12) ** (p - 1.0) if p != 1 else 1.0
        grad = np.multiply(g, lam * factor, out=g)  # in place: λ·factor·g
        w = np.ones(len(s)) if w is None else w
        return lam * max(d2, 0.0) ** p, grad, trust_region_hessian(grad, s, w)

    def validation_term(self, monitored: Mapping[str, float]) -> float:
        """``λ Σ max(dCor², 0)^power`` over the finite monitored figures."""
        power = float(self.power)
        return float(self.strength) * sum(
            max(v, 0.0) ** power for v in monitored.values() if np.isfinite(v)
        )


class _ProtectedDisCo(_PowerMixin, ProtectedPenalty, register=False):
    """Hyper-parameters shared by :class:`DisCo`, :class:`ConditionalDisCo`, :class:`JointDisCo`."""

    def __init__(
        self,
        strength: float = 1.0,
        *,
        power: float = 1.0,
        on: str = "auto",
        method: str = "auto",
    ) -> None:
        # subclasses set their own hyper-parameters, then pass these on (``**disco``)
        self.strength = strength
        self.power = power
        self.on = on
        self.method = method

    def validate(self) -> None:
        super().validate()
        self._check_power()


class DisCo(_ProtectedDisCo):
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
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=200); s = 1 / (1 + np.exp(-z))
    >>> value, grad, hess = DisCo(strength=2.0, on="all").boost_terms(s, protected=z)
    >>> round(value, 2), grad.shape, bool((hess >= 0).all())  # s = sigmoid(z): dCor² near 1
    (1.99, (200,), True)
    """

    _params = ("strength", "power", "on", "method")

    def loss(self, output: torch.Tensor, batch: PenaltyBatch) -> torch.Tensor:
        s, w, z = self.selected_batch(output, batch)
        if len(s) < 3:
            return zero_like(output)
        total = zero_like(output)
        for k in range(z.shape[1]):
            total = total + self._powered(dcor2(s, z[:, k], w, self.method))
        return self.strength * total

    def boost_terms(self, score, *, y=None, weight=None, protected=None, is_domain=None):
        """``λ Σ_k (dCor²(s, z_k))^power`` on the selected rows, its gradient and Hessian.

        Memory (the DisCo-XGB objective on 10^7 rows): only the selected rows are
        converted to float64 (``weight`` and ``protected`` may be float32 or a
        broadcast view), and the N-length outputs are allocated after the kernel.
        """
        s = np.asarray(score, np.float64)
        n = len(s)
        rows = self.selected_rows(y, is_domain, n)
        value, grad, hess = 0.0, None, None
        if len(rows) < 3:
            return value, np.zeros(n), np.zeros(n)
        if n < 2**31:
            rows = rows.astype(np.int32, copy=False)
        z = np.asarray(protected).reshape(n, -1)
        sr = s[rows]
        wr = None if weight is None else np.asarray(weight)[rows].astype(np.float64)
        for k in range(z.shape[1]):
            v, g, h = self._boost(sr, z[rows, k].astype(np.float64), wr)
            value += v
            if grad is None:
                grad, hess = np.zeros(n), np.zeros(n)
            grad[rows] += g
            hess[rows] += h
            del g, h
        if grad is None:  # no protected column
            return value, np.zeros(n), np.zeros(n)
        return value, grad, hess


class DomainDisCo(_PowerMixin, DomainPenalty):
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
        self._check_power()

    def loss(self, output: torch.Tensor, batch: PenaltyBatch) -> torch.Tensor:
        dom = batch.is_domain
        if dom is None or not bool(dom.any()) or bool(dom.all()):
            return zero_like(output)
        w = self.balanced_weights(batch.weight, dom)
        return self.strength * self._powered(dcor2(output, dom.to(output.dtype), w, self.method))

    def boost_terms(self, score, *, y=None, weight=None, protected=None, is_domain=None):
        """``λ (dCor²(s, domain))^power`` over MC + data rows, its gradient and Hessian."""
        s = np.asarray(score, np.float64)
        n = len(s)
        value, grad, hess = 0.0, np.zeros(n), np.zeros(n)
        if is_domain is None or n < 3:
            return value, grad, hess
        dom = np.asarray(is_domain, bool)
        w = np.ones(n) if weight is None else np.asarray(weight, np.float64)
        bw = self.balanced_weights(w, dom)
        if bw is None:
            return value, grad, hess
        return self._boost(s, dom.astype(np.float64), bw)


def default_monitor(task: str) -> Penalty:
    """The monitor of an unpenalised fit with protected variables: dCor² per variable.

    A :class:`DisCo` with λ = 0 (``on="auto"``), already set up for ``task``.

    Examples
    --------
    >>> default_monitor("regression").rows(np.array([0.0, 1.0]), None, 2) is None
    True
    """
    monitor = DisCo(strength=0.0, on="auto")
    monitor.setup(task=task)
    return monitor


def _mean1(w: np.ndarray) -> np.ndarray:
    """Weights normalised to mean 1 (their sum must be positive)."""
    return w * (len(w) / w.sum())


class ConditionalDisCo(_ProtectedDisCo):
    """DisCo within categories: ``λ Σ_c α_c Σ_k (dCor²(s, z_k | c))^power``.

    One protected column (``category``) defines the categories - per η bin, per
    conversion type, per jet-multiplicity category - and the other columns are
    the variables to decorrelate from. dCor² is computed on the penalised rows of
    each category (``on`` as for :class:`DisCo`) and the categories are combined
    with ``α_c = W_c / Σ W`` (``combine="weight"``, their share of the event
    weight) or ``1 / #categories`` (``"equal"``). Categories with fewer than 3 rows
    or a weight sum ≤ 0 are skipped. Removing a dependence *between* categories is
    not asked for: the output may differ from one category to another.

    Parameters
    ----------
    strength, power, on, method
        As for :class:`DisCo`.
    category
        Index of the protected column holding the category (default: the last).
    edges
        ``None``: the column's values are the category labels (e.g. conversion type
        0/1/2, jet multiplicity); else bin edges (e.g. of |η|): the categories are
        the intervals, with under- and overflow categories.
    combine
        ``"weight"`` or ``"equal"``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> cat = rng.integers(0, 2, 400).astype(float); z = rng.normal(size=400)
    >>> s = 1 / (1 + np.exp(-(z + 3 * cat)))  # depends on z and, strongly, on the category
    >>> pen = ConditionalDisCo(strength=1.0, on="all")
    >>> v, g, h = pen.boost_terms(s, protected=np.column_stack([z, cat]))
    >>> bool(0.5 < v <= 1.0), g.shape
    (True, (400,))
    """

    _params = ("strength", "power", "on", "method", "category", "edges", "combine")

    def __init__(
        self,
        strength: float = 1.0,
        *,
        category: int = -1,
        edges: Sequence[float] | None = None,
        combine: str = "weight",
        **disco: Any,
    ) -> None:
        self.category = category
        self.edges = edges
        self.combine = combine
        super().__init__(strength, **disco)  # power, on, method

    def validate(self) -> None:
        super().validate()
        if isinstance(self.category, bool) or not isinstance(self.category, (int, np.integer)):
            msg = f"category={self.category!r} must be the index of a protected column"
            raise ConfigError(msg)
        if self.combine not in ("weight", "equal"):
            msg = f"combine={self.combine!r} is not one of 'weight', 'equal'"
            raise ConfigError(msg)
        if self.edges is not None:
            e = np.asarray(self.edges, np.float64)
            if e.ndim != 1 or len(e) < 1 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
                msg = f"edges={self.edges!r} must be finite, strictly increasing bin edges"
                raise ConfigError(msg)

    def _split(self, z: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """Category label per row and the indices of the other protected columns."""
        k = z.shape[1]
        c = int(self.category)
        if not -k <= c < k:
            msg = f"category={self.category!r} is not a column of the {k} protected variable(s)"
            raise ConfigError(msg)
        c %= k
        others = [j for j in range(k) if j != c]
        if not others:
            msg = (
                "ConditionalDisCo needs two or more protected variables: the category "
                f"(column {c}) and the variable(s) to decorrelate from"
            )
            raise ConfigError(msg)
        col = z[:, c]
        if self.edges is None:
            labels = col
        else:
            labels = np.searchsorted(np.asarray(self.edges, np.float64), col, side="right")
        return np.asarray(labels, np.float64), others

    def _categories(self, labels: np.ndarray, w: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """``(row indices, α_c)`` of the usable categories."""
        groups = []
        for lab in np.unique(labels):
            idx = np.flatnonzero(labels == lab)
            wc = float(w[idx].sum())
            if len(idx) >= 3 and wc > 0:
                groups.append((idx, wc))
        if not groups:
            return []
        if self.combine == "equal":
            return [(idx, 1.0 / len(groups)) for idx, _ in groups]
        total = sum(wc for _, wc in groups)
        return [(idx, wc / total) for idx, wc in groups]

    def loss(self, output: torch.Tensor, batch: PenaltyBatch) -> torch.Tensor:
        s, w, z = self.selected_batch(output, batch)
        total = zero_like(output)
        if len(s) < 3:
            return total
        labels, others = self._split(z.detach().double().cpu().numpy().reshape(len(s), -1))
        w_np = w.detach().double().cpu().numpy()
        for idx, alpha in self._categories(labels, w_np):
            rows = torch_index(idx, s.device)
            sc, wc, zc = s[rows], w[rows], z[rows]
            for k in others:
                total = total + alpha * self._powered(dcor2(sc, zc[:, k], wc, self.method))
        return self.strength * total

    def boost_terms(self, score, *, y=None, weight=None, protected=None, is_domain=None):
        """The conditional penalty on the selected rows, its gradient and Hessian."""
        s, w, z, rows = self.host_inputs(
            score, y=y, weight=weight, protected=protected, is_domain=is_domain
        )
        n = len(s)
        value, grad, hess = 0.0, np.zeros(n), np.zeros(n)
        if len(rows) < 3:
            return value, grad, hess
        labels, others = self._split(z[rows])
        for idx, alpha in self._categories(labels, w[rows]):
            sel = rows[idx]
            for k in others:
                v, g, h = self._boost(s[sel], z[sel, k], w[sel])
                value += alpha * v
                grad[sel] += alpha * g
                hess[sel] += alpha * h
        return value, grad, hess

    def figures(
        self, s: np.ndarray, w: np.ndarray, z: np.ndarray, names: list[str]
    ) -> dict[str, float]:
        """``cdcor2_<name>`` = ``Σ_c α_c (dCor²_c)^power`` per variable (numpy)."""
        labels, others = self._split(z)
        p = float(self.power)
        out = {}
        for k in others:
            total = 0.0
            for idx, alpha in self._categories(labels, w):
                d2 = float(dcor2(s[idx], z[idx, k], w[idx], "auto"))
                total += alpha * max(d2, 0.0) ** p
            out[f"cdcor2_{names[k]}"] = total
        return out

    def validation_term(self, monitored: Mapping[str, float]) -> float:
        """``λ Σ_k cdcor2_k`` (the conditional penalty on the validation rows)."""
        return self.prefixed_term(monitored, "cdcor2_")


class JointDisCo(_ProtectedDisCo):
    """DisCo against all protected variables **jointly**: ``λ (dCor²(s, Z))^power``.

    ``Z = (z_1, ..., z_K)`` is one K-dimensional variable (Euclidean distances), so
    ``dCor²(s, Z) = 0`` iff ``s`` is independent of ``(z_1, ..., z_K)`` together -
    stronger than a sum of per-column terms, which misses a dependence on a
    combination such as ``z_1 - z_2``. With ``standardize=True`` each column is
    divided by its weighted standard deviation on the penalised rows (distance
    correlation is invariant under a common scale, not under scaling one column).

    Paths: one protected column is exactly :class:`DisCo` (fast O(N log N) kernel);
    several use the chunked O(N²) formula (torch autograd for the MLP; for gradient
    boosting the numpy gradient of :func:`~decorr_af.decorrelation.penalties._joint.joint_dcor2_grad`,
    O(N²) time per round - use moderate training sets).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(300, 2)); s = np.tanh(z[:, 0] - z[:, 1])
    >>> v, g, h = JointDisCo(strength=1.0, on="all").boost_terms(s, protected=z)
    >>> bool(v > 0.3), g.shape
    (True, (300,))
    """

    _params = ("strength", "power", "on", "method", "standardize")

    def __init__(self, strength: float = 1.0, *, standardize: bool = True, **disco: Any) -> None:
        self.standardize = standardize
        super().__init__(strength, **disco)  # power, on, method

    def validate(self) -> None:
        super().validate()
        if not isinstance(self.standardize, (bool, np.bool_)):
            msg = f"standardize={self.standardize!r} must be True or False"
            raise ConfigError(msg)

    def _scale(self, z: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Per-column divisors (weighted standard deviations; 1 if not positive)."""
        if not self.standardize or z.shape[1] == 1:
            return np.ones(z.shape[1])
        wn = w / w.sum()
        mean = wn @ z
        var = wn @ (z - mean) ** 2
        return np.where(var > 0, np.sqrt(np.maximum(var, 0.0)), 1.0)

    def loss(self, output: torch.Tensor, batch: PenaltyBatch) -> torch.Tensor:
        s, w, z = self.selected_batch(output, batch)
        if len(s) < 3 or float(w.sum()) <= 0:
            return zero_like(output)
        z = z.reshape(len(s), -1)
        scale = self._scale(z.detach().double().cpu().numpy(), w.detach().double().cpu().numpy())
        zs = z / z.new_tensor(scale)[None, :]
        if zs.shape[1] == 1:
            zs = zs[:, 0]
        return self.strength * self._powered(dcor2(s, zs, w, self.method))

    def boost_terms(self, score, *, y=None, weight=None, protected=None, is_domain=None):
        """``λ (dCor²(s, Z))^power`` on the selected rows, its gradient and Hessian."""
        from decorr_af.decorrelation.penalties._joint import joint_dcor2_grad

        s, w, z, rows = self.host_inputs(
            score, y=y, weight=weight, protected=protected, is_domain=is_domain
        )
        n = len(s)
        value, grad, hess = 0.0, np.zeros(n), np.zeros(n)
        if len(rows) < 3 or w[rows].sum() <= 0:
            return value, grad, hess
        sr, wr, zr = s[rows], w[rows], z[rows]
        if z.shape[1] == 1:
            v, g, h = self._boost(sr, zr[:, 0], wr)
        else:
            zr = zr / self._scale(zr, wr)[None, :]
            d2, g0 = joint_dcor2_grad(sr, zr, _mean1(wr))
            lam, p = float(self.strength), float(self.power)
            factor = p * max(d2, 1e-12) ** (p - 1.0) if p != 1 else 1.0
            g = lam * factor * g0
            v, h = lam * max(d2, 0.0) ** p, trust_region_hessian(g, sr, np.abs(wr))
        value, grad[rows], hess[rows] = v, g, h
        return value, grad, hess

    def monitor(self, output, *, y=None, weight=None, protected=None, is_domain=None, names=None):
        """``{"dcor2_<a>+<b>...": dCor²(s, Z)}`` on the selected rows."""
        if protected is None:
            return {}
        s, w, z, rows = self.host_inputs(
            output, y=y, weight=weight, protected=protected, is_domain=is_domain
        )
        names = self.column_names(names, z.shape[1])
        key = "dcor2_" + "+".join(names)
        if len(rows) < 3 or w[rows].sum() <= 0:
            return {key: float("nan")}
        zr = z[rows] / self._scale(z[rows], w[rows])[None, :]
        s = s[rows]
        return {key: float(dcor2(s, zr if zr.shape[1] > 1 else zr[:, 0], w[rows], "auto"))}


def torch_index(idx: np.ndarray, device: Any) -> Any:
    """``idx`` as a long tensor on ``device``."""
    import torch

    return torch.as_tensor(idx, dtype=torch.long, device=device)

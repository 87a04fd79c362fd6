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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["DisCo", "DomainDisCo", "default_monitor"]


class _PowerMixin:
    """``power`` handling shared by the DisCo family: ``λ (dCor²)^power``."""

    strength: float
    power: float

    def _check_power(self) -> None:
        check_number("power", self.power, low=0.0, strict=True)

    def _powered(self, d2: torch.Tensor) -> torch.Tensor:
        return d2 if self.power == 1 else d2.clamp_min(1e-12) ** self.power

    def _boost(
        self, s: np.ndarray, z: np.ndarray, w: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """``(λ d2^p, ∂/∂s, trust-region Hessian)`` of one dCor² term on its rows."""
        from decorr_af.decorrelation.distance import distance_correlation_sq_grad

        lam, p = float(self.strength), float(self.power)
        d2, g = distance_correlation_sq_grad(s, z, w)
        factor = p * max(d2, 1e-12) ** (p - 1.0) if p != 1 else 1.0
        grad = lam * factor * g
        return lam * max(d2, 0.0) ** p, grad, trust_region_hessian(grad, s, w)

    def validation_term(self, monitored: Mapping[str, float]) -> float:
        """``λ Σ max(dCor², 0)^power`` over the finite monitored figures."""
        power = float(self.power)
        return float(self.strength) * sum(
            max(v, 0.0) ** power for v in monitored.values() if np.isfinite(v)
        )


class DisCo(_PowerMixin, ProtectedPenalty):
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
        self._check_power()

    def loss(self, output: torch.Tensor, batch: PenaltyBatch) -> torch.Tensor:
        mask = self.rows(batch.y, batch.is_domain, len(output))
        s, w, z = output, batch.weight, batch.protected
        if mask is not None:
            s, w, z = s[mask], w[mask], z[mask]
        if len(s) < 3:
            return zero_like(output)
        total = zero_like(output)
        for k in range(z.shape[1]):
            total = total + self._powered(dcor2(s, z[:, k], w, self.method))
        return self.strength * total

    def boost_terms(self, score, *, y=None, weight=None, protected=None, is_domain=None):
        """``λ Σ_k (dCor²(s, z_k))^power`` on the selected rows, its gradient and Hessian."""
        s = np.asarray(score, np.float64)
        n = len(s)
        w = np.ones(n) if weight is None else np.asarray(weight, np.float64)
        z = np.asarray(protected, np.float64).reshape(n, -1)
        rows = self.selected_rows(y, is_domain, n)
        value, grad, hess = 0.0, np.zeros(n), np.zeros(n)
        if len(rows) < 3:
            return value, grad, hess
        for k in range(z.shape[1]):
            v, g, h = self._boost(s[rows], z[rows, k], w[rows])
            value += v
            grad[rows] += g
            hess[rows] += h
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

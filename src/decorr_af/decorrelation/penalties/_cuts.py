"""Base class of the penalties on binned cut efficiencies (MoDe, Flatness).

Subclasses say how the protected columns are binned (:meth:`BinnedCutPenalty.groups`)
and what is penalised in each group of bins, in numpy (value and ``∂/∂E``) and in
torch (differentiable value); this class does the row selection, the efficiencies
(:mod:`._binned`), the chain rule for the boosting gradient, the Hessian and the
monitor. The constants of each evaluation (bins, thresholds, width) are computed on
the host, so the torch loss copies the batch's outputs, weights and protected
values to the CPU once per step (as the fast DisCo path does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from decorr_af.decorrelation.penalties import _binned
from decorr_af.decorrelation.penalties._base import (
    PenaltyBatch,
    ProtectedPenalty,
    check_int,
    check_number,
    trust_region_hessian,
    zero_like,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["BinnedCutPenalty"]


class BinnedCutPenalty(ProtectedPenalty, register=False):
    """``λ Σ_groups f(E)`` with ``E`` the smooth cut efficiencies in bins of ``z``.

    Hyper-parameters shared by subclasses: ``strength``, ``on``, ``bins`` (quantile
    bins per protected column), ``thresholds`` (number ``K`` of cuts) and
    ``temperature`` (sigmoid width in units of the robust spread of ``s``).
    """

    #: prefix of the monitored figure(s) that make the validation term
    figure: ClassVar[str] = "cuts"

    bins: int
    thresholds: int
    temperature: float

    def __init__(
        self,
        strength: float = 1.0,
        *,
        on: str = "auto",
        bins: int = 10,
        thresholds: int = 16,
        temperature: float = 0.1,
    ) -> None:
        # subclasses set their own hyper-parameters, then pass these on (``**cuts``)
        self.strength = strength
        self.on = on
        self.bins = bins
        self.thresholds = thresholds
        self.temperature = temperature

    def validate(self) -> None:
        super().validate()
        check_int("bins", self.bins, low=2)
        check_int("thresholds", self.thresholds, low=1)
        check_number("temperature", self.temperature, low=0.0, strict=True)

    # ---- what subclasses provide ---------------------------------------------
    def groups(self, z: np.ndarray, names: list[str]) -> list[_binned.Group]:
        """The binnings of the penalised rows' protected values ``z`` (``(n, K)``)."""
        raise NotImplementedError

    def group_np(self, eff: np.ndarray, cuts: _binned.BinnedCuts, group: _binned.Group) -> tuple[float, np.ndarray]:  # fmt: skip
        """λ-free value of one group and its gradient with respect to ``eff``."""
        raise NotImplementedError

    def group_torch(self, eff: torch.Tensor, cuts: _binned.BinnedCuts, group: _binned.Group) -> torch.Tensor:  # fmt: skip
        """λ-free differentiable value of one group."""
        raise NotImplementedError

    # ---- shared machinery ------------------------------------------------------
    def _cuts(self, s: np.ndarray, w: np.ndarray, group: _binned.Group) -> _binned.BinnedCuts | None:  # fmt: skip
        return _binned.binned_cuts(
            s,
            w,
            group.bins,
            group.n_bins,
            n_thresholds=int(self.thresholds),
            temperature=float(self.temperature),
        )

    def figures(self, s, w, z, names) -> dict[str, float]:
        """λ-free value per group, keyed ``<figure>_<group name>`` (numpy)."""
        out = {}
        for group in self.groups(z, names):
            cuts = self._cuts(s, w, group)
            key = f"{self.figure}_{group.name}"
            if cuts is None:
                out[key] = 0.0
                continue
            eff = _binned.efficiencies_np(s, w, cuts)
            out[key] = float(self.group_np(eff, cuts, group)[0])
        return out

    def loss(self, output: torch.Tensor, batch: PenaltyBatch) -> torch.Tensor:
        s, w, z = self.selected_batch(output, batch)
        if len(s) < 3:
            return zero_like(output)
        s_np, w_np, z_np = _binned.host(s), _binned.host(w), _binned.host(z)
        total = zero_like(output)
        for group in self.groups(z_np.reshape(len(s_np), -1), []):
            cuts = self._cuts(s_np, w_np, group)
            if cuts is None:
                continue
            eff = _binned.efficiencies_torch(s, w, cuts)
            total = total + self.group_torch(eff, cuts, group)
        return self.strength * total

    def boost_terms(self, score, *, y=None, weight=None, protected=None, is_domain=None):
        """λ × the penalty on the selected rows, its gradient and a trust-region Hessian."""
        s, w, z, rows = self.host_inputs(
            score, y=y, weight=weight, protected=protected, is_domain=is_domain
        )
        n = len(s)
        value, grad, hess = 0.0, np.zeros(n), np.zeros(n)
        if len(rows) < 3:
            return value, grad, hess
        lam = float(self.strength)
        sr, wr = s[rows], w[rows]
        for group in self.groups(z[rows], []):
            cuts = self._cuts(sr, wr, group)
            if cuts is None:
                continue
            eff = _binned.efficiencies_np(sr, wr, cuts)
            v, g_eff = self.group_np(eff, cuts, group)
            value += lam * v
            grad[rows] += lam * _binned.grad_from_eff(sr, wr, cuts, g_eff)
        hess[rows] = trust_region_hessian(grad[rows], sr, np.abs(wr))
        return value, grad, hess

    def validation_term(self, monitored: Mapping[str, float]) -> float:
        """``λ Σ`` of the monitored ``<figure>_*`` values (the penalty on validation rows)."""
        return self.prefixed_term(monitored, f"{self.figure}_")

    @staticmethod
    def _names(names: list[str], k: int) -> str:
        return names[k] if k < len(names) else f"z{k}"

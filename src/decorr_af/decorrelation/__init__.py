"""Dependence measures and decorrelation penalties.

``distance_correlation`` (exact O(N log N) weighted distance correlation for 1-D
inputs, differentiable for torch tensors) and friends load only numpy here; numba
and torch are imported on first use.  The penalty objects ``DisCo``,
``ConditionalDisCo``, ``JointDisCo``, ``MoDe``, ``Flatness``, ``Adversary``,
``DomainDisCo`` and ``DomainAdversary``, the protocol base classes
``Penalty``, ``ProtectedPenalty`` and ``DomainPenalty`` and ``make_penalty`` live in
the package :mod:`decorr_af.decorrelation.penalties` and are re-exported lazily.
"""

from __future__ import annotations

from decorr_af._lazy import lazy_exports
from decorr_af.decorrelation.dependence import (
    partial_distance_correlation,
    partial_distance_covariance,
    u_distance_correlation_sq,
    u_distance_covariance_sq,
)
from decorr_af.decorrelation.distance import (
    CUDA_NAIVE_MAX_N,
    DcorMethod,
    distance_correlation,
    distance_correlation_sq_grad,
    distance_covariance_sq,
)
from decorr_af.decorrelation.flatness import cvm_flatness, sde_flatness, theil_flatness
from decorr_af.decorrelation.independence import IndependenceResult, independence_test

_PENALTIES = (
    "Adversary",
    "ConditionalDisCo",
    "DisCo",
    "DomainAdversary",
    "DomainDisCo",
    "DomainPenalty",
    "Flatness",
    "JointDisCo",
    "MoDe",
    "Penalty",
    "ProtectedPenalty",
    "make_penalty",
    "penalty_from_dict",
)

__all__ = [
    "CUDA_NAIVE_MAX_N",
    "DcorMethod",
    "IndependenceResult",
    "cvm_flatness",
    "distance_correlation",
    "distance_correlation_sq_grad",
    "distance_covariance_sq",
    "independence_test",
    "partial_distance_correlation",
    "partial_distance_covariance",
    "sde_flatness",
    "theil_flatness",
    "u_distance_correlation_sq",
    "u_distance_covariance_sq",
    *_PENALTIES,
]

__getattr__, __dir__, _ = lazy_exports(
    __name__, dict.fromkeys(_PENALTIES, "penalties"), eager=__all__
)

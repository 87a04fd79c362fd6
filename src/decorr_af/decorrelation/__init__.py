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

import importlib
from typing import Any

from decorr_af.decorrelation.distance import (
    CUDA_NAIVE_MAX_N,
    DcorMethod,
    distance_correlation,
    distance_correlation_sq_grad,
    distance_covariance_sq,
)

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
    "distance_correlation",
    "distance_correlation_sq_grad",
    "distance_covariance_sq",
    *_PENALTIES,
]


def __getattr__(name: str) -> Any:
    if name in _PENALTIES:
        return getattr(importlib.import_module("decorr_af.decorrelation.penalties"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__

"""Decorrelation penalties passed to the estimators (``penalty=``).

* :mod:`._base` - the protocol (:class:`Penalty`, :class:`PenaltyBatch`), the
  registry (:func:`make_penalty`, :func:`penalty_from_dict`) and the base classes
  :class:`ProtectedPenalty` (against protected variables, ``on=`` row selection)
  and :class:`DomainPenalty` (MC against unlabelled data, balanced weights);
* :mod:`.disco` - :class:`DisCo`, :class:`DomainDisCo` (torch loss, boosting
  terms, validation term), :class:`ConditionalDisCo`, :class:`JointDisCo`;
* :mod:`.adversarial` - :class:`Adversary`, :class:`DomainAdversary` (torch only);
* :mod:`.moments` - :class:`MoDe` (moment decorrelation: flat, linear or quadratic
  efficiency vs the protected variable);
* :mod:`.flatness` - :class:`Flatness` (hep_ml's binned CvM flatness loss);

A new method is a new class: subclassing :class:`Penalty` (or one of the base
classes) registers it, so ``make_penalty("<ClassName>")`` and saved models find it.
See :mod:`._base` for the call order of the torch loop and of gradient boosting.

Examples
--------
>>> from decorr_af.decorrelation.penalties import DisCo, make_penalty
>>> make_penalty("DisCo", strength=2.0) == DisCo(strength=2.0)
True
"""

from __future__ import annotations

from decorr_af.decorrelation.penalties._base import (
    DomainPenalty,
    Penalty,
    PenaltyBatch,
    ProtectedPenalty,
    Selection,
    make_penalty,
    penalty_from_dict,
    registered_penalties,
    trust_region_hessian,
)
from decorr_af.decorrelation.penalties.adversarial import (
    AdversarialPenalty,
    Adversary,
    AdversaryKind,
    DomainAdversary,
)
from decorr_af.decorrelation.penalties.disco import (
    ConditionalDisCo,
    DisCo,
    DomainDisCo,
    JointDisCo,
    default_monitor,
)
from decorr_af.decorrelation.penalties.flatness import Flatness
from decorr_af.decorrelation.penalties.moments import MoDe

__all__ = [
    "AdversarialPenalty",
    "Adversary",
    "AdversaryKind",
    "ConditionalDisCo",
    "DisCo",
    "DomainAdversary",
    "DomainDisCo",
    "DomainPenalty",
    "Flatness",
    "JointDisCo",
    "MoDe",
    "Penalty",
    "PenaltyBatch",
    "ProtectedPenalty",
    "Selection",
    "default_monitor",
    "make_penalty",
    "penalty_from_dict",
    "registered_penalties",
    "trust_region_hessian",
]

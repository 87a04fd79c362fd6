"""Selections, features and histograms on (dask-)awkward arrays and flat tables.

Examples
--------
>>> from decorr_af.columnar import diphoton_kinematics
>>> round(float(diphoton_kinematics(62.5, 0.0, 0.0, 62.5, 0.0, 3.141592653589793)["myy"]), 3)
125.0
"""

from __future__ import annotations

from decorr_af.columnar.features import (
    BTAG_FIELDS,
    CRACK,
    array_library,
    btag_field,
    count_objects,
    diphoton_features,
    diphoton_kinematics,
    object_mask,
    photon_mask,
    sort_by_pt,
)
from decorr_af.columnar.hists import histogram

__all__ = [
    "BTAG_FIELDS",
    "CRACK",
    "array_library",
    "btag_field",
    "count_objects",
    "diphoton_features",
    "diphoton_kinematics",
    "histogram",
    "object_mask",
    "photon_mask",
    "sort_by_pt",
]


def __dir__() -> list[str]:
    return __all__

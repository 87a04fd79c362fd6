"""A simple cut-based photon preselection for the calibration / clustering workflows.

The ATLAS-structured Loose / Tight menus of the photon-ID workflow are in
:mod:`decorr_af.workflows.cutbased`; these flat cuts are a fixed, η-independent
toy selection.

Cuts are a flat mapping so they fit in YAML configs: ``"<column>_min"`` /
``"<column>_max"`` cut on a table column, ``"<column>_over_pt_max"`` on
``column / pt`` (isolation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError, MissingBranchError

__all__ = ["DEFAULT_ID_CUTS", "DEFAULT_ISO_CUTS", "cut_based_id"]

#: shower-shape cuts: ~80 % efficient for toy prompt photons, ~13 % for fakes (MC)
DEFAULT_ID_CUTS: dict[str, float] = {
    "Reta_min": 0.925,
    "Rhad_max": 0.02,
    "Eratio_min": 0.8,
    "wtots1_max": 2.4,
    "fracs1_max": 0.32,
    "weta2_max": 0.0125,
}
#: calorimeter isolation cut: the calorimeter part of FixedCutLoose (topoetcone20 < 0.065 pT);
#: the full named working points are in :mod:`decorr_af.columnar.isolation`
DEFAULT_ISO_CUTS: dict[str, float] = {"topoetcone20_over_pt_max": 0.065}


def cut_based_id(table: Any, cuts: Mapping[str, float] | None = None) -> np.ndarray:
    """Boolean mask of the rows of ``table`` passing every cut.

    Examples
    --------
    >>> import pandas as pd
    >>> cut_based_id(pd.DataFrame({"Reta": [0.95, 0.9]}), {"Reta_min": 0.93}).tolist()
    [True, False]
    """
    cuts = DEFAULT_ID_CUTS if cuts is None else cuts
    mask = np.ones(len(table), dtype=bool)
    for key, value in cuts.items():
        for suffix, kind in (("_over_pt_max", "rel"), ("_min", "min"), ("_max", "max")):
            if key.endswith(suffix):
                col, op = key[: -len(suffix)], kind
                break
        else:
            raise ConfigError(f"ID cut {key!r} must end in _min, _max or _over_pt_max")
        if col not in table.columns or (op == "rel" and "pt" not in table.columns):
            raise MissingBranchError(f"ID cut {key!r} needs column {col!r}, not in the table")
        v = table[col].to_numpy(dtype=np.float64)
        if op == "rel":
            v = v / table["pt"].to_numpy(dtype=np.float64)
        mask &= (v >= value) if op == "min" else (v <= value)
    return mask

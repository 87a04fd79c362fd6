r"""Inputs of the ttH(γγ) classifiers that cannot rebuild m_γγ.

For two massless photons
:math:`m_{\gamma\gamma}^2 = 2 p_{T1} p_{T2} (\cosh\Delta\eta - \cos\Delta\phi)`, so
any input set that gives both photon momenta in GeV (``pt1``, ``pt2``) together
with the angles, or one GeV quantity together with its ratio to m_γγ
(``pt_yy`` with ``pt_yy_over_myy``, ``pt1`` with ``pt1_over_myy``), rebuilds
m_γγ exactly: :data:`MASS_LEAKING` lists the table columns refused as inputs
for that reason. The diphoton inputs offered here (:data:`DIPHOTON_FEATURES`)
are, as in ATLAS's ttH(γγ) BDTs, dimensionless ratios and angles: they are
invariant under a common rescaling of the two photon momenta, so they fix the
shape of the event but never its mass scale. They still carry information on
m_γγ if their *distributions* change with m_γγ (in the toy they do not: its
diphoton kinematics scale with m). The jet inputs (:data:`JET_FEATURES`) are
in GeV and independent of the photons; in the continua their momenta grow
with the hard scale, which is a physical correlation with m_γγ (the source of
sculpting that the decorrelation removes), not a reconstruction of it.
``tests/test_tth_leak.py`` regresses m_γγ from every offered set on the
background and checks that no set predicts it much better than a constant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError

__all__ = [
    "ALL_FEATURES",
    "DERIVED",
    "DIPHOTON_FEATURES",
    "FEATURE_SETS",
    "JET_FEATURES",
    "MASS_LEAKING",
    "add_inputs",
    "check_features",
]

#: table columns refused as inputs: m_γγ and the GeV photon/diphoton momenta
#: that, with the angles or the ratios, give m_γγ exactly
MASS_LEAKING = ("myy", "pt1", "pt2", "pt_yy")


def _dphi(df: Any) -> np.ndarray:
    d = np.asarray(df["phi1"], dtype=np.float64) - np.asarray(df["phi2"], dtype=np.float64)
    return np.abs((d + np.pi) % (2 * np.pi) - np.pi)


#: inputs computed from the diphoton table: name -> function of the table
DERIVED: dict[str, Callable[[Any], np.ndarray]] = {
    "pt_yy_over_myy": lambda df: np.asarray(df["pt_yy"], float) / np.asarray(df["myy"], float),
    "abs_dphi_yy": _dphi,
}
#: dimensionless diphoton inputs (scale invariant: no m_γγ information by construction)
DIPHOTON_FEATURES = (
    "pt_yy_over_myy",
    "pt1_over_myy",
    "pt2_over_myy",
    "eta1",
    "eta2",
    "abs_costheta_star",
    "abs_dphi_yy",
)
#: jet and lepton inputs (multiplicities, GeV momenta of the jets)
JET_FEATURES = ("n_jets", "n_bjets", "ht", "lead_jet_pt", "n_leptons")
#: every input the package offers
ALL_FEATURES = (*DIPHOTON_FEATURES, "abs_deta_yy", *JET_FEATURES)
#: named input sets (each is checked by the leak test)
FEATURE_SETS = {
    "diphoton": DIPHOTON_FEATURES,
    "jets": JET_FEATURES,
    "diphoton+jets": (*DIPHOTON_FEATURES, *JET_FEATURES),
    "all": ALL_FEATURES,
}


def check_features(features: Sequence[str], *, protected: str = "myy") -> None:
    """Raise ConfigError naming ``features`` if an input is or rebuilds m_γγ.

    Examples
    --------
    >>> check_features(("pt1_over_myy", "n_jets"))
    >>> check_features(("pt1", "eta1"))
    Traceback (most recent call last):
    ...
    decorr_af.errors.ConfigError: parameter 'features' must not contain m_yy or inputs that rebuild it (['pt1']): use the dimensionless ratios, e.g. pt1_over_myy
    """
    bad = [f for f in features if f == protected or f in MASS_LEAKING]
    if bad:
        raise ConfigError(
            f"parameter 'features' must not contain m_yy or inputs that rebuild it ({bad}): "
            "use the dimensionless ratios, e.g. pt1_over_myy"
        )


def add_inputs(df: Any, features: Sequence[str]) -> Any:
    """Copy of the diphoton table with the :data:`DERIVED` inputs among ``features`` added.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"pt_yy": [50.0], "myy": [125.0], "phi1": [3.0], "phi2": [-3.0]})
    >>> round(float(add_inputs(df, ["pt_yy_over_myy", "abs_dphi_yy"])["abs_dphi_yy"][0]), 4)
    0.2832
    """
    need = [f for f in features if f in DERIVED and f not in df.columns]
    if not need:
        return df
    out = df.copy()
    for name in need:
        out[name] = DERIVED[name](df)
    return out

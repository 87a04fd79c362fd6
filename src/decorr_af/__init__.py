"""decorr_af: decorrelated machine learning for HEP analysis facilities.

The top-level import is deliberately light: torch, xgboost, dask, coffea,
matplotlib and ipywidgets load only in the subpackages that use them.

Subpackages follow the data flow (imports go one way along this list):

``data``           toy PHYSLITE generator and readers (uproot / coffea)
``columnar``       selections, features and histograms on (dask-)awkward arrays
``decorrelation``  distance correlation (fast O(N log N)), penalties, metrics
``models``         torch MLP estimators and DisCo-xgboost
``workflows``      photon ID, energy calibration, ttH(γγ), clustering
``scan``           Dask clusters and λ / hyper-parameter scans
``plot``           mplhep figures
``widgets``        ipywidgets for notebooks and Voilà dashboards
"""

from __future__ import annotations

from decorr_af._version import __version__
from decorr_af.errors import (
    ConfigError,
    DecorrAFError,
    InputFileError,
    MissingBranchError,
    NonFiniteValueError,
)

__all__ = [
    "ConfigError",
    "DecorrAFError",
    "InputFileError",
    "MissingBranchError",
    "NonFiniteValueError",
    "__version__",
]


def __dir__() -> list[str]:
    return __all__

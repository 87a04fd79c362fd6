"""Interactive widgets (ipywidgets) for notebooks and Voilà dashboards.

``DiscoScanner``         browse a λ scan: ROC/R50, isolation sculpting (1/JSD), dCor,
                         Pareto plane; train new λ points in the background
``DataMCInspector``      data vs MC histograms with ratio panel, χ²/KS, |η|/pT/μ slices
``ResolutionInspector``  response and IQR resolution vs |η| / pT, MC and data

ipywidgets and matplotlib are imported only when one of these is used.

Examples
--------
>>> from decorr_af.widgets import DiscoScanner
>>> DiscoScanner("demo-output/scans/photon_id")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["DataMCInspector", "DiscoScanner", "ResolutionInspector"]

_WHERE = {
    "DiscoScanner": "decorr_af.widgets.scanner",
    "DataMCInspector": "decorr_af.widgets.datamc",
    "ResolutionInspector": "decorr_af.widgets.resolution",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'decorr_af.widgets' has no attribute '{name}'")


def __dir__() -> list[str]:
    return __all__

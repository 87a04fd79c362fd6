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

from decorr_af._lazy import lazy_exports

_WHERE = {
    "DiscoScanner": "decorr_af.widgets.scanner",
    "DataMCInspector": "decorr_af.widgets.datamc",
    "ResolutionInspector": "decorr_af.widgets.resolution",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _WHERE)

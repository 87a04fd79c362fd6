"""mplhep figures for the decorr_af workflows (ATLAS style).

Every plotting function takes ``ax=None`` and returns a small dataclass of the
artists it drew. Submodules and functions load lazily, so ``import decorr_af.plot``
does not import matplotlib.

``style``      :func:`use_style`, :func:`atlas_label`, layout helpers
``photon_id``  ROC, isolation of fakes passing/failing, efficiency vs isolation / μ
``tth``        background m_γγ sculpting, m_γγ fit, significance vs λ
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "atlas_label",
    "plot_background_myy",
    "plot_efficiency_vs_isolation",
    "plot_efficiency_vs_mu",
    "plot_isolation_pass_fail",
    "plot_myy_fit",
    "plot_roc",
    "plot_significance_vs_strength",
    "use_style",
]

_LAZY = {
    "atlas_label": "style",
    "use_style": "style",
    "plot_roc": "photon_id",
    "plot_isolation_pass_fail": "photon_id",
    "plot_efficiency_vs_isolation": "photon_id",
    "plot_efficiency_vs_mu": "photon_id",
    "plot_background_myy": "tth",
    "plot_myy_fit": "tth",
    "plot_significance_vs_strength": "tth",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__

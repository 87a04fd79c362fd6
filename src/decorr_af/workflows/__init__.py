"""Physics workflows: each a module with a ``Config`` and ``run(config, *, strength, seed, out)``.

``photon_id``    photon identification decorrelated from isolation
``calibration``  photon energy calibration robust to data/MC differences
``tth``          ttH(γγ) classifier decorrelated from m_γγ
``clustering``   clustering photons into calibration bins
"""

from __future__ import annotations

import importlib
from types import ModuleType

from decorr_af.errors import ConfigError

__all__ = ["WORKFLOWS", "get_workflow"]

WORKFLOWS = ("photon_id", "calibration", "tth", "clustering")


def get_workflow(name: str | ModuleType) -> ModuleType:
    """Return the workflow module called ``name`` (it has ``Config`` and ``run``)."""
    if isinstance(name, ModuleType):
        return name
    if name not in WORKFLOWS:
        raise ConfigError(f"unknown workflow '{name}' (choose from {', '.join(WORKFLOWS)})")
    return importlib.import_module(f"decorr_af.workflows.{name}")


def __dir__() -> list[str]:
    return __all__

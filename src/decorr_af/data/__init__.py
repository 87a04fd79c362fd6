"""Toy PHYSLITE generator and readers.

Public names are imported lazily from their submodules on first access, so
``import decorr_af.data`` stays light (no uproot/coffea/dask until needed).

Examples
--------
>>> import tempfile, decorr_af.data as data
>>> paths = data.generate(tempfile.mkdtemp(), sample="photons", kind="mc", events=200)
>>> paths[0].name
'photons_mc_000.root'
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

#: public name -> submodule of decorr_af.data that defines it
_LAZY: dict[str, str] = {
    # generation
    "generate": "writer",
    "simulate_photons": "photons",
    "simulate_diphoton": "diphoton",
    "simulate_zee": "electrons",
    "simulate_zmumug": "radiative_z",
    # reading and tables
    "open_events": "readers",
    "photon_table": "table",
    "diphoton_table": "table",
    "electron_table": "ztables",
    "radiative_z_table": "ztables",
    "iter_table": "table",
    "available_features": "table",
    # export
    "export_table": "export",
    "read_table": "export",
    # validation
    "validate_files": "validate",
    "inspect_file": "validate",
}


def _available() -> list[str]:
    names = []
    for name, module in _LAZY.items():
        spec = importlib.util.find_spec(f"{__name__}.{module}")
        if spec is not None:
            names.append(name)
    return names


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        mod = importlib.import_module(f"{__name__}.{module}")
    except ModuleNotFoundError as err:
        if err.name == f"{__name__}.{module}":
            raise AttributeError(
                f"module {__name__!r} has no attribute {name!r} ({module}.py not built)"
            ) from err
        raise
    try:
        value = getattr(mod, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(_available())


#: names whose submodule exists (resolved lazily by ``__getattr__``)
__all__ = sorted(_available())

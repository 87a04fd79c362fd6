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

from decorr_af._lazy import lazy_exports

#: public name -> submodule of decorr_af.data that defines it
_LAZY: dict[str, str] = {
    # generation
    "generate": "writer",
    "simulate_photons": "photons",
    "simulate_diphoton": "diphoton",
    "simulate_zee": "electrons",
    "simulate_zmumug": "radiative_z",
    # file layout and sample descriptions
    "PHYSLITE": "layout",
    "PhysliteLayout": "layout",
    "signal_dsids": "samples",
    # reading and tables
    "open_events": "readers",
    "photon_table": "table",
    "cell_table": "table",
    "read_cells": "table",
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


#: public names (resolved lazily by ``__getattr__``)
__getattr__, __dir__, __all__ = lazy_exports(__name__, _LAZY)

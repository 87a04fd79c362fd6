"""Optional dependencies: import on demand with an install hint."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["optional_import"]


def optional_import(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise an ImportError telling which extra to install.

    Parameters
    ----------
    module
        Dotted module name, e.g. ``"torch"``.
    extra
        The decorr_af extra that provides it, e.g. ``"torch"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:  # pragma: no cover - exercised only without extras
        msg = f"decorr_af needs '{module}' for this feature: pip install 'decorr_af[{extra}]'"
        raise ImportError(msg) from err

"""Lazy re-exports for package ``__init__`` modules (PEP 562).

A package lists its public names and the submodule that defines each; the
submodule is imported on first attribute access, so importing the package stays
light (no torch, dask, matplotlib, ... until a name that needs them is used).

Examples
--------
>>> getattr_, dir_, all_ = lazy_exports("json", {"JSONDecoder": "json.decoder"}, eager=("dumps",))
>>> all_
['JSONDecoder', 'dumps']
>>> getattr_("JSONDecoder").__name__
'JSONDecoder'
>>> getattr_("nope")
Traceback (most recent call last):
...
AttributeError: module 'json' has no attribute 'nope'
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def _module_path(package: str, target: str) -> str:
    """``"writer"`` -> ``"<package>.writer"``; a dotted ``target`` is already absolute."""
    return target if "." in target else f"{package}.{target}"


def lazy_exports(
    package: str,
    exports: Mapping[str, str],
    *,
    eager: Iterable[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Build a package's ``__getattr__``, ``__dir__`` and ``__all__``.

    Parameters
    ----------
    package
        The package's ``__name__``.
    exports
        Public name -> module defining it: a bare submodule name (``"writer"``,
        relative to ``package``) or a dotted absolute module path
        (``"decorr_af.models.io"``).
    eager
        Names the package defines or imports itself (listed in ``__all__`` and
        ``__dir__``, never resolved by ``__getattr__``).

    Returns
    -------
    tuple
        ``(__getattr__, __dir__, __all__)``; assign them at module level. A
        resolved name is cached in the package namespace, so ``__getattr__``
        runs once per name.
    """
    where = {name: _module_path(package, target) for name, target in exports.items()}
    names = sorted({*eager, *where})

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        try:
            value = getattr(importlib.import_module(module), name)
        except AttributeError:
            raise AttributeError(
                f"module {package!r} has no attribute {name!r} (not defined in {module})"
            ) from None
        pkg = sys.modules.get(package)
        if pkg is not None:
            setattr(pkg, name, value)
        return value

    def __dir__() -> list[str]:
        return list(names)

    return __getattr__, __dir__, list(names)

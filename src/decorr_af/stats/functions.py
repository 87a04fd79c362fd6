"""Smooth continuum m_γγ background functions (a registry, simplest first).

Each function is a class with ``name``, ``n_params`` (shape parameters, the
normalisation excluded), ``start`` and ``bounds`` and ``density(x, params)`` on
the reduced variable ``x = (m − m_lo) / (m_hi − m_lo) ∈ [0, 1]``. ``bin_fractions``
integrates it over bins (normalised on the range). New functions register with
:func:`register_function`; :func:`functions` lists them by increasing number of
parameters (the order of the ATLAS function choice).

Registered: ``exponential`` (1), ``power_law`` (1), ``exppoly2`` (2),
``bernstein3`` (3), ``exppoly3`` (3).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from decorr_af.errors import ConfigError

__all__ = [
    "BackgroundFunction",
    "Bernstein3",
    "ExpPoly2",
    "ExpPoly3",
    "Exponential",
    "PowerLaw",
    "bin_fractions",
    "functions",
    "get_function",
    "register_function",
]


class BackgroundFunction:
    """Base class: a positive density of the reduced mass ``x ∈ [0, 1]``."""

    name: ClassVar[str] = ""
    n_params: ClassVar[int] = 0
    start: ClassVar[tuple[float, ...]] = ()
    bounds: ClassVar[tuple[tuple[float, float], ...]] = ()

    def density(self, x: np.ndarray, params: np.ndarray, lo: float, hi: float) -> np.ndarray:
        """Unnormalised density at reduced mass ``x`` (``lo``/``hi``: the range in GeV)."""
        raise NotImplementedError


_REGISTRY: dict[str, BackgroundFunction] = {}


def register_function(cls: type[BackgroundFunction]) -> type[BackgroundFunction]:
    """Class decorator: register a background function under ``cls.name``."""
    if not cls.name or cls.name in _REGISTRY:
        raise ConfigError(f"background function name {cls.name!r} is empty or taken")
    _REGISTRY[cls.name] = cls()
    return cls


def get_function(name: str) -> BackgroundFunction:
    """The registered function ``name``.

    Examples
    --------
    >>> get_function("exponential").n_params
    1
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"parameter 'function' must be one of {sorted(_REGISTRY)}, got {name!r}"
        ) from None


def functions() -> list[str]:
    """Registered names, by increasing number of parameters (registration order within).

    Examples
    --------
    >>> functions()[:3]
    ['exponential', 'power_law', 'exppoly2']
    """
    return [n for n, _ in sorted(_REGISTRY.items(), key=lambda kv: kv[1].n_params)]


def bin_fractions(fn: BackgroundFunction, edges: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Fraction of ``fn`` in each bin of ``edges`` (GeV), normalised on the range.

    Examples
    --------
    >>> f = bin_fractions(get_function("exponential"), np.linspace(105, 160, 12), np.array([-2.0]))
    >>> bool(abs(f.sum() - 1) < 1e-12 and f[0] > f[-1])
    True
    """
    edges = np.asarray(edges, dtype=np.float64)
    lo, hi = float(edges[0]), float(edges[-1])
    sub = 8
    u = (np.arange(sub) + 0.5) / sub
    m = edges[:-1, None] + np.diff(edges)[:, None] * u[None, :]
    x = (m - lo) / (hi - lo)
    with np.errstate(over="ignore", invalid="ignore"):
        f = fn.density(x, np.asarray(params, dtype=np.float64), lo, hi).mean(axis=1)
    f = np.where(np.isfinite(f) & (f > 0), f, 0.0) * np.diff(edges)
    tot = f.sum()
    return f / tot if tot > 0 else np.full(len(f), 1.0 / len(f))


@register_function
class Exponential(BackgroundFunction):
    """``exp(a x)``."""

    name = "exponential"
    n_params = 1
    start = (-1.0,)
    bounds = ((-30.0, 30.0),)

    def density(self, x, params, lo, hi):
        return np.exp(params[0] * x)


@register_function
class PowerLaw(BackgroundFunction):
    """``m^a`` (``m`` in units of the range's lower edge)."""

    name = "power_law"
    n_params = 1
    start = (-4.0,)
    bounds = ((-60.0, 20.0),)

    def density(self, x, params, lo, hi):
        return (1.0 + x * (hi - lo) / lo) ** params[0]


@register_function
class ExpPoly2(BackgroundFunction):
    """``exp(a x + b x²)``."""

    name = "exppoly2"
    n_params = 2
    start = (-1.0, 0.0)
    bounds = ((-30.0, 30.0), (-30.0, 30.0))

    def density(self, x, params, lo, hi):
        return np.exp(params[0] * x + params[1] * x * x)


@register_function
class Bernstein3(BackgroundFunction):
    """Bernstein polynomial of degree 3 with positive coefficients ``(1, e^a, e^b, e^c)``."""

    name = "bernstein3"
    n_params = 3
    start = (-0.5, -1.0, -1.5)
    bounds = ((-15.0, 15.0),) * 3

    def density(self, x, params, lo, hi):
        c = np.concatenate([[1.0], np.exp(params)])
        y = 1.0 - x
        return c[0] * y**3 + 3 * c[1] * x * y**2 + 3 * c[2] * x * x * y + c[3] * x**3


@register_function
class ExpPoly3(BackgroundFunction):
    """``exp(a x + b x² + c x³)``."""

    name = "exppoly3"
    n_params = 3
    start = (-1.0, 0.0, 0.0)
    bounds = ((-30.0, 30.0),) * 3

    def density(self, x, params, lo, hi):
        return np.exp(params[0] * x + params[1] * x * x + params[2] * x**3)

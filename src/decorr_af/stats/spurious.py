"""Background-function choice with the ATLAS spurious-signal test.

For each candidate function (simplest first) a signal+background fit (signal
shape fixed, yields and the function's parameters free) is made to a
high-statistics background-only template at several Higgs-mass hypotheses
(121–129 GeV); the *spurious signal* ``S_spur`` is the largest fitted |signal
yield|. A function passes when ``|S_spur| < max_fraction · σ_s``, with ``σ_s``
the expected statistical uncertainty of the signal yield in the category
(:func:`expected_signal_error`); with ``relaxed`` (default) the MC statistical
uncertainty ``δ_MC`` of the template fit is allowed for (``|S_spur| − 2 δ_MC``,
ATLAS's relaxed criterion for limited template statistics). The simplest
passing function is chosen (fewest parameters); if none passes, the one with the
smallest ``|S_spur|/σ_s``. Its ``S_spur`` becomes the spurious-signal
nuisance parameter of the likelihood (:mod:`decorr_af.stats.likelihood`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from decorr_af.errors import ConfigError
from decorr_af.stats._nll import as_hist, hessian_errors, minimize_nll, scaled_poisson_nll
from decorr_af.stats.functions import bin_fractions, functions, get_function
from decorr_af.stats.shapes import DSCB

__all__ = [
    "BackgroundFit",
    "FunctionChoice",
    "choose_function",
    "expected_signal_error",
    "fit_background",
    "fit_splusb",
]

#: Higgs-mass hypotheses of the spurious-signal scan (GeV)
MASS_POINTS = (121.0, 123.0, 125.0, 127.0, 129.0)


@dataclasses.dataclass(frozen=True)
class BackgroundFit:
    """A fitted function: yields, shape parameters, uncertainty of ``ns``."""

    function: str
    params: tuple[float, ...]
    nb: float
    ns: float = 0.0
    ns_err: float = float("nan")

    def fractions(self, edges: np.ndarray) -> np.ndarray:
        """Background bin fractions of the fitted function."""
        return bin_fractions(get_function(self.function), edges, np.asarray(self.params))


def fit_background(
    hist: np.ndarray, edges: np.ndarray, function: str = "exponential"
) -> BackgroundFit:
    """Background-only fit of ``function`` to the weighted histogram ``hist``.

    Examples
    --------
    >>> edges = np.linspace(105, 160, 56)
    >>> truth = 1e4 * bin_fractions(get_function("exponential"), edges, np.array([-1.5]))
    >>> fit = fit_background(truth, edges)
    >>> round(fit.params[0], 3), round(fit.nb)
    (-1.5, 10000)
    """
    return _fit(hist, edges, function, None)


def fit_splusb(
    hist: np.ndarray,
    edges: np.ndarray,
    signal: DSCB,
    function: str = "exponential",
    *,
    start: BackgroundFit | None = None,
) -> BackgroundFit:
    """Signal (shape ``signal`` fixed, yield free and of any sign) + ``function`` fit.

    ``start``: a background-only fit to start from (default: made here).
    """
    return _fit(hist, edges, function, signal.bin_fractions(edges), start)


def _fit(hist, edges, function, sig_frac, b0=None) -> BackgroundFit:
    h = as_hist(hist)
    fn = get_function(function)
    total = float(h[:, 0].sum())
    if total <= 0:
        raise ConfigError("background fit: the template histogram is empty")
    nll = scaled_poisson_nll(h)
    edges = np.asarray(edges, dtype=np.float64)
    k = fn.n_params
    if sig_frac is None:

        def fun(p):
            return nll(p[0] * bin_fractions(fn, edges, p[1:]))

        start, bounds = [total, *fn.start], [(1e-9 * total, 10 * total), *fn.bounds]
    else:
        b0 = b0 if b0 is not None else _fit(h, edges, function, None)

        def fun(p):
            return nll(p[0] * sig_frac + p[1] * bin_fractions(fn, edges, p[2:]))

        start = [0.0, b0.nb, *b0.params]
        bounds = [(-total, total), (1e-9 * total, 10 * total), *fn.bounds]
    res = minimize_nll(fun, start, bounds)
    if sig_frac is None:
        return BackgroundFit(function, tuple(map(float, res.x[1 : 1 + k])), float(res.x[0]))
    err = hessian_errors(fun, res.x)
    return BackgroundFit(
        function,
        tuple(map(float, res.x[2 : 2 + k])),
        float(res.x[1]),
        float(res.x[0]),
        float(err[0]),
    )


def expected_signal_error(
    signal_yield: float, signal: DSCB, background: np.ndarray, edges: np.ndarray
) -> float:
    """Expected statistical uncertainty of the signal yield (Fisher information).

    Signal (shape ``signal``, yield ``signal_yield``) and background (expected bin
    yields ``background``) yields free, shapes fixed, Asimov data.

    Examples
    --------
    >>> edges = np.linspace(105, 160, 111)
    >>> b = np.full(110, 10.0)
    >>> 5 < expected_signal_error(20.0, DSCB(), b, edges) < 20
    True
    """
    s = signal.bin_fractions(edges)
    b = np.asarray(background, dtype=np.float64)
    btot = b.sum()
    bf = b / btot if btot > 0 else b
    mu = np.maximum(signal_yield * s + b, 1e-12)
    grads = np.stack([s, bf])
    info = (grads[:, None, :] * grads[None, :, :] / mu).sum(axis=-1)
    try:
        return float(np.sqrt(np.linalg.inv(info)[0, 0]))
    except np.linalg.LinAlgError:
        return float("nan")


@dataclasses.dataclass(frozen=True)
class FunctionChoice:
    """Outcome of the spurious-signal test in one category."""

    function: str
    spurious_signal: float
    signal_error: float
    table: tuple[dict[str, float | str | bool], ...]
    passed: bool

    def to_dict(self) -> dict:
        """JSON-able summary."""
        return {
            "function": self.function,
            "spurious_signal": self.spurious_signal,
            "signal_error": self.signal_error,
            "passed": self.passed,
            "table": [dict(r) for r in self.table],
        }


def choose_function(
    template: np.ndarray,
    edges: np.ndarray,
    signal: DSCB,
    *,
    signal_error: float,
    candidates: Sequence[str] | None = None,
    max_fraction: float = 0.2,
    relaxed: bool = True,
    mass_points: Sequence[float] = MASS_POINTS,
) -> FunctionChoice:
    """Choose the simplest function whose spurious signal is below ``max_fraction · σ_s``.

    Parameters
    ----------
    template
        Background-only template (weighted histogram, any normalisation: the
        spurious signal is scaled to the template's expected yield, so the
        template should be normalised to the expected background).
    edges
        Bin edges (GeV).
    signal
        Signal shape (its ``mean`` is moved over ``mass_points``).
    signal_error
        Expected uncertainty σ_s of the signal yield (events).
    candidates
        Function names, simplest first (default: all registered); those after the
        first passing one are not tested.
    max_fraction
        Threshold of ``|S_spur|/σ_s`` (ATLAS uses 10–20 %).
    relaxed
        Subtract twice the template's statistical uncertainty of ``S_spur``.

    Examples
    --------
    >>> edges = np.linspace(105, 160, 111)
    >>> bkg = 5e3 * bin_fractions(get_function("exppoly2"), edges, np.array([-3.0, 1.5]))
    >>> ch = choose_function(bkg, edges, DSCB(), signal_error=30.0, relaxed=False)
    >>> ch.function, ch.passed
    ('exppoly2', True)
    """
    if not 0 < max_fraction < 1:
        raise ConfigError(f"parameter 'max_fraction' must be in (0, 1), got {max_fraction}")
    names = list(candidates) if candidates is not None else functions()
    if not names:
        raise ConfigError("parameter 'candidates' is empty")
    rows = []
    for name in names:
        if rows and rows[-1]["passed"]:
            break  # the simplest passing function is found: more complex ones are not tested
        b0 = fit_background(template, edges, name)
        fits = [fit_splusb(template, edges, signal.shifted(m), name, start=b0) for m in mass_points]
        worst = max(fits, key=lambda f: abs(f.ns))
        ns, err = abs(worst.ns), worst.ns_err
        test = max(ns - 2 * err, 0.0) if relaxed and np.isfinite(err) else ns
        ratio = test / signal_error if signal_error > 0 else float("inf")
        rows.append(
            {
                "function": name,
                "n_params": get_function(name).n_params,
                "spurious_signal": ns,
                "spurious_err": float(err),
                "ratio": float(ratio),
                "passed": bool(ratio < max_fraction),
            }
        )
    passing = [r for r in rows if r["passed"]]
    best = passing[0] if passing else min(rows, key=lambda r: r["ratio"])
    return FunctionChoice(
        function=str(best["function"]),
        spurious_signal=float(best["spurious_signal"]),
        signal_error=float(signal_error),
        table=tuple(rows),
        passed=bool(passing),
    )

"""Binned m_γγ likelihood over categories, built and fitted with pyhf.

One pyhf channel per category, binned finely in m_γγ, with the samples

* ``signal``: the ttH signal (DSCB shape × expected yield), scaled by the
  parameter of interest ``mu`` (common to the categories);
* ``background``: the chosen smooth function (shape fixed at its fit to the
  background template, see :mod:`decorr_af.stats.spurious`) × the expected
  yield, with a free normalisation ``bkg_norm_<cat>`` and the *spurious
  signal* nuisance ``spurious_<cat>``: a ``histosys`` adding ``θ · S_spur``
  signal-shaped events (``θ ~ N(0, 1)``, linear interpolation), the ATLAS
  treatment of the background-modelling uncertainty;
* ``resonant``: non-ttH Higgs production (ggF, VBF, VH, tHq, ...) with the
  signal shape and a fixed yield. The toy sample has no such process, so its
  yield is a documented placeholder ``0`` by default and the sample is then
  left out.

The background shape parameters are fixed (pyhf models are templates): the
spurious-signal term carries the shape uncertainty. Figures (``Z``, the μ
uncertainty) are those of the profile likelihood: ``q0 = −2 ln λ(0)`` on Asimov
data for the expected significance, the ``Δ(−2 ln L) = 1`` crossings of the
profile for the μ interval.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize, stats

from decorr_af.errors import ConfigError
from decorr_af.stats.shapes import DSCB

__all__ = [
    "Category",
    "Measurement",
    "build_spec",
]

MU_BOUNDS = (-5.0, 10.0)


@dataclasses.dataclass(frozen=True)
class Category:
    """Expected content of one category on the ``edges`` binning.

    ``signal``, ``background`` and ``resonant`` are expected bin yields; ``spurious``
    the spurious signal (events, shape of ``signal_shape``).
    """

    name: str
    signal: np.ndarray
    background: np.ndarray
    signal_shape: DSCB
    edges: np.ndarray
    spurious: float = 0.0
    resonant: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.edges) - 1
        for key in ("signal", "background"):
            if len(getattr(self, key)) != n:
                raise ConfigError(f"category {self.name!r}: '{key}' needs {n} bins")
        if self.resonant is not None and len(self.resonant) != n:
            raise ConfigError(f"category {self.name!r}: 'resonant' needs {n} bins")

    @property
    def spurious_bins(self) -> np.ndarray:
        """The spurious signal spread with the signal shape."""
        return abs(self.spurious) * self.signal_shape.bin_fractions(self.edges)


def build_spec(categories: Sequence[Category]) -> dict[str, Any]:
    """pyhf workspace specification (``channels`` only) of the categories.

    Examples
    --------
    >>> edges = np.linspace(105, 160, 12)
    >>> c = Category("c0", np.full(11, 1.0), np.full(11, 10.0), DSCB(), edges, spurious=0.5)
    >>> [s["name"] for s in build_spec([c])["channels"][0]["samples"]]
    ['signal', 'background']
    """
    channels = []
    for cat in categories:
        b = np.asarray(cat.background, dtype=np.float64)
        sp = cat.spurious_bins
        floor = 1e-6 * max(float(b.max()), 1e-6)
        samples = [
            {
                "name": "signal",
                "data": np.asarray(cat.signal, dtype=np.float64).tolist(),
                "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
            },
            {
                "name": "background",
                "data": np.maximum(b, floor).tolist(),
                "modifiers": [
                    {"name": f"bkg_norm_{cat.name}", "type": "normfactor", "data": None},
                    {
                        "name": f"spurious_{cat.name}",
                        "type": "histosys",
                        "data": {
                            "hi_data": np.maximum(b + sp, floor).tolist(),
                            "lo_data": np.maximum(b - sp, floor).tolist(),
                        },
                    },
                ],
            },
        ]
        if cat.resonant is not None and float(np.sum(cat.resonant)) > 0:
            samples.append(
                {
                    "name": "resonant",
                    "data": np.asarray(cat.resonant, dtype=np.float64).tolist(),
                    "modifiers": [],
                }
            )
        channels.append({"name": cat.name, "samples": samples})
    return {"channels": channels}


class Measurement:
    """The pyhf model of ``categories`` and its profile-likelihood fits.

    Examples
    --------
    >>> edges = np.linspace(105, 160, 56)
    >>> shape = DSCB()
    >>> c = Category("c0", 20 * shape.bin_fractions(edges), np.full(55, 20.0), shape, edges)
    >>> meas = Measurement([c])
    >>> fit = meas.fit(meas.asimov())
    >>> round(fit["mu"], 4)
    1.0
    """

    def __init__(self, categories: Sequence[Category]) -> None:
        if not categories:
            raise ConfigError("Measurement needs at least one category")
        import pyhf  # a core dependency, imported on use (slow to import)

        pyhf.set_backend("numpy", "scipy")
        self.pyhf = pyhf
        self.categories = list(categories)
        self.spec = build_spec(self.categories)
        self.model = pyhf.Model(self.spec, poi_name="mu", validate=False)
        cfg = self.model.config
        self.poi = cfg.poi_index
        bounds = [list(b) for b in cfg.suggested_bounds()]
        # μ may go negative, but no bin's expectation below zero: μ s_i ≥ −b_i/2
        ratio = [
            float(
                np.min(np.asarray(c.background)[c.signal > 0] / np.asarray(c.signal)[c.signal > 0])
            )
            for c in self.categories
            if np.any(c.signal > 0)
        ]
        self.mu_bounds = (max(MU_BOUNDS[0], -0.25 * min(ratio, default=1.0)), MU_BOUNDS[1])
        bounds[self.poi] = list(self.mu_bounds)
        for name in cfg.par_order:
            if name.startswith("bkg_norm_"):
                bounds[cfg.par_slice(name).start] = [0.5, 3.0]
        self.bounds = bounds
        self.init = list(cfg.suggested_init())

    # -- data ---------------------------------------------------------------
    def pars(self, mu: float = 1.0) -> np.ndarray:
        """Nominal parameters with ``mu``."""
        p = np.asarray(self.init, dtype=np.float64).copy()
        p[self.poi] = mu
        return p

    def asimov(self, mu: float = 1.0) -> np.ndarray:
        """Asimov data (main + auxiliary) at ``mu`` and nominal nuisance parameters."""
        return np.asarray(self.model.expected_data(self.pars(mu)), dtype=np.float64)

    def with_observed(self, counts: Sequence[np.ndarray]) -> np.ndarray:
        """Data vector from observed counts per category (in the order of ``categories``).

        pyhf orders channels by name; the counts are placed accordingly, and the
        auxiliary data are nominal.
        """
        if len(counts) != len(self.categories):
            raise ConfigError(
                f"with_observed: {len(counts)} count arrays for {len(self.categories)} categories"
            )
        cfg = self.model.config
        main = np.zeros(sum(cfg.channel_nbins.values()))
        for cat, c in zip(self.categories, counts):
            main[cfg.channel_slices[cat.name]] = np.asarray(c, dtype=np.float64)
        return np.concatenate([main, np.asarray(cfg.auxdata, dtype=np.float64)])

    def expected_by_sample(self, pars: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """Expected bin yields ``{category: {sample: yields}}`` at parameters ``pars``."""
        cfg = self.model.config
        per = np.asarray(self.model.main_model.expected_data(pars, return_by_sample=True))
        return {
            cat.name: {s: per[i, cfg.channel_slices[cat.name]] for i, s in enumerate(cfg.samples)}
            for cat in self.categories
        }

    def par_vector(self, named: dict[str, list[float]]) -> np.ndarray:
        """Parameter vector from the ``pars`` mapping of :meth:`fit`."""
        cfg = self.model.config
        p = np.asarray(self.init, dtype=np.float64).copy()
        for n, v in named.items():
            p[cfg.par_slice(n)] = v
        return p

    def toys(self, n: int, *, mu: float = 1.0, seed: int = 0) -> np.ndarray:
        """``n`` pseudo-datasets at ``mu``: Poisson main data, Gaussian auxiliary data."""
        rng = np.random.default_rng(seed)
        p = self.pars(mu)
        main = np.asarray(self.model.expected_actualdata(p), dtype=np.float64)
        aux = np.asarray(self.model.config.auxdata, dtype=np.float64)
        return np.concatenate(
            [rng.poisson(main, (n, len(main))), rng.normal(aux, 1.0, (n, len(aux)))], axis=1
        )

    # -- fits ---------------------------------------------------------------
    def twice_nll(
        self, data: np.ndarray, mu: float | None = None, *, start: np.ndarray | None = None
    ) -> tuple[float, np.ndarray]:
        """``−2 ln L`` minimised over the nuisance parameters (and μ if ``mu`` is None).

        ``start``: parameters to start from (default: the nominal ones).
        """
        mle = self.pyhf.infer.mle
        init = self.init if start is None else np.asarray(start, dtype=np.float64).tolist()
        kw = {"init_pars": init, "par_bounds": self.bounds, "return_fitted_val": True}
        last = 2
        for attempt in range(last + 1):
            try:
                if mu is None:
                    pars, val = mle.fit(data, self.model, **kw)
                else:
                    pars, val = mle.fixed_poi_fit(mu, data, self.model, **kw)
                break
            except self.pyhf.exceptions.FailedMinimization as err:
                if attempt == last:
                    raise
                # restart from the parameters where the optimiser stopped
                start = np.clip(
                    np.asarray(err.result.x, dtype=np.float64), *np.array(self.bounds).T
                )
                if mu is not None:
                    start[self.poi] = mu
                kw["init_pars"] = start.tolist()
        return float(val), np.asarray(pars, dtype=np.float64)

    def fit(self, data: np.ndarray) -> dict[str, Any]:
        """Free fit: ``mu``, ``twice_nll`` and all parameters by name."""
        val, pars = self.twice_nll(data)
        cfg = self.model.config
        named = {n: pars[cfg.par_slice(n)].tolist() for n in cfg.par_order}
        return {"mu": float(pars[self.poi]), "twice_nll": val, "pars": named}

    def q(
        self,
        data: np.ndarray,
        mu: float,
        best: float | None = None,
        *,
        start: np.ndarray | None = None,
    ) -> float:
        """Profile-likelihood ratio ``−2 ln λ(mu)`` (``best``: the free fit's ``−2 ln L``)."""
        best = self.twice_nll(data)[0] if best is None else best
        return max(self.twice_nll(data, mu, start=start)[0] - best, 0.0)

    def significance(self, data: np.ndarray) -> float:
        """Discovery significance ``sqrt(q0)`` (0 when μ̂ ≤ 0).

        On Asimov data at μ = 1 (:meth:`asimov`) it is the median expected one.
        """
        best, pars = self.twice_nll(data)
        if pars[self.poi] <= 0:
            return 0.0
        return math.sqrt(self.q(data, 0.0, best, start=pars))

    def interval(self, data: np.ndarray, level: float = 0.6827) -> tuple[float, float, float]:
        """``(mu_hat, lo, hi)``: profile-likelihood interval of μ at confidence ``level``.

        An end beyond the bounds of μ (``mu_bounds``: μ ≥ −b/(4s) in every bin, so no
        expectation goes negative, and μ ≤ 10) is clipped there.
        """
        best, pars = self.twice_nll(data)
        mu_hat = float(pars[self.poi])
        cut = float(stats.chi2.ppf(level, 1))

        def f(m: float) -> float:
            return self.q(data, m, best, start=pars) - cut

        lo_edge, hi_edge = self.mu_bounds
        step = 0.5
        hi = min(mu_hat + step, hi_edge)
        while f(hi) < 0 and hi < hi_edge:
            hi = min(hi + 2 * step, hi_edge)
        lo = max(mu_hat - step, lo_edge)
        while f(lo) < 0 and lo > lo_edge:
            lo = max(lo - 2 * step, lo_edge)
        f_hi, f_lo = f(hi), f(lo)
        xhi = optimize.brentq(f, mu_hat, hi, xtol=1e-4) if f_hi > 0 else hi_edge
        xlo = optimize.brentq(f, lo, mu_hat, xtol=1e-4) if f_lo > 0 else lo_edge
        return mu_hat, float(xlo), float(xhi)

    def mu_uncertainty(self, data: np.ndarray | None = None) -> float:
        """Half width of the 68 % profile-likelihood interval of μ (Asimov by default)."""
        _, lo, hi = self.interval(self.asimov() if data is None else data)
        return 0.5 * (hi - lo)

    def fit_spurious_only(self, data: np.ndarray) -> dict[str, float]:
        """Fitted spurious-signal pulls ``θ`` of each category (free fit)."""
        res = self.fit(data)
        return {k: v[0] for k, v in res["pars"].items() if k.startswith("spurious_")}

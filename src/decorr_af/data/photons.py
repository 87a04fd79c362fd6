r"""Single-photon physics of the PHYSLITE-like toy.

The toy follows the logic of ATLAS photon reconstruction closely enough that
shower shapes, isolation and the energy response are *physically* related,
without being tuned to favour any method. All energies are in GeV inside this
module; the writer converts to MeV. Every random number comes from the
:class:`numpy.random.Generator` passed in.

Truth
-----
* Candidates per event: 1, 2, 3 with probabilities 0.6, 0.3, 0.1; each is a
  prompt photon with probability 0.5 (MCTruthClassifier ``truthType`` 14,
  ``truthOrigin`` 38) or a fake: a :math:`\pi^0` (``16``/``42``, 70 %), an
  :math:`\eta` meson (``16``/``39``, 20 %) or a hadron (``17``/``23``, 10 %).
* :math:`p_T^{true} = 25\,\mathrm{GeV}\,(1-u)^{-1/n}`, :math:`n=3` prompt,
  :math:`n=4` fakes (capped at 2.5 TeV); :math:`|\eta|` uniform in
  :math:`[0,1.37)\cup[1.52,2.37)` (crack excluded), :math:`\phi` uniform;
  :math:`E^{true} = p_T^{true}\cosh\eta`. For fakes "true" is the meson.
* Pile-up :math:`\mu` ~ Normal(52, 11) clipped to [18, 82] (Run-3-like).

Material, conversions and shower start
--------------------------------------
Tracker material :math:`t(\eta) = 0.35 + 0.25|\eta| + 0.7\,e^{-((|\eta|-1.65)/0.35)^2}`
:math:`X_0` and the dead material between tracker and accordion
:math:`x(\eta) = 2.0 + 0.6|\eta| + 2.0\,e^{-((|\eta|-1.45)/0.2)^2}` :math:`X_0`.
The pair-production depth is :math:`s \sim \mathrm{Exp}(9/7\,X_0)`; the photon
is *converted* when :math:`s < t(\eta)`, so
:math:`P_{conv} = 1 - e^{-7t/9}` rises from ~24 % at :math:`\eta=0` to ~70 %
near :math:`|\eta|=1.7`. ``conversionType`` follows the conversion radius
:math:`d = s/t`: Si (1 single / 3 double) for :math:`d<0.55`, Si-TRT (5) up to
0.8, TRT (2 / 4) beyond. The shower starts at :math:`s`; the material it
crosses before the calorimeter is :math:`u = t + x - s` (negative when the
photon converts inside the calorimeter).

Energy response
---------------
Longitudinal profile :math:`dE/dt \propto t^{a-1}e^{-bt}` with :math:`b=0.5`,
:math:`a = 1 + b\,(\ln(E/E_c) - 0.5)`, :math:`E_c = 40` MeV, so with
:math:`F(t) = P(a, b\,t)` (regularised incomplete gamma):

* upstream loss :math:`L_{up} = F(u)`, rear leakage
  :math:`L_{rear} = 1 - F(u + D)`, :math:`D = 22 + 2|\eta|\,X_0`;
* strip fraction :math:`f_1 = [F(u+4.3) - F(u)] / [F(u+D) - F(u)]`;
* lateral leakage out of the 3x7 cluster
  :math:`\ell = 0.022 + 0.004|\eta| + 0.005\,u_+ + 0.01\,c + \Gamma(1.5, 0.009)`
  (:math:`c` = converted).

Cluster energy (fakes add 30 % of the hadronic energy in their core, see below)

.. math::
    E_{raw} = E^{true}(1 - L_{up} - L_{rear})(1-\ell)\,(1 + \sigma_c N)
      + \sigma_s\sqrt{E}\,N + \sigma_n N + \cosh\eta\,(0.003\mu + 0.04\sqrt{\mu}N)

with sampling term :math:`\sigma_s = 0.10 + 0.05|\eta|` (i.e. 10 %/√E in the
barrel), constant term :math:`\sigma_c = 0.7\,\%`, noise :math:`\sigma_n =
0.25\cosh\eta`-capped GeV and a pile-up term ∝ μ. The written ``pt`` is
:math:`E_{raw}/\cosh\eta`. The event-by-event fluctuations of :math:`u`,
:math:`\ell` and :math:`L_{rear}` are what the shower shapes can measure.

Shower shapes
-------------
Built from the same latent quantities plus measurement noise
(:math:`\propto 1/\sqrt{E}`), e.g.
:math:`R_\eta = E_{3\times7}/E_{7\times7}` with
:math:`E_{3\times7} = 1-\ell`, :math:`E_{7\times7} = 0.992 +` pile-up ring
(∝ μ/E) :math:`+` hadronic core energy; ``f1`` from the profile; strip widths
``weta1``, ``wtots1``, ``fracs1`` grow with :math:`u_+`; ``Rhad`` is
:math:`L_{rear}` plus hadronic energy plus noise ∝ √μ/E_T. Converted photons
get a B-field opening in φ that lowers ``Rphi`` (∝ (1-d)·40 GeV/p_T).

Fakes: a meson carrying a fraction :math:`x\sim\mathrm{Beta}(3.5,1.5)` of its
parent jet, so the surrounding jet activity is :math:`A = (1-x)/x` (in units
of the meson energy). :math:`A` is split with Dirichlet(1.5, 4, 3, 2) weights
into core / ΔR<0.2 ring / 0.2-0.4 ring / outside. The core part widens the
shower (``Reta``, ``weta2``, ``wtots1``, ``fracs1``, ``Rhad``), the rings feed
isolation — the shared :math:`A` is what correlates shower-shape ID with
isolation on fakes. The two decay photons share energy :math:`z\sim U(0,1)`
and open by :math:`\theta = m/(E\sqrt{z(1-z)})`; their strip separation
:math:`d_s = \theta\cosh\eta|\cos\alpha|/0.0031` makes a second maximum of
visibility :math:`v = 1-e^{-(d_s/2)^2}`, so
:math:`E_{ratio} = (1-rv)/(1+rv)`, :math:`r = \min(z,1-z)/\max(z,1-z)`, and
``DeltaE`` grows with :math:`rv`.

Isolation
---------
:math:`E_T^{cone20} = \Gamma(2,0.25) + 0.22\sqrt{\mu}N + 0.8(\ell-\bar\ell)E_T
+ 0.7\,A\,g_{20}E_T` (last term fakes only); ``topoetcone40`` adds the outer
ring and a wider pile-up term :math:`0.40\sqrt{\mu}`; ``ptcone20`` counts
charged tracks (charged fraction ~Beta(6,4) of the ring for fakes, UE tracks
and pile-up tracks with probability ∝ μ).

Data vs MC
----------
``kind="data"`` uses the identical physics; only the *measured* shower shapes
are transformed afterwards, :math:`v \to c + (v-c)(1+k w_v) + k\delta_v` with
:math:`k` = ``mismodelling`` (see :data:`MISMODELLING`), like ATLAS fudge
factors with the opposite sign. The energy-loss information is encoded before
the transform, so an energy regression using the shapes is biased in data.
"""

from __future__ import annotations

import functools
from typing import Any

import awkward as ak
import numpy as np
from scipy.special import gammainc

from decorr_af.data.schema import TRUTH_ORIGIN, TRUTH_TYPE
from decorr_af.errors import ConfigError

__all__ = [
    "MISMODELLING",
    "apply_mismodelling",
    "conversion_probability",
    "draw_mu",
    "mean_response",
    "reconstruct_photons",
    "simulate_photons",
    "standard_calibration",
]

_B = 0.5  # longitudinal profile slope parameter b
_E_CRIT = 0.040  # GeV, critical energy of the dead material mix
_STRIP_DEPTH = 4.3  # X0 of the first (strip) layer
_STRIP_PITCH = 0.0031  # eta pitch of the strips
_MESON_MASS = {"pi0": 0.13498, "eta": 0.54786}  # GeV
_CONV_MEAN_DEPTH = 9.0 / 7.0  # X0, mean free path for pair production
_ELL_MEAN_FLUCT = 0.0135  # mean of the Gamma(1.5, 0.009) lateral-leakage fluctuation

#: data/MC shower-shape transform per variable: (centre c, stretch w, shift delta)
MISMODELLING: dict[str, tuple[float, float, float]] = {
    "Reta": (0.96, 0.15, -0.004),
    "Rphi": (0.93, 0.10, -0.004),
    "weta2": (0.0100, 0.08, 0.00015),
    "weta1": (0.62, 0.05, 0.008),
    "wtots1": (2.0, 0.05, 0.05),
    "fracs1": (0.25, 0.05, 0.01),
    "DeltaE": (0.0, 0.05, 0.0),
    "Eratio": (0.90, 0.05, -0.005),
    "f1": (0.25, 0.03, 0.012),
    "Rhad": (0.0, 0.10, 0.001),
}
_CLIP = {
    "Reta": (0.0, 1.1),
    "Rphi": (0.0, 1.1),
    "weta2": (1e-4, None),
    "weta1": (1e-3, None),
    "wtots1": (1e-3, None),
    "fracs1": (0.0, None),
    "DeltaE": (0.0, None),
    "Eratio": (0.0, 1.0),
    "f1": (0.0, 1.0),
}


def tracker_material(abseta: np.ndarray) -> np.ndarray:
    """Inner-detector material in radiation lengths (see module docstring)."""
    return 0.35 + 0.25 * abseta + 0.7 * np.exp(-(((abseta - 1.65) / 0.35) ** 2))


def dead_material(abseta: np.ndarray) -> np.ndarray:
    """Material between the tracker and the accordion in radiation lengths."""
    return 2.0 + 0.6 * abseta + 2.0 * np.exp(-(((abseta - 1.45) / 0.2) ** 2))


def conversion_probability(abseta: np.ndarray) -> np.ndarray:
    r"""Probability :math:`1-e^{-7t(\eta)/9}` to convert inside the tracker.

    Examples
    --------
    >>> import numpy as np
    >>> bool(conversion_probability(np.array([2.0]))[0] > conversion_probability(np.array([0.0]))[0])
    True
    """
    return 1.0 - np.exp(-tracker_material(np.abs(abseta)) / _CONV_MEAN_DEPTH)


def _profile_a(e_gev: np.ndarray) -> np.ndarray:
    t_max = np.log(np.maximum(e_gev, 1.0) / _E_CRIT) - 0.5
    return 1.0 + _B * t_max


def _cdf(t: np.ndarray, a: np.ndarray) -> np.ndarray:
    return gammainc(a, _B * np.clip(t, 0.0, None))


def _calo_depth(abseta: np.ndarray) -> np.ndarray:
    return 22.0 + 2.0 * abseta


def draw_mu(n: int, rng: np.random.Generator) -> np.ndarray:
    """Average interactions per crossing, Normal(52, 11) clipped to [18, 82]."""
    return np.clip(rng.normal(52.0, 11.0, n), 18.0, 82.0).astype(np.float32)


def _draw_abseta(n: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.uniform(0.0, 1.37 + 0.85, n)
    return np.where(x < 1.37, x, x + 0.15)


def _mean_response_exact(
    e_gev: np.ndarray, abseta: np.ndarray, converted: np.ndarray, nodes: int
) -> np.ndarray:
    e = np.asarray(e_gev, dtype=float)[:, None]
    abseta = np.asarray(abseta, dtype=float)[:, None]
    conv = np.asarray(converted, dtype=bool)[:, None]
    q = (np.arange(nodes) + 0.5) / nodes
    t = tracker_material(abseta)
    p_conv = 1.0 - np.exp(-t / _CONV_MEAN_DEPTH)
    s_conv = -_CONV_MEAN_DEPTH * np.log1p(-q * p_conv)  # truncated Exp on [0, t)
    s_unconv = t - _CONV_MEAN_DEPTH * np.log1p(-q)
    s = np.where(conv, s_conv, s_unconv)
    u = t + dead_material(abseta) - s
    a = _profile_a(e)
    contained = _cdf(u + _calo_depth(abseta), a) - _cdf(u, a)
    ell = 0.022 + 0.004 * abseta + 0.005 * np.clip(u, 0, None) + 0.01 * conv + _ELL_MEAN_FLUCT
    return np.mean(contained * (1.0 - ell), axis=1)


@functools.lru_cache(maxsize=1)
def _response_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    abseta = np.linspace(0.0, 2.5, 51)
    loge = np.linspace(np.log(5.0), np.log(5000.0), 61)
    ee, aa = np.meshgrid(np.exp(loge), abseta, indexing="ij")
    table = np.stack(
        [
            _mean_response_exact(ee.ravel(), aa.ravel(), np.full(ee.size, c), 64).reshape(ee.shape)
            for c in (False, True)
        ]
    )
    return abseta, loge, table


def mean_response(
    e_gev: np.ndarray, eta: np.ndarray, converted: np.ndarray, mu: np.ndarray
) -> np.ndarray:
    r"""Expected :math:`E_{raw}/E^{true}` given η, conversion status, energy and μ.

    Averages :math:`(1-L_{up}-L_{rear})(1-\bar\ell)` over the shower-start
    depth (truncated exponential inside the tracker for converted photons,
    exponential beyond it otherwise; 64 quantile nodes, tabulated once on a
    (log E, |η|) grid and interpolated bilinearly) and adds the mean pile-up
    offset. This is the toy's analogue of the η/E/conversion MC-based
    calibration.

    Examples
    --------
    >>> import numpy as np
    >>> r = mean_response(np.array([50.0]), np.array([0.3]), np.array([False]), np.array([50.0]))
    >>> 0.9 < float(r[0]) < 1.0
    True
    """
    grid_eta, grid_loge, table = _response_table()
    e = np.asarray(e_gev, dtype=float)
    abseta = np.abs(np.asarray(eta, dtype=float))
    conv = np.asarray(converted, dtype=bool).astype(int)
    x = np.clip(np.log(np.maximum(e, 1e-3)), grid_loge[0], grid_loge[-1])
    y = np.clip(abseta, grid_eta[0], grid_eta[-1])
    ix = np.clip(np.searchsorted(grid_loge, x) - 1, 0, len(grid_loge) - 2)
    iy = np.clip(np.searchsorted(grid_eta, y) - 1, 0, len(grid_eta) - 2)
    fx = (x - grid_loge[ix]) / (grid_loge[ix + 1] - grid_loge[ix])
    fy = (y - grid_eta[iy]) / (grid_eta[iy + 1] - grid_eta[iy])
    resp = (
        table[conv, ix, iy] * (1 - fx) * (1 - fy)
        + table[conv, ix + 1, iy] * fx * (1 - fy)
        + table[conv, ix, iy + 1] * (1 - fx) * fy
        + table[conv, ix + 1, iy + 1] * fx * fy
    )
    return resp + np.cosh(abseta) * 0.003 * np.asarray(mu, dtype=float) / np.maximum(e, 1e-3)


def standard_calibration(
    e_raw: np.ndarray, eta: np.ndarray, converted: np.ndarray, mu: np.ndarray
) -> np.ndarray:
    """Calibrate raw cluster energies with :func:`mean_response` (two iterations).

    Examples
    --------
    >>> import numpy as np
    >>> e = standard_calibration(np.array([48.0]), np.array([0.3]), np.array([False]), np.array([50.0]))
    >>> float(e[0]) > 48.0
    True
    """
    e_raw = np.asarray(e_raw, dtype=float)
    e = e_raw / mean_response(e_raw, eta, converted, mu)
    return e_raw / mean_response(e, eta, converted, mu)


def apply_mismodelling(shapes: dict[str, np.ndarray], strength: float) -> dict[str, np.ndarray]:
    r"""Transform MC shower shapes into "data": :math:`c + (v-c)(1+kw) + k\delta`.

    Examples
    --------
    >>> import numpy as np
    >>> out = apply_mismodelling({"Reta": np.array([0.96, 0.95])}, 1.0)
    >>> float(out["Reta"][0])
    0.956
    """
    if strength < 0:
        raise ConfigError(f"mismodelling must be >= 0, got {strength!r}")
    out = dict(shapes)
    if strength == 0:
        return out
    for name, (c, w, d) in MISMODELLING.items():
        if name in out:
            v = c + (np.asarray(out[name], dtype=float) - c) * (1.0 + strength * w) + strength * d
            lo, hi = _CLIP.get(name, (None, None))
            out[name] = np.clip(v, lo, hi) if (lo is not None or hi is not None) else v
    return out


def reconstruct_photons(
    truth_e: np.ndarray,
    eta: np.ndarray,
    mu: np.ndarray,
    *,
    category: np.ndarray,
    rng: np.random.Generator,
    kind: str = "mc",
    mismodelling: float = 0.0,
) -> dict[str, np.ndarray]:
    """Simulate conversion, energy response, shower shapes and isolation.

    Parameters
    ----------
    truth_e, eta, mu
        Flat arrays (one entry per photon candidate): true energy in GeV,
        pseudorapidity and the event's μ.
    category
        0 prompt photon, 1 π⁰ fake, 2 η-meson fake, 3 hadron fake.
    rng
        Random generator.
    kind, mismodelling
        ``"data"`` applies :func:`apply_mismodelling` with ``mismodelling``.

    Returns
    -------
    dict
        Flat numpy arrays in GeV: ``e_raw``, ``pt`` (= e_raw/cosh η),
        ``conversionType``, the shower shapes and the isolation variables.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> out = reconstruct_photons(np.full(3, 60.0), np.zeros(3), np.full(3, 40.0),
    ...                           category=np.zeros(3, int), rng=rng)
    >>> sorted(out)[:3]
    ['DeltaE', 'Eratio', 'Reta']
    """
    n = len(truth_e)
    e = np.asarray(truth_e, dtype=float)
    eta = np.asarray(eta, dtype=float)
    mu = np.asarray(mu, dtype=float)
    abseta = np.abs(eta)
    cosh = np.cosh(eta)
    et = e / cosh
    fake = category > 0
    meson = (category == 1) | (category == 2)
    hadron = category == 3

    # --- conversion and shower start -------------------------------------------------
    t_trk = tracker_material(abseta)
    s = rng.exponential(_CONV_MEAN_DEPTH, n)
    converted = s < t_trk
    d = np.clip(s / t_trk, 0.0, 1.0)
    double = rng.random(n) < np.where(d < 0.55, 0.6, 0.4)
    conv_type = np.select(
        [~converted, d < 0.55, d < 0.8], [0, np.where(double, 3, 1), 5], np.where(double, 4, 2)
    ).astype(np.int32)
    u = t_trk + dead_material(abseta) - s
    up = np.clip(u, 0.0, None)

    # --- longitudinal profile ----------------------------------------------------------
    a = _profile_a(e)
    f_u = _cdf(u, a)
    f_strip = _cdf(u + _STRIP_DEPTH, a)
    f_back = _cdf(u + _calo_depth(abseta), a)
    l_rear = 1.0 - f_back
    in_calo = np.maximum(f_back - f_u, 1e-3)
    f1_true = (f_strip - f_u) / in_calo

    # --- lateral leakage and fake structure --------------------------------------------
    ell = 0.022 + 0.004 * abseta + 0.005 * up + 0.01 * converted + rng.gamma(1.5, 0.009, n)
    x_frag = np.clip(rng.beta(3.5, 1.5, n), 0.1, None)
    activity = np.where(fake, (1.0 - x_frag) / x_frag, 0.0)
    g = rng.gamma(np.array([1.5, 4.0, 3.0, 2.0]), size=(n, 4))
    g /= g.sum(axis=1, keepdims=True)
    h_core = activity * g[:, 0] * np.where(hadron, 2.0, 1.0)
    mass = np.where(category == 2, _MESON_MASS["eta"], _MESON_MASS["pi0"])
    z = rng.uniform(0.02, 0.98, n)
    theta = mass / (e * np.sqrt(z * (1.0 - z)))
    d_strips = theta * cosh * np.abs(np.cos(rng.uniform(0, np.pi, n))) / _STRIP_PITCH
    vis = np.where(meson, 1.0 - np.exp(-((d_strips / 2.0) ** 2)), 0.0)
    r_share = np.minimum(z, 1 - z) / np.maximum(z, 1 - z)
    two_max = r_share * vis
    had_frac = np.where(hadron, rng.beta(2.0, 6.0, n), 0.0)  # hadronic shower of hadron fakes

    # --- energy ------------------------------------------------------------------------
    e_calo = e * (1.0 - f_u - l_rear) * (1.0 - ell) * (1.0 - had_frac)
    e_calo = e_calo + 0.3 * h_core * e
    samp = 0.10 + 0.05 * abseta
    noise = np.minimum(0.25 * cosh, 0.6)
    e_raw = (
        e_calo * (1.0 + 0.007 * rng.standard_normal(n))
        + samp * np.sqrt(np.maximum(e_calo, 0.0)) * rng.standard_normal(n)
        + noise * rng.standard_normal(n)
        + cosh * (0.003 * mu + 0.04 * np.sqrt(mu) * rng.standard_normal(n))
    )
    e_raw = np.maximum(e_raw, 0.5)
    rel = np.sqrt(50.0 / np.maximum(e_raw, 1.0))  # measurement noise scale of the shapes

    # --- shower shapes -------------------------------------------------------------------
    pu_ring = cosh * 0.006 * mu / e_raw
    e77 = 0.992 + pu_ring + 0.5 * h_core
    e37 = 1.0 - ell + 0.35 * pu_ring + 0.1 * h_core
    reta = e37 / e77 + 0.002 * rel * rng.standard_normal(n)
    conv_open = np.where(converted, (1.0 - d) * np.minimum(40.0 / et, 3.0), 0.0)
    phi_leak = 0.025 + 0.5 * (ell - 0.035) + 0.06 * conv_open * rng.exponential(1.0, n)
    rphi = (1.0 - phi_leak - 0.4 * h_core / (1 + h_core)) / (1.0 - 0.1 * h_core / (1 + h_core))
    rphi = rphi + 0.004 * rel * rng.standard_normal(n)
    weta2 = (
        0.0088
        + 0.0004 * abseta
        + 0.05 * (ell - 0.035)
        + 0.004 * h_core / (1 + h_core)
        + 0.0008 * two_max
        + 2e-6 * mu
        + 0.0002 * rel * rng.standard_normal(n)
    )
    f1 = f1_true * (1.0 + 0.015 * rel * rng.standard_normal(n)) + 0.005 * rel * rng.standard_normal(
        n
    )
    core_w = h_core / (1 + h_core)
    weta1 = 0.58 + 0.025 * up + 0.25 * two_max + 0.15 * core_w + 0.02 * rel * rng.standard_normal(n)
    wtots1 = (
        1.4
        + 0.12 * up
        + 2.0 * two_max
        + 2.5 * core_w
        + 0.005 * mu
        + 0.15 * rel * rng.standard_normal(n)
    )
    fracs1 = 0.15 + 0.04 * up + 0.5 * two_max + 0.6 * core_w + 0.02 * rel * rng.standard_normal(n)
    tail = rng.beta(1.2, 25.0, n)
    r_eff = np.maximum(tail, two_max)
    eratio = (1.0 - r_eff) / (1.0 + r_eff) + 0.005 * rel * rng.standard_normal(n)
    e1max = 0.35 * np.maximum(f1_true, 0.02) * e_raw  # GeV in the hottest strip
    delta_e = e1max * (tail * rng.beta(1.0, 8.0, n) + 0.25 * two_max * vis)
    delta_e = delta_e + np.abs(rng.normal(0.0, 0.005, n))
    rhad = (
        l_rear * 0.8
        + 0.15 * h_core / (1 + h_core)
        + had_frac
        + (0.08 * np.sqrt(1.0 + mu / 40.0) * rng.standard_normal(n)) * cosh / e_raw
    )
    shapes = {
        "Reta": reta,
        "Rphi": rphi,
        "weta2": weta2,
        "weta1": weta1,
        "wtots1": wtots1,
        "fracs1": fracs1,
        "DeltaE": delta_e,
        "Eratio": eratio,
        "f1": f1,
        "Rhad": rhad,
    }
    for name, (lo, hi) in _CLIP.items():
        shapes[name] = np.clip(shapes[name], lo, hi)
    if kind == "data":
        shapes = apply_mismodelling(shapes, mismodelling)

    # --- isolation -------------------------------------------------------------------------
    sqmu = np.sqrt(mu)
    leak_iso = 0.8 * (
        ell - (0.022 + 0.004 * abseta + 0.005 * up + 0.01 * converted + _ELL_MEAN_FLUCT)
    )
    jet20 = 0.7 * activity * g[:, 1] * et
    jet40 = 0.7 * activity * g[:, 2] * et
    iso20 = rng.gamma(2.0, 0.25, n) + 0.22 * sqmu * rng.standard_normal(n) + leak_iso * et + jet20
    iso40 = iso20 + rng.gamma(2.0, 0.35, n) + 0.33 * sqmu * rng.standard_normal(n) + jet40
    charged = rng.beta(6.0, 4.0, n) * activity * g[:, 1] * et
    ue_trk = (rng.random(n) < 0.2) * (1.0 + rng.exponential(1.5, n))
    pu_trk = (rng.random(n) < 0.002 * mu) * (1.0 + rng.exponential(1.0, n))
    ptcone20 = charged * (charged > 1.0) + ue_trk + pu_trk

    out: dict[str, np.ndarray] = {
        "e_raw": e_raw,
        "pt": e_raw / cosh,
        "conversionType": conv_type,
        **shapes,
        "topoetcone20": iso20,
        "topoetcone40": iso40,
        "ptcone20": ptcone20,
    }
    return out


def _truth_codes(category: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ttype = np.select(
        [category == 0, category == 3],
        [TRUTH_TYPE["IsoPhoton"], TRUTH_TYPE["Hadron"]],
        TRUTH_TYPE["BkgPhoton"],
    ).astype(np.int32)
    origin = np.select(
        [category == 0, category == 1, category == 2],
        [TRUTH_ORIGIN["PromptPhot"], TRUTH_ORIGIN["PiZero"], TRUTH_ORIGIN["EtaMeson"]],
        TRUTH_ORIGIN["LightMeson"],
    ).astype(np.int32)
    return ttype, origin


def simulate_photons(
    n_events: int,
    *,
    kind: str = "mc",
    mismodelling: float = 0.0,
    rng: np.random.Generator,
    first_event: int = 0,
) -> dict[str, Any]:
    """Simulate ``n_events`` single-photon events in memory.

    Returns
    -------
    dict
        ``"EventInfo"``: dict of per-event numpy arrays
        (``averageInteractionsPerCrossing``, ``eventNumber``, ``runNumber``,
        ``mcChannelNumber``, ``mcEventWeights`` as an awkward ``var * float32``);
        ``"AnalysisPhotons"``: awkward array of photon records (pt-ordered,
        energies in **MeV**, as written to file).

    Examples
    --------
    >>> import numpy as np
    >>> ev = simulate_photons(100, rng=np.random.default_rng(0))
    >>> len(ev["AnalysisPhotons"])
    100
    """
    if n_events <= 0:
        raise ConfigError(f"n_events must be > 0, got {n_events!r}")
    if kind not in ("mc", "data"):
        raise ConfigError(f"kind must be 'mc' or 'data', got {kind!r}")
    mu = draw_mu(n_events, rng)
    counts = rng.choice(np.array([1, 2, 3]), size=n_events, p=[0.6, 0.3, 0.1])
    n = int(counts.sum())
    evt = np.repeat(np.arange(n_events), counts)
    category = np.where(
        rng.random(n) < 0.5, 0, rng.choice(np.array([1, 2, 3]), size=n, p=[0.7, 0.2, 0.1])
    )
    power = np.where(category == 0, 3.0, 4.0)
    pt_true = np.minimum(25.0 * (1.0 - rng.random(n)) ** (-1.0 / power), 2500.0)
    eta = _draw_abseta(n, rng) * rng.choice(np.array([-1.0, 1.0]), n)
    phi = rng.uniform(-np.pi, np.pi, n)
    truth_e = pt_true * np.cosh(eta)
    reco = reconstruct_photons(
        truth_e, eta, mu[evt], category=category, rng=rng, kind=kind, mismodelling=mismodelling
    )
    ttype, origin = _truth_codes(category)
    photons = {
        "pt": reco.pop("pt") * 1e3,
        "eta": eta,
        "phi": phi,
        "m": np.zeros(n),
        **{k: v for k, v in reco.items() if k != "e_raw"},
        "truthType": ttype,
        "truthOrigin": origin,
        "truth_e": truth_e * 1e3,
    }
    for k in ("DeltaE", "topoetcone20", "topoetcone40", "ptcone20"):
        photons[k] = photons[k] * 1e3
    order = np.lexsort((-photons["pt"], evt))
    weights = np.ones(n_events) if kind == "data" else rng.lognormal(0.0, 0.05, n_events)
    event_info = {
        "averageInteractionsPerCrossing": mu,
        "eventNumber": np.arange(first_event + 1, first_event + n_events + 1, dtype=np.uint64),
        "runNumber": _run_numbers(n_events, kind, rng),
        "mcChannelNumber": np.full(n_events, MC_CHANNEL_PHOTONS, dtype=np.uint32),
        "mcEventWeights": ak.unflatten(weights.astype(np.float32), np.ones(n_events, np.int64)),
    }
    return {"EventInfo": event_info, "AnalysisPhotons": to_collection(photons, counts, order)}


#: mcChannelNumber of the single-photon toy (a Pythia8 γ+jet-like sample id)
MC_CHANNEL_PHOTONS = 800662
#: run number of MC (mc23a-like) and a few Run-3-like data runs
MC_RUN_NUMBER = 410000
DATA_RUNS = np.array([427885, 429142, 431810, 435229, 440499, 451896, 456749], dtype=np.uint32)


def _run_numbers(n: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "data":
        return rng.choice(DATA_RUNS, n)
    return np.full(n, MC_RUN_NUMBER, dtype=np.uint32)


_INT_FIELDS = ("conversionType", "truthType", "truthOrigin")


def to_collection(
    fields: dict[str, np.ndarray], counts: np.ndarray, order: np.ndarray | None = None
) -> ak.Array:
    """Zip flat per-object arrays into a jagged awkward record (float32/int32)."""
    cols = {}
    for k, v in fields.items():
        v = np.asarray(v)
        if order is not None:
            v = v[order]
        cols[k] = v.astype(
            np.int32 if k in _INT_FIELDS else v.dtype if v.dtype.kind in "iub" else np.float32
        )
    return ak.unflatten(ak.zip(cols, depth_limit=1), counts)

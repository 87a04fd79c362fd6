r"""Calorimeter physics shared by photons and electrons.

One function, :func:`shower`, turns a true energy, direction, shower-start
depth and (for fakes) the surrounding hadronic activity into the raw cluster
energy, the shower shapes and the calorimeter variables used by the ATLAS MVA
calibration. Photons (:mod:`~decorr_af.data.photons`) and electrons
(:mod:`~decorr_af.data.electrons`) differ only in where the shower starts:
a photon at its conversion point (:func:`convert`), an electron at the
beam pipe (it radiates in all the material in front of the calorimeter).
Energies are GeV in this module.

Material and shower start
-------------------------
Tracker material :math:`t(\eta) = 0.35 + 0.25|\eta| + 0.7\,e^{-((|\eta|-1.65)/0.35)^2}`
:math:`X_0`, dead material between tracker and accordion
:math:`x(\eta) = 2.0 + 0.6|\eta| + 2.0\,e^{-((|\eta|-1.45)/0.2)^2}` :math:`X_0`,
both multiplied by :attr:`Conditions.material`. A photon converts at depth
:math:`s \sim \mathrm{Exp}(9/7\,X_0)`; it is *converted* when :math:`s < t`.
The conversion radius is :math:`R = 1080\,\mathrm{mm}\cdot s/t` (5 mm
resolution), ``conversionType`` Si (1 single / 3 double track) for
:math:`s/t<0.55`, Si-TRT (5) up to 0.8, TRT (2 / 4) beyond. The material the
shower crosses before the calorimeter is :math:`u = t + x - s`.

Energy response
---------------
Longitudinal profile :math:`dE/dt \propto t^{a-1}e^{-bt}`, :math:`b=0.5`,
:math:`a = 1 + b(\ln(E/E_c) - 0.5)`, :math:`E_c = 40` MeV, with
:math:`F(t) = P(a, bt)`: upstream loss :math:`L_{up} = F(u)`, rear leakage
:math:`1 - F(u + D)`, :math:`D = 22 + 2|\eta|` :math:`X_0`. Lateral leakage out
of the 3x7 cluster

.. math::
    \ell = \lambda\,[0.022 + 0.004|\eta| + 0.005u_+ + 0.01c + \Gamma(1.5, 0.009)]
      + 0.03(o_\eta^2 - 1/12) + 0.015(o_\phi^2 - 1/12)

(:math:`c` = charged at the calorimeter: converted photon or electron;
:math:`\lambda` = :attr:`Conditions.lateral`; :math:`o_{\eta,\phi}` the impact
position within the middle-layer cell, uniform in [-0.5, 0.5) cell units, so
the cluster loses up to ~0.8 % at a cell edge: the η/φ modulation the ATLAS
calibration corrects). Then

.. math::
    E_{raw} = E(1 - L_{up} - L_{rear})(1-\ell)(1-h)(1 + 0.007N) + 0.3A_{core}E
      + \sigma_s\sqrt{E}N + \sigma_n N + \cosh\eta\,(0.003\mu + 0.04\sqrt{\mu}N)

(:math:`h` hadronic fraction of hadron fakes, :math:`A_{core}` jet activity in
the core of fakes, :math:`\sigma_s = 0.10 + 0.05|\eta|`, noise
:math:`\sigma_n = \min(0.25\cosh\eta, 0.6)` GeV).

Layer energies and calorimeter variables
----------------------------------------
``E1`` (strips, the first 4.3 :math:`X_0`) is the measured ``f1`` times
:math:`E_{raw}`, ``E3`` (back, beyond 20.3 :math:`X_0`) the profile's back
fraction smeared by 5 %, ``E2 = E_raw - E1 - E3``: the accordion layers sum to
the raw cluster energy. ``E0`` (presampler, :math:`|\eta| < 1.8` only, 0
beyond) samples the shower in the last :math:`X_0` in front of the accordion,
:math:`E_0 = 0.5E[F(u) - F(u-1)]\,G + 0.05\sqrt{E_0}N + 0.03N` with a shower
fluctuation :math:`G \sim \Gamma(8, 1/8)` (35 %): it grows with the upstream
loss, which is what the ATLAS calibration uses it for.
``cellEtaOffset``/``cellPhiOffset`` are :math:`o_\eta, o_\phi`.

Shower shapes
-------------
From the same latent quantities plus measurement noise (∝ 1/√E):
:math:`R_\eta = E_{3\times7}/E_{7\times7}` with :math:`E_{3\times7} = 1-\ell`,
:math:`E_{7\times7} = 1 - 0.008\lambda` + pile-up ring (∝ μ/E) + core activity;
``weta2`` :math:`= 0.0088w + 0.0004|\eta| + 0.05(\ell-0.035) + \dots`
(:math:`w` = :attr:`Conditions.width`); ``f1`` from the profile; strip widths
grow with :math:`u_+`; ``Rhad`` is the rear leakage plus hadronic energy plus
noise ∝ √μ/E_T. A φ opening (converted photons: the B-field opening of the
pair, electrons: bremsstrahlung) lowers ``Rphi``. Fakes (see
:mod:`~decorr_af.data.photons`) widen every shape through :math:`A_{core}` and
show a second strip maximum of strength ``two_max``.

With cells (:mod:`decorr_af.data.cells`) the shapes, ``E0``-``E3`` and
:math:`E_{raw}` are instead measured on calorimeter cells filled from the
latent quantities returned under ``"latent"`` (the same :math:`\ell`,
profile, offsets and fake structure; no random numbers are drawn for them here).

Data vs MC
----------
:class:`Conditions` holds the detector description; :meth:`Conditions.for_kind`
gives the nominal simulation for ``"mc"`` and, for ``"data"``, a detector that
differs from the simulation by physical causes scaled by the ``mismodelling``
strength :math:`k` (0: data identical in physics to MC). Nothing is applied to
the shower shapes after the fact: they, the energy response and the
isolation differ because the detector and the events differ.

* passive material +5 %·k (``material``, tracker and dead material; ATLAS's
  material uncertainty is 5-10 % X0): more conversions, more upstream loss,
  larger ``f1``/``E0``, a lower true response;
* lateral leakage beyond the 3x7 cluster +8 %·k (``lateral``) and core width
  +1 %·k (``width``): Geant4's known under-estimate of the lateral shower
  spread, which ATLAS corrects with data-driven shower-shape fudge factors;
* pile-up :math:`\mu` ~ Normal(52 + 3k, 11 (1 + 0.1k)) (``mu_shift``,
  ``mu_width``): another pile-up profile than the simulated one;
* isolation: underlying-event energy in the cones +15 %·k, pile-up noise in
  the cones +10 %·k, underlying-event track rate +25 %·k (``ue``,
  ``pileup_iso``, ``ue_tracks``);
* fake composition :math:`\pi^0/\eta/` hadron = 0.70/0.20/0.10 in MC,
  0.65/0.22/0.13 in data at k = 1 (``fake_fractions``);
* calorimeter cells only (:mod:`~decorr_af.data.cells`): cell noise +10 %·k
  (``cell_noise``), strip cross-talk 1 % -> 1.5 % at k = 1 (``crosstalk``),
  per-layer energy scales presampler +3 %·k, strips +1.5 %·k, middle -0.5 %·k,
  back -2 %·k
  (``layer_scale``: presampler, strips, middle, back, hadronic).

Measured at k = 1 on 30 000 events per sample (MC seed 101, data seed 202;
prompt photons, medians): Reta -0.0054 (0.945 in MC), Rphi -0.0029, weta2
+3.8·10⁻⁴ (+3.6 %), f1 +0.014, weta1 +0.010; conversion fraction 45.6 % ->
47.1 % (400 000 candidates uniform in |η|); mean μ 52.0 -> 55.0; topoetcone20
+56 MeV, mean ptcone20 +0.16 GeV; presampler E0 +26 %; true response
E_raw/E_true 0.920 -> 0.911 (-1.0 %). For Z→ee (seeds 303/404) the
MC-calibrated peak moves by -1.7 % (the data-driven scale α that the Z→ee
line-shape fit has to find). These are the sizes of ATLAS's data/MC
differences before the in-situ corrections (fudge-factor shifts of a few
10⁻³ in Reta, a few % in weta2, percent-level scale factors α).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np
from scipy.special import gammainc

from decorr_af.errors import ConfigError

__all__ = [
    "CALO_DEPTH_STRIPS",
    "NOMINAL",
    "Conditions",
    "conversion_probability",
    "convert",
    "dead_material",
    "draw_mu",
    "mean_response",
    "shower",
    "standard_calibration",
    "tracker_material",
]

_B = 0.5  # longitudinal profile slope parameter b
_E_CRIT = 0.040  # GeV, critical energy of the dead material mix
CALO_DEPTH_STRIPS = 4.3  # X0 of the first (strip) layer
_MIDDLE_DEPTH = 16.0  # X0 of the middle layer
_CONV_MEAN_DEPTH = 9.0 / 7.0  # X0, mean free path for pair production
_ELL_MEAN_FLUCT = 0.0135  # mean of the Gamma(1.5, 0.009) lateral-leakage fluctuation
_TRACKER_RADIUS = 1080.0  # mm, outer radius of the TRT
_PRESAMPLER_ETA = 1.8

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


@dataclasses.dataclass(frozen=True)
class Conditions:
    """Detector and event conditions of one sample (see the module docstring).

    Examples
    --------
    >>> Conditions.for_kind("mc", 0.0) == Conditions()
    True
    >>> Conditions.for_kind("data", 1.0).material
    1.05
    """

    material: float = 1.0
    lateral: float = 1.0
    width: float = 1.0
    mu_shift: float = 0.0
    mu_width: float = 1.0
    ue: float = 1.0
    pileup_iso: float = 1.0
    ue_tracks: float = 1.0
    fake_fractions: tuple[float, float, float] = (0.7, 0.2, 0.1)
    cell_noise: float = 1.0
    crosstalk: float = 0.01
    layer_scale: tuple[float, float, float, float, float] = (1.0, 1.0, 1.0, 1.0, 1.0)

    @classmethod
    def for_kind(cls, kind: str, mismodelling: float = 0.0) -> Conditions:
        """Nominal simulation for ``"mc"``; the "real" detector for ``"data"``."""
        if kind not in ("mc", "data"):
            raise ConfigError(f"kind must be 'mc' or 'data', got {kind!r}")
        k = float(mismodelling)
        if not math.isfinite(k) or k < 0:
            raise ConfigError(f"mismodelling must be finite and >= 0, got {mismodelling!r}")
        if kind == "mc" or k == 0:
            return cls()
        return cls(
            material=round(1.0 + 0.05 * k, 12),
            lateral=1.0 + 0.08 * k,
            width=1.0 + 0.01 * k,
            mu_shift=3.0 * k,
            mu_width=1.0 + 0.1 * k,
            ue=1.0 + 0.15 * k,
            pileup_iso=1.0 + 0.1 * k,
            ue_tracks=1.0 + 0.25 * k,
            fake_fractions=_fake_fractions(k),
            cell_noise=1.0 + 0.1 * k,
            crosstalk=0.01 * (1.0 + 0.5 * k),
            layer_scale=(1.0 + 0.03 * k, 1.0 + 0.015 * k, 1.0 - 0.005 * k, 1.0 - 0.02 * k, 1.0),
        )


def _fake_fractions(k: float) -> tuple[float, float, float]:
    f = np.clip(np.array([0.7 - 0.05 * k, 0.2 + 0.02 * k, 0.1 + 0.03 * k]), 0.01, None)
    f = f / f.sum()
    return (float(f[0]), float(f[1]), float(f[2]))


#: the nominal (simulated) detector
NOMINAL = Conditions()


def tracker_material(abseta: np.ndarray, conditions: Conditions = NOMINAL) -> np.ndarray:
    """Inner-detector material in radiation lengths (see module docstring)."""
    t = 0.35 + 0.25 * abseta + 0.7 * np.exp(-(((abseta - 1.65) / 0.35) ** 2))
    return t * conditions.material


def dead_material(abseta: np.ndarray, conditions: Conditions = NOMINAL) -> np.ndarray:
    """Material between the tracker and the accordion in radiation lengths."""
    x = 2.0 + 0.6 * abseta + 2.0 * np.exp(-(((abseta - 1.45) / 0.2) ** 2))
    return x * conditions.material


def conversion_probability(abseta: np.ndarray, conditions: Conditions = NOMINAL) -> np.ndarray:
    r"""Probability :math:`1-e^{-7t(\eta)/9}` to convert inside the tracker.

    Examples
    --------
    >>> import numpy as np
    >>> bool(conversion_probability(np.array([2.0]))[0] > conversion_probability(np.array([0.0]))[0])
    True
    """
    return 1.0 - np.exp(-tracker_material(np.abs(abseta), conditions) / _CONV_MEAN_DEPTH)


def draw_mu(n: int, rng: np.random.Generator, *, conditions: Conditions = NOMINAL) -> np.ndarray:
    """Average interactions per crossing, Normal(52, 11) clipped to [18, 82] (MC).

    Examples
    --------
    >>> import numpy as np
    >>> mu = draw_mu(1000, np.random.default_rng(0))
    >>> bool(18 <= mu.min() and mu.max() <= 82)
    True
    """
    mean = 52.0 + conditions.mu_shift
    return np.clip(rng.normal(mean, 11.0 * conditions.mu_width, n), 18.0, 82.0).astype(np.float32)


def convert(
    abseta: np.ndarray, rng: np.random.Generator, conditions: Conditions = NOMINAL
) -> dict[str, np.ndarray]:
    """Draw the photon conversion depth and its reconstructed conversion type.

    Returns ``start`` (shower-start depth in X0), ``converted``,
    ``conversionType`` and ``conversionRadius`` (mm, 0 when unconverted).

    Examples
    --------
    >>> import numpy as np
    >>> c = convert(np.full(5, 1.7), np.random.default_rng(0))
    >>> sorted(c)
    ['conversionRadius', 'conversionType', 'converted', 'start']
    """
    n = len(abseta)
    t_trk = tracker_material(abseta, conditions)
    s = rng.exponential(_CONV_MEAN_DEPTH, n)
    converted = s < t_trk
    d = np.clip(s / t_trk, 0.0, 1.0)
    double = rng.random(n) < np.where(d < 0.55, 0.6, 0.4)
    conv_type = np.select(
        [~converted, d < 0.55, d < 0.8], [0, np.where(double, 3, 1), 5], np.where(double, 4, 2)
    ).astype(np.int32)
    radius = np.where(
        converted, np.clip(_TRACKER_RADIUS * d + 5.0 * rng.standard_normal(n), 25, None), 0.0
    )
    return {
        "start": s,
        "converted": converted,
        "conversionType": conv_type,
        "conversionRadius": radius,
    }


def _profile_a(e_gev: np.ndarray) -> np.ndarray:
    t_max = np.log(np.maximum(e_gev, 1.0) / _E_CRIT) - 0.5
    return 1.0 + _B * t_max


def _cdf(t: np.ndarray, a: np.ndarray) -> np.ndarray:
    return gammainc(a, _B * np.clip(t, 0.0, None))


def _calo_depth(abseta: np.ndarray) -> np.ndarray:
    return 22.0 + 2.0 * abseta


def _ell_mean(
    abseta: np.ndarray, up: np.ndarray, charged: np.ndarray, lateral: float
) -> np.ndarray:
    """Expected lateral leakage (without the Gamma fluctuation's deviation)."""
    return lateral * (0.022 + 0.004 * abseta + 0.005 * up + 0.01 * charged + _ELL_MEAN_FLUCT)


def shower(
    e: np.ndarray,
    eta: np.ndarray,
    mu: np.ndarray,
    *,
    start: np.ndarray,
    charged: np.ndarray,
    phi_open: np.ndarray,
    core: np.ndarray | None = None,
    two_max: np.ndarray | None = None,
    vis: np.ndarray | None = None,
    had_frac: np.ndarray | None = None,
    rng: np.random.Generator,
    conditions: Conditions = NOMINAL,
) -> dict[str, Any]:
    """Energy response, shower shapes and calorimeter variables of EM showers.

    Parameters
    ----------
    e, eta, mu
        True energy (GeV), pseudorapidity and the event's μ, one entry per object.
    start
        Shower-start depth in X0 (conversion depth for photons, 0 for electrons).
    charged
        Charged at the calorimeter (converted photon or electron).
    phi_open
        φ-opening strength (pair opening or bremsstrahlung), 0 for none.
    core, two_max, vis, had_frac
        Fake structure: core jet activity, second-maximum strength, its
        visibility and the hadronic fraction (all 0 by default).
    rng
        Random generator.
    conditions
        Detector conditions (:meth:`Conditions.for_kind`).

    Returns
    -------
    dict
        ``e_raw`` (GeV), the ten shower shapes, ``E0``-``E3`` (GeV),
        ``cellEtaOffset``, ``cellPhiOffset``, and the latent ``upstream_loss``,
        ``ell`` and ``ell_mean`` (for isolation and tests).

    Examples
    --------
    >>> import numpy as np
    >>> n = 4
    >>> out = shower(np.full(n, 45.0), np.zeros(n), np.full(n, 50.0), start=np.zeros(n),
    ...              charged=np.ones(n, bool), phi_open=np.zeros(n), rng=np.random.default_rng(0))
    >>> bool(np.allclose(out["E1"] + out["E2"] + out["E3"], out["e_raw"]))
    True
    """
    n = len(e)
    e = np.asarray(e, dtype=float)
    eta = np.asarray(eta, dtype=float)
    mu = np.asarray(mu, dtype=float)
    zeros = np.zeros(n)
    core = zeros if core is None else core
    two_max = zeros if two_max is None else two_max
    vis = zeros if vis is None else vis
    had_frac = zeros if had_frac is None else had_frac
    abseta = np.abs(eta)
    cosh = np.cosh(eta)
    et = e / cosh
    cond = conditions

    u = tracker_material(abseta, cond) + dead_material(abseta, cond) - start
    up = np.clip(u, 0.0, None)
    a = _profile_a(e)
    f_u = _cdf(u, a)
    f_strip = _cdf(u + CALO_DEPTH_STRIPS, a)
    f_middle = _cdf(u + CALO_DEPTH_STRIPS + _MIDDLE_DEPTH, a)
    f_back = _cdf(u + _calo_depth(abseta), a)
    l_rear = 1.0 - f_back
    in_calo = np.maximum(f_back - f_u, 1e-3)
    f1_true = (f_strip - f_u) / in_calo
    f3_true = np.clip((f_back - f_middle) / in_calo, 0.0, 1.0)

    # lateral leakage, modulated by the impact position in the middle-layer cell
    off_eta = rng.uniform(-0.5, 0.5, n)
    off_phi = rng.uniform(-0.5, 0.5, n)
    modulation = 0.03 * (off_eta**2 - 1.0 / 12.0) + 0.015 * (off_phi**2 - 1.0 / 12.0)
    ell_mean = _ell_mean(abseta, up, charged, cond.lateral)
    ell = (
        cond.lateral
        * (0.022 + 0.004 * abseta + 0.005 * up + 0.01 * charged + rng.gamma(1.5, 0.009, n))
        + modulation
    )

    # energy
    e_calo = e * (1.0 - f_u - l_rear) * (1.0 - ell) * (1.0 - had_frac) + 0.3 * core * e
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

    shapes = _shapes(
        e_raw, abseta, cosh, et, mu, ell, up, f1_true, l_rear, core, two_max, vis, had_frac,
        phi_open, rel, rng, cond,
    )  # fmt: skip

    # layer energies: E1 + E2 + E3 = E_raw; E0 samples the upstream shower
    e1 = shapes["f1"] * e_raw
    e3 = np.clip(f3_true * (1.0 + 0.05 * rng.standard_normal(n)), 0.0, 1.0) * e_raw
    e3 = np.minimum(e3, e_raw - e1)
    e2 = e_raw - e1 - e3
    e0_true = 0.5 * e * (f_u - _cdf(u - 1.0, a)) * rng.gamma(8.0, 1.0 / 8.0, n)
    e0 = e0_true + 0.05 * np.sqrt(e0_true) * rng.standard_normal(n) + 0.03 * rng.standard_normal(n)
    e0 = np.where(abseta < _PRESAMPLER_ETA, np.maximum(e0, 0.0), 0.0)
    return {
        "e_raw": e_raw,
        **shapes,
        "E0": e0,
        "E1": e1,
        "E2": e2,
        "E3": e3,
        "cellEtaOffset": off_eta,
        "cellPhiOffset": off_phi,
        "upstream_loss": f_u,
        "ell": ell,
        "ell_mean": ell_mean,
        # latent shower description for the cell simulation (no random numbers drawn)
        "latent": {
            "e": e,
            "eta": eta,
            "mu": mu,
            "f_u": f_u,
            "f_strip": f_strip,
            "f_middle": f_middle,
            "f_back": f_back,
            "up": up,
            "charged": np.asarray(charged, dtype=bool),
            "phi_open": np.asarray(phi_open, dtype=float),
            "core": core,
            "two_max": two_max,
            "had_frac": had_frac,
            "e0_true": e0_true,
            "ell": ell,
            "off_eta": off_eta,
            "off_phi": off_phi,
        },
    }


def _shapes(
    e_raw, abseta, cosh, et, mu, ell, up, f1_true, l_rear, core, two_max, vis, had_frac,
    phi_open, rel, rng, cond,
) -> dict[str, np.ndarray]:  # fmt: skip
    n = len(e_raw)
    core_w = core / (1 + core)
    pu_ring = cosh * 0.006 * mu / e_raw
    e77 = 1.0 - 0.008 * cond.lateral + pu_ring + 0.5 * core
    e37 = 1.0 - ell + 0.35 * pu_ring + 0.1 * core
    reta = e37 / e77 + 0.002 * rel * rng.standard_normal(n)
    phi_leak = 0.025 + 0.5 * (ell - 0.035) + 0.06 * phi_open * rng.exponential(1.0, n)
    rphi = (1.0 - phi_leak - 0.4 * core_w) / (1.0 - 0.1 * core_w)
    rphi = rphi + 0.004 * rel * rng.standard_normal(n)
    weta2 = (
        0.0088 * cond.width
        + 0.0004 * abseta
        + 0.05 * (ell - 0.035)
        + 0.004 * core_w
        + 0.0008 * two_max
        + 2e-6 * mu
        + 0.0002 * rel * rng.standard_normal(n)
    )
    f1 = f1_true * (1.0 + 0.015 * rel * rng.standard_normal(n))
    f1 = f1 + 0.005 * rel * rng.standard_normal(n)
    weta1 = (
        0.58 * cond.width
        + 0.025 * up
        + 0.25 * two_max
        + 0.15 * core_w
        + 0.02 * rel * rng.standard_normal(n)
    )
    wtots1 = (
        1.4 * cond.width
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
        + 0.15 * core_w
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
    return shapes


# -- MC-based calibration -------------------------------------------------------------

_PARTICLES = ("unconverted", "converted", "electron")


def _mean_response_exact(
    e_gev: np.ndarray, abseta: np.ndarray, particle: str, nodes: int
) -> np.ndarray:
    e = np.asarray(e_gev, dtype=float)[:, None]
    abseta = np.asarray(abseta, dtype=float)[:, None]
    q = (np.arange(nodes) + 0.5) / nodes
    t = tracker_material(abseta)
    if particle == "electron":
        s = np.zeros_like(q)[None, :] + 0.0 * t
    elif particle == "converted":
        p_conv = 1.0 - np.exp(-t / _CONV_MEAN_DEPTH)
        s = -_CONV_MEAN_DEPTH * np.log1p(-q * p_conv)  # truncated Exp on [0, t)
    else:
        s = t - _CONV_MEAN_DEPTH * np.log1p(-q)
    charged = particle != "unconverted"
    u = t + dead_material(abseta) - s
    a = _profile_a(e)
    contained = _cdf(u + _calo_depth(abseta), a) - _cdf(u, a)
    ell = _ell_mean(abseta, np.clip(u, 0, None), charged, 1.0)
    return np.mean(contained * (1.0 - ell), axis=1)


@functools.lru_cache(maxsize=1)
def _response_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    abseta = np.linspace(0.0, 2.5, 51)
    loge = np.linspace(np.log(5.0), np.log(5000.0), 61)
    ee, aa = np.meshgrid(np.exp(loge), abseta, indexing="ij")
    table = np.stack(
        [_mean_response_exact(ee.ravel(), aa.ravel(), p, 64).reshape(ee.shape) for p in _PARTICLES]
    )
    return abseta, loge, table


def mean_response(
    e_gev: np.ndarray,
    eta: np.ndarray,
    converted: np.ndarray,
    mu: np.ndarray,
    *,
    electron: bool = False,
) -> np.ndarray:
    r"""Expected :math:`E_{raw}/E^{true}` in the *simulation* given η, conversion, E and μ.

    Averages :math:`(1-L_{up}-L_{rear})(1-\bar\ell)` over the shower-start
    depth (truncated exponential inside the tracker for converted photons,
    exponential beyond it otherwise, 0 for electrons with ``electron=True``;
    64 quantile nodes, tabulated once on a (log E, |η|) grid and interpolated
    bilinearly) and adds the mean pile-up offset. This is the toy's analogue
    of the η/E/conversion MC-based calibration: it knows the nominal detector
    only, so in data it leaves the genuine data/MC scale difference.

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
    which = np.asarray(converted, dtype=bool).astype(int)
    if electron:
        which = np.full(which.shape, 2)
    x = np.clip(np.log(np.maximum(e, 1e-3)), grid_loge[0], grid_loge[-1])
    y = np.clip(abseta, grid_eta[0], grid_eta[-1])
    ix = np.clip(np.searchsorted(grid_loge, x) - 1, 0, len(grid_loge) - 2)
    iy = np.clip(np.searchsorted(grid_eta, y) - 1, 0, len(grid_eta) - 2)
    fx = (x - grid_loge[ix]) / (grid_loge[ix + 1] - grid_loge[ix])
    fy = (y - grid_eta[iy]) / (grid_eta[iy + 1] - grid_eta[iy])
    resp = (
        table[which, ix, iy] * (1 - fx) * (1 - fy)
        + table[which, ix + 1, iy] * fx * (1 - fy)
        + table[which, ix, iy + 1] * (1 - fx) * fy
        + table[which, ix + 1, iy + 1] * fx * fy
    )
    return resp + np.cosh(abseta) * 0.003 * np.asarray(mu, dtype=float) / np.maximum(e, 1e-3)


def standard_calibration(
    e_raw: np.ndarray,
    eta: np.ndarray,
    converted: np.ndarray,
    mu: np.ndarray,
    *,
    electron: bool = False,
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
    e = e_raw / mean_response(e_raw, eta, converted, mu, electron=electron)
    return e_raw / mean_response(e, eta, converted, mu, electron=electron)

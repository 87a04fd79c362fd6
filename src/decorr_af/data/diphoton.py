r"""Diphoton physics of the toy: ttH(γγ) signal and its backgrounds in a ttH category.

Each event holds exactly two reconstructed photon candidates (simulated with
:func:`decorr_af.data.photons.reconstruct_photons`, so they carry shower shapes,
isolation and the same energy response as the single-photon sample), jets,
electrons and muons. Energies are GeV here and MeV in the returned arrays.

Processes (:data:`PROCESSES`, ``mcChannelNumber`` from
:data:`~decorr_af.data.samples.DIPHOTON_CHANNELS`)
-----------------------------------------------------------------------------------
* ``ttH_yy``: ttH, H→γγ, σ×BR = 507 fb × 2.27·10⁻³ = 1.15 fb (13.6 TeV-like).
  :math:`m_{\gamma\gamma}^{true} = 125` GeV,
  :math:`p_T^{\gamma\gamma}\sim\Gamma(2.2, 55\,\mathrm{GeV})`,
  :math:`y\sim N(0, 0.9)`, isotropic decay (:math:`\cos\theta^*` uniform).
  The tt̄ system decays all-hadronically (45.7 %: 2 b + 4 light partons),
  semi-leptonically (43.8 %: 2 b + 2 light + 1 lepton) or di-leptonically
  (10.5 %: 2 b + 2 leptons); b partons :math:`p_T\sim\Gamma(2.5, 28)`, light
  :math:`\Gamma(2.2, 25)`, leptons :math:`\Gamma(2, 22)`, all
  :math:`\eta\sim N(0, 1.5)`, plus Poisson(0.7) ISR jets
  :math:`p_T = 20 + \mathrm{Exp}(30)`, :math:`\eta\sim N(0,2.2)`.
* ``ttyy``: tt̄ + γγ (irreducible, the photons radiated from the tt̄
  system), toy σ = 4 fb for the generated phase space (the order of LO
  tt̄γγ predictions with 95 < m_γγ < 180 GeV). Same tt̄ decays and jets as the
  signal; the photon pair is a continuum: :math:`m^{true}\propto e^{-m/35}`
  on [95, 180] GeV, :math:`p_T^{\gamma\gamma}\sim\Gamma(2, 0.45\,m)`,
  :math:`|\cos\theta^*|\sim\mathrm{Beta}(1.6, 1)`, :math:`y\sim N(0,1.1)`. Its
  jets do not depend on m_γγ.
* ``yy_continuum``: γγ + jets, σ = 51.8 pb: :math:`m^{true}\propto
  e^{-m/28}` on [95, 180] GeV, :math:`p_T^{\gamma\gamma}\sim\Gamma(1.4,
  0.22\,m)`, :math:`|\cos\theta^*|\sim\mathrm{Beta}(1.6, 1)`,
  :math:`y\sim N(0,1.2)`; Poisson(0.4 + p_T^{γγ}/50 GeV) jets with
  :math:`p_T = 20 + \mathrm{Exp}(0.15\,m)`, 3 % of them b, and Poisson(0.01)
  fake leptons. The jet activity scales with the hard scale m_γγ, so a
  classifier using jet momenta sculpts the background spectrum.
* ``gamma_jet``: γ + jet where a jet fakes the second photon, toy σ = 11 pb
  (about a fifth of the γγ cross-section, the order of the reducible fraction
  ATLAS measures for tight, isolated diphotons; with its higher jet activity it
  passes the ttH preselection twice as often, so after it γ+jet is ~43 % of γγ). The γ + meson system is generated like the
  continuum (:math:`e^{-m/24}`, :math:`\Gamma(1.4, 0.25\,m)`), and one of the two
  candidates (at random) is a π⁰ (70 %), η (20 %) or hadron (10 %) fake
  reconstructed with the fake physics of
  :func:`~decorr_af.data.photons.reconstruct_photons` (its jet's core energy
  widens the shower, its rings feed the isolation). Jets as the continuum with
  0.6 + p_T^{γγ}/40 GeV.

The two candidates are built in the pair rest frame (back to back, energy
m/2) and boosted to the lab with the pair four-momentum
:math:`(m_T\cosh y, p_T\cos\phi, p_T\sin\phi, m_T\sinh y)`. Nothing in the
toy sets an absolute momentum scale for the photons other than m, so the
dimensionless diphoton variables (p_T/m_γγ, angles) carry no m_γγ
information; the jet momenta of the continua do.

Reconstruction, ttH preselection and filter efficiency
------------------------------------------------------
Photon energies go through the full response of
:mod:`~decorr_af.data.photons` and are then calibrated with
:func:`~decorr_af.data.photons.standard_calibration` (as in PHYSLITE the
diphoton sample stores *calibrated* photons, so :math:`m_{\gamma\gamma}` peaks
at 125 GeV with a width set by the photon resolution). Jets: :math:`p_T`
smeared by 12 %, kept for :math:`p_T > 25` GeV and :math:`|\eta| < 4.5`;
``isBTagged`` with 77 % efficiency for b jets and 1 % for light jets
(|η| < 2.5). Leptons are reconstructed with 90 % efficiency for
:math:`p_T > 10` GeV, |η| < 2.47 (electrons, 50 %) or 2.7 (muons).

Events are kept when they pass

* the diphoton selection: both candidates in the acceptance (|η| < 2.37
  outside the crack), :math:`105 < m_{\gamma\gamma} < 160` GeV and
  :math:`p_T^{1(2)}/m_{\gamma\gamma} > 0.35\,(0.25)`;
* the ATLAS-like ttH preselection (:func:`tth_preselection`): at least one
  b-tagged jet (p_T > 25 GeV, |η| < 2.5) and either a lepton (leptonic
  category) or at least three such jets (hadronic category).

Rejected events are regenerated (a generator *filter*); the fraction of
generated events that pass is the filter efficiency ε of the process
(:data:`FILTER_EFFICIENCY`, measured by :func:`filter_efficiency`), so the
expected yield of a generated sample at luminosity L is σ·ε·L
(:func:`expected_yield`), whatever the number of generated events. No
jet–photon overlap removal is modelled.

Weights: ``mcEventWeights`` holds a positive generator weight,
lognormal(0, 0.05) for ttH and lognormal(0, 0.3) for the backgrounds. MC is
generated with the process fractions :data:`MC_FRACTIONS` (signal-enriched:
weight each process to σ·ε·L, e.g. with :func:`expected_yield`); toy data
(``kind="data"``) mixes the processes in proportion to σ·ε, carries no truth
branches and ``mcChannelNumber`` 0.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import awkward as ak
import numpy as np

from decorr_af.data.photons import (
    DATA_RUNS,
    MC_RUN_NUMBER,
    _truth_codes,
    draw_mu,
    reconstruct_photons,
    standard_calibration,
    to_collection,
)
from decorr_af.data.samples import DIPHOTON_CHANNELS
from decorr_af.data.schema import MEV_COLUMNS, TRUTH_ORIGIN
from decorr_af.errors import ConfigError

__all__ = [
    "CROSS_SECTIONS_FB",
    "FILTER_EFFICIENCY",
    "MC_FRACTIONS",
    "PROCESSES",
    "SIGNAL_FRACTION",
    "Process",
    "expected_yield",
    "filter_efficiency",
    "simulate_diphoton",
    "tth_preselection",
]


@dataclasses.dataclass(frozen=True)
class Process:
    """Generator-level description of one diphoton process (GeV).

    ``m_tau`` is the slope of the falling m_γγ spectrum (None: a 125 GeV Higgs),
    ``pt_shape``/``pt_scale`` the Γ of p_T^γγ (``pt_scale`` multiplies m for the
    continua), ``tt`` whether a tt̄ system comes with it, ``fakes`` whether one
    candidate is a jet faking a photon.
    """

    name: str
    xsec_fb: float
    m_tau: float | None
    pt_shape: float
    pt_scale: float
    y_sigma: float
    tt: bool
    fakes: bool = False
    jet_rate: tuple[float, float] = (0.4, 50.0)
    weight_sigma: float = 0.3


#: the processes of the toy ttH(γγ) sample
PROCESSES: dict[str, Process] = {
    p.name: p
    for p in (
        Process("ttH_yy", 1.15, None, 2.2, 55.0, 0.9, tt=True, weight_sigma=0.05),
        Process("ttyy", 4.0, 35.0, 2.0, 0.45, 1.1, tt=True),
        Process("yy_continuum", 51_800.0, 28.0, 1.4, 0.22, 1.2, tt=False),
        Process(
            "gamma_jet", 11_000.0, 24.0, 1.4, 0.25, 1.2, tt=False, fakes=True, jet_rate=(0.6, 40.0)
        ),
    )
}
#: generated-phase-space cross-sections (× BR) in fb
CROSS_SECTIONS_FB = {name: p.xsec_fb for name, p in PROCESSES.items()}
#: fraction of generated events passing the diphoton selection and the ttH
#: preselection, measured with ``filter_efficiency(name, events=N, seed=20261130)``
#: (N = 400k, 4M for the continua; binomial uncertainty ~1 %);
#: ``tests/test_diphoton.py`` re-measures them on another seed
FILTER_EFFICIENCY = {
    "ttH_yy": 0.5205,  # ± 0.0008
    "ttyy": 0.2923,  # ± 0.0007
    "yy_continuum": 0.001689,  # ± 0.000021 (4M events)
    "gamma_jet": 0.003431,  # ± 0.000029 (4M events)
}
#: fractions of the processes in generated MC (signal-enriched)
MC_FRACTIONS = {"ttH_yy": 0.3, "ttyy": 0.2, "yy_continuum": 0.35, "gamma_jet": 0.15}
#: fraction of signal (ttH) events in a generated MC sample
SIGNAL_FRACTION = MC_FRACTIONS["ttH_yy"]

_M_RANGE = (95.0, 180.0)
_MYY_WINDOW = (105.0, 160.0)
_PT_OVER_M = (0.35, 0.25)
_JET_PT, _BJET_ETA = 25.0, 2.5
_FAKE_CATEGORY_P = (0.7, 0.2, 0.1)  # pi0, eta, hadron (categories 1, 2, 3)


def expected_yield(process: str, luminosity_fb: float) -> float:
    """Expected number of selected events of ``process``: σ·ε·L.

    Examples
    --------
    >>> y = expected_yield("ttH_yy", 140.0)
    >>> 20 < y < 161
    True
    """
    if process not in PROCESSES:
        raise ConfigError(f"unknown diphoton process {process!r} (choose from {list(PROCESSES)})")
    if not luminosity_fb > 0:
        raise ConfigError(f"parameter 'luminosity_fb' must be > 0, got {luminosity_fb!r}")
    return CROSS_SECTIONS_FB[process] * FILTER_EFFICIENCY[process] * luminosity_fb


def tth_preselection(n_jets: Any, n_bjets: Any, n_leptons: Any) -> Any:
    """ATLAS-like ttH(γγ) preselection: ≥ 1 b-jet and (≥ 1 lepton or ≥ 3 jets).

    Examples
    --------
    >>> import numpy as np
    >>> tth_preselection(np.array([3, 2, 1]), np.array([1, 1, 0]), np.array([0, 0, 1])).tolist()
    [True, False, False]
    """
    return (n_bjets >= 1) & ((n_leptons >= 1) | (n_jets >= 3))


def _boost(p_star: np.ndarray, e_star: np.ndarray, beta: np.ndarray, gamma: np.ndarray):
    bp = np.sum(beta * p_star, axis=1)
    coef = gamma**2 / (gamma + 1.0) * bp + gamma * e_star
    return p_star + coef[:, None] * beta, gamma * (e_star + bp)


def _in_acceptance(eta: np.ndarray) -> np.ndarray:
    a = np.abs(eta)
    return (a < 2.37) & ((a < 1.37) | (a >= 1.52))


def _pair_truth(n: int, proc: Process, rng: np.random.Generator) -> dict[str, np.ndarray]:
    if proc.m_tau is None:
        m = np.full(n, 125.0)
        pt = rng.gamma(proc.pt_shape, proc.pt_scale, n)
        cos = rng.uniform(-1.0, 1.0, n)
    else:
        lo, hi = _M_RANGE
        tau = proc.m_tau
        m = lo - tau * np.log1p(-rng.random(n) * (1.0 - np.exp(-(hi - lo) / tau)))
        pt = rng.gamma(proc.pt_shape, proc.pt_scale * m)
        cos = rng.beta(1.6, 1.0, n) * rng.choice(np.array([-1.0, 1.0]), n)
    y = rng.normal(0.0, proc.y_sigma, n)
    phi_h = rng.uniform(-np.pi, np.pi, n)
    mt = np.sqrt(m**2 + pt**2)
    p4 = np.column_stack([pt * np.cos(phi_h), pt * np.sin(phi_h), mt * np.sinh(y)])
    e_h = mt * np.cosh(y)
    beta = p4 / e_h[:, None]
    gamma = e_h / m
    sin = np.sqrt(1.0 - cos**2)
    phs = rng.uniform(-np.pi, np.pi, n)
    p_star = 0.5 * m[:, None] * np.column_stack([sin * np.cos(phs), sin * np.sin(phs), cos])
    out = {}
    for i, sign in enumerate((1.0, -1.0)):
        p, e = _boost(sign * p_star, 0.5 * m, beta, gamma)
        ptg = np.hypot(p[:, 0], p[:, 1])
        out[f"eta{i}"] = np.arcsinh(p[:, 2] / ptg)
        out[f"phi{i}"] = np.arctan2(p[:, 1], p[:, 0])
        out[f"e{i}"] = e
    out["m_true"] = m
    out["pt_yy_true"] = pt
    return out


def _tt_objects(n: int, rng: np.random.Generator):
    mode = rng.choice(3, n, p=[0.457, 0.438, 0.105])
    n_light = np.array([4, 2, 0])[mode]
    n_lep = np.array([0, 1, 2])[mode]
    n_isr = rng.poisson(0.7, n)
    b_pt = rng.gamma(2.5, 28.0, 2 * n)
    l_pt = rng.gamma(2.2, 25.0, int(n_light.sum()))
    i_pt = 20.0 + rng.exponential(30.0, int(n_isr.sum()))
    jets = (
        [b_pt, l_pt, i_pt],
        [rng.normal(0, 1.5, 2 * n), rng.normal(0, 1.5, len(l_pt)), rng.normal(0, 2.2, len(i_pt))],
        [np.ones(2 * n, bool), np.zeros(len(l_pt), bool), np.zeros(len(i_pt), bool)],
        [
            np.repeat(np.arange(n), 2),
            np.repeat(np.arange(n), n_light),
            np.repeat(np.arange(n), n_isr),
        ],
    )
    lep_pt = rng.gamma(2.0, 22.0, int(n_lep.sum()))
    return jets, n_lep, lep_pt


def _continuum_objects(n: int, proc: Process, m: np.ndarray, pt_yy: np.ndarray, rng):
    a, b = proc.jet_rate
    n_j = rng.poisson(a + pt_yy / b)
    evt = np.repeat(np.arange(n), n_j)
    jets = (
        [20.0 + rng.exponential(0.15 * m[evt])],
        [rng.normal(0.0, 2.0, len(evt))],
        [rng.random(len(evt)) < 0.03],
        [evt],
    )
    n_lep = rng.poisson(0.01, n)
    lep_pt = 10.0 + rng.exponential(15.0, int(n_lep.sum()))
    return jets, n_lep, lep_pt


def _objects(n: int, proc: Process, m: np.ndarray, pt_yy: np.ndarray, rng):
    """Reconstructed jets (with b flag) and leptons as flat arrays with event index."""
    if proc.tt:
        (jet_pt, jet_eta, jet_b, jet_evt), n_lep, lep_pt = _tt_objects(n, rng)
    else:
        (jet_pt, jet_eta, jet_b, jet_evt), n_lep, lep_pt = _continuum_objects(
            n, proc, m, pt_yy, rng
        )
    pt = np.concatenate(jet_pt) * rng.normal(1.0, 0.12, sum(len(x) for x in jet_pt))
    eta = np.concatenate(jet_eta)
    is_b = np.concatenate(jet_b)
    evt = np.concatenate(jet_evt)
    keep = (pt > _JET_PT) & (np.abs(eta) < 4.5)
    eff = np.where(is_b, 0.77, 0.01) * (np.abs(eta) < _BJET_ETA)
    tagged = rng.random(len(pt)) < eff
    phi = rng.uniform(-np.pi, np.pi, len(pt))
    mass = pt * rng.uniform(0.05, 0.2, len(pt))
    jets = {
        "evt": evt[keep],
        "pt": pt[keep],
        "eta": eta[keep],
        "phi": phi[keep],
        "m": mass[keep],
        "isBTagged": tagged[keep].astype(np.int8),
    }
    lep_evt = np.repeat(np.arange(n), n_lep)
    lep_eta = rng.normal(0.0, 1.5, len(lep_pt))
    is_e = rng.random(len(lep_pt)) < 0.5
    reco = (lep_pt > 10.0) & (np.abs(lep_eta) < np.where(is_e, 2.47, 2.7))
    reco &= rng.random(len(lep_pt)) < 0.9
    leptons = {
        "evt": lep_evt[reco],
        "pt": lep_pt[reco],
        "eta": lep_eta[reco],
        "phi": rng.uniform(-np.pi, np.pi, len(lep_pt))[reco],
        "is_e": is_e[reco],
    }
    return jets, leptons


def _presel_mask(n: int, jets: dict[str, np.ndarray], leptons: dict[str, np.ndarray]):
    central = np.abs(jets["eta"]) < _BJET_ETA
    n_jets = np.bincount(jets["evt"][central], minlength=n)
    n_b = np.bincount(jets["evt"][central & (jets["isBTagged"] > 0)], minlength=n)
    n_lep = np.bincount(leptons["evt"], minlength=n)
    return tth_preselection(n_jets, n_b, n_lep)


def _subset(obj: dict[str, np.ndarray], events: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Objects of the events ``events`` (sorted indices), renumbered 0..len-1."""
    new = np.full(n, -1)
    new[events] = np.arange(len(events))
    keep = new[obj["evt"]] >= 0
    out = {k: v[keep] for k, v in obj.items()}
    out["evt"] = new[obj["evt"][keep]]
    return out


def _jagged(obj: dict[str, np.ndarray], n: int, fields: dict[str, np.ndarray]) -> ak.Array:
    order = np.lexsort((-obj["pt"], obj["evt"]))
    counts = np.bincount(obj["evt"], minlength=n)
    return to_collection(fields, counts, order)


def _process(n: int, proc: Process, *, kind: str, mismodelling: float, rng) -> dict[str, Any]:
    """Generate ``n`` events of ``proc``; return the selected ones (``"tried"``: n)."""
    tr = _pair_truth(n, proc, rng)
    jets, leptons = _objects(n, proc, tr["m_true"], tr["pt_yy_true"], rng)
    # the truth-level-independent ttH preselection first: only its events are reconstructed
    pre = np.flatnonzero(_presel_mask(n, jets, leptons))
    k0 = len(pre)
    if k0 == 0:
        return {"tried": n}
    tr = {key: v[pre] for key, v in tr.items()}
    jets, leptons = _subset(jets, pre, n), _subset(leptons, pre, n)
    mu = draw_mu(k0, rng)
    eta = np.concatenate([tr["eta0"], tr["eta1"]])
    e_true = np.concatenate([tr["e0"], tr["e1"]])
    category = np.zeros(2 * k0, dtype=int)
    if proc.fakes:
        which = rng.integers(0, 2, k0)  # which candidate is the jet
        category[which * k0 + np.arange(k0)] = rng.choice(
            np.array([1, 2, 3]), k0, p=list(_FAKE_CATEGORY_P)
        )
    reco = reconstruct_photons(
        e_true,
        eta,
        np.tile(mu, 2),
        category=category,
        rng=rng,
        kind=kind,
        mismodelling=mismodelling,
    )
    e_cal = standard_calibration(reco["e_raw"], eta, reco["conversionType"] > 0, np.tile(mu, 2))
    pt = (e_cal / np.cosh(eta)).reshape(2, k0)
    phi = np.concatenate([tr["phi0"], tr["phi1"]]).reshape(2, k0)
    eta2 = eta.reshape(2, k0)
    myy = np.sqrt(2 * pt[0] * pt[1] * (np.cosh(eta2[0] - eta2[1]) - np.cos(phi[0] - phi[1])))
    lead = np.maximum(pt[0], pt[1])
    sub = np.minimum(pt[0], pt[1])
    ok = _in_acceptance(eta2[0]) & _in_acceptance(eta2[1])
    ok &= (myy > _MYY_WINDOW[0]) & (myy < _MYY_WINDOW[1])
    ok &= (lead / myy > _PT_OVER_M[0]) & (sub / myy > _PT_OVER_M[1])
    idx = np.flatnonzero(ok)
    k = len(idx)
    swap = pt[1, idx] > pt[0, idx]
    first = np.where(swap, 1, 0)
    rows = np.column_stack([first, 1 - first]).ravel()  # which of the two candidates
    flat = rows * k0 + np.repeat(idx, 2)
    photons = {
        "pt": (e_cal / np.cosh(eta))[flat] * 1e3,
        "eta": eta[flat],
        "phi": phi.ravel()[flat],
        "m": np.zeros(2 * k),
        **{key: v[flat] for key, v in reco.items() if key not in ("e_raw", "pt")},
    }
    for key in photons:
        if key in MEV_COLUMNS and key not in ("pt", "m", "truth_e"):
            photons[key] = photons[key] * 1e3
    if kind == "mc":
        signal = proc.m_tau is None
        prompt_origin = TRUTH_ORIGIN["Higgs"] if signal else TRUTH_ORIGIN["PromptPhot"]
        ttype, origin = _truth_codes(category[flat], prompt_origin)
        photons.update(truthType=ttype, truthOrigin=origin, truth_e=e_true[flat] * 1e3)
    weights = np.ones(k0) if kind == "data" else rng.lognormal(0.0, proc.weight_sigma, k0)
    jet_fields = {
        f: jets[f] * (1e3 if f in ("pt", "m") else 1)
        for f in ("pt", "eta", "phi", "m", "isBTagged")
    }
    out = {
        "tried": n,
        "mu": mu[idx],
        "weight": weights[idx],
        "photons": to_collection(photons, np.full(k, 2)),
        "jets": _jagged(jets, k0, jet_fields)[idx],
    }
    for flavour, is_e, mass in (("electrons", True, 0.511), ("muons", False, 105.658)):
        sel = leptons["is_e"] == is_e
        obj = {key: v[sel] for key, v in leptons.items()}
        fields = {
            "pt": obj["pt"] * 1e3,
            "eta": obj["eta"],
            "phi": obj["phi"],
            "m": np.full(int(sel.sum()), mass),
        }
        out[flavour] = _jagged(obj, k0, fields)[idx]
    return out


_ARRAY_KEYS = ("mu", "weight")


def _fill(n: int, proc: Process, *, kind, mismodelling, rng) -> dict[str, Any]:
    parts, have, tried = [], 0, 0
    while have < n:
        if tried > 200 * n + 10_000_000:  # pragma: no cover - efficiencies are >~ 0.1 %
            raise RuntimeError(f"diphoton filter efficiency of {proc.name} too low")
        guess = FILTER_EFFICIENCY.get(proc.name, float("nan"))
        eff = guess if guess > 0 else (have / tried if have else 0.05)
        batch = int(min(max(1.3 * (n - have) / max(eff, 1e-3), 4096), 2_000_000))
        part = _process(batch, proc, kind=kind, mismodelling=mismodelling, rng=rng)
        tried += part.pop("tried")
        if part and len(part["mu"]):
            parts.append(part)
            have += len(part["mu"])
    return {
        key: (np.concatenate if key in _ARRAY_KEYS else ak.concatenate)([p[key] for p in parts])[:n]
        for key in parts[0]
    }


def filter_efficiency(process: str, *, events: int = 100_000, seed: int = 0) -> tuple[float, float]:
    """Measure the fraction of generated ``process`` events passing the selection.

    Returns ``(efficiency, binomial uncertainty)``: the generator filter
    efficiency ε of :data:`FILTER_EFFICIENCY` (diphoton selection and ttH
    preselection) from ``events`` generated MC events.

    Examples
    --------
    >>> eff, err = filter_efficiency("ttH_yy", events=2000, seed=3)
    >>> 0.2 < eff < 0.9 and err < 0.02
    True
    """
    if process not in PROCESSES:
        raise ConfigError(f"unknown diphoton process {process!r} (choose from {list(PROCESSES)})")
    if events <= 0:
        raise ConfigError(f"parameter 'events' must be > 0, got {events!r}")
    rng = np.random.default_rng(seed)
    passed = 0
    for start in range(0, events, 200_000):
        size = min(200_000, events - start)
        part = _process(size, PROCESSES[process], kind="mc", mismodelling=0.0, rng=rng)
        passed += len(part.get("mu", ()))
    eff = passed / events
    return eff, math.sqrt(max(eff * (1 - eff), 1.0 / events) / events)


def _fractions(kind: str, fractions: Mapping[str, float] | None) -> dict[str, float]:
    if fractions is None:
        if kind == "mc":
            fractions = MC_FRACTIONS
        else:  # data: the physical mixture
            fractions = {p: CROSS_SECTIONS_FB[p] * FILTER_EFFICIENCY[p] for p in PROCESSES}
    bad = [p for p in fractions if p not in PROCESSES]
    if bad:
        raise ConfigError(
            f"parameter 'fractions': unknown process(es) {bad} (choose from {list(PROCESSES)})"
        )
    vals = np.array([float(v) for v in fractions.values()])
    if not np.all(np.isfinite(vals)) or np.any(vals < 0) or vals.sum() <= 0:
        raise ConfigError(
            f"parameter 'fractions' must be >= 0 with a positive sum, got {fractions}"
        )
    return {p: float(v) / vals.sum() for p, v in zip(fractions, vals)}


def simulate_diphoton(
    n_events: int,
    *,
    kind: str = "mc",
    mismodelling: float = 0.0,
    rng: np.random.Generator,
    first_event: int = 0,
    fractions: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Simulate ``n_events`` selected diphoton events (the processes mixed).

    Parameters
    ----------
    n_events
        Number of selected events.
    kind, mismodelling
        ``"mc"`` or ``"data"`` (no truth branches, ``mcChannelNumber`` 0, the
        shower-shape mismodelling of :mod:`~decorr_af.data.photons`).
    rng
        Random generator.
    first_event
        ``eventNumber`` of the first event minus one.
    fractions
        Process → fraction of the generated events (normalised); default
        :data:`MC_FRACTIONS` for MC (signal-enriched: weight each process to
        :func:`expected_yield`) and the physical σ·ε mixture for data.

    Returns
    -------
    dict
        ``"EventInfo"`` (dict of per-event arrays as in
        :func:`~decorr_af.data.photons.simulate_photons`) and awkward arrays
        ``"AnalysisPhotons"`` (2 per event, pt-ordered), ``"AnalysisJets"``,
        ``"AnalysisElectrons"``, ``"AnalysisMuons"`` (energies in MeV).

    Examples
    --------
    >>> import numpy as np
    >>> ev = simulate_diphoton(50, rng=np.random.default_rng(0))
    >>> sorted(ev)
    ['AnalysisElectrons', 'AnalysisJets', 'AnalysisMuons', 'AnalysisPhotons', 'EventInfo']
    """
    if n_events <= 0:
        raise ConfigError(f"n_events must be > 0, got {n_events!r}")
    if kind not in ("mc", "data"):
        raise ConfigError(f"kind must be 'mc' or 'data', got {kind!r}")
    frac = _fractions(kind, fractions)
    names = list(frac)
    which = rng.choice(len(names), n_events, p=[frac[p] for p in names])
    opts = {"kind": kind, "mismodelling": mismodelling, "rng": rng}
    parts, pos = [], np.empty(n_events, dtype=np.int64)
    offset = 0
    for i, name in enumerate(names):
        sel = which == i
        k = int(sel.sum())
        if k:
            parts.append(_fill(k, PROCESSES[name], **opts))
            pos[sel] = offset + np.arange(k)
            offset += k

    def cat(key):
        joined = (np.concatenate if key in _ARRAY_KEYS else ak.concatenate)([p[key] for p in parts])
        return joined[pos]

    channels = np.array([DIPHOTON_CHANNELS[p] for p in names])[which]
    if kind == "data":
        channels = np.zeros(n_events, dtype=np.int64)
    runs = rng.choice(DATA_RUNS, n_events) if kind == "data" else np.full(n_events, MC_RUN_NUMBER)
    event_info = {
        "averageInteractionsPerCrossing": cat("mu").astype(np.float32),
        "eventNumber": np.arange(first_event + 1, first_event + n_events + 1, dtype=np.uint64),
        "runNumber": runs.astype(np.uint32),
        "mcChannelNumber": channels.astype(np.uint32),
        "mcEventWeights": ak.unflatten(
            cat("weight").astype(np.float32), np.ones(n_events, np.int64)
        ),
    }
    return {
        "EventInfo": event_info,
        "AnalysisPhotons": cat("photons"),
        "AnalysisJets": cat("jets"),
        "AnalysisElectrons": cat("electrons"),
        "AnalysisMuons": cat("muons"),
    }

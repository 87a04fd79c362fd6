r"""Radiative Z→μμγ toy: a clean source of prompt photons in data.

Events (``mcChannelNumber``, :data:`~decorr_af.data.samples.ZMUMUG_CHANNELS`)
---------------------------------------------------------------------------
* **Z→μμγ** (:data:`FSR_FRACTION` = 50 % generated, ~40 % after the filter
  below): final-state radiation, the
  three-body decay of :func:`~decorr_af.data.zboson.decay_fsr`; the photon is
  prompt (``truthType`` 14, ``truthOrigin`` 40), with
  :math:`m_{\mu\mu\gamma} \approx m_Z` and :math:`m_{\mu\mu} < m_Z`.
* **Z(→μμ)+jets** with one fake photon candidate: a two-body Z decay plus a
  π⁰ / η / hadron from a jet (the fake model of
  :mod:`~decorr_af.data.photons`, fractions from
  :class:`~decorr_af.data.calo.Conditions`), :math:`p_T^{true} = 10\,
  \mathrm{GeV}(1-u)^{-1/4}`, η uniform in the photon acceptance, φ uniform,
  so :math:`m_{\mu\mu} \approx m_Z` and :math:`m_{\mu\mu\gamma} > m_Z`.

Generator filter (regenerated until passed): both muons with
:math:`p_T^{true} > 10` GeV and :math:`|\eta| < 2.5`, the photon candidate with
:math:`p_T^{true} > 7` GeV and :math:`|\eta| < 2.37` outside the crack. The
candidate (one per event) is reconstructed with
:func:`~decorr_af.data.photons.reconstruct_photons` (same calorimeter,
isolation and data/MC differences as the photon sample). A muon inside the photon's isolation cone
adds its track to ``ptcone20`` (ΔR < 0.2) and a minimum-ionising deposit
(0.4 GeV + Exp(0.3 GeV)) to ``topoetcone20`` (ΔR < 0.2) and ``topoetcone40``
(ΔR < 0.4), as for real FSR photons close to their muon.

Muons: :math:`p_T` smeared by 2 %, η and φ exact, 97 % efficiency; kept with
reconstructed :math:`p_T > 10` GeV, so a few events have fewer than two muons.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from decorr_af.data.calo import Conditions, draw_mu
from decorr_af.data.electrons import in_acceptance
from decorr_af.data.photons import (
    _draw_abseta,
    _event_info,
    _photon_fields,
    draw_fake_categories,
    reconstruct_photons,
    to_collection,
)
from decorr_af.data.samples import ZMUMUG_CHANNELS
from decorr_af.data.schema import TRUTH_ORIGIN
from decorr_af.data.zboson import decay_fsr, decay_two_body, draw_masses, eta_phi_e, z_momenta
from decorr_af.errors import ConfigError

__all__ = ["FSR_FRACTION", "delta_r", "simulate_zmumug"]

#: fraction of Z→μμγ (FSR) events; the rest is Z(→μμ)+jets with a fake candidate
FSR_FRACTION = 0.5
_MUON_MASS = 0.1056584  # GeV
_MUON_PT_MIN = 10.0
_MUON_ETA_MAX = 2.5
_PHOTON_PT_MIN = 7.0


def delta_r(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """ΔR = √(Δη² + Δφ²) with Δφ wrapped to [-π, π).

    Examples
    --------
    >>> import numpy as np
    >>> float(delta_r(np.array([0.0]), np.array([3.1]), np.array([0.0]), np.array([-3.1]))[0])
    0.0831853071795...
    """
    dphi = (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi
    return np.hypot(eta1 - eta2, dphi)


def _filtered_truth(n: int, rng: np.random.Generator, cond: Conditions) -> dict:
    """Generator-filtered events: both muons and the photon candidate in acceptance."""
    parts, have = [], 0
    while have < n:
        batch = max(int(2.5 * (n - have)), 64)
        fsr = rng.random(batch) < FSR_FRACTION
        tr = _truth(batch, fsr, rng, cond)
        ok = in_acceptance(tr["eta"], eta_max=2.37) & (
            tr["e"] / np.cosh(tr["eta"]) > _PHOTON_PT_MIN
        )
        for key in ("mu_a", "mu_b"):
            pt, eta, _, _ = eta_phi_e(tr[key])
            ok &= (pt > _MUON_PT_MIN) & (np.abs(eta) < _MUON_ETA_MAX)
        parts.append({k: v[ok] for k, v in tr.items()})
        have += int(ok.sum())
    return {k: np.concatenate([p[k] for p in parts])[:n] for k in parts[0]}


def _truth(n: int, fsr: np.ndarray, rng: np.random.Generator, cond: Conditions) -> dict:
    z = z_momenta(draw_masses(n, rng, continuum=np.zeros(n, dtype=bool)), rng)
    rad, other, gam = decay_fsr(z, rng)
    m1, m2 = decay_two_body(z, rng)
    mu_a = np.where(fsr[:, None], rad, m1)
    mu_b = np.where(fsr[:, None], other, m2)
    _, g_eta, g_phi, g_e = eta_phi_e(gam)
    # fake candidate of Z+jets
    f_pt = np.minimum(10.0 * (1.0 - rng.random(n)) ** (-1.0 / 4.0), 500.0)
    f_eta = _draw_abseta(n, rng) * rng.choice(np.array([-1.0, 1.0]), n)
    f_phi = rng.uniform(-np.pi, np.pi, n)
    category = np.where(fsr, 0, draw_fake_categories(n, rng, cond))
    eta = np.where(fsr, g_eta, f_eta)
    return {
        "fsr": fsr,
        "mu_a": mu_a,
        "mu_b": mu_b,
        "category": category,
        "eta": eta,
        "phi": np.where(fsr, g_phi, f_phi),
        "e": np.where(fsr, g_e, f_pt * np.cosh(f_eta)),
    }


def _muons(p4: list[np.ndarray], charge_a: np.ndarray, rng: np.random.Generator) -> dict:
    n = len(charge_a)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("evt", "pt", "eta", "phi", "charge")}
    for p, q in zip(p4, (charge_a, -charge_a)):
        pt, eta, phi, _ = eta_phi_e(p)
        pt = pt * (1.0 + 0.02 * rng.standard_normal(n))
        ok = (pt > _MUON_PT_MIN) & (np.abs(eta) < _MUON_ETA_MAX) & (rng.random(n) < 0.97)
        for k, v in (("evt", np.arange(n)), ("pt", pt), ("eta", eta), ("phi", phi), ("charge", q)):
            cols[k].append(v[ok])
    return {k: np.concatenate(v) for k, v in cols.items()}


def _muon_in_cone(iso: dict, truth: dict, rng: np.random.Generator) -> np.ndarray:
    """Add the muons' track and MIP deposit to the photon cones; return ΔR_min (truth)."""
    n = len(truth["eta"])
    dr_min = np.full(n, np.inf)
    for key in ("mu_a", "mu_b"):
        pt, eta, phi, _ = eta_phi_e(truth[key])
        dr = delta_r(truth["eta"], truth["phi"], eta, phi)
        dr_min = np.minimum(dr_min, dr)
        mip = 0.4 + rng.exponential(0.3, n)
        iso["ptcone20"] = iso["ptcone20"] + np.where(dr < 0.2, pt, 0.0)
        iso["topoetcone20"] = iso["topoetcone20"] + np.where(dr < 0.2, mip, 0.0)
        iso["topoetcone40"] = iso["topoetcone40"] + np.where(dr < 0.4, mip, 0.0)
    return dr_min


def simulate_zmumug(
    n_events: int,
    *,
    kind: str = "mc",
    mismodelling: float = 0.0,
    rng: np.random.Generator,
    first_event: int = 0,
) -> dict[str, Any]:
    """Simulate ``n_events`` Z→μμγ and Z(→μμ)+jets events in memory.

    Returns
    -------
    dict
        ``"EventInfo"``, ``"AnalysisMuons"`` (``pt, eta, phi, m, charge``; MeV)
        and ``"AnalysisPhotons"`` (1 candidate per event, every field of
        the photon sample, truth included; the writer drops it for data).

    Examples
    --------
    >>> import numpy as np
    >>> ev = simulate_zmumug(50, rng=np.random.default_rng(0))
    >>> sorted(ev)
    ['AnalysisMuons', 'AnalysisPhotons', 'EventInfo']
    """
    if n_events <= 0:
        raise ConfigError(f"n_events must be > 0, got {n_events!r}")
    cond = Conditions.for_kind(kind, mismodelling)
    n = n_events
    truth = _filtered_truth(n, rng, cond)
    fsr = truth["fsr"]
    mu = draw_mu(n, rng, conditions=cond)
    reco = reconstruct_photons(
        truth["e"], truth["eta"], mu, category=truth["category"], rng=rng, conditions=cond,
        calo_variables=True,
    )  # fmt: skip
    iso = {k: reco[k] for k in ("topoetcone20", "topoetcone40", "ptcone20")}
    _muon_in_cone(iso, truth, rng)
    reco.update(iso)
    photons = _photon_fields(
        reco, truth["eta"], truth["phi"], truth["e"], truth["category"], TRUTH_ORIGIN["FSRPhot"]
    )
    charge_a = np.where(rng.random(n) < 0.5, 1, -1)
    mus = _muons([truth["mu_a"], truth["mu_b"]], charge_a, rng)
    muon_fields = {
        "pt": mus["pt"] * 1e3,
        "eta": mus["eta"],
        "phi": mus["phi"],
        "m": np.full(len(mus["pt"]), _MUON_MASS * 1e3),
        "charge": mus["charge"],
    }
    channel = np.where(fsr, ZMUMUG_CHANNELS["Zmumugamma"], ZMUMUG_CHANNELS["Zmumu_jets"])
    event_info = _event_info(mu, channel, kind=kind, rng=rng, first_event=first_event)
    order = np.lexsort((-muon_fields["pt"], mus["evt"]))
    return {
        "EventInfo": event_info,
        "AnalysisMuons": to_collection(muon_fields, np.bincount(mus["evt"], minlength=n), order),
        "AnalysisPhotons": to_collection(photons, np.ones(n, dtype=np.int64)),
    }

r"""Diphoton physics of the toy: ttH(γγ)-like signal and continuum γγ background.

Each event holds exactly two reconstructed photons (simulated with
:func:`decorr_af.data.photons.reconstruct_photons`, so they carry shower shapes,
isolation and the same energy response as the single-photon sample), jets,
electrons and muons. Energies are GeV here and MeV in the returned arrays.

Processes (``mcChannelNumber``)
-------------------------------
* **346525** ttH, H→γγ (fraction :data:`SIGNAL_FRACTION` of the events):
  :math:`m_{\gamma\gamma}^{true} = 125` GeV,
  :math:`p_T^{\gamma\gamma}\sim\Gamma(2.2, 55\,\mathrm{GeV})`,
  :math:`y\sim N(0, 0.9)`, isotropic decay (:math:`\cos\theta^*` uniform).
  The tt̄ system decays all-hadronically (45.7 %: 2 b + 4 light partons),
  semi-leptonically (43.8 %: 2 b + 2 light + 1 lepton) or di-leptonically
  (10.5 %: 2 b + 2 leptons); b partons :math:`p_T\sim\Gamma(2.5, 28)`, light
  :math:`\Gamma(2.2, 25)`, leptons :math:`\Gamma(2, 22)`, all
  :math:`\eta\sim N(0, 1.5)`, plus Poisson(0.7) ISR jets
  :math:`p_T = 20 + \mathrm{Exp}(30)`, :math:`\eta\sim N(0,2.2)`.
* **364352** continuum γγ: :math:`m^{true}` from
  :math:`e^{-m/28\,\mathrm{GeV}}` on [95, 180] GeV,
  :math:`p_T^{\gamma\gamma}\sim\Gamma(1.4, 0.22\,m)` and
  :math:`|\cos\theta^*|\sim\mathrm{Beta}(1.6, 1)` (forward peaked),
  :math:`y\sim N(0,1.2)`; Poisson(0.4 + p_T^{γγ}/50 GeV) jets with
  :math:`p_T = 20 + \mathrm{Exp}(0.15\,m)`, 3 % of them b, and
  Poisson(0.01) fake leptons. The jet activity and the photon momenta
  therefore scale with :math:`m_{\gamma\gamma}`, so a classifier using them
  sculpts the background spectrum.

The two photons are built in the diphoton rest frame (back to back, energy
m/2) and boosted to the lab with the diphoton four-momentum
:math:`(m_T\cosh y, p_T\cos\phi, p_T\sin\phi, m_T\sinh y)`.

Reconstruction and selection
----------------------------
Photon energies go through the full response of
:mod:`~decorr_af.data.photons` and are then calibrated with
:func:`~decorr_af.data.photons.standard_calibration` (the η/E/conversion
mean-response correction): as in PHYSLITE the diphoton sample stores
*calibrated* photons, so :math:`m_{\gamma\gamma}` peaks at 125 GeV with a
width set by the photon resolution. Jets: :math:`p_T` smeared by 12 %,
kept for :math:`p_T > 25` GeV and :math:`|\eta| < 4.5`; ``isBTagged`` with
77 % efficiency for b jets and 1 % for light jets (|η| < 2.5). Leptons are
reconstructed with 90 % efficiency for :math:`p_T > 10` GeV, |η| < 2.47
(electrons, 50 %) or 2.7 (muons). Events are kept when both photons are in
the acceptance (|η| < 2.37 outside the crack),
:math:`105 < m_{\gamma\gamma} < 160` GeV and
:math:`p_T^{1(2)}/m_{\gamma\gamma} > 0.35\,(0.25)`; rejected events are
regenerated. No reducible (γj, jj) background and no jet–photon overlap
removal are modelled.

Weights: ``mcEventWeights`` holds a positive generator weight,
lognormal(0, 0.05) for signal and lognormal(0, 0.3) for the background
(toy data: 1). Normalise with :data:`CROSS_SECTIONS_FB` yourself.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from decorr_af.data.photons import (
    DATA_RUNS,
    MC_RUN_NUMBER,
    draw_mu,
    reconstruct_photons,
    standard_calibration,
    to_collection,
)
from decorr_af.data.schema import DIPHOTON_CHANNELS, TRUTH_ORIGIN, TRUTH_TYPE
from decorr_af.errors import ConfigError

__all__ = ["CROSS_SECTIONS_FB", "SIGNAL_FRACTION", "simulate_diphoton"]

#: fraction of signal (ttH) events in a generated diphoton sample
SIGNAL_FRACTION = 0.3
#: approximate generator cross-sections x BR in fb (ttH: 507 fb x 2.27e-3)
CROSS_SECTIONS_FB = {"ttH_yy": 1.15, "yy_continuum": 51_800.0}

_MYY_WINDOW = (105.0, 160.0)
_PT_OVER_M = (0.35, 0.25)


def _boost(p_star: np.ndarray, e_star: np.ndarray, beta: np.ndarray, gamma: np.ndarray):
    bp = np.sum(beta * p_star, axis=1)
    coef = gamma**2 / (gamma + 1.0) * bp + gamma * e_star
    return p_star + coef[:, None] * beta, gamma * (e_star + bp)


def _in_acceptance(eta: np.ndarray) -> np.ndarray:
    a = np.abs(eta)
    return (a < 2.37) & ((a < 1.37) | (a >= 1.52))


def _diphoton_truth(n: int, signal: bool, rng: np.random.Generator) -> dict[str, np.ndarray]:
    if signal:
        m = np.full(n, 125.0)
        pt = rng.gamma(2.2, 55.0, n)
        y = rng.normal(0.0, 0.9, n)
        cos = rng.uniform(-1.0, 1.0, n)
    else:
        tau, lo, hi = 28.0, 95.0, 180.0
        m = lo - tau * np.log1p(-rng.random(n) * (1.0 - np.exp(-(hi - lo) / tau)))
        pt = rng.gamma(1.4, 0.22 * m)
        y = rng.normal(0.0, 1.2, n)
        cos = rng.beta(1.6, 1.0, n) * rng.choice(np.array([-1.0, 1.0]), n)
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
        out[f"pt{i}"] = ptg
        out[f"eta{i}"] = np.arcsinh(p[:, 2] / ptg)
        out[f"phi{i}"] = np.arctan2(p[:, 1], p[:, 0])
        out[f"e{i}"] = e
    out["m_true"] = m
    out["pt_yy_true"] = pt
    return out


def _objects(n: int, signal: bool, m_yy: np.ndarray, pt_yy: np.ndarray, rng):
    """Jets (with b flag) and leptons per event as flat arrays + counts."""
    if signal:
        mode = rng.choice(3, n, p=[0.457, 0.438, 0.105])
        n_light = np.array([4, 2, 0])[mode]
        n_lep = np.array([0, 1, 2])[mode]
        n_isr = rng.poisson(0.7, n)
        nb = np.full(n, 2)
        b_pt = rng.gamma(2.5, 28.0, 2 * n)
        l_pt = rng.gamma(2.2, 25.0, int(n_light.sum()))
        i_pt = 20.0 + rng.exponential(30.0, int(n_isr.sum()))
        jet_pt = [b_pt, l_pt, i_pt]
        jet_eta = [
            rng.normal(0, 1.5, 2 * n),
            rng.normal(0, 1.5, len(l_pt)),
            rng.normal(0, 2.2, len(i_pt)),
        ]
        jet_b = [np.ones(2 * n, bool), np.zeros(len(l_pt), bool), np.zeros(len(i_pt), bool)]
        jet_evt = [
            np.repeat(np.arange(n), nb),
            np.repeat(np.arange(n), n_light),
            np.repeat(np.arange(n), n_isr),
        ]
        lep_pt = rng.gamma(2.0, 22.0, int(n_lep.sum()))
        lep_eta = rng.normal(0.0, 1.5, len(lep_pt))
    else:
        n_j = rng.poisson(0.4 + pt_yy / 50.0)
        evt = np.repeat(np.arange(n), n_j)
        jet_pt = [20.0 + rng.exponential(0.15 * m_yy[evt])]
        jet_eta = [rng.normal(0.0, 2.0, len(evt))]
        jet_b = [rng.random(len(evt)) < 0.03]
        jet_evt = [evt]
        n_lep = rng.poisson(0.01, n)
        lep_pt = 10.0 + rng.exponential(15.0, int(n_lep.sum()))
        lep_eta = rng.normal(0.0, 1.5, len(lep_pt))
    pt = np.concatenate(jet_pt) * rng.normal(1.0, 0.12, sum(len(x) for x in jet_pt))
    eta = np.concatenate(jet_eta)
    is_b = np.concatenate(jet_b)
    evt = np.concatenate(jet_evt)
    keep = (pt > 25.0) & (np.abs(eta) < 4.5)
    eff = np.where(is_b, 0.77, 0.01) * (np.abs(eta) < 2.5)
    tagged = rng.random(len(pt)) < eff
    jets = {
        "evt": evt[keep],
        "pt": pt[keep],
        "eta": eta[keep],
        "phi": rng.uniform(-np.pi, np.pi, len(pt))[keep],
        "m": (pt * rng.uniform(0.05, 0.2, len(pt)))[keep],
        "isBTagged": tagged[keep].astype(np.int8),
    }
    lep_evt = np.repeat(np.arange(n), n_lep)
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


def _jagged(obj: dict[str, np.ndarray], n: int, fields: dict[str, np.ndarray]) -> ak.Array:
    order = np.lexsort((-obj["pt"], obj["evt"]))
    counts = np.bincount(obj["evt"], minlength=n)
    return to_collection(fields, counts, order)


def _process(n, signal, *, kind, mismodelling, rng) -> dict[str, Any]:
    tr = _diphoton_truth(n, signal, rng)
    mu = draw_mu(n, rng)
    eta = np.concatenate([tr["eta0"], tr["eta1"]])
    e_true = np.concatenate([tr["e0"], tr["e1"]])
    reco = reconstruct_photons(
        e_true,
        eta,
        np.tile(mu, 2),
        category=np.zeros(2 * n, dtype=int),
        rng=rng,
        kind=kind,
        mismodelling=mismodelling,
    )
    e_cal = standard_calibration(reco["e_raw"], eta, reco["conversionType"] > 0, np.tile(mu, 2))
    pt = (e_cal / np.cosh(eta)).reshape(2, n)
    phi = np.concatenate([tr["phi0"], tr["phi1"]]).reshape(2, n)
    eta2 = eta.reshape(2, n)
    myy = np.sqrt(2 * pt[0] * pt[1] * (np.cosh(eta2[0] - eta2[1]) - np.cos(phi[0] - phi[1])))
    lead = np.maximum(pt[0], pt[1])
    sub = np.minimum(pt[0], pt[1])
    ok = _in_acceptance(eta2[0]) & _in_acceptance(eta2[1])
    ok &= (myy > _MYY_WINDOW[0]) & (myy < _MYY_WINDOW[1])
    ok &= (lead / myy > _PT_OVER_M[0]) & (sub / myy > _PT_OVER_M[1])
    idx = np.flatnonzero(ok)
    k = len(idx)
    # photons: per event (lead, sub) in pt order
    swap = pt[1, idx] > pt[0, idx]
    first = np.where(swap, 1, 0)
    rows = np.column_stack([first, 1 - first]).ravel()  # which of the two photons
    flat = rows * n + np.repeat(idx, 2)
    origin = TRUTH_ORIGIN["Higgs"] if signal else TRUTH_ORIGIN["PromptPhot"]
    photons = {
        "pt": (e_cal / np.cosh(eta))[flat] * 1e3,
        "eta": eta[flat],
        "phi": phi.ravel()[flat],
        "m": np.zeros(2 * k),
        **{key: v[flat] for key, v in reco.items() if key not in ("e_raw", "pt")},
        "truthType": np.full(2 * k, TRUTH_TYPE["IsoPhoton"], dtype=np.int32),
        "truthOrigin": np.full(2 * k, origin, dtype=np.int32),
        "truth_e": e_true[flat] * 1e3,
    }
    for key in ("DeltaE", "topoetcone20", "topoetcone40", "ptcone20"):
        photons[key] = photons[key] * 1e3
    jets, leptons = _objects(n, signal, tr["m_true"], tr["pt_yy_true"], rng)
    sigma_w = 0.05 if signal else 0.3
    weights = np.ones(n) if kind == "data" else rng.lognormal(0.0, sigma_w, n)
    ak_jets = _jagged(
        jets,
        n,
        {
            f: jets[f] * (1e3 if f in ("pt", "m") else 1)
            for f in ("pt", "eta", "phi", "m", "isBTagged")
        },
    )
    out = {
        "mu": mu[idx],
        "weight": weights[idx],
        "photons": to_collection(photons, np.full(k, 2)),
        "jets": ak_jets[idx],
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
        out[flavour] = _jagged(obj, n, fields)[idx]
    return out


def _fill(n: int, signal: bool, *, kind, mismodelling, rng) -> dict[str, Any]:
    parts, have, it = [], 0, 0
    while have < n:
        it += 1
        if it > 100:  # pragma: no cover - the selection efficiency is ~40-60 %
            raise RuntimeError("diphoton selection efficiency too low")
        batch = max(int(2.5 * (n - have)), 64)
        part = _process(batch, signal, kind=kind, mismodelling=mismodelling, rng=rng)
        parts.append(part)
        have += len(part["mu"])
    merged = {
        key: (np.concatenate if key in ("mu", "weight") else ak.concatenate)(
            [p[key] for p in parts]
        )[:n]
        for key in parts[0]
    }
    return merged


def simulate_diphoton(
    n_events: int,
    *,
    kind: str = "mc",
    mismodelling: float = 0.0,
    rng: np.random.Generator,
    first_event: int = 0,
) -> dict[str, Any]:
    """Simulate ``n_events`` selected diphoton events (signal and background mixed).

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
    is_sig = rng.random(n_events) < SIGNAL_FRACTION
    n_sig = int(is_sig.sum())
    opts = {"kind": kind, "mismodelling": mismodelling, "rng": rng}
    sig = _fill(n_sig, True, **opts) if n_sig else None
    bkg = _fill(n_events - n_sig, False, **opts) if n_sig < n_events else None
    # interleave: event i takes the next signal or background event
    pos = np.empty(n_events, dtype=np.int64)
    pos[is_sig] = np.arange(n_sig)
    pos[~is_sig] = n_sig + np.arange(n_events - n_sig)
    parts = [p for p in (sig, bkg) if p is not None]

    def cat(key):
        joined = (np.concatenate if key in ("mu", "weight") else ak.concatenate)(
            [p[key] for p in parts]
        )
        return joined[pos]

    channel = np.where(is_sig, DIPHOTON_CHANNELS["ttH_yy"], DIPHOTON_CHANNELS["yy_continuum"])
    runs = rng.choice(DATA_RUNS, n_events) if kind == "data" else np.full(n_events, MC_RUN_NUMBER)
    event_info = {
        "averageInteractionsPerCrossing": cat("mu").astype(np.float32),
        "eventNumber": np.arange(first_event + 1, first_event + n_events + 1, dtype=np.uint64),
        "runNumber": runs.astype(np.uint32),
        "mcChannelNumber": channel.astype(np.uint32),
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

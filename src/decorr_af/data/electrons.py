r"""Z→ee toy: the standard candle of the ATLAS energy-scale calibration.

Events (``mcChannelNumber``, :data:`~decorr_af.data.samples.ZEE_CHANNELS`)
-------------------------------------------------------------------------
* **Z→ee** (96 % of the events): a Breit-Wigner Z/γ* and its
  :math:`1+\cos^2\theta^*` decay (:mod:`~decorr_af.data.zboson`).
* **non-resonant ee** (:data:`CONTINUUM_FRACTION` = 4 %): the same decay of a
  continuum mass falling as :math:`e^{-m/25\,\mathrm{GeV}}`, so a line-shape
  fit has a background to handle.
* Final-state radiation out of the cluster: with probability 0.1 per electron a
  photon takes a Beta(0.6, 4) fraction of its energy (the radiative low-mass
  tail). ``truth_e`` is the electron energy *after* FSR.

Both electrons must have :math:`p_T^{true} > 15` GeV and
:math:`|\eta| < 2.47` outside the crack; rejected events are regenerated.

Reconstruction
--------------
The electron showers from the beam pipe on (shower start 0 :math:`X_0`), so it
suffers the upstream loss of the full material, through
:func:`decorr_af.data.calo.shower` — the *same* calorimeter, shower shapes,
layer energies and data/MC detector differences as the photons
(``conversionRadius`` is 0). Its bremsstrahlung in the tracker opens the
shower in φ (∝ tracker material × 40 GeV/p_T). The track gives η and φ
(resolution 5·10⁻⁴) and the charge, which is flipped with probability
:math:`0.001 + 0.008\,t(\eta)^2` (bremsstrahlung followed by conversion; a
few ‰ central, ~2 % in the endcap), so a few events have same-sign pairs.
``pt`` is :math:`E_{raw}/\cosh\eta`. The pile-up profile, the material and the
lateral shower spread of ``kind="data"`` follow
:class:`~decorr_af.data.calo.Conditions`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from decorr_af.data.calo import NOMINAL, Conditions, draw_mu, shower, tracker_material
from decorr_af.data.photons import _event_info, to_collection
from decorr_af.data.samples import ZEE_CHANNELS
from decorr_af.data.schema import CALO_VARIABLES, SHOWER_SHAPES
from decorr_af.data.zboson import decay_two_body, draw_masses, eta_phi_e, z_momenta
from decorr_af.errors import ConfigError

__all__ = ["CONTINUUM_FRACTION", "in_acceptance", "reconstruct_electrons", "simulate_zee"]

#: fraction of non-resonant (continuum) events in the Z→ee toy
CONTINUUM_FRACTION = 0.04
_ELECTRON_MASS = 0.000511  # GeV
_PT_MIN = 15.0


def in_acceptance(eta: np.ndarray, *, eta_max: float = 2.47) -> np.ndarray:
    """|η| < ``eta_max`` outside the barrel/endcap crack 1.37 < |η| < 1.52.

    Examples
    --------
    >>> import numpy as np
    >>> in_acceptance(np.array([0.5, 1.4, 2.0, 2.6])).tolist()
    [True, False, True, False]
    """
    a = np.abs(eta)
    return (a < eta_max) & ~((a >= 1.37) & (a < 1.52))


def reconstruct_electrons(
    e_true: np.ndarray,
    eta: np.ndarray,
    mu: np.ndarray,
    *,
    rng: np.random.Generator,
    conditions: Conditions = NOMINAL,
) -> dict[str, np.ndarray]:
    """Cluster energy, shower shapes and calorimeter variables of electrons (GeV).

    Examples
    --------
    >>> import numpy as np
    >>> out = reconstruct_electrons(np.full(3, 45.0), np.zeros(3), np.full(3, 50.0),
    ...                             rng=np.random.default_rng(0))
    >>> float(out["conversionRadius"].max())
    0.0
    """
    n = len(e_true)
    abseta = np.abs(eta)
    et = e_true / np.cosh(eta)
    brem = 0.5 * tracker_material(abseta, conditions) * np.minimum(40.0 / np.maximum(et, 1.0), 3.0)
    calo = shower(
        e_true,
        eta,
        mu,
        start=np.zeros(n),
        charged=np.ones(n, dtype=bool),
        phi_open=brem,
        rng=rng,
        conditions=conditions,
    )
    out = {"e_raw": calo["e_raw"], **{k: calo[k] for k in SHOWER_SHAPES}}
    for k in CALO_VARIABLES:
        out[k] = np.zeros(n) if k == "conversionRadius" else calo[k]
    out["flip"] = rng.random(n) < 0.001 + 0.008 * tracker_material(abseta, conditions) ** 2
    return out


def _truth_pairs(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Accepted true electron pairs (regenerating rejected events)."""
    parts: list[dict[str, np.ndarray]] = []
    have = 0
    while have < n:
        batch = max(int(1.8 * (n - have)), 64)
        continuum = rng.random(batch) < CONTINUUM_FRACTION
        z = z_momenta(draw_masses(batch, rng, continuum=continuum), rng)
        p1, p2 = decay_two_body(z, rng)
        kin = [eta_phi_e(p) for p in (p1, p2)]
        e = np.stack([k[3] for k in kin])
        fsr = rng.random(e.shape) < 0.1
        e = e * np.where(fsr, 1.0 - rng.beta(0.6, 4.0, e.shape), 1.0)
        eta = np.stack([k[1] for k in kin])
        ok = np.all(in_acceptance(eta) & (e / np.cosh(eta) > _PT_MIN), axis=0)
        q = np.where(rng.random(batch) < 0.5, 1, -1)
        parts.append(
            {
                "continuum": continuum[ok],
                "e": e[:, ok].T,
                "eta": eta[:, ok].T,
                "phi": np.stack([k[2] for k in kin])[:, ok].T,
                "charge": np.column_stack([q, -q])[ok],
            }
        )
        have += int(ok.sum())
    return {k: np.concatenate([p[k] for p in parts])[:n] for k in parts[0]}


def simulate_zee(
    n_events: int,
    *,
    kind: str = "mc",
    mismodelling: float = 0.0,
    rng: np.random.Generator,
    first_event: int = 0,
) -> dict[str, Any]:
    """Simulate ``n_events`` Z→ee (and continuum ee) events in memory.

    Returns
    -------
    dict
        ``"EventInfo"`` (per-event arrays as
        :func:`~decorr_af.data.photons.simulate_photons`) and
        ``"AnalysisElectrons"`` (two per event, pt-ordered, MeV, with
        ``truth_e`` for both kinds; the writer drops it for data).

    Examples
    --------
    >>> import numpy as np
    >>> ev = simulate_zee(20, rng=np.random.default_rng(0))
    >>> sorted(ev)
    ['AnalysisElectrons', 'EventInfo']
    """
    if n_events <= 0:
        raise ConfigError(f"n_events must be > 0, got {n_events!r}")
    cond = Conditions.for_kind(kind, mismodelling)
    truth = _truth_pairs(n_events, rng)
    mu = draw_mu(n_events, rng, conditions=cond)
    eta_true = truth["eta"].ravel()
    e_true = truth["e"].ravel()
    reco = reconstruct_electrons(e_true, eta_true, np.repeat(mu, 2), rng=rng, conditions=cond)
    flip = reco.pop("flip")
    eta = eta_true + 5e-4 * rng.standard_normal(len(eta_true))
    phi = truth["phi"].ravel() + 5e-4 * rng.standard_normal(len(eta_true))
    phi = (phi + np.pi) % (2 * np.pi) - np.pi
    e_raw = reco.pop("e_raw")
    electrons = {
        "pt": e_raw / np.cosh(eta) * 1e3,
        "eta": eta,
        "phi": phi,
        "m": np.full(len(eta), _ELECTRON_MASS * 1e3),
        "charge": np.where(flip, -1, 1) * truth["charge"].ravel(),
        **reco,
        "truth_e": e_true * 1e3,
    }
    for k in ("DeltaE", "E0", "E1", "E2", "E3"):
        electrons[k] = electrons[k] * 1e3
    evt = np.repeat(np.arange(n_events), 2)
    order = np.lexsort((-electrons["pt"], evt))
    channel = np.where(truth["continuum"], ZEE_CHANNELS["ee_continuum"], ZEE_CHANNELS["Zee"])
    event_info = _event_info(mu, channel, kind=kind, rng=rng, first_event=first_event)
    collection = to_collection(electrons, np.full(n_events, 2), order)
    return {"EventInfo": event_info, "AnalysisElectrons": collection}

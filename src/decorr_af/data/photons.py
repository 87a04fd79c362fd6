r"""Single-photon physics of the PHYSLITE-like toy.

The toy follows the logic of ATLAS photon reconstruction closely enough that
shower shapes, isolation and the energy response are *physically* related,
without being tuned to favour any method. The calorimeter (material,
conversions, energy response, shower shapes, layer energies, data/MC
detector differences) lives in :mod:`decorr_af.data.calo`, shared with the
electrons of :mod:`decorr_af.data.electrons`; this module adds what is
specific to photon candidates: the truth spectrum, the fake (jet) structure
and the isolation. All energies are in GeV inside this module; the returned
collections are in MeV. Every random number comes from the
:class:`numpy.random.Generator` passed in.

Truth
-----
* Candidates per event: 1, 2, 3 with probabilities 0.6, 0.3, 0.1; each is a
  prompt photon with probability 0.5 (MCTruthClassifier ``truthType`` 14,
  ``truthOrigin`` 38) or a fake: a :math:`\pi^0` (``16``/``42``), an
  :math:`\eta` meson (``16``/``39``) or a hadron (``17``/``23``) with fractions
  :attr:`~decorr_af.data.calo.Conditions.fake_fractions` (0.7/0.2/0.1 in MC).
* :math:`p_T^{true} = 25\,\mathrm{GeV}\,(1-u)^{-1/n}`, :math:`n=3` prompt,
  :math:`n=4` fakes (capped at 2.5 TeV); :math:`|\eta|` uniform in
  :math:`[0,1.37)\cup[1.52,2.37)` (crack excluded), :math:`\phi` uniform;
  :math:`E^{true} = p_T^{true}\cosh\eta`. For fakes "true" is the meson.
* Pile-up :math:`\mu` from :func:`~decorr_af.data.calo.draw_mu`.

Fakes
-----
A meson carrying a fraction :math:`x\sim\mathrm{Beta}(3.5,1.5)` of its
parent jet, so the surrounding jet activity is :math:`A = (1-x)/x` (in units
of the meson energy). :math:`A` is split with Dirichlet(1.5, 4, 3, 2) weights
into core / ΔR<0.2 ring / 0.2-0.4 ring / outside. The core part widens the
shower (``Reta``, ``weta2``, ``wtots1``, ``fracs1``, ``Rhad``; doubled for
hadrons, which also deposit a Beta(2, 6) hadronic fraction), the rings feed
isolation — the shared :math:`A` is what correlates shower-shape ID with
isolation on fakes. The two decay photons share energy :math:`z\sim U(0,1)`
and open by :math:`\theta = m/(E\sqrt{z(1-z)})`; their strip separation
:math:`d_s = \theta\cosh\eta|\cos\alpha|/0.0031` makes a second maximum of
visibility :math:`v = 1-e^{-(d_s/2)^2}`, so
:math:`E_{ratio} = (1-rv)/(1+rv)`, :math:`r = \min(z,1-z)/\max(z,1-z)`, and
``DeltaE`` grows with :math:`rv`. Converted photons get a B-field opening in
φ ∝ (1 - R/R_max)·40 GeV/p_T that lowers ``Rphi``.

Isolation
---------
:math:`E_T^{cone20} = \Gamma(2,0.25)\,s_{UE} + 0.22 s_{PU}\sqrt{\mu}N
+ 0.8(\ell-\bar\ell)E_T + 0.7\,A\,g_{20}E_T` (last term fakes only);
``topoetcone40`` adds the outer ring, :math:`\Gamma(2, 0.35)s_{UE}` and a
wider pile-up term :math:`0.33 s_{PU}\sqrt{\mu}N`; ``ptcone20`` counts charged
tracks (charged fraction ~Beta(6,4) of the ring for fakes, UE tracks with
probability :math:`0.2 s_{trk}` and pile-up tracks with probability ∝ μ).
:math:`s_{UE}, s_{PU}, s_{trk}` are 1 in MC (see
:class:`~decorr_af.data.calo.Conditions` for data).

Cells
-----
``simulate_photons(..., cells=True)`` (``decorr-af generate --cells``) adds
every candidate's calorimeter cells (:mod:`decorr_af.data.cells`), filled by
the latent physics above from a separate random stream; the cluster energy,
``E0``-``E3`` and the shower shapes are then computed from the cells, while
truth, conversions and isolation stay identical to ``cells=False``.

Data vs MC
----------
``kind="data"`` simulates the "real" detector of
:meth:`Conditions.for_kind("data", mismodelling) <decorr_af.data.calo.Conditions.for_kind>`:
more material, wider showers, another pile-up profile, more underlying event
and another fake composition. The shower shapes differ *because* the physics
differs, and so does the true energy response. Truth is kept in the in-memory
output of :func:`simulate_photons` for both kinds (so the response can be
studied); the writer never writes it for data.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from decorr_af.data.calo import (
    NOMINAL,
    Conditions,
    conversion_probability,
    convert,
    dead_material,
    draw_mu,
    mean_response,
    shower,
    standard_calibration,
    tracker_material,
)
from decorr_af.data.schema import CALO_VARIABLES, SHOWER_SHAPES, TRUTH_ORIGIN, TRUTH_TYPE
from decorr_af.errors import ConfigError

__all__ = [
    "Conditions",
    "conversion_probability",
    "dead_material",
    "draw_mu",
    "mean_response",
    "photon_isolation",
    "reconstruct_photons",
    "simulate_photons",
    "standard_calibration",
    "tracker_material",
]

_STRIP_PITCH = 0.0031  # eta pitch of the strips
_MESON_MASS = {"pi0": 0.13498, "eta": 0.54786}  # GeV


def _draw_abseta(n: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.uniform(0.0, 1.37 + 0.85, n)
    return np.where(x < 1.37, x, x + 0.15)


def _fake_structure(
    e: np.ndarray, eta: np.ndarray, category: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Jet activity around fakes and the two-photon structure of meson decays."""
    n = len(e)
    fake = category > 0
    meson = (category == 1) | (category == 2)
    hadron = category == 3
    x_frag = np.clip(rng.beta(3.5, 1.5, n), 0.1, None)
    activity = np.where(fake, (1.0 - x_frag) / x_frag, 0.0)
    g = rng.gamma(np.array([1.5, 4.0, 3.0, 2.0]), size=(n, 4))
    g /= g.sum(axis=1, keepdims=True)
    mass = np.where(category == 2, _MESON_MASS["eta"], _MESON_MASS["pi0"])
    z = rng.uniform(0.02, 0.98, n)
    theta = mass / (e * np.sqrt(z * (1.0 - z)))
    cos_alpha = np.cos(rng.uniform(0, np.pi, n))
    d_strips = theta * np.cosh(eta) * np.abs(cos_alpha) / _STRIP_PITCH
    vis = np.where(meson, 1.0 - np.exp(-((d_strips / 2.0) ** 2)), 0.0)
    r_share = np.minimum(z, 1 - z) / np.maximum(z, 1 - z)
    return {
        "activity": activity,
        "ring20": activity * g[:, 1],
        "ring40": activity * g[:, 2],
        "core": activity * g[:, 0] * np.where(hadron, 2.0, 1.0),
        "two_max": r_share * vis,
        "vis": vis,
        "had_frac": np.where(hadron, rng.beta(2.0, 6.0, n), 0.0),
        "meson": meson,
        "z": z,
        "theta": theta,
        "cos_alpha": cos_alpha,
    }


def photon_isolation(
    et: np.ndarray,
    mu: np.ndarray,
    *,
    leak: np.ndarray,
    ring20: np.ndarray,
    ring40: np.ndarray,
    rng: np.random.Generator,
    conditions: Conditions = NOMINAL,
) -> dict[str, np.ndarray]:
    """``topoetcone20``, ``topoetcone40`` and ``ptcone20`` in GeV (see module docstring).

    ``leak`` is the lateral-leakage excess (ℓ - ℓ̄) that spills into the cone;
    ``ring20``/``ring40`` the jet activity in the two rings (0 for prompt).

    Examples
    --------
    >>> import numpy as np
    >>> z = np.zeros(3)
    >>> iso = photon_isolation(np.full(3, 40.0), np.full(3, 50.0), leak=z, ring20=z, ring40=z,
    ...                        rng=np.random.default_rng(0))
    >>> sorted(iso)
    ['ptcone20', 'topoetcone20', 'topoetcone40']
    """
    n = len(et)
    c = conditions
    sqmu = np.sqrt(mu)
    jet20 = 0.7 * ring20 * et
    jet40 = 0.7 * ring40 * et
    iso20 = (
        c.ue * rng.gamma(2.0, 0.25, n)
        + c.pileup_iso * 0.22 * sqmu * rng.standard_normal(n)
        + 0.8 * leak * et
        + jet20
    )
    iso40 = (
        iso20
        + c.ue * rng.gamma(2.0, 0.35, n)
        + c.pileup_iso * 0.33 * sqmu * rng.standard_normal(n)
        + jet40
    )
    charged = rng.beta(6.0, 4.0, n) * ring20 * et
    ue_trk = (rng.random(n) < 0.2 * c.ue_tracks) * (1.0 + rng.exponential(1.5, n))
    pu_trk = (rng.random(n) < 0.002 * mu) * (1.0 + rng.exponential(1.0, n))
    ptcone20 = charged * (charged > 1.0) + ue_trk + pu_trk
    return {"topoetcone20": iso20, "topoetcone40": iso40, "ptcone20": ptcone20}


def reconstruct_photons(
    truth_e: np.ndarray,
    eta: np.ndarray,
    mu: np.ndarray,
    *,
    category: np.ndarray,
    rng: np.random.Generator,
    kind: str = "mc",
    mismodelling: float = 0.0,
    conditions: Conditions | None = None,
    calo_variables: bool = False,
    latent: bool = False,
) -> dict[str, Any]:
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
        Detector conditions :meth:`Conditions.for_kind(kind, mismodelling)
        <decorr_af.data.calo.Conditions.for_kind>`, unless ``conditions`` is given.
    conditions
        Explicit detector conditions.
    calo_variables
        Also return the :data:`~decorr_af.data.schema.CALO_VARIABLES`
        (``E0``-``E3`` in GeV, ``conversionRadius`` in mm, cell offsets).
    latent
        Also return ``"latent"``: the shower's latent description and the
        decay structure of fakes, what :func:`decorr_af.data.cells.photon_cells`
        fills the cells with (no extra random numbers are drawn).

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
    cond = conditions if conditions is not None else Conditions.for_kind(kind, mismodelling)
    e = np.asarray(truth_e, dtype=float)
    eta = np.asarray(eta, dtype=float)
    mu = np.asarray(mu, dtype=float)
    abseta = np.abs(eta)
    et = e / np.cosh(eta)
    conv = convert(abseta, rng, cond)
    d = np.clip(conv["start"] / tracker_material(abseta, cond), 0.0, 1.0)
    phi_open = np.where(conv["converted"], (1.0 - d) * np.minimum(40.0 / et, 3.0), 0.0)
    fk = _fake_structure(e, eta, np.asarray(category), rng)
    calo = shower(
        e,
        eta,
        mu,
        start=conv["start"],
        charged=conv["converted"],
        phi_open=phi_open,
        core=fk["core"],
        two_max=fk["two_max"],
        vis=fk["vis"],
        had_frac=fk["had_frac"],
        rng=rng,
        conditions=cond,
    )
    iso = photon_isolation(
        et,
        mu,
        leak=calo["ell"] - calo["ell_mean"],
        ring20=fk["ring20"],
        ring40=fk["ring40"],
        rng=rng,
        conditions=cond,
    )
    e_raw = calo["e_raw"]
    out: dict[str, np.ndarray] = {
        "e_raw": e_raw,
        "pt": e_raw / np.cosh(eta),
        "conversionType": conv["conversionType"],
        **{k: calo[k] for k in SHOWER_SHAPES},
        **iso,
    }
    if calo_variables:
        for k in CALO_VARIABLES:
            out[k] = conv[k] if k == "conversionRadius" else calo[k]
    if latent:
        out["latent"] = {
            **calo["latent"],
            **{k: fk[k] for k in ("meson", "z", "theta", "cos_alpha")},
        }
    return out


def draw_categories(
    n: int, rng: np.random.Generator, conditions: Conditions = NOMINAL
) -> np.ndarray:
    """Prompt (0) with probability 0.5, else π⁰ (1), η (2) or hadron (3) fakes.

    Examples
    --------
    >>> import numpy as np
    >>> c = draw_categories(1000, np.random.default_rng(0))
    >>> sorted(set(c.tolist()))
    [0, 1, 2, 3]
    """
    prompt = rng.random(n) < 0.5
    return np.where(prompt, 0, draw_fake_categories(n, rng, conditions))


def draw_fake_categories(
    n: int, rng: np.random.Generator, conditions: Conditions = NOMINAL
) -> np.ndarray:
    """π⁰ (1), η (2) or hadron (3) fakes with the conditions' fractions."""
    return rng.choice(np.array([1, 2, 3]), size=n, p=list(conditions.fake_fractions))


def _truth_codes(
    category: np.ndarray, prompt_origin: int = TRUTH_ORIGIN["PromptPhot"]
) -> tuple[np.ndarray, np.ndarray]:
    """truthType and truthOrigin of prompt (0), π⁰ (1), η (2) and hadron (3) candidates."""
    ttype = np.select(
        [category == 0, category == 3],
        [TRUTH_TYPE["IsoPhoton"], TRUTH_TYPE["Hadron"]],
        TRUTH_TYPE["BkgPhoton"],
    ).astype(np.int32)
    origin = np.select(
        [category == 0, category == 1, category == 2],
        [prompt_origin, TRUTH_ORIGIN["PiZero"], TRUTH_ORIGIN["EtaMeson"]],
        TRUTH_ORIGIN["LightMeson"],
    ).astype(np.int32)
    return ttype, origin


def _photon_fields(
    reco: dict[str, np.ndarray],
    eta: np.ndarray,
    phi: np.ndarray,
    truth_e: np.ndarray,
    category: np.ndarray,
    prompt_origin: int = TRUTH_ORIGIN["PromptPhot"],
) -> dict[str, np.ndarray]:
    """Photon branches as written to file (MeV) from the reconstruction and the truth (GeV)."""
    ttype, origin = _truth_codes(category, prompt_origin)
    photons = {
        "pt": reco["pt"] * 1e3,
        "eta": eta,
        "phi": phi,
        "m": np.zeros(len(eta)),
        **{k: v for k, v in reco.items() if k not in ("pt", "e_raw")},
        "truthType": ttype,
        "truthOrigin": origin,
        "truth_e": truth_e * 1e3,
    }
    for k in GEV_FIELDS:
        photons[k] = photons[k] * 1e3
    return photons


def _event_info(
    mu: np.ndarray,
    channel: np.ndarray,
    *,
    kind: str,
    rng: np.random.Generator,
    first_event: int,
) -> dict[str, Any]:
    """EventInfo of ``len(mu)`` events: MC weights lognormal(0, 0.05) (1 in data), run numbers."""
    n = len(mu)
    weights = np.ones(n) if kind == "data" else rng.lognormal(0.0, 0.05, n)
    return {
        "averageInteractionsPerCrossing": mu,
        "eventNumber": np.arange(first_event + 1, first_event + n + 1, dtype=np.uint64),
        "runNumber": _run_numbers(n, kind, rng),
        "mcChannelNumber": np.asarray(channel).astype(np.uint32),
        "mcEventWeights": ak.unflatten(weights.astype(np.float32), np.ones(n, np.int64)),
    }


def simulate_photons(
    n_events: int,
    *,
    kind: str = "mc",
    mismodelling: float = 0.0,
    rng: np.random.Generator,
    first_event: int = 0,
    cells: bool = False,
    cell_rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    """Simulate ``n_events`` single-photon events in memory.

    With ``cells=True`` every candidate also carries its calorimeter cells
    (:mod:`decorr_af.data.cells`, drawn from ``cell_rng``; default: a child
    stream spawned from ``rng``'s seed sequence, which draws nothing from
    ``rng``) and its cluster energy, ``E0``-``E3`` and shower shapes are
    computed from them; everything else (truth, conversions, isolation) is
    identical to ``cells=False`` for the same ``rng``.

    Returns
    -------
    dict
        ``"EventInfo"``: dict of per-event numpy arrays
        (``averageInteractionsPerCrossing``, ``eventNumber``, ``runNumber``,
        ``mcChannelNumber``, ``mcEventWeights`` as an awkward ``var * float32``);
        ``"AnalysisPhotons"``: awkward array of photon records (pt-ordered,
        energies in **MeV**, as written to file); with ``cells=True``
        ``"AnalysisPhotonCells"``: per event the cells of all its photons
        (``photonIndex`` = the photon's index in the event, then
        ``layer``, ``eta``, ``phi``, ``e`` in MeV, ``t`` in ns; photon by photon).

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
    cond = Conditions.for_kind(kind, mismodelling)
    mu = draw_mu(n_events, rng, conditions=cond)
    counts = rng.choice(np.array([1, 2, 3]), size=n_events, p=[0.6, 0.3, 0.1])
    n = int(counts.sum())
    evt = np.repeat(np.arange(n_events), counts)
    category = draw_categories(n, rng, cond)
    power = np.where(category == 0, 3.0, 4.0)
    pt_true = np.minimum(25.0 * (1.0 - rng.random(n)) ** (-1.0 / power), 2500.0)
    eta = _draw_abseta(n, rng) * rng.choice(np.array([-1.0, 1.0]), n)
    phi = rng.uniform(-np.pi, np.pi, n)
    truth_e = pt_true * np.cosh(eta)
    reco = reconstruct_photons(
        truth_e,
        eta,
        mu[evt],
        category=category,
        rng=rng,
        conditions=cond,
        calo_variables=True,
        latent=cells,
    )
    cellset = None
    if cells:
        from decorr_af.data.cells import photon_cells

        crng = cell_rng if cell_rng is not None else rng.spawn(1)[0]
        res = photon_cells(reco.pop("latent"), phi, rng=crng, conditions=cond)
        reco.update(res.measured)
        reco["pt"] = reco["e_raw"] / np.cosh(eta)
        cellset = res.cells
    photons = _photon_fields(reco, eta, phi, truth_e, category)
    order = np.lexsort((-photons["pt"], evt))
    channel = np.full(n_events, MC_CHANNEL_PHOTONS, dtype=np.uint32)
    event_info = _event_info(mu, channel, kind=kind, rng=rng, first_event=first_event)
    out = {"EventInfo": event_info, "AnalysisPhotons": to_collection(photons, counts, order)}
    if cellset is not None:
        out[CELL_CONTAINER] = cell_collection(cellset, evt, n_events, order)
    return out


#: container of the photon candidates' cells (``AnalysisPhotonCellsAuxDyn.<field>``)
CELL_CONTAINER = "AnalysisPhotonCells"


def cell_collection(cellset: Any, evt: np.ndarray, n_events: int, order: np.ndarray) -> ak.Array:
    """Per-event jagged cells of the (pt-ordered) photons, linked by ``photonIndex``."""
    ordered = cellset.take(order)
    evt_sorted = evt[order]
    first = np.searchsorted(evt_sorted, np.arange(n_events))
    index_in_event = np.arange(len(evt_sorted)) - first[evt_sorted]
    per_cell = np.repeat(index_in_event, ordered.counts).astype(np.int16)
    per_event = np.bincount(evt_sorted, weights=ordered.counts, minlength=n_events).astype(np.int64)
    f = ordered.features
    cols = {
        "photonIndex": per_cell,
        "layer": f[:, ordered.names.index("layer")].astype(np.int16),
        "eta": f[:, ordered.names.index("eta")].astype(np.float32),
        "phi": f[:, ordered.names.index("phi")].astype(np.float32),
        "e": (f[:, ordered.names.index("e")] * 1e3).astype(np.float32),
        "t": f[:, ordered.names.index("t")].astype(np.float32),
    }
    return ak.unflatten(ak.zip(cols, depth_limit=1), per_event)


#: mcChannelNumber of the single-photon toy (a Pythia8 γ+jet-like sample id)
MC_CHANNEL_PHOTONS = 800662
#: run number of MC (mc23a-like) and a few Run-3-like data runs
MC_RUN_NUMBER = 410000
DATA_RUNS = np.array([427885, 429142, 431810, 435229, 440499, 451896, 456749], dtype=np.uint32)


def _run_numbers(n: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "data":
        return rng.choice(DATA_RUNS, n)
    return np.full(n, MC_RUN_NUMBER, dtype=np.uint32)


_INT_FIELDS = ("conversionType", "truthType", "truthOrigin", "charge")
#: fields the simulation computes in GeV and the files store in MeV (besides pt, truth_e)
GEV_FIELDS = ("DeltaE", "topoetcone20", "topoetcone40", "ptcone20", "E0", "E1", "E2", "E3")


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

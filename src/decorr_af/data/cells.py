r"""Calorimeter cells of photon candidates, and the shower shapes computed from them.

With ``cells=True`` (``decorr-af generate --cells``) every photon candidate of
:func:`~decorr_af.data.photons.simulate_photons` carries its calorimeter cells,
and its cluster energy, layer energies ``E0``-``E3`` and the ten shower shapes
are *computed from those cells* with the ATLAS definitions (one source of
truth). The cells are filled by the latent physics of
:func:`~decorr_af.data.calo.shower` (longitudinal profile, upstream material,
lateral leakage, conversions, the two photons of :math:`\pi^0/\eta` decays, the
jet activity around fakes, the hadronic fraction) and drawn from a *separate*
random stream, so files without cells are unchanged.

Geometry (fixed windows around the middle-layer cell hit by the photon; units
of the middle cell, :math:`\Delta\eta = 0.025`, :math:`\Delta\phi = 2\pi/256`)

=====  ==========  ===================  ======================  ==============
layer  name        cell η × φ           window η × φ            in the cluster
=====  ==========  ===================  ======================  ==============
0      presampler  0.025 × 0.1          5 × 1 (|η| < 1.8 only)  central 3
1      strips      0.003125 × 0.1       40 × 1                  central 24
2      middle      0.025 × 0.0245       7 × 11                  3 × 7
3      back        0.05 × 0.0245        3 × 7                   1 × 7
4      hadronic    0.1 × 0.1            3 × 3                   (Rhad)
=====  ==========  ===================  ======================  ==============

Energy in a cell: each layer's deposit (presampler: the shower sampled in the
last :math:`X_0` before the accordion; strips / middle / back: the
longitudinal profile; hadronic: rear leakage plus the hadronic fraction of
hadron fakes) spread by a lateral profile — per sub-shower (the two photons
of a meson decay, separated by the decay opening; the two tracks of a
conversion, separated in φ by the B field) a core Gaussian plus a tail
Gaussian whose weight is set so that the middle layer loses the latent
lateral leakage :math:`\ell` outside the 3 × 7 cluster (the 8 %·k wider spread
of data is in :math:`\ell`, the 1 %·k wider core in ``Conditions.width``),
plus a wide jet-activity component for fakes. Then a sampling fluctuation
:math:`\sigma_s\sqrt{E_{cell}}` per cell, a 0.7 % constant term, strip
cross-talk (``Conditions.crosstalk``), a per-layer energy scale
(``Conditions.layer_scale``) and per-cell electronic plus pile-up noise
(mean pile-up offset ∝ μ cosh η, ``Conditions.cell_noise``). Cells with
:math:`|E| \le 2\sigma_{noise}` are dropped unless they neighbour (η or φ,
same layer) a cell above it (a topo-clustering-like threshold with a
perimeter); the shapes are computed from the kept cells only, so they can be
recomputed from the written cells. Energies are GeV here, MeV in files;
cell times ``t`` are in ns.

Shapes (ATLAS definitions on the kept cells): ``Reta`` = E(3×7)/E(7×7),
``Rphi`` = E(3×3)/E(3×7), ``weta2`` the energy-weighted η width in 3×5
(η units), ``weta1`` / ``wtots1`` the strip widths over 3 / 21 strips
around the hottest strip (strip units), ``fracs1`` = (E(±3) - E(±1))/E(±1)
strips, ``Eratio`` = (E_max,1 - E_max,2)/(E_max,1 + E_max,2) with the second
local strip maximum (1 without one), ``DeltaE`` = E_max,2 - E_min between
them, ``f1`` = E1/E, ``Rhad`` = E_had/E. The cluster energy ``e_raw`` is the
sum of the cluster cells of layers 1-3.

In files, the container ``AnalysisPhotonCells`` holds per event the cells of
all its photons, photon after photon (branches
``AnalysisPhotonCellsAuxDyn.{photonIndex, layer, eta, phi, e, t}``; ``photonIndex``
is the photon's index in its event's ``AnalysisPhotons``; ``e`` in MeV).
:func:`decorr_af.data.table.cell_table` reads them back as a
:class:`~decorr_af.columnar.cells.CellSet` aligned with the photon table.

Measured (30 000 events per sample, MC seed 101, data seed 202 at
mismodelling 1, prompt medians; the non-cell toy in brackets): Reta 0.940
(0.945), data - MC -0.0058 (-0.0054); weta2 0.01044 (0.01045), +4.3 %
(+3.7 %); Rphi -0.0043 (-0.0029); f1 +0.020 (+0.014); Reta prompt/fake AUC
0.752 (0.758); Spearman correlation of topoetcone20/pT and Reta on fakes
-0.40 (-0.47); prompt response E/E_true 0.935 (0.921), data/MC -0.6 %
(-1.0 %); a linear fit of log(E_true/E) on |η|, E0/E, E1/E, E3/E,
conversion and log E narrows the prompt response from 0.045 to 0.030
(IQR/1.349; 0.054 -> 0.032 without cells). About 97 cells per photon are kept (of 152: presampler 2.4,
strips 28, middle 52, back 11, hadronic 3.8). ``benchmarks/bench_cells.py``
(40 000 events, one busy core): 4 000 events/s with cells vs 66 000 without,
1.29 kB vs 0.18 kB of file per photon.

Examples
--------
>>> import numpy as np
>>> from decorr_af.data.photons import simulate_photons
>>> ev = simulate_photons(50, rng=np.random.default_rng(0), cells=True)
>>> sorted(ev["AnalysisPhotonCells"].fields)
['e', 'eta', 'layer', 'phi', 'photonIndex', 't']
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy.special import ndtr

from decorr_af.columnar.cells import CellSet
from decorr_af.data.calo import _CLIP, NOMINAL, Conditions

__all__ = ["CELL_FIELDS", "LAYERS", "CellResult", "photon_cells", "shapes_from_windows"]

#: cell fields in memory and in files (``e`` in GeV in memory, MeV in files; ``t`` in ns)
CELL_FIELDS = ("layer", "eta", "phi", "e", "t")
#: layer names by index
LAYERS = ("presampler", "strips", "middle", "back", "hadronic")

_DETA = 0.025
_DPHI = 2.0 * np.pi / 256.0
_PRESAMPLER_ETA = 1.8


class _Layer(NamedTuple):
    w_eta: float  # cell size in middle-cell units
    p_eta: float  # grid phase (a cell edge) relative to the hit middle cell's centre
    n_eta: int
    w_phi: float
    p_phi: float
    n_phi: int
    noise: float  # electronic noise, GeV
    pileup: float  # pile-up noise at mu = 50, eta = 0, GeV
    pileup_mean: float  # mean pile-up energy at mu = 50, eta = 0, GeV
    activity: float  # share of the fakes' jet activity in this layer


_GEOMETRY = (
    _Layer(1.0, -0.5, 5, 4.0, -2.0, 1, 0.030, 0.020, 0.0, 0.05),
    _Layer(0.125, 0.0, 40, 4.0, -2.0, 1, 0.010, 0.006, 0.0008, 0.25),
    _Layer(1.0, -0.5, 7, 1.0, -0.5, 11, 0.025, 0.020, 0.0065, 0.50),
    _Layer(2.0, -1.0, 3, 1.0, -0.5, 7, 0.020, 0.012, 0.0, 0.10),
    _Layer(4.0, -2.0, 3, 4.0, -2.0, 3, 0.040, 0.030, 0.0, 0.10),
)
_THRESHOLD = 2.0  # |E| > 2 sigma_noise kept
_PHI_TAIL = 0.9  # the tail is narrower in phi than in eta (middle-layer cells)


class CellResult(NamedTuple):
    """Cells of ``n`` candidates (in their input order) and what is measured from them."""

    cells: CellSet
    measured: dict[str, np.ndarray]


def _edges(x0: np.ndarray, w: float, p: float, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower edges and centres ``(n, n_cells)`` of a window centred on the cell holding ``x0``."""
    m0 = np.floor((x0 - p) / w)
    m = m0[:, None] + (np.arange(n_cells) - n_cells // 2)[None, :]
    lo = p + m * w
    return lo, lo + 0.5 * w


def _fractions(lo: np.ndarray, w: float, c: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Fraction of a Gaussian (centre ``c``, width ``s``, ``(n,)``) in each cell ``(n, k)``."""
    edges = np.concatenate([lo, lo[:, -1:] + w], axis=1)
    return np.diff(ndtr((edges - c[:, None]) / s[:, None]), axis=1)


def _inside(half: float, c: np.ndarray, s: np.ndarray) -> np.ndarray:
    return ndtr((half - c) / s) - ndtr((-half - c) / s)


def _components(
    lat: dict[str, np.ndarray], rng: np.random.Generator, cond: Conditions
) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], dict[str, Any]]:
    """Sub-shower positions/shares and the per-layer widths of the lateral profile."""
    n = len(lat["e"])
    x0, y0 = lat["off_eta"], lat["off_phi"]
    meson, converted = lat["meson"], lat["charged"]
    # the two photons of a meson decay: share z, opening theta projected on eta and phi
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    cos_a = lat["cos_alpha"]
    theta = np.where(meson, lat["theta"], 0.0)
    d_eta = sign * theta * np.cosh(lat["eta"]) * np.abs(cos_a) / _DETA
    d_phi = theta * np.sqrt(np.clip(1.0 - cos_a**2, 0.0, 1.0)) / _DPHI
    # conversions (not of meson photons): the pair opens in phi in the solenoid field
    conv = converted & ~meson
    z = np.where(meson, lat["z"], np.where(conv, rng.uniform(0.2, 0.8, n), 1.0))
    d_phi = np.where(conv, np.minimum(1.2 * lat["phi_open"] * rng.exponential(1.0, n), 4.0), d_phi)
    subs = [
        (z, x0 + (1.0 - z) * d_eta, y0 + (1.0 - z) * d_phi),
        (1.0 - z, x0 - z * d_eta, y0 - z * d_phi),
    ]
    # core widths (middle-cell units); the tail weight reproduces the latent leakage ell
    up, w = lat["up"], cond.width
    s_core = np.full(n, 0.16 * w) * (1.0 + 0.01 * up)
    s_tail = np.full(n, 1.25)
    in_c = _inside(1.5, x0, s_core) * _inside(3.5, y0, s_core)
    in_t = _inside(1.5, x0, s_tail) * _inside(3.5, y0, _PHI_TAIL * s_tail)
    w_tail = np.clip((in_c - (1.0 - lat["ell"])) / np.maximum(in_c - in_t, 1e-6), 0.0, 0.9)
    widths = {
        0: (np.full(n, 0.35), np.full(n, 1.0), np.clip(0.3 + 0.0 * up, 0, 0.9)),
        1: (
            (0.07 + 0.008 * up) * w,
            0.45 + 0.03 * up,
            np.clip(0.5 * w_tail + 0.04 + 0.02 * up, 0, 0.8),
        ),
        2: (s_core, s_tail, w_tail),
        3: (0.55 * w * np.ones(n), np.full(n, 1.8), np.clip(2.0 * w_tail, 0.0, 0.9)),
        4: (np.full(n, 1.5), np.full(n, 2.0), np.full(n, 0.3)),
    }
    act = {
        "c_eta": x0 + 0.8 * rng.standard_normal(n),
        "c_phi": y0 + 0.8 * rng.standard_normal(n),
    }
    return subs, {"widths": widths, "activity": act}


def _spread(
    true: np.ndarray,
    rows: np.ndarray,
    energy: np.ndarray,
    eta_axis: tuple[np.ndarray, float, np.ndarray, np.ndarray],
    phi_axis: tuple[np.ndarray, float, np.ndarray, np.ndarray],
) -> None:
    """Add ``energy`` spread by a separable Gaussian into ``true[rows]`` (in place)."""
    if len(rows) == 0:
        return
    lo_e, w_e, c_e, s_e = eta_axis
    lo_p, w_p, c_p, s_p = phi_axis
    fe = _fractions(lo_e[rows], w_e, c_e[rows], s_e[rows])
    fp = _fractions(lo_p[rows], w_p, c_p[rows], s_p[rows])
    true[rows] += energy[rows][:, None, None] * fe[:, :, None] * fp[:, None, :]


def _grow(mask: np.ndarray) -> np.ndarray:
    """``mask`` plus its direct η and φ neighbours, ``(n, n_eta, n_phi)``."""
    out = mask.copy()
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    out[:, :, 1:] |= mask[:, :, :-1]
    out[:, :, :-1] |= mask[:, :, 1:]
    return out


def _deposits(lat: dict[str, np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Energy (GeV) deposited per layer by the photon's shower, before sampling and noise."""
    n = len(lat["e"])
    e_em = lat["e"] * (1.0 - lat["had_frac"])
    in_calo = lat["f_back"] - lat["f_u"]
    d1 = e_em * np.clip(
        (lat["f_strip"] - lat["f_u"]) * (1 + 0.04 * rng.standard_normal(n)), 0, None
    )
    d3 = e_em * np.clip(
        (lat["f_back"] - lat["f_middle"]) * (1 + 0.08 * rng.standard_normal(n)), 0, None
    )
    d2 = np.maximum(e_em * in_calo - d1 - d3, 0.0)
    d4 = lat["e"] * lat["had_frac"] + 0.8 * e_em * (1.0 - lat["f_back"])
    d0 = np.where(np.abs(lat["eta"]) < _PRESAMPLER_ETA, np.maximum(lat["e0_true"], 0.0), 0.0)
    const = 1.0 + 0.007 * rng.standard_normal(n)
    return [d * const for d in (d0, d1, d2, d3, d4)]


def photon_cells(
    latent: dict[str, np.ndarray],
    phi: np.ndarray,
    *,
    rng: np.random.Generator,
    conditions: Conditions = NOMINAL,
    threshold: float = _THRESHOLD,
    perimeter: bool = True,
) -> CellResult:
    """Simulate the cells of ``n`` candidates and measure their shapes from them.

    Parameters
    ----------
    latent
        ``calo.shower(...)["latent"]`` plus the decay structure of
        ``photons._fake_structure`` (``meson``, ``z``, ``theta``, ``cos_alpha``).
    phi
        Candidates' φ.
    rng
        The cell random stream (never the stream of the rest of the event).
    conditions
        Detector conditions (noise, cross-talk, layer scales, widths).
    threshold
        Cells with :math:`|E| \\le` ``threshold`` σ_noise are dropped ...
    perimeter
        ... unless they neighbour (in η or φ, same layer) a cell above it, as
        the 0σ perimeter of ATLAS topo-clusters.

    Returns
    -------
    CellResult
        ``cells``: :class:`~decorr_af.columnar.cells.CellSet` with
        :data:`CELL_FIELDS` (``e`` in GeV, absolute η/φ); ``measured``:
        ``e_raw``, ``E0``-``E3`` (GeV) and the ten shower shapes.
    """
    cond = conditions
    n = len(latent["e"])
    eta = np.asarray(latent["eta"], dtype=float)
    cosh = np.cosh(eta)
    mu = np.asarray(latent["mu"], dtype=float)
    subs, prof = _components(latent, rng, cond)
    deposits = _deposits(latent, rng)
    samp = 0.10 + 0.05 * np.abs(eta)
    e_act = 1.5 * latent["core"] * latent["e"]
    eta_c = eta - latent["off_eta"] * _DETA
    phi_c = phi - latent["off_phi"] * _DPHI
    dense: list[np.ndarray] = []
    parts: dict[str, list[np.ndarray]] = {k: [] for k in CELL_FIELDS}
    keep_all = []
    for layer, g in enumerate(_GEOMETRY):
        lo_e, ce = _edges(latent["off_eta"], g.w_eta, g.p_eta, g.n_eta)
        lo_p, cp = _edges(latent["off_phi"], g.w_phi, g.p_phi, g.n_phi)
        s_core, s_tail, w_tail = prof["widths"][layer]
        true = np.zeros((n, g.n_eta, g.n_phi))
        for share, ceta, cphi in subs:
            rows = np.flatnonzero(share > 0)
            for weight, s, s_phi in (
                (1.0 - w_tail, s_core, s_core),
                (w_tail, s_tail, _PHI_TAIL * s_tail),
            ):
                energy = deposits[layer] * share * weight
                _spread(true, rows, energy, (lo_e, g.w_eta, ceta, s), (lo_p, g.w_phi, cphi, s_phi))
        s_act = np.full(n, 1.8 if layer < 3 else 2.2)
        act = prof["activity"]
        _spread(
            true,
            np.flatnonzero(e_act > 0),
            g.activity * e_act,
            (lo_e, g.w_eta, act["c_eta"], s_act),
            (lo_p, g.w_phi, act["c_phi"], s_act),
        )
        meas = true + samp[:, None, None] * np.sqrt(true) * rng.standard_normal(true.shape)
        xt = cond.crosstalk * (1.0 if layer == 1 else 0.2 if layer == 2 else 0.0)
        if xt > 0:
            pad = np.pad(meas, ((0, 0), (1, 1), (0, 0)))
            meas = (1.0 - 2.0 * xt) * meas + xt * (pad[:, :-2] + pad[:, 2:])
        meas *= cond.layer_scale[layer]
        pu_scale = np.sqrt(mu / 50.0) * cosh
        sigma = cond.cell_noise * np.sqrt(g.noise**2 + (g.pileup * pu_scale) ** 2)
        meas = (
            meas
            + (g.pileup_mean * mu / 50.0 * cosh)[:, None, None]
            + sigma[:, None, None] * rng.standard_normal(true.shape)
        )
        keep = (
            _grow(np.abs(meas) > threshold * sigma[:, None, None])
            if perimeter
            else (np.abs(meas) > threshold * sigma[:, None, None])
        )
        if layer == 0:
            keep &= (np.abs(eta) < _PRESAMPLER_ETA)[:, None, None]
        meas = np.where(keep, meas, 0.0)
        dense.append(meas)
        snr = np.abs(meas) / sigma[:, None, None]
        shape = true.shape
        parts["layer"].append(np.full(shape, layer, dtype=np.int16).reshape(n, -1))
        parts["eta"].append(
            np.broadcast_to((eta_c[:, None] + ce * _DETA)[:, :, None], shape).reshape(n, -1)
        )
        phis = np.angle(np.exp(1j * (phi_c[:, None] + cp * _DPHI)))
        parts["phi"].append(np.broadcast_to(phis[:, None, :], shape).reshape(n, -1))
        parts["e"].append(meas.reshape(n, -1))
        parts["t"].append(snr.reshape(n, -1))
        keep_all.append(keep.reshape(n, -1))
    keep = np.concatenate(keep_all, axis=1)
    counts = keep.sum(axis=1)
    feats = np.stack([np.concatenate(parts[k], axis=1)[keep] for k in CELL_FIELDS], axis=1)
    # cell time (ns): 0.3 ns for large signals, wider for cells near the noise
    snr = feats[:, -1]
    feats[:, -1] = rng.standard_normal(len(snr)) * np.sqrt(0.09 + (1.5 / np.maximum(snr, 1.0)) ** 2)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return CellResult(CellSet(offsets, feats, CELL_FIELDS), shapes_from_windows(dense))


def shapes_from_windows(dense: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Cluster energy, layer energies and ATLAS shower shapes from the cell windows.

    ``dense[layer]`` is the ``(n, n_eta, n_phi)`` window of measured cell
    energies (GeV, 0 for dropped cells) in the geometry of the module docstring.

    Examples
    --------
    >>> import numpy as np
    >>> w = [np.zeros((1, 5, 1)), np.zeros((1, 40, 1)), np.zeros((1, 7, 11)),
    ...      np.zeros((1, 3, 7)), np.zeros((1, 3, 3))]
    >>> w[2][0, 3, 5] = 40.0; w[2][0, 2, 5] = 2.0; w[2][0, 0, 5] = 1.0; w[1][0, 20, 0] = 10.0
    >>> s = shapes_from_windows(w)
    >>> round(float(s["Reta"][0]), 4), round(float(s["f1"][0]), 4), float(s["Eratio"][0])
    (0.9767, 0.1923, 1.0)
    """
    ps, strips, mid, back, had = dense
    pos = [np.clip(d, 0.0, None) for d in dense]
    e77 = mid[:, :, 2:9].sum(axis=(1, 2))
    e37 = mid[:, 2:5, 2:9].sum(axis=(1, 2))
    e33 = mid[:, 2:5, 4:7].sum(axis=(1, 2))
    e1 = strips[:, 8:32, 0].sum(axis=1)
    e2 = e37
    e3 = back[:, 1, :].sum(axis=1)
    e0 = ps[:, 1:4, 0].sum(axis=1)
    e_raw = np.maximum(e1 + e2 + e3, 0.5)
    tiny = 1e-9
    # middle-layer eta width in 3x5 (eta units)
    w35 = pos[2][:, 2:5, 3:8].sum(axis=2)
    x = (np.arange(3) - 1.0) * _DETA
    sw = np.maximum(w35.sum(axis=1), tiny)
    m1 = (w35 * x).sum(axis=1) / sw
    weta2 = np.sqrt(np.maximum((w35 * x**2).sum(axis=1) / sw - m1**2, 0.0))
    # strips
    s = pos[1][:, :, 0]
    n, k = s.shape
    idx = np.arange(k)
    imax = np.argmax(s, axis=1)
    e1max = s[np.arange(n), imax]
    dist = idx[None, :] - imax[:, None]

    def width(half: int) -> np.ndarray:
        win = np.abs(dist) <= half
        tot = np.maximum((s * win).sum(axis=1), tiny)
        return np.sqrt((s * win * dist**2).sum(axis=1) / tot)

    def band(half: int) -> np.ndarray:
        return (s * (np.abs(dist) <= half)).sum(axis=1)

    weta1 = width(1)
    wtots1 = width(10)
    fracs1 = (band(3) - band(1)) / np.maximum(band(1), tiny)
    pad = np.pad(s, ((0, 0), (1, 1)))
    local = (s > pad[:, :-2]) & (s >= pad[:, 2:]) & (s > 0) & (dist != 0)
    cand = np.where(local, s, -1.0)
    i2 = np.argmax(cand, axis=1)
    has2 = cand[np.arange(n), i2] > 0
    e2max = np.where(has2, s[np.arange(n), i2], 0.0)
    lo, hi = np.minimum(imax, i2), np.maximum(imax, i2)
    between = (idx[None, :] > lo[:, None]) & (idx[None, :] < hi[:, None])
    emin = np.where(between, s, np.inf).min(axis=1)
    emin = np.where(np.isfinite(emin), emin, e2max)
    eratio = np.where(has2, (e1max - e2max) / np.maximum(e1max + e2max, tiny), 1.0)
    delta_e = np.where(has2, e2max - emin, 0.0)
    shapes = {
        "Reta": e37 / np.where(np.abs(e77) > tiny, e77, tiny),
        "Rphi": e33 / np.where(np.abs(e37) > tiny, e37, tiny),
        "weta2": weta2,
        "weta1": weta1,
        "wtots1": wtots1,
        "fracs1": fracs1,
        "DeltaE": delta_e,
        "Eratio": eratio,
        "f1": e1 / e_raw,
        "Rhad": had.sum(axis=(1, 2)) / e_raw,
    }
    for name, (lo_, hi_) in _CLIP.items():
        shapes[name] = np.clip(shapes[name], lo_, hi_)
    return {"e_raw": e_raw, "E0": np.maximum(e0, 0.0), "E1": e1, "E2": e2, "E3": e3, **shapes}

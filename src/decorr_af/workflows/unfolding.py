r"""Differential ttH(γγ): binned unfolding and OmniFold of p_T^γγ and |y_γγ|.

Sample (:func:`tth_sample`): ttH(H→γγ) events of the toy
(:func:`decorr_af.data.diphoton.simulate_diphoton`), selected at reco level
(diphoton selection and ttH preselection). Reco level: the calibrated photons;
truth (particle) level: the same photons with their true energies (the toy's
photon directions are exact). Every selected event has both, so the response
has no fakes and no inefficiency: the unfolding is to the truth spectrum of the
selected events (an acceptance correction to a fiducial volume is out of
scope).

"Data" (:func:`tilted_weights`): an independent ttH sample whose truth
spectrum differs from the MC one by a documented physical reweighting, a
higher-order-like hardening of the Higgs p_T: ``w ∝ 1 + tilt · p_T^{γγ,true}/100 GeV``
(normalised to keep the yield). The data truth is *only* used for the closure
comparison (tests, notebook), never by the unfolding, which reads truth from MC.

Binnings: STXS-like p_T^γγ bins 0–60–120–200–300–∞ GeV
(:data:`PT_EDGES`), |y_γγ| 0–0.4–0.8–1.2–1.6–2.5 (:data:`Y_EDGES`).

Methods
-------
* :func:`ibu`: iterative Bayesian unfolding (D'Agostini) with the response of
  the MC, ``iterations`` (default 4: the toy's migrations are small, the
  result is stable beyond 3) starting from the MC truth prior.
* :func:`omnifold` (Andreassen et al., arXiv:1911.09107): unbinned and
  iterative; step 1 (detector level) a classifier separates data from MC reco
  weighted with the current *push* weights, its likelihood ratio gives the
  *pull* weights; step 2 (particle level) a classifier separates MC truth with
  pull weights from MC truth with push weights, its ratio is the new push
  weight, a function of truth only. Classifier: sklearn
  ``HistGradientBoostingClassifier`` (small, regularised), probabilities
  clipped to [0.01, 0.99]. The unfolded distribution is the MC truth with the
  final push weights (normalised to the data yield).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError

__all__ = [
    "PT_EDGES",
    "Y_EDGES",
    "OmniFoldResult",
    "binned",
    "ibu",
    "omnifold",
    "response_matrix",
    "tilted_weights",
    "tth_sample",
]

#: STXS-like p_T^γγ bins (GeV; the last is an overflow)
PT_EDGES = np.array([0.0, 60.0, 120.0, 200.0, 300.0, np.inf])
#: |y_γγ| bins
Y_EDGES = np.array([0.0, 0.4, 0.8, 1.2, 1.6, 2.5])


def _pair(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """p_T and |y| of the photon pair from per-photon ``(n, 2)`` arrays (GeV)."""
    px = (pt * np.cos(phi)).sum(axis=1)
    py = (pt * np.sin(phi)).sum(axis=1)
    pz = (pt * np.sinh(eta)).sum(axis=1)
    e = (pt * np.cosh(eta)).sum(axis=1)
    return np.hypot(px, py), np.abs(0.5 * np.log((e + pz) / (e - pz)))


def tth_sample(n_events: int, *, seed: int) -> dict[str, np.ndarray]:
    """Reco- and truth-level ``pt`` and ``absy`` of ``n_events`` selected ttH(γγ) events.

    Returns ``reco_pt, reco_absy, truth_pt, truth_absy`` (GeV) and ``weight`` (the
    generator weights).

    Examples
    --------
    >>> s = tth_sample(200, seed=1)
    >>> sorted(s), bool(np.median(np.abs(s["reco_pt"] / s["truth_pt"] - 1)) < 0.05)
    (['reco_absy', 'reco_pt', 'truth_absy', 'truth_pt', 'weight'], True)
    """
    import awkward as ak

    from decorr_af.data.diphoton import simulate_diphoton

    ev = simulate_diphoton(
        n_events, rng=np.random.default_rng([int(seed), 0x0F01D]), fractions={"ttH_yy": 1.0}
    )
    ph = ev["AnalysisPhotons"]

    def arr(field: str) -> np.ndarray:
        return ak.to_numpy(ph[field]).astype(np.float64).reshape(-1, 2)

    eta, phi = arr("eta"), arr("phi")
    reco_pt, reco_y = _pair(arr("pt") * 1e-3, eta, phi)
    truth_pt, truth_y = _pair(arr("truth_e") * 1e-3 / np.cosh(eta), eta, phi)
    w = ak.to_numpy(ak.flatten(ev["EventInfo"]["mcEventWeights"])).astype(np.float64)
    return {
        "reco_pt": reco_pt,
        "reco_absy": reco_y,
        "truth_pt": truth_pt,
        "truth_absy": truth_y,
        "weight": w,
    }


def tilted_weights(truth_pt: np.ndarray, tilt: float = 0.3) -> np.ndarray:
    """Higher-order-like p_T hardening ``1 + tilt · p_T/100 GeV``, mean 1.

    Examples
    --------
    >>> w = tilted_weights(np.array([0.0, 100.0, 200.0]))
    >>> bool(abs(w.mean() - 1) < 1e-12 and w[0] < w[1] < w[2])
    True
    """
    if tilt <= -0.5:
        raise ConfigError(f"parameter 'tilt' must be > -0.5 (weights stay positive), got {tilt}")
    w = 1.0 + tilt * np.asarray(truth_pt, dtype=np.float64) / 100.0
    return w / w.mean()


def binned(x: np.ndarray, edges: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Weighted counts of ``x`` in ``edges`` (values above the last finite edge in the last bin).

    Examples
    --------
    >>> binned(np.array([10.0, 500.0]), PT_EDGES).tolist()
    [1.0, 0.0, 0.0, 0.0, 1.0]
    """
    e = np.asarray(edges, dtype=np.float64)
    idx = np.clip(np.searchsorted(e, np.asarray(x), side="right") - 1, 0, len(e) - 2)
    return np.bincount(idx, weights=w, minlength=len(e) - 1).astype(np.float64)


def response_matrix(
    reco: np.ndarray, truth: np.ndarray, w: np.ndarray, edges: np.ndarray
) -> np.ndarray:
    """``R[i, j] = P(reco bin i | truth bin j)`` from MC (columns sum to 1).

    Examples
    --------
    >>> r = response_matrix(np.array([10.0, 70.0]), np.array([10.0, 10.0]), np.ones(2), PT_EDGES)
    >>> r[:2, 0].tolist()
    [0.5, 0.5]
    """
    n = len(edges) - 1
    i = np.clip(np.searchsorted(edges, reco, side="right") - 1, 0, n - 1)
    j = np.clip(np.searchsorted(edges, truth, side="right") - 1, 0, n - 1)
    m = np.zeros((n, n))
    np.add.at(m, (i, j), w)
    col = m.sum(axis=0)
    return np.divide(m, col, out=np.zeros_like(m), where=col > 0)


def ibu(
    data_reco: np.ndarray,
    response: np.ndarray,
    prior: np.ndarray,
    *,
    iterations: int = 4,
) -> np.ndarray:
    """Iterative Bayesian unfolding of the binned reco counts ``data_reco``.

    Examples
    --------
    >>> ibu(np.array([30.0, 70.0]), np.eye(2), np.array([50.0, 50.0])).tolist()
    [30.0, 70.0]
    """
    if iterations < 1:
        raise ConfigError(f"parameter 'iterations' must be >= 1, got {iterations}")
    t = np.asarray(prior, dtype=np.float64) / np.sum(prior) * np.sum(data_reco)
    r = np.asarray(response, dtype=np.float64)
    for _ in range(iterations):
        folded = r @ t
        ratio = np.divide(data_reco, folded, out=np.zeros_like(folded), where=folded > 0)
        t = t * (r.T @ ratio)
    return t


@dataclasses.dataclass
class OmniFoldResult:
    """Push weights (truth level) and pull weights (detector level) per iteration."""

    push: list[np.ndarray]
    pull: list[np.ndarray]

    @property
    def weights(self) -> np.ndarray:
        """Final push weights of the MC events (the unfolded result)."""
        return self.push[-1]


def _default_classifier() -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=60, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=200, random_state=0
    )


def _ratio(
    x0: np.ndarray, w0: np.ndarray, x1: np.ndarray, w1: np.ndarray, make: Callable[[], Any]
) -> np.ndarray:
    """Likelihood ratio p1/p0 (normalised densities) at ``x0`` from a classifier."""
    x = np.concatenate([x0, x1])
    y = np.concatenate([np.zeros(len(x0)), np.ones(len(x1))])
    w = np.concatenate([w0 / w0.sum(), w1 / w1.sum()]) * len(x)
    clf = make()
    clf.fit(x, y, sample_weight=w)
    p = np.clip(clf.predict_proba(x0)[:, 1], 0.01, 0.99)
    return p / (1.0 - p)


def omnifold(
    mc_reco: np.ndarray,
    mc_truth: np.ndarray,
    mc_weight: np.ndarray,
    data_reco: np.ndarray,
    data_weight: np.ndarray | None = None,
    *,
    iterations: int = 4,
    classifier: Callable[[], Any] | None = None,
) -> OmniFoldResult:
    """OmniFold (two steps per iteration) of ``data_reco`` with the MC pairs.

    Parameters
    ----------
    mc_reco, mc_truth
        ``(n, d)`` detector- and particle-level features of the MC events.
    mc_weight
        MC event weights.
    data_reco
        ``(m, d)`` detector-level features of the data.
    data_weight
        Data event weights (default 1).
    iterations
        Number of iterations (each: step 1 detector level, step 2 particle level).
    classifier
        Factory of a sklearn-style classifier with ``sample_weight`` (default: a small
        ``HistGradientBoostingClassifier``).

    Returns
    -------
    OmniFoldResult
        ``weights`` are the MC event weights of the unfolded truth distribution,
        normalised to the data yield.
    """
    if iterations < 1:
        raise ConfigError(f"parameter 'iterations' must be >= 1, got {iterations}")
    mc_reco, mc_truth, data_reco = (
        np.asarray(a, dtype=np.float64).reshape(len(a), -1) for a in (mc_reco, mc_truth, data_reco)
    )
    w0 = np.asarray(mc_weight, dtype=np.float64)
    wd = (
        np.ones(len(data_reco))
        if data_weight is None
        else np.asarray(data_weight, dtype=np.float64)
    )
    if len(mc_reco) != len(mc_truth) or len(w0) != len(mc_reco):
        raise ConfigError("omnifold: mc_reco, mc_truth and mc_weight need the same length")
    make = classifier or _default_classifier
    scale = wd.sum() / w0.sum()
    push, pulls, pushes = w0 * scale, [], []
    for _ in range(iterations):
        pull = push * _ratio(mc_reco, push, data_reco, wd, make)
        pull *= wd.sum() / pull.sum()
        push = push * _ratio(mc_truth, push, mc_truth, pull, make)
        push *= wd.sum() / push.sum()
        pulls.append(pull)
        pushes.append(push)
    return OmniFoldResult(push=pushes, pull=pulls)

r"""Z-boson kinematics shared by the Z→ee and Z→μμγ toys.

* Mass: relativistic Breit-Wigner, :math:`m_Z = 91.1876` GeV,
  :math:`\Gamma_Z = 2.4952` GeV, truncated to :data:`MASS_RANGE`; the
  non-resonant continuum falls as :math:`e^{-m/25\,\mathrm{GeV}}` on the same range.
* :math:`p_T^Z \sim \Gamma(1.3, 6\,\mathrm{GeV})`, rapidity
  :math:`y \sim N(0, 1.7)`, :math:`\phi` uniform.
* Two-body decays :math:`1 + \cos^2\theta^*` in the rest frame; the FSR
  three-body decay :math:`Z\to\mu\mu\gamma` uses the energy fractions
  :math:`x_i = 2E_i/m` (:math:`x_1 + x_2 + x_\gamma = 2`): :math:`x_\gamma` from
  the splitting function :math:`(1 + (1-x)^2)/x` above :data:`X_GAMMA_MIN` and
  the collinear invariant :math:`y = m_{1\gamma}^2/m^2` log-uniform in
  :math:`[10^{-4}x_\gamma, x_\gamma)` (the collinear enhancement, regulated by
  the muon mass), then a uniformly random orientation.

Particles are massless here (the lepton masses are negligible at these energies).
Four-vectors are ``(E, px, py, pz)`` arrays of shape ``(n, 4)`` in GeV.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MASS_RANGE",
    "M_Z",
    "X_GAMMA_MIN",
    "boost",
    "decay_fsr",
    "decay_two_body",
    "draw_masses",
    "eta_phi_e",
    "z_momenta",
]

M_Z = 91.1876
GAMMA_Z = 2.4952
#: generated true-mass range of the Z/γ* (GeV)
MASS_RANGE = (60.0, 125.0)
#: minimum photon energy fraction 2E_γ/m of the FSR photon in the Z frame
X_GAMMA_MIN = 0.12


def draw_masses(n: int, rng: np.random.Generator, *, continuum: np.ndarray) -> np.ndarray:
    """Breit-Wigner Z masses, or the falling continuum where ``continuum`` is true.

    Examples
    --------
    >>> import numpy as np
    >>> m = draw_masses(2000, np.random.default_rng(0), continuum=np.zeros(2000, bool))
    >>> bool(abs(np.median(m) - 91.19) < 0.5)
    True
    """
    lo, hi = MASS_RANGE
    # relativistic BW in m^2: inverse CDF of the Cauchy in s
    s_lo, s_hi = lo**2, hi**2
    mg = M_Z * GAMMA_Z
    a_lo, a_hi = np.arctan((s_lo - M_Z**2) / mg), np.arctan((s_hi - M_Z**2) / mg)
    s = M_Z**2 + mg * np.tan(rng.uniform(a_lo, a_hi, n))
    bw = np.sqrt(s)
    tau = 25.0
    c_lo, c_hi = np.exp(-lo / tau), np.exp(-hi / tau)
    cont = -tau * np.log(rng.uniform(c_hi, c_lo, n))
    return np.where(continuum, cont, bw)


def z_momenta(m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lab four-momenta of Z bosons of mass ``m`` (see module docstring)."""
    n = len(m)
    pt = rng.gamma(1.3, 6.0, n)
    y = rng.normal(0.0, 1.7, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    mt = np.sqrt(m**2 + pt**2)
    return np.column_stack([mt * np.cosh(y), pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y)])


def _random_rotations(n: int, rng: np.random.Generator) -> np.ndarray:
    q = rng.standard_normal((n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=1,
    )


def boost(p: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Boost rest-frame four-vectors ``p`` into the frame where the parent has ``parent``."""
    m = np.sqrt(np.maximum(parent[:, 0] ** 2 - np.sum(parent[:, 1:] ** 2, axis=1), 1e-12))
    beta = parent[:, 1:] / parent[:, :1]
    gamma = parent[:, 0] / m
    bp = np.sum(beta * p[:, 1:], axis=1)
    b2 = np.sum(beta**2, axis=1)
    coef = np.where(b2 > 0, (gamma - 1.0) / np.where(b2 > 0, b2, 1.0), 0.0) * bp + gamma * p[:, 0]
    e = gamma * (p[:, 0] + bp)
    return np.column_stack([e, p[:, 1:] + coef[:, None] * beta])


def decay_two_body(parent: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Massless two-body decay with :math:`1+\\cos^2\\theta^*` (θ* w.r.t. the z axis)."""
    n = len(parent)
    m = np.sqrt(np.maximum(parent[:, 0] ** 2 - np.sum(parent[:, 1:] ** 2, axis=1), 0.0))
    # 1 + c^2 on [-1, 1] by accept-reject (efficiency 2/3); vectorised with oversampling
    c = np.empty(0)
    while len(c) < n:
        trial = rng.uniform(-1.0, 1.0, 3 * n)
        c = np.concatenate([c, trial[rng.uniform(0.0, 2.0, 3 * n) < 1.0 + trial**2]])
    c = c[:n]
    s = np.sqrt(1.0 - c**2)
    ph = rng.uniform(-np.pi, np.pi, n)
    e = m / 2.0
    p1 = np.column_stack([e, e * s * np.cos(ph), e * s * np.sin(ph), e * c])
    p2 = p1 * np.array([1.0, -1.0, -1.0, -1.0])
    return boost(p1, parent), boost(p2, parent)


def decay_fsr(
    parent: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z → ℓ(radiating) ℓ γ with a soft/collinear FSR photon (module docstring).

    Returns the lab four-vectors of the radiating lepton, the other lepton and
    the photon.
    """
    n = len(parent)
    m = np.sqrt(np.maximum(parent[:, 0] ** 2 - np.sum(parent[:, 1:] ** 2, axis=1), 0.0))
    x3 = np.empty(0)
    while len(x3) < n:  # 1/x proposal, accept (1 + (1-x)^2)/2
        trial = X_GAMMA_MIN ** (1.0 - rng.random(2 * n))
        keep = rng.random(2 * n) < (1.0 + (1.0 - trial) ** 2) / 2.0
        x3 = np.concatenate([x3, trial[keep & (trial < 0.999)]])
    x3 = x3[:n]
    y = x3 * 10.0 ** (-4.0 * rng.random(n))
    x2 = 1.0 - y
    x1 = 2.0 - x2 - x3
    e1, e2, e3 = x1 * m / 2, x2 * m / 2, x3 * m / 2
    cos13 = np.clip(1.0 - 2.0 * y / (x1 * x3), -1.0, 1.0)
    sin13 = np.sqrt(1.0 - cos13**2)
    p3 = np.column_stack([e3, np.zeros(n), np.zeros(n), e3])
    p1 = np.column_stack([e1, e1 * sin13, np.zeros(n), e1 * cos13])
    p2 = np.column_stack([e2, -(p1[:, 1:] + p3[:, 1:])])
    rot = _random_rotations(n, rng)
    out = []
    for p in (p1, p2, p3):
        q = np.column_stack([p[:, 0], np.einsum("nij,nj->ni", rot, p[:, 1:])])
        out.append(boost(q, parent))
    return out[0], out[1], out[2]


def eta_phi_e(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(pt, eta, phi, E)`` of massless four-vectors."""
    pt = np.hypot(p[:, 1], p[:, 2])
    eta = np.arcsinh(p[:, 3] / np.maximum(pt, 1e-9))
    phi = np.arctan2(p[:, 2], p[:, 1])
    return pt, eta, phi, p[:, 0]

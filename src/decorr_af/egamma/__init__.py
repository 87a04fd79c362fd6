"""e/γ performance kernels: Z→ee line shapes, energy scales, tag-and-probe efficiencies.

Data-driven methods of the ATLAS e/γ calibration and identification measurements,
on plain numpy arrays (no tables, no files):

* :mod:`~decorr_af.egamma.lineshape`: Breit–Wigner ⊗ Crystal-Ball m_ee line shape with
  an exponential background, binned extended likelihood fit (iminuit);
* :mod:`~decorr_af.egamma.scales`: energy-scale factors α_i and resolution
  constant-term corrections c′_i per |η| bin from the (η_i, η_j) pair categories;
* :mod:`~decorr_af.egamma.tagprobe`: radiative-Z tag-and-probe efficiencies with
  sideband subtraction or MC-template fits, and data/MC scale factors.

Only numpy, scipy, iminuit, :mod:`decorr_af.metrics` and :mod:`decorr_af.errors` are
imported here (a kernel layer).
"""

from __future__ import annotations

from decorr_af.egamma.lineshape import GAMMA_Z, M_Z, LineShapeFit, fit_line_shape, line_shape_pdf
from decorr_af.egamma.scales import ScaleResult, extract_scales, pair_categories
from decorr_af.egamma.tagprobe import (
    Efficiency,
    binned_efficiencies,
    scale_factor,
    sideband_background,
    tag_probe_efficiency,
    template_efficiency,
    template_yields,
)

__all__ = [
    "GAMMA_Z",
    "M_Z",
    "Efficiency",
    "LineShapeFit",
    "ScaleResult",
    "binned_efficiencies",
    "extract_scales",
    "fit_line_shape",
    "line_shape_pdf",
    "pair_categories",
    "scale_factor",
    "sideband_background",
    "tag_probe_efficiency",
    "template_efficiency",
    "template_yields",
]


def __dir__() -> list[str]:
    return list(__all__)

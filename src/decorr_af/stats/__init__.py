"""Statistics kernels of the ttH(γγ) measurement (numpy, scipy, pyhf).

* :mod:`.shapes`: double-sided Crystal Ball signal shape and its fit;
* :mod:`.functions`: registry of smooth continuum background functions;
* :mod:`.spurious`: the ATLAS spurious-signal test and the function choice;
* :mod:`.likelihood`: the binned multi-category pyhf likelihood (μ, spurious
  signal nuisance parameters), expected significance, μ interval, toys;
* :mod:`.kappa`: κ-framework (κ_t, κ_W) and linear SMEFT interpretation.
"""

from decorr_af.stats.functions import functions, get_function, register_function
from decorr_af.stats.kappa import kappa_t_interval, mu_tth_yy
from decorr_af.stats.likelihood import Category, Measurement
from decorr_af.stats.shapes import DSCB, fit_dscb
from decorr_af.stats.spurious import choose_function, expected_signal_error

__all__ = [
    "DSCB",
    "Category",
    "Measurement",
    "choose_function",
    "expected_signal_error",
    "fit_dscb",
    "functions",
    "get_function",
    "kappa_t_interval",
    "mu_tth_yy",
    "register_function",
]

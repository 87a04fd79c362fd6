"""Helpers shared by the workflow plot modules (result loading, weighted ROC, ratios)."""

from __future__ import annotations

from typing import Any

import numpy as np

from decorr_af.plot.results import as_result, select_models

__all__ = ["as_result", "efficiency", "model_list", "normalised", "ratio"]

#: former private name of :func:`decorr_af.plot.results.select_models`
model_list = select_models


def efficiency(h_pass: Any, h_fail: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-bin efficiency pass/(pass+fail) of weighted 1-D hists, its error and the edges."""
    p, f = h_pass.values(), h_fail.values()
    vp, vf = h_pass.variances(), h_fail.variances()
    tot = p + f
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = np.where(tot > 0, p / tot, np.nan)
        # error propagation of p / (p + f) with independent weighted counts
        err = np.where(tot > 0, np.sqrt(f**2 * vp + p**2 * vf) / tot**2, np.nan)
    return eff, err, h_pass.axes[0].edges


def ratio(
    num: np.ndarray, den: np.ndarray, vnum: np.ndarray, vden: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """num/den of two (normalised) histograms with an uncorrelated error."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(den > 0, num / den, np.nan)
        err = np.where((den > 0) & (num > 0), r * np.sqrt(vnum / num**2 + vden / den**2), np.nan)
    return r, err


def normalised(h: Any) -> tuple[np.ndarray, np.ndarray]:
    """Values and variances of a weighted 1-D hist scaled to unit area (density per bin)."""
    v, var = h.values(), h.variances()
    widths = np.diff(h.axes[0].edges)
    total = v.sum()
    if total <= 0:
        return np.zeros_like(v), np.zeros_like(v)
    return v / total / widths, var / (total * widths) ** 2

"""Workflow 3: ttH(γγ) classifier decorrelated from m_γγ.

Signal (ttH, H→γγ) is separated from the tt̄γγ, γγ+jets and γ+jet backgrounds of
the diphoton MC sample (a ttH category: diphoton selection and ttH preselection,
see :mod:`decorr_af.data.diphoton`). The analysis fits m_γγ in the selected events with a smooth falling
background, so a classifier must not *sculpt* the background m_γγ spectrum.

Inputs (``Config.features``, default :data:`DEFAULT_FEATURES`, see
:mod:`._tth_inputs`): dimensionless diphoton variables (``pT_γγ/m_γγ``,
``pT1/m_γγ``, ``pT2/m_γγ``, the photon η, ``|cos θ*|``, ``|Δφ_γγ|``) that cannot
rebuild m_γγ, and the jet/lepton variables (multiplicities, ``H_T``, leading jet
``p_T``). m_γγ and the GeV momenta that rebuild it (:data:`MASS_LEAKING`) are
refused. In the continua the jet momenta grow with m_γγ, so a plain classifier
sculpts the background; the tt̄γγ background has the signal's jets.

Models: ``plain_mlp``, ``disco_mlp`` (DisCo on background against m_γγ),
``adversary_mlp`` (adversary; ``adv_mlp`` is its old name), ``plain_bdt``,
``disco_bdt``, or spec mappings (:mod:`decorr_af.workflows.specs`).

Weights are normalised per process (``mcChannelNumber``) to the expected yield
σ·ε·L (:func:`decorr_af.data.diphoton.expected_yield`: cross-section times the
generator filter efficiency of the diphoton selection and ttH preselection, at
``luminosity_fb``), on the training and the test set separately, so the
background mixture is physical whatever the generated fractions, and the
yields of the test set (events / GeV in the fits) are those of the ttH category
at that luminosity. The classes are then balanced for training.
Fits need at least ``min_fit_events`` selected background MC events; otherwise
the fit metrics are NaN.

Metrics per model (test set):
``auc``, ``r50`` (background rejection at 50 % signal efficiency),
``dcor``/``inv_dcor`` (score vs m_γγ on background), ``jsd``/``inv_jsd`` (background
m_γγ passing vs failing the working point, signal efficiency ``wp_efficiency``),
and from the m_γγ fits in the selected events (:mod:`._myyfit`):
``significance`` (Asimov Z in mean ± 2σ, with s from the signal-shape fit of the
selected signal MC and b from the exponential fit of the selected background MC),
``fit_s``/``fit_b`` (those yields in the window), ``splusb_ns`` (signal yield of a
signal+background fit to the selected MC sum),
``sig_mean``/``sig_sigma``, ``bkg_chi2ndf`` (exponential fit of the selected
background MC: a sculpted background is badly described), ``spurious_signal``
(signal yield fitted on background-only MC, the spurious-signal test) and
``spurious_rel`` (divided by the expected signal yield, with its MC statistical
uncertainty ``spurious_rel_err``), ``spurious_over_err`` (over the fit
uncertainty), ``spurious_over_sqrtb`` (over the statistical uncertainty of the
background in the window, ATLAS's second criterion), ``bkg_per_gev`` (expected
background density in the window, events / GeV at ``luminosity_fb``).

Examples
--------
>>> from decorr_af.workflows import tth
>>> res = tth.run(tth.Config(diphoton_files=("samples/diphoton_mc/*.root",)), seed=2)  # doctest: +SKIP
>>> res.metrics["disco_mlp.inv_jsd"], res.metrics["disco_mlp.significance"]            # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, ClassVar

import numpy as np

from decorr_af.errors import ConfigError
from decorr_af.workflows import _classify
from decorr_af.workflows import _myyfit as fit
from decorr_af.workflows._data import (
    feature_matrix,
    load_diphotons,
    subsample,
    train_test_split_idx,
)
from decorr_af.workflows._tth_inputs import (
    ALL_FEATURES,
    DIPHOTON_FEATURES,
    FEATURE_SETS,
    JET_FEATURES,
    MASS_LEAKING,
    add_inputs,
    check_features,
)
from decorr_af.workflows.base import RunResult
from decorr_af.workflows.inputs import read_inputs
from decorr_af.workflows.vocabulary import (
    CLASSIFIER_SELECTIONS,
    PROTECTED,
    array_key,
    protected_hist,
)

__all__ = [
    "ALL_FEATURES",
    "DEFAULT_FEATURES",
    "DEFAULT_PARETO",
    "DIPHOTON_FEATURES",
    "FEATURE_SETS",
    "JET_FEATURES",
    "MASS_LEAKING",
    "MODELS",
    "PRIMARY_MODEL",
    "Config",
    "myy_fits",
    "normalise_weights",
    "run",
]

WORKFLOW = "tth"
MODELS = _classify.ML_MODELS
PRIMARY_MODEL = "disco_mlp"
DEFAULT_PARETO = [
    ("disco_mlp.r50", "disco_mlp.inv_jsd"),
    ("disco_mlp.significance", "disco_mlp.inv_jsd"),
    ("adversary_mlp.r50", "adversary_mlp.inv_jsd"),
    ("disco_bdt.r50", "disco_bdt.inv_jsd"),
]
#: default inputs: dimensionless diphoton variables and the jets
DEFAULT_FEATURES = FEATURE_SETS["diphoton+jets"]


@dataclasses.dataclass(frozen=True)
class Config(_classify.ClassifierConfig):
    """ttH(γγ) workflow configuration (GeV).

    The classifier hyper-parameters (``strength``, ``hidden``, ``epochs``, ...) are
    those of :class:`~decorr_af.workflows._classify.ClassifierConfig`.
    ``myy_range`` is the fit range (events outside are dropped); ``myy_bins`` its
    number of bins; ``signal_shape`` the fitted signal model.
    """

    workflow: ClassVar[str] = WORKFLOW

    diphoton_files: tuple[str, ...] = ("samples/diphoton_mc/*.root",)
    features: tuple[str, ...] = DEFAULT_FEATURES
    protected: str = "myy"
    myy_range: tuple[float, float] = (105.0, 160.0)
    myy_bins: int = 55
    signal_shape: str = "gauss"
    luminosity_fb: float = 140.0
    min_fit_events: int = 20

    def validate(self) -> None:
        super().validate()
        check_features(self.features, protected=self.protected)
        self.check(positive=("myy_bins", "luminosity_fb"))
        if len(self.myy_range) != 2 or self.myy_range[0] >= self.myy_range[1]:
            raise ConfigError(f"parameter 'myy_range' must be (low, high), got {self.myy_range}")
        try:
            fit.SignalShape(self.signal_shape)
        except ValueError:
            raise ConfigError(
                f"parameter 'signal_shape' must be one of "
                f"{[s.value for s in fit.SignalShape]}, got {self.signal_shape!r}"
            ) from None


def normalise_weights(w: np.ndarray, channel: np.ndarray, luminosity_fb: float) -> np.ndarray:
    """Scale weights per process (``mcChannelNumber``) to sum to σ·ε·L.

    Examples
    --------
    >>> from decorr_af.data.diphoton import expected_yield
    >>> from decorr_af.data.schema import DIPHOTON_CHANNELS
    >>> ch = np.array([DIPHOTON_CHANNELS["ttH_yy"]] * 2)
    >>> bool(np.isclose(normalise_weights(np.ones(2), ch, 140.0).sum(), expected_yield("ttH_yy", 140.0)))
    True
    """
    from decorr_af.data.diphoton import expected_yield
    from decorr_af.data.schema import DIPHOTON_CHANNELS

    out = np.asarray(w, dtype=np.float64).copy()
    channel = np.asarray(channel)
    known = np.zeros(len(out), dtype=bool)
    for process, number in DIPHOTON_CHANNELS.items():
        sel = channel == number
        known |= sel
        if sel.any():
            out[sel] *= expected_yield(process, luminosity_fb) / out[sel].sum()
    if not known.all():
        bad = sorted({int(c) for c in channel[~known]})
        raise ConfigError(
            f"mcChannelNumber(s) {bad} are not diphoton toy processes "
            f"({dict(DIPHOTON_CHANNELS)}): tth needs MC with known cross-sections"
        )
    return out


def _whist(x: np.ndarray, w: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.stack(
        [np.histogram(x, edges, weights=w)[0], np.histogram(x, edges, weights=w * w)[0]], axis=-1
    )


def myy_fits(
    myy: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    passed: np.ndarray,
    *,
    edges: np.ndarray,
    shape: str = "gauss",
    min_events: int = 20,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Signal, background, spurious-signal and S+B fits of the selected events.

    Returns the metrics (without model prefix) and a JSON-able fit summary.
    """
    sig, bkg = passed & (y == 1), passed & (y == 0)
    if min(sig.sum(), bkg.sum()) < min_events:
        nan = float("nan")
        keys = (
            "significance",
            "fit_s",
            "fit_b",
            "sig_mean",
            "sig_sigma",
            "bkg_slope",
            "bkg_chi2ndf",
            "spurious_signal",
            "spurious_rel",
            "spurious_rel_err",
            "spurious_over_err",
            "spurious_over_sqrtb",
            "bkg_per_gev",
        )
        note = f"too few selected MC events to fit ({int(sig.sum())} signal, {int(bkg.sum())} background)"
        return dict.fromkeys(keys, nan), {"valid": False, "note": note}
    h_sig = _whist(myy[sig], w[sig], edges)
    h_bkg = _whist(myy[bkg], w[bkg], edges)
    s_fit = fit.fit_signal(h_sig, edges, shape=shape)
    b_fit = fit.fit_background(h_bkg, edges)
    spur = fit.fit_splusb(h_bkg, edges, shape=shape, signal_params=s_fit["params"])
    sb = fit.fit_splusb(h_sig + h_bkg, edges, shape=shape, signal_params=s_fit["params"])
    rng = (float(edges[0]), float(edges[-1]))
    fs, fb, window = fit.window_fractions(
        rng, shape=shape, signal_params=s_fit["params"], slope=b_fit["slope"]
    )
    # Asimov: expected yields in the window from the signal fit and the smooth
    # background fit (the S+B fit of the MC sum is reported, but MC fluctuations
    # of heavily weighted background events would dominate its signal yield)
    s, b = s_fit["yield"] * fs, b_fit["nb"] * fb
    expected_s = float(np.sum(w[sig]))
    metrics = {
        "significance": fit.asimov_significance(s, b),
        "fit_s": s,
        "fit_b": b,
        "splusb_ns": sb["ns"],
        "sig_mean": s_fit["params"]["mean"],
        "sig_sigma": s_fit["params"]["sigma"],
        "bkg_slope": b_fit["slope"],
        "bkg_chi2ndf": b_fit["chi2ndf"],
        "spurious_signal": spur["ns"],
        "spurious_rel": spur["ns"] / expected_s if expected_s > 0 else float("nan"),
        "spurious_rel_err": spur["ns_err"] / expected_s if expected_s > 0 else float("nan"),
        "spurious_over_err": spur["ns"] / spur["ns_err"],
        "spurious_over_sqrtb": spur["ns"] / math.sqrt(b) if b > 0 else float("nan"),
        "bkg_per_gev": b / (window[1] - window[0]) if window[1] > window[0] else float("nan"),
    }
    summary = {
        "shape": str(fit.SignalShape(shape).value),
        "range": list(rng),
        "bins": len(edges) - 1,
        "signal_params": s_fit["params"],
        "signal_yield": s_fit["yield"],
        "ns": sb["ns"],
        "nb": sb["nb"],
        "slope": sb["slope"],
        "bkg_only": {
            "nb": b_fit["nb"],
            "slope": b_fit["slope"],
            "chi2": b_fit["chi2"],
            "ndf": b_fit["ndf"],
        },
        "window": list(window),
        "valid": bool(s_fit["valid"] and b_fit["valid"] and sb["valid"]),
    }
    return metrics, summary


def _hist_myy(
    models: list[str], arrays: dict[str, np.ndarray], passed: dict, edges: np.ndarray
) -> Any:
    import hist

    h = hist.Hist(
        hist.axis.StrCategory(models, name="model"),
        hist.axis.IntCategory([0, 1], name="signal"),
        hist.axis.IntCategory([0, 1], name="passed"),
        hist.axis.Variable(edges, name="myy", label=r"$m_{\gamma\gamma}$ [GeV]"),
        storage=hist.storage.Weight(),
    )
    for m in models:
        h.fill(
            model=m,
            signal=arrays["label"],
            passed=passed[m].astype(int),
            myy=arrays["myy"],
            weight=arrays["weight"],
        )
    return h


def _protected_hist(
    models: list[str], arrays: dict[str, np.ndarray], passed: dict, edges: np.ndarray,
    variable: str,
) -> Any:  # fmt: skip
    """The protected-variable histogram: background passing / failing each working point."""
    h = protected_hist(models, edges, variable=variable, label=r"$m_{\gamma\gamma}$ [GeV]",
                       selection_label="Background passing / failing the working point")  # fmt: skip
    bkg = arrays["label"] == 0
    x, w = arrays["myy"][bkg], arrays["weight"][bkg]
    for m in models:
        ok = passed[m][bkg]
        for sel, mask in zip(CLASSIFIER_SELECTIONS, (ok, ~ok)):
            h.fill(model=m, selection=sel, **{variable: x[mask]}, weight=w[mask])
    return h


def run(
    config: Config,
    *,
    strength: float | None = None,
    seed: int = 0,
    out: str | os.PathLike[str] | None = None,
) -> RunResult:
    """Train the configured ttH(γγ) classifiers and evaluate sculpting and significance.

    Parameters
    ----------
    config
        The workflow configuration.
    strength
        Shorthand for ``config.replace(strength=strength)`` (λ of the penalties).
    seed
        Seeds the subsample, the train/test split and the models.
    out
        If given, the result is saved there.

    Examples
    --------
    >>> res = run(Config(diphoton_files=("mc/*.root",), models=("plain_mlp",)))  # doctest: +SKIP
    """
    if not isinstance(config, Config):
        raise ConfigError(f"tth.run needs a tth.Config, got {type(config).__name__}")
    config = config.with_strength(strength)
    specs = config.model_specs()
    df = read_inputs("diphoton_files", config.diphoton_files, load_diphotons)
    if "mcChannelNumber" not in df:
        raise ConfigError("tth: the diphoton files carry no mcChannelNumber (MC is needed)")
    lo, hi = config.myy_range
    myy_all = df[config.protected].to_numpy(dtype=np.float64)
    df = df[(myy_all >= lo) & (myy_all < hi)].reset_index(drop=True)
    df = subsample(df, config.max_events or None, seed=seed)
    df = add_inputs(df, config.features)
    X = feature_matrix(df, config.features)
    y = df["is_signal"].to_numpy().astype(np.int64)
    myy = df[config.protected].to_numpy(dtype=np.float64)
    w = df["weight"].to_numpy(dtype=np.float64) if "weight" in df else np.ones(len(df))
    train, test = train_test_split_idx(len(df), test_fraction=config.test_fraction, seed=seed)
    if len(np.unique(y[train])) < 2 or len(np.unique(y[test])) < 2:
        raise ConfigError("tth: train and test samples need both signal and background events")
    channel = df["mcChannelNumber"].to_numpy()
    # physical process mixture in each half; training: classes then balanced
    w_train = _classify.balanced_weights(
        y[train], normalise_weights(w[train], channel[train], config.luminosity_fb)
    )
    w_test = normalise_weights(w[test], channel[test], config.luminosity_fb)
    edges = np.linspace(lo, hi, config.myy_bins + 1)
    arrays: dict[str, np.ndarray] = {
        "label": y[test],
        "myy": myy[test],
        "mu": df["mu"].to_numpy(dtype=np.float64)[test] if "mu" in df else np.zeros(len(test)),
        "weight": w_test,
        "channel": channel[test].astype(np.int64),
    }
    metrics: dict[str, float] = {}
    fits: dict[str, Any] = {}
    estimators: dict[str, Any] = {}
    passed: dict[str, np.ndarray] = {}
    for spec in specs:
        name = spec.name
        est = _classify.build_model(spec, config, seed=seed)
        score, seconds = _classify.fit_predict(
            est, X[train], y[train], X[test], protected=myy[train], sample_weight=w_train
        )
        estimators[name] = est
        m, wp_pass = _classify.classifier_metrics(
            score,
            y[test],
            w_test,
            myy[test],
            wp_efficiency=config.wp_efficiency,
            fixed_rejection=config.fixed_rejection,
            jsd_bins=edges,
        )
        passed[name] = wp_pass
        fm, fits[name] = myy_fits(
            myy[test],
            y[test],
            w_test,
            passed[name],
            edges=edges,
            shape=config.signal_shape,
            min_events=config.min_fit_events,
        )
        m.update(fm)
        m["train_seconds"] = seconds
        metrics.update({f"{name}.{k}": float(v) for k, v in m.items()})
        arrays[array_key(name, "score")] = score.astype(np.float32)
    # inclusive (no classifier) reference
    everything = np.ones(len(test), dtype=bool)
    ref, fits["inclusive"] = myy_fits(
        myy[test],
        y[test],
        w_test,
        everything,
        edges=edges,
        shape=config.signal_shape,
        min_events=config.min_fit_events,
    )
    metrics.update({f"inclusive.{k}": float(v) for k, v in ref.items()})
    result = RunResult(
        workflow=WORKFLOW,
        config=config.to_dict(),
        seed=int(seed),
        strength=config.strength,
        metrics=metrics,
        arrays=arrays,
        hists={
            "myy": _hist_myy(list(config.model_names), arrays, passed, edges),
            PROTECTED: _protected_hist(
                list(config.model_names), arrays, passed, edges, config.protected
            ),
        },
        info={
            "n_train": len(train),
            "n_test": len(test),
            "n_signal_test": int(y[test].sum()),
            "fits": fits,
        },
        estimators=estimators,
    )
    result.info["models"] = _classify.describe_models(specs, config.strength)
    if out is not None:
        result.save(out)
    return result

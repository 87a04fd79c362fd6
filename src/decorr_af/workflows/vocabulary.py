"""One vocabulary for what every workflow run writes: metric keys, arrays, histograms.

**Metrics** are stored flat as ``"<model>.<metric>"`` (``"disco_mlp.r50"``); a key
without a dot is a run-level figure. The prefix is a model of the run
(:attr:`~decorr_af.workflows.base.RunResult.models`) or a reference group of the
workflow (``tight``, ``loose``, ``inclusive``, ``raw``, ``zee``, ``tagprobe``,
``reweighting``). Code never splits the strings itself: it calls
:meth:`RunResult.metric(model, name) <decorr_af.workflows.base.RunResult.metric>`,
:meth:`RunResult.metrics_table` (tidy ``model, metric, value``) or
:func:`split_key` / :func:`metric_key` here.

**Arrays** (``arrays.npz``): per-model quantities are ``"<model>.<quantity>"``
(``"disco_mlp.score"``, ``"shapes_mlp.ratio_mc"``, ``"raw.mee_data"``); arrays shared
by every model are unprefixed (``label``, ``weight``, ``myy``, ``abs_eta_mc``).
Results written before this vocabulary named classifier scores ``score_<model>``;
:func:`canonical_array_name` maps them, and :class:`ResultArrays` still answers
the old names.

**The protected-variable histogram** ``hists["protected"]`` (:data:`PROTECTED`):
the distribution the decorrelation acts on, for the two populations it compares,
per model. Axes, in this order:

``model``      StrCategory, the models of the run
``selection``  StrCategory: ``pass`` / ``fail`` for classifiers (the *background*
               passing / failing the model's working-point cut: fakes vs isolation
               in photon ID, non-ttH events vs m_γγ in ttH), ``mc`` / ``data`` for
               the calibration (the predicted correction E_corr/E_raw of MC and data
               candidates of one selection, what the domain penalty compares)
<variable>     the protected variable (``iso_excess``, ``myy``, ``response``) with
               its label (unit in brackets)

Weighted storage (event weights). The ``selection`` axis label says what the two
populations are. Build one with :func:`protected_hist`; read it with
:func:`protected_view`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError

__all__ = [
    "CLASSIFIER_SELECTIONS",
    "DOMAIN_SELECTIONS",
    "PROTECTED",
    "ResultArrays",
    "UnknownMetricError",
    "array_key",
    "canonical_array_name",
    "legacy_protected",
    "metric_key",
    "metrics_frame",
    "protected_hist",
    "protected_view",
    "split_key",
]

#: name of the protected-variable histogram in ``RunResult.hists``
PROTECTED = "protected"
#: ``selection`` categories of a classifier (background passing / failing the cut)
CLASSIFIER_SELECTIONS = ("pass", "fail")
#: ``selection`` categories of a domain comparison (calibration: MC vs data)
DOMAIN_SELECTIONS = ("mc", "data")
#: legacy prefix of classifier scores (``score_<model>``, before the vocabulary)
_LEGACY_SCORE = "score_"


class UnknownMetricError(ConfigError, KeyError):
    """A metric (or array) that the result does not hold; the message lists what exists."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def metric_key(model: str | None, name: str) -> str:
    """The flat key of metric ``name`` of ``model`` (run-level when ``model`` is empty).

    Examples
    --------
    >>> metric_key("disco_mlp", "r50"), metric_key(None, "seconds")
    ('disco_mlp.r50', 'seconds')
    """
    return f"{model}.{name}" if model else name


def split_key(key: str) -> tuple[str, str]:
    """``(model, metric)`` of a flat key; ``model`` is ``""`` for a run-level key.

    Model names hold no dot, so the key is split at its first dot.

    Examples
    --------
    >>> split_key("disco_mlp.inv_jsd"), split_key("seconds")
    (('disco_mlp', 'inv_jsd'), ('', 'seconds'))
    """
    model, dot, name = str(key).partition(".")
    return (model, name) if dot else ("", model)


def array_key(model: str, quantity: str) -> str:
    """The array name of a per-model quantity (``"<model>.<quantity>"``).

    Examples
    --------
    >>> array_key("plain_mlp", "score")
    'plain_mlp.score'
    """
    return f"{model}.{quantity}"


def canonical_array_name(name: str) -> str:
    """Map a legacy array name to the vocabulary (``score_<m>`` → ``<m>.score``).

    Examples
    --------
    >>> canonical_array_name("score_disco_mlp"), canonical_array_name("weight")
    ('disco_mlp.score', 'weight')
    """
    if name.startswith(_LEGACY_SCORE) and len(name) > len(_LEGACY_SCORE) and "." not in name:
        return array_key(name[len(_LEGACY_SCORE) :], "score")
    return name


class ResultArrays(dict):
    """``RunResult.arrays``: a dict under the vocabulary's names that still answers legacy ones.

    Keys given in the legacy form are stored under their canonical name; looking up
    a legacy name (``arrays["score_plain_mlp"]``) finds the canonical entry.

    Examples
    --------
    >>> a = ResultArrays({"score_m": np.zeros(2), "label": np.ones(2)})
    >>> sorted(a), "score_m" in a, a["score_m"].shape
    (['label', 'm.score'], True, (2,))
    """

    def __init__(self, data: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), **kw: Any):
        super().__init__()
        self.update(data, **kw)

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(canonical_array_name(key), value)

    def __missing__(self, key: str) -> Any:
        canonical = canonical_array_name(key)
        if canonical != key and dict.__contains__(self, canonical):
            return dict.__getitem__(self, canonical)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        return isinstance(key, str) and dict.__contains__(self, canonical_array_name(key))

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def update(self, data: Any = (), **kw: Any) -> None:  # type: ignore[override]
        items = data.items() if hasattr(data, "items") else data
        for k, v in [*items, *kw.items()]:
            self[k] = v

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]


def metrics_frame(metrics: Mapping[str, float], models: Sequence[str] | None = None) -> Any:
    """Tidy pandas table ``model, metric, value`` of a flat metric mapping.

    Run-level keys have ``model == ""``; with ``models`` only those models' rows.

    Examples
    --------
    >>> metrics_frame({"a.r50": 3.0, "seconds": 1.0}).values.tolist()
    [['a', 'r50', 3.0], ['', 'seconds', 1.0]]
    """
    import pandas as pd

    rows = [(*split_key(k), float(v)) for k, v in metrics.items()]
    df = pd.DataFrame(rows, columns=["model", "metric", "value"])
    if models is not None:
        df = df[df["model"].isin(list(models))].reset_index(drop=True)
    return df


def protected_hist(
    models: Sequence[str],
    edges: Sequence[float] | np.ndarray,
    *,
    variable: str,
    label: str,
    selections: Sequence[str] = CLASSIFIER_SELECTIONS,
    selection_label: str = "",
) -> Any:
    """An empty protected-variable histogram of the convention (see the module docstring).

    Examples
    --------
    >>> h = protected_hist(["m"], [0.0, 1.0, 2.0], variable="myy", label="m [GeV]")
    >>> [ax.name for ax in h.axes]
    ['model', 'selection', 'myy']
    """
    import hist

    if tuple(selections) not in (CLASSIFIER_SELECTIONS, DOMAIN_SELECTIONS):
        raise ConfigError(
            f"parameter 'selections' must be {CLASSIFIER_SELECTIONS} or {DOMAIN_SELECTIONS}, "
            f"got {tuple(selections)}"
        )
    return hist.Hist(
        hist.axis.StrCategory(list(models), name="model", label="Model"),
        hist.axis.StrCategory(list(selections), name="selection", label=selection_label),
        hist.axis.Variable(np.asarray(edges, float), name=variable, label=label),
        storage=hist.storage.Weight(),
    )


def protected_view(result: Any, model: str) -> dict[str, Any]:
    """The two 1-D histograms of ``model`` in ``result.hists["protected"]``.

    Returns
    -------
    dict
        ``{"selections": (first, second), "hists": (h_first, h_second),
        "variable": name, "label": axis label, "what": selection-axis label}``.

    Raises
    ------
    ConfigError
        If the result has no protected histogram (a result written before the
        convention) or not this model; the message names what exists.
    """
    h = result.hists.get(PROTECTED)
    if h is None:
        raise ConfigError(
            f"the result has no hists['{PROTECTED}'] (have: {sorted(result.hists)}); "
            "results written before the protected-histogram convention lack it"
        )
    names = list(h.axes["model"])
    if model not in names:
        raise ConfigError(f"model '{model}' not in hists['{PROTECTED}'] (have: {names})")
    selections = tuple(h.axes["selection"])
    axis = h.axes[2]
    return {
        "selections": selections,
        "hists": tuple(h[{"model": model, "selection": s}] for s in selections),
        "variable": axis.name,
        "label": axis.label or axis.name,
        "what": h.axes["selection"].label,
    }


#: legacy histograms the protected one is derived from: name -> (truth axis, its
#: background value, pass axis, selection-axis label)
_LEGACY_CLASSIFIER = {
    "id_vs_iso": ("prompt", 0, "passed", "Fakes passing / failing the ID cut"),
    "myy": ("signal", 0, "passed", "Background passing / failing the working point"),
}


def legacy_protected(hists: Mapping[str, Any]) -> Any:
    """Derive ``hists["protected"]`` from the histograms of a result written before it.

    Photon ID (``id_vs_iso``: fakes passing / failing the ID cut vs isolation),
    ttH (``myy``: background passing / failing the working point vs m_γγ) and the
    calibration's Z→ee ``mee`` (MC / data m_ee per model). Returns ``None`` when the
    result already has one or holds none of these.
    """
    if PROTECTED in hists:
        return None
    for name, (truth, background, passed, what) in _LEGACY_CLASSIFIER.items():
        h = hists.get(name)
        if h is None or [a.name for a in h.axes][:3] != ["model", truth, passed]:
            continue
        axis = h.axes[3]
        out = protected_hist(
            list(h.axes["model"]), axis.edges, variable=axis.name,
            label=axis.label or axis.name, selection_label=what,
        )  # fmt: skip
        for m in h.axes["model"]:
            for sel, flag in zip(CLASSIFIER_SELECTIONS, (1, 0)):
                _copy_into(out, h[{"model": m, truth: background, passed: flag}], m, sel)
        return out
    h = hists.get("mee")
    if h is not None and [a.name for a in h.axes][:2] == ["model", "dataset"]:
        axis = h.axes[2]
        out = protected_hist(
            list(h.axes["model"]), axis.edges, variable=axis.name,
            label=axis.label or axis.name, selections=DOMAIN_SELECTIONS,
            selection_label="Z→ee pairs in MC / data",
        )  # fmt: skip
        for m in h.axes["model"]:
            for sel in DOMAIN_SELECTIONS:
                _copy_into(out, h[{"model": m, "dataset": sel}], m, sel)
        return out
    return None


def _copy_into(out: Any, h1: Any, model: str, selection: str) -> None:
    """Copy a weighted 1-D histogram (flow bins included) into one cell of ``out``."""
    i, j = out.axes["model"].index(model), out.axes["selection"].index(selection)
    view = out.view(flow=True)
    src = h1.view(flow=True)
    # category axes have an overflow bin only: the cell is view[i, j]
    view["value"][i, j] = src["value"]
    view["variance"][i, j] = src["variance"]

"""Histograms of any column with ``hist`` (``hist.dask`` on lazy inputs).

Inputs: a pandas DataFrame (flat table), a mapping of arrays, an awkward
record array, or a dask-awkward array (then the result is a lazy
``hist.dask.Hist``; call ``.compute()``). Jagged columns are flattened.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from decorr_af.errors import ConfigError, MissingBranchError

__all__ = ["histogram"]


def _is_dask(obj: Any) -> bool:
    return type(obj).__module__.startswith(("dask_awkward", "dask."))


def _column(data: Any, name: str) -> Any:
    """Fetch ``name`` (``"Photons.pt"`` for nested records) and flatten it."""
    obj = data
    try:
        for part in name.split(".") if not hasattr(data, "columns") else [name]:
            obj = obj[part]
    except (KeyError, ValueError, AttributeError) as err:
        fields = list(getattr(data, "columns", None) or getattr(data, "fields", None) or data)
        raise MissingBranchError(f"no column '{name}' to histogram; columns: {fields}") from err
    if hasattr(obj, "to_numpy") and not hasattr(obj, "layout") and not _is_dask(obj):
        return obj.to_numpy()  # pandas Series
    if _is_dask(obj):
        import dask_awkward as dak

        return dak.flatten(obj, axis=None) if obj.ndim > 1 else obj
    if hasattr(obj, "layout"):
        import awkward as ak

        return ak.to_numpy(ak.flatten(obj, axis=None))
    return np.asarray(obj)


def _value_axis(
    values: Any, name: str, bins: int | Sequence[float], range_: Any, lazy: bool
) -> Any:
    import hist

    if not np.isscalar(bins):
        return hist.axis.Variable(np.asarray(bins, dtype=float), name=name, label=name)
    if int(bins) < 1:
        raise ConfigError(f"bins must be >= 1, got {bins}")
    if range_ is None:
        if lazy:
            raise ConfigError(f"range=(low, high) is needed to histogram '{name}' lazily")
        finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
        if finite.size == 0:
            raise ConfigError(f"cannot infer a range for '{name}': no finite values")
        lo, hi = float(finite.min()), float(finite.max())
        range_ = (lo, hi if hi > lo else lo + 1.0)
    lo, hi = range_
    if not hi > lo:
        raise ConfigError(f"range=({lo}, {hi}) for '{name}' must have high > low")
    return hist.axis.Regular(int(bins), float(lo), float(hi), name=name, label=name)


def _category_axis(values: Any, name: str, lazy: bool) -> Any:
    import hist

    if lazy:
        return hist.axis.IntCategory([], growth=True, name=name, label=name)
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        return hist.axis.IntCategory(
            sorted({int(v) for v in np.unique(arr)}), name=name, label=name
        )
    return hist.axis.StrCategory(sorted({str(v) for v in np.unique(arr)}), name=name, label=name)


def histogram(
    data: Any,
    column: str,
    *,
    bins: int | Sequence[float] = 50,
    range: tuple[float, float] | None = None,
    weight: str | Any | None = None,
    by: str | None = None,
) -> Any:
    """Histogram ``column`` of a table or (dask-)awkward events.

    Parameters
    ----------
    data
        DataFrame, dict of arrays, awkward or dask-awkward array. Nested
        fields are addressed with dots (``"Photons.pt"``).
    column
        The column to histogram.
    bins
        Number of regular bins, or a sequence of bin edges.
    range
        ``(low, high)`` of the regular axis; inferred from finite values
        when omitted (eager inputs only).
    weight
        Column name or array of weights (default: unweighted counts).
    by
        Optional (integer or string) column giving a category axis, e.g.
        ``"is_prompt"`` or ``"mcChannelNumber"``.

    Returns
    -------
    hist.Hist or lazy object
        With ``Weight`` storage when weighted. For dask inputs a lazy
        ``hist.dask.Hist`` (with ``dask-histogram`` installed) or else a
        ``dask.delayed`` per-partition fill-and-sum; ``.compute()`` either.

    Examples
    --------
    >>> import pandas as pd
    >>> h = histogram(pd.DataFrame({"pt": [30.0, 40.0, 50.0]}), "pt", bins=2, range=(25, 55))
    >>> h.values().tolist()
    [1.0, 2.0]
    """
    import hist

    lazy = _is_dask(data)
    values = _column(data, column)
    axes = [_value_axis(values if not lazy else None, column, bins, range, lazy)]
    fill: dict[str, Any] = {column: values}
    if by is not None:
        cats = _column(data, by)
        if not lazy and np.asarray(cats).dtype.kind == "b":
            cats = np.asarray(cats).astype(int)
        axes.append(_category_axis(cats, by, lazy))
        fill[by] = cats
    w = _column(data, weight) if isinstance(weight, str) else weight
    storage = hist.storage.Weight() if w is not None else hist.storage.Double()
    if w is not None:
        fill["weight"] = w
    if lazy:
        try:
            import hist.dask as hist_dask
        except ModuleNotFoundError:  # dask-histogram not installed
            return _delayed_hist(hist.Hist(*axes, storage=storage), fill)
        h = hist_dask.Hist(*axes, storage=storage)
        h.fill(**fill)
        return h
    h = hist.Hist(*axes, storage=storage)
    h.fill(**{k: np.asarray(v) for k, v in fill.items()})
    return h


def _fill_one(empty: Any, **arrays: Any) -> Any:
    import awkward as ak

    h = empty.copy()
    h.fill(
        **{
            k: ak.to_numpy(ak.Array(v)) if not isinstance(v, np.ndarray) else v
            for k, v in arrays.items()
        }
    )
    return h


def _delayed_hist(empty: Any, fill: dict[str, Any]) -> Any:
    """Lazy histogram without dask-histogram: one fill per partition, then a sum.

    Returns a ``dask.delayed`` object; ``.compute()`` gives the ``hist.Hist``.
    """
    import dask

    parts = {k: v.to_delayed() for k, v in fill.items()}
    n = len(next(iter(parts.values())))
    filled = [
        dask.delayed(_fill_one)(empty, **{k: p[i] for k, p in parts.items()}) for i in range(n)
    ]
    while len(filled) > 1:  # pairwise tree reduction
        filled = [
            dask.delayed(sum)(filled[i : i + 2], empty.copy()) if i + 1 < len(filled) else filled[i]
            for i in range(0, len(filled), 2)
        ]
    return filled[0]

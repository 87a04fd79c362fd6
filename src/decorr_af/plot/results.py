"""Reading results for plots: a result from a directory, the models a figure can draw.

Examples
--------
>>> from decorr_af.workflows.base import RunResult
>>> import numpy as np
>>> res = RunResult("tth", {}, seed=0, arrays={"a.score": np.zeros(2), "b.score": np.ones(2)})
>>> select_models(res), select_models(res, "b")
(['a', 'b'], ['b'])
"""

from __future__ import annotations

import os
from typing import Any

from decorr_af.errors import ConfigError

__all__ = ["as_result", "select_models"]


def as_result(result: Any) -> Any:
    """A :class:`~decorr_af.workflows.base.RunResult` from a result or its directory."""
    from decorr_af.workflows.base import RunResult

    if isinstance(result, RunResult):
        return result
    if isinstance(result, (str, os.PathLike)):
        return RunResult.load(result)
    raise ConfigError(f"expected a RunResult or a result directory, got {type(result).__name__}")


def select_models(result: Any, models: Any = None, *, quantity: str = "score") -> list[str]:
    """Models with a per-model array ``quantity`` (``"<model>.<quantity>"``) in ``result``.

    Parameters
    ----------
    result
        A :class:`~decorr_af.workflows.base.RunResult`.
    models
        ``None`` for every such model, else one name or a list, each checked.
    quantity
        The per-model array that must exist (``"score"`` for classifiers,
        ``"ratio_mc"`` for the calibration).

    Raises
    ------
    ConfigError
        Naming the requested models that lack the array, and those that have it.
    """
    have = result.models_with(quantity)
    if models is None:
        return have
    models = [models] if isinstance(models, str) else list(models)
    missing = [m for m in models if m not in have]
    if missing:
        raise ConfigError(
            f"model(s) {missing} not in the result (no '<model>.{quantity}' array; "
            f"have: {', '.join(have) or 'none'})"
        )
    return models

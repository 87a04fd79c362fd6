"""Calorimeter cells in the workflows: which models read them, and reading them aligned.

A model whose estimator class has ``input_kind = "cells"`` (the ``"gnn"`` family,
:mod:`decorr_af.models.graph`) is fitted on a
:class:`~decorr_af.columnar.cells.CellSet` instead of a feature matrix. The
workflows then read the photons with :func:`decorr_af.data.table.cell_table`
(files generated with ``--cells``) and keep, in the column :data:`CELL_ROW` of
their photon tables, each row's photon in the CellSet, so every selection and
split of the table carries its cells along (``cells.take(df[CELL_ROW])``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from decorr_af.workflows.inputs import read_inputs

__all__ = ["CELL_ROW", "cells_of", "load_with_cells", "takes_cells"]

#: column of the photon tables holding each row's photon index in the run's CellSet
CELL_ROW = "_cell_row"


def takes_cells(spec: Any, task: str) -> bool:
    """Whether the estimator family of ``spec`` reads cells (its class's ``input_kind``).

    Examples
    --------
    >>> from decorr_af.workflows.specs import ModelSpec
    >>> takes_cells(ModelSpec("g", "gnn"), "classification"), takes_cells(ModelSpec("m", "mlp"), "regression")
    (True, False)
    >>> takes_cells(ModelSpec("c", "cutbased"), "classification")  # workflow-built models
    False
    """
    from decorr_af.models.registry import ESTIMATORS

    family = ESTIMATORS.get(spec.estimator)
    if family is None:
        return False
    return getattr(family.cls(task), "input_kind", "features") == "cells"


def load_with_cells(
    key: str, files: Any, *, drop_truth: bool = False, features: Any = None, offset: int = 0
) -> tuple[Any, Any]:
    """Photon table of config key ``key`` with :data:`CELL_ROW` (+ ``offset``) and its CellSet."""
    from decorr_af.data.table import cell_table

    kwargs: dict[str, Any] = {"drop_truth": drop_truth}
    if features is not None:
        kwargs["features"] = list(features)
    df, cells = read_inputs(key, files, cell_table, **kwargs)
    df[CELL_ROW] = offset + np.arange(len(df))
    return df, cells


def cells_of(df: Any, cells: Any, *, what: str = "model") -> Any:
    """The cells of the rows of ``df`` (a ConfigError when the table has none)."""
    from decorr_af.errors import ConfigError

    if cells is None or CELL_ROW not in getattr(df, "columns", ()):
        raise ConfigError(
            f"{what} reads calorimeter cells, but these photons/electrons have none "
            "(generate the samples with --cells; Z->ee electrons carry no cells)"
        )
    return cells.take(df[CELL_ROW].to_numpy())

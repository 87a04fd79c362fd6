"""Saving and loading fitted models without pickle.

A saved model is a directory holding ``metadata.json`` (estimator class,
hyper-parameters, penalty class and parameters, λ, feature names, fitted
scalers, history, package versions) and the weights: ``weights.pt`` (a torch
``state_dict``, read back with ``torch.load(..., weights_only=True)``) or
``model.json`` (xgboost's JSON model format).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np

from decorr_af._version import __version__
from decorr_af.errors import DecorrAFError, InputFileError

__all__ = [
    "FORMAT",
    "METADATA_FILE",
    "TORCH_WEIGHTS_FILE",
    "XGB_MODEL_FILE",
    "load_model",
    "read_metadata",
    "to_jsonable",
    "versions",
    "write_metadata",
]

FORMAT = "decorr_af-model"
FORMAT_VERSION = 1
METADATA_FILE = "metadata.json"
TORCH_WEIGHTS_FILE = "weights.pt"
XGB_MODEL_FILE = "model.json"

_CLASSES = {
    "DecorrelatedClassifier": "decorr_af.models.estimators",
    "DecorrelatedRegressor": "decorr_af.models.estimators",
    "DisCoXGBClassifier": "decorr_af.models.xgb",
    "DisCoXGBRegressor": "decorr_af.models.xgb",
    "GraphClassifier": "decorr_af.models.graph",
    "GraphRegressor": "decorr_af.models.graph",
}


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and penalties to JSON-able values."""
    if hasattr(obj, "to_dict") and hasattr(obj, "get_params"):
        return obj.to_dict()
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def versions() -> dict[str, str]:
    """Versions of decorr_af, Python, numpy and (when imported) torch / xgboost."""
    out = {"decorr_af": __version__, "python": platform.python_version(), "numpy": np.__version__}
    for mod in ("torch", "xgboost"):
        with contextlib.suppress(ImportError):
            out[mod] = importlib.import_module(mod).__version__
    return out


def write_metadata(directory: str | Path, meta: dict[str, Any]) -> Path:
    """Create ``directory`` and write ``metadata.json`` (adds format and versions)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    full = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta, "versions": versions()}
    path = directory / METADATA_FILE
    path.write_text(json.dumps(to_jsonable(full), indent=2, allow_nan=True))
    return path


def read_metadata(directory: str | Path, *, expected: str | None = None) -> dict[str, Any]:
    """Read ``metadata.json`` of a saved model, checking format and class name."""
    path = Path(directory) / METADATA_FILE
    if not path.is_file():
        msg = f"{path}: no saved decorr_af model here (missing {METADATA_FILE})"
        raise InputFileError(msg)
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        msg = f"{path}: not valid JSON, truncated or corrupt ({err})"
        raise InputFileError(msg) from err
    except OSError as err:
        msg = f"{path}: cannot read ({err.strerror or err})"
        raise InputFileError(msg) from err
    if not isinstance(meta, dict):
        msg = f"{path}: not a decorr_af model metadata mapping"
        raise InputFileError(msg)
    if meta.get("format") != FORMAT:
        msg = f"{path}: format {meta.get('format')!r} is not {FORMAT!r}"
        raise InputFileError(msg)
    if expected is not None and meta.get("class") != expected:
        msg = f"{path}: holds a {meta.get('class')!r}, not a {expected!r}"
        raise InputFileError(msg)
    return meta


def load_model(path: str | Path) -> Any:
    """Load any saved decorr_af model, dispatching on the class in its metadata.

    Examples
    --------
    >>> model = load_model("runs/photon_id_model")  # doctest: +SKIP
    """
    path = Path(path)
    meta = read_metadata(path)
    name = meta.get("class")
    if name not in _CLASSES:
        msg = f"{path / METADATA_FILE}: unknown model class {name!r}"
        raise InputFileError(msg)
    weights = path / (XGB_MODEL_FILE if _CLASSES[name].endswith("xgb") else TORCH_WEIGHTS_FILE)
    if not weights.is_file():
        msg = f"{weights}: missing (the saved model in {path} is incomplete)"
        raise InputFileError(msg)
    cls = getattr(importlib.import_module(_CLASSES[name]), name)
    try:
        return cls.load(path)
    except (DecorrAFError, ImportError):
        raise
    except (KeyError, TypeError, AttributeError) as err:
        msg = f"{path / METADATA_FILE}: incomplete model metadata ({type(err).__name__}: {err})"
        raise InputFileError(msg) from err
    except Exception as err:  # torch / xgboost raise their own types on damaged weights
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        msg = f"{weights}: damaged or truncated ({type(err).__name__}: {first})"
        raise InputFileError(msg) from err

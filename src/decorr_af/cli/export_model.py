"""``decorr-af export-model RUN_OR_POINT_DIR --onnx out.onnx``: a trained model as ONNX.

``RUN_OR_POINT_DIR`` is a run or scan-point directory (``result.json``; the
model is chosen with ``--model`` unless the run holds exactly one exportable
model) or a saved model directory (``metadata.json``). The ONNX graph takes raw
float32 features (names and order in its metadata) and gives the package's
``predict`` / ``predict_proba`` (see :mod:`decorr_af.models.onnx`).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from decorr_af.errors import ConfigError, InputFileError

__all__ = ["add_parser", "export_model", "exportable_models", "run"]


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Register the arguments of ``decorr-af export-model``."""
    parser.add_argument(
        "path", type=Path, help="run / scan-point directory or saved model directory"
    )
    parser.add_argument("--onnx", required=True, type=Path, help="ONNX file to write")
    parser.add_argument("--model", default=None, help="model name within a run (e.g. disco_mlp)")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17)")


def exportable_models(directory: str | os.PathLike[str]) -> dict[str, str]:
    """``{name: estimator class}`` of the ONNX-exportable models saved in a run directory.

    Examples
    --------
    >>> exportable_models("scan/points/p1a2b3c4d")  # doctest: +SKIP
    {'disco_bdt': 'DisCoXGBClassifier', 'disco_mlp': 'DecorrelatedClassifier'}
    """
    from decorr_af.models.io import METADATA_FILE
    from decorr_af.models.onnx import EXPORTERS
    from decorr_af.workflows.base import RunResult

    result = RunResult.load(directory, verify=False)
    out = {}
    for name, rel in sorted(result.saved_models.items()):
        meta = Path(directory) / rel / METADATA_FILE
        try:
            cls = json.loads(meta.read_text()).get("class")
        except (OSError, ValueError):
            continue  # not a decorr_af estimator (e.g. a cut-based menu)
        if cls in EXPORTERS:
            out[name] = cls
    return out


def _run_features(config: Any, est: Any) -> list[str] | None:
    """The run config's ``features`` when they name the model inputs (fitted on an array)."""
    features = config.get("features") if isinstance(config, dict) else None
    if getattr(est, "feature_names_in_", None) is not None or not isinstance(features, list):
        return None
    return [str(f) for f in features] if len(features) == est.n_features_in_ else None


def export_model(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    model: str | None = None,
    opset: int | None = None,
) -> tuple[Path, str]:
    """Export a model of a run / scan point (or a saved model directory) to ONNX.

    Parameters
    ----------
    path
        Run or scan-point directory (``result.json``) or saved model directory.
    out
        The ``.onnx`` file to write.
    model
        Model name within a run; needed when the run holds several exportable models.
    opset
        ONNX opset (default :data:`decorr_af.models.onnx.OPSET`).

    Returns
    -------
    (Path, str)
        The file written and the estimator class exported.
    """
    from decorr_af.models.io import METADATA_FILE, load_model
    from decorr_af.models.onnx import OPSET, export_onnx
    from decorr_af.workflows.base import RESULT_FILE, RunResult

    path = Path(path)
    names = None
    if (path / METADATA_FILE).is_file():
        est: Any = load_model(path)
    elif (path / RESULT_FILE).is_file():
        exportable = exportable_models(path)
        if model is None:
            if len(exportable) != 1:
                raise ConfigError(
                    f"{path}: choose a model with model=... (exportable: "
                    f"{', '.join(exportable) or 'none'})"
                )
            model = next(iter(exportable))
        elif model not in exportable:
            raise ConfigError(
                f"{path}: model='{model}' is not an exportable model of this run "
                f"(exportable: {', '.join(exportable) or 'none'})"
            )
        result = RunResult.load(path)
        est = result.load_model(model)
        names = _run_features(result.config, est)
    else:
        raise InputFileError(
            f"{path}: neither a run / scan-point directory ({RESULT_FILE}) nor a saved model "
            f"directory ({METADATA_FILE})"
        )
    written = export_onnx(est, out, feature_names=names, opset=OPSET if opset is None else opset)
    return written, type(est).__name__


def run(args: argparse.Namespace) -> int:
    """Export and print what was written."""
    written, cls = export_model(args.path, args.onnx, model=args.model, opset=args.opset)
    print(f"wrote {cls} to {written}")
    return 0

"""A tiny workflow for scan-integrity tests: reads its input files' bytes, saves a model.

Importable from ``tests/`` (the CLI tests put that folder on ``PYTHONPATH``);
scans ship it to Dask workers by value (``cloudpickle.register_pickle_by_value``).

Control files (all optional, next to ``log``):

``<log>.fail``      a line ``<strength> <ErrorName>`` makes that point raise the
                    error (``ConfigError`` or ``RuntimeError``)
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from pathlib import Path

import numpy as np

from decorr_af import errors
from decorr_af.workflows.base import RunResult, WorkflowConfig

PRIMARY_MODEL = "toy"
DEFAULT_PARETO = [("toy.acc", "toy.inv_corr")]


@dataclasses.dataclass(frozen=True)
class Config(WorkflowConfig):
    """Toy config: one input field, layer sizes, a log file."""

    workflow = "toy_workflow"
    mc_files: tuple[str, ...] = ()
    hidden: tuple[int, ...] = (8,)
    lr: float = 0.01
    log: str = ""
    nested: bool = False


class FileModel:
    """A stand-in model saved as metadata.json + weights.pt (like the torch estimators)."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def save(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "metadata.json").write_text(json.dumps({"class": "FileModel", "n": 32}))
        (path / "weights.pt").write_bytes(self.values.astype("<f8").tobytes())


def _log(config: Config, text: str) -> None:
    if config.log:
        with open(config.log, "a") as f:
            f.write(text + "\n")


def _failure(config: Config, strength: float | None) -> None:
    fail = Path(config.log + ".fail") if config.log else None
    if fail is None or not fail.exists():
        return
    for line in fail.read_text().splitlines():
        value, name = line.split()
        if value == str(strength):
            cls = getattr(errors, name, None) or RuntimeError
            raise cls(f"toy failure at strength {strength}")


def _nested_thread() -> float:
    """1.0 when a nested dask.compute runs in the calling thread (no secede)."""
    import dask

    here = threading.get_ident()
    (there,) = dask.compute(dask.delayed(threading.get_ident)())
    return float(there == here)


def run(config: Config, *, strength: float | None = None, seed: int = 0, out=None) -> RunResult:
    """Metrics from λ, the seed and the input files' total size."""
    _log(config, f"start {strength} {seed} {os.getpid()}")
    _failure(config, strength)
    s = 0.0 if strength is None else strength
    rng = np.random.default_rng(seed)
    size = sum(Path(f).stat().st_size for pat in config.mc_files for f in _glob(pat))
    metrics = {
        "toy.acc": 1.0 / (1.0 + s) + 0.01 * rng.normal() + config.lr,
        "toy.inv_corr": s / (1.0 + s) + 0.01 * rng.normal() + sum(config.hidden) / 1000,
        "toy.input_bytes": float(size),
    }
    if config.nested:
        metrics["toy.same_thread"] = _nested_thread()
    res = RunResult(
        workflow="toy_workflow",
        config=config.to_dict(),
        seed=seed,
        strength=strength,
        metrics=metrics,
        arrays={"score": rng.normal(size=50)},
        estimators={"toy": FileModel(rng.normal(size=32))},
    )
    _log(config, f"done {strength} {seed} {os.getpid()}")
    if out is not None:
        res.save(out)
    return res


def _glob(pattern: str) -> list[str]:
    import glob

    return sorted(glob.glob(pattern))

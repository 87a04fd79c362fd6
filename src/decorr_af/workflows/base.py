"""Shared pieces of the physics workflows: typed configs and saveable results.

A workflow run is fully described by its :class:`WorkflowConfig` (YAML) plus a
seed; its :class:`RunResult` is written to one directory:

``result.json``   workflow, config, seed, strength, metrics, tables, info, models
``arrays.npz``    per-event arrays (scores, responses, ...), loaded without pickle
``hists.json``    ``hist`` histograms, UHI JSON (:mod:`hist.serialization`); the
                  hand-written layout of older results is still read
``models/``       trained models (JSON metadata + weights / xgboost JSON)
``manifest.json`` size and sha256 of every other file (written last)

Vocabulary (details in :mod:`decorr_af.workflows.vocabulary`):

* metrics ``"<model>.<metric>"``, read with :meth:`RunResult.metric`,
  :meth:`RunResult.metrics_table` (tidy ``model, metric, value``) and
  :attr:`RunResult.models`;
* arrays ``"<model>.<quantity>"`` (``"disco_mlp.score"``, ``"shapes_mlp.ratio_mc"``),
  shared ones unprefixed (``label``, ``weight``); legacy ``score_<model>`` is mapped;
* ``hists["protected"]``: per model, the distribution the decorrelation acts on for
  the two populations it compares. Axes ``model`` (StrCategory), ``selection``
  (StrCategory: ``pass``/``fail`` — background passing / failing the working-point
  cut, vs isolation in photon ID and m_γγ in ttH; ``mc``/``data`` — predicted
  E_corr/E_raw of MC and data candidates in the calibration) and the protected
  variable (named, labelled with its unit); weighted storage. Results written
  before it get one derived from ``id_vs_iso`` / ``myy`` / ``mee`` when loaded.

:meth:`RunResult.save` writes into a temporary sibling directory and renames it,
so a directory either holds a complete result or does not exist;
:func:`verify_result` checks a directory against its manifest (a file truncated
or removed later, e.g. by a full disk or a copy, is found there).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import types
import typing
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import yaml

from decorr_af._version import __version__
from decorr_af.errors import ConfigError, IncompleteResultError, InputFileError

__all__ = [
    "RunResult",
    "WorkflowConfig",
    "hist_from_dict",
    "hist_to_dict",
    "verify_result",
    "write_manifest",
]

RESULT_FILE = "result.json"
ARRAYS_FILE = "arrays.npz"
HISTS_FILE = "hists.json"
#: the protected-variable histogram (:data:`decorr_af.workflows.vocabulary.PROTECTED`)
PROTECTED_HIST = "protected"
MANIFEST_FILE = "manifest.json"


@dataclasses.dataclass(frozen=True)
class WorkflowConfig:
    """Base class of workflow configurations (frozen, validated dataclasses).

    Subclasses declare their fields with defaults and may override
    :meth:`validate`. Values coming from YAML/CLI are coerced to the declared
    types (lists to tuples, ints to floats); unknown keys raise
    :class:`~decorr_af.errors.ConfigError` naming the key.
    """

    workflow: ClassVar[str] = "base"

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            object.__setattr__(self, f.name, _coerce(value, hints.get(f.name), f.name))
        self._check_layers()
        self.validate()

    def validate(self) -> None:
        """Check field values; raise ConfigError naming the bad field."""

    def _check_layers(self) -> None:
        """Layer sizes (fields ``hidden`` / ``*_hidden``) must all be positive."""
        for f in dataclasses.fields(self):
            if f.name == "hidden" or f.name.endswith("_hidden"):
                value = getattr(self, f.name)
                if isinstance(value, tuple) and any(
                    isinstance(v, (int, float)) and v <= 0 for v in value
                ):
                    raise ConfigError(
                        f"parameter '{f.name}' must hold positive layer sizes, got {list(value)}"
                    )

    def check(
        self,
        *,
        nonnegative: tuple[str, ...] = (),
        positive: tuple[str, ...] = (),
        fraction: tuple[str, ...] = (),
    ) -> None:
        """Raise ConfigError naming the first field that breaks its rule.

        ``nonnegative``: >= 0; ``positive``: > 0; ``fraction``: in the open interval (0, 1).
        """
        rules = (
            (nonnegative, lambda v: v >= 0, "must be >= 0"),
            (positive, lambda v: v > 0, "must be positive"),
            (fraction, lambda v: 0.0 < v < 1.0, "must be in (0, 1)"),
        )
        for names, ok, what in rules:
            for name in names:
                value = getattr(self, name)
                if not ok(value):
                    raise ConfigError(f"parameter '{name}' {what}, got {value}")

    # -- conversions -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain-Python (YAML/JSON-able) representation."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None = None, **overrides: Any) -> WorkflowConfig:
        """Build and validate a config from a mapping (e.g. parsed YAML).

        Keys may be dotted (``"model.hidden"``) to set an entry of a dict field.
        """
        merged = cls().to_dict() if not data else {**cls().to_dict()}
        for key, value in {**dict(data or {}), **overrides}.items():
            _set_dotted(merged, key, value, cls)
        return cls(**merged)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> WorkflowConfig:
        """Read a config from a YAML file (``yaml.safe_load``)."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError as err:
            raise InputFileError(f"config file {path} does not exist") from err
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must hold a mapping, got {type(data).__name__}")
        data.pop("workflow", None)
        return cls.from_dict(data)

    def to_yaml(self, path: str | os.PathLike[str] | None = None) -> str:
        """Return (and optionally write) the YAML text of this config."""
        text = yaml.safe_dump({"workflow": self.workflow, **self.to_dict()}, sort_keys=False)
        if path is not None:
            Path(path).write_text(text)
        return text

    def replace(self, **changes: Any) -> WorkflowConfig:
        """Validated copy with some fields changed (dotted keys allowed)."""
        return type(self).from_dict(self.to_dict(), **changes)

    def with_strength(self, strength: float | None) -> WorkflowConfig:
        """This config at λ = ``strength``: ``replace(strength=...)``, itself for None.

        What ``run(config, strength=λ)`` means: λ is a plain config field, so the
        config a run records is the one it trained with.

        Examples
        --------
        >>> @dataclasses.dataclass(frozen=True)
        ... class Toy(WorkflowConfig):
        ...     strength: float = 1.0
        >>> Toy().with_strength(3).strength, Toy().with_strength(None).strength
        (3.0, 1.0)
        """
        if strength is None:
            return self
        if "strength" not in {f.name for f in dataclasses.fields(self)}:
            raise ConfigError(f"{type(self).__name__} has no parameter 'strength'")
        return self.replace(strength=strength)


def _set_dotted(target: dict[str, Any], key: str, value: Any, cls: type) -> None:
    head, _, rest = key.partition(".")
    if head not in target:
        allowed = ", ".join(sorted(target))
        raise ConfigError(f"{cls.__name__}: unknown parameter '{head}' (allowed: {allowed})")
    if rest:
        if not isinstance(target[head], dict):
            raise ConfigError(
                f"{cls.__name__}: parameter '{head}' is not a mapping, cannot set '{key}'"
            )
        target[head] = {**target[head], rest: value}
    else:
        target[head] = value


def _coerce(value: Any, hint: Any, name: str) -> Any:
    """Coerce YAML values to the annotated type; raise ConfigError naming ``name``."""
    if hint is None or value is None:
        return value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, name)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if errors else f"parameter '{name}': bad value {value!r}")
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"parameter '{name}' must be a list, got {value!r}")
        inner = args[0] if args else None
        return tuple(_coerce(v, inner, name) for v in value)
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"parameter '{name}' must be a mapping, got {value!r}")
        return dict(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"parameter '{name}' must be a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or (
            not isinstance(value, (int, np.integer))
            and not (isinstance(value, float) and value.is_integer())
        ):
            raise ConfigError(f"parameter '{name}' must be an integer, got {value!r}")
        return int(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"parameter '{name}' must be true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"parameter '{name}' must be a string, got {value!r}")
        return value
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


# -- hist (de)serialisation ------------------------------------------------
def hist_to_dict(h: Any) -> dict[str, Any]:
    """JSON-able UHI description of a ``hist.Hist`` (:func:`hist.serialization.to_uhi`).

    Examples
    --------
    >>> import hist
    >>> h = hist.Hist.new.Reg(2, 0, 1, name="x").Weight().fill([0.2, 0.7, 0.8])
    >>> d = hist_to_dict(h)
    >>> d["uhi_schema"], json.loads(json.dumps(d))["storage"]["type"]
    (1, 'weighted')
    >>> hist_from_dict(d) == h
    True
    """
    from hist.serialization import to_uhi

    return _jsonable(to_uhi(h))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def hist_from_dict(data: Mapping[str, Any]) -> Any:
    """Inverse of :func:`hist_to_dict`; also reads the pre-UHI layout of old result dirs.

    A mapping with ``uhi_schema`` is read by :func:`hist.serialization.from_uhi`;
    one without it is the hand-written layout decorr_af wrote before (``axes`` with
    ``type`` ``regular``/``variable``/``integer``/``strcategory``/``intcategory``,
    ``storage`` ``weight``/``double``, ``values`` and ``variances`` with flow bins).
    """
    if "uhi_schema" in data:
        from hist.serialization import from_uhi

        return from_uhi(dict(data))
    return _legacy_hist_from_dict(data)


def _legacy_hist_from_dict(data: Mapping[str, Any]) -> Any:
    """Read the histogram layout of results written before UHI serialisation."""
    import hist

    axes = []
    for a in data["axes"]:
        kw = {"name": a["name"]}
        if a.get("label") is not None:
            kw["label"] = a["label"]
        if a["type"] == "regular":
            axes.append(
                hist.axis.Regular(
                    a["bins"],
                    a["start"],
                    a["stop"],
                    underflow=a["underflow"],
                    overflow=a["overflow"],
                    **kw,
                )
            )
        elif a["type"] == "variable":
            axes.append(
                hist.axis.Variable(
                    a["edges"], underflow=a["underflow"], overflow=a["overflow"], **kw
                )
            )
        elif a["type"] == "integer":
            axes.append(
                hist.axis.Integer(
                    a["start"], a["stop"], underflow=a["underflow"], overflow=a["overflow"], **kw
                )
            )
        elif a["type"] == "strcategory":
            axes.append(hist.axis.StrCategory(a["categories"], growth=a["growth"], **kw))
        elif a["type"] == "intcategory":
            axes.append(hist.axis.IntCategory(a["categories"], growth=a["growth"], **kw))
        else:
            raise ConfigError(f"unknown histogram axis type {a['type']!r}")
    weighted = data["storage"] == "weight"
    h = hist.Hist(*axes, storage=hist.storage.Weight() if weighted else hist.storage.Double())
    view = h.view(flow=True)
    if weighted:
        view["value"] = np.asarray(data["values"])
        view["variance"] = np.asarray(data["variances"])
    else:
        view[...] = np.asarray(data["values"])
    return h


# -- results ---------------------------------------------------------------
def _json_float(x: Any) -> Any:
    """Floats for JSON: NaN/inf become strings so the file stays strict JSON."""
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if math.isfinite(x):
            return x
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


def _from_json_float(x: Any) -> Any:
    return float(x) if x in ("nan", "inf", "-inf") else x


_RAISE: Any = object()  # RunResult.metric without a default raises


@dataclasses.dataclass
class RunResult:
    """Everything one workflow run produced.

    Attributes
    ----------
    workflow, config, seed, strength
        What was run (``config`` is the plain dict of the workflow config).
    metrics
        Flat mapping ``"<model>.<metric>" -> float`` (e.g. ``"disco_mlp.r50"``; see
        :mod:`decorr_af.workflows.vocabulary`). Read one with :meth:`metric`, all
        of them as a tidy table with :meth:`metrics_table`.
    arrays
        Named numpy arrays: ``"<model>.<quantity>"`` per model (``"disco_mlp.score"``,
        ``"shapes_mlp.ratio_mc"``), unprefixed when shared (``label``, ``weight``).
        Legacy names (``score_<model>``) are mapped on construction and still answer.
    hists
        Named ``hist.Hist`` objects; ``hists["protected"]`` follows the
        protected-variable convention (:mod:`decorr_af.workflows.vocabulary`).
    tables
        Named pandas DataFrames (e.g. binned response), stored as JSON records.
    info
        Free-form JSON-able information (timings, versions, notes).
    estimators
        Trained models in memory (not serialised directly: :meth:`save` calls
        each model's own ``save``); after :meth:`load` use :meth:`load_model`.
    saved_models
        Relative paths of saved models inside the result directory (the
        ``"models"`` entry of ``result.json``).

    Examples
    --------
    >>> r = RunResult("toy", {"models": ["a", "b"]}, seed=0,
    ...               metrics={"a.r50": 4.0, "b.r50": 5.0, "seconds": 1.0})
    >>> r.models, r.metric("b", "r50")
    (('a', 'b'), 5.0)
    >>> r.metrics_table().query("metric == 'r50'")["value"].tolist()
    [4.0, 5.0]
    """

    workflow: str
    config: dict[str, Any]
    seed: int
    strength: float | None = None
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    arrays: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    hists: dict[str, Any] = dataclasses.field(default_factory=dict)
    tables: dict[str, Any] = dataclasses.field(default_factory=dict)
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    estimators: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    saved_models: dict[str, str] = dataclasses.field(default_factory=dict)
    directory: Path | None = None

    def __post_init__(self) -> None:
        from decorr_af.workflows.vocabulary import ResultArrays, legacy_protected

        if not isinstance(self.arrays, ResultArrays):
            self.arrays = ResultArrays(self.arrays)
        derived = legacy_protected(self.hists)
        if derived is not None:
            self.hists = {**self.hists, PROTECTED_HIST: derived}

    # -- typed access (the vocabulary of workflows.vocabulary) ----------------
    @property
    def models(self) -> tuple[str, ...]:
        """Names of the models this run trained or evaluated.

        The config's ``models`` (or ``methods``) when it has them, else every
        metric prefix (user workflows).
        """
        from decorr_af.workflows.vocabulary import split_key

        names = self.config.get("models") or self.config.get("methods")
        if isinstance(names, (list, tuple)) and names:
            return tuple(str(n) for n in names)
        return tuple(dict.fromkeys(m for m, _ in map(split_key, self.metrics) if m))

    def metric(self, model: str | None, name: str, default: Any = _RAISE) -> Any:
        """The value of metric ``name`` of ``model`` (``None``/``""``: a run-level metric).

        With ``default`` a missing metric returns it instead of raising.

        Raises
        ------
        UnknownMetricError
            (a :class:`~decorr_af.errors.ConfigError` and a ``KeyError``) naming
            the metrics of that model, or the models, that exist.
        """
        from decorr_af.workflows.vocabulary import UnknownMetricError, metric_key, split_key

        key = metric_key(model, name)
        if key in self.metrics:
            return float(self.metrics[key])
        if default is not _RAISE:
            return default
        have = sorted(n for m, n in map(split_key, self.metrics) if m == (model or ""))
        if have:
            raise UnknownMetricError(
                f"model '{model}' has no metric '{name}' (have: {', '.join(have)})"
            )
        prefixes = sorted({m for m, _ in map(split_key, self.metrics) if m})
        raise UnknownMetricError(
            f"no metric of model '{model}' in this {self.workflow} result "
            f"(models and groups with metrics: {', '.join(prefixes) or 'none'})"
        )

    def metrics_table(self, models: Any = None) -> Any:
        """Tidy pandas table ``model, metric, value`` (run-level metrics: ``model == ""``)."""
        from decorr_af.workflows.vocabulary import metrics_frame

        return metrics_frame(self.metrics, [models] if isinstance(models, str) else models)

    def array(self, model: str | None, quantity: str) -> np.ndarray:
        """Per-model array ``"<model>.<quantity>"`` (``model`` empty: a shared array).

        Raises
        ------
        UnknownMetricError
            Naming the arrays of that model (or the shared arrays) that exist.
        """
        from decorr_af.workflows.vocabulary import UnknownMetricError, metric_key, split_key

        key = metric_key(model, quantity)
        if key in self.arrays:
            return self.arrays[key]
        have = sorted(q for m, q in map(split_key, self.arrays) if m == (model or ""))
        owners = self.models_with(quantity) if model else []
        where = f"arrays of '{model}'" if model else "shared arrays"
        hint = f"; models with '{quantity}': {', '.join(owners)}" if owners else ""
        raise UnknownMetricError(
            f"no array '{key}' in this {self.workflow} result "
            f"({where}: {', '.join(have) or 'none'}{hint})"
        )

    def models_with(self, quantity: str) -> list[str]:
        """Models with a per-model array ``quantity`` (e.g. ``"score"``), in array order."""
        from decorr_af.workflows.vocabulary import split_key

        return [m for m, q in map(split_key, self.arrays) if m and q == quantity]

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the result atomically to ``directory`` (replacing an old one)."""
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = directory.with_name(f".{directory.name}.tmp-{os.getpid()}")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        models = dict(self.saved_models)
        for name, est in self.estimators.items():
            rel = f"models/{name}"
            (tmp / "models").mkdir(exist_ok=True)
            est.save(tmp / rel)
            models[name] = rel
        np.savez_compressed(tmp / ARRAYS_FILE, **{k: np.asarray(v) for k, v in self.arrays.items()})
        (tmp / HISTS_FILE).write_text(
            json.dumps({k: hist_to_dict(h) for k, h in self.hists.items()})
        )
        payload = {
            "workflow": self.workflow,
            "decorr_af_version": __version__,
            "config": self.config,
            "seed": int(self.seed),
            "strength": _json_float(self.strength),
            "metrics": {k: _json_float(v) for k, v in self.metrics.items()},
            "tables": {k: _table_to_json(v) for k, v in self.tables.items()},
            "info": self.info,
            "models": models,
        }
        (tmp / RESULT_FILE).write_text(json.dumps(payload, indent=1, default=_json_float))
        write_manifest(tmp)  # last: it vouches for every other file
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
        self.saved_models = models
        self.directory = directory
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike[str], *, verify: bool = True) -> RunResult:
        """Read a result directory; raise InputFileError naming a missing/corrupt file.

        With ``verify`` (default) a directory that has a manifest is first
        checked against it (:func:`verify_result`).
        """
        directory = Path(directory)
        if verify and (directory / MANIFEST_FILE).exists():
            verify_result(directory)
        path = directory / RESULT_FILE
        try:
            payload = json.loads(path.read_text())
        except FileNotFoundError as err:
            raise InputFileError(f"{path}: missing (incomplete or not a result directory)") from err
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise InputFileError(f"{path}: corrupt JSON ({err})") from err
        try:
            with np.load(directory / ARRAYS_FILE, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise InputFileError(f"{directory / ARRAYS_FILE}: unreadable ({err})") from err
        try:
            hists = {
                k: hist_from_dict(v)
                for k, v in json.loads((directory / HISTS_FILE).read_text()).items()
            }
        except (OSError, ValueError, KeyError) as err:
            raise InputFileError(f"{directory / HISTS_FILE}: unreadable ({err})") from err
        try:
            return cls(
                workflow=payload["workflow"],
                config=payload["config"],
                seed=int(payload["seed"]),
                strength=_from_json_float(payload["strength"]),
                metrics={k: _from_json_float(v) for k, v in payload["metrics"].items()},
                arrays=arrays,
                hists=hists,
                tables={k: _table_from_json(v) for k, v in payload.get("tables", {}).items()},
                info=payload.get("info", {}),
                saved_models=payload.get("models", {}),
                directory=directory,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InputFileError(f"{path}: incomplete result ({err})") from err

    def load_model(self, name: str) -> Any:
        """Load a saved model of this result (see :attr:`models`)."""
        if name in self.estimators:
            return self.estimators[name]
        if self.directory is None or name not in self.saved_models:
            raise ConfigError(
                f"model '{name}' not saved with this result (have: {sorted(self.saved_models)})"
            )
        from decorr_af.models.io import load_model

        rel = self.saved_models[name]
        if (self.directory / MANIFEST_FILE).exists():
            verify_result(self.directory, only=rel)
        return load_model(self.directory / rel)


# -- manifest ----------------------------------------------------------------
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: str | os.PathLike[str]) -> Path:
    """Write ``manifest.json``: size and sha256 of every other file in ``directory``.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.txt").write_text("hello")
    >>> json.loads(write_manifest(d).read_text())["files"]["a.txt"]["size"]
    5
    """
    directory = Path(directory)
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        if rel != MANIFEST_FILE:
            files[rel] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    target = directory / MANIFEST_FILE
    target.write_text(json.dumps({"format": 1, "files": files}, indent=1))
    return target


def _member_order(rel: str) -> tuple[int, str]:
    first = (RESULT_FILE, ARRAYS_FILE, HISTS_FILE)
    return (first.index(rel) if rel in first else len(first), rel)


def verify_result(directory: str | os.PathLike[str], *, only: str | None = None) -> None:
    """Check a result directory against its ``manifest.json``.

    Parameters
    ----------
    directory
        A :class:`RunResult` directory.
    only
        Check only the files under this relative path (e.g. ``"models/disco_mlp"``).

    Raises
    ------
    IncompleteResultError
        Naming the first missing, truncated or altered file (its ``member``
        attribute is the file's path inside ``directory``).

    Examples
    --------
    >>> import tempfile
    >>> d = RunResult("toy", {}, seed=0, metrics={"m": 1.0}).save(Path(tempfile.mkdtemp()) / "r")
    >>> verify_result(d)
    >>> _ = (d / "hists.json").write_text("{")
    >>> verify_result(d)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    decorr_af.errors.IncompleteResultError: .../hists.json: size 1 differs from the manifest (2)
    """
    directory = Path(directory)
    path = directory / MANIFEST_FILE
    try:
        files = json.loads(path.read_text())["files"]
        entries = {str(k): (int(v["size"]), str(v["sha256"])) for k, v in files.items()}
    except FileNotFoundError as err:
        raise IncompleteResultError(f"{path}: missing", member=MANIFEST_FILE) from err
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise IncompleteResultError(f"{path}: corrupt ({err})", member=MANIFEST_FILE) from err
    if only is not None:
        prefix = only.rstrip("/") + "/"
        entries = {k: v for k, v in entries.items() if k.startswith(prefix)}
        if not entries:
            raise IncompleteResultError(f"{path}: lists no file under {only}", member=only)
    for rel in sorted(entries, key=_member_order):
        size, digest = entries[rel]
        file = directory / rel
        try:
            actual = file.stat().st_size
        except FileNotFoundError as err:
            raise IncompleteResultError(f"{file}: missing", member=rel) from err
        if actual != size:
            raise IncompleteResultError(
                f"{file}: size {actual} differs from the manifest ({size})", member=rel
            )
        if _sha256(file) != digest:
            raise IncompleteResultError(f"{file}: content differs from the manifest", member=rel)


def _table_to_json(df: Any) -> dict[str, Any]:
    return {
        "columns": [str(c) for c in df.columns],
        "data": [[_json_float(v) for v in row] for row in df.itertuples(index=False)],
    }


def _table_from_json(data: Mapping[str, Any]) -> Any:
    import pandas as pd

    rows = [[_from_json_float(v) for v in row] for row in data["data"]]
    return pd.DataFrame(rows, columns=data["columns"])

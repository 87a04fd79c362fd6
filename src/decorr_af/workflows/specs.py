"""Models as data: model specs, presets, and how λ reaches each penalty.

A workflow config lists its models (``Config.models``) as preset names or as
spec mappings; YAML, :meth:`~decorr_af.workflows.base.WorkflowConfig.from_dict`
and the CLI accept both::

    models:
      - disco_mlp                       # a preset (a registered name -> spec)
      - name: disco_mlp_wide            # a spec: the name prefixes the metric keys
        estimator: mlp                  # a family of decorr_af.models.registry
        penalty: {kind: DisCo, on: background, scale: 0.5}
        params: {hidden: [128, 128]}    # estimator keywords over the workflow's
      - {name: adv_soft, preset: adversary_mlp, penalty: {scale: 0.1}}

A spec has ``name``, ``estimator`` (a registered estimator family, see
:func:`~decorr_af.models.registry.register_estimator`, or a non-ML entry the
workflow builds itself such as ``cutbased`` or ``binned``), optionally
``penalty`` (``kind``: a registered penalty class, see
:func:`~decorr_af.decorrelation.make_penalty`, plus its keywords), ``params``
(estimator keywords overriding the workflow's hyper-parameters), ``preset`` (a
preset it starts from: its keys override the preset's, ``params`` and
``penalty`` entry by entry) and the workflow's own keys (calibration:
``inputs``, ``weights``).  Models are built through the registries
(:func:`build_estimator`), never by name.

**How λ reaches a penalty.**  ``strength`` (λ) is a plain config field: a scan
point is ``config.replace(strength=λ)`` and ``run(config, strength=λ)`` is a
shorthand for the same.  A penalty's strength is ``config.strength × scale``
(``scale`` defaults to 1) unless the spec fixes ``strength``, which λ then does
not change (``scale`` and ``strength`` together are an error).  The effective
strength of every model is recorded in ``RunResult.info["models"]``
(:meth:`ModelSpec.describe`).

**Presets** (:class:`Presets`) map a name to a spec mapping, or to a function of
the config returning one, so the old config knobs stay inputs of the presets
(classifier workflows: ``adversary_scale`` and ``bdt_scale`` are the ``scale`` of
the ``adversary_mlp`` and ``disco_bdt`` presets; calibration: ``adversary`` holds
the ``DomainAdversary`` keywords of ``adversary_mlp``).  A spec mapping written
by hand is explicit and does not read those knobs.

Errors are :class:`~decorr_af.errors.ConfigError` naming the field, e.g.
``models[2].estimator`` or ``models[0].penalty.kind``.

Examples
--------
>>> rules = ModelRules(task="classification", presets=Presets("demo"))
>>> rules.presets.register("disco_mlp", {"estimator": "mlp", "penalty": {"kind": "DisCo"}})
>>> (spec,) = parse_models(["disco_mlp"], None, rules)
>>> spec.penalty.strength_at(20.0), spec.describe(20.0)["penalty"]["strength"]
(20.0, 20.0)
>>> (soft,) = parse_models(
...     [{"name": "soft", "preset": "disco_mlp", "penalty": {"scale": 0.1}}], None, rules)
>>> soft.to_dict()
{'name': 'soft', 'estimator': 'mlp', 'penalty': {'kind': 'DisCo', 'scale': 0.1}}
>>> parse_models([{"name": "x", "estimator": "svm"}], None, rules)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
decorr_af.errors.ConfigError: parameter 'models[0].estimator': unknown 'svm' (choose from ...)
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from decorr_af.errors import ConfigError

__all__ = [
    "ModelRules",
    "ModelSpec",
    "PenaltySpec",
    "Presets",
    "build_estimator",
    "build_penalty",
    "model_names",
    "parse_models",
]

#: keys of a spec mapping every workflow understands
SPEC_KEYS = ("name", "estimator", "penalty", "params", "preset")

Preset = Mapping[str, Any] | Callable[[Any], Mapping[str, Any]]


# -- specs ------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PenaltySpec:
    """A penalty of a model spec: its kind, how λ maps to it, its other keywords.

    ``strength`` (fixed) or ``scale`` (``strength = λ × scale``), not both.

    Examples
    --------
    >>> PenaltySpec("DisCo", scale=0.5).strength_at(20.0)
    10.0
    >>> PenaltySpec("DisCo", strength=3.0).strength_at(20.0)
    3.0
    """

    kind: str
    scale: float = 1.0
    strength: float | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def strength_at(self, lam: float) -> float:
        """The penalty strength when the config's λ is ``lam``."""
        return float(self.strength) if self.strength is not None else float(lam) * self.scale

    def build(self, lam: float) -> Any:
        """The penalty object at λ = ``lam`` (:func:`~decorr_af.decorrelation.make_penalty`)."""
        from decorr_af.decorrelation import make_penalty

        return make_penalty(self.kind, strength=self.strength_at(lam), **_tuples(self.params))

    def to_dict(self) -> dict[str, Any]:
        """The canonical mapping (``kind``, ``strength`` or ``scale``, keywords)."""
        how = {"strength": self.strength} if self.strength is not None else {"scale": self.scale}
        return {"kind": self.kind, **how, **_plain(self.params)}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One model of a workflow: name, estimator family, penalty, keyword overrides.

    ``options`` holds the workflow's own keys (calibration: ``inputs``,
    ``weights``), defaults filled in; ``index`` is the position in
    ``config.models`` (for error messages).
    """

    name: str
    estimator: str
    penalty: PenaltySpec | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    index: int = dataclasses.field(default=0, compare=False)

    @property
    def where(self) -> str:
        """The config field of this spec, e.g. ``"models[2]"``."""
        return f"models[{self.index}]"

    def penalty_strength(self, lam: float) -> float | None:
        """The effective penalty strength at λ = ``lam`` (None: no penalty)."""
        return None if self.penalty is None else self.penalty.strength_at(lam)

    def to_dict(self) -> dict[str, Any]:
        """The canonical spec mapping (what :func:`parse_models` reads back)."""
        out: dict[str, Any] = {"name": self.name, "estimator": self.estimator}
        if self.penalty is not None:
            out["penalty"] = self.penalty.to_dict()
        if self.params:
            out["params"] = _plain(self.params)
        out.update(_plain(self.options))
        return out

    def describe(self, lam: float) -> dict[str, Any]:
        """:meth:`to_dict` with the effective penalty ``strength`` at λ = ``lam``.

        What ``RunResult.info["models"][name]`` records: exactly what was trained.
        """
        out = self.to_dict()
        out.pop("name")
        if self.penalty is not None:
            out["penalty"]["strength"] = self.penalty.strength_at(lam)
        return out


# -- presets ----------------------------------------------------------------------
class Presets:
    """A registry of preset models: name -> spec mapping (or a function of the config).

    ``parent`` presets are visible too (a workflow extends a shared set).

    Examples
    --------
    >>> base = Presets("base")
    >>> base.register("plain_mlp", {"estimator": "mlp"})
    >>> more = Presets("more", parent=base)
    >>> more.register("cutbased", {"estimator": "cutbased"})
    >>> more.names()
    ('plain_mlp', 'cutbased')
    >>> more.resolve("plain_mlp", None)
    {'estimator': 'mlp'}
    """

    def __init__(self, name: str, *, parent: Presets | None = None) -> None:
        self.name = name
        self.parent = parent
        self._presets: dict[str, Preset] = {}

    def register(self, name: str, spec: Preset) -> None:
        """Register (or replace) the preset ``name``."""
        if not isinstance(name, str) or not name or "." in name:
            raise ConfigError(f"preset name must be a non-empty string without '.', got {name!r}")
        if not (isinstance(spec, Mapping) or callable(spec)):
            raise ConfigError(f"preset {name!r}: give a spec mapping or a function of the config")
        self._presets[name] = spec

    def names(self) -> tuple[str, ...]:
        """Every preset name, the parent's first."""
        own = tuple(self._presets)
        return (*(self.parent.names() if self.parent else ()), *own)

    def __contains__(self, name: object) -> bool:
        return name in self._presets or (self.parent is not None and name in self.parent)

    def resolve(self, name: str, config: Any) -> dict[str, Any]:
        """The spec mapping of preset ``name`` for ``config`` (ConfigError if unknown)."""
        if name in self._presets:
            spec = self._presets[name]
            return copy.deepcopy(dict(spec(config) if callable(spec) else spec))
        if self.parent is not None and name in self.parent:
            return self.parent.resolve(name, config)
        raise ConfigError(f"unknown model {name!r} (presets: {', '.join(self.names())})")


@dataclasses.dataclass(frozen=True)
class ModelRules:
    """What a workflow accepts in ``models``.

    ``task``: ``"classification"`` or ``"regression"`` (the estimator class used);
    ``special``: non-ML estimators the workflow builds itself (no penalty, no
    params); ``penalty_requires``: what the workflow can feed a penalty
    (``"protected"`` variable or ``"domain"`` data, the penalty class's
    ``requires``); ``options``: the workflow's own spec keys and their allowed
    values, the first being the default.
    """

    task: str
    presets: Presets
    special: tuple[str, ...] = ()
    penalty_requires: str = "protected"
    options: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


# -- parsing ----------------------------------------------------------------------
def model_names(models: Sequence[Any]) -> tuple[str, ...]:
    """The model names of a ``models`` list (preset names and spec ``name`` s).

    Examples
    --------
    >>> model_names(["plain_mlp", {"name": "x", "estimator": "mlp"}, {"preset": "disco_bdt"}])
    ('plain_mlp', 'x', 'disco_bdt')
    """
    return tuple(
        m if isinstance(m, str) else str(m.get("name", m.get("preset", ""))) for m in models
    )


def parse_models(models: Sequence[Any], config: Any, rules: ModelRules) -> tuple[ModelSpec, ...]:
    """Validated :class:`ModelSpec` s of a ``models`` list (preset names or mappings).

    ``config`` is passed to preset functions.  Raises ConfigError naming the
    field (``models``, ``models[i].estimator``, ``models[i].penalty.kind`` ...).
    """
    if isinstance(models, (str, bytes, Mapping)) or not isinstance(models, Sequence):
        raise ConfigError(f"parameter 'models' must be a list, got {models!r}")
    if not models:
        raise ConfigError("parameter 'models' is empty")
    specs, seen = [], set()
    for i, entry in enumerate(models):
        spec = _parse_one(i, entry, config, rules)
        if spec.name in seen:
            raise ConfigError(f"parameter 'models[{i}].name': duplicate model {spec.name!r}")
        seen.add(spec.name)
        specs.append(spec)
    return tuple(specs)


def _parse_one(i: int, entry: Any, config: Any, rules: ModelRules) -> ModelSpec:
    where = f"models[{i}]"
    if isinstance(entry, str):
        if entry not in rules.presets:
            raise ConfigError(
                f"parameter 'models': unknown model {entry!r} at {where} "
                f"(presets: {', '.join(rules.presets.names())}; or give a spec mapping)"
            )
        data = {**rules.presets.resolve(entry, config), "name": entry}
    elif isinstance(entry, Mapping):
        data = _with_preset(where, dict(entry), config, rules)
    else:
        raise ConfigError(f"parameter '{where}' must be a model name or a mapping, got {entry!r}")
    allowed = (*SPEC_KEYS, *rules.options)
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError(f"parameter '{where}': unknown key(s) {unknown} (allowed: {allowed})")
    name = data.get("name")
    if not isinstance(name, str) or not name or "." in name:
        raise ConfigError(
            f"parameter '{where}.name' must be a non-empty string without '.', got {name!r}"
        )
    estimator = _estimator(where, data.get("estimator"), rules)
    params = data.get("params") or {}
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise ConfigError(f"parameter '{where}.params' must be a mapping, got {params!r}")
    penalty = _penalty(where, data.get("penalty"), rules)
    if estimator in rules.special and (penalty is not None or params):
        raise ConfigError(f"parameter '{where}': {estimator!r} takes no penalty and no params")
    options = {}
    for key, choices in rules.options.items():
        value = data.get(key, choices[0])
        if value not in choices:
            raise ConfigError(f"parameter '{where}.{key}' must be one of {choices}, got {value!r}")
        options[key] = value
    return ModelSpec(name, estimator, penalty, dict(params), options, index=i)


def _with_preset(where: str, data: dict[str, Any], config: Any, rules: ModelRules) -> dict:
    """A spec mapping over its ``preset`` (params and penalty merged entry by entry)."""
    preset = data.pop("preset", None)
    if preset is None:
        return data
    if not isinstance(preset, str) or preset not in rules.presets:
        raise ConfigError(
            f"parameter '{where}.preset': unknown preset {preset!r} "
            f"(choose from {', '.join(rules.presets.names())})"
        )
    base = rules.presets.resolve(preset, config)
    out = {**base, "name": preset, **data}
    for key in ("params", "penalty"):
        over = data.get(key)
        if isinstance(base.get(key), Mapping) and isinstance(over, Mapping):
            merged = {**base[key], **over}
            if key == "penalty" and ("strength" in over) != ("scale" in over):
                merged.pop("scale" if "strength" in over else "strength", None)
            out[key] = merged
    return out


def _estimator(where: str, name: Any, rules: ModelRules) -> str:
    from decorr_af.models.registry import ESTIMATORS

    usable = [
        n for n, fam in ESTIMATORS.items()
        if (fam.classifier if rules.task == "classification" else fam.regressor) is not None
    ]  # fmt: skip
    if name in rules.special or name in usable:
        return str(name)
    choices = ", ".join([*sorted(usable), *rules.special])
    raise ConfigError(f"parameter '{where}.estimator': unknown {name!r} (choose from {choices})")


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"parameter '{field}' must be a finite number, got {value!r}")
    if value < 0:
        raise ConfigError(f"parameter '{field}' must be >= 0, got {value!r}")
    return float(value)


def _penalty(where: str, data: Any, rules: ModelRules) -> PenaltySpec | None:
    from decorr_af.decorrelation import make_penalty

    if data is None:
        return None
    field = f"{where}.penalty"
    if isinstance(data, str):
        data = {"kind": data}
    if not isinstance(data, Mapping):
        raise ConfigError(f"parameter '{field}' must be a mapping with a 'kind', got {data!r}")
    params = dict(data)
    kind = params.pop("kind", None)
    if not isinstance(kind, str):
        raise ConfigError(f"parameter '{field}.kind' must name a penalty class, got {kind!r}")
    if "scale" in params and "strength" in params:
        raise ConfigError(f"parameter '{field}': give 'scale' (λ × scale) or 'strength', not both")
    scale = _number(f"{field}.scale", params.pop("scale", 1.0))
    strength = params.pop("strength", None)
    if strength is not None:
        strength = _number(f"{field}.strength", strength)
    try:
        make_penalty(kind)
    except ConfigError as err:
        raise ConfigError(f"parameter '{field}.kind': {_inner(err)}") from None
    except TypeError:  # a class with required keywords: its kind is known
        pass
    try:
        pen = make_penalty(kind, strength=1.0 if strength is None else strength, **_tuples(params))
    except (ConfigError, TypeError) as err:
        raise ConfigError(f"parameter '{field}': {_inner(err)}") from None
    requires = getattr(pen, "requires", "protected")
    if requires != rules.penalty_requires:
        raise ConfigError(
            f"parameter '{field}.kind': {type(pen).__name__} needs {requires!r} inputs; "
            f"this workflow provides {rules.penalty_requires!r} "
            f"({'protected variable' if rules.penalty_requires == 'protected' else 'data'})"
        )
    return PenaltySpec(type(pen).__name__, scale, strength, params)


def _inner(err: BaseException) -> str:
    """An error message without its own ``parameter '...':`` prefix."""
    text = str(err)
    if text.startswith("parameter '") and "': " in text:
        return text.split("': ", 1)[1]
    return text


def _tuples(params: Mapping[str, Any]) -> dict[str, Any]:
    """YAML lists to tuples (layer sizes ...), one level deep."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


# -- building ---------------------------------------------------------------------
def build_penalty(spec: ModelSpec, lam: float) -> Any:
    """The penalty object of ``spec`` at λ = ``lam`` (None if it has none)."""
    if spec.penalty is None:
        return None
    try:
        return spec.penalty.build(lam)
    except ConfigError as err:
        raise ConfigError(f"parameter '{spec.where}.penalty': {_inner(err)}") from None


def build_estimator(
    spec: ModelSpec,
    *,
    task: str,
    lam: float,
    defaults: Mapping[str, Any],
    strict: Mapping[str, Mapping[str, Any]] | None = None,
) -> Any:
    """An unfitted estimator of ``spec`` at λ = ``lam``.

    Keywords: ``defaults`` (the workflow's shared hyper-parameters, those the
    class does not take are dropped), then ``strict`` (named mappings, e.g.
    calibration's ``{"mlp": config.mlp}``, every key must be a keyword of the
    class), then ``spec.params`` (every key must be a keyword), then the penalty.

    Examples
    --------
    >>> rules = ModelRules(task="regression", presets=Presets("demo"))
    >>> (spec,) = parse_models([{"name": "b", "estimator": "bdt", "params": {"max_depth": 2}}],
    ...                        None, rules)
    >>> est = build_estimator(spec, task="regression", lam=0.0,
    ...                       defaults={"n_estimators": 5, "hidden": (8,), "max_depth": 4})
    >>> est.n_estimators, est.max_depth, est.penalty is None
    (5, 2, True)
    """
    from decorr_af.models.registry import estimator_class, make_estimator

    try:
        cls = estimator_class(spec.estimator, task)
    except ConfigError as err:
        raise ConfigError(f"parameter '{spec.where}.estimator': {_inner(err)}") from None
    accepted = set(cls._get_param_names())
    for field, values in [*(strict or {}).items(), (f"{spec.where}.params", spec.params)]:
        bad = sorted(set(values) - accepted)
        if bad:
            raise ConfigError(
                f"parameter '{field}': {cls.__name__} has no parameter(s) {bad} "
                f"(has {sorted(accepted)})"
            )
    kw: dict[str, Any] = dict(defaults)
    for values in (strict or {}).values():
        kw.update(values)
    kw.update(_tuples(spec.params))
    kw["penalty"] = build_penalty(spec, lam)
    return make_estimator(spec.estimator, task, **kw)

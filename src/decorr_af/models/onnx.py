"""Export trained estimators to ONNX (ONNX Runtime in Athena, C++ or any language).

:func:`to_onnx` turns a fitted :class:`~decorr_af.models.DecorrelatedClassifier`,
:class:`~decorr_af.models.DecorrelatedRegressor`,
:class:`~decorr_af.models.DisCoXGBClassifier` or
:class:`~decorr_af.models.DisCoXGBRegressor` into an ``onnx.ModelProto``;
:func:`export_onnx` writes one from an estimator, a saved model directory or
a run / scan-point directory (``decorr-af export-model``).

The graph holds everything ``predict`` does, so the user feeds raw features:

* input ``features``: float32 ``[N, n_features]`` in the order of the metadata
  entry ``decorr_af.features``;
* torch MLPs standardise inside the graph (``(x - mean) / scale`` in float64,
  as the package does), then ``Gemm`` + activation layers;
* xgboost models are an ``ai.onnx.ml`` ``TreeEnsembleRegressor`` written from
  the booster's JSON model (splits ``x < threshold``, missing values follow
  xgboost's default direction) plus the model's constant base margin;
* outputs: classifiers ``logit`` ``[N]`` (``decision_function``) and
  ``probabilities`` ``[N, 2]`` (``predict_proba``, column 1 = signal);
  regressors ``prediction`` ``[N]`` (``predict``, original target units).

Metadata (``metadata_props``, JSON strings): ``decorr_af.features``,
``decorr_af.scaling``, ``decorr_af.outputs``, ``decorr_af.task``,
``decorr_af.estimator``, ``decorr_af.classes``, ``decorr_af.target_scaling``,
``decorr_af.penalty``, ``decorr_af.strength``, ``decorr_af.version``.

New estimator families register an :class:`OnnxExporter`; new torch layers a
layer converter (:func:`register_layer`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from decorr_af.errors import ConfigError, InputFileError

__all__ = [
    "EXPORTERS",
    "OnnxExporter",
    "TorchMLPExporter",
    "XGBoostExporter",
    "export_onnx",
    "register_exporter",
    "register_layer",
    "to_onnx",
]

#: default ONNX opset and ai.onnx.ml opset of exported graphs
OPSET = 17
ML_OPSET = 3
INPUT = "features"
_ML = "ai.onnx.ml"


class _Graph:
    """Nodes and constants of a graph being built (unique names)."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._n = 0

    def _name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}_{self._n}"

    def const(self, stem: str, value: Any, dtype: Any = np.float32) -> str:
        from onnx import numpy_helper

        name = self._name(stem)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs: Any) -> str:
        from onnx import helper

        domain = attrs.pop("domain", "")
        output = out or self._name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], domain=domain, **attrs))
        return output


# -- exporters -------------------------------------------------------------------
class OnnxExporter:
    """Builds the raw output (signal logit / standardised prediction) of one estimator family.

    Subclasses list the estimator class names they handle and implement :meth:`raw`.
    """

    #: estimator class names this exporter handles
    classes: ClassVar[tuple[str, ...]] = ()

    def raw(self, est: Any, g: _Graph, x: str) -> str:
        """Add the nodes from float32 ``x`` ``[N, F]`` to the raw output; its name (float ``[N, 1]``)."""
        raise NotImplementedError

    def scaling(self, est: Any) -> dict[str, Any]:
        """How the graph scales its inputs (metadata ``decorr_af.scaling``)."""
        return {"kind": "none", "note": "raw features go in as they are"}


#: estimator class name -> exporter
EXPORTERS: dict[str, OnnxExporter] = {}


def register_exporter(exporter: OnnxExporter) -> OnnxExporter:
    """Register ``exporter`` for each class name in ``exporter.classes`` (returns it)."""
    for name in exporter.classes:
        EXPORTERS[name] = exporter
    return exporter


#: torch module class name -> converter(graph, module, input name) -> output name
_LAYERS: dict[str, Callable[[_Graph, Any, str], str]] = {}


def register_layer(name: str) -> Callable[[Callable[[_Graph, Any, str], str]], Any]:
    """Decorator registering the ONNX converter of the torch layer class ``name``."""

    def deco(fn: Callable[[_Graph, Any, str], str]) -> Callable[[_Graph, Any, str], str]:
        _LAYERS[name] = fn
        return fn

    return deco


@register_layer("Linear")
def _linear(g: _Graph, layer: Any, x: str) -> str:
    w = layer.weight.detach().cpu().numpy()
    b = layer.bias.detach().cpu().numpy() if layer.bias is not None else np.zeros(w.shape[0])
    return g.op("Gemm", x, g.const("W", w), g.const("b", b), transB=1)


@register_layer("ReLU")
def _relu(g: _Graph, layer: Any, x: str) -> str:
    return g.op("Relu", x)


@register_layer("Tanh")
def _tanh(g: _Graph, layer: Any, x: str) -> str:
    return g.op("Tanh", x)


@register_layer("ELU")
def _elu(g: _Graph, layer: Any, x: str) -> str:
    return g.op("Elu", x, alpha=float(layer.alpha))


@register_layer("LeakyReLU")
def _leaky_relu(g: _Graph, layer: Any, x: str) -> str:
    return g.op("LeakyRelu", x, alpha=float(layer.negative_slope))


@register_layer("SiLU")
def _silu(g: _Graph, layer: Any, x: str) -> str:
    return g.op("Mul", x, g.op("Sigmoid", x))


@register_layer("GELU")
def _gelu(g: _Graph, layer: Any, x: str) -> str:
    if getattr(layer, "approximate", "none") != "none":
        raise ConfigError("ONNX export: only the exact GELU (approximate='none') is supported")
    inner = g.op("Erf", g.op("Div", x, g.const("sqrt2", np.sqrt(2.0))))
    one_plus = g.op("Add", inner, g.const("one", 1.0))
    return g.op("Mul", g.op("Mul", x, one_plus), g.const("half", 0.5))


@register_layer("Dropout")
def _dropout(g: _Graph, layer: Any, x: str) -> str:
    return x  # inference: identity


class TorchMLPExporter(OnnxExporter):
    """``DecorrelatedClassifier`` / ``DecorrelatedRegressor``: standardisation + MLP layers."""

    classes = ("DecorrelatedClassifier", "DecorrelatedRegressor")

    def raw(self, est: Any, g: _Graph, x: str) -> str:
        x64 = g.op("Cast", x, to=_tensor_type("double"))
        centred = g.op("Sub", x64, g.const("x_mean", est.x_mean_, np.float64))
        scaled = g.op("Div", centred, g.const("x_scale", est.x_scale_, np.float64))
        h = g.op("Cast", scaled, to=_tensor_type("float"))
        for layer in est.model_.layers:
            kind = type(layer).__name__
            if kind not in _LAYERS:
                raise ConfigError(
                    f"ONNX export: no converter for torch layer {kind} "
                    f"(have {', '.join(sorted(_LAYERS))}; add one with register_layer)"
                )
            h = _LAYERS[kind](g, layer, h)
        return h

    def scaling(self, est: Any) -> dict[str, Any]:
        return {
            "kind": "standardise",
            "formula": "(x - mean) / scale, inside the graph (feed raw features)",
            "mean": [float(v) for v in est.x_mean_],
            "scale": [float(v) for v in est.x_scale_],
        }


class XGBoostExporter(OnnxExporter):
    """``DisCoXGBClassifier`` / ``DisCoXGBRegressor``: a TreeEnsembleRegressor of the trees."""

    classes = ("DisCoXGBClassifier", "DisCoXGBRegressor")

    def raw(self, est: Any, g: _Graph, x: str) -> str:
        model = json.loads(bytes(est.booster_.save_raw("json")))
        learner = model["learner"]
        booster = learner["gradient_booster"]
        if booster.get("name") != "gbtree":
            raise ConfigError(f"ONNX export: xgboost booster '{booster.get('name')}' (need gbtree)")
        trees = booster["model"]["trees"]
        attrs: dict[str, list[Any]] = {
            k: []
            for k in (
                "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values",
                "nodes_modes", "nodes_truenodeids", "nodes_falsenodeids",
                "nodes_missing_value_tracks_true", "target_treeids", "target_nodeids",
                "target_ids", "target_weights",
            )
        }  # fmt: skip
        for tree_id, tree in enumerate(trees):
            if any(int(t) != 0 for t in tree.get("split_type", [])):
                raise ConfigError("ONNX export: categorical xgboost splits are not supported")
            left, right = tree["left_children"], tree["right_children"]
            for node, (lo, hi) in enumerate(zip(left, right)):
                leaf = lo == -1
                attrs["nodes_treeids"].append(tree_id)
                attrs["nodes_nodeids"].append(node)
                attrs["nodes_featureids"].append(0 if leaf else int(tree["split_indices"][node]))
                attrs["nodes_values"].append(0.0 if leaf else float(tree["split_conditions"][node]))
                attrs["nodes_modes"].append("LEAF" if leaf else "BRANCH_LT")
                attrs["nodes_truenodeids"].append(0 if leaf else int(lo))
                attrs["nodes_falsenodeids"].append(0 if leaf else int(hi))
                attrs["nodes_missing_value_tracks_true"].append(
                    0 if leaf else int(tree["default_left"][node])
                )
                if leaf:
                    attrs["target_treeids"].append(tree_id)
                    attrs["target_nodeids"].append(node)
                    attrs["target_ids"].append(0)
                    attrs["target_weights"].append(float(tree["split_conditions"][node]))
        return g.op(
            "TreeEnsembleRegressor",
            x,
            domain=_ML,
            n_targets=1,
            aggregate_function="SUM",
            post_transform="NONE",
            base_values=[float(est.base_margin_)],
            **attrs,
        )


for _exporter in (TorchMLPExporter(), XGBoostExporter()):
    register_exporter(_exporter)


def _tensor_type(name: str) -> int:
    from onnx import TensorProto

    return int({"float": TensorProto.FLOAT, "double": TensorProto.DOUBLE}[name])


# -- the model ---------------------------------------------------------------------
def _is_classifier(est: Any) -> bool:
    from decorr_af.models._binary import BinaryClassifierOutput

    return isinstance(est, BinaryClassifierOutput)


def _heads(est: Any, g: _Graph, raw: str) -> tuple[list[tuple[str, list[Any]]], dict[str, str]]:
    flat = g.op("Reshape", raw, g.const("shape_n", [-1], np.int64))
    if _is_classifier(est):
        g.op("Identity", flat, out="logit")
        p = g.op("Sigmoid", flat)
        p_col = g.op("Unsqueeze", p, g.const("axis1", [1], np.int64))
        q_col = g.op("Sub", g.const("one", [[1.0]]), p_col)
        g.op("Concat", q_col, p_col, out="probabilities", axis=1)
        classes = [_plain(c) for c in est.classes_]
        return [("logit", ["N"]), ("probabilities", ["N", 2])], {
            "logit": "logit of the signal probability (decision_function); "
            f"signal = class {classes[1]!r}",
            "probabilities": f"predict_proba: column 0 = P({classes[0]!r}), "
            f"column 1 = P({classes[1]!r}) (signal)",
        }
    raw64 = g.op("Cast", flat, to=_tensor_type("double"))
    scaled = g.op("Mul", raw64, g.const("y_scale", float(est.y_scale_), np.float64))
    pred = g.op("Add", scaled, g.const("y_mean", float(est.y_mean_), np.float64))
    g.op("Cast", pred, out="prediction", to=_tensor_type("float"))
    return [("prediction", ["N"])], {
        "prediction": "predict: the regression target in its original units "
        "(y_mean + y_scale * network output)"
    }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def to_onnx(est: Any, *, feature_names: Sequence[str] | None = None, opset: int = OPSET) -> Any:
    """The ``onnx.ModelProto`` of a fitted estimator (see the module docstring).

    Parameters
    ----------
    est
        A fitted estimator of a registered family (:data:`EXPORTERS`).
    feature_names
        Input names for the metadata when the estimator was fitted on a plain
        array (a workflow's ``config.features``); estimators fitted on a
        DataFrame know theirs (a different list raises ConfigError).
    opset
        ONNX opset of the graph.

    Examples
    --------
    >>> import numpy as np
    >>> from decorr_af.models import DisCoXGBClassifier
    >>> X = np.random.default_rng(0).normal(size=(300, 2)); y = (X[:, 0] > 0).astype(int)
    >>> model = to_onnx(DisCoXGBClassifier(n_estimators=3, device="cpu").fit(X, y))
    >>> [o.name for o in model.graph.output]
    ['logit', 'probabilities']
    """
    from decorr_af._compat import optional_import

    onnx = optional_import("onnx", "onnx")
    from onnx import TensorProto, helper

    from decorr_af._version import __version__

    name = type(est).__name__
    if name not in EXPORTERS:
        raise ConfigError(
            f"ONNX export: {name} is not supported (supported: {', '.join(sorted(EXPORTERS))})"
        )
    if not hasattr(est, "n_features_in_"):
        raise ConfigError(f"ONNX export: this {name} is not fitted yet")
    exporter = EXPORTERS[name]
    g = _Graph()
    n_features = int(est.n_features_in_)
    raw = exporter.raw(est, g, INPUT)
    outputs, meanings = _heads(est, g, raw)
    features = _feature_names(est, feature_names, n_features)
    graph = helper.make_graph(
        g.nodes,
        f"decorr_af_{name}",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", n_features])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, shape) for o, shape in outputs],
        initializer=g.initializers,
    )
    opsets = [helper.make_opsetid("", opset)]
    if any(n.domain == _ML for n in g.nodes):
        opsets.append(helper.make_opsetid(_ML, ML_OPSET))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="decorr_af")
    model.producer_version = __version__
    model.ir_version = min(model.ir_version, 9)  # readable by ONNX Runtime >= 1.15
    penalty = getattr(est, "penalty", None)
    meta = {
        "decorr_af.version": __version__,
        "decorr_af.estimator": name,
        "decorr_af.task": "classification" if _is_classifier(est) else "regression",
        "decorr_af.features": features,
        "decorr_af.input": {"name": INPUT, "dtype": "float32", "shape": ["N", n_features]},
        "decorr_af.scaling": exporter.scaling(est),
        "decorr_af.outputs": meanings,
        "decorr_af.penalty": None if penalty is None else penalty.to_dict(),
        "decorr_af.strength": None if penalty is None else float(penalty.strength),
    }
    if _is_classifier(est):
        meta["decorr_af.classes"] = [_plain(c) for c in est.classes_]
    else:
        meta["decorr_af.target_scaling"] = {"mean": est.y_mean_, "scale": est.y_scale_}
    helper.set_model_props(model, {k: json.dumps(_jsonable(v)) for k, v in meta.items()})
    model.doc_string = (
        f"decorr_af {name}: input '{INPUT}' float32 [N, {n_features}] = {', '.join(features)}; "
        f"outputs {', '.join(o for o, _ in outputs)} (see metadata decorr_af.outputs)"
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def _feature_names(est: Any, given: Sequence[str] | None, n_features: int) -> list[str]:
    names = getattr(est, "feature_names_in_", None)
    own = None if names is None else [str(f) for f in names]
    given = None if given is None else [str(f) for f in given]
    if given is not None and len(given) != n_features:
        raise ConfigError(
            f"feature_names has {len(given)} names but the model takes {n_features} features"
        )
    if own is not None and given is not None and own != given:
        raise ConfigError(f"feature_names={given} differ from the model's own {own}")
    return own or given or [f"x{i}" for i in range(n_features)]


def _jsonable(value: Any) -> Any:
    from decorr_af.models.io import to_jsonable

    return to_jsonable(value)


# -- to a file -------------------------------------------------------------------------
def export_onnx(
    source: Any,
    out: str | os.PathLike[str],
    *,
    feature_names: Sequence[str] | None = None,
    opset: int = OPSET,
) -> Path:
    """Write the ONNX file of a fitted estimator or of a saved model directory.

    Run and scan-point directories (``result.json``) go through
    :func:`decorr_af.cli.export_model.export_model` (``decorr-af export-model``),
    which picks the model by name.

    Parameters
    ----------
    source
        A fitted estimator or a saved model directory (``metadata.json``).
    out
        The ``.onnx`` file to write.
    feature_names
        Input names for a model fitted on a plain array (see :func:`to_onnx`).
    opset
        ONNX opset of the graph.

    Returns
    -------
    Path
        ``out``.
    """
    if isinstance(source, (str, os.PathLike)):
        from decorr_af.models.io import METADATA_FILE, load_model

        path = Path(source)
        if not (path / METADATA_FILE).is_file():
            raise InputFileError(f"{path}: not a saved model directory (no {METADATA_FILE})")
        est = load_model(path)
    else:
        est = source
    proto = to_onnx(est, feature_names=feature_names, opset=opset)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(proto.SerializeToString())
    tmp.replace(out)
    return out

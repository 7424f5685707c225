"""An ONNX model as a cnncalc spec: one layer per op (or per recognised pattern), channels
last, residuals and concatenations as `inputs:`. Shapes and parameters are checked against
ONNX's own shape inference and the file's weights before anything is returned; an op cnncalc
cannot express is an error naming it, never a silently wrong count."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import CnnCalcError, Diagnostic, Span, name
from ..layers.shape import Shape
from .onnx_file import (
    channels_last_input,
    data_input,
    fail,
    fix_input,
    infer_shapes,
    read_model,
    shapes_of,
)
from .onnx_graph import Graph, attributes
from .onnx_names import Namer
from .onnx_registry import FLAT, LAST, NC, Unsupported
from .spec_writer import live_layers, spec_layers, spec_text


def cnn_shape(onnx_shape: tuple, layout: str, rank: int) -> Shape:
    """An ONNX shape (batch first) as cnncalc's one-sample shape, channels last."""
    if layout == FLAT or (layout == NC and len(onnx_shape) >= 2 and len(onnx_shape) != rank + 2
                          and all(s == 1 for s in onnx_shape[2:])):
        if len(onnx_shape) < 2 or any(s != 1 for s in onnx_shape[2:]):
            raise Unsupported(f"expected [batch, features], got {list(onnx_shape)}")
        return Shape((1,) * rank, onnx_shape[1])  # [N, C, 1, ...]: one position
    if len(onnx_shape) != rank + 2:
        raise Unsupported(f"expected {rank} spatial axes, got shape {list(onnx_shape)}")
    if layout == LAST:
        return Shape(tuple(onnx_shape[1:-1]), onnx_shape[-1])
    return Shape(tuple(onnx_shape[2:]), onnx_shape[1])


@dataclass
class Value:
    """An ONNX data tensor as cnncalc sees it: the layer that makes it, and its layout."""

    source: str  # a layer name, or "input"
    layout: str = NC


@dataclass
class Emitted:
    """One spec layer and what it must agree with."""

    name: str
    settings: dict  # type and settings, as written in the spec
    inputs: list[str]
    node: str  # the ONNX node's name (or op type) for messages
    weights: list[str] = field(default_factory=list)  # tensors counted as its parameters
    expect: tuple | None = None  # the ONNX shape of its output, and that shape's layout
    bias_slot: bool = False  # a later Add of a constant may become this layer's bias


class Importer:
    """Walks the data nodes in order; op handlers (onnx_ops) emit layers or aliases."""

    def __init__(self, graph: Graph, display: str):
        self.g, self.display = graph, display
        self.rank = len(graph.shape(graph.input_name)) - 2
        self.values = {graph.input_name: Value("input", graph.input_layout)}
        self.layers: list[Emitted] = []
        self.by_name: dict[str, Emitted] = {}
        self.claimed: set[int] = set()  # nodes already handled by a pattern
        self.namer = Namer()
        self.node = None

    # --- what handlers ask ----------------------------------------------------------------
    def value(self, tensor: str) -> Value:
        if tensor not in self.values:
            raise Unsupported(f"reads '{name(tensor)}', which no mapped layer makes")
        return self.values[tensor]

    def shape(self, tensor: str) -> tuple:
        shape = self.g.shape(tensor)
        if shape is None:
            raise Unsupported(f"ONNX shape inference left the shape of '{name(tensor)}' unknown")
        return shape

    def const(self, tensor: str, what: str, optional: bool = False):
        """A constant input's value (None for an absent optional input)."""
        if not tensor:
            if not optional:
                raise Unsupported(f"needs {what}")
            return None
        if self.g.is_data(tensor):
            raise Unsupported(f"{what} must be a constant, not computed from the input")
        found = self.g.value(tensor)
        if found is None:
            raise Unsupported(f"{what} ('{name(tensor)}') is not a constant cnncalc can read")
        return found

    def weight(self, tensor: str, what: str) -> tuple:
        """The shape of a weight input, which must be a float initializer (parameters)."""
        if not tensor or self.g.is_data(tensor) or not self.g.is_float(tensor):
            raise Unsupported(f"{what} must be a float initializer (the file's weights)")
        return self.shape(tensor)

    def cnn_shape(self, onnx_shape: tuple, layout: str) -> Shape:
        return cnn_shape(onnx_shape, layout, self.rank)

    def channels(self, tensor: str) -> int:
        return self.cnn_shape(self.shape(tensor), self.value(tensor).layout).c

    # --- what handlers do -----------------------------------------------------------------
    def emit(self, settings: dict, inputs: list[Value], out: str, layout: str = NC,
             weights: tuple = (), bias_slot: bool = False, suffix: str = "") -> Emitted:
        node = self.node
        weight = next((w for w in weights if w), None)
        layer = Emitted(self.namer.fresh(node, self.g.source(weight) if weight else None, suffix),
                        settings, [v.source for v in inputs], node.name or node.op_type,
                        [w for w in weights if w], (self.shape(out), layout), bias_slot)
        self.layers.append(layer)
        self.by_name[layer.name] = layer
        self.values[out] = Value(layer.name, layout)
        return layer

    def alias(self, out: str, value: Value, layout: str | None = None) -> None:
        self.values[out] = Value(value.source, layout or value.layout)

    def claim(self, node) -> None:
        self.claimed.add(id(node))

    # --- the walk -------------------------------------------------------------------------
    def run(self, handlers: dict) -> None:
        for node in self.g.data_nodes():
            if id(node) in self.claimed:
                continue
            self.node = node
            try:
                handlers[node.op_type](self, node, attributes(node))
            except Unsupported as why:
                raise fail(self.display, f"ONNX node '{name(node.name or node.op_type)}' "
                                         f"({node.op_type}) cannot be imported: {why}") from None
            except (KeyError, IndexError, ValueError, TypeError, ArithmeticError) as error:
                raise fail(self.display, f"ONNX node '{name(node.name or node.op_type)}' "
                                         f"({node.op_type}) is malformed",
                           f"{type(error).__name__}: {name(error, 80)}") from None


def unmapped(graph: Graph, handlers: dict) -> list:
    return [n for n in graph.data_nodes() if n.op_type not in handlers or n.domain not in ("", "ai.onnx")]


def unmapped_message(nodes: list) -> str:
    by_op: dict[str, list[str]] = {}
    for node in nodes:
        by_op.setdefault(node.op_type, []).append(node.name or "(unnamed)")
    parts = []
    for op, names in by_op.items():
        more = f", +{len(names) - 3} more" if len(names) > 3 else ""
        shown = ", ".join(name(n, 40) for n in names[:3]) + more
        parts.append(f"{name(op, 40)} ({shown})")
    return "ONNX ops cnncalc does not map: " + "; ".join(parts)


def handlers() -> dict:
    """Every op handler, by op type: the handler modules fill onnx_registry's table when first
    imported (they import only the registry, never this module)."""
    from . import onnx_merge_reshape, onnx_ops, onnx_patterns  # noqa: F401  (they register)
    from .onnx_registry import HANDLERS
    return HANDLERS


def read_graph(path: str, display: str, override: Shape | None) -> Graph:
    model = read_model(path, display)
    graph = Graph(model, {}, data_input(model, display).name)
    missing = unmapped(graph, handlers())
    if missing:
        raise fail(display, unmapped_message(missing))
    last = channels_last_input(model, display)
    fix_input(model, display, override, last)
    for round_ in range(MAX_FOLDS):
        model = infer_shapes(model, display, fresh=round_ == 0)
        graph = Graph(model, shapes_of(model), data_input(model, display).name)
        graph.input_layout = LAST if last else NC
        if not fold_constants(graph) | keep_shapes(graph):
            break
    return graph


SAME_SHAPE = {"GroupNormalization", "InstanceNormalization", "LayerNormalization", "Gelu",
              "HardSwish", "HardSigmoid", "Elu", "LeakyRelu", "Relu", "Sigmoid", "Tanh",
              "Softmax", "Clip", "Dropout", "Identity", "BatchNormalization", "LRN"}


def keep_shapes(graph: Graph) -> bool:
    """Ops whose output has their input's shape, where ONNX's inference (some opsets' function
    ops) left it unknown: write it down so the next round carries on from there."""
    from onnx import helper
    added = False
    for node in graph.data_nodes():
        if node.op_type in SAME_SHAPE and graph.shape(node.output[0]) is None and \
                graph.shape(node.input[0]) is not None:
            graph.graph.value_info.append(helper.make_tensor_value_info(
                node.output[0], 1, list(graph.shape(node.input[0]))))
            added = True
    return added


MAX_FOLDS = 200  # rounds of folding and shape inference (each can reveal the next block's sizes)


def fold_constants(graph: Graph) -> bool:
    """Constants computed inside the graph (the legacy exporter's Shape -> Gather -> Slice
    chains) become initializers read by the data nodes, so that shape inference, run again,
    knows the sizes that follow. True when something was folded."""
    from onnx import numpy_helper
    folded = False
    for node in graph.data_nodes():
        for i, tensor in enumerate(node.input):
            if not tensor or graph.is_data(tensor) or graph.source(tensor) is not None:
                continue
            if graph.producer.get(tensor) is None:
                continue
            value = graph.value(tensor)
            if value is None:
                continue
            new = f"cnncalc_folded_{len(graph.graph.initializer)}"
            graph.graph.initializer.append(numpy_helper.from_array(value, new))
            node.input[i] = new
            folded = True
    return folded


def import_onnx(path: str, display: str | None = None, override: Shape | None = None):
    """(the spec as a dict, the emitted layers, the Graph) for the ONNX model at `path`."""
    display = display or path
    graph = read_graph(path, display, override)
    importer = Importer(graph, display)
    importer.run(handlers())
    outputs = [importer.values[o] for o in graph.outputs if o in importer.values]
    if not outputs or all(v.source == "input" for v in outputs):
        raise fail(display, "the model's outputs are not computed by any layer cnncalc maps")
    layers = live_layers(importer.layers, {v.source for v in outputs})
    input_shape = importer.cnn_shape(graph.shape(graph.input_name), graph.input_layout)
    from pathlib import Path
    spec = {"name": Path(display).stem or "model", "input": input_shape.as_list(),
            "layers": spec_layers(layers)}
    return spec, layers, graph


def check(network, layers: list[Emitted], graph: Graph, display: str) -> None:
    """Every layer's shape equals ONNX's inference; parameters equal the weights read."""
    from math import prod

    from ..analysis.analyze import analyze
    report = analyze(network)
    by_name = {layer.name: layer for layer in layers}
    for node, row in zip(network.nodes, report.rows):
        layer = by_name[node.name]
        onnx_shape, layout = layer.expect
        try:
            want = cnn_shape(onnx_shape, layout, network.input_shape.rank)
        except Unsupported as why:
            raise fail(display, f"layer '{name(node.name)}': {why}") from None
        if row.output_shape != want:
            raise fail(display, f"layer '{name(node.name)}' (ONNX node '{name(layer.node)}'): "
                                f"cnncalc's shape {row.output_shape} differs from ONNX's "
                                f"{list(onnx_shape)}")
    weights = sum(prod(graph.shape(w)) for layer in layers for w in layer.weights)
    counted = report.totals.params
    if counted != weights:
        raise fail(display, f"cnncalc counts {counted:,} parameters but the layers read "
                            f"{weights:,} weight values (please report this model)")


def load_onnx(path: str, display: str | None = None, override: Shape | None = None):
    """An ONNX file -> a checked Network (what `open_spec` returns for a spec)."""
    from ..language.document import loads
    display = display or path
    spec, layers, graph = import_onnx(path, display, override)
    try:
        network = loads(spec_text(spec, "# imported"), display)
    except CnnCalcError as error:
        raise CnnCalcError(Diagnostic(Span(display), "the imported spec does not build: "
                                      + error.diagnostic.format())) from None
    check(network, layers, graph, display)
    return network, spec, graph


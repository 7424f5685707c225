"""A Keras model (a `.keras` file or `model.to_json()`'s JSON) as a cnncalc spec: one or two
spec layers per Keras layer (keras_layers), channels last as Keras has them, merges as
`inputs:`, nested Sequential and Functional models inlined. The weights are never read: the
config holds everything counted. A layer cnncalc cannot express is an error naming it and
its class."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from math import prod
from pathlib import Path

from ..errors import name, show
from .keras_file import fail, read_keras_file, read_keras_json
from .keras_layers import HANDLERS, Unsupported
from . import keras_values  # noqa: F401  (registers its handlers into HANDLERS)
from .spec_writer import live_layers, spec_layers

MODELS = ("Functional", "Sequential", "Model")
INPUT = "input"
UNSAFE = re.compile(r"[^A-Za-z0-9_\-]+")


@dataclass
class Emitted:
    name: str
    settings: dict
    inputs: list[str]
    keras: str  # the Keras layer's name, for messages


@dataclass
class Walk:
    """What the walk has made so far: spec layers, and which layer makes each Keras tensor."""

    display: str
    layers: list[Emitted] = field(default_factory=list)
    names: set = field(default_factory=set)
    input_shape: tuple | None = None

    def fresh(self, wanted: str) -> str:
        base = UNSAFE.sub("_", wanted).strip("_") or "layer"
        found, n = base, 1
        while found in self.names or found == INPUT:
            n += 1
            found = f"{base}_{n}"
        self.names.add(found)
        return found


@dataclass
class Tensor:
    source: str  # the spec layer that makes it (or "input")
    shape: tuple  # the Keras shape, batch left out (None: a dynamic size)


def layer_error(display: str, layer: dict, message: str, received: str | None = None):
    cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    lname = layer.get("name") or cfg.get("name") or "?"
    return fail(display, f"Keras layer '{name(str(lname), 60)}' "
                         f"({name(str(layer.get('class_name', '?')), 60)}) {message}", received)


def class_key(layer: dict) -> str:
    """The handler key: the class name, with keras.ops' classes apart from the layers."""
    module = str(layer.get("module") or "")
    class_name = str(layer.get("class_name"))
    return f"ops.{class_name}" if module.startswith("keras.src.ops") else class_name


def keras_shape(value) -> tuple:
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"a shape, got {show(value)}")
    if not all(v is None or (isinstance(v, int) and v >= 0) for v in value):
        raise ValueError(f"a shape, got {show(value)}")
    return tuple(value[1:])  # the batch axis left out


def input_batch_shape(cfg: dict):
    for key in ("batch_shape", "batch_input_shape"):
        if cfg.get(key) is not None:
            return cfg[key]
    if cfg.get("shape") is not None:
        return [None, *cfg["shape"]]
    return None


class Importer:
    def __init__(self, display: str):
        self.walk = Walk(display)
        self.display = display

    # --- models ---------------------------------------------------------------------------
    def model(self, model: dict, inputs: list[Tensor] | None) -> list[Tensor]:
        cfg = model.get("config")
        if not isinstance(cfg, dict) or not isinstance(cfg.get("layers"), list):
            raise fail(self.display, f"model '{name(str(model.get('name', '?')))}' has no "
                                     "'layers' list in its config")
        if model.get("class_name") == "Sequential":
            return self.sequential(model, cfg, inputs)
        return self.functional(model, cfg, inputs)

    def first_input(self, shape_value, where: dict) -> Tensor:
        if shape_value is None:
            raise layer_error(self.display, where, "has no input shape recorded (build the "
                                                   "model, or start it with keras.Input)")
        shape = keras_shape(shape_value)
        if self.walk.input_shape is None:
            self.walk.input_shape = shape
            return Tensor(INPUT, shape)
        raise fail(self.display, "cnncalc reads models with exactly one input")

    def sequential(self, model: dict, cfg: dict, inputs: list[Tensor] | None) -> list[Tensor]:
        layers = cfg["layers"]
        x = inputs[0] if inputs else None
        for layer in layers:
            if not isinstance(layer, dict):
                raise fail(self.display, "a Sequential model's layer is not a mapping",
                           show(layer))
            if layer.get("class_name") == "InputLayer":
                if x is None:
                    x = self.first_input(input_batch_shape(layer.get("config") or {}), layer)
                continue
            if x is None:
                shape = (input_batch_shape(layer.get("config") or {})
                         or cfg.get("build_input_shape")
                         or (layer.get("build_config") or {}).get("input_shape"))
                x = self.first_input(shape, layer)
            x = self.layer(layer, [x], [], None)[0]
        if x is None:
            raise fail(self.display, "the Sequential model has no layers")
        return [x]

    def functional(self, model: dict, cfg: dict, inputs: list[Tensor] | None) -> list[Tensor]:
        tensors: dict[tuple, Tensor] = {}
        names = refs(cfg.get("input_layers"), self.display, "input_layers")
        if inputs is not None and len(inputs) != len(names):
            raise fail(self.display, f"nested model '{name(str(cfg.get('name')))}' takes "
                                     f"{len(names)} inputs, given {len(inputs)}")
        for layer in cfg["layers"]:
            if not isinstance(layer, dict) or "class_name" not in layer:
                raise fail(self.display, "a model's layer is not a mapping with 'class_name'",
                           show(layer))
            lname = layer.get("name") or (layer.get("config") or {}).get("name")
            if layer["class_name"] == "InputLayer":
                position = next((i for i, n in enumerate(names) if n[0] == lname), None)
                if inputs is not None and position is not None:
                    tensors[(lname, 0, 0)] = inputs[position]
                else:
                    tensors[(lname, 0, 0)] = self.first_input(
                        input_batch_shape(layer.get("config") or {}), layer)
                continue
            nodes = layer.get("inbound_nodes")
            if not isinstance(nodes, list) or not nodes:
                continue  # built but never called: not part of the graph
            if len(nodes) > 1:
                raise layer_error(self.display, layer, f"is called {len(nodes)} times; shared "
                                                       "layers are not read")
            args = node_arguments(nodes[0])
            ins, extra = [], []
            for arg in args:
                if isinstance(arg, tuple):
                    if arg[:3] not in tensors:
                        raise layer_error(self.display, layer, f"reads '{name(str(arg[0]))}', "
                                                               "which no earlier layer makes")
                    found = tensors[arg[:3]]
                    if arg[3] is not None:
                        found = Tensor(found.source, arg[3])
                    ins.append(found)
                else:
                    extra.append(arg)
            outs = self.layer(layer, ins, extra, args)
            for i, out in enumerate(outs):
                tensors[(lname, 0, i)] = out
        outputs = []
        for ref in refs(cfg.get("output_layers"), self.display, "output_layers"):
            if ref[:3] not in tensors:
                raise fail(self.display, f"the model's output '{name(str(ref[0]))}' is made "
                                         "by no layer")
            outputs.append(tensors[ref[:3]])
        return outputs

    # --- one layer ------------------------------------------------------------------------
    def layer(self, layer: dict, ins: list[Tensor], extra: list, args) -> list[Tensor]:
        if layer.get("class_name") in MODELS:
            return self.model(layer, ins)
        key = class_key(layer)
        handler = HANDLERS.get(key)
        if handler is None:
            raise layer_error(self.display, layer, "has no cnncalc mapping (see docs/interop.md "
                                                   "for the layers read)")
        cfg = dict(layer.get("config") or {})
        if not ins:
            raise layer_error(self.display, layer, "reads no tensor")
        if args and not isinstance(args[0], tuple):
            cfg["_number_first"] = True
        shapes = [t.shape for t in ins]
        built = (layer.get("build_config") or {}).get("input_shape")
        if len(shapes) == 1 and not shapes[0] and built is not None:  # in a Sequential
            shapes = [keras_shape(built)]
        try:
            made = handler(cfg, shapes, extra)
        except Unsupported as why:
            raise layer_error(self.display, layer, f"cannot be read: {why}") from None
        except (KeyError, IndexError, ValueError, TypeError, ArithmeticError) as error:
            raise layer_error(self.display, layer, "is malformed",
                              f"{type(error).__name__}: {name(str(error), 80)}") from None
        out_shape = next_shape(key, cfg, shapes[0], made)
        if not made:
            return [Tensor(ins[0].source, out_shape)]
        lname = str(layer.get("name") or cfg.get("name") or key)
        sources = [t.source for t in ins]
        for i, (suffix, written) in enumerate(made):
            last = i == len(made) - 1
            settings = {k: v for k, v in written.items() if k != "reads"}
            if "reads" in written:  # which inputs: the node's by index, -1 the previous made
                sources = [sources[0] if r == -1 else ins[r].source for r in written["reads"]]
            emitted = Emitted(self.walk.fresh(lname if last else f"{lname}_{suffix}"),
                              settings, sources, lname)
            self.walk.layers.append(emitted)
            sources = [emitted.name]
        return [Tensor(sources[0], out_shape)]


def next_shape(key: str, cfg: dict, shape: tuple, made: list) -> tuple:
    """The Keras shape a layer makes, as far as the next layer of a Sequential model needs it
    (its rank and channels; spatial sizes unknown). A functional model records the shapes
    themselves."""
    if not shape:
        return ()
    if key == "Reshape":
        return tuple(None if v == -1 else v for v in cfg["target_shape"])
    if key == "Flatten":
        return (None,) if None in shape else (prod(shape),)
    last = made[-1][1] if made else {}
    c = last.get("filters") or last.get("units") or shape[-1]
    if key.startswith("Global") and not cfg.get("keepdims"):
        return (c,)
    return (*[None] * (len(shape) - 1), c)


def refs(value, display: str, key: str) -> list:
    """input_layers / output_layers: [name, node, tensor] or a list of them."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        value = [value]
    if not isinstance(value, list) or not value or not all(
            isinstance(v, list) and len(v) == 3 and isinstance(v[0], str) for v in value):
        raise fail(display, f"the model's '{key}' is not a list of [layer, node, tensor]",
                   show(value))
    return [(v[0], v[1], v[2]) for v in value]


def node_arguments(node) -> list:
    """A call's arguments in order: each tensor as (layer, node, tensor, shape or None), each
    other value (a number) as itself. Keras 3 writes {"args": [...], "kwargs": {...}};
    Keras 2 [[layer, node, tensor, kwargs], ...]."""
    out: list = []

    def visit(value):
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            cfg = value.get("config") or {}
            history = cfg.get("keras_history")
            if not (isinstance(history, list) and len(history) == 3):
                raise ValueError(f"a tensor without its keras_history: {show(value)}")
            shape = keras_shape(cfg["shape"]) if cfg.get("shape") is not None else None
            out.append((history[0], history[1], history[2], shape))
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append(value)
        elif value is not None and not isinstance(value, (dict, str, bool)):
            raise ValueError(f"an argument cnncalc cannot read: {show(value)}")

    if isinstance(node, dict):
        visit(node.get("args", []))
        return out
    if isinstance(node, list):  # Keras 2
        for item in node:
            if isinstance(item, list) and len(item) >= 3 and isinstance(item[0], str):
                out.append((item[0], item[1], item[2], None))
            else:
                raise ValueError(f"an inbound node cnncalc cannot read: {show(item)}")
        return out
    raise ValueError(f"an inbound node cnncalc cannot read: {show(node)}")


def read_config(path: str, display: str) -> dict:
    if path.lower().endswith(".keras"):
        return read_keras_file(path, display)
    found = read_keras_json(path, display)
    if found is None:
        raise fail(display, "not a Keras model config (JSON with 'class_name' and 'config')")
    return found


def is_keras_json(path: str, display: str) -> bool:
    """True for a `.json` file holding a Keras model's config."""
    return read_keras_json(path, display) is not None


def import_keras(path: str, display: str | None = None, override=None):
    """(the spec as a dict, the emitted layers) for the Keras model at `path`."""
    display = display or path
    model = read_config(path, display)
    if model.get("class_name") not in MODELS:
        raise fail(display, f"not a Keras model: the config is a {name(str(model['class_name']))}"
                            " (Functional or Sequential expected)")
    importer = Importer(display)
    try:
        outputs = importer.model(model, None)
    except (KeyError, IndexError, ValueError, TypeError, RecursionError) as error:
        raise fail(display, "malformed Keras model config",
                   f"{type(error).__name__}: {name(str(error), 80)}") from None
    walk = importer.walk
    if not walk.layers or all(t.source == INPUT for t in outputs):
        raise fail(display, "the model's outputs are not computed by any layer cnncalc maps")
    layers = live_layers(walk.layers, {t.source for t in outputs})
    spec = {"name": model_name(model, display), "input": spec_input(walk, override, display),
            "layers": spec_layers(layers)}
    return spec, layers


def model_name(model: dict, display: str) -> str:
    cfg = model.get("config") or {}
    found = cfg.get("name") if isinstance(cfg.get("name"), str) else None
    return found or Path(display).stem or "model"


def spec_input(walk: Walk, override, display: str) -> list:
    shape = walk.input_shape
    if shape is None or len(shape) < 2:
        raise fail(display, "the model's input must have spatial axes and channels "
                            "([length, C], [H, W, C] or [D, H, W, C])", show(shape))
    if override is not None:
        if override.rank != len(shape) - 1:
            raise fail("--input", f"the model's input has {len(shape) - 1} spatial axes",
                       str(override))
        return override.as_list()
    if None in shape:
        raise fail(display, "the model's input has dynamic sizes; give them with --input "
                            "(spatial sizes then channels, e.g. 224x224x3)",
                   "[" + ", ".join("?" if s is None else str(s) for s in shape) + "]")
    return list(shape)


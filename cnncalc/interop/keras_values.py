"""The Keras layers that are fixed arithmetic (Rescaling, Normalization, keras.ops with a
number, InceptionResNetV2's CustomScaleLayer) and ConvNeXt's LayerScale, registered into
keras_layers' table (keras_import imports both)."""

from __future__ import annotations

import math

from ..errors import show
from .keras_layers import Unsupported, channels, keras, last_axis


@keras("Rescaling")
def rescaling(cfg, shapes, extra):
    return [("", rescale(cfg.get("scale", 1.0), cfg.get("offset", 0.0), channels(shapes[0])))]


def rescale(scale, offset, c: int) -> dict:
    settings = {"type": "rescale"}
    for key, written, default in (("scale", scale, 1.0), ("offset", offset, 0.0)):
        one = isinstance(written, (list, tuple)) and len(written) == 1
        value = written[0] if one else written
        if isinstance(value, (list, tuple)) and len(value) != c:
            raise Unsupported(f"{key} has {len(value)} values for {c} channels")
        if value != default:
            settings[key] = list(value) if isinstance(value, (list, tuple)) else value
    return settings


@keras("Normalization")
def normalization(cfg, shapes, extra):
    """(x - mean) / sqrt(variance) per channel: given as numbers, a fixed rescale; adapted (no
    numbers in the config), Keras keeps them and a sample count as weights."""
    last_axis(cfg, shapes[0])
    if cfg.get("invert"):
        raise Unsupported("invert: true is not read")
    c = channels(shapes[0])
    mean, variance = cfg.get("mean"), cfg.get("variance")
    if mean is None and variance is None:
        return [("", {"type": "rescale", "statistics": True})]
    mean, variance = [per_channel(v, c) for v in (mean, variance)]
    std = [max(math.sqrt(v), 1e-7) for v in variance]  # Keras: maximum(sqrt(var), epsilon)
    return [("", rescale([1 / s for s in std], [-m / s for m, s in zip(mean, std)], c))]


def per_channel(value, c: int) -> list:
    if isinstance(value, (int, float)):
        return [float(value)] * c
    if isinstance(value, list) and len(value) in (1, c) and \
            all(isinstance(v, (int, float)) for v in value):
        return [float(v) for v in value] * (c if len(value) == 1 else 1)
    raise ValueError(f"expected one number per channel, got {show(value)}")


@keras("LayerScale")
def layer_scale(cfg, shapes, extra):
    """ConvNeXt's learned multiplier per channel."""
    if cfg.get("projection_dim", channels(shapes[0])) != channels(shapes[0]):
        raise Unsupported(f"projection_dim {cfg['projection_dim']} differs from the channels")
    return [("", {"type": "scale"})]


@keras("CustomScaleLayer")
def custom_scale(cfg, shapes, extra):
    """InceptionResNetV2's residual: inputs[0] + inputs[1] x scale."""
    if len(shapes) != 2:
        raise Unsupported(f"expected two inputs, got {len(shapes)}")
    scaled = {**rescale(cfg["scale"], 0.0, channels(shapes[1])), "reads": [1]}
    return [("scaled", scaled), ("", {"type": "add", "reads": [0, -1]})]


# keras.ops called on KerasTensors in a functional model (MobileNetV3's x + 3.0, x / 6)
def arithmetic(kind: str):
    def handler(cfg, shapes, extra):
        if len(shapes) == 2 and not extra:
            if kind not in ("Add", "Multiply"):
                raise Unsupported(f"{kind} of two tensors has no cnncalc layer")
            return [("", {"type": kind.lower()})]
        if len(shapes) != 1 or len(extra) != 1 or not isinstance(extra[0], (int, float)) \
                or isinstance(extra[0], bool):
            raise Unsupported(f"{kind} of {len(shapes)} tensors and {show(extra)}")
        number = float(extra[0])
        c = channels(shapes[0])
        if kind == "Add":
            return [("", rescale(1.0, number, c))]
        if kind == "Subtract" and extra_first(cfg):
            return [("", rescale(-1.0, number, c))]
        if kind == "Subtract":
            return [("", rescale(1.0, -number, c))]
        if kind == "Multiply":
            return [("", rescale(number, 0.0, c))]
        if kind == "Divide" and not extra_first(cfg) and number != 0:
            return [("", rescale(1 / number, 0.0, c))]
        raise Unsupported(f"{kind} by {show(extra[0])} has no cnncalc layer")
    return handler


def extra_first(cfg) -> bool:
    return bool(cfg.get("_number_first"))


keras("ops.Add")(arithmetic("Add"))
keras("ops.Subtract")(arithmetic("Subtract"))
keras("ops.Multiply")(arithmetic("Multiply"))
keras("ops.Divide", "ops.TrueDivide")(arithmetic("Divide"))

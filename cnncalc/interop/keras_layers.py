"""Each Keras layer class as spec layers: the one place the Keras importer writes `type:`
strings. A handler gets the layer's config and the Keras shapes (batch left out) of the tensors
it reads, and returns the spec layers it becomes, as (name suffix, settings) in order, each reading the one
before it (the first: the layer's inputs; `reads` chooses others); an empty list is an
identity (the output is the input). What cnncalc cannot express exactly raises
Unsupported with the reason."""

from __future__ import annotations

import math

from ..errors import show
from ..layers.activation import ACTIVATIONS as SPEC_ACTIVATIONS


class Unsupported(Exception):
    """A layer cnncalc cannot express; the message says why."""


HANDLERS: dict = {}


def keras(*class_names):
    def register(handler):
        for class_name in class_names:
            HANDLERS[class_name] = handler
        return handler
    return register


# Keras activations by their serialized name -> spec type (fusable into conv/fc rows) and the
# extra settings of a separate layer; 'linear' is no layer at all.
# A Keras name that is a cnncalc activation type means the same function (relu, relu6,
# sigmoid, tanh, softmax, gelu, silu, elu); these Keras names differ from cnncalc's:
RENAMED = {"swish": "silu", "hard_silu": "hardswish", "hard_swish": "hardswish",
           "hard_sigmoid": "hardsigmoid"}
SLOPED = {"leaky_relu": 0.2}  # keras.activations.leaky_relu's default negative_slope
KERAS_ONLY = ("linear", *RENAMED, *SLOPED)


def spec_activation(keras_name: str) -> str | None:
    """cnncalc's activation type for a Keras activation without settings (None: none)."""
    name = RENAMED.get(keras_name, keras_name)
    return name if name in SPEC_ACTIVATIONS and keras_name not in SLOPED else None


def activation_name(value) -> str | None:
    """The spec type of a Keras activation (None: linear)."""
    if isinstance(value, dict):  # a serialized function object
        value = value.get("config") if value.get("class_name") == "function" else None
    if value in (None, "linear"):
        return None
    if isinstance(value, str) and (spec_activation(value) or value in SLOPED):
        return value
    known = sorted({*KERAS_ONLY, *SPEC_ACTIVATIONS} - {"leaky_relu"} | set(SLOPED))
    raise Unsupported(f"activation {show(value)} has no cnncalc layer (known: "
                      f"{', '.join(known)})")


def activation_layers(value) -> list:
    keras_name = activation_name(value)
    if keras_name is None:
        return []
    if keras_name in SLOPED:
        return [("act", {"type": "leaky_relu", "negative_slope": SLOPED[keras_name]})]
    return [("act", {"type": spec_activation(keras_name)})]


def with_activation(settings: dict, cfg: dict, suffix: str = "") -> list:
    """A conv or fc row, with the layer's activation fused when cnncalc has it as a setting."""
    keras_name = activation_name(cfg.get("activation"))
    if keras_name is not None and spec_activation(keras_name):
        return [(suffix, {**settings, "activation": spec_activation(keras_name)})]
    return [(suffix, settings), *activation_layers(cfg.get("activation"))]


def channels_last(cfg: dict) -> None:
    if cfg.get("data_format", "channels_last") not in (None, "channels_last"):
        raise Unsupported(f"data_format {show(cfg.get('data_format'))}: cnncalc reads "
                          "channels_last models")


def last_axis(cfg: dict, shape: tuple, key: str = "axis") -> None:
    """The layer works on the channels (Keras's axis -1, or the last axis written out)."""
    axis = cfg.get(key, -1)
    if isinstance(axis, list) and len(axis) == 1:
        axis = axis[0]
    if axis not in (-1, len(shape)):
        raise Unsupported(f"{key} {show(axis)}: cnncalc reads it over the channels (axis -1)")


def per_axis(value, rank: int) -> list:
    """An int or a list of one per spatial axis, as a list."""
    if isinstance(value, int):
        return [value] * rank
    if isinstance(value, (list, tuple)) and len(value) == rank and \
            all(isinstance(v, int) for v in value):
        return list(value)
    raise ValueError(f"expected {rank} integers, got {show(value)}")


def compact(values: list) -> int | list:
    return values[0] if len(set(values)) == 1 else values


def spatial(shape: tuple) -> int:
    if len(shape) < 2:
        raise Unsupported(f"needs spatial axes, but its input is {list(shape)}")
    return len(shape) - 1


def channels(shape: tuple) -> int:
    c = shape[-1] if shape else None
    if not isinstance(c, int) or c < 1:
        raise Unsupported(f"the number of input channels is not recorded ({list(shape)})")
    return c


def conv_padding(cfg: dict, kernel: list, dilation: list):
    padding = cfg.get("padding", "valid")
    if padding == "valid":
        return None
    if padding == "same":
        return "same"
    if padding == "causal" and len(kernel) == 1:  # all of it before: (k - 1) x dilation
        return [[(kernel[0] - 1) * dilation[0], 0]]
    raise Unsupported(f"padding {show(padding)} is not read")


def window(cfg: dict, rank: int, kernel_key: str, pool: bool = False) -> dict:
    """kernel, stride, padding and dilation; a stride equal to the spec's default (1, or a
    pool's kernel) is left out."""
    kernel = per_axis(cfg[kernel_key], rank)
    strides = cfg.get("strides")
    if strides is None:  # Keras's default: a pool's size, a conv's 1
        strides = kernel if pool else 1
    strides = per_axis(strides, rank)
    dilation = per_axis(cfg.get("dilation_rate", 1), rank)
    settings = {"kernel": compact(kernel)}
    if strides != (kernel if pool else [1] * rank):
        settings["stride"] = compact(strides)
    padding = conv_padding(cfg, kernel, dilation)
    if padding == "same" and kernel == [1] * rank:  # 'same' pads a 1-wide window by nothing
        padding = None
    if padding is not None:
        settings["padding"] = padding
    if dilation != [1] * rank:
        settings["dilation"] = compact(dilation)
    return settings


@keras("Conv1D", "Conv2D", "Conv3D")
def conv(cfg, shapes, extra):
    channels_last(cfg)
    rank = spatial(shapes[0])
    settings = {"type": "conv", "filters": cfg["filters"], **window(cfg, rank, "kernel_size")}
    if cfg.get("groups", 1) != 1:
        settings["groups"] = cfg["groups"]
    if not cfg.get("use_bias", True):
        settings["bias"] = False
    return with_activation(settings, cfg)


def depthwise_settings(cfg, shape, bias: bool) -> dict:
    c = channels(shape)
    settings = {"type": "conv", "filters": c * cfg.get("depth_multiplier", 1),
                **window(cfg, spatial(shape), "kernel_size"), "groups": c}
    if not bias:
        settings["bias"] = False
    return settings


@keras("DepthwiseConv1D", "DepthwiseConv2D")
def depthwise(cfg, shapes, extra):
    channels_last(cfg)
    return with_activation(depthwise_settings(cfg, shapes[0], cfg.get("use_bias", True)), cfg)


@keras("SeparableConv1D", "SeparableConv2D")
def separable(cfg, shapes, extra):
    """A depthwise conv (no bias) then a 1x1 conv with the filters, bias and activation."""
    channels_last(cfg)
    pointwise = {"type": "conv", "filters": cfg["filters"], "kernel": 1}
    if not cfg.get("use_bias", True):
        pointwise["bias"] = False
    return [("depthwise", depthwise_settings(cfg, shapes[0], False)),
            *with_activation(pointwise, cfg)]


@keras("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
def deconv(cfg, shapes, extra):
    """Keras's output length as PyTorch's (H - 1)S - 2P + D(F - 1) + output_padding + 1."""
    channels_last(cfg)
    rank = spatial(shapes[0])
    kernel = per_axis(cfg["kernel_size"], rank)
    strides = per_axis(cfg.get("strides", 1), rank)
    dilation = per_axis(cfg.get("dilation_rate", 1), rank)
    written = cfg.get("output_padding")
    written = None if written is None else per_axis(written, rank)
    pads, extras = [], []
    for i, (f, s, d) in enumerate(zip(kernel, strides, dilation)):
        span = d * (f - 1) + 1  # the dilated kernel
        if cfg.get("padding") not in ("same", "valid"):
            raise Unsupported(f"padding {show(cfg.get('padding'))} is not read")
        if written is not None:  # Keras: (H - 1)S + span - 2 pad + output_padding
            pad = span // 2 if cfg["padding"] == "same" else 0
            pads.append(pad)
            extras.append(written[i])
        elif cfg["padding"] == "valid":  # Keras: H S + max(span - S, 0)
            pads.append(0)
            extras.append(max(0, s - span))
        else:  # 'same', Keras: H S
            pad = max(0, math.ceil((span - s) / 2))
            pads.append(pad)
            extras.append(2 * pad - (span - s))
        if extras[-1] >= max(s, d):  # PyTorch's and cnncalc's limit
            raise Unsupported(f"its output length needs output_padding {extras[-1]} with "
                              f"stride {s} (at most the stride - 1, or the dilation - 1)")
    settings = {"type": "deconv", "filters": cfg["filters"], "kernel": compact(kernel)}
    if strides != [1] * rank:
        settings["stride"] = compact(strides)
    if any(pads):
        settings["padding"] = compact(pads)
    if any(extras):
        settings["output_padding"] = compact(extras)
    if dilation != [1] * rank:
        settings["dilation"] = compact(dilation)
    if not cfg.get("use_bias", True):
        settings["bias"] = False
    return with_activation(settings, cfg)


@keras("Dense")
def dense(cfg, shapes, extra):
    """On a vector an fc row; on a map (Keras applies it at every position) a 1x1 conv."""
    settings = {"type": "fc", "units": cfg["units"]}
    if len(shapes[0]) > 1:
        settings = {"type": "conv", "filters": cfg["units"], "kernel": 1}
    if not cfg.get("use_bias", True):
        settings["bias"] = False
    return with_activation(settings, cfg)


@keras("BatchNormalization")
def batchnorm(cfg, shapes, extra):
    last_axis(cfg, shapes[0])
    if cfg.get("renorm"):
        raise Unsupported("batch renormalization (renorm) is not read")
    center, scale = cfg.get("center", True), cfg.get("scale", True)
    settings = {"type": "batchnorm", "eps": cfg.get("epsilon", 1e-3)}
    if not (center or scale):
        settings["affine"] = False
    elif not scale:
        settings["scale"] = False
    elif not center:
        raise Unsupported("a learned scale without a shift (center: false) has no cnncalc layer")
    return [("", settings)]


@keras("LayerNormalization")
def layernorm(cfg, shapes, extra):
    last_axis(cfg, shapes[0])
    if cfg.get("rms_scaling"):
        raise Unsupported("rms_scaling is not read")
    center, scale = cfg.get("center", True), cfg.get("scale", True)
    if center != scale:
        raise Unsupported("a layer norm with only a scale or only a shift has no cnncalc layer")
    settings = {"type": "layernorm", "eps": cfg.get("epsilon", 1e-3)}
    if not center:
        settings["affine"] = False
    return [("", settings)]


@keras("Activation")
def activation(cfg, shapes, extra):
    return activation_layers(cfg.get("activation"))


@keras("ReLU")
def relu(cfg, shapes, extra):
    top, slope = cfg.get("max_value"), cfg.get("negative_slope", 0.0) or 0.0
    if cfg.get("threshold", 0.0):
        raise Unsupported(f"threshold {show(cfg['threshold'])}: cnncalc's ReLU is at 0")
    if slope and top is None:
        return [("", {"type": "leaky_relu", "negative_slope": slope})]
    if not slope and top is None:
        return [("", {"type": "relu"})]
    if not slope and top == 6:
        return [("", {"type": "relu6"})]
    raise Unsupported(f"max_value {show(top)} with negative_slope {show(slope)} has no "
                      "cnncalc layer")


@keras("LeakyReLU")
def leaky_relu(cfg, shapes, extra):
    slope = cfg.get("negative_slope", cfg.get("alpha", 0.3))
    return [("", {"type": "leaky_relu", "negative_slope": slope})]


@keras("ELU")
def elu(cfg, shapes, extra):
    return [("", {"type": "elu", "alpha": cfg.get("alpha", 1.0)})]


@keras("Softmax")
def softmax(cfg, shapes, extra):
    last_axis(cfg, shapes[0])
    return [("", {"type": "softmax"})]


def merge(kind: str):
    def handler(cfg, shapes, extra):
        if len(shapes) < 2:
            raise Unsupported(f"{kind} needs two inputs or more")
        return [("", {"type": kind})]
    return handler


keras("Add")(merge("add"))
keras("Multiply")(merge("multiply"))


@keras("Concatenate")
def concatenate(cfg, shapes, extra):
    last_axis(cfg, shapes[0])
    return merge("concat")(cfg, shapes, extra)


def pool(mode: str):
    def handler(cfg, shapes, extra):
        channels_last(cfg)
        rank = spatial(shapes[0])
        settings = {"type": "pool"}
        if mode != "max":
            settings["mode"] = mode
        return [("", {**settings, **window(cfg, rank, "pool_size", pool=True)})]
    return handler


def global_pool(mode: str):
    def handler(cfg, shapes, extra):
        channels_last(cfg)
        spatial(shapes[0])
        return [("", {"type": "pool", "mode": mode, "global": True})]
    return handler


for rank in (1, 2, 3):
    keras(f"MaxPooling{rank}D", f"MaxPool{rank}D")(pool("max"))
    keras(f"AveragePooling{rank}D", f"AvgPool{rank}D")(pool("avg"))
    keras(f"GlobalAveragePooling{rank}D", f"GlobalAvgPool{rank}D")(global_pool("avg"))
    keras(f"GlobalMaxPooling{rank}D", f"GlobalMaxPool{rank}D")(global_pool("max"))


def pairs(value, rank: int) -> list:
    """Keras's padding or cropping (an int, one per axis, or a (before, after) pair per axis)
    as a [before, after] pair per axis."""
    if isinstance(value, int):
        return [[value, value]] * rank
    if rank == 1 and isinstance(value, (list, tuple)) and len(value) == 2 and \
            all(isinstance(v, int) for v in value):
        return [list(value)]
    if isinstance(value, (list, tuple)) and len(value) == rank:
        out = []
        for item in value:
            if isinstance(item, int):
                out.append([item, item])
            elif isinstance(item, (list, tuple)) and len(item) == 2 and \
                    all(isinstance(v, int) for v in item):
                out.append(list(item))
            else:
                raise ValueError(f"expected a pair per axis, got {show(value)}")
        return out
    raise ValueError(f"expected a pair per axis, got {show(value)}")


def zeropad(cfg, shapes, extra):
    channels_last(cfg)
    return [("", {"type": "zeropad", "padding": pairs(cfg["padding"], spatial(shapes[0]))})]


def crop(cfg, shapes, extra):
    channels_last(cfg)
    return [("", {"type": "crop", "amount": pairs(cfg["cropping"], spatial(shapes[0]))})]


for rank in (1, 2, 3):
    keras(f"ZeroPadding{rank}D")(zeropad)
    keras(f"Cropping{rank}D")(crop)


@keras("UpSampling1D", "UpSampling2D", "UpSampling3D")
def upsampling(cfg, shapes, extra):
    channels_last(cfg)
    rank = spatial(shapes[0])
    mode = cfg.get("interpolation", "nearest")
    if mode not in ("nearest", "bilinear"):
        raise Unsupported(f"interpolation {show(mode)} is not read (nearest, bilinear)")
    size = per_axis(cfg.get("size", 2), rank)
    settings = {"type": "upsample", "scale": compact(size)}
    if mode != "nearest":
        settings["mode"] = mode
    return [("", settings)]


@keras("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D")
def dropout(cfg, shapes, extra):
    return [("", {"type": "dropout", "rate": cfg.get("rate", 0.5)})]


@keras("Flatten")
def flatten(cfg, shapes, extra):
    channels_last(cfg)
    return [] if len(shapes[0]) == 1 else [("", {"type": "flatten"})]


@keras("Reshape")
def reshape(cfg, shapes, extra):
    """Only the reshapes cnncalc's shapes already are: [C] <-> [1, 1, C] (squeeze and
    excitation), and a flattening to one axis."""
    target, shape = list(cfg["target_shape"]), list(shapes[0])
    flat = target[:-1] == [1] * (len(target) - 1) and target[-1] == shape[-1] and \
        all(s == 1 for s in shape[:-1])
    if flat:
        return []
    if len(target) == 1 and None not in shape and target[0] in (-1, math.prod(shape)):
        return [("", {"type": "flatten"})]
    raise Unsupported(f"reshape {shape} to {target} has no cnncalc layer")


@keras("Identity")
def identity(cfg, shapes, extra):
    return []

"""ONNX ops that compute: convolutions, pooling, norms, dense layers and activations, each
mapped to one spec layer (the `type:` strings here are spec text being written). The ops that
move or combine values are in onnx_merge_reshape.py; both register into onnx_registry."""

from __future__ import annotations

from math import isclose, isinf

from .onnx_registry import FLAT, LAST, NC, Unsupported, axes, number, op, padding

def window_padding(a: dict, kernel, strides, dilations, spatial) -> object:
    """The padding of a windowed op, with auto_pad's SAME and VALID."""
    mode = a.get("auto_pad", b"NOTSET")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    rank = len(kernel)
    if mode == "VALID":
        return 0
    if mode == "SAME_UPPER":
        return "same"  # TensorFlow's same: the odd pixel at the end, as cnncalc's `same`
    if mode == "SAME_LOWER":
        pads_before, pads_after = [], []
        for size, f, s, d in zip(spatial, kernel, strides, dilations):
            total = max((-(-size // s) - 1) * s + d * (f - 1) + 1 - size, 0)
            pads_before.append(total - total // 2)
            pads_after.append(total // 2)
        return padding(pads_before + pads_after, rank)
    return padding(list(a.get("pads", [0] * 2 * rank)), rank)


def compact(settings: dict, defaults: dict) -> dict:
    """Settings without the ones equal to cnncalc's defaults (a shorter, readable line)."""
    return {k: v for k, v in settings.items() if k not in defaults or defaults[k] != v}


def with_bias(imp, node) -> list:
    """The weight input, and the bias input when there is one (both float initializers)."""
    weights = [node.input[1]]
    if len(node.input) > 2 and node.input[2]:
        imp.weight(node.input[2], "the bias")
        weights.append(node.input[2])
    return weights


def data_value(imp, node, layouts=(NC,)):
    x = imp.value(node.input[0])
    if x.layout not in layouts:
        raise Unsupported("its input is not laid out [batch, channels, spatial...]")
    return x


@op("Conv")
def conv(imp, node, a):
    x = data_value(imp, node)
    weight = imp.weight(node.input[1], "the weight")  # [K, C/groups, *kernel]
    kernel = weight[2:]
    rank = len(kernel)
    strides = list(a.get("strides", [1] * rank))
    dilations = list(a.get("dilations", [1] * rank))
    spatial = imp.shape(node.input[0])[2:]
    bias = len(node.input) > 2 and bool(node.input[2])
    settings = {"type": "conv", "filters": weight[0], "kernel": axes(kernel),
                "stride": axes(strides),
                "padding": window_padding(a, kernel, strides, dilations, spatial),
                "dilation": axes(dilations), "groups": int(a.get("group", 1)), "bias": bias}
    weights = with_bias(imp, node)
    imp.emit(compact(settings, {"stride": 1, "padding": 0, "dilation": 1, "groups": 1,
                                "bias": True}), [x], node.output[0], NC, weights,
             bias_slot=not bias)


@op("ConvTranspose")
def deconv(imp, node, a):
    x = data_value(imp, node)
    weight = imp.weight(node.input[1], "the weight")  # [C, K/groups, *kernel]
    kernel = weight[2:]
    rank = len(kernel)
    if "output_shape" in a or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise Unsupported("output_shape and auto_pad are not mapped; write pads instead")
    pads = list(a.get("pads", [0] * 2 * rank))
    if pads[:rank] != pads[rank:]:
        raise Unsupported(f"pads {pads} differ at the two ends (cnncalc's deconv removes P "
                          "from each border)")
    groups = int(a.get("group", 1))
    bias = len(node.input) > 2 and bool(node.input[2])
    settings = {"type": "deconv", "filters": weight[1] * groups, "kernel": axes(kernel),
                "stride": axes(a.get("strides", [1] * rank)), "padding": axes(pads[:rank]),
                "output_padding": axes(a.get("output_padding", [0] * rank)),
                "dilation": axes(a.get("dilations", [1] * rank)), "groups": groups, "bias": bias}
    weights = with_bias(imp, node)
    imp.emit(compact(settings, {"stride": 1, "padding": 0, "output_padding": 0, "dilation": 1,
                                "groups": 1, "bias": True}),
             [x], node.output[0], NC, weights, bias_slot=not bias)


@op("MaxPool", "AveragePool")
def pool(imp, node, a):
    x = data_value(imp, node)
    if len(node.output) > 1 and node.output[1] and imp.g.users(node.output[1]):
        raise Unsupported("its indices output is used")
    kernel = list(a["kernel_shape"])
    rank = len(kernel)
    strides = list(a.get("strides", [1] * rank))  # ONNX's default stride is 1, not the kernel
    dilations = list(a.get("dilations", [1] * rank))
    if any(d != 1 for d in dilations):
        raise Unsupported(f"dilated pooling (dilations {dilations})")
    spatial = imp.shape(node.input[0])[2:]
    settings = {"type": "pool", "mode": "max" if node.op_type == "MaxPool" else "avg",
                "kernel": axes(kernel), "stride": axes(strides),
                "padding": window_padding(a, kernel, strides, dilations, spatial),
                "ceil_mode": bool(a.get("ceil_mode", 0))}
    imp.emit(compact(settings, {"mode": "max", "padding": 0, "ceil_mode": False}), [x],
             node.output[0], NC)


@op("GlobalAveragePool", "GlobalMaxPool")
def global_pool(imp, node, a):
    x = data_value(imp, node)
    mode = "avg" if node.op_type == "GlobalAveragePool" else "max"
    imp.emit({"type": "pool", "mode": mode, "global": True}, [x], node.output[0], NC)


@op("ReduceMean", "ReduceMax")
def reduce(imp, node, a):
    """A mean or max over every spatial axis: global pooling (torch's x.mean((2, 3)))."""
    x = data_value(imp, node)
    rank = len(imp.shape(node.input[0]))
    if "axes" in a:
        chosen = list(a["axes"])
    elif len(node.input) > 1 and node.input[1]:
        chosen = [int(v) for v in imp.const(node.input[1], "the axes").reshape(-1)]
    else:
        chosen = list(range(rank))
    if sorted(v % rank for v in chosen) != list(range(2, rank)):
        raise Unsupported(f"reduces axes {chosen}; cnncalc maps a reduction over every spatial "
                          "axis (global pooling)")
    mode = "avg" if node.op_type == "ReduceMean" else "max"
    imp.emit({"type": "pool", "mode": mode, "global": True}, [x], node.output[0],
             NC if a.get("keepdims", 1) else FLAT)


@op("BatchNormalization")
def batchnorm(imp, node, a):
    x = data_value(imp, node, (NC, FLAT))
    if len(node.output) > 1 and any(imp.g.users(t) for t in node.output[1:] if t):
        raise Unsupported("its training outputs (running statistics) are used")
    weights = [node.input[i] for i in range(1, 5)]
    for tensor, what in zip(weights, ("scale", "bias", "mean", "variance")):
        imp.weight(tensor, f"the {what}")
    imp.emit(compact({"type": "batchnorm", "eps": number(a.get("epsilon", 1e-5))},
                     {"eps": 1e-5}), [x], node.output[0], x.layout, weights)


@op("InstanceNormalization")
def instancenorm(imp, node, a):
    x = data_value(imp, node)
    weights = [node.input[1], node.input[2]]
    for tensor, what in zip(weights, ("scale", "bias")):
        imp.weight(tensor, f"the {what}")
    imp.emit(compact({"type": "instancenorm", "affine": True,
                      "eps": number(a.get("epsilon", 1e-5))}, {"eps": 1e-5}),
             [x], node.output[0], NC, weights)


@op("GroupNormalization")
def groupnorm(imp, node, a):
    x = data_value(imp, node)
    channels = imp.channels(node.input[0])
    weights = [node.input[1], node.input[2]]
    for tensor, what in zip(weights, ("scale", "bias")):
        imp.weight(tensor, f"the {what}")
        if imp.g.size(tensor) != channels:
            raise Unsupported(f"its {what} has {imp.g.size(tensor)} values, not one per channel "
                              f"({channels}; opset 18's per-group form is not mapped)")
    imp.emit(compact({"type": "groupnorm", "groups": int(a["num_groups"]),
                      "eps": number(a.get("epsilon", 1e-5))}, {"eps": 1e-5}),
             [x], node.output[0], NC, weights)


@op("LayerNormalization")
def layernorm(imp, node, a):
    """Over the channels only: the last axis of a channels-last or [batch, features] tensor
    (ConvNeXt's LayerNorm2d exports as Transpose, LayerNormalization, Transpose)."""
    x = imp.value(node.input[0])
    shape = imp.shape(node.input[0])
    axis = int(a.get("axis", -1)) % len(shape)
    channel_axis = 1 if x.layout in (NC, FLAT) else len(shape) - 1
    if axis != channel_axis or (x.layout == NC and any(s != 1 for s in shape[2:])):
        raise Unsupported(f"normalises from axis {axis} of {list(shape)} ({x.layout} layout); "
                          "cnncalc's layernorm is over the channels at each position")
    imp.weight(node.input[1], "the scale")
    eps = {"eps": number(a.get("epsilon", 1e-5))}
    has_bias = len(node.input) > 2 and bool(node.input[2])
    if has_bias:
        imp.weight(node.input[2], "the bias")
        imp.emit(compact({"type": "layernorm", **eps}, {"eps": 1e-5}), [x], node.output[0],
                 x.layout, [node.input[1], node.input[2]])
        return
    imp.emit(compact({"type": "layernorm", "affine": False, **eps}, {"eps": 1e-5}), [x],
                    node.output[0], x.layout, suffix="norm")
    imp.emit({"type": "scale"}, [imp.values[node.output[0]]], node.output[0], x.layout,
             [node.input[1]])


@op("LRN")
def lrn(imp, node, a):
    x = data_value(imp, node)
    imp.emit({"type": "lrn", "size": int(a["size"]), "alpha": number(a.get("alpha", 1e-4)),
              "beta": number(a.get("beta", 0.75)), "k": number(a.get("bias", 1.0))},
             [x], node.output[0], NC)


@op("Dropout")
def dropout(imp, node, a):
    x = imp.value(node.input[0])
    if len(node.output) > 1 and node.output[1] and imp.g.users(node.output[1]):
        raise Unsupported("its mask output is used")
    rate = a.get("ratio", 0.5)
    if len(node.input) > 1 and node.input[1]:
        rate = float(imp.const(node.input[1], "the ratio"))
    imp.emit({"type": "dropout", "rate": number(rate)}, [x], node.output[0], x.layout)


@op("Gemm", "MatMul")
def dense(imp, node, a):
    """x @ W (+ b): an fc layer on a [batch, features] input (or 1x1xC)."""
    x = imp.value(node.input[0])
    features = imp.cnn_shape(imp.shape(node.input[0]), x.layout)
    if x.layout == LAST and node.op_type == "MatMul" and features.positions > 1:
        return pointwise(imp, node, x, features)
    if x.layout != FLAT and features.positions != 1:
        raise Unsupported(f"multiplies a {list(imp.shape(node.input[0]))} tensor; cnncalc's fc "
                          "reads [batch, features]")
    weight = imp.weight(node.input[1], "the weight matrix")
    if len(weight) != 2:
        raise Unsupported(f"its weight has shape {list(weight)}, not a matrix")
    if node.op_type == "Gemm":
        if a.get("transA", 0) or not isclose(a.get("alpha", 1.0), 1) or \
                not isclose(a.get("beta", 1.0), 1):
            raise Unsupported("transA, alpha or beta other than 0, 1, 1")
        units, reads = (weight[0], weight[1]) if a.get("transB", 0) else (weight[1], weight[0])
    else:
        reads, units = weight
    if reads != features.c:
        raise Unsupported(f"its weight reads {reads} features, the input has {features.c}")
    bias = len(node.input) > 2 and bool(node.input[2])
    if bias and imp.g.size(node.input[2]) != units:
        raise Unsupported(f"its bias has {imp.g.size(node.input[2])} values for {units} units")
    weights = with_bias(imp, node)
    imp.emit(compact({"type": "fc", "units": units, "bias": bias}, {"bias": True}), [x],
             node.output[0], FLAT, weights, bias_slot=not bias)


def pointwise(imp, node, x, features) -> None:
    """A matrix applied to the channels at every position of a channels-last tensor (a
    Linear in ConvNeXt's block): a 1x1 conv, with the same weights and MACs."""
    weight = imp.weight(node.input[1], "the weight matrix")
    if len(weight) != 2 or weight[0] != features.c:
        raise Unsupported(f"its weight {list(weight)} does not read the {features.c} channels")
    imp.emit({"type": "conv", "filters": weight[1], "kernel": 1, "bias": False}, [x],
             node.output[0], LAST, [node.input[1]], bias_slot=True)


SIMPLE = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish"}


@op(*SIMPLE)
def activation(imp, node, a):
    x = imp.value(node.input[0])
    if not fuse(imp, node, x, SIMPLE[node.op_type]):
        imp.emit({"type": SIMPLE[node.op_type]}, [x], node.output[0], x.layout)


def fuse(imp, node, x, kind: str) -> bool:
    """An activation read straight from the layer just emitted, the only reader of its
    output, becomes that layer's `activation:` when the layer declares one that accepts it
    (`conv ... +relu`, as the zoo writes it): the spec reads as written by hand and keeps
    the totals of a spec exported and imported again."""
    from ..declare import declared
    from ..layers import REGISTRY
    producer = imp.layers[-1] if imp.layers else None
    if producer is None or producer.name != x.source or "activation" in producer.settings \
            or imp.g.only_consumer(node.input[0]) is not node:
        return False
    kinds = {d.name: d.kind for d in declared(REGISTRY[producer.settings["type"]])}
    options = getattr(kinds.get("activation"), "options", ())
    if kind not in options:
        return False
    producer.settings["activation"] = kind
    imp.alias(node.output[0], x)
    return True


@op("LeakyRelu", "Elu")
def sloped(imp, node, a):
    x = imp.value(node.input[0])
    if node.op_type == "LeakyRelu":
        settings = compact({"type": "leaky_relu", "negative_slope": number(a.get("alpha", 0.01))},
                           {"negative_slope": 0.01})
    else:
        settings = compact({"type": "elu", "alpha": number(a.get("alpha", 1.0))}, {"alpha": 1.0})
    imp.emit(settings, [x], node.output[0], x.layout)


@op("Gelu")
def gelu(imp, node, a):
    x = imp.value(node.input[0])
    approximate = a.get("approximate", b"none")
    if (approximate.decode() if isinstance(approximate, bytes) else approximate) != "none":
        raise Unsupported("the tanh approximation (cnncalc's gelu is the exact erf form)")
    imp.emit({"type": "gelu"}, [x], node.output[0], x.layout)


@op("HardSigmoid")
def hardsigmoid(imp, node, a):
    x = imp.value(node.input[0])
    alpha, beta = a.get("alpha", 0.2), a.get("beta", 0.5)
    if not (isclose(alpha, 1 / 6, rel_tol=1e-6) and isclose(beta, 0.5)):
        raise Unsupported(f"alpha {alpha:g}, beta {beta:g}: cnncalc's hardsigmoid is "
                          "relu6(x + 3) / 6 (alpha 1/6, beta 0.5, PyTorch's)")
    imp.emit({"type": "hardsigmoid"}, [x], node.output[0], x.layout)


@op("Clip")
def clip(imp, node, a):
    """Clip to [0, 6] is ReLU6, to [0, inf) ReLU; other bounds are not a cnncalc layer."""
    x = imp.value(node.input[0])
    low, high = a.get("min", float("-inf")), a.get("max", float("inf"))
    if len(node.input) > 1 and node.input[1]:
        low = float(imp.const(node.input[1], "the minimum"))
    if len(node.input) > 2 and node.input[2]:
        high = float(imp.const(node.input[2], "the maximum"))
    if low == 0 and high == 6:
        kind = "relu6"
    elif low == 0 and isinf(high) and high > 0:
        kind = "relu"
    else:
        raise Unsupported(f"clips to [{low:g}, {high:g}]; cnncalc maps [0, 6] (relu6) and "
                          "[0, inf) (relu)")
    imp.emit({"type": kind}, [x], node.output[0], x.layout)


@op("Softmax")
def softmax(imp, node, a):
    x = imp.value(node.input[0])
    shape = imp.shape(node.input[0])
    axis = int(a.get("axis", -1 if imp.g.opset >= 13 else 1)) % len(shape)
    channel_axis = len(shape) - 1 if x.layout == LAST else 1
    # before opset 13 the axis flattens everything after it: the channels only when the
    # channels are the last non-unit axis
    flattens = imp.g.opset < 13 and any(s != 1 for s in shape[axis + 1:])
    if axis != channel_axis or flattens:
        raise Unsupported(f"softmax over axis {axis} of {list(shape)}; cnncalc's is over the "
                          "channels at each position")
    imp.emit({"type": "softmax"}, [x], node.output[0], x.layout)


@op("Identity")
def identity(imp, node, a):
    imp.alias(node.output[0], imp.value(node.input[0]))


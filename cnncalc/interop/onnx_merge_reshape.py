"""ONNX ops that move, reshape or combine values: Add and Mul (with the bias, SiLU and
squeeze-excitation patterns), Concat, Split, Slice, Pad, Resize, DepthToSpace, and the
reshapes cnncalc expresses (a flatten, a channel shuffle, a move of the channels last)."""

from __future__ import annotations

from math import prod

from .onnx_patterns import PATTERNS
from .onnx_registry import FLAT, LAST, NC, Unsupported, axes, channel_axis, op, padding, per_channel


def both(imp, node):
    """(data inputs, constant inputs) of a two-input elementwise op."""
    data = [t for t in node.input if imp.g.is_data(t)]
    return data, [t for t in node.input if t and not imp.g.is_data(t)]


@op("Add")
def add(imp, node, a):
    data, consts = both(imp, node)
    if len(data) == 2:
        first, second = (imp.value(t) for t in data)
        if imp.shape(data[0]) != imp.shape(data[1]) or first.layout != second.layout:
            raise Unsupported(f"adds {list(imp.shape(data[0]))} and {list(imp.shape(data[1]))} "
                              "(broadcasting); cnncalc's add takes one shape")
        imp.emit({"type": "add"}, [first, second], node.output[0], first.layout)
        return
    fold_bias(imp, node, data[0], consts[0])


def fold_bias(imp, node, data: str, const: str) -> None:
    """conv/fc/deconv without bias, then + a per-channel constant: that layer's bias (the
    exporters' MatMul + Add)."""
    x = imp.value(data)
    layer = imp.by_name.get(x.source)
    if layer is None or not layer.bias_slot or imp.g.only_consumer(data) is not node:
        raise Unsupported("adds a constant that is not the bias of the layer before it")
    if not per_channel(imp, const, data):
        raise Unsupported(f"adds a constant of shape {list(imp.shape(const))} to "
                          f"{list(imp.shape(data))}, not one value per channel")
    imp.weight(const, "the bias")
    layer.settings.pop("bias", None)  # cnncalc's default: a bias
    layer.weights.append(const)
    layer.bias_slot = False
    layer.expect = (imp.shape(node.output[0]), x.layout)
    imp.alias(node.output[0], x)


@op("Mul")
def mul(imp, node, a):
    data, consts = both(imp, node)
    if len(data) == 1:
        if not per_channel(imp, consts[0], data[0]):
            raise Unsupported(f"multiplies by a constant of shape {list(imp.shape(consts[0]))}; "
                              "cnncalc maps one learned value per channel (scale)")
        x = imp.value(data[0])
        imp.emit({"type": "scale"}, [x], node.output[0], x.layout, [consts[0]])
        return
    for gate, other in ((data[0], data[1]), (data[1], data[0])):
        maker = imp.g.producer.get(gate)
        if maker is not None and list(maker.input[:1]) == [other] and \
                imp.g.only_consumer(gate) is node:
            kind = {"Sigmoid": "silu", "HardSigmoid": "hardswish"}.get(maker.op_type)
            if maker.op_type == "HardSigmoid" and imp.by_name.get(imp.value(gate).source) is None:
                kind = None
            if kind:  # x * sigmoid(x): the gate's own layer is dropped as unused
                x = imp.value(other)
                imp.emit({"type": kind}, [x], node.output[0], x.layout)
                return
    shapes = [imp.shape(t) for t in data]
    values = [imp.value(t) for t in data]
    full = max(range(2), key=lambda i: prod(shapes[i]))
    gate = 1 - full
    ones = [s == 1 for s in shapes[gate][2:]]
    is_gate = len(shapes[gate]) == len(shapes[full]) and shapes[gate][:2] == shapes[full][:2] \
        and all(ones) and values[gate].layout == NC
    if shapes[0] != shapes[1] and not is_gate:
        raise Unsupported(f"multiplies {list(shapes[0])} by {list(shapes[1])}; cnncalc's "
                          "multiply takes one shape or a [N, C, 1, 1] gate")
    imp.emit({"type": "multiply"}, [values[full], values[gate]], node.output[0],
             values[full].layout)


@op("Concat")
def concat(imp, node, a):
    if any(not imp.g.is_data(t) for t in node.input):
        raise Unsupported("concatenates a constant")
    values = [imp.value(t) for t in node.input]
    axis = int(a["axis"]) % len(imp.shape(node.input[0]))
    if len({v.layout for v in values}) != 1 or axis != channel_axis(imp, node.input[0]):
        raise Unsupported(f"concatenates along axis {axis}, not the channels")
    if len(values) == 1:
        return imp.alias(node.output[0], values[0])
    imp.emit({"type": "concat"}, values, node.output[0], values[0].layout)


@op("Split")
def split(imp, node, a):
    x = imp.value(node.input[0])
    axis = int(a.get("axis", 0)) % len(imp.shape(node.input[0]))
    if axis != channel_axis(imp, node.input[0]):
        raise Unsupported(f"splits along axis {axis}, not the channels")
    start = 0
    for i, out in enumerate(node.output):
        size = imp.shape(out)[axis]
        if out and imp.g.users(out):
            imp.emit({"type": "slice", "channels": [start, start + size]}, [x], out, x.layout,
                     suffix=str(i + 1))
        start += size


@op("Slice")
def slice_(imp, node, a):
    """Channels [start, end) with step 1; the other axes kept whole."""
    x = imp.value(node.input[0])
    shape, out = imp.shape(node.input[0]), imp.shape(node.output[0])
    axis = channel_axis(imp, node.input[0])
    if imp.g.opset >= 10:
        starts = [int(v) for v in imp.const(node.input[1], "the starts").reshape(-1)]
        chosen = imp.const(node.input[3], "the axes", True) if len(node.input) > 3 else None
        steps = imp.const(node.input[4], "the steps", True) if len(node.input) > 4 else None
        chosen = list(range(len(starts))) if chosen is None else [int(v) for v in chosen.reshape(-1)]
        steps = [1] * len(starts) if steps is None else [int(v) for v in steps.reshape(-1)]
    else:
        starts, chosen = list(a["starts"]), list(a.get("axes", range(len(a["starts"]))))
        steps = [1] * len(starts)
    chosen = [c % len(shape) for c in chosen]
    if any(shape[i] != out[i] for i in range(len(shape)) if i != axis):
        raise Unsupported(f"slices {list(shape)} to {list(out)}; cnncalc maps a slice of the "
                          "channels only")
    begin = 0
    for where, start, step in zip(chosen, starts, steps):
        if where == axis:
            if step != 1:
                raise Unsupported(f"steps by {step} through the channels")
            begin = min(max(start + shape[axis] if start < 0 else start, 0), shape[axis])
    if out[axis] == shape[axis]:
        return imp.alias(node.output[0], x)
    imp.emit({"type": "slice", "channels": [begin, begin + out[axis]]}, [x], node.output[0],
             x.layout)


@op("Pad")
def pad(imp, node, a):
    x = imp.value(node.input[0])
    mode = a.get("mode", b"constant")
    if (mode.decode() if isinstance(mode, bytes) else mode) != "constant":
        raise Unsupported(f"{mode!r} padding; cnncalc's zeropad pads with zeros")
    if imp.g.opset >= 11:
        pads = [int(v) for v in imp.const(node.input[1], "the pads").reshape(-1)]
        if len(node.input) > 2 and node.input[2] and \
                float(imp.const(node.input[2], "the value").reshape(-1)[0]) != 0:
            raise Unsupported("pads with a value other than zero")
        if len(node.input) > 3 and node.input[3]:
            raise Unsupported("the axes input")
    else:
        pads = list(a["pads"])
        if a.get("value", 0.0) != 0:
            raise Unsupported("pads with a value other than zero")
    rank = len(pads) // 2
    if x.layout != NC or pads[0] or pads[1] or pads[rank] or pads[rank + 1]:
        raise Unsupported(f"pads {pads} touch the batch or the channels")
    imp.emit({"type": "zeropad", "padding": padding(pads[2:rank] + pads[rank + 2:], rank - 2)},
             [x], node.output[0], NC)


@op("Resize", "Upsample")
def resize(imp, node, a):
    """Nearest or linear by a whole factor per spatial axis (read from the shapes)."""
    x = imp.value(node.input[0])
    mode = a.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode not in ("nearest", "linear") or x.layout != NC:
        raise Unsupported(f"mode {mode!r}; cnncalc's upsample is nearest or (bi)linear")
    shape, out = imp.shape(node.input[0]), imp.shape(node.output[0])
    factors = [o // i if i and o % i == 0 else None for i, o in zip(shape, out)]
    if factors[:2] != [1, 1] or None in factors or min(factors) < 1:
        raise Unsupported(f"resizes {list(shape)} to {list(out)}, not by a whole factor per "
                          "spatial axis")
    settings = {"type": "upsample", "scale": axes(factors[2:])}
    if mode == "linear":
        settings["mode"] = "bilinear"
    imp.emit(settings, [x], node.output[0], NC)


@op("DepthToSpace", "SpaceToDepth")
def depth_to_space(imp, node, a):
    """DepthToSpace is pixel_shuffle (CRD is PyTorch's channel order; DCR, the default, takes
    the channels in another order: shapes and counts are the same)."""
    x = imp.value(node.input[0])
    kind = "pixel_shuffle" if node.op_type == "DepthToSpace" else "pixel_unshuffle"
    imp.emit({"type": kind, "factor": int(a["blocksize"])}, [x], node.output[0], NC)


@op("Transpose")
def transpose(imp, node, a):
    """Only the move of the channels last (and back), around a LayerNormalization."""
    x = imp.value(node.input[0])
    rank = len(imp.shape(node.input[0]))
    perm = list(a.get("perm", reversed(range(rank))))
    if x.layout == NC and perm == [0, *range(2, rank), 1]:
        return imp.alias(node.output[0], x, LAST)
    if x.layout == LAST and perm == [0, rank - 1, *range(1, rank - 1)]:
        return imp.alias(node.output[0], x, NC)
    raise Unsupported(f"permutes axes {perm}; cnncalc maps moving the channels last and back")


@op("Reshape", "Flatten", "Squeeze", "Unsqueeze")
def reshape(imp, node, a):
    """A flatten ([N, C, H, W] -> [N, CHW]), a view that keeps the values in place
    ([N, C, 1, 1] <-> [N, C]), or the first Reshape of a pattern (onnx_patterns)."""
    x = imp.value(node.input[0])
    before, after = imp.shape(node.input[0]), imp.shape(node.output[0])
    if node.op_type == "Reshape" and x.layout == NC and before[0] == after[0] and \
            any(match(imp, node, x, before, after) for match in PATTERNS):
        return
    shape = imp.cnn_shape(before, x.layout)
    if len(after) == 2 and after[1] == shape.size:
        if shape.positions == 1:
            return imp.alias(node.output[0], x, FLAT)
        if x.layout == NC:
            return imp.emit({"type": "flatten"}, [x], node.output[0], FLAT)
    if len(after) >= 2 and after[1] == shape.size and shape.positions == 1 \
            and all(s == 1 for s in after[2:]):
        return imp.alias(node.output[0], x, NC)  # [N, C] <-> [N, C, 1, ...]: one position
    if after == before:
        return imp.alias(node.output[0], x)
    raise Unsupported(f"reshapes {list(before)} to {list(after)}; cnncalc maps a flatten, "
                      "a channel shuffle, and views that keep [N, C]")

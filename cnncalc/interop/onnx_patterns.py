"""Several ONNX nodes that are one cnncalc layer: PyTorch's channel shuffle, pixel unshuffle
and group norm, recognised at their first Reshape, as both of its exporters write them, and
GELU written with Erf (recognised at its Div). A pattern claims the nodes after the first,
so the walk skips them."""

from __future__ import annotations

from math import prod

from .onnx_graph import attributes
from .onnx_import import FLAT, LAST, NC, Unsupported
from .onnx_ops import op, reduce


def perm_of(node) -> list | None:
    found = [list(a.ints) for a in node.attribute if a.name == "perm"]
    return found[0] if found else None


def follows(imp, tensor: str, *ops):
    """The one node reading `tensor`, if its op is one of `ops`."""
    reader = imp.g.only_consumer(tensor)
    return reader if reader is not None and reader.op_type in ops else None


def channel_shuffle(imp, node, x, before, after) -> bool:
    """[N, C, *S] -> [N, g, C/g, *S], swap axes 1 and 2, -> [N, C, *S]: channel_shuffle g."""
    if len(after) != len(before) + 1 or after[1] * after[2] != before[1] or \
            list(after[3:]) != list(before[2:]):
        return False
    swap = follows(imp, node.output[0], "Transpose")
    if swap is None or perm_of(swap) != [0, 2, 1, *range(3, len(after))]:
        return False
    back = follows(imp, swap.output[0], "Reshape", "Flatten")
    if back is None or imp.shape(back.output[0]) != before:
        return False
    imp.emit({"type": "channel_shuffle", "groups": after[1]}, [x], back.output[0], NC)
    imp.claim(swap)
    imp.claim(back)
    return True


def pixel_unshuffle(imp, node, x, before, after) -> bool:
    """[N, C, H, W] -> [N, C, H/r, r, W/r, r], perm (0, 1, 3, 5, 2, 4), -> [N, C r^2, H/r,
    W/r]: PyTorch's pixel_unshuffle (2-D)."""
    if len(before) != 4 or len(after) != 6 or after[3] != after[5] or \
            [*after[:3], after[4]] != [before[0], before[1], before[2] // after[3],
                                       before[3] // after[3]]:
        return False
    swap = follows(imp, node.output[0], "Transpose")
    if swap is None or perm_of(swap) != [0, 1, 3, 5, 2, 4]:
        return False
    back = follows(imp, swap.output[0], "Reshape")
    r = after[3]
    if back is None or list(imp.shape(back.output[0])) != [before[0], before[1] * r * r,
                                                           after[2], after[4]]:
        return False
    imp.emit({"type": "pixel_unshuffle", "factor": r}, [x], back.output[0], NC)
    imp.claim(swap)
    imp.claim(back)
    return True


def group_norm(imp, node, x, before, after) -> bool:
    """[N, C, *S] -> [N, G, rest], InstanceNormalization (its unit scale and zero shift are
    constants, not parameters), -> [N, C, *S], then optionally x a constant per channel and
    + a constant per channel: PyTorch's GroupNorm(G, C)."""
    if len(after) != 3 or after[0] != before[0] or after[1] * after[2] != prod(before[1:]):
        return False
    norm = follows(imp, node.output[0], "InstanceNormalization")
    back = norm and follows(imp, norm.output[0], "Reshape")
    if back is None or imp.shape(back.output[0]) != before:
        return False
    from .onnx_moves import per_channel
    eps = [a.f for a in norm.attribute if a.name == "epsilon"]
    out, weights = back.output[0], []
    imp.values[out] = x  # for per_channel, which asks the layout of the tensor it is given
    scale = follows(imp, out, "Mul")
    shift = scale and follows(imp, scale.output[0], "Add")
    if scale is not None and shift is not None:
        gamma = next((t for t in scale.input if t != out), "")
        beta = next((t for t in shift.input if t != scale.output[0]), "")
        if all(t and not imp.g.is_data(t) and imp.g.is_float(t) for t in (gamma, beta)):
            imp.values[scale.output[0]] = x
            if per_channel(imp, gamma, out) and per_channel(imp, beta, scale.output[0]):
                weights, out = [gamma, beta], shift.output[0]
                imp.claim(scale)
                imp.claim(shift)
    from .onnx_ops import number
    settings = {"type": "groupnorm", "groups": after[1]}
    if not weights:
        settings["affine"] = False
    if eps and number(eps[0]) != 1e-5:
        settings["eps"] = number(eps[0])
    imp.emit(settings, [x], out, NC, weights)
    imp.claim(norm)
    imp.claim(back)
    return True


REGION_OPS = {"MatMul", "Add", "Mul", "Div", "Split", "Reshape", "Transpose", "Softmax",
              "Squeeze", "Unsqueeze", "Flatten"}
MAX_REGION = 400  # nodes an attention may span


def region(imp, start: str, end_shape: list):
    """The nodes reading `start` and what they make, up to the one Reshape back to
    `end_shape` ([N, C', *S]): (nodes, that Reshape), or (None, None) when the region reads
    data from outside, reaches a graph output or an op attention does not use."""
    tensors, nodes, end, todo = {start}, [], None, [start]
    while todo:
        for reader in imp.g.consumers.get(todo.pop(), []):
            if reader.op_type in ("Shape", "Size") or any(reader is n for n in nodes):
                continue
            if reader.op_type not in REGION_OPS or len(nodes) >= MAX_REGION:
                return None, None
            nodes.append(reader)
            shape = imp.g.shape(reader.output[0])
            if reader.op_type == "Reshape" and shape is not None and len(shape) == len(end_shape) \
                    and list(shape[2:]) == end_shape[2:] and shape[0] == end_shape[0]:
                if end is not None:
                    return None, None
                end = reader
                tensors.add(reader.output[0])
                continue
            if any(t in imp.g.outputs for t in reader.output):
                return None, None
            tensors.update(reader.output)
            todo.extend(reader.output)
    inside = all(t in tensors or not imp.g.is_data(t) for n in nodes for t in n.input if t)
    return (nodes, end) if inside and end is not None else (None, None)


def attention(imp, node, x, before, after) -> bool:
    """[N, C, *S] -> [N, C, positions], Transpose to tokens, then (optionally) q, k, v by a
    MatMul (+ bias), split, heads and patch groups by Reshape and Transpose, q @ k^T, scale,
    Softmax, @ v, back, (optionally) a MatMul (+ bias), and a Reshape to [N, C', *S]: the
    attention layer as `cnncalc export --to pytorch` writes it (SpatialAttention)."""
    rank = len(before) - 2
    if rank < 1 or list(after) != [before[0], before[1], prod(before[2:])]:
        return False
    tokens = follows(imp, node.output[0], "Transpose")
    if tokens is None or perm_of(tokens) != [0, 2, 1]:
        return False
    nodes, end = region(imp, tokens.output[0], [before[0], None, *before[2:]])
    if nodes is None:
        return False
    matmuls = [n for n in nodes if n.op_type == "MatMul"]
    products = [n for n in matmuls if imp.g.is_data(n.input[1])]
    maps = [n for n in matmuls if not imp.g.is_data(n.input[1])]
    splits = [n for n in nodes if n.op_type == "Split"]
    softmax = [n for n in nodes if n.op_type == "Softmax"]
    if len(products) != 2 or len(maps) > 2 or len(splits) != 1 or len(softmax) != 1:
        return False
    if products[0].input[0] == softmax[0].output[0]:  # the order q k^T, then attention x v
        products.reverse()
    q, v = imp.shape(products[0].input[0]), imp.shape(products[1].input[1])
    if len(q) != 5 or len(v) != 5:
        return False
    qkv = next((m for m in maps if m.input[0] == tokens.output[0]), None)
    out = next((m for m in maps if m is not qkv), None)
    biases = [next((t for t in add.input if not imp.g.is_data(t)), "") for add in nodes
              if add.op_type == "Add" and any(add.input[i] in m.output for m in maps
                                              for i in range(2))]
    if len(biases) not in (0, len(maps)):
        return False
    areas = any(n.op_type == "Transpose" and perm_of(n) == [0, 1, 3, 2, 4] and
                len(imp.shape(n.input[0])) == 5 and imp.shape(n.input[0])[1] == q[1] > 1
                for n in nodes)  # [n, A, L, h, d] -> [n, A, h, L, d]: consecutive runs
    grouped = next((imp.shape(n.output[0]) for n in nodes if n.op_type == "Reshape" and
                    len(imp.shape(n.output[0])) == 2 * rank + 3), None)
    patch = [grouped[2 + 2 * i] for i in range(rank)] if grouped and q[1] > 1 and not areas \
        else [1] * rank
    if prod(patch) != q[1] and not areas:
        return False
    settings = {"type": "attention", "heads": q[2]}
    if areas:
        settings["areas"] = q[1]
    if q[4] != v[4]:
        settings["key_dim"] = q[4]
    settings.update({k: False for k, present in (("qkv", qkv), ("out", out), ("bias", biases))
                     if not present and (k != "bias" or maps)})
    if len(imp.shape(splits[0].input[0])) == 4:
        settings["layout"] = "per_head"
    if any(p != 1 for p in patch):
        settings["patch"] = patch[0] if len(set(patch)) == 1 else patch
    weights = [t for m in (qkv, out) if m is not None for t in
               (m.input[1], *(b for b in biases if any(
                   b in add.input and m.output[0] in add.input for add in nodes)))]
    imp.emit(settings, [x], end.output[0], NC, weights)
    imp.claim(tokens)
    for claimed in nodes:
        imp.claim(claimed)
    return True


PATTERNS = (channel_shuffle, pixel_unshuffle, group_norm, attention)


def constant_near(imp, node, data: str, value: float) -> bool:
    """True when the node's other input is a constant equal to `value` (float32 precision)."""
    others = [t for t in node.input if t != data]
    if len(others) != 1 or imp.g.is_data(others[0]):
        return False
    found = imp.g.value(others[0])
    return found is not None and found.size == 1 and abs(float(found.reshape(-1)[0]) - value) \
        <= 1e-6 * max(1.0, abs(value))


@op("Div")
def gelu_from_erf(imp, node, a):
    """x / sqrt(2) -> Erf -> + 1 -> x * that -> * 0.5: GELU as exporters before opset 20 write
    it (PyTorch's legacy exporter at opset 17)."""
    x = node.input[0]
    erf = follows(imp, node.output[0], "Erf")
    plus = erf and follows(imp, erf.output[0], "Add")
    times = plus and follows(imp, plus.output[0], "Mul")
    half = times and follows(imp, times.output[0], "Mul")
    if not (half and imp.g.is_data(x) and constant_near(imp, node, x, 2 ** 0.5)
            and constant_near(imp, plus, erf.output[0], 1.0) and x in times.input
            and constant_near(imp, half, times.output[0], 0.5)):
        raise Unsupported("a division cnncalc maps only inside GELU's x / sqrt(2) -> Erf chain")
    value = imp.value(x)
    imp.emit({"type": "gelu"}, [value], half.output[0], value.layout)
    for claimed in (erf, plus, times, half):
        imp.claim(claimed)


def reduced_axes(imp, node, a) -> list:
    """The axes a ReduceMean reduces (attribute before opset 18, input after), as written."""
    if "axes" in a:
        return list(a["axes"])
    if len(node.input) > 1 and node.input[1]:
        return [int(v) for v in imp.const(node.input[1], "the axes").reshape(-1)]
    return []


def consumers(imp, tensor: str) -> list:
    return [n for n in imp.g.consumers.get(tensor, []) if n.op_type != "Shape"]


@op("ReduceMean")
def mean_or_layer_norm(imp, node, a):
    """Layer norm over the channels as exporters before opset 17 write it (no
    LayerNormalization op): mean = ReduceMean(x), d = x - mean, ReduceMean(d ^ 2) + eps,
    Sqrt, d / that, then x gamma + beta; else onnx_ops' reduction (global pooling)."""
    if not layer_norm(imp, node, a):
        reduce(imp, node, a)


def layer_norm(imp, node, a) -> bool:
    x = node.input[0]
    value = imp.values.get(x)
    shape = imp.g.shape(x)
    if value is None or value.layout not in (LAST, FLAT) or shape is None or \
            [v % len(shape) for v in reduced_axes(imp, node, a)] != [len(shape) - 1]:
        return False
    sub = follows(imp, node.output[0], "Sub")
    if sub is None or list(sub.input) != [x, node.output[0]]:
        return False
    readers = consumers(imp, sub.output[0])
    power = next((n for n in readers if n.op_type == "Pow"), None)
    div = next((n for n in readers if n.op_type == "Div"), None)
    if len(readers) != 2 or power is None or div is None or \
            not constant_near(imp, power, sub.output[0], 2.0):
        return False
    variance = follows(imp, power.output[0], "ReduceMean")
    plus = variance and follows(imp, variance.output[0], "Add")
    root = plus and follows(imp, plus.output[0], "Sqrt")
    if root is None or reduced_axes(imp, variance, attributes(variance)) != \
            reduced_axes(imp, node, a) or list(div.input) != [sub.output[0], root.output[0]]:
        return False
    eps = next((imp.g.value(t) for t in plus.input if t != variance.output[0]), None)
    if eps is None or eps.size != 1:
        return False
    out, weights, channels = div.output[0], [], shape[-1]
    scale = follows(imp, out, "Mul")
    gamma = scale and next((t for t in scale.input if t != out), "")
    if gamma and not imp.g.is_data(gamma) and imp.g.is_float(gamma) and \
            imp.g.size(gamma) == channels:
        weights, out = [gamma], scale.output[0]
        shift = follows(imp, out, "Add")
        beta = shift and next((t for t in shift.input if t != out), "")
        if beta and not imp.g.is_data(beta) and imp.g.is_float(beta) and \
                imp.g.size(beta) == channels:
            weights, out = [gamma, beta], shift.output[0]
    from .onnx_ops import compact, number
    settings = compact({"type": "layernorm", "eps": number(float(eps.reshape(-1)[0]))},
                       {"eps": 1e-5})
    if len(weights) == 2:
        imp.emit(settings, [value], out, value.layout, weights)
    else:
        imp.emit({**settings, "affine": False}, [value], div.output[0], value.layout,
                 suffix="norm")
        if weights:
            imp.emit({"type": "scale"}, [imp.values[div.output[0]]], out, value.layout, weights)
    for claimed in (sub, power, variance, plus, root, div, *([scale] if weights else []),
                    *([shift] if len(weights) == 2 else [])):
        imp.claim(claimed)
    return True


@op("Sub", "Pow", "Sqrt")
def outside_layer_norm(imp, node, a):
    raise Unsupported(f"{node.op_type} outside layer norm's ReduceMean, Sub, Pow, ReduceMean, "
                      "Add, Sqrt, Div chain")


@op("Erf")
def erf_alone(imp, node, a):
    raise Unsupported("Erf outside GELU's x / sqrt(2) -> Erf -> + 1 -> x * -> * 0.5 chain")

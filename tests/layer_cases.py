"""Per layer type, in one place: the small networks its tests run and its PyTorch reference.

`CASES[type]` holds, for every registered `type:`:
- `agree`: networks whose NumPy forward pass must equal PyTorch's (tests/test_torch_forward.py);
- `gradient`: networks whose analytic gradients must equal central differences
  (tests/test_engine.py), also exported to PyTorch (tests/test_export_pytorch.py) and run
  through a simulated step (tests/test_memory_step.py);
- `torch`: the layer written with torch.nn.functional, independently of cnncalc's kernels.
A new layer type adds one `@cases(...)` entry here; tests/test_layer_cases.py fails, naming the
type, while it has none. torch is imported only when a reference function runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cnncalc.layers.shape import Shape


@dataclass(frozen=True)
class Case:
    """A small network: its input `[H, W, C]` and its layers, the one under test among them."""
    layers: tuple[str, ...]
    input: tuple[int, ...] = (6, 6, 4)
    seed: int = 7  # the gradient check's random generator

    def spec(self, before: tuple[str, ...] = ()) -> str:
        """The spec text, with `before` layers put between the input and the case's layers."""
        lines = "".join(f"  - {line}\n" for line in (*before, *self.layers))
        return f"input: {list(self.input)}\nlayers:\n{lines}"


@dataclass(frozen=True)
class TypeCases:
    agree: tuple[Case, ...]
    gradient: tuple[Case, ...]
    torch: Callable  # (layer, inputs, weights) -> tensor; the layer is already `.at(rank)`


CASES: dict[str, TypeCases] = {}


def one(*layers: str, input=(6, 8, 4), seed=7) -> Case:
    return Case(tuple(layers), tuple(input), seed)


def cases(*type_names: str, agree, gradient):
    """Register the decorated torch reference, and its cases, for each type named; `agree`
    and `gradient` are lists, or dicts of lists by type name."""
    def pick(table, name):
        return tuple(table[name] if isinstance(table, dict) else table)

    def register(reference):
        for name in type_names:
            CASES[name] = TypeCases(pick(agree, name), pick(gradient, name), reference)
        return reference
    return register


def functional():
    import torch
    return torch, torch.nn.functional


def t(array):
    torch, _ = functional()
    return torch.from_numpy(np.ascontiguousarray(array))


def activation(layer):
    """The layer's fused `activation:` as a torch function (identity when it has none)."""
    name = getattr(layer, "activation", None)
    return torch_activation(name) if name else (lambda v: v)


def torch_activation(name: str):
    torch, F = functional()
    return {"relu": F.relu, "relu6": F.relu6, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
            "softmax": lambda v: F.softmax(v, dim=1), "gelu": F.gelu, "silu": F.silu,
            "hardswish": F.hardswish, "hardsigmoid": F.hardsigmoid, "elu": F.elu,
            "leaky_relu": F.leaky_relu}[name]


# a merge's inputs: two 4x4x3 maps and a 1x1x3 global pool of the second
MERGE_INPUTS = ("{name: a, type: conv, filters: 3, kernel: 1}",
                "{name: b, type: conv, filters: 3, kernel: 3, padding: 1, inputs: [input]}",
                "{name: g, type: pool, mode: avg, global: true, inputs: [b]}")
# the forward comparison's merge network: multiply by a global pool, add, concat, upsample
MERGED = one("{name: a, type: conv, filters: 4, kernel: 1}",
             "{name: g, type: pool, mode: avg, global: true}",
             "{name: m, type: multiply, inputs: [a, g]}",
             "{name: s, type: add, inputs: [m, input]}",
             "{type: concat, inputs: [s, a]}", "{type: upsample, scale: 2}", input=(6, 6, 4))


# --- weighted layers ---------------------------------------------------------------------

@cases("conv", agree=[one("{type: conv, filters: 4, kernel: [3, 2], stride: [2, 1], "
                          "padding: [1, 0, 1, 1], dilation: [1, 2], activation: tanh}")],
       gradient=[
           one("{type: conv, filters: 4, kernel: [3, 2], stride: [2, 1], padding: [1, 0, 1, 1], "
               "dilation: [1, 2], activation: tanh}", input=(6, 6, 4)),
           one("{type: conv, filters: 4, kernel: 3, groups: 2, padding: same, stride: 2}",
               input=(7, 7, 4), seed=3),
           one("{type: conv, filters: 3, kernel: 2, connections: [[0], [1, 2], [0, 1, 2, 3]]}",
               input=(7, 7, 4), seed=3)])
def conv(layer, xs, w):
    _, F = functional()
    x = xs[0]
    top, bottom, left, right = layer.pads(tuple(x.shape))
    weight = w["weight"]
    if layer.connections is not None:  # the table's kernels, in order, into zeros
        pairs = [(o, i) for o, row in enumerate(layer.connections) for i in row]
        full = np.zeros((layer.filters, x.shape[1], *layer.kernel), dtype=weight.dtype)
        for kernel, (o, i) in zip(weight, pairs):
            full[o, i] = kernel
        weight = full
    return activation(layer)(F.conv2d(F.pad(x, (left, right, top, bottom)), t(weight),
                                      t(w["bias"]) if layer.bias else None, layer.stride, 0,
                                      layer.dilation, layer.groups))


@cases("deconv", agree=[one("{type: deconv, filters: 4, kernel: 3, stride: 2, padding: 1, "
                            "output_padding: 1, groups: 2, activation: sigmoid}")],
       gradient=[one("{type: deconv, filters: 4, kernel: 3, stride: 2, padding: 1, "
                     "output_padding: 1, groups: 2, activation: sigmoid}", input=(6, 6, 4))])
def deconv(layer, xs, w):
    _, F = functional()
    return activation(layer)(F.conv_transpose2d(
        xs[0], t(w["weight"]), t(w["bias"]) if layer.bias else None, layer.stride,
        layer.padding, layer.output_padding, layer.groups, layer.dilation))


@cases("local", agree=[one("{type: local, filters: 3, kernel: 3, stride: 2, padding: 1}")],
       gradient=[one("{type: local, filters: 2, kernel: 2, stride: 2, activation: elu}",
                     input=(6, 6, 4))])
def local(layer, xs, w):
    torch, F = functional()
    x = xs[0]
    (top, bottom), (left, right) = layer.window(Shape(tuple(x.shape[2:]), x.shape[1])).pads
    cols = F.unfold(F.pad(x, (left, right, top, bottom)), layer.kernel, stride=layer.stride)
    oh, ow = w["weight"].shape[:2]
    weight = t(w["weight"]).reshape(oh * ow, w["weight"].shape[2], -1)
    out = torch.einsum("ncl,lkc->nkl", cols, weight).reshape(x.shape[0], -1, oh, ow)
    return activation(layer)(out + t(w["bias"])[None] if layer.bias else out)


@cases("subsample", agree=[one("{type: subsample, kernel: 2, activation: sigmoid}")],
       gradient=[one("{type: subsample, kernel: 2, activation: sigmoid}", input=(6, 6, 4)),
                 one("{type: subsample, kernel: 2, padding: same, activation: tanh}",
                     input=(7, 7, 4), seed=3)])
def subsample(layer, xs, w):
    _, F = functional()
    k = layer.kernel
    s = F.avg_pool2d(xs[0], k, layer.stride or k) * (k[0] * k[1])
    return activation(layer)(s * t(w["weight"])[None, :, None, None]
                             + t(w["bias"])[None, :, None, None])


@cases("fc", agree=[one("{type: fc, units: 7, activation: relu}")],
       gradient=[one("{type: fc, units: 5, activation: silu}", input=(6, 6, 4))])
def fc(layer, xs, w):
    _, F = functional()
    return activation(layer)(F.linear(xs[0].flatten(1), t(w["weight"]),
                                      t(w["bias"]) if layer.bias else None))[:, :, None, None]


@cases("rbf", agree=[one("{type: rbf, units: 4}")],
       gradient=[one("{type: rbf, units: 3}", input=(6, 6, 4))])
def rbf(layer, xs, w):
    return ((xs[0].flatten(1)[:, None] - t(w["weight"])[None]) ** 2).sum(-1)[:, :, None, None]


@cases("scale", agree=[one("scale")], gradient=[one("scale", input=(6, 6, 4))])
def scale(layer, xs, w):
    return xs[0] * t(w["weight"])[None, :, None, None]


# --- normalisation -----------------------------------------------------------------------

@cases("batchnorm", agree=[one("{type: batchnorm, eps: 0.001}"),
                           one("{type: batchnorm, affine: false}"),
                           one("{type: batchnorm, scale: false}")],  # Keras's shift-only BN
       gradient=[one("batchnorm", input=(6, 6, 4)),
                 one("{type: batchnorm, affine: false}", input=(7, 7, 4), seed=3)])
def batchnorm(layer, xs, w):
    _, F = functional()
    weight = t(w["weight"]) if layer.affine and layer.scale else None
    bias = t(w["bias"]) if layer.affine else None
    return F.batch_norm(xs[0], t(w["running_mean"]), t(w["running_var"]), weight, bias, False,
                        0.0, layer.eps)


@cases("groupnorm", "instancenorm", "layernorm",
       agree={"groupnorm": [one("{type: groupnorm, groups: 2}"),
                            one("{type: groupnorm, groups: 2, affine: false}")],
              "instancenorm": [one("{type: instancenorm, affine: true}"),
                               one("{type: instancenorm, affine: false}")],
              "layernorm": [one("{type: layernorm, eps: 0.000001}"),
                            one("{type: layernorm, affine: false}")]},
       gradient={"groupnorm": [one("{type: groupnorm, groups: 2}", input=(6, 6, 4)),
                               one("{type: groupnorm, groups: 2, affine: false}",
                                   input=(7, 7, 4), seed=3)],
                 "instancenorm": [one("{type: instancenorm, affine: true}", input=(6, 6, 4))],
                 "layernorm": [one("{type: layernorm}", input=(6, 6, 4))]})
def norm(layer, xs, w):
    _, F = functional()
    x = xs[0]
    weight, bias = (t(w["weight"]), t(w["bias"])) if layer.affine else (None, None)
    if layer.type_name == "groupnorm":
        return F.group_norm(x, layer.groups, weight, bias, layer.eps)
    if layer.type_name == "instancenorm":
        return F.instance_norm(x, weight=weight, bias=bias, eps=layer.eps)
    moved = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), weight, bias, layer.eps)
    return moved.permute(0, 3, 1, 2)


@cases("lrn", agree=[one("{type: lrn, size: 5, alpha: 0.0001, beta: 0.75, k: 2}")],
       gradient=[one("{type: lrn, size: 3, alpha: 0.5, beta: 0.75, k: 1}", input=(3, 3, 5))])
def lrn(layer, xs, w):
    _, F = functional()
    return F.local_response_norm(xs[0], layer.size, layer.alpha, layer.beta, layer.k)


# --- pooling and resizing ----------------------------------------------------------------

@cases("pool", agree=[one("{type: pool, mode: avg, kernel: 3, stride: 2, padding: 1, "
                          "ceil_mode: true}")],
       gradient=[one("{type: pool, mode: avg, kernel: 3, stride: 2, padding: 1, "
                     "ceil_mode: true}", input=(6, 6, 4)),
                 *(one(layer, input=(7, 7, 4), seed=3) for layer in (
                     "{type: pool, mode: max, kernel: 2, stride: 1}",
                     "{type: pool, mode: min, kernel: [2, 3], stride: 2, padding: 1}",
                     "{type: pool, mode: l2, kernel: 2}",
                     "{type: pool, mode: max, output: [2, 3]}",
                     "{type: pool, mode: avg, output: [3, 2]}",
                     "{type: pool, mode: avg, global: true}"))])
def pool(layer, xs, w):
    torch, F = functional()
    x = xs[0]
    if layer.output is not None:
        adaptive = F.adaptive_max_pool2d if layer.mode == "max" else F.adaptive_avg_pool2d
        return adaptive(x, layer.output)
    kernel, stride, pads = layer.geometry(tuple(x.shape))
    padding = (pads[0], pads[2])
    if layer.mode == "max":
        return F.max_pool2d(x, kernel, stride, padding, ceil_mode=layer.ceil_mode)
    if layer.mode == "min":
        return -F.max_pool2d(-x, kernel, stride, padding, ceil_mode=layer.ceil_mode)
    if layer.mode == "avg":
        return F.avg_pool2d(x, kernel, stride, padding, ceil_mode=layer.ceil_mode)
    return torch.sqrt(F.avg_pool2d(x * x, kernel, stride, padding, ceil_mode=layer.ceil_mode,
                                   divisor_override=1))


@cases("upsample",
       agree=[one("{type: upsample, scale: [2, 3], mode: bilinear}"), MERGED,
              # DeepLab's pooling branch: a 3x2 map resized to a 13x11 map (ratios that are
              # not whole), as F.interpolate(size=...) does it
              *(one("{name: a, type: conv, filters: 4, kernel: 1}",
                    "{name: p, type: pool, output: [3, 2], mode: avg}",
                    f"{{type: upsample, mode: {mode}, inputs: [p, a]}}", input=(13, 11, 3))
                for mode in ("nearest", "bilinear"))],
       gradient=[one("{type: upsample, scale: 2, mode: bilinear}", input=(6, 6, 4))])
def upsample(layer, xs, w):
    _, F = functional()
    size = {"size": tuple(xs[1].shape[2:])} if len(xs) == 2 else {"scale_factor": layer.scale}
    return F.interpolate(xs[0], mode=layer.mode, **size,
                         **({"align_corners": False} if layer.mode == "bilinear" else {}))


@cases("zeropad", agree=[one("{type: zeropad, padding: [1, 2, 0, 3]}")],
       gradient=[one("{type: zeropad, padding: [1, 0, 2, 1]}", input=(6, 6, 4))])
def zeropad(layer, xs, w):
    _, F = functional()
    (top, bottom), (left, right) = layer.padding
    return F.pad(xs[0], (left, right, top, bottom))


@cases("crop", agree=[one("{type: crop, size: [3, 4]}")],
       gradient=[one("{type: crop, amount: [1, 0, 0, 2]}", input=(6, 6, 4))])
def crop(layer, xs, w):
    x = xs[0]
    (top, bottom), (left, right) = layer.cut([v.numpy() for v in xs])
    return x[:, :, top:x.shape[2] - bottom, left:x.shape[3] - right]


# --- shape and channel moves -------------------------------------------------------------

@cases("flatten", agree=[one("flatten")], gradient=[one("flatten", input=(6, 6, 4))])
def flatten(layer, xs, w):
    return xs[0].flatten(1)[:, :, None, None]


@cases("dropout", agree=[one("dropout")], gradient=[one("dropout", input=(6, 6, 4))])
def dropout(layer, xs, w):
    return xs[0]  # inference: the identity


@cases("channel_shuffle", agree=[one("{type: channel_shuffle, groups: 2}")],
       gradient=[one("{type: channel_shuffle, groups: 2}", input=(6, 6, 4))])
def channel_shuffle(layer, xs, w):
    torch, _ = functional()
    return torch.nn.ChannelShuffle(layer.groups)(xs[0])


@cases("pixel_shuffle", agree=[one("{type: pixel_shuffle, factor: 2}")],
       gradient=[one("{type: pixel_shuffle, factor: 2}", input=(6, 6, 4))])
def pixel_shuffle(layer, xs, w):
    _, F = functional()
    return F.pixel_shuffle(xs[0], layer.factor)


@cases("pixel_unshuffle", agree=[one("{type: pixel_unshuffle, factor: 2}")],
       gradient=[one("{type: pixel_unshuffle, factor: 2}", input=(6, 6, 4))])
def pixel_unshuffle(layer, xs, w):
    _, F = functional()
    return F.pixel_unshuffle(xs[0], layer.factor)


@cases("slice", agree=[one("{type: slice, channels: [1, 3]}")],
       gradient=[one("{type: slice, channels: [1, 3]}", input=(6, 6, 4))])
def channel_slice(layer, xs, w):
    return xs[0][:, layer.channels[0]:layer.channels[1]]


@cases("attention",
       agree=[one("{type: attention, heads: 2, key_dim: 3}")],
       gradient=[one("{type: attention, heads: 2, key_dim: 3, patch: [2, 3], position: relative}",
                     input=(6, 6, 4))])
def attention(layer, xs, w):
    """q, k, v stacked (timm's Attention), the matmuls written out."""
    _, F = functional()
    x = xs[0]
    c = x.shape[1]
    heads, key = layer.heads, layer.key_dim or c // layer.heads
    z = F.linear(x.flatten(2).transpose(1, 2), t(w["qkv_weight"]), t(w["qkv_bias"]))
    q, k, v = (part.unflatten(2, (heads, -1)).transpose(1, 2)
               for part in z.split([heads * key, heads * key, c], dim=-1))
    o = (((q @ k.transpose(-2, -1)) * key ** -0.5).softmax(-1) @ v).transpose(1, 2)
    o = F.linear(o.flatten(2), t(w["proj_weight"]), t(w["proj_bias"]))
    return o.transpose(1, 2).reshape(x.shape)


@cases("rescale",
       agree=[one("{type: rescale, scale: [0.5, 2, -1, 3], offset: 1}"),
              one("{type: rescale, statistics: true}"), one("{type: rescale, scale: 0.25}"),
              one("{type: rescale, offset: [1, 2, 3, 4]}")],
       gradient=[one("{type: rescale, scale: [0.5, 2, -1, 3], offset: 0.25}", input=(6, 6, 4))])
def rescale(layer, xs, w):
    """Keras's Rescaling (x * scale + offset) and Normalization ((x - mean) / max(std, 1e-7))."""
    torch, _ = functional()
    x = xs[0]
    if layer.statistics:
        std = torch.clamp(torch.sqrt(t(w["variance"])), min=1e-7)[None, :, None, None]
        return (x - t(w["mean"])[None, :, None, None]) / std

    def per_channel(v):
        return torch.tensor(v, dtype=x.dtype)[None, :, None, None] if isinstance(v, tuple) else v
    return x * per_channel(layer.scale) + per_channel(layer.offset)


# --- activations -------------------------------------------------------------------------

@cases("relu", "relu6", "sigmoid", "tanh", "gelu", "silu", "hardswish", "hardsigmoid",
       agree={name: [one(name)] for name in ("relu", "relu6", "sigmoid", "tanh", "gelu", "silu",
                                             "hardswish", "hardsigmoid")},
       gradient={name: [one(name, input=(6, 6, 4))] for name in (
           "relu", "relu6", "sigmoid", "tanh", "gelu", "silu", "hardswish", "hardsigmoid")})
def plain_activation(layer, xs, w):
    return torch_activation(layer.type_name)(xs[0])


@cases("softmax", agree=[one("softmax")], gradient=[one("softmax", input=(3, 3, 5))])
def softmax(layer, xs, w):
    return torch_activation("softmax")(xs[0])


@cases("elu", agree=[one("{type: elu, alpha: 0.5}")], gradient=[one("elu", input=(6, 6, 4))])
def elu(layer, xs, w):
    _, F = functional()
    return F.elu(xs[0], layer.alpha)


@cases("leaky_relu", agree=[one("{type: leaky_relu, negative_slope: 0.2}")],
       gradient=[one("{type: leaky_relu, negative_slope: 0.1}", input=(6, 6, 4))])
def leaky_relu(layer, xs, w):
    _, F = functional()
    return F.leaky_relu(xs[0], layer.negative_slope)


# --- merges ------------------------------------------------------------------------------

def merge(layer: str) -> Case:
    return one(*MERGE_INPUTS, layer, input=(4, 4, 3), seed=5)


@cases("add", agree=[MERGED, one(*MERGE_INPUTS, "{type: add, inputs: [a, b]}",
                                 input=(4, 4, 3))],
       gradient=[merge("{type: add, inputs: [a, b]}")])
def add(layer, xs, w):
    return sum(xs[1:], xs[0])


@cases("multiply", agree=[MERGED], gradient=[merge("{type: multiply, inputs: [a, g]}")])
def multiply(layer, xs, w):
    out = xs[0]
    for other in xs[1:]:
        out = out * other
    return out


@cases("concat", agree=[MERGED, one(*MERGE_INPUTS, "{type: concat, inputs: [a, b]}",
                                    input=(4, 4, 3))],
       gradient=[merge("{type: concat, inputs: [a, b]}")])
def concat(layer, xs, w):
    torch, _ = functional()
    return torch.cat(xs, dim=1)

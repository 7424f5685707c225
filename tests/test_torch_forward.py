"""The NumPy forward pass against PyTorch on the CPU, with the same weights: every layer type
over random settings, and whole networks from the zoo (LeNet-5, VGG16 at 32x32, ResNet-18)
giving the same logits. Skipped without torch."""

import random

import numpy as np
import pytest

from cnncalc.analysis.analyze import analyze
from cnncalc.compute import engine
from cnncalc.layers import REGISTRY
from cnncalc.layers.shape import Shape
from cnncalc.language.document import load, loads
from cnncalc.zoo import path_of

torch = pytest.importorskip("torch")
F = torch.nn.functional

ACT = {"relu": F.relu, "relu6": F.relu6, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
       "softmax": lambda t: F.softmax(t, dim=1), "gelu": F.gelu, "silu": F.silu,
       "hardswish": F.hardswish, "hardsigmoid": F.hardsigmoid, "elu": F.elu,
       "leaky_relu": F.leaky_relu}


def t(array):
    return torch.from_numpy(np.ascontiguousarray(array))


def torch_layer(layer, xs, w):
    """One layer with torch.nn.functional, independently of cnncalc's kernels."""
    kind = layer.type_name
    x = xs[0]
    layer = layer.at(x.dim() - 2)  # per-axis settings written out for this input
    act = ACT.get(getattr(layer, "activation", None) or "", lambda v: v)
    if kind == "conv":
        top, bottom, left, right = layer.pads(tuple(x.shape))
        weight = w["weight"]
        if layer.connections is not None:  # the table's kernels, in order, into zeros
            pairs = [(o, i) for o, row in enumerate(layer.connections) for i in row]
            full = np.zeros((layer.filters, x.shape[1], *layer.kernel), dtype=weight.dtype)
            for kernel, (o, i) in zip(weight, pairs):
                full[o, i] = kernel
            weight = full
        weight = t(weight)
        return act(F.conv2d(F.pad(x, (left, right, top, bottom)), weight,
                            t(w["bias"]) if layer.bias else None, layer.stride, 0,
                            layer.dilation, layer.groups))
    if kind == "deconv":
        return act(F.conv_transpose2d(x, t(w["weight"]), t(w["bias"]) if layer.bias else None,
                                      layer.stride, layer.padding, layer.output_padding,
                                      layer.groups, layer.dilation))
    if kind == "local":
        (top, bottom), (left, right) = layer.window(Shape(tuple(x.shape[2:]), x.shape[1])).pads
        cols = F.unfold(F.pad(x, (left, right, top, bottom)), layer.kernel, stride=layer.stride)
        oh, ow = w["weight"].shape[:2]
        weight = t(w["weight"]).reshape(oh * ow, w["weight"].shape[2], -1)
        out = torch.einsum("ncl,lkc->nkl", cols, weight).reshape(x.shape[0], -1, oh, ow)
        return act(out + t(w["bias"])[None] if layer.bias else out)
    if kind == "pool":
        if layer.output is not None:
            pool = F.adaptive_max_pool2d if layer.mode == "max" else F.adaptive_avg_pool2d
            return pool(x, layer.output)
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
    if kind == "subsample":
        k = layer.kernel
        s = F.avg_pool2d(x, k, layer.stride or k) * (k[0] * k[1])
        return act(s * t(w["weight"])[None, :, None, None] + t(w["bias"])[None, :, None, None])
    if kind == "fc":
        return act(F.linear(x.flatten(1), t(w["weight"]),
                            t(w["bias"]) if layer.bias else None))[:, :, None, None]
    if kind == "rbf":
        return ((x.flatten(1)[:, None] - t(w["weight"])[None]) ** 2).sum(-1)[:, :, None, None]
    if kind == "flatten":
        return x.flatten(1)[:, :, None, None]
    if kind == "batchnorm":
        weight, bias = (t(w["weight"]), t(w["bias"])) if layer.affine else (None, None)
        return F.batch_norm(x, t(w["running_mean"]), t(w["running_var"]), weight, bias, False,
                            0.0, layer.eps)
    if kind == "lrn":
        return F.local_response_norm(x, layer.size, layer.alpha, layer.beta, layer.k)
    if kind == "dropout":
        return x
    if kind == "leaky_relu":
        return F.leaky_relu(x, layer.negative_slope)
    if kind == "elu":
        return F.elu(x, layer.alpha)
    if kind in ACT:
        return ACT[kind](x)
    if kind == "add":
        return sum(xs[1:], xs[0])
    if kind == "multiply":
        out = xs[0]
        for other in xs[1:]:
            out = out * other
        return out
    if kind == "concat":
        return torch.cat(xs, dim=1)
    if kind == "upsample":
        size = {"size": tuple(xs[1].shape[2:])} if len(xs) == 2 else \
            {"scale_factor": layer.scale}
        return F.interpolate(x, mode=layer.mode, **size,
                             **({"align_corners": False} if layer.mode == "bilinear" else {}))
    if kind == "zeropad":
        (top, bottom), (left, right) = layer.padding
        return F.pad(x, (left, right, top, bottom))
    if kind == "channel_shuffle":
        return torch.nn.ChannelShuffle(layer.groups)(x)
    if kind == "pixel_shuffle":
        return F.pixel_shuffle(x, layer.factor)
    if kind == "pixel_unshuffle":
        return F.pixel_unshuffle(x, layer.factor)
    if kind == "slice":
        return x[:, layer.channels[0]:layer.channels[1]]
    if kind == "scale":
        return x * t(w["weight"])[None, :, None, None]
    if kind in ("groupnorm", "instancenorm", "layernorm"):
        weight, bias = (t(w["weight"]), t(w["bias"])) if layer.affine else (None, None)
        if kind == "groupnorm":
            return F.group_norm(x, layer.groups, weight, bias, layer.eps)
        if kind == "instancenorm":
            return F.instance_norm(x, weight=weight, bias=bias, eps=layer.eps)
        moved = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), weight, bias, layer.eps)
        return moved.permute(0, 3, 1, 2)
    if kind == "attention":  # q, k, v stacked (timm's Attention), explicit matmuls
        c = x.shape[1]
        heads, key = layer.heads, layer.key_dim or c // layer.heads
        z = F.linear(x.flatten(2).transpose(1, 2), t(w["qkv_weight"]), t(w["qkv_bias"]))
        q, k, v = (part.unflatten(2, (heads, -1)).transpose(1, 2)
                   for part in z.split([heads * key, heads * key, c], dim=-1))
        o = (((q @ k.transpose(-2, -1)) * key ** -0.5).softmax(-1) @ v).transpose(1, 2)
        o = F.linear(o.flatten(2), t(w["proj_weight"]), t(w["proj_bias"]))
        return o.transpose(1, 2).reshape(x.shape)
    if kind == "crop":
        (top, bottom), (left, right) = layer.cut([v.numpy() for v in xs])
        return x[:, :, top:x.shape[2] - bottom, left:x.shape[3] - right]
    raise AssertionError(kind)


def compare(network, batch=2, seed=0, rtol=1e-4):
    report = analyze(network)
    weights = engine.init_weights(network, report, seed)
    s = report.input_shape
    x = np.random.default_rng(seed).standard_normal((batch, s.c, *s.spatial)).astype(np.float32)
    ours = engine.run(network, report, x.copy(), weights).output
    acts = {-1: t(x)}
    with torch.no_grad():
        for i, node in enumerate(network.nodes):
            w = {k.split(".")[-1]: v for k, v in weights.items()
                 if k.rsplit(".", 1)[0] == node.name}
            acts[i] = torch_layer(node.layer, [acts[j] for j in node.inputs], w)
    theirs = acts[len(network.nodes) - 1].numpy()
    assert ours.shape == theirs.shape
    scale = max(1.0, float(np.abs(theirs).max()))
    assert np.abs(ours - theirs).max() <= rtol * scale, np.abs(ours - theirs).max()
    return ours


def pair(rng, low, high):
    a = rng.randint(low, high)
    return [a, a] if rng.random() < 0.6 else [a, rng.randint(low, high)]


def random_layer(kind, rng):
    if kind == "conv":
        g = rng.choice([1, 2])
        return (f"{{type: conv, filters: {2 * g}, kernel: {pair(rng, 1, 4)}, stride: "
                f"{pair(rng, 1, 2)}, padding: {pair(rng, 0, 2)}, dilation: {pair(rng, 1, 2)}, "
                f"groups: {g}, activation: {rng.choice(['relu', 'tanh', 'gelu'])}}}"), 4
    if kind == "pool":
        k = pair(rng, 2, 3)
        return (f"{{type: pool, mode: {rng.choice(['max', 'avg', 'min', 'l2'])}, kernel: {k}, "
                f"stride: {pair(rng, 1, 3)}, padding: {[k[0] // 2, k[1] // 2]}, "
                f"ceil_mode: {rng.choice(['true', 'false'])}}}"), 3
    if kind == "deconv":
        s = pair(rng, 1, 3)
        return (f"{{type: deconv, filters: 4, kernel: {pair(rng, 1, 4)}, stride: {s}, "
                f"padding: {pair(rng, 0, 1)}, output_padding: {[s[0] - 1, s[1] - 1]}, "
                "groups: 2}"), 4
    if kind == "adaptive":
        return f"{{type: pool, mode: {rng.choice(['max', 'avg'])}, output: {pair(rng, 1, 5)}}}", 3
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["conv", "pool", "deconv", "adaptive"])
@pytest.mark.parametrize("seed", range(12))
def test_random_settings_agree(kind, seed):
    rng = random.Random(seed * 31 + len(kind))
    layer, channels = random_layer(kind, rng)
    h, w = rng.randint(8, 14), rng.randint(8, 14)
    compare(loads(f"input: [{h}, {w}, {channels}]\nlayers:\n  - {layer}\n"), seed=seed)


FIXED = {
    "local": "{type: local, filters: 3, kernel: 3, stride: 2, padding: 1}",
    "subsample": "{type: subsample, kernel: 2, activation: sigmoid}",
    "fc": "{type: fc, units: 7, activation: relu}", "rbf": "{type: rbf, units: 4}",
    "flatten": "flatten", "batchnorm": "{type: batchnorm, eps: 0.001}",
    "lrn": "{type: lrn, size: 5, alpha: 0.0001, beta: 0.75, k: 2}", "dropout": "dropout",
    "upsample": "{type: upsample, scale: [2, 3], mode: bilinear}",
    "zeropad": "{type: zeropad, padding: [1, 2, 0, 3]}", "crop": "{type: crop, size: [3, 4]}",
    "relu": "relu", "relu6": "relu6", "sigmoid": "sigmoid", "tanh": "tanh",
    "softmax": "softmax", "gelu": "gelu", "silu": "silu", "hardswish": "hardswish",
    "elu": "{type: elu, alpha: 0.5}", "leaky_relu": "{type: leaky_relu, negative_slope: 0.2}",
    "hardsigmoid": "hardsigmoid", "channel_shuffle": "{type: channel_shuffle, groups: 2}",
    "pixel_shuffle": "{type: pixel_shuffle, factor: 2}",
    "pixel_unshuffle": "{type: pixel_unshuffle, factor: 2}", "scale": "scale",
    "groupnorm": "{type: groupnorm, groups: 2}", "instancenorm": "{type: instancenorm, affine: true}",
    "layernorm": "{type: layernorm, eps: 0.000001}", "slice": "{type: slice, channels: [1, 3]}",
    "attention": "{type: attention, heads: 2, key_dim: 3}",
}


@pytest.mark.parametrize("layer", ["{type: batchnorm, affine: false}",
                                   "{type: groupnorm, groups: 2, affine: false}",
                                   "{type: instancenorm, affine: false}",
                                   "{type: layernorm, affine: false}"])
def test_norms_without_affine_agree(layer):
    compare(loads(f"input: [6, 8, 4]\nlayers:\n  - {layer}\n"))


@pytest.mark.parametrize("name", sorted(FIXED))
def test_every_other_layer_type_agrees(name):
    compare(loads(f"input: [6, 8, 4]\nlayers:\n  - {FIXED[name]}\n"))


def test_merges_and_nearest_upsampling_agree():
    compare(loads("input: [6, 6, 4]\nlayers:\n  - {name: a, type: conv, filters: 4, kernel: 1}\n"
                  "  - {name: g, type: pool, mode: avg, global: true}\n"
                  "  - {name: m, type: multiply, inputs: [a, g]}\n"
                  "  - {name: s, type: add, inputs: [m, input]}\n"
                  "  - {type: concat, inputs: [s, a]}\n  - {type: upsample, scale: 2}\n"))


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_upsampling_to_another_layers_size_agrees(mode):
    """DeepLab's pooling branch: a 3x2 map resized to a 13x11 map (ratios that are not
    whole), as F.interpolate(size=...) does it."""
    compare(loads("input: [13, 11, 3]\nlayers:\n"
                  "  - {name: a, type: conv, filters: 4, kernel: 1}\n"
                  "  - {name: p, type: pool, output: [3, 2], mode: avg}\n"
                  f"  - {{type: upsample, mode: {mode}, inputs: [p, a]}}\n"))


def test_every_layer_type_is_compared():
    assert set(FIXED) | {"conv", "pool", "deconv", "add", "multiply", "concat"} == set(REGISTRY)


@pytest.mark.slow
@pytest.mark.parametrize("name, side", [("lenet5", 32), ("vgg16", 32), ("resnet18", 64)])
def test_zoo_networks_give_the_same_logits(name, side):
    network = load(path_of(name))
    network.input_shape = type(network.input_shape)((side, side), network.input_shape.c)
    logits = compare(network, rtol=2e-4)
    assert logits.shape[1] in (10, 1000)


def test_run_reproduces_a_pytorch_model_from_its_exported_weights(tmp_path):
    """A torch.nn model, its state_dict saved as .npz under the spec's layer names, and
    `cnncalc run --weights --input --output` gives the model's output."""
    from typer.testing import CliRunner

    from cnncalc.cli import app
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("conv1", nn.Conv2d(3, 8, 3, padding=1))
    model.add_module("bn1", nn.BatchNorm2d(8))
    model.add_module("relu1", nn.ReLU())
    model.add_module("pool1", nn.MaxPool2d(2))
    model.add_module("conv2", nn.Conv2d(8, 16, 3, stride=2, groups=2))
    model.add_module("relu2", nn.ReLU())
    model.add_module("flatten", nn.Flatten())
    model.add_module("fc", nn.Linear(16 * 3 * 3, 10))
    with torch.no_grad():  # non-trivial running statistics
        model.bn1.running_mean.uniform_(-1, 1)
        model.bn1.running_var.uniform_(0.5, 2)
    model.eval()
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [14, 14, 3]\nlayers:\n"
                    "  - {name: conv1, type: conv, filters: 8, kernel: 3, padding: 1}\n"
                    "  - {name: bn1, type: batchnorm}\n  - {name: relu1, type: relu}\n"
                    "  - {name: pool1, type: pool, kernel: 2}\n"
                    "  - {name: conv2, type: conv, filters: 16, kernel: 3, stride: 2, groups: 2}\n"
                    "  - {name: relu2, type: relu}\n  - {name: flatten, type: flatten}\n"
                    "  - {name: fc, type: fc, units: 10}\n")
    state = {k: v.numpy() for k, v in model.state_dict().items() if "num_batches" not in k}
    np.savez(tmp_path / "w.npz", **state)
    x = torch.randn(4, 3, 14, 14)
    np.save(tmp_path / "x.npy", x.numpy())
    result = CliRunner().invoke(app, ["run", str(spec), "--weights", str(tmp_path / "w.npz"),
                                      "--input-file", str(tmp_path / "x.npy"), "--output",
                                      str(tmp_path / "y.npy")])
    assert result.exit_code == 0, result.output
    with torch.no_grad():
        expected = model(x).numpy()
    ours = np.load(tmp_path / "y.npy").reshape(4, 10)
    assert np.allclose(ours, expected, rtol=1e-4, atol=1e-5)

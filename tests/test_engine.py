"""The NumPy engine: the notes' pooling examples, gradient checks of every layer type, the
zoo run against its predicted shapes, measured bytes against the memory model, weights."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cnncalc.analysis.analyze import analyze
from cnncalc.analysis.memory import build
from cnncalc.cli import app
from cnncalc.compute import engine
from cnncalc.layers import REGISTRY
from cnncalc.language.document import load, loads
from cnncalc.zoo import names, path_of

runner = CliRunner()

# shared/seeds/002: a 4x4 feature map, its 2x2 pooling, and the backward examples
FEATURE = np.array([[1, 8, 4, 3], [7, 2, 1, 9], [6, 1, 2, 4], [8, 7, 6, 0]], dtype=float)


def layer_of(text, shape="[4, 4, 1]"):
    net = loads(f"input: {shape}\nlayers:\n  - {text}\n")
    return net.nodes[0].layer


def test_max_pooling_forward_and_backward_from_the_notes():
    pool = layer_of("{type: pool, mode: max, kernel: 2}")
    x = FEATURE[None, None]
    y = pool.forward([x], {})
    assert y[0, 0].tolist() == [[8, 9], [8, 6]]
    delta = np.array([[7, 3], [1, 4]], dtype=float)[None, None]
    (dx,), _ = pool.backward([x], {}, y, delta)
    assert dx[0, 0].tolist() == [[0, 7, 0, 0], [0, 0, 0, 3], [0, 0, 0, 0], [1, 0, 4, 0]]


def test_average_pooling_forward_and_backward_from_the_notes():
    pool = layer_of("{type: pool, mode: avg, kernel: 2}")
    x = FEATURE[None, None]
    y = pool.forward([x], {})
    assert y[0, 0].tolist() == [[4.5, 4.25], [5.5, 3]]
    delta = np.array([[8, 4], [16, 4]], dtype=float)[None, None]
    (dx,), _ = pool.backward([x], {}, y, delta)
    assert dx[0, 0].tolist() == [[2, 2, 1, 1], [2, 2, 1, 1], [4, 4, 1, 1], [4, 4, 1, 1]]


# one small instance of every layer type: (spec layer, input shape, extra input shapes)
GRADIENT_CASES = {
    "conv": "{type: conv, filters: 4, kernel: [3, 2], stride: [2, 1], padding: [1, 0, 1, 1], "
            "dilation: [1, 2], activation: tanh}",
    "deconv": "{type: deconv, filters: 4, kernel: 3, stride: 2, padding: 1, output_padding: 1, "
              "groups: 2, activation: sigmoid}",
    "local": "{type: local, filters: 2, kernel: 2, stride: 2, activation: elu}",
    "fc": "{type: fc, units: 5, activation: silu}",
    "rbf": "{type: rbf, units: 3}",
    "subsample": "{type: subsample, kernel: 2, activation: sigmoid}",
    "pool": "{type: pool, mode: avg, kernel: 3, stride: 2, padding: 1, ceil_mode: true}",
    "batchnorm": "batchnorm",
    "lrn": "{type: lrn, size: 3, alpha: 0.5, beta: 0.75, k: 1}",
    "dropout": "dropout",
    "flatten": "flatten",
    "upsample": "{type: upsample, scale: 2, mode: bilinear}",
    "zeropad": "{type: zeropad, padding: [1, 0, 2, 1]}",
    "crop": "{type: crop, amount: [1, 0, 0, 2]}",
    "relu": "relu", "relu6": "relu6", "leaky_relu": "{type: leaky_relu, negative_slope: 0.1}",
    "elu": "elu", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax", "gelu": "gelu",
    "silu": "silu", "hardswish": "hardswish", "hardsigmoid": "hardsigmoid",
    "channel_shuffle": "{type: channel_shuffle, groups: 2}",
    "pixel_shuffle": "{type: pixel_shuffle, factor: 2}",
    "pixel_unshuffle": "{type: pixel_unshuffle, factor: 2}", "scale": "scale",
    "groupnorm": "{type: groupnorm, groups: 2}", "instancenorm": "{type: instancenorm, affine: true}",
    "layernorm": "{type: layernorm}", "slice": "{type: slice, channels: [1, 3]}",
    "attention": "{type: attention, heads: 2, key_dim: 3, patch: [2, 3], position: relative}",
}
POOL_MODES = ["{type: pool, mode: max, kernel: 2, stride: 1}",
              "{type: pool, mode: min, kernel: [2, 3], stride: 2, padding: 1}",
              "{type: pool, mode: l2, kernel: 2}", "{type: pool, mode: max, output: [2, 3]}",
              "{type: pool, mode: avg, output: [3, 2]}", "{type: pool, mode: avg, global: true}",
              "{type: conv, filters: 4, kernel: 3, groups: 2, padding: same, stride: 2}",
              "{type: conv, filters: 3, kernel: 2, connections: [[0], [1, 2], [0, 1, 2, 3]]}",
              "{type: subsample, kernel: 2, padding: same, activation: tanh}",
              "{type: batchnorm, affine: false}", "{type: groupnorm, groups: 2, affine: false}"]
MERGES = {"add": "{type: add, inputs: [a, b]}", "multiply": "{type: multiply, inputs: [a, g]}",
          "concat": "{type: concat, inputs: [a, b]}"}


def numerical_check(network, rng, weight_names=True):
    """Compare the analytic gradients of sum(y * r) with central differences (float64)."""
    report = analyze(network)
    weights = {k: v.astype(np.float64) + rng.standard_normal(v.shape) * 0.1
               for k, v in engine.init_weights(network, report, 1).items()}
    s = report.input_shape
    x = rng.standard_normal((2, s.c, *s.spatial))
    target = len(network.nodes) - 1
    first = run(network, report, x, weights)
    r = rng.standard_normal(first.shape)

    def loss(x_, w_):
        return float((run(network, report, x_, w_) * r).sum())

    # analytic: seed the backward pass with r instead of ones
    acts = {-1: x}
    per_layer = [{k.split(".")[-1]: v for k, v in weights.items()
                  if k.rsplit(".", 1)[0] == n.name} for n in network.nodes]
    for i, node in enumerate(network.nodes):
        acts[i] = node.layer.forward([acts[j] for j in node.inputs], per_layer[i])
    dacts, grads = {target: r}, {}
    for i in range(target, -1, -1):
        if i not in dacts:
            continue
        node = network.nodes[i]
        dxs, dw = node.layer.backward([acts[j] for j in node.inputs], per_layer[i], acts[i],
                                      dacts[i])
        grads.update({f"{node.name}.{k}": v for k, v in dw.items()})
        for j, dx in zip(node.inputs, dxs):
            dacts[j] = dacts.get(j, 0) + dx
    eps = 1e-6
    probes = [("input", x, dacts[-1])] + [(k, weights[k], grads[k]) for k in grads]
    for label, array, analytic in probes:
        flat = array.reshape(-1)
        for index in rng.choice(flat.size, size=min(12, flat.size), replace=False):
            old = flat[index]
            flat[index] = old + eps
            up = loss(x, weights)
            flat[index] = old - eps
            down = loss(x, weights)
            flat[index] = old
            numeric = (up - down) / (2 * eps)
            assert abs(numeric - analytic.reshape(-1)[index]) <= 1e-4 * max(1, abs(numeric)), \
                (label, index, numeric, analytic.reshape(-1)[index])


def run(network, report, x, weights):
    acts = {-1: x}
    for i, node in enumerate(network.nodes):
        w = {k.split(".")[-1]: v for k, v in weights.items() if k.rsplit(".", 1)[0] == node.name}
        acts[i] = node.layer.forward([acts[j] for j in node.inputs], w)
    return acts[len(network.nodes) - 1]


@pytest.mark.parametrize("name", sorted(GRADIENT_CASES))
def test_gradients_of_every_layer_type(name):
    shape = "[6, 6, 4]" if name not in ("lrn", "softmax") else "[3, 3, 5]"
    numerical_check(loads(f"input: {shape}\nlayers:\n  - {GRADIENT_CASES[name]}\n"),
                    np.random.default_rng(7))


@pytest.mark.parametrize("layer", POOL_MODES)
def test_gradients_of_pooling_modes_and_conv_variants(layer):
    numerical_check(loads(f"input: [7, 7, 4]\nlayers:\n  - {layer}\n"), np.random.default_rng(3))


@pytest.mark.parametrize("name", sorted(MERGES))
def test_gradients_of_merge_layers(name):
    text = ("input: [4, 4, 3]\nlayers:\n  - {name: a, type: conv, filters: 3, kernel: 1}\n"
            "  - {name: b, type: conv, filters: 3, kernel: 3, padding: 1, inputs: [input]}\n"
            "  - {name: g, type: pool, mode: avg, global: true, inputs: [b]}\n"
            f"  - {MERGES[name]}\n")
    numerical_check(loads(text), np.random.default_rng(5))


def test_every_layer_type_has_a_gradient_check():
    covered = set(GRADIENT_CASES) | set(MERGES)
    assert covered == set(REGISTRY)


@pytest.mark.slow
@pytest.mark.parametrize("name", names())
def test_zoo_runs_with_the_predicted_shapes(name):
    network = load(path_of(name))
    smaller = {"unet": (188, 188), "inception_v3": (139, 139), "unet3d": (92, 92, 92)}
    if name in smaller:  # smaller valid inputs keep the suite fast (unet3d: 4x4x4 out)
        network.input_shape = type(network.input_shape)(smaller[name], network.input_shape.c)
    report = analyze(network)
    x = np.random.default_rng(0).standard_normal(
        (1, report.input_shape.c, *report.input_shape.spatial)).astype("float32")
    result = engine.run(network, report, x, engine.init_weights(network, report, 0))
    assert [s.real for s in result.steps] == [s.predicted for s in result.steps]
    assert np.isfinite(result.output).all()


@pytest.mark.slow
@pytest.mark.parametrize("name, side", [("vgg16", 32), ("resnet18", 64), ("googlenet", 64),
                                        ("densenet121", 64), ("mobilenet_v2", 64),
                                        ("squeezenet1_1", 64)])
def test_measured_inference_peak_equals_the_memory_model(name, side):
    network = load(path_of(name))
    network.input_shape = type(network.input_shape)((side, side), 3)
    report = analyze(network)
    x = np.zeros((2, 3, side, side), dtype="float32")
    result = engine.run(network, report, x, engine.init_weights(network, report, 0))
    assert result.peak_bytes == build(network, report).peak_inference_bytes(2, 4)


def test_measured_training_bytes_equal_the_memory_model():
    text = ("input: [8, 8, 3]\nlayers:\n  - {type: conv, filters: 4, kernel: 3, padding: 1}\n"
            "  - batchnorm\n  - relu\n  - residual:\n      - {type: conv, filters: 4, kernel: 3, "
            "padding: 1}\n      - relu\n  - {type: fc, units: 5}\n")
    network = loads(text)
    report = analyze(network)
    x = np.zeros((3, 3, 8, 8), dtype="float32")
    result = engine.run(network, report, x, engine.init_weights(network, report, 0),
                        backward=True)
    assert result.training_bytes == build(network, report).training_bytes(3, 4, "sgd")


def test_run_cli_table_json_weights_roundtrip_and_errors(tmp_path):
    weights, out = tmp_path / "w.npz", tmp_path / "y.npy"
    first = runner.invoke(app, ["run", "lenet5", "--save-weights", str(weights), "--output",
                                str(out), "--seed", "3"])
    assert first.exit_code == 0, first.output
    assert "ok" in first.stdout and "MISMATCH" not in first.stdout
    again = runner.invoke(app, ["run", "lenet5", "--weights", str(weights), "--format", "json",
                                "--seed", "3", "--backward"])
    data = json.loads(again.stdout)
    assert data["output_shape"] == [1, 10, 1, 1] and data["training_bytes"] > data["peak_bytes"]
    assert np.allclose(np.load(out), np.load(out))
    arrays = dict(np.load(weights))
    arrays.pop("C1.bias")
    arrays["C3.weight"] = arrays["C3.weight"][:, :3]
    np.savez(tmp_path / "bad.npz", **arrays)
    bad = runner.invoke(app, ["run", "lenet5", "--weights", str(tmp_path / "bad.npz")])
    assert bad.exit_code == 1 and "missing array 'C1.bias' (expected shape [6])" in bad.stderr
    arrays["C1.bias"] = np.zeros(6)
    np.savez(tmp_path / "bad.npz", **arrays)
    bad = runner.invoke(app, ["run", "lenet5", "--weights", str(tmp_path / "bad.npz")])
    # a connection table stores only its kernels: LeNet-5's Table I connects C3's 16 maps to
    # 3 (six maps), 4 (nine maps) or all 6 (one map) of S2's maps
    links = 6 * 3 + 9 * 4 + 1 * 6
    assert bad.exit_code == 1 and f"'C3.weight' has shape [{links}, 3, 5], expected " \
        f"[{links}, 5, 5]" in bad.stderr
    arrays["C3.weight"] = np.zeros((links, 5, 5))
    arrays["extra.weight"] = np.zeros(1)
    np.savez(tmp_path / "bad.npz", **arrays)
    bad = runner.invoke(app, ["run", "lenet5", "--weights", str(tmp_path / "bad.npz")])
    assert bad.exit_code == 1 and "unexpected array 'extra.weight'" in bad.stderr
    np.save(tmp_path / "x.npy", np.zeros((1, 3, 32, 32)))
    bad = runner.invoke(app, ["run", "lenet5", "--input-file", str(tmp_path / "x.npy")])
    assert bad.exit_code == 1 and "expected [N, 1, 32, 32]" in bad.stderr


def test_run_and_validate_forward_refuse_astronomical_sizes_up_front(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("input: [1000000, 1000000, 3]\nlayers:\n"
                    "  - {type: conv, filters: 64, kernel: 3, padding: 1}\n")
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 1
    held = 4 * (10**12 * 3 + 10**12 * 64 + 64 * 27 + 64)  # input + output + parameters
    padded = 3 * (10**6 + 2) ** 2  # the zero-padded input the kernel builds
    columns = 3 * 9 * 10**12 + 64 * 10**12  # im2col's X_col and the matmul result it becomes
    need = held + 4 * (padded + columns)
    assert f"needs 585.7 TiB ({need:,} B: 243.7 TiB held + 342.0 TiB scratch in layer" \
        in result.stderr
    forward = runner.invoke(app, ["validate", "--forward", str(path)])
    assert forward.exit_code == 1 and "needs 585.7 TiB" in forward.stdout


def test_validate_forward_passes_for_small_specs():
    result = runner.invoke(app, ["validate", "--forward", "lenet5", "keras_mnist", "alexnet"])
    assert result.exit_code == 0, result.stdout


def test_validate_forward_names_the_first_mismatch(monkeypatch):
    """A kernel that disagreed with its shape rule would be caught, with both shapes."""
    from cnncalc.layers.activation import Relu
    monkeypatch.setattr(Relu, "forward", lambda self, xs, w: xs[0][:, :, 1:, :])
    text = "input: [8, 8, 3]\nlayers:\n  - {type: conv, filters: 4, kernel: 1}\n  - relu\n"
    result = runner.invoke(app, ["validate", "--forward", "-"], input=text)
    assert result.exit_code == 1
    assert result.stdout.startswith("<stdin>:4:5: error: layer 'relu1': the forward pass gives "
                                    "7x8x4, the prediction is 8x8x4")


def test_local_with_same_padding_runs_with_the_predicted_shape():
    """It was predicted 8x8x4 but the NumPy pass ignored 'same' and died (exit 70)."""
    network = loads("input: [8, 8, 2]\nlayers:\n  - {type: local, filters: 4, kernel: 3, "
                    "padding: same}\n")
    report = analyze(network)
    x = np.random.default_rng(0).standard_normal((1, 2, 8, 8)).astype("float32")
    result = engine.run(network, report, x, engine.init_weights(network, report, 0))
    assert result.steps[0].real == result.steps[0].predicted == (8, 8, 4)

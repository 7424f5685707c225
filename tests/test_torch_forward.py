"""The NumPy forward pass against PyTorch on the CPU, with the same weights: every layer type
over random settings, and whole networks from the zoo (LeNet-5, VGG16 at 32x32, ResNet-18)
giving the same logits. Skipped without torch."""

import random

import numpy as np
import pytest

from cnncalc.analysis.analyze import analyze
from cnncalc.compute import engine
from cnncalc.language.document import load, loads
from cnncalc.zoo import path_of
from tests.layer_cases import CASES, t

torch = pytest.importorskip("torch")


def torch_layer(layer, xs, w):
    """One layer with torch.nn.functional (tests/layer_cases.py), independently of cnncalc's
    kernels, its per-axis settings written out for this input."""
    layer = layer.at(xs[0].dim() - 2)
    return CASES[layer.type_name].torch(layer, xs, w)


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


AGREE = [(name, index, case) for name, cases in sorted(CASES.items())
         for index, case in enumerate(cases.agree)]


@pytest.mark.parametrize("name, index, case", AGREE, ids=[f"{n}-{i}" for n, i, _ in AGREE])
def test_every_layer_type_agrees(name, index, case):
    """Each registered type's networks of tests/layer_cases.py (merges, norms without their
    affine parameters, upsampling to another layer's size among them)."""
    compare(loads(case.spec()))


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

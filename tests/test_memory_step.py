"""The simulated training step (analysis/simulate.py) against PyTorch and against its rules.

With torch: small networks built twice, as a spec and as the nn.Module PyTorch runs, the
peak measured by benchmarks/memory_truth.py's `measure()` (the CPU allocator's live bytes
over one step after a warm-up step) and cnncalc's `--backend cpu` figure within 5%.
Without torch: the simulator's rules written as formulas on nets small enough to follow
by hand.
"""

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.analysis.analyze import analyze
from cnncalc.analysis.simulate import StepSettings, optimizer_transient, simulate
from cnncalc.cli import app
from cnncalc.layers import REGISTRY
from cnncalc.layers.shape import Shape
from cnncalc.language.document import load, loads
from cnncalc.zoo import path_of
from tests.layer_cases import CASES as LAYER_CASES

runner = CliRunner()
TOLERANCE = 0.05

LENET5 = """
name: LeNet-5 (as usually written in PyTorch)
input: [32, 32, 1]
layers:
  - {type: conv, filters: 6, kernel: 5, activation: tanh}
  - {type: pool, mode: avg, kernel: 2}
  - {type: conv, filters: 16, kernel: 5, activation: tanh}
  - {type: pool, mode: avg, kernel: 2}
  - {type: fc, units: 120, activation: tanh}
  - {type: fc, units: 84, activation: tanh}
  - {type: fc, units: 10}
"""

DENSE_BLOCK = """
name: a DenseNet block
input: [32, 32, 3]
blocks:
  dense_layer:
    layers:
      - branches:
          - []
          - - {name: norm1, type: batchnorm}
            - relu
            - {name: conv1, type: conv, filters: 64, kernel: 1, bias: false}
            - {name: norm2, type: batchnorm}
            - relu
            - {name: conv2, type: conv, filters: 16, kernel: 3, padding: 1, bias: false}
layers:
  - {name: conv0, type: conv, filters: 32, kernel: 3, padding: 1, bias: false}
  - {block: dense_layer, name: block, repeat: 4}
  - {name: norm5, type: batchnorm}
  - relu
  - {name: pool, type: pool, mode: avg, output: [1, 1]}
  - {name: fc, type: fc, units: 10}
"""


def network_of(zoo=None, text=None, size=None):
    network = load(path_of(zoo)) if zoo else loads(text)
    if size:
        network.input_shape = Shape((size, size), network.input_shape.c)
    return network


def predicted(network, batch, mode="training", optimizer="sgd", **options):
    settings = StepSettings(batch, options.pop("dtype", "float32"), mode, optimizer, **options)
    return simulate(network, analyze(network), settings)


# ------------------------------------------------------------------------------------------
# Against PyTorch (CPU, measured)
# ------------------------------------------------------------------------------------------

def truth():
    """benchmarks/memory_truth.py, imported (it needs torch)."""
    pytest.importorskip("torch")
    root = Path(__file__).resolve().parents[1] / "benchmarks"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import memory_truth
    return memory_truth


def torch_lenet5():
    from torch import nn
    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5),
                         nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 120),
                         nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))


def torch_resnet18():
    """torchvision's resnet18, written out (CI has torch without torchvision)."""
    import torch
    from torch import nn

    class Basic(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None if stride == 1 and cin == cout else nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            if self.downsample is not None:
                identity = self.downsample(x)
            out += identity
            return self.relu(out)

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(512, 1000)

        def forward(self, x):
            return self.fc(torch.flatten(x, 1))

    stages = [nn.Sequential(Basic(cin, cout, stride), Basic(cout, cout, 1))
              for cin, cout, stride in ((64, 64, 1), (64, 128, 2), (128, 256, 2),
                                        (256, 512, 2))]
    return nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                         nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1), *stages,
                         nn.AdaptiveAvgPool2d(1), Head())


def torch_mobilenet_v2():
    """torchvision's mobilenet_v2, written out."""
    import torch
    from torch import nn

    def cbr(cin, cout, k=1, stride=1, groups=1):
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups,
                                       bias=False), nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))

    class Inverted(nn.Module):
        def __init__(self, cin, cout, stride, t):
            super().__init__()
            hidden = cin * t
            layers = [cbr(cin, hidden)] if t != 1 else []
            layers += [cbr(hidden, hidden, 3, stride, hidden),
                       nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
            self.conv = nn.Sequential(*layers)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.conv(x) if self.residual else self.conv(x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            blocks, cin = [cbr(3, 32, 3, 2)], 32
            for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                               (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
                for i in range(n):
                    blocks.append(Inverted(cin, c, s if i == 0 else 1, t))
                    cin = c
            blocks.append(cbr(320, 1280))
            self.features = nn.Sequential(*blocks)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

        def forward(self, x):
            x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
            return self.classifier(torch.flatten(x, 1))

    return Net()


def torch_dense_block():
    import torch
    from torch import nn

    class DenseLayer(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.body = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True),
                                      nn.Conv2d(cin, 64, 1, bias=False), nn.BatchNorm2d(64),
                                      nn.ReLU(inplace=True),
                                      nn.Conv2d(64, 16, 3, padding=1, bias=False))

        def forward(self, x):
            return torch.cat([x, self.body(x)], 1)

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(96, 10)

        def forward(self, x):
            return self.fc(torch.flatten(x, 1))

    # the spec's top-level layers, one module each (checkpoint_sequential splits these)
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1, bias=False),
                         nn.Sequential(*(DenseLayer(32 + 16 * i) for i in range(4))),
                         nn.BatchNorm2d(96), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1),
                         Head())


def torch_densenet121():
    """torchvision's densenet121, written out: each dense layer reads torch.cat of the block's
    input and every earlier layer's output, the block ends with a cat of them all."""
    import torch
    from torch import nn

    class DenseLayer(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.norm1, self.relu1 = nn.BatchNorm2d(cin), nn.ReLU(inplace=True)
            self.conv1 = nn.Conv2d(cin, 128, 1, bias=False)
            self.norm2, self.relu2 = nn.BatchNorm2d(128), nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(128, 32, 3, padding=1, bias=False)

        def bn_function(self, features):  # torchvision's: the cat lives through conv1
            concated_features = torch.cat(features, 1)
            return self.conv1(self.relu1(self.norm1(concated_features)))

        def forward(self, features):
            return self.conv2(self.relu2(self.norm2(self.bn_function(features))))

    class DenseBlock(nn.ModuleList):
        def __init__(self, n, cin):
            super().__init__(DenseLayer(cin + 32 * i) for i in range(n))

        def forward(self, x):
            features = [x]
            for layer in self:
                features.append(layer(features))
            return torch.cat(features, 1)

    def transition(cin):
        return nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True),
                             nn.Conv2d(cin, cin // 2, 1, bias=False), nn.AvgPool2d(2, 2))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            parts, c = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                        nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)], 64
            for i, n in enumerate((6, 12, 24, 16)):
                parts.append(DenseBlock(n, c))
                c += 32 * n
                if i < 3:
                    parts.append(transition(c))
                    c //= 2
            parts += [nn.BatchNorm2d(c)]
            self.features = nn.Sequential(*parts)
            self.classifier = nn.Linear(c, 1000)

        def forward(self, x):
            x = nn.functional.relu(self.features(x), inplace=True)
            x = nn.functional.adaptive_avg_pool2d(x, 1)
            return self.classifier(torch.flatten(x, 1))

    return Net()


CASES = [  # (id, torch model, spec, input size, batch, mode, optimizer, amp): each optimizer,
    # training and inference, one autocast case, kept small for CI
    ("lenet5 sgd", torch_lenet5, dict(text=LENET5), 32, 8, "training", "sgd", False),
    ("lenet5 amp bf16", torch_lenet5, dict(text=LENET5), 32, 8, "training", "sgd", True),
    ("resnet18@64 adam", torch_resnet18, dict(zoo="resnet18"), 64, 2, "training", "adam",
     False),
    ("mobilenet_v2@64 sgd", torch_mobilenet_v2, dict(zoo="mobilenet_v2"), 64, 2, "training",
     "sgd", False),
    ("mobilenet_v2@64 inference", torch_mobilenet_v2, dict(zoo="mobilenet_v2"), 64, 2,
     "inference", None, False),
    ("dense block momentum", torch_dense_block, dict(text=DENSE_BLOCK), 32, 4, "training",
     "momentum", False),
    # torchvision's concatenations: each layer's cat is alive through its 1x1 conv while the
    # block's list of features lives on (a spec concatenating one at a time gives 0.94 here)
    ("densenet121@128 inference", torch_densenet121, dict(zoo="densenet121"), 128, 8,
     "inference", None, False),
    ("densenet121@64 sgd", torch_densenet121, dict(zoo="densenet121"), 64, 2, "training",
     "sgd", False),
]


@pytest.mark.parametrize("make, spec, size, batch, mode, optimizer, amp",
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_peak_within_5_percent_of_pytorch(make, spec, size, batch, mode, optimizer, amp):
    oracle = truth()
    import torch
    torch.manual_seed(0)
    channels = 1 if spec.get("text") == LENET5 else 3
    measured = oracle.measure(make(), torch.randn(batch, channels, size, size), mode,
                              optimizer, amp)
    network = network_of(size=size, **spec)
    ours = predicted(network, batch, mode, optimizer or "sgd", backend="cpu", amp=amp,
                     dtype="bfloat16" if amp else "float32")
    assert abs(ours.peak / measured["peak_bytes"] - 1) <= TOLERANCE, (ours, measured)
    if mode == "training":  # what rests between steps is exact bookkeeping
        assert ours.at_rest == pytest.approx(measured["at_rest_bytes"], rel=0.001)


def measure_custom(model, x, segments=None, micro=None):
    """One SGD step with checkpoint_sequential or gradient accumulation, traced as
    memory_truth.measure() does (warm-up step, zero_grad before the region)."""
    oracle = truth()
    import gc

    import torch
    import torch.nn.functional as F
    from torch.utils.checkpoint import checkpoint_sequential
    batch = x.shape[0]
    micro = micro or batch
    target = torch.randint(0, 10, (batch,))
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=0.01)

    def step():
        for i in range(batch // micro):
            part = x[i * micro:(i + 1) * micro]
            out = checkpoint_sequential(model, segments, part, use_reentrant=False) \
                if segments else model(part)
            F.cross_entropy(out, target[i * micro:(i + 1) * micro]).backward()
            del out
        opt.step()

    model.train()
    opt.zero_grad(set_to_none=True)
    step()
    opt.zero_grad(set_to_none=True)
    gc.collect()
    baseline = oracle.storage_bytes(params + list(model.buffers()) + [x, target])
    trace, _ = oracle.trace(step)
    return baseline + trace.peak


@pytest.mark.parametrize("segments, micro, batch", [(3, None, 4), (None, 2, 4)],
                         ids=["checkpoint 3 segments", "micro-batch 2 of 4"])
def test_checkpoint_and_micro_batch_within_5_percent(segments, micro, batch):
    truth()
    import torch
    torch.manual_seed(0)
    measured = measure_custom(torch_dense_block(), torch.randn(batch, 3, 32, 32), segments,
                              micro)
    ours = predicted(network_of(text=DENSE_BLOCK), batch, backend="cpu", checkpoint=segments,
                     micro_batch=micro)
    assert abs(ours.peak / measured - 1) <= TOLERANCE, (ours.peak, measured)


def test_cli_interface_the_measurement_uses():
    """`cnncalc memory SPEC --batch B --mode M --optimizer O --backend cpu --format json`
    gives training_bytes and peak_inference_bytes, the figures simulate() gives."""
    network = network_of("resnet18", size=64)
    for mode in ("training", "inference"):
        result = runner.invoke(app, ["memory", "resnet18", "--input", "64x64x3", "--batch", "2",
                                     "--mode", mode, "--optimizer", "adam", "--backend", "cpu",
                                     "--format", "json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        key = "training_bytes" if mode == "training" else "peak_inference_bytes"
        assert data[key] == predicted(network, 2, mode, "adam", backend="cpu").peak
        assert data["peak_bytes"] == data[key]
        assert sum(data["breakdown"].values()) == data["peak_bytes"]


# ------------------------------------------------------------------------------------------
# The rules, by hand (no torch)
# ------------------------------------------------------------------------------------------

CONV_RELU_FC = """
input: [8, 8, 3]
layers:
  - {type: conv, filters: 16, kernel: 3, padding: 1, activation: relu}
  - {type: fc, units: 10}
"""


@pytest.mark.parametrize("n", [1, 4, 32])
def test_conv_relu_fc_step_by_formula(n):
    """Framework level (no backend), float32, SGD. The conv's output x ReLU in place is one
    tensor c (N x 8 x 8 x 16), saved by ReLU (its result) and by fc (its input). The peak is
    ReLU's backward: c, the gradient arriving from fc and the one ReLU makes (2 x c), fc's
    parameter gradients, the weights, the batch and the logits."""
    b = 4
    conv_w, fc_w = 16 * 3 * 9 + 16, 10 * 1024 + 10
    c = n * 8 * 8 * 16 * b
    batch = n * 8 * 8 * 3 * b + n * 8  # the input and its int64 target
    logits = n * 10 * b
    step = predicted(network_of(text=CONV_RELU_FC), n)
    assert step.peak == (conv_w + fc_w) * b + batch + c + logits + 2 * c + fc_w * b
    assert step.phase == "backward" and "relu" in step.layer
    assert step.breakdown == {"weights": (conv_w + fc_w) * b, "gradients": fc_w * b,
                              "optimizer_state": 0, "saved_activations": batch + c + logits,
                              "activation_gradients": 2 * c, "transients": 0}
    assert step.at_rest == 2 * (conv_w + fc_w) * b + batch


def test_inference_holds_neighbours_and_cpu_adds_max_pool_indices():
    """Inference: conv (3 -> 16) then 2x2 max pooling. Framework level: the batch, the conv
    output and the pooled output. On the CPU the conv writes a temporary output first (C_in
    < 8: out_tmp, then out) and max pooling writes int64 indices even under no_grad."""
    text = ("input: [8, 8, 3]\nlayers:\n  - {type: conv, filters: 16, kernel: 3, padding: 1}\n"
            "  - {type: pool, kernel: 2}\n")
    n, b = 2, 4
    weights = (16 * 27 + 16) * b
    x, c, p = n * 192 * b, n * 1024 * b, n * 256 * b
    network = network_of(text=text)
    assert predicted(network, n, "inference").peak == weights + x + c + p
    assert predicted(network, n, "inference", backend="cpu").peak == weights + x + max(
        2 * c, c + p + n * 256 * 8)


def test_adam_step_transient_is_two_of_a_parameter_and_the_previous():
    """PyTorch's for-loop Adam (the CPU default): sqrt and division make two temporaries of
    the parameter, while the previous parameter's denom is still bound."""
    assert optimizer_transient("adam", [400, 40, 4000, 10], "cpu") == 2 * 4000 + 40
    assert optimizer_transient("adam", [400, 40, 4000, 10], "cuda") == 4450  # foreach
    assert optimizer_transient("momentum", [400, 40], "cpu") == 0


def test_amp_keeps_master_weights_and_adam_moments_in_float32():
    """--amp --dtype float16: float32 weights, gradients and Adam moments (+ a float32 step
    tensor per parameter); plain --dtype float16 halves all of them (model.half())."""
    network = network_of("resnet18", size=64)
    params, tensors = 11_689_512, 62  # torchvision's resnet18: num_params, parameters()
    buffers = 2 * (64 + 4 * 64 + 5 * 128 + 5 * 256 + 5 * 512)  # BN running mean, variance
    amp = predicted(network, 2, optimizer="adam", dtype="float16", amp=True)
    half = predicted(network, 2, optimizer="adam", dtype="float16")
    assert amp.resting["optimizer_state"] == 2 * params * 4 + 4 * tensors
    assert half.resting["optimizer_state"] == 2 * params * 2 + 4 * tensors
    assert amp.resting["weights"] == (params + buffers) * 4
    assert half.resting["weights"] == (params + buffers) * 2
    assert amp.resting["gradients"] == params * 4


def test_checkpointing_lowers_the_peak_and_micro_batches_hold_one_micro_batch():
    network = network_of("resnet18")
    plain = predicted(network, 8).peak
    assert predicted(network, 8, checkpoint=4).peak < plain
    assert predicted(network, 8, micro_batch=2).peak < plain
    assert predicted(network, 8, micro_batch=8).peak == plain


def test_timeline_json_and_chart():
    result = runner.invoke(app, ["memory", "lenet5", "--mode", "training", "--timeline",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    points = data["timeline"]
    assert set(points[0]) == {"phase", "layer", "live_bytes", "breakdown"}
    assert all(sum(p["breakdown"].values()) == p["live_bytes"] for p in points)
    assert max(p["live_bytes"] for p in points) == data["training_bytes"]
    phases = [p["phase"] for p in points]
    assert phases[0] == "forward" and phases[-1] == "optimizer" and "backward" in phases
    table = runner.invoke(app, ["memory", "lenet5", "--mode", "training", "--timeline"],
                          env={"COLUMNS": "120"})
    assert table.exit_code == 0 and "Live bytes through the step" in table.stdout


def test_cuda_figures_say_they_are_unmeasured():
    data = json.loads(runner.invoke(app, ["memory", "lenet5", "--backend", "cuda",
                                          "--format", "json"]).stdout)
    assert "not a GPU" in data["unmeasured"]
    assert data["breakdown"]["weights"] % 512 == 0  # the caching allocator's blocks
    assert "unmeasured" not in json.loads(runner.invoke(app, ["memory", "lenet5", "--backend",
                                                             "cpu", "--format", "json"]).stdout)


@pytest.mark.parametrize("args, option", [
    (["--amp"], "--amp"), (["--amp", "--dtype", "float64"], "--amp"),
    (["--checkpoint", "0"], "--checkpoint"), (["--micro-batch", "16", "--batch", "8"],
                                             "--micro-batch"),
    (["--micro-batch", "3", "--batch", "8"], "--micro-batch"),
    (["--backend", "tpu"], "--backend")])
def test_bad_step_options_are_one_line_exit_2(args, option):
    result = runner.invoke(app, ["memory", "resnet18", "--mode", "training", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith(option) and result.stderr.count("\n") == 1


@pytest.mark.parametrize("name", sorted(n for n, cls in REGISTRY.items() if cls.arity[0] == 1))
def test_every_layer_type_takes_part_in_a_step(name):
    """Each one-input layer type, after a conv, through training (autocast too) and
    inference on every backend: a peak whose breakdown adds up and that the timeline
    reaches, and a float32 gradient for every trainable parameter. The layer is its first
    gradient-checked network of tests/layer_cases.py, a shape-keeping conv put before it."""
    case = LAYER_CASES[name].gradient[0]
    conv = f"{{type: conv, filters: {case.input[-1]}, kernel: 3, padding: 1}}"
    network = network_of(text=case.spec(before=(conv,)))
    for mode in ("training", "inference"):
        for backend in (None, "cpu", "cuda"):
            for amp in (False, True):
                step = predicted(network, 2, mode, backend=backend, amp=amp,
                                 dtype="bfloat16" if amp else "float32")
                assert step.peak > 0 and sum(step.breakdown.values()) == step.peak
                assert step.peak == max(m.live_bytes for m in step.timeline)
                if mode == "training":  # float32 gradients of every trainable parameter
                    trainable = analyze(network).totals.trainable_params
                    assert step.resting["gradients"] == trainable * 4

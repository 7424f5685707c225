"""ONNX import of models exported by PyTorch inside the test (the legacy TorchScript exporter
and, where onnxscript is installed, the dynamo exporter). Parameters equal the file's weight
initializers and the exported module's own count (batch norm folded into the convs); MACs
equal FlopCounterMode's FLOPs / 2; the output shape equals torch's and ONNX's inference."""

from __future__ import annotations

import contextlib
import io
import warnings

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from cnncalc.analysis.analyze import analyze  # noqa: E402
from cnncalc.interop.onnx_import import load_onnx  # noqa: E402
from tests.conftest import torchvision_or_skip  # noqa: E402

SETTING_OPS = {"Clip", "Resize", "Upsample", "Pad", "Dropout", "Reshape", "Slice", "Split",
               "Squeeze", "Unsqueeze", "ReduceMean", "Expand", "Range", "ConstantOfShape"}
FLOATS = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16}


def weight_initializers(model) -> int:
    """Values of the float initializers that some op reads as weights (those read only as
    the settings of Clip, Resize, Pad... are not parameters)."""
    readers: dict[str, set] = {}
    for node in model.graph.node:
        for tensor in node.input:
            readers.setdefault(tensor, set()).add(node.op_type)
    total = 0
    for tensor in model.graph.initializer:
        if tensor.data_type in FLOATS and not readers.get(tensor.name, set()) <= SETTING_OPS:
            total += int(torch.tensor(list(tensor.dims)).prod())
    return total


def folded_count(module) -> int:
    """Parameters once each batch norm is folded into the bias-free conv before it: every
    parameter except the norms', plus one bias per folded channel."""
    count = 0
    for child in module.modules():
        if isinstance(child, nn.BatchNorm2d):
            count += child.num_features  # the conv's new bias
        else:  # its own parameters (ConvNeXt's layer scale sits on the block itself)
            count += sum(p.numel() for p in child.parameters(recurse=False))
    return count


def randomise_norms(module) -> None:
    """Non-trivial statistics and biases, so no bias is zero (which the dynamo exporter drops)
    or equal to another (which the legacy exporter merges into one tensor)."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tensor in module.parameters():
            if tensor.numel() > 1 and bool((tensor == tensor.flatten()[0]).all()):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) - 0.5)
    for child in module.modules():
        if isinstance(child, nn.BatchNorm2d):
            with torch.no_grad():
                for tensor, low, high in ((child.running_mean, -1, 1), (child.running_var, 0.5, 2),
                                          (child.weight, 0.5, 1.5), (child.bias, -1, 1)):
                    tensor.copy_(torch.rand(tensor.shape, generator=generator) * (high - low) + low)


def export(module, x, path, dynamo: bool, dynamic_batch: bool = True) -> None:
    if dynamo:
        pytest.importorskip("onnxscript")
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), str(path), dynamo=dynamo, input_names=["x"],
                          **({"dynamic_axes": {"x": {0: "batch"}}} if dynamic_batch and not dynamo
                             else {}))


def check_model(module, x, tmp_path, dynamo: bool, folded: bool = True):
    from torch.utils.flop_counter import FlopCounterMode
    module.eval()
    randomise_norms(module)
    path = tmp_path / "model.onnx"
    export(module, x, path, dynamo)
    network, _, _ = load_onnx(str(path))
    report = analyze(network)
    model = onnx.load(str(path))
    assert report.totals.params == weight_initializers(model)
    if folded:
        assert report.totals.params == folded_count(module)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = module(x)
    assert report.totals.macs == counter.get_total_flops() // 2
    expected = list(y.shape[1:]) if y.dim() > 2 else [1, 1, y.shape[1]]
    if y.dim() > 2:
        expected = [*expected[1:], expected[0]]
    assert report.output_shape.as_list() == expected
    return report


class SqueezeExcite(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(channels, channels // 4), nn.Linear(channels // 4, channels)

    def forward(self, x):
        gate = F.adaptive_avg_pool2d(x, 1).flatten(1)
        gate = torch.sigmoid(self.fc2(F.relu(self.fc1(gate))))
        return x * gate[:, :, None, None]


class Block(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.se = SqueezeExcite(channels)

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(x + self.se(y))


class SmallNet(nn.Module):
    """A residual block with squeeze-excitation, two branches concatenated, a channel
    shuffle, pooling, upsampling and a linear head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU6())
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.block = Block(16)
        self.narrow = nn.Conv2d(16, 8, 1)
        self.wide = nn.Conv2d(16, 8, 3, padding=2, dilation=2)
        self.act = nn.Hardswish()
        self.down = nn.AvgPool2d(2)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.block(self.pool(self.stem(x)))
        x = self.act(torch.cat([self.narrow(x), self.wide(x)], 1))
        n, c, h, w = x.shape
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)  # channel shuffle
        x = self.up(self.down(x))
        return self.fc(self.drop(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)))


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
def test_small_network_exported_by_torch(tmp_path, dynamo):
    torch.manual_seed(0)
    check_model(SmallNet(), torch.randn(1, 3, 32, 32), tmp_path, dynamo)


class Decoder(nn.Module):
    """Group norm, instance norm and the ops of decoders, as PyTorch's exporters write them
    (group norm becomes Reshape, InstanceNormalization, Reshape, Mul, Add)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.SiLU(),
            nn.ConvTranspose2d(8, 8, 3, stride=2, padding=1, output_padding=1),
            nn.InstanceNorm2d(8, affine=True), nn.GELU(), nn.ZeroPad2d((1, 2, 3, 4)),
            nn.Conv2d(8, 8, 3), nn.Upsample(scale_factor=2, mode="bilinear"), nn.ELU(),
            nn.PixelShuffle(2), nn.LeakyReLU(0.1), nn.Softmax(1))

    def forward(self, x):
        return self.body(x)


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
def test_decoder_ops_exported_by_torch(tmp_path, dynamo):
    torch.manual_seed(0)
    module = Decoder().eval()
    path = tmp_path / "model.onnx"
    export(module, torch.randn(1, 3, 8, 8), path, dynamo)
    check_unfolded(module, torch.randn(1, 3, 8, 8), path, "groupnorm")


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
def test_pixel_unshuffle_exported_by_torch(tmp_path, dynamo):
    """Reshape, Transpose(0, 1, 3, 5, 2, 4), Reshape. With a dynamic batch, or after some
    ops, the legacy exporter writes Shape-driven Unsqueeze chains instead: refused."""
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(2, 3, 1), nn.PixelUnshuffle(2)).eval()
    path = tmp_path / "model.onnx"
    export(module, torch.randn(1, 2, 8, 6), path, dynamo, dynamic_batch=False)
    check_unfolded(module, torch.randn(1, 2, 8, 6), path, "pixel_unshuffle")


def check_unfolded(module, x, path, kind):
    """A model without batch norm: its parameters, MACs and output shape, and `kind` among
    the imported layers."""
    from torch.utils.flop_counter import FlopCounterMode
    network, spec, _ = load_onnx(str(path))
    report = analyze(network)
    assert kind in [layer["type"] for layer in spec["layers"]]
    assert report.totals.params == sum(p.numel() for p in module.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = module(x)
    assert report.totals.macs == counter.get_total_flops() // 2
    assert report.output_shape.as_list() == [*y.shape[2:], y.shape[1]]


@pytest.mark.parametrize("rank", [1, 3])
def test_one_and_three_dimensional_exports(tmp_path, rank):
    """Conv1d/Conv3d networks exported to ONNX and read back."""
    conv, norm, pool = {1: (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d),
                        3: (nn.Conv3d, nn.BatchNorm3d, nn.MaxPool3d)}[rank]
    torch.manual_seed(0)
    module = nn.Sequential(conv(2, 8, 3, padding=1, bias=False), norm(8), nn.ReLU(), pool(2),
                           conv(8, 8, 3, stride=2, padding=(1,) * rank), nn.Flatten(),
                           nn.Linear(8 * 2 ** rank, 5)).eval()
    x = torch.randn(1, 2, *[8] * rank)
    path = tmp_path / "model.onnx"
    export(module, x, path, dynamo=False)
    report = analyze(load_onnx(str(path))[0])
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    assert report.totals.macs == counter.get_total_flops() // 2
    bn = 8  # the folded norm becomes the first conv's bias
    assert report.totals.params == 2 * 8 * 3 ** rank + bn + 8 * 8 * 3 ** rank + 8 + \
        8 * 2 ** rank * 5 + 5
    assert report.totals.params == weight_initializers(onnx.load(str(path)))


def test_dynamic_batch_and_input_override(tmp_path):
    """A dynamic batch is fine; --input gives another size to a model that allows it."""
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                           nn.Flatten(), nn.Linear(8, 2)).eval()
    path = tmp_path / "model.onnx"
    export(module, torch.randn(1, 3, 16, 16), path, dynamo=False)
    from cnncalc.layers.shape import Shape
    small = analyze(load_onnx(str(path))[0])
    large = analyze(load_onnx(str(path), override=Shape((32, 32), 3))[0])
    assert small.totals.macs == 16 * 16 * 8 * 3 * 9 + 8 * 2
    assert large.totals.macs == 32 * 32 * 8 * 3 * 9 + 8 * 2
    assert small.totals.params == large.totals.params == 8 * 3 * 9 + 8 + 8 * 2 + 2


TORCHVISION = ["resnet18", "mobilenet_v3_small", "shufflenet_v2_x0_5", "squeezenet1_1",
               "efficientnet_b0", "convnext_tiny", "googlenet"]


def torchvision_model(name):
    _, torchvision = torchvision_or_skip()
    torch.manual_seed(0)
    kwargs = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    return torchvision.models.get_model(name, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_legacy_export(tmp_path, name):
    module = torchvision_model(name)
    check_model(module, torch.randn(1, 3, 224, 224), tmp_path, dynamo=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small", "shufflenet_v2_x0_5"])
def test_torchvision_dynamo_export(tmp_path, name):
    module = torchvision_model(name)
    check_model(module, torch.randn(1, 3, 224, 224), tmp_path, dynamo=True)

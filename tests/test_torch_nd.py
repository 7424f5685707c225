"""1-D and 3-D layers against torch.nn on the CPU: for random settings, the output shape (or
both refusing), the output values of cnncalc's NumPy forward pass with torch's own weights,
the parameter count (sum of numel) and the MACs (FlopCounterMode's FLOPs / 2). Skipped
without torch."""

import random

import numpy as np
import pytest

from cnncalc.analysis.analyze import analyze
from cnncalc.compute import engine
from cnncalc.errors import CnnCalcError
from cnncalc.language import loads

torch = pytest.importorskip("torch")
nn = torch.nn
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

CASES = 25  # per family and rank
RANKS = [1, 3]
CONV = {1: nn.Conv1d, 3: nn.Conv3d}
DECONV = {1: nn.ConvTranspose1d, 3: nn.ConvTranspose3d}
MAXPOOL = {1: nn.MaxPool1d, 3: nn.MaxPool3d}
AVGPOOL = {1: nn.AvgPool1d, 3: nn.AvgPool3d}
ADAPTIVE = {("avg", 1): nn.AdaptiveAvgPool1d, ("avg", 3): nn.AdaptiveAvgPool3d,
            ("max", 1): nn.AdaptiveMaxPool1d, ("max", 3): nn.AdaptiveMaxPool3d}
BATCHNORM = {1: nn.BatchNorm1d, 3: nn.BatchNorm3d}
PAD = {1: nn.ConstantPad1d, 3: nn.ConstantPad3d}
LINEAR = {1: "linear", 3: "trilinear"}


def per_axis(rng, rank, low, high):
    """One value per axis: the same on every axis (written as an int) or each its own."""
    if rng.random() < 0.4:
        return (rng.randint(low, high),) * rank
    return tuple(rng.randint(low, high) for _ in range(rank))


def written(values):
    """An int when every axis agrees (sometimes), else the list: both forms are exercised."""
    return values[0] if len(set(values)) == 1 and values[0] % 2 else list(values)


def sides(rng, rank):
    return [rng.randint(1, 40)] if rank == 1 else [rng.randint(1, 9) for _ in range(3)]


def compare(layer_yaml, module, spatial, c, rng, weights=True):
    """cnncalc's report and forward pass against torch's module on the same input."""
    x = torch.from_numpy(rng.standard_normal((2, c, *spatial)).astype(np.float32))
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            expected = module(x)
        if expected.numel() == 0:
            raise RuntimeError("empty output")  # cnncalc calls an empty output an error
    except (RuntimeError, ValueError):
        expected = None
    text = f"input: {[*spatial, c]}\nlayers:\n  - {{name: probe, {layer_yaml}}}\n"
    try:
        net = loads(text)
        report = analyze(net)
    except CnnCalcError:
        assert expected is None, (text, tuple(expected.shape))
        return None
    assert expected is not None, (text, report.rows[0].output_shape)
    row = report.rows[0]
    assert row.output_shape.as_list() == [*expected.shape[2:], expected.shape[1]], text
    assert row.totals.params == sum(p.numel() for p in module.parameters()) + \
        sum(b.numel() for name, b in module.named_buffers() if name != "num_batches_tracked"), \
        text
    assert 2 * row.totals.macs * x.shape[0] == counter.get_total_flops(), text  # per sample
    state = {f"probe.{k}": v.numpy() for k, v in module.state_dict().items()
             if k != "num_batches_tracked"} if weights else {}
    ours = engine.run(net, report, x.numpy(), state).output
    np.testing.assert_allclose(ours, expected.numpy(), rtol=1e-4, atol=1e-4, err_msg=text)
    return row


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", range(CASES))
def test_conv(rank, seed):
    rng = random.Random(seed * 10 + rank)
    groups = rng.choice([1, 1, 2, 3])
    cin, cout = groups * rng.randint(1, 3), groups * rng.randint(1, 3)
    k, s = per_axis(rng, rank, 1, 4), per_axis(rng, rank, 1, 3)
    p, d = per_axis(rng, rank, 0, 2), per_axis(rng, rank, 1, 2)
    bias = rng.random() < 0.7
    module = CONV[rank](cin, cout, k, s, p, d, groups, bias)
    layer = (f"type: conv, filters: {cout}, kernel: {written(k)}, stride: {written(s)}, "
             f"padding: {written(p)}, dilation: {written(d)}, groups: {groups}, "
             f"bias: {str(bias).lower()}")
    compare(layer, module, sides(rng, rank), cin, np.random.default_rng(seed))


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", range(CASES))
def test_conv_same_padding(rank, seed):
    """'same' at stride 1 is PyTorch's padding='same' (the odd cell after)."""
    rng = random.Random(500 + seed * 10 + rank)
    k, d = per_axis(rng, rank, 1, 4), per_axis(rng, rank, 1, 2)
    module = CONV[rank](2, 3, k, 1, "same", d)
    compare(f"type: conv, filters: 3, kernel: {written(k)}, padding: same, "
            f"dilation: {written(d)}", module, sides(rng, rank), 2, np.random.default_rng(seed))


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", range(CASES))
def test_transposed_conv(rank, seed):
    rng = random.Random(1000 + seed * 10 + rank)
    groups = rng.choice([1, 1, 2])
    cin, cout = groups * rng.randint(1, 3), groups * rng.randint(1, 3)
    k, s = per_axis(rng, rank, 1, 4), per_axis(rng, rank, 1, 3)
    p, d = per_axis(rng, rank, 0, 2), per_axis(rng, rank, 1, 2)
    op = tuple(rng.randint(0, max(a, b) - 1) for a, b in zip(s, d))
    module = DECONV[rank](cin, cout, k, s, p, op, groups, True, d)
    layer = (f"type: deconv, filters: {cout}, kernel: {written(k)}, stride: {written(s)}, "
             f"padding: {written(p)}, output_padding: {list(op)}, dilation: {written(d)}, "
             f"groups: {groups}")
    compare(layer, module, sides(rng, rank), cin, np.random.default_rng(seed))


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", range(CASES))
def test_pool(rank, seed):
    rng = random.Random(2000 + seed * 10 + rank)
    k, s = per_axis(rng, rank, 1, 4), per_axis(rng, rank, 1, 3)
    p = tuple(rng.randint(0, a // 2) for a in k)  # PyTorch: at most half the kernel
    ceil = rng.random() < 0.5
    mode = rng.choice(["max", "avg"])
    module = (MAXPOOL if mode == "max" else AVGPOOL)[rank](k, s, p, ceil_mode=ceil)
    layer = (f"type: pool, mode: {mode}, kernel: {written(k)}, stride: {written(s)}, "
             f"padding: {written(p)}, ceil_mode: {str(ceil).lower()}")
    spatial = sides(rng, rank)
    if rank == 3 and mode == "avg":  # torch's avg_pool3d also wants the kernel to fit the
        spatial = [max(n, a) for n, a in zip(spatial, k)]  # unpadded input; 1-D and 2-D do not
    compare(layer, module, spatial, rng.randint(1, 3), np.random.default_rng(seed))


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", range(CASES))
def test_adaptive_pool(rank, seed):
    rng = random.Random(3000 + seed * 10 + rank)
    mode = rng.choice(["avg", "max"])
    spatial = sides(rng, rank)
    out = per_axis(rng, rank, 1, 5)
    module = ADAPTIVE[mode, rank](out)
    compare(f"type: pool, mode: {mode}, output: {written(out)}", module, spatial, 2,
            np.random.default_rng(seed))


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", range(5))
def test_batchnorm_with_running_statistics(rank, seed):
    rng = np.random.default_rng(seed)
    c = 4
    module = BATCHNORM[rank](c, eps=1e-3).eval()
    with torch.no_grad():
        for name in ("weight", "bias", "running_mean"):
            getattr(module, name).copy_(torch.from_numpy(rng.standard_normal(c).astype("f4")))
        module.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2, c).astype("f4")))
    compare("type: batchnorm, eps: 0.001", module, [7] if rank == 1 else [3, 4, 5], c, rng)


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", range(10))
def test_upsample(rank, seed):
    rng = random.Random(4000 + seed * 10 + rank)
    scale = per_axis(rng, rank, 1, 3)
    mode = rng.choice(["nearest", "bilinear"])
    module = nn.Upsample(scale_factor=tuple(float(v) for v in scale),
                         mode="nearest" if mode == "nearest" else LINEAR[rank],
                         **({} if mode == "nearest" else {"align_corners": False}))
    compare(f"type: upsample, scale: {written(scale)}, mode: {mode}", module,
            sides(rng, rank), 2, np.random.default_rng(seed))


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", range(10))
def test_constant_pad(rank, seed):
    rng = random.Random(5000 + seed * 10 + rank)
    pairs = [(rng.randint(0, 3), rng.randint(0, 3)) for _ in range(rank)]
    torch_order = tuple(p for pair in reversed(pairs) for p in pair)  # the last axis first
    module = PAD[rank](torch_order, 0.0)
    compare(f"type: zeropad, padding: {[list(p) for p in pairs]}", module, sides(rng, rank), 2,
            np.random.default_rng(seed))


def test_flatten_then_fc_in_3d_equals_torch():
    """Flatten order C, D, H, W as torch.flatten, then Linear."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 3 * 4 * 5, 6))
    x = torch.randn(2, 2, 3, 4, 5)
    net = loads("input: [3, 4, 5, 2]\nlayers:\n  - flatten\n  - {name: fc, type: fc, units: 6}\n")
    report = analyze(net)
    weights = {"fc.weight": model[1].weight.detach().numpy(),
               "fc.bias": model[1].bias.detach().numpy()}
    ours = engine.run(net, report, x.numpy(), weights).output
    np.testing.assert_allclose(ours.reshape(2, 6), model(x).detach().numpy(), rtol=1e-5,
                               atol=1e-5)
    assert report.totals.params == sum(p.numel() for p in model.parameters())
